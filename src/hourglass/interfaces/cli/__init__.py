"""``hourglass`` command line. Each command is a thin renderer of the Python API's results.

Commands are imported when they are run (or listed by ``--help``), not when the CLI starts: a
funnel does not pay for the CLV models' scipy or the dashboard's web stack."""

from __future__ import annotations

import importlib
from typing import Any

import click

from hourglass import __version__

__all__ = ["COMMANDS", "cli", "main"]

#: name -> (module, attribute, one line in `hourglass --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "funnel": ("funnel", "funnel_cmd", "where customers are lost: a funnel of events or stages"),
    "lifecycle": ("lifecycle", "lifecycle_cmd", "the whole hourglass: stages, after the sale, referrals"),
    "flywheel": ("flywheel", "flywheel_cmd", "the flywheel's momentum: growth, the loop's share, K-factor"),
    "friction": ("friction", "friction_cmd", "where customers stall and what friction events cost"),
    "diagnose": ("friction", "diagnose_cmd", "the weak stages, ranked and compared, with the remedies"),
    "whatif": ("whatif", "whatif_cmd", "forecast a change: a step, a friction, a channel's spend"),
    "journeys": ("journeys", "journeys_cmd", "entry stages, skips and back-steps of real journeys"),
    "transitions": ("journeys", "transitions_cmd", "the transition graph between stages or events"),
    "paths": ("journeys", "paths_cmd", "the most common paths, from or to a stage or event"),
    "journey": ("journeys", "journey_cmd", "one customer's journey map, or typical journeys"),
    "followers": ("journeys", "followers_cmd", "followers who are not customers yet"),
    "retention": ("retention", "retention_cmd", "retention cohorts: who comes back, period by period"),
    "clv": ("clv", "clv_cmd", "customer lifetime value: BG/NBD, Pareto/NBD, Gamma-Gamma, sBG"),
    "attribution": ("attribution", "attribution_cmd", "which channels brought the conversions: nine models"),
    "report": ("report", "report_cmd", "a self-contained HTML report of every analysis"),
    "serve": ("serve", "serve_cmd", "the dashboard: every analysis as an interactive page"),
    "ingest": ("ingest", "ingest_cmd", "validate a source and write a fast store"),
    "compact": ("compact", "compact_cmd", "the collector's log into its Parquet dataset and stores"),
    "collect": ("collect", "collect_cmd", "the event collector: Segment and PostHog SDKs send it events"),
    "keys": ("keys", "keys_cmd", "the collector's write keys: create, list, revoke"),
    "validate": ("validate", "validate_cmd", "every problem of a source at once"),
    "models": ("models", "models_cmd", "the journey models: list, show, suggest from data"),
    "demo": ("demo", "demo_cmd", "simulate a shop and run everything on it"),
}  # fmt: skip


class _Commands(click.Group):
    """A group whose commands are imported on first use; ``commands`` fills as they are."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attr, short = COMMANDS[cmd_name]
            cmd: click.Command = getattr(importlib.import_module(f"hourglass.interfaces.cli.{module}"), attr)
            cmd.short_help = short
            self.add_command(cmd, cmd_name)
        return self.commands.get(cmd_name)

    def all_commands(self) -> dict[str, click.Command]:
        """Every command, imported (for tests and documentation)."""
        ctx = click.Context(self)
        return {name: cmd for name in self.list_commands(ctx) if (cmd := self.get_command(ctx, name))}


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog="Run 'hourglass COMMAND --help' for a command's options and examples; docs/cli.md lists "
    "every flag.",
)
@click.version_option(__version__, prog_name="hourglass")
def cli() -> None:
    """hourglass: customer-journey analytics (funnel, hourglass, flywheel, journeys) on DuckDB or Spark.

    \b
    Examples:
      hourglass demo                                   # a simulated shop, every analysis, a report
      hourglass validate shop.csv                      # every problem of your log at once
      hourglass models suggest shop.csv --out my.yaml  # a journey model from your event names
      hourglass report shop.csv --model my.yaml        # the HTML report of your own log
      hourglass funnel shop.csv --steps visit,cart,payment_done --window 7d --by channel
      hourglass serve shop.duckdb                      # the dashboard on http://127.0.0.1:8050/
    """


def main(args: Any = None) -> None:
    import atexit
    import gc

    # the process ends right after the command: Python's last collection would walk every object the
    # command imported and made (0.3-0.4 CPU-s after a report), so they are frozen first
    atexit.register(gc.freeze)
    cli(args=args, prog_name="hourglass")
