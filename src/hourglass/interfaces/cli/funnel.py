"""``hourglass funnel``: where customers are lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hourglass.interfaces.cli._common import (
    FORMATS,
    emit,
    handle_errors,
    mapping_from,
    rich_table,
    source_options,
)
from hourglass.interfaces.cli._funnel_views import check_view_options, echo_or_write, render_view, resolve_at
from hourglass.model.errors import SpecError
from hourglass.model.results import FunnelResult, format_duration, format_percent
from hourglass.model.spec import VIEWS, FunnelViewOptions, parse_window

__all__ = ["funnel_cmd"]


def _ci(row: dict[str, Any], key: str) -> str:
    lo, hi = row.get(f"{key}_low"), row.get(f"{key}_high")
    if lo is None or hi is None:
        return "-"
    return f"{100 * lo:.1f}–{100 * hi:.1f}"


def _dur(s: Any) -> str:
    return format_duration(s, " ")


def _table(result: FunnelResult) -> Any:
    rows = []
    unmeasured = result.unmeasured_at(short=True)  # null in the result itself, with its reason
    for i, r in enumerate(result.rows()):
        r = dict(r)
        why = unmeasured[i % len(unmeasured)] if unmeasured else None
        if why is not None:  # not a zero: the source cannot say
            r["customers"] = f"not measured ({why})"
        if r.get("optional"):
            r["step"] = f"{r['step']} (optional)"
        r["ci_first"] = _ci(r, "conversion_from_first")
        r["ci_prev"] = _ci(r, "conversion_from_previous")
        if result.breakdown:
            r["step"] = f"{r[result.breakdown]} · {r['step']}"
        rows.append(r)
    count: Callable[[Any], str] = lambda v: "-" if v is None else v if isinstance(v, str) else f"{v:,}"  # noqa: E731
    totals = result.meta.get("spec", {}).get("count") == "totals"
    cols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("step", "step", str),
        ("customers", "chains" if totals else "customers", count),
    ]
    if result.open_funnel:
        cols.append(("entered", "entered", count))
    else:
        cols += [("conversion_from_first", "of first", format_percent), ("ci_first", "95% CI", str)]
    cols += [
        ("conversion_from_previous", "of previous", format_percent),
        ("ci_prev", "95% CI", str),
        ("dropped", "dropped", count),
        ("median_time_from_previous_s", "median time", _dur),
        ("p90_time_from_previous_s", "p90 time", _dur),
    ]
    spec = result.meta.get("spec", {})
    mode = spec.get("mode", "ordered") + (" · open" if result.open_funnel else "")
    title = f"funnel · {mode} · window {spec.get('window')}"
    if spec.get("hold"):
        title += f" · hold {spec['hold']}"
    if spec.get("count") == "totals":
        title += " · totals (chains)"
    return rich_table(rows, cols, title=title)


@click.command("funnel")
@click.argument("source")
@click.option("--steps", metavar="LIST", help="comma-separated events (or stage names of --model)")
@click.option(
    "--model",
    metavar="NAME|FILE",
    help="a built-in model (hourglass models) or a model file; alone: all its stages",
)
@click.option(
    "--window",
    metavar="DURATION",
    default="7d",
    show_default=True,
    help="max time from first to last step: 30m, 12h, 7d, 2w",
)
@click.option(
    "--mode",
    type=click.Choice(["ordered", "strict_order", "any_order"]),
    default="ordered",
    show_default=True,
    help="ordered: each step after the previous one, other events in between allowed; strict_order: the "
    "steps' events right after each other, no other event in between; any_order: the steps within one "
    "window, in any order (docs/semantics.md)",
)
@click.option("--open", "open_", is_flag=True, help="open funnel: customers may enter at any step")
@click.option("--since", metavar="TIME", help="only chains entering at or after this time (ISO 8601)")
@click.option("--until", metavar="TIME", help="only chains entering before this time (ISO 8601)")
@click.option("--exclude", multiple=True, metavar="EVENT", help="an event that breaks a chain (repeatable)")
@click.option(
    "--by", metavar="COLUMN", help="break down by this column's value at the entry event (e.g. channel)"
)
@click.option(
    "--hold",
    metavar="COLUMN",
    help="hold a property constant: all of a chain's events share this column's value (NULL never matches)",
)
@click.option(
    "--count",
    type=click.Choice(["uniques", "totals"]),
    default="uniques",
    show_default=True,
    help="uniques: customers per step; totals: chains per step (docs/semantics.md)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table (for people), json (every number, with nulls and reasons) or csv (one row per step)",
)
@click.option(
    "--view",
    type=click.Choice(VIEWS),
    default="steps",
    show_default=True,
    help="steps: customers per step; trend: conversion per period of entry; time: time to convert; events: "
    "events and sessions needed to convert; dropoff: paths after dropping at --at; between: paths between "
    "--at and the next step; correlation: events and properties that go with converting or dropping",
)
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month"]),
    default=None,
    help="--view trend: the period of entry (UTC; weeks start on Monday) [default: week]",
)
@click.option(
    "--at", metavar="STEP", help="--view dropoff|between|correlation: the step (a name or a 1-based number)"
)
@click.option(
    "--top",
    type=click.IntRange(1, 1000),
    metavar="N",
    help="--view dropoff|between|correlation: rows to list",
)
@click.option(
    "--depth", type=click.IntRange(1, 20), metavar="N", help="--view dropoff|between: events per path"
)
@click.option(
    "--session-gap",
    metavar="DURATION",
    help="--view events: a gap this long or longer between two events starts a new session: 30m, 2h "
    "[default: 30m]",
)
@click.option(
    "--properties",
    metavar="LIST",
    help="--view correlation: the property columns whose values are tested, comma-separated (default: "
    "every text or true/false column, channel among them)",
)
@click.option(
    "--to",
    metavar="STEP",
    help="--view correlation: the step customers convert to (a name or number; default: the one after "
    "--at; --at 1 --to LAST: the whole funnel)",
)
@click.option("--out", type=click.Path(dir_okay=False), help="write to this file instead of stdout")
@click.option("--show-sql", is_flag=True, help="print the SQL instead of running it")
@click.option(
    "--dialect",
    metavar="NAME",
    default=None,
    help="SQL dialect for --show-sql: duckdb, pyspark, clickhouse, postgres, ...",
)
@click.option(
    "--sql-table",
    metavar="NAME",
    default="events",
    show_default=True,
    help="--show-sql reads the source as a table of this name (with the source's columns)",
)
@source_options
@handle_errors
def funnel_cmd(
    source: str,
    steps: str | None,
    model: str | None,
    window: str,
    mode: str,
    open_: bool,
    since: str | None,
    until: str | None,
    exclude: tuple[str, ...],
    by: str | None,
    hold: str | None,
    count: str,
    fmt: str,
    view: str,
    period: str | None,
    at: str | None,
    top: int | None,
    depth: int | None,
    session_gap: str | None,
    properties: str | None,
    to: str | None,
    out: str | None,
    show_sql: bool,
    dialect: str | None,
    sql_table: str,
    **kw: Any,
) -> None:
    """Customers per step, conversion and time between steps.

    \b
    Examples:
      hourglass funnel events.parquet --steps visit,signup,purchase --window 7d
      hourglass funnel shop.duckdb --model hourglass --format json
      hourglass funnel events.csv --steps visit,purchase --by channel --since 2024-03-01
      hourglass funnel events.csv --steps visit,signup?,purchase --hold device
      hourglass funnel events.csv --steps visit,cart,purchase --mode strict_order --show-sql
      hourglass funnel events.csv --steps visit,signup,purchase --view trend --period week
      hourglass funnel events.csv --steps visit,signup,purchase --view dropoff --at signup
    """
    mapping = mapping_from(kw)
    step_list = [s.strip() for s in steps.split(",")] if steps else None
    if step_list is not None and "" in step_list:  # a,,b or a trailing comma: never dropped silently
        raise SpecError(
            f"--steps {steps!r}: step {step_list.index('') + 1} is empty",
            code="HG104",
            hint="give one event name between each pair of commas, e.g. --steps visit,signup,purchase",
        )
    common: dict[str, Any] = dict(
        model=model,
        window=window,
        mode=mode,
        open=open_,
        since=since,
        until=until,
        exclude=list(exclude),
        by=by,
        hold=hold,
        count=count,
        columns=mapping,
        table=kw["table"],
        config=kw["config_path"],
    )
    from hourglass.interfaces import api  # here, not at import: `hourglass --help` stays fast

    given = {
        "--period": period,
        "--at": at,
        "--top": top,
        "--depth": depth,
        "--session-gap": session_gap,
        "--properties": properties,
        "--to": to,
    }
    check_view_options(view, given)
    if session_gap:
        parse_window(session_gap, what="--session-gap")  # HG107 before the source is read
    if show_sql and view != "steps":
        raise SpecError(
            f"--show-sql prints the funnel's SQL, not --view {view}'s",
            code="HG125",
            hint="drop --view to see the funnel's SQL, or drop --show-sql",
        )
    if view != "steps":
        ev, spec = api.funnel_inputs(source, step_list, engine=kw["engine"], **common)
        options = FunnelViewOptions(
            period=period or "week",
            at=resolve_at(at, spec),
            top=top,
            depth=depth,
            session_gap=session_gap or "30m",
            format=fmt,
            properties=tuple(p.strip() for p in properties.split(",")) if properties else None,
            to=resolve_at(to, spec, "--to"),
        )
        echo_or_write(render_view(view, ev, spec, options), out)
        return
    if show_sql:
        from hourglass.engine.connect import parse_engine

        kind = parse_engine(kw["engine"] or "duckdb").kind  # spark://..., local[2], postgres://...
        sql = api.funnel_sql(
            source,
            step_list,
            dialect=dialect or {"spark": "pyspark", "spark-connect": "pyspark"}.get(kind, kind),
            table_name=sql_table,
            engine="duckdb",
            **common,
        )
        click.echo(sql)
        return
    result = api.funnel(source, step_list, engine=kw["engine"], **common)
    emit(fmt, data=result.to_dict(), rows=result.rows(), table=lambda: _table(result), out=out)
    for note in result.meta.get("notes", ()):
        click.echo(f"note: {note}", err=True)
