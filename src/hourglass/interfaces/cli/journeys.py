"""``hourglass journeys | transitions | paths | journey | followers``: the non-linear journey
(entry stages, skips, back-steps, conformance, transition graphs, top paths, journey maps and the
followers who are not customers yet). Thin renderers of hourglass.interfaces.journeys_api;
``transitions`` and ``paths`` live in hourglass.interfaces.cli.paths."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group
from rich.text import Text

from hourglass.interfaces.cli._common import emit, handle_errors, rich_table, source_options
from hourglass.interfaces.cli._journey_options import (
    common,
    count,
    days,
    goal_option,
    load,
    model_option,
    print_notes,
    share,
)
from hourglass.interfaces.cli.paths import paths_cmd, transitions_cmd
from hourglass.model._text import pct
from hourglass.model.journeys_reasons import not_measured

__all__ = ["followers_cmd", "journey_cmd", "journeys_cmd", "paths_cmd", "transitions_cmd"]


@click.command("journeys")
@common
@model_option
@goal_option
@click.option(
    "--by",
    metavar="COLUMN",
    help="break the entry stages down by this column's value at the entry event (e.g. channel)",
)
@click.option(
    "--deviations",
    metavar="N",
    default=10,
    show_default=True,
    help="how many of the most common deviations to list",
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
    how = load(kw)
    from hourglass.interfaces import journeys_api as api

    r = api.journeys(source, model, goal=goal, since=since, until=until, by=by, deviations=deviations, **how)

    def table() -> Any:
        entry = rich_table(
            [{**e, "share": share(e)} for e in r.entry],
            [("stage", "entry stage", str), ("customers", "customers", count), ("share", "share", str)],
            title=f"{r.customers:,} customers; goal {r.goal}",
        )
        skip_rows = [
            {
                "stage": s["stage"],
                "reached": s["reached"],
                **{k["stage"]: "-" if not s["reached"] else share(k) for k in s["skipped"]},
            }
            for s in r.skips
        ]
        skips = rich_table(
            skip_rows,
            [
                ("stage", "reached", str),
                ("reached", "customers", count),
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
                        ("customers", "customers", count),
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
                        ("moves", "moves", count),
                        ("customers", "customers", count),
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
    print_notes(r.meta)


@click.command("journey")
@common
@model_option
@goal_option
@click.option("--customer", metavar="ID", help="the customer whose journey to show")
@click.option(
    "--sample", type=int, metavar="N", help="show N typical journeys per cluster of same stage paths"
)
@click.option(
    "--clusters", metavar="N", default=5, show_default=True, help="with --sample: how many clusters"
)
@click.option(
    "--limit",
    metavar="N",
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
        **load(kw),
    )
    emit(fmt, data=r.to_dict(), rows=r.rows(), table=lambda: Text(r.to_text()), out=out)
    print_notes(r.meta)


@click.command("followers")
@common
@model_option
@goal_option
@click.option(
    "--as-of",
    metavar="TIME",
    help="measure tenure at this time (events after it are ignored) [default: the latest event]",
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

    r = api.followers(source, model, goal=goal, since=since, until=until, as_of=as_of, **load(kw))

    def table() -> Any:
        as_of = str(r.as_of).split(".", 1)[0]  # to the second
        head = (
            f"{r.followers:,} followers who have not reached {r.goal} "
            f"({pct(r.to_dict()['followers_share'])} of {r.active:,} active customers, as of {as_of})"
        )
        return Group(
            rich_table(
                r.by_stage,
                [
                    ("stage", "furthest stage", str),
                    ("followers", "followers", count),
                    ("share", "share", pct),
                    ("tenure_median_days", "median tenure", days),
                    ("tenure_p90_days", "p90 tenure", days),
                    ("idle_median_days", "median idle", days),
                ],
                title=head,
            ),
            rich_table(
                r.tenure,
                [
                    ("bucket", "since first touch", str),
                    ("followers", "followers", count),
                    ("share", "share", pct),
                ],
            ),
        )

    emit(fmt, data=r.to_dict(), rows=r.rows(), table=table, out=out)
    print_notes(r.meta)
