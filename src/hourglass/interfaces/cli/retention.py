"""``hourglass retention``: cohorts by the period of a start event, and who came back when."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.console import Group
from rich.text import Text

from hourglass.interfaces.cli._common import handle_errors, rich_table, source_options
from hourglass.interfaces.cli._options import emit_result, format_option, load, out_option, print_notes
from hourglass.model.retention import Matrix, RetentionResult

__all__ = ["retention_cmd"]

_BLANK = "…"


def _share(v: Any) -> str:
    return _BLANK if v is None else f"{100 * v:.1f}%"


def _matrix_table(m: Matrix, periods: int, title: str) -> Any:
    rows: list[dict[str, Any]] = []
    for c in m.cohorts:
        row: dict[str, Any] = {"cohort": c["cohort"], "size": f"{c['size']:,}"}
        row.update({f"p{x['period']}": x["share"] for x in c["cells"]})
        rows.append(row)
    avg: dict[str, Any] = {"cohort": "average (size-weighted)", "size": f"{m.customers:,}"}
    avg.update({f"p{x['period']}": x["share"] for x in m.average})
    rows.append(avg)
    cols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("cohort", "cohort", str),
        ("size", "customers", str),
    ]
    cols += [(f"p{n}", str(n), _share) for n in range(periods + 1)]
    return rich_table(rows, cols, title=title)


def _render(result: RetentionResult) -> Any:
    spec = result.spec
    kind = "first-time" if spec.cohorts == "first" else "recurring"
    how = "in exactly period N" if spec.mode == "nth" else "in period N or later"
    title = (
        f"retention · {spec.period}ly cohorts of {spec.start.label} ({kind}) · share who returned "
        f"({spec.back.label}) {how}"
    )
    parts: list[Any] = [_matrix_table(result.matrix, spec.periods, title)]
    for value, m in result.groups:
        label = "(none)" if value is None else str(value)
        parts.append(_matrix_table(m, spec.periods, f"{spec.by} = {label}"))
    end = result.observed_until.isoformat() if result.observed_until else "-"
    parts.append(Text(f"{_BLANK}: period not complete (the data ends {end}); json/csv: counts and revenue"))
    if result.revenue_reason:
        parts.append(Text(f"revenue retention: not measured ({result.revenue_reason})"))
    return Group(*parts)


@click.command("retention")
@click.argument("source")
@click.option(
    "--model",
    default="hourglass",
    show_default=True,
    help="a built-in model (hourglass models) or a model file: its stages and purchase events",
)
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month"]),
    default="week",
    show_default=True,
    help="the cohorts' and the returns' calendar period (weeks start on Monday, UTC)",
)
@click.option(
    "--start",
    default="first",
    show_default=True,
    metavar="first|purchase|STAGE_OR_EVENT",
    help="what puts a customer in a cohort: his first event, a purchase (the model's purchase events), "
    "a stage of --model or an event name (event:NAME when a stage has that name)",
)
@click.option(
    "--return",
    "return_event",
    default="any",
    show_default=True,
    metavar="any|purchase|STAGE_OR_EVENT",
    help="what counts as coming back: any event, a purchase, a stage of --model or an event name",
)
@click.option(
    "--mode",
    type=click.Choice(["nth", "unbounded"]),
    default="nth",
    show_default=True,
    help="nth: returned in exactly period N after the start period; unbounded: in period N or any later one",
)
@click.option(
    "--cohorts",
    type=click.Choice(["first", "recurring"]),
    default="first",
    show_default=True,
    help="first: each customer once, in the period of his first start event; recurring: in every period "
    "in which he has a start event",
)
@click.option(
    "--periods", type=int, default=10, show_default=True, help="the last period shown (periods 0 to N)"
)
@click.option(
    "--by",
    metavar="COLUMN",
    help="a matrix per value of this column at the customer's first event (top 10 values + other)",
)
@click.option("--since", help="only cohorts whose start event is at or after this time (ISO 8601)")
@click.option("--until", help="only events before this time (ISO 8601): cohorts and returns")
@format_option(
    text="table (shares), json (counts, shares, intervals, revenue; null with a reason when a period is "
    "not complete) or csv (one row per cohort and period)"
)
@out_option
@source_options
@handle_errors
def retention_cmd(
    source: str,
    model: str,
    period: str,
    start: str,
    return_event: str,
    mode: str,
    cohorts: str,
    periods: int,
    by: str | None,
    since: str | None,
    until: str | None,
    fmt: str,
    out: str | None,
    **kw: Any,
) -> None:
    """Retention cohorts: who came back, period by period.

    Customers are grouped by the period of a start event; each cell is the share who came back in a
    later period (docs/semantics-retention.md).

    Period 0 is the start period itself (a return there is a return event after the start event).
    A cell whose period has not ended by the data's end is blank (json: null with a reason), never 0;
    the average is weighted by cohort size over the cohorts whose period N is complete.

    \b
    Examples:
      hourglass retention events.parquet
      hourglass retention events.parquet --period month --start purchase --return purchase
      hourglass retention shop.csv --start signup --return event:login --mode unbounded --periods 12
      hourglass retention events.parquet --cohorts recurring --by channel --format json
    """
    src = load(kw)
    from hourglass.interfaces.retention_api import retention  # `hourglass --help` stays fast

    result = retention(
        source,
        model=model,
        period=period,
        start=start,
        return_event=return_event,
        mode=mode,
        cohorts=cohorts,
        periods=periods,
        by=by,
        since=since,
        until=until,
        **src,
    )
    emit_result(fmt, result, _render, out)
    print_notes(result.meta)
