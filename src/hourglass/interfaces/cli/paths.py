"""``hourglass transitions | paths``: the transition graph between stages (or events) and the most
common paths, with ``--by`` breakdowns. Thin renderers of hourglass.interfaces.journeys_api."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group

from hourglass.interfaces.cli._common import emit, handle_errors, rich_table, source_options
from hourglass.interfaces.cli._journey_options import (
    by_option,
    common,
    count,
    level_options,
    load,
    model_option,
    print_notes,
)
from hourglass.model._text import pct
from hourglass.model.errors import SpecError
from hourglass.model.paths import path_text
from hourglass.model.results import format_duration

__all__ = ["SHOWN_EDGES", "paths_cmd", "transitions_cmd"]

#: the edges the table lists per graph (the documented order); JSON and CSV have every edge
SHOWN_EDGES = 100


@click.command("transitions")
@common
@model_option
@level_options
@by_option
@source_options
@handle_errors
def transitions_cmd(
    source: str,
    since: str | None,
    until: str | None,
    fmt: str,
    out: str | None,
    model: str,
    level: str,
    keep_repeats: bool,
    by: str | None,
    **kw: Any,
) -> None:
    """Transition graph between stages (or events): counts, probabilities, median times.

    \b
    Examples:
      hourglass transitions events.parquet --model hourglass
      hourglass transitions events.parquet --level event --format json
      hourglass transitions shop.csv --model my_model.yaml --by channel
    """
    from hourglass.interfaces import journeys_api as api

    r = api.transitions(
        source, model, level=level, collapse=not keep_repeats, since=since, until=until, by=by, **load(kw)
    )

    def graph(edges: Any, title: str) -> Any:
        rows = [{**e, "to": e["to"] or "(end)"} for e in edges[:SHOWN_EDGES]]
        shown = rich_table(
            rows,
            [
                ("from", "from", str),
                ("to", "to", str),
                ("moves", "moves", count),
                ("customers", "customers", count),
                ("probability", "probability", pct),
                ("median_time_s", "median time", lambda s: format_duration(s, " ")),
            ],
            title=title,
        )
        if len(edges) > SHOWN_EDGES:  # 10^6 event names: millions of edges
            more = len(edges) - SHOWN_EDGES
            shown.caption = f"… {more:,} more edges (--format csv or --format json lists every edge)"
            shown.caption_justify = "left"
        return shown

    def table() -> Any:
        parts = [graph(r.edges, f"{level} transitions · {r.customers:,} customers")]
        for g in r.groups:
            value = "(none)" if g["value"] is None else g["value"]
            parts.append(graph(g["edges"], f"{by} = {value} · {g['customers']:,} customers"))
        return Group(*parts)

    # only the format asked (a dict per edge: 8.9M of them on 10M events of 10^6 names)
    data, rows = (r.to_dict() if fmt == "json" else {}), (r.rows() if fmt == "csv" else [])
    emit(fmt, data=data, rows=rows, table=table, out=out)
    print_notes(r.meta)


@click.command("paths")
@common
@model_option
@level_options
@click.option(
    "--depth",
    type=int,
    metavar="N",
    help="nodes per path, 1-8 [default: the ideal path to the goal (or --to) and two detours, "
    "5-8; 5 at the event level]",
)
@click.option("--steps", "old_steps", hidden=True, help="renamed: --depth N")
@click.option(
    "--top", metavar="N", default=10, show_default=True, help="how many paths to list (the rest is 'other')"
)
@click.option(
    "--from",
    "start",
    metavar="STAGE|EVENT",
    help="paths from each customer's first occurrence of this stage/event",
)
@click.option(
    "--to",
    "end",
    metavar="STAGE|EVENT",
    help="paths up to each customer's first occurrence of this stage/event (its last nodes)",
)
@by_option
@source_options
@handle_errors
def paths_cmd(
    source: str,
    since: str | None,
    until: str | None,
    fmt: str,
    out: str | None,
    model: str,
    level: str,
    keep_repeats: bool,
    depth: int | None,
    old_steps: str | None,
    top: int,
    start: str | None,
    end: str | None,
    by: str | None,
    **kw: Any,
) -> None:
    """The most common paths, an 'other' bucket that adds up to the total, next/previous steps.

    \b
    Examples:
      hourglass paths events.parquet --depth 6 --top 10
      hourglass paths shop.csv --model my_model.yaml --to sale --by channel
      hourglass paths events.parquet --level event --from signup --depth 4
      hourglass paths events.parquet --level event --to purchase --format json
    """
    if old_steps is not None:
        raise SpecError(
            "paths --steps is now --depth (the number of nodes per path; --steps is always a list)",
            code="HG137",
            hint=f"write --depth {old_steps}",
        )
    from hourglass.interfaces import journeys_api as api

    r = api.paths(
        source,
        model,
        level=level,
        depth=depth,
        top=top,
        collapse=not keep_repeats,
        start=start,
        end=end,
        since=since,
        until=until,
        by=by,
        **load(kw),
    )

    def listing(top_rows: Any, other: Any, title: str) -> Any:
        rows = [{**x, "path": path_text(x["path"], x["continued"], r.direction, " → ")} for x in top_rows]
        rows.append({"path": "(other)", **other})
        return rich_table(
            rows,
            [("path", "path", str), ("customers", "customers", count), ("share", "share", pct)],
            title=title,
        )

    def table() -> Any:
        where = (
            f" up to {r.anchor}" if r.direction == "reverse" else (f" from {r.anchor}" if r.anchor else "")
        )
        parts: list[Any] = [
            listing(
                r.top,
                r.other,
                f"top paths{where} · up to {r.depth} nodes · {r.customers:,} customers · "
                f"{r.distinct_paths:,} paths (… : goes on beyond the cut)",
            )
        ]
        if r.neighbours is not None:
            none = "(end)" if r.direction == "forward" else "(start)"
            nb = [{**n, "node": n["node"] or none} for n in r.neighbours]
            parts.append(
                rich_table(
                    nb,
                    [
                        ("node", f"{r.neighbours_key} step", str),
                        ("customers", "customers", count),
                        ("share", "share", pct),
                    ],
                )
            )
        for g in r.groups:
            value = "(none)" if g["value"] is None else g["value"]
            parts.append(listing(g["top"], g["other"], f"{by} = {value} · {g['customers']:,} customers"))
        return Group(*parts)

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)
    print_notes(r.meta)
