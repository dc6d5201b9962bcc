"""Multi-touch attribution as Ibis expressions (docs/semantics-attribution.md). Never executes.

Per conversion, the channel touches before it (within the lookback, after the customer's previous
conversion) form a converting journey; the touches of a customer who can still convert, after his
last conversion and within the lookback before his last event, form a non-converting journey. The
engine sends back only small tables: the distinct paths with their conversions, non-conversions and
revenue; the Markov transition counts (a GROUP BY over each touch and the channels before it);
the time-decay credits per channel; touches per channel; the totals.

A path is built portably: each touch becomes the text ``<position, zero-padded to 9 digits>:<channel>``,
the journey's texts are collected (``collect``: ARRAY_AGG, collect_list, groupArray), sorted as text
(which sorts them by position) and joined with ``|``; no ordered aggregate is needed, which Spark and
ClickHouse lack in Ibis. ``model/attribution_result.py`` strips the positions again."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros, step_predicate
from hourglass.analyses.plan import Materialize, Plan
from hourglass.ingest.normalize import strip
from hourglass.model._suggest import did_you_mean
from hourglass.model.attribution import OTHER, AttributionSpec, ConversionStep
from hourglass.model.attribution_assemble import assemble_attribution
from hourglass.model.attribution_result import AttributionResult
from hourglass.model.errors import SchemaError
from hourglass.model.steps import Step

__all__ = ["attribution_plan", "channel_touches", "journeys", "stage_journeys"]

_MIN_TS = -(2**62)


def _channel(t: ir.Table, spec: AttributionSpec) -> ir.StringValue:
    col = spec.channel_column
    if col not in t.columns:
        raise SchemaError(
            f"no column '{col}' for the touch channels{did_you_mean(col, t.columns)}",
            code="HG380",
            hint="map the channel column with --channel-col COLUMN (columns: " + ", ".join(t.columns) + ")",
        )
    value = t[col] if t[col].type().is_string() else t[col].cast("string")
    return strip(value).nullif("")


def _touches(t: ir.Table, spec: AttributionSpec, keep: Sequence[str] | None) -> ir.Table:
    """Every touch: an event with a channel (of ``touch_events`` when given)."""
    ch = _channel(t, spec)
    cond = ch.notnull()
    if spec.touch_events:
        cond = cond & t.event.isin(list(spec.touch_events))
    if keep is not None:
        ch = ch.isin(list(keep)).ifelse(ch, ibis.literal(OTHER))
    touches = t.filter(cond)
    return touches.select(customer=touches.customer, ts=micros(touches.timestamp), channel=ch)


def channel_touches(spec: AttributionSpec, events: ir.Table) -> ir.Table:
    """Touches per channel in the range (``channel``, ``touches``): which channels to keep when
    there are more than ``max_channels``."""
    t = _touches(in_period(events, spec.since, spec.until), spec, None)
    return t.group_by("channel").aggregate(touches=t.count())


def _conversions(t: ir.Table, conv: ConversionStep, has_revenue: bool) -> tuple[ir.Table, ir.Table]:
    """(resets, conversions): the conversion step's events that start a new journey (``r_customer``,
    ``r_ts``), and the conversions (``c_customer``, ``c_ts``, ``c_prev`` the previous reset or
    null, ``c_id``, ``c_rev``)."""
    m = step_predicate(conv.step, t)
    rev = t.revenue.cast("float64").coalesce(0.0) if has_revenue else ibis.literal(0.0)
    e = t.filter(m).select(cust=t.customer, ts=micros(t.timestamp), ev=t.event, rev=rev)
    w = ibis.window(group_by=e.cust, order_by=[e.ts, e.ev, e.rev])
    e = e.mutate(rn=ibis.row_number().over(w), prev=e.ts.lag().over(w))
    if conv.count == "first":
        e = e.filter(e.rn == 0).mutate(prev=ibis.null("int64"))
        resets = e
        convs = e
    elif conv.count == "after_first":
        resets = e
        convs = e.filter(e.rn >= 1)
    else:
        resets = e
        convs = e
    return (
        resets.select(r_customer=resets.cust, r_ts=resets.ts),
        convs.select(c_customer=convs.cust, c_ts=convs.ts, c_prev=convs.prev, c_id=convs.rn, c_rev=convs.rev),
    )


def journeys(
    spec: AttributionSpec, events: ir.Table, conv: ConversionStep, keep: Sequence[str] | None = None
) -> tuple[ir.Table, ir.Table]:
    """(journey touches, conversions). One row per touch of a journey: ``customer``, ``jid`` (the
    conversion's number, -1 for the non-converting journey), ``ts``, ``channel``, ``converted``
    (0/1), ``rev`` (the conversion's revenue, 0 if none), ``pos`` (1-based, by time then channel),
    ``n`` (touches of the journey)."""
    t = in_period(events, spec.since, spec.until)
    has_rev = "revenue" in t.columns
    touches = _touches(t, spec, keep)
    resets, convs = _conversions(t, conv, has_rev)
    lb = spec.lookback
    j = touches.join(
        convs,
        [
            touches.customer == convs.c_customer,
            touches.ts < convs.c_ts,
            touches.ts >= convs.c_ts - lb,
            touches.ts >= convs.c_prev.coalesce(_MIN_TS),
        ],
    )
    converting = j.select(
        customer=j.customer,
        jid=j.c_id,
        ts=j.ts,
        channel=j.channel,
        converted=ibis.literal(1, "int64"),
        rev=j.c_rev,
    )
    last = t.group_by(l_customer=t.customer).aggregate(last_ts=micros(t.timestamp).max())
    per = resets.group_by(p_customer=resets.r_customer).aggregate(last_reset=resets.r_ts.max())
    tail = last.left_join(per, last.l_customer == per.p_customer)
    tail = tail.select(tail.l_customer, tail.last_ts, tail.last_reset)
    if conv.count == "first":
        tail = tail.filter(tail.last_reset.isnull())  # a customer converts once
    elif conv.count == "after_first":
        tail = tail.filter(tail.last_reset.notnull())  # a repeat needs a first purchase
    k = touches.join(
        tail,
        [
            touches.customer == tail.l_customer,
            touches.ts >= tail.last_ts - lb,
            touches.ts >= tail.last_reset.coalesce(_MIN_TS),
        ],
    )
    open_ = k.select(
        customer=k.customer,
        jid=ibis.literal(-1, "int64"),
        ts=k.ts,
        channel=k.channel,
        converted=ibis.literal(0, "int64"),
        rev=ibis.literal(0.0, "float64"),
    )
    allj = converting.select(
        converting.customer,
        converting.jid.cast("int64").name("jid"),
        converting.ts,
        converting.channel,
        converting.converted,
        converting.rev.cast("float64").name("rev"),
    ).union(open_)
    w = ibis.window(group_by=[allj.customer, allj.jid], order_by=[allj.ts, allj.channel])
    wall = ibis.window(group_by=[allj.customer, allj.jid])
    allj = allj.mutate(pos=ibis.row_number().over(w) + 1, n=allj.count().over(wall))
    return allj, convs


def stage_journeys(
    spec: AttributionSpec,
    events: ir.Table,
    stages: Sequence[Step],
    keep: Sequence[str] | None = None,
    materialize: Materialize | None = None,
) -> tuple[ir.Table, ir.Table]:
    """(journey touches, entries) for every stage of the model at once, each stage's first entry
    per customer being his one conversion (docs/semantics-attribution.md, "Stages"). Touches:
    ``stage`` (1-based), ``customer``, ``ts``, ``channel``, ``converted`` (entered the stage: the
    touches in ``[entry - lookback, entry)``; else the touches in ``[last event - lookback, last
    event]``), ``pos``, ``n``. Entries: ``stage``, ``customer``, ``entry`` (µs, null for a customer
    of the range who never entered the stage). One scan of the events gives every customer's last
    event and first entry into each stage."""
    mat = materialize or (lambda x: x)
    t = in_period(events, spec.since, spec.until)
    touches = _touches(t, spec, keep)
    ts = micros(t.timestamp)
    aggs: dict[str, ir.Value] = {"last_ts": ts.max()}
    for k, step in enumerate(stages, start=1):
        aggs[f"e{k}"] = ts.min(where=step_predicate(step, t))
    wide = mat(t.group_by(w_customer=t.customer).aggregate(**aggs))
    per = [
        wide.select(
            s_customer=wide.w_customer,
            stage=ibis.literal(k, "int64"),
            entry=wide[f"e{k}"],
            last_ts=wide.last_ts,
        )
        for k in range(1, len(stages) + 1)
    ]
    entries = per[0].union(*per[1:]) if len(per) > 1 else per[0]
    lb = spec.lookback
    j = touches.join(
        entries,
        [
            touches.customer == entries.s_customer,
            entries.entry.notnull(),
            touches.ts < entries.entry,
            touches.ts >= entries.entry - lb,
        ],
    )
    converting = j.select(
        stage=j.stage, customer=j.customer, ts=j.ts, channel=j.channel, converted=ibis.literal(1, "int64")
    )
    k = touches.join(
        entries,
        [
            touches.customer == entries.s_customer,
            entries.entry.isnull(),
            touches.ts >= entries.last_ts - lb,
        ],
    )
    open_ = k.select(
        stage=k.stage, customer=k.customer, ts=k.ts, channel=k.channel, converted=ibis.literal(0, "int64")
    )
    allj = converting.union(open_)
    w = ibis.window(group_by=[allj.stage, allj.customer], order_by=[allj.ts, allj.channel])
    wall = ibis.window(group_by=[allj.stage, allj.customer])
    allj = allj.mutate(pos=ibis.row_number().over(w) + 1, n=allj.count().over(wall))
    return allj, entries.select(stage=entries.stage, customer=entries.s_customer, entry=entries.entry)


def _stage_queries(
    spec: AttributionSpec,
    events: ir.Table,
    stages: Sequence[Step],
    keep: Sequence[str] | None,
    materialize: Materialize,
) -> dict[str, ir.Expr]:
    """The small tables of the stages, with the stage as a grouping key: ``stage_paths``,
    ``stage_markov``, ``stage_decay`` and ``stage_totals`` (customers who entered each stage)."""
    allj, entries = stage_journeys(spec, events, stages, keep, materialize)
    j = materialize(allj)
    key = j.pos.cast("string").lpad(9, "0") + ":" + j.channel
    per = j.group_by([j.stage, j.customer]).aggregate(
        path=key.collect().sort().join("|"), converted=j.converted.max()
    )
    paths = per.group_by([per.stage, per.path]).aggregate(
        conversions=per.converted.sum(), non_conversions=(1 - per.converted).sum()
    )
    order = spec.markov_order
    w = ibis.window(group_by=[j.stage, j.customer], order_by=j.pos)
    lags = {f"l{i}": j.channel.lag(i).over(w) for i in range(1, order + 1)}
    steps = j.mutate(
        l0=j.channel,
        **lags,
        is_first=(j.pos == 1).ifelse(1, 0),
        is_last=(j.pos == j.n).ifelse(1, 0),
    )
    markov = steps.group_by(
        ["stage", *(f"l{i}" for i in range(order + 1)), "is_first", "is_last", "converted"]
    ).aggregate(n=steps.count())
    c = j.filter(j.converted == 1)
    wj = ibis.window(group_by=[c.stage, c.customer])
    weight = ((c.ts.max().over(wj) - c.ts).cast("float64") / float(spec.half_life) * -math.log(2.0)).exp()
    c = c.mutate(weight=weight)
    c = c.mutate(share=c.weight / c.weight.sum().over(wj))
    decay = c.group_by([c.stage, c.channel]).aggregate(conv=c.share.sum())
    e = entries.filter(entries.entry.notnull())
    totals = e.group_by(e.stage).aggregate(customers=e.count())
    return {"stage_paths": paths, "stage_markov": markov, "stage_decay": decay, "stage_totals": totals}


def attribution_plan(
    spec: AttributionSpec,
    events: ir.Table,
    conv: ConversionStep,
    *,
    keep: Sequence[str] | None = None,
    costs: Mapping[str, float] | None = None,
    pooled: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
    stages: Sequence[Step] = (),
) -> Plan[AttributionResult]:
    """The plan: ``paths``, ``markov``, ``decay``, ``touches`` and ``totals`` (see the module
    docstring); ``keep``: the channels kept, the others pooled as ``(other)``. With
    ``spec.stages``, the ``stages`` of the model too (``stage_*``: the same tables per stage)."""
    has_rev = "revenue" in events.columns
    order = spec.markov_order
    half_life = spec.half_life

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        allj, convs = journeys(spec, events, conv, keep)
        j = materialize(allj)
        key = j.pos.cast("string").lpad(9, "0") + ":" + j.channel
        per = j.group_by([j.customer, j.jid]).aggregate(
            path=key.collect().sort().join("|"), converted=j.converted.max(), rev=j.rev.max()
        )
        paths = per.group_by("path").aggregate(
            conversions=per.converted.sum(),
            non_conversions=(1 - per.converted).sum(),
            revenue=(per.rev * per.converted).sum(),
        )
        w = ibis.window(group_by=[j.customer, j.jid], order_by=j.pos)
        lags = {f"l{i}": j.channel.lag(i).over(w) for i in range(1, order + 1)}
        steps = j.mutate(
            l0=j.channel,
            **lags,
            is_first=(j.pos == 1).ifelse(1, 0),
            is_last=(j.pos == j.n).ifelse(1, 0),
        )
        markov = steps.group_by(
            [*(f"l{i}" for i in range(order + 1)), "is_first", "is_last", "converted"]
        ).aggregate(n=steps.count())
        c = j.filter(j.converted == 1)
        wj = ibis.window(group_by=[c.customer, c.jid])
        latest = c.ts.max().over(wj)
        weight = ((latest - c.ts).cast("float64") / float(half_life) * -math.log(2.0)).exp()
        c = c.mutate(weight=weight)
        c = c.mutate(share=c.weight / c.weight.sum().over(wj))
        decay = c.group_by("channel").aggregate(conv=c.share.sum(), rev=(c.share * c.rev).sum())
        touches = j.group_by("channel").aggregate(touches=j.count())
        totals = convs.aggregate(conversions=convs.count(), revenue=convs.c_rev.sum())
        out = {"paths": paths, "markov": markov, "decay": decay, "touches": touches, "totals": totals}
        if spec.stages and stages:
            out.update(_stage_queries(spec, events, stages, keep, materialize))
        return out

    def assemble(rows: Mapping[str, list[dict[str, Any]]]) -> AttributionResult:
        return assemble_attribution(
            rows,
            spec,
            conversion=conv.name,
            has_revenue=has_rev,
            costs=costs,
            pooled=pooled,
            meta=meta,
            stages=stages if spec.stages else (),
        )

    return Plan(build, assemble)
