"""Diagnose as one plan (docs/semantics-friction.md, "Diagnose"): the lifecycle's stage table of the
period (and of the baseline period), with each customer's revenue in the range, aggregated per stage
(entered, went on, revenue of those who went on); with ``by``, per value of the column."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import ibis.expr.types as ir

from hourglass.analyses.lifecycle import BY, by_groups, in_range, stage_customers
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.diagnose import DiagnoseResult, DiagnoseSpec, assemble_diagnose
from hourglass.model.lifecycle import LifecycleSpec

__all__ = ["diagnose_plan", "stage_revenue_summary"]


def stage_revenue_summary(
    model_spec: LifecycleSpec,
    customers: ir.Table,
    events: ir.Table,
    *,
    has_revenue: bool,
    by: str | None = None,
) -> ir.Table:
    """One row (per ``by`` value): ``customers``; per stage k ``entered{k}``, ``continued{k}``
    (entered k and a later stage) and ``revc{k}`` (revenue in the range of those who continued)."""
    c = customers
    if has_revenue:
        t = in_range(model_spec, events)
        rv = t.filter(t.revenue.notnull())
        per = rv.group_by(rc=rv.customer).aggregate(rev=rv.revenue.cast("float64").sum())
        j = c.left_join(per, c.customer == per.rc)
        c = j.select(*[j[x] for x in customers.columns], rev=j.rev.coalesce(0.0))
    aggs: dict[str, ir.Value] = {"customers": c.count()}
    for k, s in enumerate(model_spec.model.stages, start=1):
        entered = c[f"{s.name}_at"].notnull()
        went_on = entered & (c.furthest_index > k)
        aggs[f"entered{k}"] = entered.sum().coalesce(0)
        aggs[f"continued{k}"] = went_on.sum().coalesce(0)
        if has_revenue:
            aggs[f"revc{k}"] = went_on.ifelse(c.rev, 0.0).sum().coalesce(0.0)
    if by is not None:
        return c.group_by(by).aggregate(**aggs)
    return c.aggregate(**aggs)


def diagnose_plan(
    spec: DiagnoseSpec,
    events: ir.Table,
    as_of: datetime,
    *,
    by_column: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Plan[DiagnoseResult]:
    has_revenue = "revenue" in events.columns
    period = LifecycleSpec(model=spec.model, since=spec.since, until=spec.until)

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        cust = stage_customers(period, events, as_of)
        if by_column is not None:
            cust = by_groups(in_range(period, events), cust, by_column)
        cust = materialize(cust)
        out: dict[str, ir.Expr] = {
            "period": stage_revenue_summary(period, cust, events, has_revenue=has_revenue)
        }
        if by_column is not None:
            out["groups"] = stage_revenue_summary(period, cust, events, has_revenue=has_revenue, by=BY)
        if spec.baseline is not None:
            base = LifecycleSpec(model=spec.model, since=spec.baseline[0], until=spec.baseline[1])
            bc = stage_customers(base, events, as_of)
            out["baseline"] = stage_revenue_summary(base, bc, events, has_revenue=has_revenue)
        return out

    def assemble(rows: Rows) -> DiagnoseResult:
        first = rows["period"][0] if rows["period"] else {}
        baseline = None
        if "baseline" in rows:
            baseline = rows["baseline"][0] if rows["baseline"] else {}
        groups = sorted(rows.get("groups", []), key=lambda r: (r.get(BY) is None, str(r.get(BY))))
        return assemble_diagnose(
            spec, period=first, baseline=baseline, groups=groups, has_revenue=has_revenue, meta=meta
        )

    return Plan(build, assemble)
