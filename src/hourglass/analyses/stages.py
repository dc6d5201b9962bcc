"""Tagging events with a model's stages, and each customer's sequence of nodes (stages or event
names), optionally with consecutive repeats collapsed (docs/semantics-journeys.md, "Sequences").

An event that matches several stages gives one row per matched stage; at equal times rows are
ordered by stage index, so an event matching stages 2 and 3 reads as "2, then 3"."""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros, step_predicate
from hourglass.analyses.funnel_closed import overlap_groups
from hourglass.model.journey import JourneyModel

__all__ = ["event_rows", "node_rows", "runs", "stage_rows"]

_NULL_INT = ibis.null("int64")


def _channel(events: ir.Table) -> ir.StringValue:
    if "channel" in events.columns:
        return events.channel.cast("string")
    return ibis.null("string")


def stage_rows(
    model: JourneyModel,
    events: ir.Table,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str | None = None,
) -> ir.Table:
    """One row per (event, stage it matches) in the period: ``customer``, ``ts`` (µs), ``stage``
    (1-based), ``event``, ``channel`` (null without a channel column), ``by`` (the ``by`` column as
    text, when asked) and ``pos``, the 1-based position in the customer's stage sequence, ordered by
    (ts, stage, event, channel with nulls last)."""
    t = in_period(events, since, until)
    preds = [step_predicate(s, t) for s in model.stages]
    cols: dict[str, ir.Value] = {
        "customer": t.customer,
        "ts": micros(t.timestamp),
        "event": t.event,
        "channel": _channel(t),
    }
    if by is not None:
        cols["by"] = t[by].cast("string")
    if all(len(g) == 1 for g in overlap_groups(model.stages)):
        # no event can match two stages: each matched event is one row, its stage one CASE (an
        # array and an unnest per event cost half of a journey analysis at 10M events)
        cols["stage"] = ibis.cases(*[(p, k) for k, p in enumerate(preds, start=1)], else_=_NULL_INT)
        s = t.select(**cols)
        s = s.filter(s.stage.notnull())
    else:
        anymatch = preds[0]
        for p in preds[1:]:
            anymatch = anymatch | p
        cols["stage"] = ibis.array([p.ifelse(k, _NULL_INT) for k, p in enumerate(preds, start=1)])
        cols["matched"] = anymatch
        s = t.select(**cols)
        s = s.filter(s.matched).drop("matched").unnest("stage")
        s = s.filter(s.stage.notnull())
    s = s.mutate(stage=s.stage.cast("int64"))
    order = [s.ts, s.stage, s.event, s.channel.isnull(), s.channel]
    if by is not None:
        order += [s.by.isnull(), s.by]
    return s.mutate(pos=ibis.row_number().over(group_by=s.customer, order_by=order) + 1)


def event_rows(events: ir.Table, *, since: datetime | None = None, until: datetime | None = None) -> ir.Table:
    """Every event in the period: ``customer``, ``ts``, ``event``, ``channel`` and ``pos`` in the
    order (ts, event, channel with nulls last)."""
    t = in_period(events, since, until)
    s = t.select(customer=t.customer, ts=micros(t.timestamp), event=t.event, channel=_channel(t))
    order = [s.ts, s.event, s.channel.isnull(), s.channel]
    return s.mutate(pos=ibis.row_number().over(group_by=s.customer, order_by=order) + 1)


def node_rows(
    level: str,
    model: JourneyModel | None,
    events: ir.Table,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ir.Table:
    """The customer's sequence at a level: ``customer``, ``ts``, ``node`` (the stage index at the
    stage level, the event name at the event level) and ``pos``."""
    if level == "stage":
        assert model is not None
        s = stage_rows(model, events, since=since, until=until)
        return s.select("customer", "ts", node=s.stage, pos=s.pos)
    e = event_rows(events, since=since, until=until)
    return e.select("customer", "ts", node=e.event, pos=e.pos)


def runs(t: ir.Table, node: str, *, collapse: bool = True) -> ir.Table:
    """The sequence with consecutive repeats of ``node`` merged into their first row (a *run*)
    when ``collapse``; adds ``rpos``, the 1-based position in the (collapsed) sequence, and
    ``nxt``/``nxt_ts``: the next run's node and first time (null after the last)."""
    seq = ibis.window(group_by=t.customer, order_by=t.pos)
    if collapse:
        t = t.mutate(prev_node=t[node].lag().over(seq))
        t = t.filter(t.prev_node.isnull() | (t.prev_node != t[node])).drop("prev_node")
    seq = ibis.window(group_by=t.customer, order_by=t.pos)
    return t.mutate(
        rpos=ibis.row_number().over(seq) + 1,
        nxt=t[node].lead().over(seq),
        nxt_ts=t.ts.lead().over(seq),
    )
