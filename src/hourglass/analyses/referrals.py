"""The referral loop as Ibis expressions (docs/semantics-referrals.md). Never executes.

One row per customer (``customers``): his first event, whether and when he first bought, his revenue,
his referrer (when that is another customer of the log) and how many customers he referred. Everything
else is a small aggregate of it; referral generations follow the referrer links with a bounded chain
of self-joins (``max_depth``), on the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros, step_predicate
from hourglass.analyses.plan import Materialize
from hourglass.ingest.normalize import strip
from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SchemaError
from hourglass.model.referrals import ReferralSpec
from hourglass.model.steps import Step

__all__ = ["ReferralPlan", "customer_facts", "referral_plan", "with_referrers"]

US = 1_000_000
_TRUNC = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


def customer_facts(
    t: ir.Table,
    sale: Step,
    purchase: Step | None = None,
    stages: Sequence[Step] = (),
    extra: Mapping[str, ir.Value] | None = None,
) -> ir.Table:
    """Per customer: ``first_ts`` (µs) and ``first_at`` (his first event), ``purchaser`` (0/1: an event
    of the sale step), ``first_purchase`` (µs, null if none), ``purchases`` (events matching the
    ``purchase`` step, with its globs and filters; only if given), ``revenue`` (sum, 0 if none; only if
    the events have revenue), ``s0``, ``s1``, ... (0/1: an event of ``stages[i]``) and the ``extra``
    aggregates of the events (in the same pass)."""
    ts = micros(t.timestamp)
    sale_p = step_predicate(sale, t)
    buys = step_predicate(purchase, t) if purchase is not None else None
    aggs: dict[str, ir.Value] = {
        "first_ts": ts.min(),
        "first_at": t.timestamp.min(),
        "purchaser": sale_p.ifelse(1, 0).max(),
        "first_purchase": sale_p.ifelse(ts, ibis.null("int64")).min(),
    }
    if buys is not None:
        aggs["purchases"] = buys.ifelse(1, 0).sum()
    for i, stage in enumerate(stages):
        aggs[f"s{i}"] = step_predicate(stage, t).ifelse(1, 0).max()
    if "revenue" in t.columns:
        aggs["revenue"] = t.revenue.sum().coalesce(0.0)
    aggs.update(extra or {})
    return t.group_by("customer").aggregate(**aggs)


def _candidates(t: ir.Table, spec: ReferralSpec) -> ir.Table:
    """Every (referee, referrer, ts) claim of the log, self-referrals included: ``referee`` in the
    events' customer column, ``referrer`` a customer id (text)."""
    if spec.by_event:
        col = spec.referee_column
        assert col is not None
        if col not in t.columns:
            raise SchemaError(
                f"the referee column '{col}' is not a column of the events{did_you_mean(col, t.columns)}",
                code="HG341",
                hint="columns: " + ", ".join(t.columns),
            )
        referee = strip(t[col].cast("string")).nullif("")
        r = t.filter((t.event == spec.referral_event) & referee.notnull())
        return r.select(referee=strip(r[col].cast("string")), referrer=r.customer, ts=micros(r.timestamp))
    if "referrer" not in t.columns:
        raise SchemaError(
            "the events have no referrer column, so there is no referral graph",
            code="HG340",
            hint="name it with --referrer-col COLUMN (columns: "
            + ", ".join(t.columns)
            + "), or give a referral event: --referral-event EVENT --referee-col COLUMN",
        )
    r = t.filter(t.referrer.notnull())
    return r.select(referee=r.customer, referrer=r.referrer, ts=micros(r.timestamp))


def _keyed_candidates(t: ir.Table, spec: ReferralSpec, ids: ir.Table) -> ir.Table:
    """:func:`_candidates` of events whose ``customer`` is an integer key (``ids``: ``key``, ``id``):
    ``referee`` a key (null: not a customer), ``referrer`` the id (text, which orders the claims),
    ``referrer_key`` (null: not a customer). Only the claims are mapped, not every event."""
    cand = _candidates(t, spec)
    if spec.by_event:  # the referee is an id, the referrer a key
        k = ids.select(r_key=ids.key, r_id=ids.id)
        j = cand.left_join(k, cand.referrer == k.r_key)
        cand = j.select(referee=j.referee, referrer=j.r_id, referrer_key=j.referrer, ts=j.ts)
        e = ids.select(e_key=ids.key, e_id=ids.id)
        j = cand.left_join(e, cand.referee == e.e_id)
        return j.select(referee=j.e_key, referrer=j.referrer, referrer_key=j.referrer_key, ts=j.ts)
    k = ids.select(r_key=ids.key, r_id=ids.id)
    j = cand.left_join(k, cand.referrer == k.r_id)
    return j.select(referee=j.referee, referrer=j.referrer, referrer_key=j.r_key, ts=j.ts)


