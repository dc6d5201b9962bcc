"""Retention cohorts as one plan (docs/semantics-retention.md): cohort memberships (customer,
start period, start time) as a cached intermediate, then three small aggregates (cohort sizes, the
matrix's counts, revenue per cohort and period) and the source's last event time. Portable Ibis
(joins with inequality predicates, window functions); never executes."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from hourglass.analyses._by import top_values
from hourglass.analyses._match import micros, micros_of, step_predicate
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.retention import RetentionResult, RetentionSpec, Target, assemble_retention
from hourglass.model.retention_spec import US_PER_DAY

__all__ = ["period_index", "retention_plan"]

NO_REVENUE = "no revenue column: map the column holding each purchase's amount with --revenue-col COLUMN"


def period_index(period: str, ts: ir.TimestampValue) -> ir.IntegerValue:
    """The calendar period of ``ts`` as an integer (model/retention.py ``period_of``): days since
    1970-01-01, Monday weeks (the week of 1970-01-01 is 0), or ``year * 12 + month - 1``."""
    if period == "month":
        return (ts.year() * 12 + ts.month() - 1).cast("int64")
    days = (micros(ts) / US_PER_DAY).floor()
    if period == "day":
        return days.cast("int64")
    return ((days + 3) / 7).floor().cast("int64")


def _matches(target: Target, t: ir.Table) -> ir.BooleanValue:
    return ibis.literal(True) if target.step is None else step_predicate(target.step, t)


def retention_plan(spec: RetentionSpec, events: ir.Table) -> Plan[RetentionResult]:
    """The plan: ``sizes``, ``cells``, ``revenue`` (with a revenue column) and ``last``."""
    has_revenue = "revenue" in events.columns
    by = spec.by

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        t = events
        if spec.until is not None:
            t = t.filter(micros(t.timestamp) < micros_of(spec.until))
        cols: dict[str, ir.Value] = {
            "customer": t.customer,
            "event": t.event,
            "ts": micros(t.timestamp),
            "p": period_index(spec.period, t.timestamp),
            "is_start": _matches(spec.start, t),
            "is_return": _matches(spec.back, t),
        }
        if has_revenue:
            cols["revenue"] = t.revenue.cast("float64")
        if by is not None:
            cols["by"] = t[by].cast("string")
        base = t.select(**cols)
        since_us = micros_of(spec.since) if spec.since is not None else None

        # memberships: (customer, cohort, start_ts)
        s = base.filter(base.is_start)
        if spec.cohorts == "first":
            # p is monotone in ts, so the first start event's period is the smallest period
            m = s.group_by("customer").aggregate(start_ts=s.ts.min(), cohort=s.p.min())
            if since_us is not None:
                m = m.filter(m.start_ts >= since_us)
        else:
            if since_us is not None:
                s = s.filter(s.ts >= since_us)
            m = s.group_by(["customer", s.p.name("cohort")]).aggregate(start_ts=s.ts.min())
        keys = ["cohort"]
        if by is not None:
            # the value at the customer's first event (ties: event name, then the value, missing last)
            order = [base.ts, base.event, base.by.isnull(), base.by]
            first = base.mutate(rn=ibis.row_number().over(group_by=base.customer, order_by=order))
            first = first.filter(first.rn == 0).select("customer", "by")
            members = m.select("customer").distinct()
            values = top_values(members.join(first, "customer").select("customer", "by"))
            m = m.join(values, "customer").select("customer", "cohort", "start_ts", "by")
            keys = ["by", "cohort"]
        m = materialize(m.select("customer", "cohort", "start_ts", *(["by"] if by is not None else [])))

        sizes = m.group_by(keys).aggregate(size=m.count())

        # returns, one row per customer and period with the period's last return
        r = base.filter(base.is_return)
        r = r.group_by(["customer", "p"]).aggregate(last_ts=r.ts.max())
        r = r.select(r_customer=r.customer, p=r.p, last_ts=r.last_ts)
        j = m.join(
            r,
            [
                m.customer == r.r_customer,
                r.p >= m.cohort,
                (r.p > m.cohort) | (r.last_ts > m.start_ts),
            ],
        )
        j = j.select(*keys, "customer", offset=(j.p - j.cohort).cast("int64"))
        if spec.mode == "nth":
            j = j.filter(j.offset <= spec.periods)
        else:  # each membership's last return period, capped: returned at N or later iff last >= N
            j = j.group_by([*keys, "customer"]).aggregate(last=j.offset.max())
            j = j.select(*keys, offset=ibis.least(j["last"], spec.periods).cast("int64"))
        cells = j.group_by([*keys, "offset"]).aggregate(customers=j.count())

        queries: dict[str, ir.Expr] = {"sizes": sizes, "cells": cells, "last": micros(events.timestamp).max()}
        if has_revenue:
            v = base.filter(base.revenue.notnull())
            v = v.select(v_customer=v.customer, v_ts=v.ts, v_p=v.p, amount=v.revenue)
            rj = m.join(
                v, [m.customer == v.v_customer, v.v_ts >= m.start_ts, v.v_p - m.cohort <= spec.periods]
            )
            rj = rj.select(*keys, offset=(rj.v_p - rj.cohort).cast("int64"), amount=rj.amount)
            queries["revenue"] = rj.group_by([*keys, "offset"]).aggregate(revenue=rj.amount.sum())
        return queries

    def assemble(rows: Rows) -> RetentionResult:
        last = rows["last"][0]["value"] if rows["last"] else None
        return assemble_retention(
            spec,
            sizes=rows["sizes"],
            cells=rows["cells"],
            revenue=rows.get("revenue"),
            last_us=last,
            revenue_reason=None if has_revenue else NO_REVENUE,
        )

    return Plan(build, assemble)
