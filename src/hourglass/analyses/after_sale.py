"""After the sale (docs/semantics-lifecycle.md, "After the sale"): expressions over the purchasers'
events. ``events`` are the range's events (``lifecycle.in_range``); ``buyers`` has one row per
purchaser: ``customer`` and ``sale_at`` (his first sale-stage event)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import micros, micros_of, step_predicate
from hourglass.model.lifecycle import LifecycleSpec

__all__ = [
    "after_events",
    "after_sale_plan",
    "buyers",
    "gap_summary",
    "loyalty_summary",
    "offer_counts",
    "purchase_customers",
    "purchase_summary",
    "purchasers_events",
    "remorse_summary",
    "support_summary",
]

US = 1_000_000


def _buy(spec: LifecycleSpec, t: ir.Table) -> ir.BooleanValue:
    """A purchase event: the model's purchase step (its events, globs and filters)."""
    step = spec.model.purchase_step
    assert step is not None
    return step_predicate(step, t)


def buyers(spec: LifecycleSpec, customers: ir.Table) -> ir.Table:
    """Purchasers (entered the sale stage) and when: ``customer``, ``sale_at``."""
    assert spec.model.sale is not None
    at = customers[f"{spec.model.sale}_at"]
    return customers.filter(at.notnull()).select(customer=customers.customer, sale_at=at)


def purchasers_events(spec: LifecycleSpec, events: ir.Table, customers: ir.Table) -> ir.Table:
    """The purchasers' events of the range (every column of ``events``): all the after-sale plan
    reads of ``events`` (each block joins them with the purchasers, or keeps purchasers only), so
    the plan given these instead of the range's events gives the same rows. Materialised once, the
    six queries read the purchasers' events (at 10M events ~a tenth of the range's) instead of
    joining the range's events with the purchasers each."""
    b = buyers(spec, customers)
    return events.semi_join(b, events.customer == b.customer)


def after_events(spec: LifecycleSpec, events: ir.Table, purchasers: ir.Table) -> ir.Table:
    """The purchasers' events at or after their ``sale_at``: ``customer``, ``event``, ``ts`` (µs),
    ``sale_us``, and ``offer`` (the ``offer_column``) when the events have it."""
    offer_col = spec.after_sale.offer_column
    ev = events.mutate(__hg_offer=events[offer_col]) if offer_col in events.columns else events
    # every column stays (the purchase step's filters may use any); ts/sale_us/offer are ours
    ev = ev.drop(*[c for c in ("ts", "sale_us", "offer", "b_customer") if c in ev.columns])
    if "__hg_offer" in ev.columns:
        ev = ev.rename(offer="__hg_offer")
    b = purchasers.select(b_customer=purchasers.customer, sale_us=micros(purchasers.sale_at))
    j = ev.inner_join(b, ev.customer == b.b_customer)
    out = j.mutate(ts=micros(j.timestamp)).drop("b_customer")
    return out.filter(out.ts >= out.sale_us)


def purchase_customers(
    spec: LifecycleSpec, events: ir.Table, purchasers: ir.Table, as_of: datetime
) -> ir.Table:
    """Per purchaser: ``n`` purchase events in the range, ``t1``..``t{nth}`` (µs of the k-th),
    ``repeater`` (a 2nd purchase, within ``repeat_within`` of the 1st if set) and ``observed`` (his 1st
    purchase is at least ``repeat_within`` before ``as_of``; always true without a window)."""
    a = spec.after_sale
    p = events.filter(_buy(spec, events))
    p = p.select(customer=p.customer, ts=micros(p.timestamp), event=p.event)
    p = p.mutate(rn=ibis.row_number().over(group_by=p.customer, order_by=[p.ts, p.event]))
    aggs: dict[str, ir.Value] = {"n": p.count()}
    for k in range(1, a.nth + 1):
        aggs[f"t{k}"] = p.ts.min(where=p.rn == k - 1)
    per = p.group_by(p_customer=p.customer).aggregate(**aggs)
    j = purchasers.left_join(per, purchasers.customer == per.p_customer)
    n = j.n.coalesce(0)
    second = j.t2.notnull()
    if a.repeat_within is not None:
        second = second & (j.t2 - j.t1 <= a.repeat_within)
        observed = j.t1.notnull() & (j.t1 + a.repeat_within <= ibis.literal(micros_of(as_of), "int64"))
    else:
        observed = ibis.literal(True)
    cols: dict[str, ir.Value] = {"customer": j.customer, "n": n, "repeater": second, "observed": observed}
    for k in range(1, a.nth + 1):
        cols[f"t{k}"] = j[f"t{k}"]
    return j.select(**cols)