def with_referrers(t: ir.Table, facts: ir.Table, spec: ReferralSpec, ids: ir.Table | None = None) -> ir.Table:
    """``facts`` plus ``raw_referrer`` (the chosen referrer value, possibly not a customer of the log),
    ``is_self`` (0/1), ``referrer`` (null unless a customer of the log), ``referrer_first_purchase``,
    and ``n_referees`` (customers of the log whose referrer he is). With ``ids`` (``key``, ``id``),
    ``t.customer`` is an integer key (engine/keyed.py): ``referrer`` is then a key too, and
    ``raw_referrer`` the id as written."""
    if ids is None:
        cand = _candidates(t, spec)
        cand = cand.mutate(referrer_key=cand.referrer)
    else:
        cand = _keyed_candidates(t, spec, ids)
    same = (cand.referee == cand.referrer_key).coalesce(False)
    self_ = (cand.filter(same).select(s_customer=cand.referee).distinct()).mutate(
        s_flag=ibis.literal(1, "int64")
    )
    # a claim with no referee or no referrer is no claim (as ``referee != referrer`` had it)
    other = cand.filter(~same & cand.referee.notnull() & cand.referrer.notnull())
    rn = ibis.row_number().over(group_by=other.referee, order_by=[other.ts, other.referrer])
    chosen = other.mutate(rn=rn)
    chosen = chosen.filter(chosen.rn == 0).select(
        c_customer=chosen.referee, raw_referrer=chosen.referrer, c_key=chosen.referrer_key
    )
    j = facts.left_join(chosen, facts.customer == chosen.c_customer)
    cust = j.select(*[j[c] for c in facts.columns], j.raw_referrer, j.c_key)
    j = cust.left_join(self_, cust.customer == self_.s_customer)
    cust = j.select(*[j[c] for c in cust.columns], is_self=j.s_flag.coalesce(0))
    rf = facts.select(r_customer=facts.customer, r_first_purchase=facts.first_purchase)
    j = cust.left_join(rf, cust.c_key == rf.r_customer)
    cust = j.select(
        *[j[c] for c in cust.columns if c != "c_key"],
        referrer=j.r_customer,
        referrer_first_purchase=j.r_first_purchase,
    )
    per = cust.filter(cust.referrer.notnull()).group_by(n_referrer=cust.referrer).aggregate(n=ibis._.count())
    j = cust.left_join(per, cust.customer == per.n_referrer)
    return j.select(*[j[c] for c in cust.columns], n_referees=j.n.coalesce(0))


def generation_table(cust: ir.Table, max_depth: int) -> ir.Table:
    """Per referee (a customer whose referrer is in the log): ``generation`` = the number of referrer
    links up to a customer with no referrer (null when none is reached within ``max_depth`` links),
    and ``on_cycle`` (0/1: he is his own ancestor within ``max_depth`` links)."""
    edges = cust.filter(cust.referrer.notnull()).select(c=cust.customer, p1=cust.referrer)
    cur = edges
    for k in range(1, max_depth + 1):
        step = edges.select(**{f"_c{k}": edges.c, f"_p{k}": edges.p1})
        j = cur.left_join(step, cur[f"p{k}"] == step[f"_c{k}"])
        cur = j.select(*[j[c] for c in cur.columns], **{f"p{k + 1}": j[f"_p{k}"]})
    generation = ibis.cases(
        *[(cur[f"p{k + 1}"].isnull(), k) for k in range(1, max_depth + 1)], else_=ibis.null("int64")
    )
    cycle = ibis.literal(False)
    for k in range(1, max_depth + 1):
        cycle = cycle | (cur[f"p{k}"] == cur.c).coalesce(False)
    return cur.select(customer=cur.c, generation=generation.cast("int64"), on_cycle=cycle.ifelse(1, 0))


