"""After-sale metrics (docs/semantics-lifecycle.md, "After the sale"): repeat purchases, buyer's
remorse, support, the experience gap, win-back offers and the loyalty programme. Built from the
engine's small aggregates; rates carry Wilson 95% intervals.

Not measured is not zero (docs/adr/0006-not-measured.md): a block whose events the source does not
have is ``null`` with a sibling ``<block>_reason`` (:func:`missing_blocks` decides from the source's
event names), and a rate over nobody is ``null`` with ``<rate>_reason``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from hourglass.model.lifecycle import AfterSaleSpec
from hourglass.model.results import format_duration, format_percent
from hourglass.model.stats import mean_sd, ratio, two_proportion_p, welch_p, wilson

__all__ = [
    "BLOCKS",
    "AfterSale",
    "Loyalty",
    "OfferStat",
    "Purchases",
    "Rate",
    "Support",
    "after_sale_names",
    "missing_blocks",
    "not_measured",
]

DAY_S = 86400.0
#: the after-sale blocks that need events of their own: block -> (setting, what the events are)
BLOCKS: dict[str, tuple[str, str]] = {
    "remorse": ("remorse_events", "return or cancellation"),
    "support": ("support_events", "support contact"),
    "experience_gap": ("negative_events", "negative experience"),
    "win_back": ("offer_sent_events", "offer sent"),
    "loyalty": ("loyalty_events", "loyalty"),
}
_LABELS = {
    "remorse": "buyer's remorse",
    "support": "support",
    "experience_gap": "experience gap",
    "win_back": "win-back",
    "loyalty": "loyalty",
}


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _events_reason(setting: str, names: tuple[str, ...], what: str, where: str) -> str:
    if not names:
        return f"no {what} events are set: name yours with --set {setting}=EVENT"
    listed = ", ".join(names)
    return f"no {what} events ({listed}) {where}: name yours with --set {setting}=EVENT"


def after_sale_names(spec: AfterSaleSpec) -> tuple[str, ...]:
    """Every event name an after-sale metric needs (to ask the source which it has)."""
    names = [n for key in AfterSaleSpec._LISTS for n in getattr(spec, key)]
    return tuple(dict.fromkeys(names))


def missing_blocks(
    spec: AfterSaleSpec, present: Collection[str], *, where: str = "in the source"
) -> dict[str, str]:
    """Block (or sub-metric: ``support.resolved``, ``win_back.redeemed``) -> why it is not measured:
    none of its events is among the source's event names ``present``."""
    out: dict[str, str] = {}
    for block, (setting, what) in BLOCKS.items():
        names: tuple[str, ...] = getattr(spec, setting)
        if not any(n in present for n in names):
            out[block] = _events_reason(setting, names, what, where)
    subs = (("support.resolved", "resolved_events", "support resolved"),
            ("win_back.redeemed", "offer_redeemed_events", "offer redeemed"))  # fmt: skip
    for key, setting, what in subs:
        names = getattr(spec, setting)
        if not any(n in present for n in names):
            out[key] = _events_reason(setting, names, what, where)
    return out


def not_measured(reason: str | None) -> str:
    """The table's text for a metric without a value."""
    return "not measured" + (f" ({reason})" if reason else "")


@dataclass(frozen=True)
class Rate:
    """k of n, rendered with its Wilson interval; over nobody (n = 0) the rate is null and
    ``<name>_reason`` says who was missing (``nobody``)."""

    k: int
    n: int
    nobody: str = "nobody to divide by"

    def to_dict(self, name: str) -> dict[str, Any]:
        lo, hi = wilson(self.k, self.n)
        out: dict[str, Any] = {name: ratio(self.k, self.n), f"{name}_low": lo, f"{name}_high": hi}
        if self.n == 0:
            out[f"{name}_reason"] = self.nobody
        return out


def _p_value(name: str, k1: int, n1: int, k2: int, n2: int, groups: str) -> dict[str, Any]:
    p = two_proportion_p(k1, n1, k2, n2)
    out: dict[str, Any] = {name: p}
    if p is None:
        out[f"{name}_reason"] = (
            f"a group is empty ({groups})"
            if n1 == 0 or n2 == 0
            else "both groups have the same all-or-none rate"
        )
    return out