def purchase_summary(spec: LifecycleSpec, pc: ir.Table) -> ir.Table:
    aggs: dict[str, ir.Value] = {
        "all_purchasers": pc.count(),
        "purchasers": pc.observed.sum().coalesce(0),
        "repeaters": (pc.observed & pc.repeater).sum().coalesce(0),
        "purchases": pc.n.sum().coalesce(0),
    }
    for k in range(2, spec.after_sale.nth + 1):
        tk = pc[f"t{k}"]
        aggs[f"c{k}"] = tk.notnull().sum().coalesce(0)
        aggs[f"d{k}"] = ((tk - pc.t1).cast("float64") / (86400 * US)).quantile(0.5)
    return pc.aggregate(**aggs)


def remorse_summary(spec: LifecycleSpec, after: ir.Table) -> ir.Table:
    """Remorse events within ``remorse_within`` after a purchase (the latest at or before them)."""
    a = spec.after_sale
    buy = _buy(spec, after)
    t = after.filter(buy | after.event.isin(list(a.remorse_events)))
    t = t.mutate(kind=buy.ifelse(0, 1))
    w = ibis.window(group_by=t.customer, order_by=[t.ts, t.kind], rows=(None, 0))
    t = t.mutate(last_buy=(t.kind == 0).ifelse(t.ts, None).max().over(w))
    hit = (t.kind == 1) & t.last_buy.notnull() & (t.ts - t.last_buy <= a.remorse_within)
    t = t.mutate(hit=hit)
    return t.aggregate(
        events=t.hit.sum().coalesce(0),
        customers=t.customer.nunique(where=t.hit),
    )


def support_summary(spec: LifecycleSpec, after: ir.Table) -> ir.Table:
    """Each contact is resolved by the first resolved event at or after it."""
    a = spec.after_sale
    contact = after.event.isin(list(a.support_events))
    t = after.filter(contact | after.event.isin(list(a.resolved_events)))
    t = t.mutate(kind=contact.ifelse(0, 1))
    w = ibis.window(group_by=t.customer, order_by=[t.ts, t.kind], rows=(0, None))
    t = t.mutate(next_res=(t.kind == 1).ifelse(t.ts, None).min().over(w))
    c = t.filter(t.kind == 0)
    wait = (c.next_res - c.ts).cast("float64") / US
    return c.aggregate(
        contacts=c.count(),
        customers=c.customer.nunique(),
        resolved=c.next_res.notnull().sum().coalesce(0),
        median_s=wait.quantile(0.5),
    )


def gap_summary(spec: LifecycleSpec, after: ir.Table, pc: ir.Table) -> ir.Table:
    """Negative experience after the sale (within ``gap_within`` of it if set), recovery (a purchase
    after the first negative event) and the repeat rates with and without it (observed purchasers)."""
    a = spec.after_sale
    neg = after.event.isin(list(a.negative_events))
    if a.gap_within is not None:
        neg = neg & (after.ts - after.sale_us <= a.gap_within)
    buy = _buy(spec, after)
    per = after.group_by(g_customer=after.customer).aggregate(
        first_neg=after.ts.min(where=neg), last_buy=after.ts.max(where=buy)
    )
    j = pc.left_join(per, pc.customer == per.g_customer)
    had = j.first_neg.notnull()
    rec = had & j.last_buy.notnull() & (j.last_buy > j.first_neg)
    obs = j.observed
    return j.aggregate(
        negative=had.sum().coalesce(0),
        recovered=rec.sum().coalesce(0),
        obs_neg=(obs & had).sum().coalesce(0),
        rep_neg=(obs & had & j.repeater).sum().coalesce(0),
        obs_pos=(obs & ~had).sum().coalesce(0),
        rep_pos=(obs & ~had & j.repeater).sum().coalesce(0),
    )


def _offer(t: ir.Table) -> ir.StringValue:
    if "offer" in t.columns:
        return t.offer.cast("string").coalesce("(none)")
    return ibis.literal("(all)")


