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
    (ties: by value, a missing value last) become :data:`OTHER`; a missing value stays missing.

    The rank is a ``row_number`` over one row per value, joined back: ClickHouse numbers the rows
    of a ``DENSE_RANK`` with the whole-partition frame Ibis writes like ``ROW_NUMBER`` (measured on
    chdb: ``a, a, b`` ranked 0, 1, 2), which pooled every value past the k-th *row* there."""
    values = c.group_by("by").aggregate(by_n=c.count())
    order = [ibis.desc(values.by_n), values.by.isnull(), values.by]
    values = values.select(v_by=values.by, v_rank=ibis.row_number().over(order_by=order))
    j = c.left_join(values, c.by == values.v_by)
    kept = j.by.isnull().ifelse(ibis.null("string"), (j.v_rank < k).ifelse(j.by, ibis.literal(OTHER)))
    return j.select(*[j[col] for col in c.columns if col != "by"], by=kept)


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
