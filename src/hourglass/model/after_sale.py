"""After-sale metrics (docs/semantics-lifecycle.md, "After the sale"): repeat purchases, buyer's
remorse, support, the experience gap, win-back offers and the loyalty programme. Built from the
engine's small aggregates; rates carry Wilson 95% intervals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hourglass.model.results import format_duration, format_percent
from hourglass.model.stats import mean_sd, ratio, two_proportion_p, welch_p, wilson

__all__ = ["AfterSale", "Loyalty", "OfferStat", "Purchases", "Rate", "Support"]

DAY_S = 86400.0


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class Rate:
    """k of n, rendered with its Wilson interval."""

    k: int
    n: int

    def to_dict(self, name: str) -> dict[str, Any]:
        lo, hi = wilson(self.k, self.n)
        return {name: ratio(self.k, self.n), f"{name}_low": lo, f"{name}_high": hi}


@dataclass(frozen=True)
class Purchases:
    purchasers: int  #: the denominator: purchasers (observed >= repeat_within, if set)
    repeaters: int
    purchases: int  #: purchase events of all purchasers
    all_purchasers: int
    nth_days: tuple[tuple[int, int, float | None], ...]  #: (n, customers with an n-th, median days)
    repeat_within: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "purchasers": self.purchasers,
            "repeaters": self.repeaters,
            **Rate(self.repeaters, self.purchasers).to_dict("repeat_rate"),
            "repeat_within": self.repeat_within,
            "purchases": self.purchases,
            "purchases_per_purchaser": ratio(self.purchases, self.all_purchasers),
            "days_to_nth_purchase": [{"n": n, "customers": c, "median_days": d} for n, c, d in self.nth_days],
        }


@dataclass(frozen=True)
class Support:
    contacts: int
    customers: int
    resolved: int
    median_resolve_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "contacts": self.contacts,
            "customers": self.customers,
            "resolved": self.resolved,
            **Rate(self.resolved, self.contacts).to_dict("resolved_share"),
            "median_time_to_resolve_s": self.median_resolve_s,
        }


@dataclass(frozen=True)
class OfferStat:
    offer: str | None
    sent: int
    redeemed: int
    returned: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "offer": self.offer,
            "sent": self.sent,
            "redeemed": self.redeemed,
            **Rate(self.redeemed, self.sent).to_dict("redeem_rate"),
            "returned": self.returned,
            **Rate(self.returned, self.sent).to_dict("return_rate"),
        }


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
        out: dict[str, Any] = {
            "members": self.members,
            "non_members": self.others,
            **Rate(self.member_repeaters, self.members).to_dict("member_repeat_rate"),
            **Rate(self.other_repeaters, self.others).to_dict("non_member_repeat_rate"),
            "repeat_rate_p_value": two_proportion_p(
                self.member_repeaters, self.members, self.other_repeaters, self.others
            ),
        }
        if self.has_revenue:
            out.update(
                member_revenue_per_customer=m_mean,
                non_member_revenue_per_customer=o_mean,
                revenue_p_value=welch_p(self.members, m_mean, m_sd, self.others, o_mean, o_sd),
            )
        return out


@dataclass(frozen=True)
class AfterSale:
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"purchases": self.purchases.to_dict()}
        if self.remorse is not None:
            out["remorse"] = {
                "purchasers": self.remorse.k,
                "events": self.remorse_events,
                "within": self.remorse_within,
                **self.remorse.to_dict("rate"),
            }
        if self.support is not None:
            out["support"] = self.support.to_dict()
        if self.negative is not None and self.recovered is not None:
            gap: dict[str, Any] = {"purchasers": self.negative.k, **self.negative.to_dict("share")}
            gap.update(recovered=self.recovered.k, **self.recovered.to_dict("recovery_rate"))
            if self.repeat_negative is not None and self.repeat_positive is not None:
                gap.update(self.repeat_negative.to_dict("repeat_rate_with_negative"))
                gap.update(self.repeat_positive.to_dict("repeat_rate_without_negative"))
                gap["repeat_rate_p_value"] = two_proportion_p(
                    self.repeat_negative.k,
                    self.repeat_negative.n,
                    self.repeat_positive.k,
                    self.repeat_positive.n,
                )
            out["experience_gap"] = gap
        if self.offers:
            out["win_back"] = [o.to_dict() for o in self.offers]
        if self.loyalty is not None:
            out["loyalty"] = self.loyalty.to_dict()
        return out

    def lines(self) -> list[str]:
        """Plain-text summary lines."""
        d = self.to_dict()
        p = d["purchases"]
        nth = ", ".join(
            f"{_ordinal(x['n'])} after {x['median_days']:.1f}d ({x['customers']})"
            for x in p["days_to_nth_purchase"]
            if x["median_days"] is not None
        )
        out = [
            f"repeat rate: {format_percent(p['repeat_rate'])} of {p['purchasers']} purchasers; "
            + ("-" if p["purchases_per_purchaser"] is None else f"{p['purchases_per_purchaser']:.2f}")
            + " purchases per purchaser"
            + (f"; {nth}" if nth else "")
        ]
        if "remorse" in d:
            out.append(f"buyer's remorse: {format_percent(d['remorse']['rate'])}")
        if "support" in d:
            s = d["support"]
            out.append(
                f"support: {s['contacts']} contacts, {format_percent(s['resolved_share'])} resolved, "
                f"median {format_duration(s['median_time_to_resolve_s'])}"
            )
        if "experience_gap" in d:
            g = d["experience_gap"]
            out.append(
                f"experience gap: {format_percent(g['share'])} had a negative experience; "
                f"{format_percent(g['recovery_rate'])} of them bought again"
            )
        for o in d.get("win_back", []):
            out.append(
                f"win-back {o['offer']}: {o['sent']} sent, {format_percent(o['redeem_rate'])} redeemed, "
                f"{format_percent(o['return_rate'])} bought again"
            )
        if "loyalty" in d:
            lo = d["loyalty"]
            pv = lo["repeat_rate_p_value"]
            out.append(
                f"loyalty: members repeat {format_percent(lo['member_repeat_rate'])}, others "
                f"{format_percent(lo['non_member_repeat_rate'])} (p={'-' if pv is None else f'{pv:.3g}'})"
            )
        return out
