"""``hourglass journeys | transitions | paths | journey | followers``: the non-linear journey
(entry stages, skips, back-steps, conformance, transition graphs, top paths, journey maps and the
followers who are not customers yet). Thin renderers of hourglass.interfaces.journeys_api."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.console import Group
from rich.text import Text

from hourglass.interfaces.cli._common import (
    FORMATS,
    emit,
    handle_errors,
    mapping_from,
    rich_table,
    source_options,
)
from hourglass.model._text import pct
from hourglass.model.errors import SpecError
from hourglass.model.journeys_result import not_measured
from hourglass.model.paths import path_text
from hourglass.model.results import format_duration

__all__ = ["followers_cmd", "journey_cmd", "journeys_cmd", "paths_cmd", "transitions_cmd"]

F = Callable[..., Any]
_count: Callable[[Any], str] = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731


def _days(v: Any) -> str:
    return "-" if v is None else f"{v:.1f} d"


def _common(f: F) -> F:
    """SOURCE, --since/--until, --format/--out and the source and column-role options."""
    f = click.option("--out", type=click.Path(dir_okay=False), help="write to this file instead of stdout")(f)
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table (for people), json (every number, with nulls and reasons) or csv (flat rows)",
    )(f)
    f = click.option("--until", help="only events before this time (ISO 8601)")(f)
    f = click.option("--since", help="only events at or after this time (ISO 8601)")(f)
    return click.argument("source")(f)


def _model(f: F) -> F:
    return click.option(
        "--model",
        default="hourglass",
        show_default=True,
        help="a built-in model (hourglass models) or a model file",
    )(f)


def _goal(f: F) -> F:
    return click.option(
        "--goal", help="the stage that makes a purchaser [default: the sale stage, else the last]"
    )(f)


def _level(f: F) -> F:
    f = click.option(
        "--level",
        type=click.Choice(["stage", "event"]),
        default="stage",
        show_default=True,
        help="stage: the model's stages (an event may match several); event: the raw event names",
    )(f)
    return click.option(
        "--keep-repeats", is_flag=True, help="do not collapse consecutive repeats of a stage/event"
    )(f)


def _by(f: F) -> F:
    return click.option(
        "--by",
        help="also break down by this column's value at each customer's first event (e.g. channel; "
        "the 10 most common values, the rest as (other))",
    )(f)


def _share(row: dict[str, Any], key: str = "share") -> str:
    """A share, or ``not measured (reason)`` when it is null with a reason."""
    return not_measured(row, key) or pct(row.get(key))


def _load(kw: dict[str, Any]) -> dict[str, Any]:
    mapping = mapping_from(kw)
    return {"columns": mapping, "engine": kw["engine"], "table": kw["table"], "config": kw["config_path"]}


@click.command("journeys")
@_common
@_model
@_goal
@click.option(
    "--by", help="break the entry stages down by this column's value at the entry event (e.g. channel)"
)
@click.option(
    "--deviations", default=10, show_default=True, help="how many of the most common deviations to list"
)
@source_options
@handle_errors
def journeys_cmd(
    source: str,
    since: str | None,
    until: str | None,
    fmt: str,
    out: str | None,
    model: str,
    goal: str | None,
    by: str | None,
    deviations: int,
    **kw: Any,
) -> None:
    """Where customers enter, which stages buyers skip, back-steps, and conformance to the ideal order.

    \b
    Examples:
      hourglass journeys events.parquet --model hourglass --by channel
      hourglass journeys shop.duckdb --model funnel4 --goal action --format json
    """
    load = _load(kw)
    from hourglass.interfaces import journeys_api as api

    r = api.journeys(source, model, goal=goal, since=since, until=until, by=by, deviations=deviations, **load)

    def table() -> Any:
        entry = rich_table(
            [{**e, "share": _share(e)} for e in r.entry],
            [("stage", "entry stage", str), ("customers", "customers", _count), ("share", "share", str)],
            title=f"{r.customers:,} customers; goal {r.goal}",
        )
        skip_rows = [
            {
                "stage": s["stage"],
                "reached": s["reached"],
                **{k["stage"]: "-" if not s["reached"] else _share(k) for k in s["skipped"]},
            }
            for s in r.skips
        ]
        skips = rich_table(
            skip_rows,
            [
                ("stage", "reached", str),
                ("reached", "customers", _count),
                *((n, f"skipped {n}", lambda v: "" if v is None else str(v)) for n in r.stages[:-1]),
            ],
            title="skip matrix (share of the customers who reached a stage who skipped an earlier one; "
            "-: nobody reached it, not measured)",
        )
        parts: list[Any] = [entry]
        if r.entry_by:
            by_rows = [
                {
                    "value": g["value"],
                    "customers": g["customers"],
                    **{x["stage"]: x["share"] for x in g["stages"]},
                }
                for g in r.entry_by
            ]
            parts.append(
                rich_table(
                    by_rows,
                    [
                        ("value", by or "by", lambda v: "-" if v is None else str(v)),
                        ("customers", "customers", _count),
                        *((n, n.replace("_", " "), pct) for n in r.stages),
                    ],
                    title=f"entry stage by {by} (share of its customers entering at each stage)",
                )
            )
        parts.append(skips)
        if r.backsteps:
            back_rows = [
                {
                    **b,
                    "step": f"{b['from']} → {b['to']}",
                    "then": ", ".join(f"{n['stage'] or '(end)'} {pct(n['share'])}" for n in b["next"][:3]),
                }
                for b in r.backsteps
            ]
            parts.append(
                rich_table(
                    back_rows,
                    [
                        ("step", "back-step", str),
                        ("moves", "moves", _count),
                        ("customers", "customers", _count),
                        ("then", "then", str),
                    ],
                )
            )
        c = r.conformance
        fitness = not_measured(c, "fitness_mean") or (
            f"mean {pct(c['fitness_mean'])}, median {pct(c['fitness_median'])}"
        )
        ideal = not_measured(c, "purchasers_ideal_share")
        ideal = (
            f"followed the ideal order to {r.goal}: {ideal}"
            if ideal
            else f"{c['purchasers_ideal']:,} of {c['purchasers']:,} purchasers "
            f"({pct(c['purchasers_ideal_share'])}) followed the ideal order to {r.goal}"
        )
        parts.append(Text(f"fitness: {fitness}; {ideal}"))
        parts.extend(Text(f"• {d['text']}") for d in r.deviations)
        if "deviations" in r.reasons:
            parts.append(Text(f"deviations: not measured ({r.reasons['deviations']})"))
        return Group(*parts)

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)


@click.command("transitions")
@_common
@_model
@_level
@_by
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
        source, model, level=level, collapse=not keep_repeats, since=since, until=until, by=by, **_load(kw)
    )

    def graph(edges: Any, title: str) -> Any:
        rows = [{**e, "to": e["to"] or "(end)"} for e in edges]
        return rich_table(
            rows,
            [
                ("from", "from", str),
                ("to", "to", str),
                ("moves", "moves", _count),
                ("customers", "customers", _count),
                ("probability", "probability", pct),
                ("median_time_s", "median time", lambda s: format_duration(s, " ")),
            ],
            title=title,
        )

    def table() -> Any:
        parts = [graph(r.edges, f"{level} transitions · {r.customers:,} customers")]
        for g in r.groups:
            value = "(none)" if g["value"] is None else g["value"]
            parts.append(graph(g["edges"], f"{by} = {value} · {g['customers']:,} customers"))
        return Group(*parts)

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)


@click.command("paths")
@_common
@_model
@_level
@click.option(
    "--depth",
    type=int,
    help="nodes per path, 1-8 [default: the ideal path to the goal (or --to) and two detours, "
    "5-8; 5 at the event level]",
)
@click.option("--steps", "old_steps", hidden=True, help="renamed: --depth N")
@click.option("--top", default=10, show_default=True, help="how many paths to list (the rest is 'other')")
@click.option("--from", "start", help="paths from each customer's first occurrence of this stage/event")
@click.option(
    "--to", "end", help="paths up to each customer's first occurrence of this stage/event (its last nodes)"
)
@_by
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
        **_load(kw),
    )

    def listing(top_rows: Any, other: Any, title: str) -> Any:
        rows = [{**x, "path": path_text(x["path"], x["continued"], r.direction, " → ")} for x in top_rows]
        rows.append({"path": "(other)", **other})
        return rich_table(
            rows,
            [("path", "path", str), ("customers", "customers", _count), ("share", "share", pct)],
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
                        ("customers", "customers", _count),
                        ("share", "share", pct),
                    ],
                )
            )
        for g in r.groups:
            value = "(none)" if g["value"] is None else g["value"]
            parts.append(listing(g["top"], g["other"], f"{by} = {value} · {g['customers']:,} customers"))
        return Group(*parts)

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)


@click.command("journey")
@_common
@_model
@_goal
@click.option("--customer", help="the customer whose journey to show")
@click.option("--sample", type=int, help="show N typical journeys per cluster of same stage paths")
@click.option("--clusters", default=5, show_default=True, help="with --sample: how many clusters")
@click.option(
    "--limit",
    default=200,
    show_default=True,
    help="touchpoints shown in the timeline per customer (the path, moves and fitness are always whole)",
)
@source_options
@handle_errors
def journey_cmd(
    source: str,
    since: str | None,
    until: str | None,
    fmt: str,
    out: str | None,
    model: str,
    goal: str | None,
    customer: str | None,
    sample: int | None,
    clusters: int,
    limit: int,
    **kw: Any,
) -> None:
    """One customer's timeline of touchpoints by stage and channel, or typical journeys (--sample).

    \b
    Examples:
      hourglass journey events.parquet --customer 1042
      hourglass journey events.parquet --customer 1042 --limit 20
      hourglass journey events.parquet --model funnel4 --sample 3
    """
    from hourglass.interfaces import journeys_api as api

    r = api.journey(
        source,
        model,
        customer=customer,
        sample=sample,
        clusters=clusters,
        limit=limit,
        goal=goal,
        since=since,
        until=until,
        **_load(kw),
    )
    emit(fmt, data=r.to_dict(), rows=r.rows(), table=lambda: Text(r.to_text()), out=out)


@click.command("followers")
@_common
@_model
@_goal
@click.option(
    "--as-of", help="measure tenure at this time (events after it are ignored) [default: the latest event]"
)
@source_options
@handle_errors
def followers_cmd(
    source: str,
    since: str | None,
    until: str | None,
    fmt: str,
    out: str | None,
    model: str,
    goal: str | None,
    as_of: str | None,
    **kw: Any,
) -> None:
    """Followers who are not customers yet: active before the goal stage, never reached it.

    \b
    Examples:
      hourglass followers events.parquet --model hourglass
      hourglass followers shop.csv --model my_model.yaml --goal sale --as-of 2024-06-01
    """
    from hourglass.interfaces import journeys_api as api

    r = api.followers(source, model, goal=goal, since=since, until=until, as_of=as_of, **_load(kw))

    def table() -> Any:
        head = (
            f"{r.followers:,} followers who have not reached {r.goal} "
            f"({pct(r.to_dict()['followers_share'])} of {r.active:,} active customers, as of {r.as_of})"
        )
        return Group(
            rich_table(
                r.by_stage,
                [
                    ("stage", "furthest stage", str),
                    ("followers", "followers", _count),
                    ("share", "share", pct),
                    ("tenure_median_days", "median tenure", _days),
                    ("tenure_p90_days", "p90 tenure", _days),
                    ("idle_median_days", "median idle", _days),
                ],
                title=head,
            ),
            rich_table(
                r.tenure,
                [
                    ("bucket", "since first touch", str),
                    ("followers", "followers", _count),
                    ("share", "share", pct),
                ],
            ),
        )

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)
