"""One customer's journey map, and typical journeys per cluster of customers with the same
collapsed stage path (docs/semantics-journeys.md, "Journey map"). Never executes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros, step_predicate
from hourglass.analyses.journeys import per_customer
from hourglass.analyses.paths import customer_paths, path_keys
from hourglass.analyses.stages import runs, stage_rows
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import MAX_PATH_STEPS, JourneyMapSpec

__all__ = ["CustomerPlan", "SamplePlan", "customer_plan", "sample_events", "sample_plan", "timeline"]


def timeline(model: JourneyModel, events: ir.Table, limit: int) -> ir.Table:
    """Events (already filtered to some customers) with ``m{k}`` (matches stage k), the first
    ``limit`` per customer in the order (ts, event, channel nulls last)."""
    cols: dict[str, ir.Value] = {
        "customer": events.customer,
        "ts": micros(events.timestamp),
        "timestamp": events.timestamp,
        "event": events.event,
        "channel": events.channel.cast("string") if "channel" in events.columns else ibis.null("string"),
        "revenue": events.revenue if "revenue" in events.columns else ibis.null("float64"),
    }
    for k, s in enumerate(model.stages, start=1):
        cols[f"m{k}"] = step_predicate(s, events)
    t = events.select(**cols)
    order = [t.ts, t.event, t.channel.isnull(), t.channel, t.revenue.isnull(), t.revenue]
    t = t.mutate(i=ibis.row_number().over(group_by=t.customer, order_by=order) + 1)
    return t.filter(t.i <= limit)


@dataclass(frozen=True)
class CustomerPlan:
    """``events``: his timeline (limited); ``count``: one row (``events``); ``summary``: his row
    of :func:`per_customer`; ``path``: all his collapsed stage runs (``stage``, ``ts``, ``rpos``),
    never limited."""

    events: ir.Table
    count: ir.Table
    summary: ir.Table
    path: ir.Table


def customer_plan(spec: JourneyMapSpec, events: ir.Table) -> CustomerPlan:
    mine = in_period(events, spec.since, spec.until)
    mine = mine.filter(mine.customer == spec.customer)
    s = stage_rows(spec.model, mine)
    r = runs(s, "stage")
    # the whole path: --limit cuts only the timeline of touchpoints, never the path, its moves and
    # back-steps (docs/semantics-journeys.md, "journey")
    path = r.select("stage", "ts", "rpos").order_by("rpos")
    return CustomerPlan(
        events=timeline(spec.model, mine, spec.limit).order_by("i"),
        count=mine.aggregate(events=mine.count()),
        summary=per_customer(spec.model, r, spec.goal_index),
        path=path,
    )


@dataclass(frozen=True)
class SamplePlan:
    """``clusters``: the largest clusters (``p0``..``p7``, ``customers``, ``median_events``);
    ``samples``: their typical customers (``p0``..``p7``, ``customer``, ``n``, ``rank``);
    ``totals``: one row (``customers``)."""

    clusters: ir.Table
    samples: ir.Table
    totals: ir.Table


def sample_plan(spec: JourneyMapSpec, events: ir.Table) -> SamplePlan:
    assert spec.sample is not None
    s = stage_rows(spec.model, events, since=spec.since, until=spec.until)
    r = runs(s.mutate(node=s.stage), "node")
    paths = customer_paths(r, MAX_PATH_STEPS)
    sizes = s.group_by("customer").aggregate(n=s.count())
    cols = [f"p{i}" for i in range(MAX_PATH_STEPS)]
    keyed = paths.join(sizes, "customer").mutate(
        **{f"k{i}": paths[f"p{i}"].coalesce(0) for i in range(MAX_PATH_STEPS)}
    )
    keys = [f"k{i}" for i in range(MAX_PATH_STEPS)]
    counted = keyed.group_by([*keys, *cols]).aggregate(
        customers=keyed.count(), continued=keyed.more.sum(), median_events=keyed.n.quantile(0.5)
    )
    clusters = counted.order_by([ibis.desc(counted.customers), *path_keys(counted, MAX_PATH_STEPS)]).limit(
        spec.clusters
    )
    chosen = keyed.join(clusters.select(*keys, "median_events"), keys)
    dist = (chosen.n.cast("float64") - chosen.median_events).abs()
    chosen = chosen.mutate(
        rank=ibis.row_number().over(group_by=[chosen[k] for k in keys], order_by=[dist, chosen.customer]) + 1
    )
    samples = chosen.filter(chosen["rank"] <= spec.sample).select(*cols, "customer", "n", "rank")
    totals = paths.aggregate(customers=paths.count())
    return SamplePlan(clusters, samples, totals)


def sample_events(spec: JourneyMapSpec, events: ir.Table, customers: Sequence[str]) -> ir.Table:
    """The timelines of the chosen customers (limited per customer)."""
    t = in_period(events, spec.since, spec.until)
    return timeline(spec.model, t.filter(t.customer.isin(list(customers))), spec.limit)
