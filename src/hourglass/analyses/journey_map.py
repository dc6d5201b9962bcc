"""One customer's journey map, and typical journeys per cluster of customers with the same
collapsed stage path (docs/semantics-journeys.md, "Journey map"). Never executes: the engine runs
the plans (engine/plan.py). One customer's map is one plan; the typical journeys are two, the
clusters and their samples (:func:`sample_draw_plan`), then the samples' timelines
(:func:`sample_map_plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros, step_predicate
from hourglass.analyses.journeys import per_customer
from hourglass.analyses.paths import customer_paths, path_keys
from hourglass.analyses.plan import Plan, Rows
from hourglass.analyses.stages import runs, stage_rows
from hourglass.model.errors import SpecError
from hourglass.model.iso_time import iso_of_micros
from hourglass.model.journey import JourneyModel
from hourglass.model.journey_map import JourneyMapResult, customer_journey, group_timeline
from hourglass.model.journeys_spec import MAX_PATH_STEPS, JourneyMapSpec

__all__ = [
    "CustomerPlan",
    "SampleDraw",
    "SamplePlan",
    "customer_map_plan",
    "customer_plan",
    "sample_draw_plan",
    "sample_events",
    "sample_map_plan",
    "sample_plan",
    "timeline",
]


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


def _touchpoints(model: JourneyModel, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = [s.name for s in model.stages]
    return [
        {
            "timestamp": iso_of_micros(r["ts"]),
            "event": r["event"],
            "channel": r["channel"],
            "revenue": r["revenue"],
            "stages": [n for k, n in enumerate(names, start=1) if r[f"m{k}"]],
        }
        for r in sorted(rows, key=lambda r: int(r["i"]))
    ]


def customer_map_plan(spec: JourneyMapSpec, events: ir.Table, meta: dict[str, Any]) -> Plan[JourneyMapResult]:
    """One customer's journey map (``spec.customer``); HG136 when he has no event (in the period)."""
    plan = customer_plan(spec, events)

    def assemble(rows: Rows) -> JourneyMapResult:
        total = int(rows["count"][0]["events"] or 0)
        if total == 0:
            raise SpecError(
                f"no events for customer '{spec.customer}'"
                + (" in the period" if spec.since or spec.until else ""),
                code="HG136",
                hint="customer ids are compared exactly, as text",
            )
        summary = rows["summary"]
        path = [int(r["stage"]) for r in sorted(rows["path"], key=lambda r: int(r["rpos"]))]
        journey = customer_journey(
            spec.model,
            spec.goal_index,
            str(spec.customer),
            summary[0] if summary else {},
            path,
            _touchpoints(spec.model, list(rows["events"])),
            total,
        )
        return JourneyMapResult(goal=spec.model.stages[spec.goal_index - 1].name, journey=journey, meta=meta)

    queries = {"count": plan.count, "summary": plan.summary, "path": plan.path, "events": plan.events}
    return Plan.of(queries, assemble)


@dataclass(frozen=True)
class SampleDraw:
    """The typical journeys' first plan: ``total`` customers with a path, the ``clusters`` in
    order (most customers, then path) and their ``samples`` (rows of :class:`SamplePlan`)."""

    total: int
    clusters: tuple[dict[str, Any], ...]
    samples: tuple[dict[str, Any], ...]


def _path_key(r: dict[str, Any]) -> tuple[int, ...]:
    return tuple(0 if r[f"p{i}"] is None else int(r[f"p{i}"]) for i in range(MAX_PATH_STEPS))


def sample_draw_plan(spec: JourneyMapSpec, events: ir.Table) -> Plan[SampleDraw]:
    """The clusters of ``spec.sample`` typical journeys and their chosen customers."""
    plan = sample_plan(spec, events)

    def assemble(rows: Rows) -> SampleDraw:
        clusters = sorted(rows["clusters"], key=lambda r: (-int(r["customers"]), _path_key(r)))
        total = int(rows["totals"][0]["customers"] or 0)
        return SampleDraw(total, tuple(clusters), tuple(rows["samples"]))

    return Plan.of({"clusters": plan.clusters, "samples": plan.samples, "totals": plan.totals}, assemble)


def sample_map_plan(
    spec: JourneyMapSpec, events: ir.Table, draw: SampleDraw, meta: dict[str, Any]
) -> Plan[JourneyMapResult]:
    """The typical journeys of ``draw``'s clusters: their samples' timelines (limited)."""
    names = [s.name for s in spec.model.stages]
    chosen = sorted({str(s["customer"]) for s in draw.samples})

    def assemble(rows: Rows) -> JourneyMapResult:
        timelines: dict[str, list[dict[str, Any]]] = {c: [] for c in chosen}
        for r in rows.get("timelines", ()):
            timelines[str(r["customer"])].append(r)
        out = []
        for c in draw.clusters:
            key = _path_key(c)
            mine = sorted((s for s in draw.samples if _path_key(s) == key), key=lambda s: int(s["rank"]))
            path = [names[k - 1] for k in key if k]
            js = []
            for s in mine:
                cid = str(s["customer"])
                tl = _touchpoints(spec.model, timelines[cid])
                js.append(
                    {
                        "customer": cid,
                        "stage_events": int(s["n"]),
                        "shown": len(tl),
                        "path": list(path),
                        "groups": group_timeline(tl),
                        "timeline": tl,
                    }
                )
            out.append(
                {
                    "path": list(path),
                    "customers": int(c["customers"]),
                    "share": int(c["customers"]) / draw.total if draw.total else None,
                    "continued": int(c["continued"] or 0),
                    "median_events": float(c["median_events"]),
                    "samples": js,
                }
            )
        return JourneyMapResult(
            goal=names[spec.goal_index - 1], clusters=tuple(out), customers=draw.total, meta=meta
        )

    queries = {"timelines": sample_events(spec, events, chosen)} if chosen else {}
    return Plan.of(queries, assemble)
