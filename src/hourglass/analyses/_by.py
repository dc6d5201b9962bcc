"""Breakdowns of the journey analyses (``--by COLUMN``): each customer's value of the column at his
first element, the top values kept and the rest pooled as ``"(other)"``
(docs/semantics-journeys.md, "Breakdowns"). Never executes."""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros
from hourglass.analyses.stages import stage_rows
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import OTHER, TOP_VALUES

__all__ = ["first_value", "node_rows_by", "top_values"]


def first_value(r: ir.Table) -> ir.Table:
    """``r`` (one row per element or run, with ``customer``, ``by`` and ``rpos`` or ``pos``) with
    ``by`` replaced by the customer's value at his first element (position 1), on every row."""
    pos = r.rpos if "rpos" in r.columns else r.pos
    first = (pos == 1).ifelse(r.by, ibis.null("string")).max().over(ibis.window(group_by=r.customer))
    return r.mutate(by=first)


def top_values(c: ir.Table, k: int = TOP_VALUES) -> ir.Table:
    """``c`` (one row per customer, with ``by``): values outside the ``k`` with the most customers
    (ties: by value, a missing value last) become :data:`OTHER`; a missing value stays missing."""
    c = c.mutate(by_n=c.count().over(ibis.window(group_by=c.by)))
    rank = ibis.dense_rank().over(ibis.window(order_by=[ibis.desc(c.by_n), c.by.isnull(), c.by]))
    c = c.mutate(by_rank=rank)
    return c.mutate(by=(c.by_rank < k).ifelse(c.by, ibis.literal(OTHER))).drop("by_n", "by_rank")


def node_rows_by(
    level: str,
    model: JourneyModel | None,
    events: ir.Table,
    by: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ir.Table:
    """:func:`hourglass.analyses.stages.node_rows` with ``by`` (the column as text): ``customer``,
    ``ts``, ``node``, ``pos``, ``by``. Elements equal in the sequence's order keys are further
    ordered by ``by`` (a missing value last), as in the funnel, so the first element's value is
    defined."""
    if level == "stage":
        assert model is not None
        s = stage_rows(model, events, since=since, until=until, by=by)
        return s.select("customer", "ts", "by", node=s.stage, pos=s.pos)
    t = in_period(events, since, until)
    channel = t.channel.cast("string") if "channel" in t.columns else ibis.null("string")
    e = t.select(
        customer=t.customer, ts=micros(t.timestamp), node=t.event, channel=channel, by=t[by].cast("string")
    )
    order = [e.ts, e.node, e.channel.isnull(), e.channel, e.by.isnull(), e.by]
    e = e.mutate(pos=ibis.row_number().over(group_by=e.customer, order_by=order) + 1)
    return e.select("customer", "ts", "node", "pos", "by")
