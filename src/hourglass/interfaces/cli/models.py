"""``hourglass models``: the built-in journey models, and a model drafted from a source's events."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
import yaml
from rich.table import Table
from rich.text import Text

from hourglass.ingest.config import load_model
from hourglass.interfaces.cli._common import handle_errors, mapping_from, source_options, stdout_console
from hourglass.model.presets import PRESETS

if TYPE_CHECKING:
    from hourglass.model.draft import Suggestion

__all__ = ["models_cmd"]


@click.group("models", invoke_without_command=True)
@click.pass_context
def models_cmd(ctx: click.Context) -> None:
    """List the built-in journey models (show one with: hourglass models show NAME), or draft one
    from your own log's events (hourglass models suggest SOURCE).

    \b
    Examples:
      hourglass models
      hourglass models show hourglass > my_model.yaml
      hourglass models suggest shop.csv --out my_model.yaml
    """
    if ctx.invoked_subcommand is not None:
        return
    table = Table(header_style="bold")
    for col in ("name", "kind", "label", "stages"):
        table.add_column(col)
    for m in PRESETS.values():
        table.add_row(m.name, m.kind, m.label, " → ".join(s.name for s in m.stages))
    console = stdout_console()
    console.print(table)
    console.print(
        "show one as a file to edit: hourglass models show NAME; draft one from your own log's events: "
        "hourglass models suggest SOURCE"
    )


@models_cmd.command("show", short_help="print a model as a file to copy and edit")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="the model file's format",
)
@handle_errors
def show_cmd(name: str, fmt: str) -> None:
    """Print a model as a file you can copy, edit and pass to --model.

    \b
    Examples:
      hourglass models show hourglass > my_model.yaml
      hourglass models show aida --format json
    """
    model = load_model(name)
    data: dict[str, Any] = model.to_dict()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"# hourglass journey model '{model.name}'. Save as {model.name}.yaml, map the events to\n"
        "# your own names and use it with: hourglass funnel SOURCE --model "
        f"{model.name}.yaml\n# stage keys: name, label, events (names or globs with * ?), "
        "where (e.g. 'revenue > 0')"
    )
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), nl=False)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _tables(s: Suggestion, out: str | None) -> None:
    """The evidence and the stages; every text from the source is printed as is (no markup)."""
    from hourglass.interfaces.models_api import set_aside_reason

    console = stdout_console()
    p = s.profile
    events = Table(
        title=Text(
            f"events of {p.source} · {p.customers:,} customers · {p.events:,} events · "
            f"{p.names:,} event names"
        ),
        title_justify="left",
        header_style="bold",
    )
    for i, col in enumerate(("event", "events", "customers", "of all", "first-seen", "typical position")):
        events.add_column(col, justify="left" if i == 0 else "right")
    for r, stat in zip(p.rows(), p.stats, strict=True):
        pos = r["typical_position"]
        events.add_row(  # the shares unrounded (the rows' 4 digits would round twice: 36.15% -> 36.1%)
            Text(r["event"]),
            f"{r['events']:,}",
            f"{r['customers']:,}",
            _pct(stat.share(p.customers)),
            _pct(stat.first_share(p.customers)),
            "not measured (one-event journeys)" if pos is None else f"{pos:.2f}",
        )
    console.print(events)
    if p.left_out:
        console.print(
            f"{p.left_out:,} more event names with fewer customers are not listed (--top N lists more)"
        )
    like = f"stage names of '{s.preset}'" if s.preset else "stages from order alone"
    stages = Table(
        title=Text(f"suggested model '{s.model.name}' ({like})"), title_justify="left", header_style="bold"
    )
    for col in ("stage", "events", "why"):
        stages.add_column(col)
    for d in s.stages:
        sale = " (the sale)" if d.step.name == s.model.sale and d.step.name != "sale" else ""
        stages.add_row(Text(d.step.name + sale), Text(", ".join(d.step.events)), Text(d.reason))
    console.print(stages)
    for event, setting in s.set_aside:
        console.print(Text(f"not a stage: {event} ({set_aside_reason(event, setting)})"))
    if out:
        console.print(
            Text(
                f"wrote {out}; edit it, then: hourglass report {p.source} --model {out} (every section), "
                f"or hourglass funnel {p.source} --model {out}"
            )
        )
    else:
        console.print("write it as a model file to edit with --out my_model.yaml")


@models_cmd.command("suggest", short_help="draft a model from your own log's event names")
@click.argument("source")
@click.option(
    "--out", type=click.Path(dir_okay=False), help="write the model file (YAML, with comments) here"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="what to print: the event table and the stages, or all of it as JSON",
)
@click.option("--name", metavar="NAME", help="the model's name [default: the source's file name]")
@click.option(
    "--top",
    type=click.IntRange(1, 1000),
    metavar="N",
    default=30,
    show_default=True,
    help="how many event names (the most customers first) to list and draft from",
)
@source_options
def suggest_cmd(source: str, out: str | None, fmt: str, name: str | None, top: int, **kw: Any) -> None:
    """A journey model drafted from your own log: its event names with counts, customers, the share
    of customers each one starts, and its typical position in journeys; then stages in that order,
    named after the nearest built-in model where the names allow. --out writes it as a model file to
    edit and pass to --model (docs/models.md).

    \b
    Examples:
      hourglass models suggest shop.csv
      hourglass models suggest shop.csv --out my_model.yaml
      hourglass funnel shop.csv --model my_model.yaml
      hourglass models suggest events.parquet --top 50 --format json
    """
    from hourglass.interfaces.models_api import suggest_model, write_model

    mapping = mapping_from(kw)
    suggestion = suggest_model(
        source,
        name=name,
        top=top,
        columns=mapping,
        engine=kw["engine"],
        table=kw["table"],
        config=kw["config_path"],
    )
    if out:
        write_model(suggestion, out, source=source)
    if fmt == "json":
        click.echo(json.dumps(suggestion.to_dict(), indent=2, default=str))
        return
    _tables(suggestion, out)
