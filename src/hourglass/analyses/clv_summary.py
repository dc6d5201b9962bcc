"""The per-customer purchase summary the CLV models read (docs/semantics-clv.md, "Summary"): one
aggregate on the engine, one row per purchaser. Never executes.

Purchases are the events matching ``purchase`` (a step: names, globs, filters). A purchase day is a
UTC calendar day with at least one purchase (same-day purchases are one transaction, the convention
of the papers' CDNOW data); its value is the sum of the day's revenue. Days are integers (days since
1970-01-01), so the summary is exact on every backend."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import micros, step_predicate
from hourglass.analyses.channels import first_values
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.steps import Step

__all__ = ["DAY_US", "summary_plan"]

DAY_US = 86_400_000_000


def _day(ts: ir.TimestampValue) -> ir.IntegerValue:
    us = micros(ts)
    return ((us - us % DAY_US) / DAY_US).cast("int64")  # floor for times after 1970 on every backend


def summary_plan(
    events: ir.Table,
    purchase: Step,
    *,
    calibration_end_day: int | None,
    revenue: bool,
    channel: str | None,
) -> Plan[Rows]:
    """Queries ``summary`` (one row per customer with a purchase on or before the calibration end
    day: ``customer``, ``first_day``, ``last_day`` (the last calibration purchase day), ``days``
    (calibration purchase days), ``repeat_value`` (sum of the repeat days' revenue), ``repeat_valued``
    (repeat days with revenue), ``holdout`` (purchase days after the calibration end), and
    ``channel`` when a channel column is given) and ``span`` (the first and last day of any event).
    ``calibration_end_day`` None: every purchase is in the calibration period."""

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        t = events
        p = t.filter(step_predicate(purchase, t))
        value = p.revenue.cast("float64") if revenue else ibis.literal(None, type="float64")
        daily = p.select(customer=p.customer, day=_day(p.timestamp), value=value)
        daily = daily.group_by(["customer", "day"]).aggregate(
            value=daily.value.sum(), valued=daily.value.count()
        )
        daily = materialize(daily)
        end = calibration_end_day
        in_cal = daily.day <= end if end is not None else ibis.literal(True)
        cal = daily.filter(in_cal)
        first = cal.group_by("customer").aggregate(first_day=cal.day.min())
        j = daily.inner_join(first, daily.customer == first.customer).select(
            customer=daily.customer,
            day=daily.day,
            value=daily.value,
            valued=daily.valued,
            first_day=first.first_day,
        )
        cal_j = j.day <= end if end is not None else ibis.literal(True)
        repeat = cal_j & (j.day > j.first_day)
        summary = j.group_by("customer").aggregate(
            first_day=j.first_day.min(),
            last_day=j.day.max(where=cal_j),
            days=j.count(where=cal_j),
            repeat_value=j.value.sum(where=repeat & j.valued.notnull() & (j.valued > 0)),
            repeat_valued=j.count(where=repeat & (j.valued > 0)),
            holdout=j.count(where=~cal_j),
        )
        if channel is not None:
            fv = first_values(t, channel, "channel")
            s = summary.left_join(fv, summary.customer == fv.channel_customer)
            summary = s.select(*[s[c] for c in summary.columns], channel=s.channel)
        span = t.aggregate(min_day=_day(t.timestamp).min(), max_day=_day(t.timestamp).max())
        return {"summary": summary, "span": span}

    return Plan(build, _identity_rows)


def _identity_rows(rows: Rows) -> Rows:
    return rows