@dataclass(frozen=True)
class ReferralPlan:
    """``customers`` (one row per customer), and the aggregates the engine fetches: ``summary`` (one
    row), ``distribution`` (``n_referees``, ``customers``), ``generations`` (``generation``,
    ``customers``, ``on_cycle``), ``periods`` (``period`` start, ``new_customers``, ``referred``),
    ``top`` (at most ``spec.top`` referrers)."""

    spec: ReferralSpec
    customers: ir.Table
    summary: ir.Table
    distribution: ir.Table
    generations: ir.Table
    periods: ir.Table
    top: ir.Table


def referral_plan(
    spec: ReferralSpec,
    events: ir.Table,
    sale: Step,
    materialize: Materialize | None = None,
    ids: ir.Table | None = None,
    customers: ir.Table | None = None,
) -> ReferralPlan:
    """The referral loop's queries; ``materialize`` (the engine's) computes the customer table once
    for all five (each would derive it from the events again: the generations ten times). With
    ``ids``, ``events.customer`` is an integer key (:func:`with_referrers`); the top referrers are
    shown by id. ``customers``: that customer table already computed (a superset of its columns,
    for the same events, range, sale and referral graph: the channels', ``channels.channel_plan``)."""
    if customers is not None:
        cust = customers
    else:
        t = in_period(events, spec.since, spec.until)
        cust = with_referrers(t, customer_facts(t, sale), spec, ids)
        if materialize is not None:
            cust = materialize(cust)
    has_rev = "revenue" in cust.columns
    referred = cust.referrer.notnull()
    bought = cust.purchaser == 1
    both = bought & cust.referrer_first_purchase.notnull()
    delta = both.ifelse((cust.first_purchase - cust.referrer_first_purchase).cast("float64") / US, None)
    aggs: dict[str, ir.Value] = {
        "customers": cust.count(),
        "purchasers": bought.ifelse(1, 0).sum(),
        "referees": referred.ifelse(1, 0).sum(),
        "referred_purchasers": (referred & bought).ifelse(1, 0).sum(),
        "referrers": (cust.n_referees > 0).ifelse(1, 0).sum(),
        "purchasers_referring": (bought & (cust.n_referees > 0)).ifelse(1, 0).sum(),
        "self_referrals": cust.is_self.sum(),
        "external_referrers": (cust.raw_referrer.notnull() & cust.referrer.isnull()).ifelse(1, 0).sum(),
        "cycle_pairs": both.ifelse(1, 0).sum(),
        "cycle_negative": (both & (cust.first_purchase < cust.referrer_first_purchase)).ifelse(1, 0).sum(),
        "cycle_median": delta.quantile(0.5),
        "cycle_p90": delta.quantile(0.9),
    }
    if has_rev:
        aggs["revenue_total"] = cust.revenue.sum()
        aggs["revenue_referred"] = referred.ifelse(cust.revenue, 0.0).sum()
    summary = cust.aggregate(**aggs)
    distribution = cust.group_by("n_referees").aggregate(customers=ibis._.count())
    gen = generation_table(cust, spec.max_depth)
    generations = gen.group_by("generation").aggregate(customers=gen.count(), on_cycle=gen.on_cycle.sum())
    p = cust.mutate(period=cust.first_at.truncate(_TRUNC[spec.period]))
    periods = p.group_by("period").aggregate(
        new_customers=p.count(), referred=p.referrer.notnull().ifelse(1, 0).sum()
    )
    ref = cust.filter(referred)
    per_aggs: dict[str, ir.Value] = {
        "referees": ref.count(),
        "referred_purchasers": ref.purchaser.sum(),
    }
    if has_rev:
        per_aggs["referee_revenue"] = ref.revenue.sum()
    per = ref.group_by(customer=ref.referrer).aggregate(**per_aggs)
    if ids is not None:  # the top referrers by id: only theirs decoded
        j = per.left_join(ids, per.customer == ids.key)
        per = j.select(customer=j.id, **{c: j[c] for c in per_aggs})
    top = per.order_by([per.referees.desc(), per.referred_purchasers.desc(), per.customer]).limit(spec.top)
    return ReferralPlan(spec, cust, summary, distribution, generations, periods, top)
