"""Followers who are not customers yet: customers active in the stages before the goal who never
reached it (docs/semantics-journeys.md, "Followers"). Never executes: the engine runs the plans
(engine/plan.py), the period's latest event first when the spec gives no ``as_of``
(:func:`as_of_plan`), then :func:`followers_result_plan`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros
from hourglass.analyses.plan import Plan, Rows
from hourglass.analyses.stages import stage_rows
from hourglass.model.followers import FollowersResult, build_followers_result
from hourglass.model.iso_time import iso_of_micros
from hourglass.model.journeys_spec import FollowersSpec

__all__ = [
    "TENURE_DAYS",
    "FollowersPlan",
    "as_of_expr",
    "as_of_plan",
    "followers_plan",
    "followers_result_plan",
]

US = 1_000_000
DAY_US = 86_400 * US
#: Tenure buckets (days): [0, 7), [7, 30), [30, 90), [90, ...).
TENURE_DAYS: tuple[int, ...] = (0, 7, 30, 90)


def as_of_expr(spec: FollowersSpec, events: ir.Table) -> ir.Table:
    """One row, ``as_of`` (µs): the latest event of the period (used when the spec gives none)."""
    t = in_period(events, spec.since, spec.until)
    return t.aggregate(as_of=micros(t.timestamp).max())


@dataclass(frozen=True)
class FollowersPlan:
    """``by_stage``: per furthest stage before the goal: ``followers``, ``tenure_median``,
    ``tenure_p90``, ``idle_median`` (days); ``summary``: one row (``active``, ``purchasers``,
    ``followers``, ``t{i}`` per tenure bucket, ``tenure_median``, ``idle_median``)."""

    by_stage: ir.Table
    summary: ir.Table


def followers_plan(spec: FollowersSpec, events: ir.Table, as_of_us: int) -> FollowersPlan:
    g = spec.goal_index
    t = in_period(events, spec.since, spec.until)
    t = t.filter(micros(t.timestamp) <= as_of_us)
    s = stage_rows(spec.model, t)
    nul = ibis.null("int64")
    early = s.stage < g
    c = s.group_by("customer").aggregate(
        reached=(s.stage == g).ifelse(1, 0).max(),
        furthest=early.ifelse(s.stage, nul).max(),
        first_ts=early.ifelse(s.ts, nul).min(),
        last_ts=s.ts.max(),
    )
    c = c.mutate(
        tenure=(ibis.literal(as_of_us) - c.first_ts).cast("float64") / DAY_US,
        idle=(ibis.literal(as_of_us) - c.last_ts).cast("float64") / DAY_US,
        follower=(c.reached == 0) & c.furthest.notnull(),
    )
    f = c.filter(c.follower)
    by_stage = f.group_by("furthest").aggregate(
        followers=f.count(),
        tenure_median=f.tenure.quantile(0.5),
        tenure_p90=f.tenure.quantile(0.9),
        idle_median=f.idle.quantile(0.5),
    )
    aggs: dict[str, ir.Value] = {
        "active": c.count(),
        "purchasers": c.reached.sum(),
        "followers": c.follower.ifelse(1, 0).sum(),
        "tenure_median": c.follower.ifelse(c.tenure, ibis.null("float64")).quantile(0.5),
        "tenure_p90": c.follower.ifelse(c.tenure, ibis.null("float64")).quantile(0.9),
        "idle_median": c.follower.ifelse(c.idle, ibis.null("float64")).quantile(0.5),
    }
    bounds = [*TENURE_DAYS, None]
    for i, lo in enumerate(TENURE_DAYS):
        hi = bounds[i + 1]
        cond = c.follower & (c.tenure >= lo)
        if hi is not None:
            cond = cond & (c.tenure < hi)
        aggs[f"t{i}"] = cond.ifelse(1, 0).sum()
    return FollowersPlan(by_stage, c.aggregate(**aggs))


def as_of_plan(spec: FollowersSpec, events: ir.Table) -> Plan[int]:
    """The period's latest event (µs; 0 when the period has none), when the spec gives no ``as_of``."""

    def assemble(rows: Rows) -> int:
        latest = rows["as_of"]
        return int(latest[0]["as_of"]) if latest and latest[0]["as_of"] is not None else 0

    return Plan.of({"as_of": as_of_expr(spec, events)}, assemble)


def followers_result_plan(
    spec: FollowersSpec, events: ir.Table, as_of_us: int, meta: dict[str, Any]
) -> Plan[FollowersResult]:
    """The followers as of ``as_of_us`` (µs since 1970)."""
    plan = followers_plan(spec, events, as_of_us)

    def assemble(rows: Rows) -> FollowersResult:
        summary = rows["summary"]
        return build_followers_result(
            [s.name for s in spec.model.stages],
            spec.goal_index,
            iso_of_micros(as_of_us),
            summary[0] if summary else {},
            list(rows["by_stage"]),
            meta=meta,
        )

    return Plan.of({"summary": plan.summary, "by_stage": plan.by_stage}, assemble)
