"""``hourglass`` command line. Each command is a thin renderer of the Python API's results."""

from __future__ import annotations

import click

from hourglass import __version__
from hourglass.interfaces.cli.attribution import attribution_cmd
from hourglass.interfaces.cli.clv import clv_cmd
from hourglass.interfaces.cli.demo import demo_cmd
from hourglass.interfaces.cli.flywheel import flywheel_cmd
from hourglass.interfaces.cli.friction import diagnose_cmd, friction_cmd, whatif_cmd
from hourglass.interfaces.cli.funnel import funnel_cmd
from hourglass.interfaces.cli.ingest import ingest_cmd
from hourglass.interfaces.cli.journeys import (
    followers_cmd,
    journey_cmd,
    journeys_cmd,
    paths_cmd,
    transitions_cmd,
)
from hourglass.interfaces.cli.lifecycle import lifecycle_cmd
from hourglass.interfaces.cli.models import models_cmd
from hourglass.interfaces.cli.report import report_cmd
from hourglass.interfaces.cli.retention import retention_cmd
from hourglass.interfaces.cli.serve import serve_cmd
from hourglass.interfaces.cli.validate import validate_cmd

__all__ = ["cli", "main"]

# One line each in `hourglass --help` (a command's docstring may be longer than the list's column).
SHORT_HELP = {
    "funnel": "where customers are lost: a funnel of events or stages",
    "lifecycle": "the whole hourglass: stages, after the sale, referrals, channels",
    "flywheel": "the flywheel's momentum: growth accounting, the loop's share, K-factor",
    "friction": "where customers stall and what friction events cost",
    "diagnose": "the weak stages, ranked and compared, with the remedies",
    "whatif": "forecast a change: a step, a friction, a channel's spend",
    "journeys": "entry stages, skips and back-steps of real journeys",
    "transitions": "the transition graph between stages or events",
    "paths": "the most common paths, from or to a stage or event",
    "journey": "one customer's journey map, or typical journeys",
    "followers": "followers who are not customers yet",
    "retention": "retention cohorts: who comes back, period by period",
    "clv": "customer lifetime value: BG/NBD, Pareto/NBD, Gamma-Gamma, sBG",
    "attribution": "which channels brought the conversions: nine models side by side",
    "report": "a self-contained HTML report of every analysis",
    "serve": "the dashboard: every analysis as an interactive page",
    "ingest": "validate a source and write a fast store",
    "validate": "every problem of a source at once",
    "models": "the journey models: list, show, suggest from data",
    "demo": "simulate a shop and run everything on it",
}


@click.group(
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


for _cmd in (
    funnel_cmd,
    lifecycle_cmd,
    flywheel_cmd,
    friction_cmd,
    diagnose_cmd,
    whatif_cmd,
    journeys_cmd,
    transitions_cmd,
    paths_cmd,
    journey_cmd,
    followers_cmd,
    retention_cmd,
    clv_cmd,
    attribution_cmd,
    report_cmd,
    serve_cmd,
    ingest_cmd,
    validate_cmd,
    models_cmd,
    demo_cmd,
):
    _cmd.short_help = SHORT_HELP.get(_cmd.name or "", _cmd.short_help)
    cli.add_command(_cmd)


def main() -> None:
    cli(prog_name="hourglass")
