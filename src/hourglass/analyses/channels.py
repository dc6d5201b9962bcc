"""Channels across the whole hourglass as Ibis expressions (docs/semantics-referrals.md,
"Channels"). Never executes: one aggregate row per acquisition channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros, micros_of
from hourglass.analyses.referrals import customer_facts, with_referrers
from hourglass.ingest.normalize import strip
from hourglass.model._suggest import did_you_mean
from hourglass.model.channels import ChannelSpec, SpendRow
from hourglass.model.errors import SchemaError
from hourglass.model.journey import JourneyModel
from hourglass.model.referrals import ReferralSpec
from hourglass.model.steps import Step

__all__ = ["ChannelPlan", "channel_plan", "first_value", "first_values"]


def _value(t: ir.Table, column: str) -> ir.StringValue:
    return strip(t[column] if t[column].type().is_string() else t[column].cast("string")).nullif("")


def first_value(t: ir.Table, column: str) -> ir.Value:
    """:func:`first_values` as an aggregate of a per-customer GROUP BY: the value on the earliest
    event where it is not empty, ties to the smallest (one pass, no window and no join)."""
    value = _value(t, column)
    return value.argmin(ibis.struct({"ts": micros(t.timestamp), "val": value}), where=value.notnull())


def first_values(t: ir.Table, column: str, name: str) -> ir.Table:
    """Per customer (``{name}_customer``), the value of ``column`` on his earliest event where it is
    empty (white space is trimmed; blank is empty); ties at the same timestamp go to the smallest
    value (as text)."""
    value = _value(t, column)
    c = t.filter(value.notnull()).select(cust=t.customer, val=value, ts=micros(t.timestamp))
    rn = ibis.row_number().over(group_by=c.cust, order_by=[c.ts, c.val])
    c = c.mutate(rn=rn)
    c = c.filter(c.rn == 0)
    return c.select(**{f"{name}_customer": c.cust, name: c.val})


@dataclass(frozen=True)
class ChannelPlan:
    """``customers``: one row per customer (``channel``, facts, stage flags, spend match);
    ``summary``: one row per channel (see ``channel_plan``)."""

    customers: ir.Table
    summary: ir.Table
    has_referrals: bool
    has_revenue: bool


def channel_plan(
    spec: ChannelSpec,
    events: ir.Table,
    model: JourneyModel,
    sale: Step,
    spend: Sequence[SpendRow] | None = None,
    referrals: ReferralSpec | None = None,
    ids: ir.Table | None = None,
    one_pass: bool = False,
    customers: ir.Table | None = None,
    facts: ir.Table | None = None,
) -> ChannelPlan:
    """Per channel: ``customers``, ``s{i}`` (entered stage i), ``purchasers``, ``repeat`` (purchasers
    with >= 2 purchase events), ``referees``, ``referring`` (purchasers with >= 1 referee),
    ``revenue``; with ``spend``: ``covered`` (customers acquired in a spend period of the channel),
    ``covered_purchasers``, ``covered_s{i}``, ``covered_revenue``, ``zero_cost`` (referees, or acquired
    in a period whose spend is 0).

    Who referred whom follows ``referrals`` (its ``referral_event``/``referee_column``; only those
    are used): the referral event mode when it names one, else the ``referrer`` column (default);
    ``referees`` and ``referring`` are left out when neither applies (no event, no column). With
    ``ids``, ``events.customer`` is an integer key (``referrals.with_referrers``); ``one_pass``: the
    channel as an aggregate of the customer facts (:func:`first_value`: an ordered aggregate, which
    the engine enables where its backend computes it in the same pass) instead of a window;
    ``customers``: the plan's ``customers`` (without spend) already computed for these arguments;
    ``facts``: its customer facts with the channel (``customer_facts`` with :func:`first_value` as
    ``channel``) already computed for the range (engine/facts_arrays.py)."""
    col = spec.channel_column
    if col not in events.columns:
        raise SchemaError(
            f"no column '{col}' for the acquisition channel{did_you_mean(col, events.columns)}",
            code="HG342",
            hint="name the channel column with --channel-col COLUMN (columns: "
            + ", ".join(events.columns)
            + ")",
        )
    t = in_period(events, spec.since, spec.until)
    ref_spec = referrals or ReferralSpec()
    has_ref = ref_spec.by_event or "referrer" in t.columns
    if customers is not None:
        cust = customers
    else:
        if facts is None:
            extra = {"channel": first_value(t, col)} if one_pass else None
            facts = customer_facts(t, sale, model.purchase_step or sale, model.stages, extra)
        cust = with_referrers(t, facts, ref_spec, ids) if has_ref else facts
    if not one_pass and customers is None and "channel" not in cust.columns:
        first = first_values(t, col, "channel")
        j = cust.left_join(first, cust.customer == first.channel_customer)
        cust = j.select(*[j[c] for c in cust.columns], channel=j.channel)
    if spend is not None:
        cust = _match_spend(cust, spend)
    n = len(model.stages)
    has_rev = "revenue" in cust.columns
    bought = cust.purchaser == 1
    aggs: dict[str, ir.Value] = {"customers": cust.count()}
    for i in range(n):
        aggs[f"s{i}"] = cust[f"s{i}"].sum()
    aggs["purchasers"] = bought.ifelse(1, 0).sum()
    if "purchases" in cust.columns:
        aggs["repeat"] = (bought & (cust.purchases >= 2)).ifelse(1, 0).sum()
    if has_ref:
        aggs["referees"] = cust.referrer.notnull().ifelse(1, 0).sum()
        aggs["referring"] = (bought & (cust.n_referees > 0)).ifelse(1, 0).sum()
    if has_rev:
        aggs["revenue"] = cust.revenue.sum()
    if spend is not None:
        cov = cust.covered == 1
        aggs["covered"] = cust.covered.sum()
        aggs["covered_purchasers"] = (cov & bought).ifelse(1, 0).sum()
        for i in range(n):
            aggs[f"covered_s{i}"] = (cov & (cust[f"s{i}"] == 1)).ifelse(1, 0).sum()
        if has_rev:
            aggs["covered_revenue"] = cov.ifelse(cust.revenue, 0.0).sum()
        zero = cust.zero == 1
        if has_ref:
            zero = zero | cust.referrer.notnull()
        aggs["zero_cost"] = zero.ifelse(1, 0).sum()
    return ChannelPlan(cust, cust.group_by("channel").aggregate(**aggs), has_ref, has_rev)


def _match_spend(cust: ir.Table, spend: Sequence[SpendRow]) -> ir.Table:
    """``covered`` (0/1: the customer's first event lies in a spend period of his channel) and
    ``zero`` (0/1: that period's cost is 0). Periods of a channel never overlap (ingest/spend.py), so
    a customer matches at most one row."""
    table = ibis.memtable(
        {
            "sp_channel": [r.channel for r in spend],
            "sp_start": [micros_of(r.start) for r in spend],
            "sp_end": [micros_of(r.end) for r in spend],
            "sp_zero": [int(r.cost == 0) for r in spend],
        },
        schema={"sp_channel": "string", "sp_start": "int64", "sp_end": "int64", "sp_zero": "int64"},
    )
    j = cust.left_join(
        table,
        [cust.channel == table.sp_channel, cust.first_ts >= table.sp_start, cust.first_ts < table.sp_end],
    )
    return j.select(
        *[j[c] for c in cust.columns],
        covered=j.sp_channel.notnull().ifelse(1, 0),
        zero=j.sp_zero.coalesce(0),
    )
