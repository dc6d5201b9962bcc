"""The funnel: (spec, events) -> Ibis expressions. Never executes (the engine does)."""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir

from hourglass.analyses.funnel_closed import best_chains
from hourglass.analyses.funnel_open import open_reach
from hourglass.model.spec import FunnelSpec

__all__ = ["FunnelPlan", "funnel_plan"]

US = 1_000_000


@dataclass(frozen=True)
class FunnelPlan:
    """``customers``: one row per customer (closed: ``level``, ``t{k}``, ``o{j}`` per optional step j;
    open: ``r{j}``, ``k{j}``, ``d{j}``). A customer is counted at a required step k when ``level >= k``,
    at an optional step j when ``o{j}``. ``summary``: one row (or one per ``by`` value) with ``c{k}``
    (customers at step k), ``k{k}`` (open: continued), ``med{k}`` and ``p90{k}`` (seconds from the
    previous required step)."""

    spec: FunnelSpec
    customers: ir.Table
    summary: ir.Table


def _quantiles(dt_us: ir.NumericValue, cond: ir.BooleanValue) -> tuple[ir.Value, ir.Value]:
    s = cond.ifelse(dt_us.cast("float64") / US, None)
    return s.quantile(0.5), s.quantile(0.9)


def funnel_plan(spec: FunnelSpec, events: ir.Table) -> FunnelPlan:
    n = len(spec.steps)
    aggs: dict[str, ir.Value] = {}
    if spec.open:
        per = open_reach(spec, events)
        for j in range(1, n + 1):
            aggs[f"c{j}"] = per[f"r{j}"].sum().coalesce(0)
            if j > 1:
                aggs[f"k{j}"] = per[f"k{j}"].sum().coalesce(0)
                aggs[f"med{j}"], aggs[f"p90{j}"] = _quantiles(per[f"d{j}"], per[f"k{j}"])
        return FunnelPlan(spec, per, per.aggregate(**aggs))
    per = best_chains(spec, events)
    if spec.count == "totals":
        from hourglass.analyses.funnel_totals import totals_summary

        return FunnelPlan(spec, per, totals_summary(spec, events))
    for k in range(1, n + 1):
        counted = per[f"o{k}"] if spec.steps[k - 1].optional else per.level >= k
        aggs[f"c{k}"] = counted.sum().coalesce(0)
        if k > 1 and spec.mode != "any_order":
            dt = per[f"t{k}"] - per[f"t{spec.previous_required(k)}"]
            aggs[f"med{k}"], aggs[f"p90{k}"] = _quantiles(dt, counted)
    summary = per.group_by("by").aggregate(**aggs) if spec.by else per.aggregate(**aggs)
    return FunnelPlan(spec, per, summary)