def offer_counts(spec: LifecycleSpec, after: ir.Table) -> ir.Table:
    """Per offer: customers sent it after their sale (``sent``), who redeemed it at or after their
    first sending (``redeemed``), and who bought within ``offer_within`` after it (``returned``)."""
    a = spec.after_sale
    s = after.filter(after.event.isin(list(a.offer_sent_events)))
    s = s.group_by(customer=s.customer, offer=_offer(s)).aggregate(sent_at=s.ts.min())
    r = after.filter(after.event.isin(list(a.offer_redeemed_events)))
    r = r.group_by(r_customer=r.customer, r_offer=_offer(r)).aggregate(last_red=r.ts.max())
    p = after.filter(_buy(spec, after))
    p = p.select(p_customer=p.customer, p_ts=p.ts)
    back = s.semi_join(
        p, [s.customer == p.p_customer, p.p_ts > s.sent_at, p.p_ts <= s.sent_at + a.offer_within]
    ).select("customer", "offer", returned=ibis.literal(1))
    j = s.left_join(r, [s.customer == r.r_customer, s.offer == r.r_offer])
    j = j.select("customer", "offer", redeemed=(j.last_red.notnull() & (j.last_red >= j.sent_at)))
    j = j.left_join(back, ["customer", "offer"])
    return j.group_by("offer").aggregate(
        sent=j.count(),
        redeemed=j.redeemed.sum().coalesce(0),
        returned=j.returned.notnull().sum().coalesce(0),
    )


def loyalty_summary(spec: LifecycleSpec, events: ir.Table, pc: ir.Table) -> ir.Table:
    """Observed purchasers by membership (a loyalty event anywhere in the range): counts, repeaters,
    and revenue per customer (sum and sum of squares over the range; no revenue counts as 0)."""
    a = spec.after_sale
    observed = pc.filter(pc.observed)
    # only the observed purchasers' events are grouped (not every customer's: at 10M events 2.4M
    # groups for ~0.1M purchasers)
    ev = events.semi_join(observed, events.customer == observed.customer)
    member = ev.event.isin(list(a.loyalty_events))
    aggs: dict[str, ir.Value] = {"member": member.any()}
    if "revenue" in ev.columns:
        aggs["revenue"] = ev.revenue.sum()
    per = ev.group_by(l_customer=ev.customer).aggregate(**aggs)
    j = observed.left_join(per, observed.customer == per.l_customer)
    rev = j.revenue.coalesce(0.0) if "revenue" in events.columns else ibis.literal(0.0)
    j = j.select(member=j.member.coalesce(False), repeater=j.repeater, rev=rev)
    return j.group_by("member").aggregate(
        n=j.count(),
        repeaters=j.repeater.sum().coalesce(0),
        rev=j.rev.sum().coalesce(0.0),
        rev_sq=(j.rev * j.rev).sum().coalesce(0.0),
    )


def after_sale_plan(
    spec: LifecycleSpec,
    events: ir.Table,
    customers: ir.Table,
    as_of: datetime,
    missing: Collection[str],
    kept: ir.Table | None = None,
) -> dict[str, ir.Table]:
    """The after-sale metrics as named expressions (``purchases``, ``remorse``, ``support``,
    ``experience_gap``, ``win_back``, ``loyalty``), each a small aggregate; a block in ``missing``
    (its events are not in the source: not measured) is left out. ``events``: the range's events;
    ``customers``: the stage table (``stage_customers``); ``kept``: ``purchase_customers`` of the
    same arguments, materialised by the caller (read by three blocks). The rows are read by
    ``model.lifecycle_assemble.assemble_after_sale``."""
    purchasers = buyers(spec, customers)
    pc = purchase_customers(spec, events, purchasers, as_of) if kept is None else kept
    after = after_events(spec, events, purchasers)
    plan: dict[str, ir.Table] = {"purchases": purchase_summary(spec, pc)}
    blocks: dict[str, Callable[[], ir.Table]] = {
        "remorse": lambda: remorse_summary(spec, after),
        "support": lambda: support_summary(spec, after),
        "experience_gap": lambda: gap_summary(spec, after, pc),
        "win_back": lambda: offer_counts(spec, after),
        "loyalty": lambda: loyalty_summary(spec, events, pc),
    }
    for name, build in blocks.items():
        if name not in missing:
            plan[name] = build()
    return plan
