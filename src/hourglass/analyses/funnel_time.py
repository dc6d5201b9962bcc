"""Time to convert (a histogram per step, from the previous step and from entry) and events needed to
convert (events and sessions from entry to each step), on the best chains of the funnel
(docs/semantics-funnel-time.md). Never executes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import micros
from hourglass.analyses.funnel_trend import SharedChains, chains_of, counted, trend_plan
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.funnel_time import (
    CountHistogram,
    EventsToConvert,
    TimeHistogram,
    TimeToConvert,
    time_bins,
)
from hourglass.model.funnel_trend import FunnelTrend, check_view_spec
from hourglass.model.spec import FunnelSpec

__all__ = ["ANY_ORDER_REASON", "events_plan", "time_plan", "trend_time_events_plan", "trend_time_plan"]

US = 1_000_000
ANY_ORDER_REASON = "any_order chains have no step times (docs/semantics.md): run the ordered funnel"
ORIGINS = ("previous", "entry")


def _int(v: Any) -> int:
    return 0 if v is None else int(v)


def time_plan(
    spec: FunnelSpec, events: ir.Table, *, shared: bool = False, chain: SharedChains | None = None
) -> Plan[TimeToConvert]:
    """Per step k >= 2 and origin (previous step, entry): customers, counts per time bin, median and
    p90 (seconds) of ``t_k - t_origin`` over the customers counted at step k. ``shared``, ``chain``:
    as :func:`~hourglass.analyses.funnel_trend.trend_plan`'s."""
    check_view_spec(spec, "time")
    n = len(spec.steps)
    bins = time_bins(spec.window)
    names = [s.name for s in spec.steps]

    def build(materialize: Materialize) -> Mapping[str, ir.Expr]:
        if spec.mode == "any_order" or n < 2:
            return {}
        per = chains_of(spec, events, materialize, shared=shared, chain=chain)
        # one row per (step k, origin o, customer counted at k): two small aggregates over them,
        # not one row of 2 x (bins + 3) columns per step (150 aggregates to build, compile and plan)
        parts = []
        for k in range(2, n + 1):
            for o, origin in enumerate(ORIGINS):
                prev = spec.previous_required(k)
                base = per[f"t{prev}"] if origin == "previous" else per.t1
                cond = counted(spec, per, k) & per[f"t{k}"].notnull() & base.notnull()
                one = per.filter(cond)
                dt = one[f"t{k}"] - (one[f"t{prev}"] if origin == "previous" else one.t1)
                parts.append(one.select(k=ibis.literal(k, "int64"), o=ibis.literal(o, "int64"), dt=dt))
        long = parts[0] if len(parts) == 1 else ibis.union(*parts)
        inside = [(long.dt >= lo) & (long.dt < hi) if hi is not None else long.dt >= lo for _, lo, hi in bins]
        binned = long.mutate(bin=ibis.cases(*[(c, b) for b, c in enumerate(inside)], else_=None))
        binned = binned.filter(binned.bin.notnull())
        seconds = long.dt.cast("float64") / US
        return {
            "bins": binned.group_by(["k", "o", "bin"]).aggregate(customers=binned.count()),
            "stats": long.group_by(["k", "o"]).aggregate(
                customers=long.count(), med=seconds.quantile(0.5), p90=seconds.quantile(0.9)
            ),
        }

    def assemble(rows: Rows) -> TimeToConvert:
        hists: list[TimeHistogram] = []
        stats = {(int(r["k"]), int(r["o"])): r for r in rows.get("stats", [])}
        counted_in = {
            (int(r["k"]), int(r["o"]), int(r["bin"])): int(r["customers"]) for r in rows.get("bins", [])
        }
        for k in range(2, n + 1):
            for o, origin in enumerate(ORIGINS):
                if spec.mode == "any_order":
                    hists.append(TimeHistogram(names[k - 1], origin, None, (), None, None, ANY_ORDER_REASON))
                    continue
                row = stats.get((k, o), {})
                counts = tuple(counted_in.get((k, o, b), 0) for b in range(len(bins)))
                med, p90 = row.get("med"), row.get("p90")
                hists.append(
                    TimeHistogram(
                        names[k - 1],
                        origin,
                        _int(row.get("customers")),
                        counts,
                        None if med is None else float(med),
                        None if p90 is None else float(p90),
                    )
                )
        return TimeToConvert(tuple(names), tuple(bins), tuple(hists))

    return Plan(build, assemble)