@dataclass(frozen=True)
class Purchases:
    purchasers: int  #: the denominator: purchasers (observed >= repeat_within, if set)
    repeaters: int
    purchases: int  #: purchase events of all purchasers
    all_purchasers: int
    nth_days: tuple[tuple[int, int, float | None], ...]  #: (n, customers with an n-th, median days)
    repeat_within: str | None = None

    def to_dict(self) -> dict[str, Any]:
        nobody = (
            "no purchasers"
            if self.all_purchasers == 0
            else f"no purchaser has been observed for repeat_within ({self.repeat_within}) yet"
        )
        days = []
        for n, c, d in self.nth_days:
            row: dict[str, Any] = {"n": n, "customers": c, "median_days": d}
            if d is None:
                row["median_days_reason"] = f"nobody made a {_ordinal(n)} purchase"
            days.append(row)
        return {
            "purchasers": self.purchasers,
            "repeaters": self.repeaters,
            **Rate(self.repeaters, self.purchasers, nobody).to_dict("repeat_rate"),
            "repeat_within": self.repeat_within,
            "purchases": self.purchases,
            "purchases_per_purchaser": ratio(self.purchases, self.all_purchasers),
            "days_to_nth_purchase": days,
        }


@dataclass(frozen=True)
class Support:
    contacts: int
    customers: int
    resolved: int
    median_resolve_s: float | None
    resolved_missing: str | None = None  #: why resolutions are not measured (no resolved events)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"contacts": self.contacts, "customers": self.customers}
        if self.resolved_missing is not None:
            out.update(resolved=None, resolved_reason=self.resolved_missing)
            out.update(resolved_share=None, resolved_share_low=None, resolved_share_high=None)
            out["resolved_share_reason"] = self.resolved_missing
            out.update(median_time_to_resolve_s=None, median_time_to_resolve_s_reason=self.resolved_missing)
            return out
        out["resolved"] = self.resolved
        out.update(
            Rate(self.resolved, self.contacts, "no support contacts after a sale").to_dict("resolved_share")
        )
        out["median_time_to_resolve_s"] = self.median_resolve_s
        if self.median_resolve_s is None:
            out["median_time_to_resolve_s_reason"] = "no contact was resolved"
        return out


@dataclass(frozen=True)
class OfferStat:
    offer: str | None
    sent: int
    redeemed: int
    returned: int
    redeemed_missing: str | None = None  #: why redemptions are not measured (no redeemed events)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"offer": self.offer, "sent": self.sent}
        if self.redeemed_missing is None:
            out["redeemed"] = self.redeemed
            out.update(Rate(self.redeemed, self.sent).to_dict("redeem_rate"))
        else:
            out.update(redeemed=None, redeemed_reason=self.redeemed_missing)
            out.update(redeem_rate=None, redeem_rate_low=None, redeem_rate_high=None)
            out["redeem_rate_reason"] = self.redeemed_missing
        out["returned"] = self.returned
        out.update(Rate(self.returned, self.sent).to_dict("return_rate"))
        return out


@dataclass(frozen=True)
class Loyalty:
    """Purchasers who are members (any loyalty event in the range) against the others."""

    members: int
    member_repeaters: int
    member_revenue: float
    member_revenue_sq: float
    others: int
    other_repeaters: int
    other_revenue: float
    other_revenue_sq: float
    has_revenue: bool = True

    def to_dict(self) -> dict[str, Any]:
        m_mean, m_sd = mean_sd(self.members, self.member_revenue, self.member_revenue_sq)
        o_mean, o_sd = mean_sd(self.others, self.other_revenue, self.other_revenue_sq)
        groups = f"{self.members} members, {self.others} non-members"
        out: dict[str, Any] = {
            "members": self.members,
            "non_members": self.others,
            **Rate(self.member_repeaters, self.members, "no member among the purchasers").to_dict(
                "member_repeat_rate"
            ),
            **Rate(self.other_repeaters, self.others, "every purchaser is a member").to_dict(
                "non_member_repeat_rate"
            ),
            **_p_value(
                "repeat_rate_p_value",
                self.member_repeaters,
                self.members,
                self.other_repeaters,
                self.others,
                groups,
            ),
        }
        if self.has_revenue:
            p = welch_p(self.members, m_mean, m_sd, self.others, o_mean, o_sd)
            out.update(
                member_revenue_per_customer=m_mean,
                non_member_revenue_per_customer=o_mean,
                revenue_p_value=p,
            )
            if m_mean is None:
                out["member_revenue_per_customer_reason"] = "no member among the purchasers"
            if o_mean is None:
                out["non_member_revenue_per_customer_reason"] = "every purchaser is a member"
            if p is None:
                out["revenue_p_value_reason"] = f"too few customers or no spread ({groups})"
        else:
            why = "no revenue column: map one with --revenue-col COLUMN"
            for key in ("member_revenue_per_customer", "non_member_revenue_per_customer", "revenue_p_value"):
                out.update({key: None, f"{key}_reason": why})
        return out


