"""The evidence for a suggested model (docs/models.md, "The evidence"): per event name, events,
customers, the customers whose journey it starts, and its typical position. One expression; only
the per-event summary of the top names comes back. Never executes."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import micros

__all__ = ["event_profile_expr"]


def event_profile_expr(events: ir.Table, top: int) -> ir.Table:
    """One row per event name, the ``top`` names by customers (ties by name): ``event``, ``events``,
    ``customers``, ``first_customers`` (customers whose first event it is), ``position`` (the median
    over its customers of the normalised rank of its first occurrence among the customer's distinct
    events ordered by first occurrence, ties by name: 0 = first, 1 = last; null when every one of
    its customers has this event only), and on every row the source's totals: ``all_customers``,
    ``all_events``, ``names``."""
    t = events.select(customer=events.customer, event=events.event, ts=micros(events.timestamp))
    firsts = t.group_by(["customer", "event"]).aggregate(first_ts=t.ts.min(), n=t.count())
    ranked = firsts.mutate(
        k=ibis.row_number().over(group_by=firsts.customer, order_by=[firsts.first_ts, firsts.event]),
        m=firsts.count().over(group_by=firsts.customer),
    )
    ranked = ranked.mutate(
        pos=(ranked.m > 1).ifelse(ranked.k.cast("float64") / (ranked.m - 1).cast("float64"), ibis.null()),
        first=ranked.k == 0,
    )
    per = ranked.group_by("event").aggregate(
        events=ranked.n.sum(),
        customers=ranked.count(),
        first_customers=ranked["first"].sum(),
        position=ranked.pos.quantile(0.5),
    )
    whole = ibis.window()
    per = per.mutate(
        all_customers=per.first_customers.sum().over(whole),
        all_events=per.events.sum().over(whole),
        names=per.count().over(whole),
    )
    return per.order_by([ibis.desc("customers"), "event"]).limit(top)