def events_plan(
    spec: FunnelSpec,
    events: ir.Table,
    session_gap: int,
    *,
    shared: bool = False,
    chain: SharedChains | None = None,
) -> Plan[EventsToConvert]:
    """Per step k >= 2, over the customers counted at it: the distribution of the number of their
    events with ``t_1 <= time <= t_k`` (any event, matched or not) and of the sessions those events
    fall in (a gap of ``session_gap`` µs or more between two consecutive ones starts a new one).
    ``shared``, ``chain``: as :func:`~hourglass.analyses.funnel_trend.trend_plan`'s."""
    check_view_spec(spec, "events")
    n = len(spec.steps)
    names = [s.name for s in spec.steps]

    def build(materialize: Materialize) -> Mapping[str, ir.Expr]:
        if spec.mode == "any_order" or n < 2:
            return {}
        per = chains_of(spec, events, materialize, shared=shared, chain=chain)
        flags = {f"ok{k}": counted(spec, per, k) for k in range(2, n + 1)}
        times = {f"t{k}": per[f"t{k}"] for k in range(1, n + 1)}
        per = per.select("customer", **times, **flags)
        any_step = ibis.literal(False)
        for k in range(2, n + 1):
            any_step = any_step | per[f"ok{k}"]
        # the last counted step's time (an optional step may come after the last required one)
        last = ibis.greatest(*[per[f"t{k}"].coalesce(per.t1) for k in range(1, n + 1)])
        per = per.filter(any_step).mutate(t_last=last)
        ev = events.select(customer=events.customer, ts=micros(events.timestamp))
        j = ev.join(per, "customer")
        j = j.filter((j.ts >= j.t1) & (j.ts <= j.t_last))
        w = ibis.window(group_by=j.customer, order_by=j.ts)
        j = j.mutate(brk=((j.ts - j.ts.lag().over(w)) >= session_gap).coalesce(False))
        aggs: dict[str, ir.Value] = {f"ok{k}": j[f"ok{k}"].any() for k in range(2, n + 1)}
        for k in range(2, n + 1):
            upto = j.ts <= j[f"t{k}"]
            aggs[f"e{k}"] = upto.ifelse(1, 0).sum()
            aggs[f"s{k}"] = (upto & j.brk).ifelse(1, 0).sum() + 1
        counts = j.group_by("customer").aggregate(**aggs)
        # a count of a step the customer did not reach is null; then one row per (customer, count)
        # and one query for every distribution (each branch of a union would redo the join on Spark)
        keys = [f"{w}{k}" for k in range(2, n + 1) for w in ("e", "s")]
        counts = counts.mutate(**{c: counts[f"ok{c[1:]}"].ifelse(counts[c], None) for c in keys})
        long = counts.pivot_longer(keys, names_to="key", values_to="value")
        long = long.filter(long.value.notnull())
        return {"counts": long.group_by("key", "value").aggregate(customers=long.count())}

    def assemble(rows: Rows) -> EventsToConvert:
        hists: list[CountHistogram] = []
        for k in range(2, n + 1):
            for what, label in (("e", "events"), ("s", "sessions")):
                if spec.mode == "any_order":
                    hists.append(CountHistogram(names[k - 1], label, {}, ANY_ORDER_REASON))
                    continue
                got = [r for r in rows.get("counts", []) if r["key"] == f"{what}{k}"]
                dist = {int(r["value"]): int(r["customers"]) for r in got}
                hists.append(CountHistogram(names[k - 1], label, dist))
        return EventsToConvert(tuple(names), session_gap / US, tuple(hists))

    return Plan(build, assemble)


def _together(plans: Mapping[str, Plan[Any]]) -> Plan[tuple[Any, ...]]:
    """Plans in one (their common chains shared through a :class:`SharedChains`); the results in the
    order of ``plans``."""

    def build(materialize: Materialize) -> Mapping[str, ir.Expr]:
        return {f"{name}:{k}": v for name, plan in plans.items() for k, v in plan.build(materialize).items()}

    def assemble(rows: Rows) -> tuple[Any, ...]:
        def part(prefix: str) -> Rows:
            return {k.removeprefix(prefix): v for k, v in rows.items() if k.startswith(prefix)}

        return tuple(plan.assemble(part(f"{name}:")) for name, plan in plans.items())

    return Plan(build, assemble)


def trend_time_plan(
    spec: FunnelSpec, events: ir.Table, period: str = "week"
) -> Plan[tuple[FunnelTrend, TimeToConvert]]:
    """The trend and the time to convert in one plan, their chains built and computed once."""
    chain = SharedChains(spec, events)
    both = _together(
        {"trend": trend_plan(spec, events, period, chain=chain), "time": time_plan(spec, events, chain=chain)}
    )

    def assemble(rows: Rows) -> tuple[FunnelTrend, TimeToConvert]:
        trend, times = both.assemble(rows)
        return trend, times

    return Plan(both.build, assemble)


def trend_time_events_plan(
    spec: FunnelSpec,
    events: ir.Table,
    period: str,
    session_gap: int,
    *,
    chain: SharedChains | None = None,
) -> Plan[tuple[FunnelTrend, TimeToConvert, EventsToConvert]]:
    """The trend, the time to convert and the events needed to convert in one plan, their chains
    built and computed once (the report's funnel over time); ``chain``: chains shared with other
    plans (the report's "why customers drop" reads them too)."""
    if chain is None or not chain.fits(spec, events):
        chain = SharedChains(spec, events)
    three = _together(
        {
            "trend": trend_plan(spec, events, period, chain=chain),
            "time": time_plan(spec, events, chain=chain),
            "events": events_plan(spec, events, session_gap, chain=chain),
        }
    )

    def assemble(rows: Rows) -> tuple[FunnelTrend, TimeToConvert, EventsToConvert]:
        trend, times, counts = three.assemble(rows)
        return trend, times, counts

    return Plan(three.build, assemble)