@dataclass(frozen=True)
class AfterSale:
    """``missing``: block -> why it is not measured (:func:`missing_blocks`); such a block is null."""

    purchases: Purchases
    remorse: Rate | None = None  #: purchasers with a remorse event within the window / purchasers
    remorse_events: int = 0
    remorse_within: str | None = None
    support: Support | None = None
    negative: Rate | None = None  #: purchasers with a negative experience / purchasers
    recovered: Rate | None = None  #: of those, bought again after it
    repeat_negative: Rate | None = None  #: repeat rate of purchasers with a negative experience
    repeat_positive: Rate | None = None  #: and without
    offers: tuple[OfferStat, ...] = ()
    loyalty: Loyalty | None = None
    missing: Mapping[str, str] = field(default_factory=dict)

    def _gap(self) -> dict[str, Any] | None:
        if self.negative is None or self.recovered is None:
            return None
        gap: dict[str, Any] = {"purchasers": self.negative.k, **self.negative.to_dict("share")}
        gap.update(recovered=self.recovered.k, **self.recovered.to_dict("recovery_rate"))
        if self.repeat_negative is not None and self.repeat_positive is not None:
            gap.update(self.repeat_negative.to_dict("repeat_rate_with_negative"))
            gap.update(self.repeat_positive.to_dict("repeat_rate_without_negative"))
            gap.update(
                _p_value(
                    "repeat_rate_p_value",
                    self.repeat_negative.k,
                    self.repeat_negative.n,
                    self.repeat_positive.k,
                    self.repeat_positive.n,
                    f"{self.repeat_negative.n} with, {self.repeat_positive.n} without a negative experience",
                )
            )
        return gap

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"purchases": self.purchases.to_dict()}
        values: dict[str, Any] = {
            "remorse": None
            if self.remorse is None
            else {
                "purchasers": self.remorse.k,
                "events": self.remorse_events,
                "within": self.remorse_within,
                **self.remorse.to_dict("rate"),
            },
            "support": None if self.support is None else self.support.to_dict(),
            "experience_gap": self._gap(),
            "win_back": [o.to_dict() for o in self.offers] if "win_back" not in self.missing else None,
            "loyalty": None if self.loyalty is None else self.loyalty.to_dict(),
        }
        for block, value in values.items():
            out[block] = value
            if value is None:
                out[f"{block}_reason"] = self.missing.get(block, "not computed")
        return out

    def lines(self) -> list[str]:
        """Plain-text summary lines ("not measured (why)" for what the data cannot give)."""
        d = self.to_dict()
        p = d["purchases"]
        nth = ", ".join(
            f"{_ordinal(x['n'])} after {x['median_days']:.1f}d ({x['customers']})"
            for x in p["days_to_nth_purchase"]
            if x["median_days"] is not None
        )
        repeat = (
            not_measured(p.get("repeat_rate_reason"))
            if p["repeat_rate"] is None
            else format_percent(p["repeat_rate"])
        )
        out = [
            f"repeat rate: {repeat} of {p['purchasers']} purchasers; "
            + ("-" if p["purchases_per_purchaser"] is None else f"{p['purchases_per_purchaser']:.2f}")
            + " purchases per purchaser"
            + (f"; {nth}" if nth else "")
        ]
        for block in BLOCKS:
            if d[block] is None:
                out.append(f"{_LABELS[block]}: {not_measured(d[f'{block}_reason'])}")
                continue
            out.extend(self._block_lines(block, d[block]))
        return out

    @staticmethod
    def _rate(x: dict[str, Any], key: str) -> str:
        value = x.get(key)
        return not_measured(x.get(f"{key}_reason")) if value is None else format_percent(value)

    def _block_lines(self, block: str, x: Any) -> list[str]:
        r = self._rate
        if block == "remorse":
            return [f"buyer's remorse: {r(x, 'rate')} within {x['within']}"]
        if block == "support":
            median = x.get("median_time_to_resolve_s")
            return [
                f"support: {x['contacts']} contacts, {r(x, 'resolved_share')} resolved"
                + ("" if median is None else f", median {format_duration(median)}")
            ]
        if block == "experience_gap":
            return [
                f"experience gap: {r(x, 'share')} had a negative experience; "
                f"{r(x, 'recovery_rate')} of them bought again"
            ]
        if block == "win_back":
            if not x:
                return ["win-back: no offer was sent to a purchaser after his sale"]
            return [
                f"win-back {o['offer']}: {o['sent']} sent, {r(o, 'redeem_rate')} redeemed, "
                f"{r(o, 'return_rate')} bought again"
                for o in x
            ]
        pv = x["repeat_rate_p_value"]
        p = f"p={pv:.3g}" if pv is not None else f"no test: {x.get('repeat_rate_p_value_reason')}"
        return [
            f"loyalty: {x['members']} members repeat {r(x, 'member_repeat_rate')}, "
            f"{x['non_members']} others {r(x, 'non_member_repeat_rate')} ({p})"
        ]
