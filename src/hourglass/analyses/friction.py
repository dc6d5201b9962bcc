"""Friction as one plan (docs/semantics-friction.md): stalls per stage from the lifecycle's stage
table, and per friction event and stage the customers with and without it and who converted, per
stratum (channel x cohort period). Only aggregates come back (and, asked for, the stalled customers)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import micros, micros_of
from hourglass.analyses.lifecycle import BY, by_groups, in_range, present_events, stage_customers
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.friction import PERIODS, FrictionResult, FrictionSpec, assemble_friction
from hourglass.model.lifecycle import LifecycleSpec

__all__ = ["friction_plan", "stage_entries"]

US = 1_000_000
_INF = 2**62


#: 1 and 0 as BIGINT: a boolean as a count on every engine (PostgreSQL casts a boolean to INT only)
_ONE, _ZERO = ibis.literal(1, "int64"), ibis.literal(0, "int64")


def _lspec(spec: FrictionSpec) -> LifecycleSpec:
    return LifecycleSpec(model=spec.model, since=spec.since, until=spec.until, as_of=spec.as_of)


def _stall_aggregate(spec: FrictionSpec, cust: ir.Table) -> tuple[ir.Table, ir.Table]:
    """(the per-stage quantiles and counts, the stage table with each stage's threshold joined)."""
    stages = spec.model.stages
    q: dict[str, ir.Value] = {}
    for k, s in enumerate(stages, start=1):
        ts = cust[f"{s.name}_time_s"]
        q[f"p50{k}"] = ts.quantile(0.5)
        q[f"p90{k}"] = ts.quantile(0.9)
    quant = cust.aggregate(**q)
    j = cust.cross_join(quant)
    thr: dict[str, ir.Value] = {}
    for k, s in enumerate(stages, start=1):
        target = spec.target(s.name)
        thr[f"thr{k}"] = ibis.literal(target, "float64") if target is not None else j[f"p90{k}"]
    return quant, j.mutate(**thr)


def stall_queries(spec: FrictionSpec, cust: ir.Table, *, customers: bool) -> dict[str, ir.Expr]:
    stages = spec.model.stages
    quant, j = _stall_aggregate(spec, cust)
    aggs: dict[str, ir.Value] = {}
    now_s = j.days_in_current * 86400.0
    stalled_any = ibis.literal(False)
    for k, s in enumerate(stages, start=1):
        ts, thr = j[f"{s.name}_time_s"], j[f"thr{k}"]
        stalled = (j.current_index == k) & (now_s > thr)
        stalled_any = stalled_any | stalled
        aggs[f"entered{k}"] = j[f"{s.name}_at"].notnull().sum().coalesce(0)
        aggs[f"left{k}"] = ts.notnull().sum().coalesce(0)
        aggs[f"over{k}"] = (ts > thr).sum().coalesce(0)
        aggs[f"current{k}"] = (j.current_index == k).sum().coalesce(0)
        aggs[f"stalled{k}"] = stalled.sum().coalesce(0)
    counts = j.aggregate(**aggs).cross_join(quant)
    out: dict[str, ir.Expr] = {"stalls": counts}
    if customers:
        thr_now = ibis.cases(*[(j.current_index == k, j[f"thr{k}"]) for k in range(1, len(stages) + 1)])
        sel = j.filter(stalled_any)
        out["stalled"] = sel.select(
            customer=sel.customer,
            stage=sel.current,
            since=sel.current_since,
            days_in_stage=sel.days_in_current,
            threshold_days=thr_now.cast("float64") / 86400.0,
        ).order_by(["stage", "customer"])
    return out


def stage_entries(spec: FrictionSpec, cust: ir.Table, as_of: datetime) -> ir.Table:
    """One row per customer and stage k he entered (with a stage after it): ``customer``, ``k``,
    ``a`` (entry, µs), ``c`` (first entry of a later stage after ``a``, µs; ``_INF`` for none, or a
    conversion later than ``within``), ``conv`` (0/1), ``end`` (end of the exposure window, µs),
    ``stratum``; with ``within`` only customers observed for it."""
    stages = spec.model.stages
    n = len(stages)
    unit = PERIODS[spec.period]
    keys = {
        f"m{k}": cust[f"{s.name}_at"].notnull().ifelse(micros(cust[f"{s.name}_at"]), -_INF)
        for k, s in enumerate(stages, start=1)
    }
    c = cust.mutate(**keys)
    parts = []
    for k in range(1, n):
        a = c[f"m{k}"]
        later = [(c[f"m{j}"] > a).ifelse(c[f"m{j}"], _INF) for j in range(k + 1, n + 1)]
        nxt = ibis.least(*later) if len(later) > 1 else later[0]
        at = c[f"{stages[k - 1].name}_at"]
        strata: list[ir.Value] = []
        if "channel" in spec.strata:
            strata.append(c[BY].coalesce("(none)"))
        if "cohort" in spec.strata:
            strata.append(at.truncate(unit).cast("date").cast("string"))
        stratum = ibis.literal("(all)")
        for i, v in enumerate(strata):
            stratum = v if i == 0 else stratum.concat(" · ", v)
        part = c.filter(at.notnull()).select(
            customer=c.customer, k=ibis.literal(k, "int64"), a=a, nxt=nxt, stratum=stratum
        )
        parts.append(part)
    long = parts[0] if len(parts) == 1 else ibis.union(*parts)
    if spec.within_s is not None:
        w = round(spec.within_s * US)
        long = long.filter(long.a + w <= micros_of(as_of))
        cut = long.nxt <= long.a + w
        return long.mutate(
            c=cut.ifelse(long.nxt, _INF), conv=cut.ifelse(_ONE, _ZERO), end=ibis.least(long.nxt, long.a + w)
        )
    conv = long.nxt < _INF
    return long.mutate(c=long.nxt, conv=conv.ifelse(_ONE, _ZERO), end=long.nxt)


def friction_plan(
    spec: FrictionSpec,
    events: ir.Table,
    as_of: datetime,
    *,
    customers: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> Plan[FrictionResult]:
    """The plan: stalls, friction presence, the per-stratum base counts, the exposed counts and the
    revenue after conversion per stage."""
    n = len(spec.model.stages)
    cols = events.columns
    has_channel = "channel" in cols
    has_revenue = "revenue" in cols
    spec_used = spec
    if not has_channel and "channel" in spec.strata:
        from dataclasses import replace

        spec_used = replace(spec, strata=tuple(s for s in spec.strata if s != "channel"))

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        t = in_range(_lspec(spec), events)
        # the stage table first: by_groups reads it three times (inlined, 34 KB of SQL computed twice)
        cust = materialize(stage_customers(_lspec(spec), events, as_of))
        if has_channel and "channel" in spec_used.strata:
            cust = materialize(by_groups(t, cust, "channel"))
        out = stall_queries(spec, cust, customers=customers)
        if not spec.frictions:
            return out
        out["present"] = present_events(t, list(spec.frictions))
        if n < 2:
            return out
        long = materialize(stage_entries(spec_used, cust, as_of))
        out["base"] = long.group_by(["k", "stratum"]).aggregate(n=long.count(), conv=long.conv.sum())
        fe = t.filter(t.event.isin(list(spec.frictions)))
        fe = fe.select(fc=fe.customer, friction=fe.event, fts=micros(fe.timestamp))
        j = long.join(fe, long.customer == fe.fc)
        j = j.filter((j.fts >= j.a) & (j.fts < j.end))
        per = j.group_by(["customer", "k", "friction", "stratum"]).aggregate(conv=j.conv.max())
        out["exposed"] = per.group_by(["friction", "k", "stratum"]).aggregate(
            n1=per.count(), a1=per.conv.sum()
        )
        if has_revenue:
            rv = t.filter(t.revenue.notnull())
            rv = rv.select(rc=rv.customer, rts=micros(rv.timestamp), amount=rv.revenue.cast("float64"))
            conv = long.filter(long.conv == 1)
            rj = conv.join(rv, (conv.customer == rv.rc) & (rv.rts >= conv.c))
            total = rj.group_by("k").aggregate(revenue=rj.amount.sum())
            count = conv.group_by(ck=conv.k).aggregate(converters=conv.count())
            jj = count.left_join(total, count.ck == total.k)
            out["revenue"] = jj.select(k=jj.ck, converters=jj.converters, revenue=jj.revenue.coalesce(0.0))
        return out

    def assemble(rows: Rows) -> FrictionResult:
        stall_row = rows["stalls"][0] if rows["stalls"] else {}
        present_stage = {
            s.name: int(stall_row.get(f"entered{k}") or 0) > 0
            for k, s in enumerate(spec.model.stages, start=1)
        }
        m = dict(meta or {})
        m["as_of"] = as_of.isoformat()
        m["strata"] = list(spec_used.strata)
        if not has_channel and "channel" in spec.strata:
            m["note"] = "no channel column: strata are the cohort periods only (map one with --channel-col)"
        return assemble_friction(
            spec,
            stall_row=stall_row,
            stage_present=present_stage,
            base=rows.get("base", []),
            exposed=rows.get("exposed", []),
            revenue=rows.get("revenue", []),
            present=frozenset(str(r["event"]) for r in rows.get("present", [])),
            has_revenue=has_revenue,
            stalled=rows.get("stalled", []),
            meta=m,
        )

    return Plan(build, assemble)
