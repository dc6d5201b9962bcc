"""After the sale, as stat tiles: repeat purchases, buyer's remorse, support, the experience gap,
win-back per offer and loyalty members against the others (docs/semantics-lifecycle.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._format import fmt_count, fmt_duration, fmt_pct
from ._parts import (
    fmt_money,
    fmt_p,
    get_count,
    get_list,
    get_map,
    get_number,
    na_tile,
    reason_of,
    tile,
    tiles,
)

__all__ = ["after_sale_html"]


def _interval(raw: Mapping[str, Any], key: str) -> str:
    low, high = get_number(raw, f"{key}_low"), get_number(raw, f"{key}_high")
    if low is None or high is None:
        return ""
    return f"95%: {low * 100:.1f}\u2013{high * 100:.1f}%"


def _rate_tile(raw: Mapping[str, Any], key: str, label: str, sub: str, extra: str = "") -> str:
    """A rate's tile, or a grey "not measured" tile with its reason when it is null."""
    value = get_number(raw, key)
    if value is None:
        return na_tile(label, reason_of(raw, key) or "no customers to divide by")
    return tile(label, fmt_pct(value), sub, extra)


def _purchases(p: Mapping[str, Any]) -> list[str]:
    out = [
        _rate_tile(
            p,
            "repeat_rate",
            "Repeat rate",
            f"{fmt_count(get_count(p, 'repeaters'))} of {fmt_count(get_count(p, 'purchasers'))} purchasers",
        )
    ]
    per = get_number(p, "purchases_per_purchaser")
    if per is not None:
        out.append(
            tile("Purchases per purchaser", f"{per:.2f}", f"{fmt_count(get_count(p, 'purchases'))} purchases")
        )
    for nth in get_list(p, "days_to_nth_purchase"):
        days, n = get_number(nth, "median_days"), get_count(nth, "n")
        if days is not None and n is not None:
            out.append(
                tile(
                    f"Days to purchase {n}",
                    f"{days:.1f} d",
                    f"median, {fmt_count(get_count(nth, 'customers'))} customers",
                )
            )
    return out


def _remorse_support(after: Mapping[str, Any]) -> list[str]:
    out = []
    remorse = get_map(after, "remorse")
    if remorse:
        within = remorse.get("within")
        out.append(
            _rate_tile(
                remorse,
                "rate",
                "Buyer's remorse",
                f"returned or cancelled within {within}" if within else "returned or cancelled",
                "warn",
            )
        )
    elif "remorse_reason" in after:
        out.append(na_tile("Buyer's remorse", reason_of(after, "remorse")))
    support = get_map(after, "support")
    if support:
        median = get_number(support, "median_time_to_resolve_s")
        out.append(
            _rate_tile(
                support,
                "resolved_share",
                "Support resolved",
                f"of {fmt_count(get_count(support, 'contacts'))} contacts"
                + ("" if median is None else f"; median {fmt_duration(median)}"),
            )
        )
    elif "support_reason" in after:
        out.append(na_tile("Support", reason_of(after, "support")))
    gap = get_map(after, "experience_gap")
    if gap:
        out.append(_rate_tile(gap, "share", "Experience gap", "of purchasers had a bad experience", "warn"))
        out.append(_rate_tile(gap, "recovery_rate", "Recovered", "of them bought again afterwards"))
    elif "experience_gap_reason" in after:
        out.append(na_tile("Experience gap", reason_of(after, "experience_gap")))
    return out


def _win_back(after: Mapping[str, Any]) -> str:
    if after.get("win_back") is None and "win_back_reason" in after:
        return "<h4>Win-back offers</h4>" + tiles([na_tile("Win-back", reason_of(after, "win_back"))])
    offers = get_list(after, "win_back")
    if not offers:
        return ""
    items = []
    for o in offers:
        name = o.get("offer") if o.get("offer") is not None else "(none)"
        redeemed = get_number(o, "redeem_rate")
        redeem = "redemptions not measured" if redeemed is None else f"{fmt_pct(redeemed)} redeemed"
        items.append(
            _rate_tile(
                o,
                "return_rate",
                f"Win-back \u00b7 {name}",
                f"came back of {fmt_count(get_count(o, 'sent'))} sent; {redeem}",
            )
        )
    return "<h4>Win-back offers</h4>" + tiles(items)


def _difference(loyalty: Mapping[str, Any]) -> str:
    p_repeat = get_number(loyalty, "repeat_rate_p_value")
    if p_repeat is None:
        return na_tile("Difference", reason_of(loyalty, "repeat_rate_p_value") or "the test is undefined")
    return tile(
        "Difference",
        "significant" if p_repeat < 0.05 else "not significant",
        f"two-proportion test, {fmt_p(p_repeat)}",
    )


def _loyalty(after: Mapping[str, Any]) -> str:
    head = "<h4>Loyalty programme: members against the others</h4>"
    if after.get("loyalty") is None and "loyalty_reason" in after:
        return head + tiles([na_tile("Loyalty", reason_of(after, "loyalty"))])
    loyalty = get_map(after, "loyalty")
    if not loyalty:
        return ""
    members, others = get_count(loyalty, "members"), get_count(loyalty, "non_members")
    items = [
        _rate_tile(
            loyalty,
            "member_repeat_rate",
            "Members repeat",
            f"{fmt_count(members)} members \u00b7 {_interval(loyalty, 'member_repeat_rate')}",
            "good",
        ),
        _rate_tile(
            loyalty,
            "non_member_repeat_rate",
            "Others repeat",
            f"{fmt_count(others)} non-members \u00b7 {_interval(loyalty, 'non_member_repeat_rate')}",
        ),
        _difference(loyalty),
    ]
    if get_number(loyalty, "member_revenue_per_customer") is not None:
        items.append(
            tile(
                "Revenue per member",
                fmt_money(get_number(loyalty, "member_revenue_per_customer")),
                f"others {fmt_money(get_number(loyalty, 'non_member_revenue_per_customer'))}; "
                f"{fmt_p(get_number(loyalty, 'revenue_p_value'))}",
            )
        )
    elif "member_revenue_per_customer_reason" in loyalty:
        items.append(na_tile("Revenue per member", reason_of(loyalty, "member_revenue_per_customer")))
    return (
        head
        + tiles(items)
        + '<p class="note">Membership is observed, not assigned: members may differ from the others '
        "in ways that also make them buy again.</p>"
    )


def after_sale_html(after: Mapping[str, Any]) -> str:
    """The after-sale block of the hourglass section."""
    purchases = get_map(after, "purchases")
    body = [
        "<h3>After the sale</h3>",
        tiles(_purchases(purchases) if purchases else []),
        tiles(_remorse_support(after)),
        _win_back(after),
        _loyalty(after),
    ]
    return f'<div class="after-sale">{"".join(b for b in body if b)}</div>'
