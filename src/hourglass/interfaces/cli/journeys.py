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
from hourglass.model.results import format_duration

__all__ = ["followers_cmd", "journey_cmd", "journeys_cmd", "paths_cmd", "transitions_cmd"]

F = Callable[..., Any]
_count: Callable[[Any], str] = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731


def _days(v: Any) -> str:
    return "-" if v is None else f"{v:.1f} d"


def _common(f: F) -> F:
    """SOURCE, --since/--until, --format/--out and the source and column-role options."""
    f = click.option("--out", type=click.Path(dir_okay=False), help="write to this file instead of stdout")(f)
    f = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)(f)
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
    f = click.option("--level", type=click.Choice(["stage", "event"]), default="stage", show_default=True)(f)
    return click.option(
        "--keep-repeats", is_flag=True, help="do not collapse consecutive repeats of a stage/event"
    )(f)


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
    hourglass journeys events.parquet --model hourglass --by channel
    hourglass journeys shop.duckdb --model funnel4 --format json
    """
    load = _load(kw)
    from hourglass.interfaces import journeys_api as api

    r = api.journeys(source, model, goal=goal, since=since, until=until, by=by, deviations=deviations, **load)

    def table() -> Any:
        entry = rich_table(
            r.entry,
            [("stage", "entry stage", str), ("customers", "customers", _count), ("share", "share", pct)],
            title=f"{r.customers:,} customers; goal {r.goal}",
        )
        skip_rows = [
            {"stage": s["stage"], "reached": s["reached"], **{k["stage"]: k["share"] for k in s["skipped"]}}
            for s in r.skips
        ]
        skips = rich_table(
            skip_rows,
            [
                ("stage", "reached", str),
                ("reached", "customers", _count),
                *((n, f"skipped {n}", pct) for n in r.stages[:-1]),
            ],
            title="skip matrix",
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
        parts.append(
            Text(
                f"fitness: mean {pct(c['fitness_mean'])}, median {pct(c['fitness_median'])}; "
                f"{c['purchasers_ideal']:,} of {c['purchasers']:,} purchasers "
                f"({pct(c['purchasers_ideal_share'])}) followed the ideal order to {r.goal}"
            )
        )
        parts.extend(Text(f"• {d['text']}") for d in r.deviations)
        return Group(*parts)

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)


@click.command("transitions")
@_common
@_model
@_level
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
    **kw: Any,
) -> None:
    """Transition graph between stages (or events): counts, probabilities, median times.

    \b
    hourglass transitions events.parquet --model hourglass
    hourglass transitions events.parquet --level event --format json
    """
    from hourglass.interfaces import journeys_api as api

    r = api.transitions(
        source, model, level=level, collapse=not keep_repeats, since=since, until=until, **_load(kw)
    )

    def table() -> Any:
        rows = [{**e, "to": e["to"] or "(end)"} for e in r.edges]
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
            title=f"{level} transitions · {r.customers:,} customers",
        )

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)


@click.command("paths")
@_common
@_model
@_level
@click.option("--steps", default=5, show_default=True, help="nodes per path (1-8)")
@click.option("--top", default=10, show_default=True, help="how many paths to list (the rest is 'other')")
@click.option("--from", "start", help="paths from each customer's first occurrence of this stage/event")
@click.option("--to", "end", help="paths up to each customer's first occurrence of this stage/event")
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
    steps: int,
    top: int,
    start: str | None,
    end: str | None,
    **kw: Any,
) -> None:
    """The most common paths, an 'other' bucket that adds up to the total, next/previous steps.

    \b
    hourglass paths events.parquet --model hourglass --steps 6
    hourglass paths events.parquet --level event --from signup --steps 4
    hourglass paths events.parquet --level event --to purchase --format json
    """
    from hourglass.interfaces import journeys_api as api

    r = api.paths(
        source,
        model,
        level=level,
        steps=steps,
        top=top,
        collapse=not keep_repeats,
        start=start,
        end=end,
        since=since,
        until=until,
        **_load(kw),
    )

    def table() -> Any:
        rows = [
            {**x, "path": x["path"].replace(" > ", " → ") + (" …" if x["continued"] else "")}
            for x in r.rows()
        ]
        parts: list[Any] = [
            rich_table(
                rows,
                [("path", "path", str), ("customers", "customers", _count), ("share", "share", pct)],
                title=f"top paths · {r.customers:,} customers · {r.distinct_paths:,} paths",
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
        return Group(*parts)

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)


@click.command("journey")
@_common
@_model
@_goal
@click.option("--customer", help="the customer whose journey to show")
@click.option("--sample", type=int, help="show N typical journeys per cluster of same stage paths")
@click.option("--clusters", default=5, show_default=True, help="with --sample: how many clusters")
@click.option("--limit", default=200, show_default=True, help="touchpoints shown per customer")
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
    hourglass journey events.parquet --customer 1042
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
    hourglass followers events.parquet --model hourglass
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
