"""Growth accounting as Ibis expressions (docs/semantics-flywheel.md). Never executes.

Every event gets the integer index of its calendar period (``period_index`` of model/growth.py, the
same numbers in SQL). One row per customer and period he is active in (``act``) with the period he
was active in before (``lag``) and after (``lead``) gives new, retained, resurrected (by period) and
churned (counted in the period after his last active one); the same on his revenue per period
(``rv``) gives Hsu's revenue accounting. The active customers and the revenue per period are also
counted straight from the events, so that ``assemble`` can check the identities on every result."""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from hourglass.analyses._by import top_values
from hourglass.analyses._match import in_period, micros, step_predicate
from hourglass.analyses.channels import first_values
from hourglass.analyses.plan import Materialize
from hourglass.analyses.referrals import with_referrers
from hourglass.model.growth import GrowthSpec
from hourglass.model.referrals import ReferralSpec
from hourglass.model.steps import Step

__all__ = ["growth_queries", "period_expr"]

_DAY_US = 86_400_000_000


def period_expr(ts: ir.TimestampValue, unit: str) -> ir.IntegerValue:
    """The period index of ``ts`` (model/growth.py ``period_index``), portable SQL."""
    if unit in ("day", "week"):
        days = micros(ts) // _DAY_US
        return (days if unit == "day" else (days + 3) // 7).cast("int64")
    year = ts.year().cast("int64")
    month = ts.month().cast("int64")
    if unit == "month":
        return year * 12 + month - 1
    if unit == "quarter":
        return year * 4 + (month - 1) // 3
    return year


def _lag_lead(t: ir.Table) -> ir.Table:
    """``t`` (one row per group, customer and period ``p``) with ``prev_p``/``next_p``: the
    customer's previous and next rows' periods."""
    w = ibis.window(group_by=t.customer, order_by=t.p)
    return t.mutate(prev_p=t.p.lag().over(w), next_p=t.p.lead().over(w))


def growth_queries(
    spec: GrowthSpec,
    events: ir.Table,
    materialize: Materialize,
    *,
    activity: Step | None,
    sale: Step | None,
    purchase: Step | None,
    word_of_mouth: Step | None,
    paid_channels: tuple[str, ...] | None,
    channel_column: str | None,
    referrals: bool,
) -> Mapping[str, ir.Expr]:
    """The named queries of the flywheel plan (their columns: model/flywheel_result.py
    ``assemble_flywheel``). ``activity`` None: every event counts; ``sale`` makes purchasers (None: no
    K-factor); ``purchase``: first-purchase vs repeat revenue; ``paid_channels`` None: no spend table;
    ``referrals``: the referral graph is measurable (a referrer column or a referral event)."""
    t = in_period(events, spec.since, spec.until)
    has_rev = "revenue" in t.columns
    counted = step_predicate(activity, t) if activity is not None else ibis.literal(True)
    cols: dict[str, ir.Value] = {
        "customer": t.customer,
        "ts": micros(t.timestamp),
        "p": period_expr(t.timestamp, spec.period),
        "counted": counted,
        "wom": step_predicate(word_of_mouth, t) if word_of_mouth is not None else ibis.literal(False),
        "sale": step_predicate(sale, t) if sale is not None else ibis.literal(False),
        "buy": step_predicate(purchase, t) if purchase is not None else ibis.literal(False),
        "rev": t.revenue.cast("float64").coalesce(0.0) if has_rev else ibis.literal(0.0),
        "by": t[spec.by].cast("string") if spec.by else ibis.null("string"),
    }
    ev = t.select(**cols)
    # per customer: first event, first counted activity, first purchase, word of mouth at the first event
    per = ev.group_by("customer").aggregate(
        first_ts=ev.ts.min(),
        seen_p=ev.p.min(),
        active_p=ev.counted.ifelse(ev.p, ibis.null("int64")).min(),
        wom_ts=ev.wom.ifelse(ev.ts, ibis.null("int64")).min(),
        first_purchase=ev.sale.ifelse(ev.ts, ibis.null("int64")).min(),
        purchase_p=ev.sale.ifelse(ev.p, ibis.null("int64")).min(),
    )
    if spec.by:
        # the column's value at the customer's first event; ties: the smallest value, a missing one last
        at_first = ev.select(c=ev.customer, ts=ev.ts, by=ev.by)
        rn = ibis.row_number().over(
            group_by=at_first.c, order_by=[at_first.ts, at_first.by.isnull(), at_first.by]
        )
        at_first = at_first.mutate(rn=rn)
        at_first = at_first.filter(at_first.rn == 0).select(by_customer=at_first.c, by=at_first.by)
        j = per.left_join(at_first, per.customer == at_first.by_customer)
        per = top_values(j.select(*[j[c] for c in per.columns], j.by))
        per = per.mutate(g=per.by).drop("by")
    else:
        per = per.mutate(g=ibis.literal("", "string"))
    if referrals:
        rspec = ReferralSpec(referral_event=spec.referral_event, referee_column=spec.referee_column)
        with_ref = with_referrers(t, per, rspec)
        per = with_ref.select(*per.columns, "referrer", "referrer_first_purchase")
    else:
        per = per.mutate(referrer=ibis.null("string"), referrer_first_purchase=ibis.null("int64"))
    if paid_channels is not None and channel_column is not None:
        fv = first_values(t, channel_column, "channel")
        j = per.left_join(fv, per.customer == fv.channel_customer)
        per = j.select(*[j[c] for c in per.columns], paid=j.channel.isin(list(paid_channels)).coalesce(False))
    else:
        per = per.mutate(paid=ibis.literal(False))
    per = materialize(per)
    new_p = (
        per.active_p
        if spec.new == "first-activity"
        else (per.active_p == per.seen_p).ifelse(per.seen_p, None)
    )
    gmap = per.select(g_customer=per.customer, g=per.g, new_p=new_p)

    evg = ev.join(gmap, ev.customer == gmap.g_customer)
    evg = materialize(evg.select(*[evg[c] for c in ev.columns], evg.g, evg.new_p))

    out: dict[str, ir.Expr] = {}
    out["grid"] = evg.aggregate(p_min=evg.p.min(), p_max=evg.p.max(), t_min=evg.ts.min(), t_max=evg.ts.max())
    out["customers"] = per.group_by("g").aggregate(customers=per.count())

    c = evg.filter(evg.counted)
    out["active"] = c.group_by(["g", "p"]).aggregate(active=c.customer.nunique())
    act = _lag_lead(c.group_by(["g", "customer", "p"]).aggregate(new_p=c.new_p.max()))
    act = materialize(act)
    is_new = (act.p == act.new_p).coalesce(False)
    retained = (act.prev_p == act.p - 1).coalesce(False)
    out["states"] = act.group_by(["g", "p"]).aggregate(
        states_active=act.count(),
        new=is_new.ifelse(1, 0).sum(),
        retained=retained.ifelse(1, 0).sum(),
        resurrected=(~is_new & ~retained).ifelse(1, 0).sum(),
    )
    gone = act.filter(act.next_p.isnull() | (act.next_p != act.p + 1))
    out["churn"] = gone.mutate(p=gone.p + 1).group_by(["g", "p"]).aggregate(churned=ibis._.count())

    if has_rev:
        out["revenue"] = evg.group_by(["g", "p"]).aggregate(revenue=evg.rev.sum())
        r = evg.group_by(["g", "customer", "p"]).aggregate(r=evg.rev.sum())
        r = r.filter(r.r != 0)
        w = ibis.window(group_by=r.customer, order_by=r.p)
        r = r.mutate(
            prev_p=r.p.lag().over(w),
            next_p=r.p.lead().over(w),
            prev_r=r.r.lag().over(w),
            first_p=r.p.min().over(ibis.window(group_by=r.customer)),
        )
        r = materialize(r)
        new = r.p == r.first_p
        kept = ~new & (r.prev_p == r.p - 1).coalesce(False)
        back = ~new & ~kept
        zero = ibis.literal(0.0)
        out["rev_states"] = r.group_by(["g", "p"]).aggregate(
            new_revenue=new.ifelse(r.r, zero).sum(),
            retained_revenue=kept.ifelse(ibis.least(r.r, r.prev_r), zero).sum(),
            expansion_revenue=kept.ifelse(ibis.greatest(r.r - r.prev_r, zero), zero).sum(),
            contraction_revenue=kept.ifelse(ibis.greatest(r.prev_r - r.r, zero), zero).sum(),
            resurrected_revenue=back.ifelse(r.r, zero).sum(),
        )
        lost = r.filter(r.next_p.isnull() | (r.next_p != r.p + 1))
        out["rev_churn"] = (
            lost.mutate(p=lost.p + 1).group_by(["g", "p"]).aggregate(churned_revenue=ibis._.r.sum())
        )
        if purchase is not None:
            b = evg.filter(evg.buy)
            b = b.mutate(first_buy=b.ts.min().over(ibis.window(group_by=b.customer)))
            first = b.ts == b.first_buy
            out["purchase_revenue"] = b.group_by(["g", "p"]).aggregate(
                first_purchase_revenue=first.ifelse(b.rev, zero).sum(),
                repeat_revenue=(~first).ifelse(b.rev, zero).sum(),
            )

    # the loop's share: new customers by how they came (referred > word of mouth > paid > organic)
    n = per.mutate(new_p=new_p).filter(new_p.notnull())
    referred = n.referrer.notnull()
    wom = ~referred & (n.wom_ts == n.first_ts).coalesce(False)
    paid = ~referred & ~wom & n.paid
    out["sources"] = n.group_by(["g", n.new_p.name("p")]).aggregate(
        new=n.count(),
        referred=referred.ifelse(1, 0).sum(),
        word_of_mouth=wom.ifelse(1, 0).sum(),
        paid=paid.ifelse(1, 0).sum(),
    )
    if sale is not None:
        b = per.filter(per.purchase_p.notnull())
        out["purchasers"] = b.group_by(["g", b.purchase_p.name("p")]).aggregate(
            purchasers=b.count(), referred_purchasers=b.referrer.notnull().ifelse(1, 0).sum()
        )
        # cycle time: the referee's first event minus his referrer's first purchase (seconds)
        pairs = per.filter(per.referrer_first_purchase.notnull())
        pairs = pairs.mutate(
            cycle_s=(pairs.first_ts - pairs.referrer_first_purchase).cast("float64") / 1_000_000
        )
        out["cycle"] = pairs.group_by(["g", pairs.seen_p.name("p")]).aggregate(
            pairs=pairs.count(), cycle_median_s=pairs.cycle_s.quantile(0.5)
        )
        out["cycle_all"] = pairs.group_by("g").aggregate(
            pairs=pairs.count(), cycle_median_s=pairs.cycle_s.quantile(0.5)
        )
    return out
