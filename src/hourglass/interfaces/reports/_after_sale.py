"""After the sale, as stat tiles: repeat purchases, buyer's remorse, support, the experience gap,
win-back per offer and loyalty members against the others (docs/semantics-lifecycle.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._format import fmt_count, fmt_duration, fmt_pct
from ._parts import fmt_money, fmt_p, get_count, get_list, get_map, get_number, tile, tiles

__all__ = ["after_sale_html"]


def _interval(raw: Mapping[str, Any], key: str) -> str:
    low, high = get_number(raw, f"{key}_low"), get_number(raw, f"{key}_high")
    if low is None or high is None:
        return ""
    return f"95%: {low * 100:.1f}\u2013{high * 100:.1f}%"


def _purchases(p: Mapping[str, Any]) -> list[str]:
    out = [
        tile(
            "Repeat rate",
            fmt_pct(get_number(p, "repeat_rate")),
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
            tile(
                "Buyer's remorse",
                fmt_pct(get_number(remorse, "rate")),
                f"returned or cancelled within {within}" if within else "returned or cancelled",
                "warn",
            )
        )
    support = get_map(after, "support")
    if support:
        out.append(
            tile(
                "Support resolved",
                fmt_pct(get_number(support, "resolved_share")),
                f"of {fmt_count(get_count(support, 'contacts'))} contacts; median "
                f"{fmt_duration(get_number(support, 'median_time_to_resolve_s'))}",
            )
        )
    gap = get_map(after, "experience_gap")
    if gap:
        out.append(
            tile(
                "Experience gap",
                fmt_pct(get_number(gap, "share")),
                "of purchasers had a bad experience",
                "warn",
            )
        )
        out.append(
            tile(
                "Recovered",
                fmt_pct(get_number(gap, "recovery_rate")),
                "of them bought again afterwards",
            )
        )
    return out


def _win_back(after: Mapping[str, Any]) -> str:
    offers = get_list(after, "win_back")
    if not offers:
        return ""
    items = [
        tile(
            f"Win-back \u00b7 {o.get('offer') if o.get('offer') is not None else '(none)'}",
            fmt_pct(get_number(o, "return_rate")),
            f"came back of {fmt_count(get_count(o, 'sent'))} sent; "
            f"{fmt_pct(get_number(o, 'redeem_rate'))} redeemed",
        )
        for o in offers
    ]
    return "<h4>Win-back offers</h4>" + tiles(items)


def _loyalty(after: Mapping[str, Any]) -> str:
    loyalty = get_map(after, "loyalty")
    if not loyalty:
        return ""
    members, others = get_count(loyalty, "members"), get_count(loyalty, "non_members")
    m_rate, o_rate = get_number(loyalty, "member_repeat_rate"), get_number(loyalty, "non_member_repeat_rate")
    p_repeat = get_number(loyalty, "repeat_rate_p_value")
    items = [
        tile(
            "Members repeat",
            fmt_pct(m_rate),
            f"{fmt_count(members)} members \u00b7 {_interval(loyalty, 'member_repeat_rate')}",
            "good",
        ),
        tile(
            "Others repeat",
            fmt_pct(o_rate),
            f"{fmt_count(others)} non-members \u00b7 {_interval(loyalty, 'non_member_repeat_rate')}",
        ),
        tile(
            "Difference",
            "significant" if p_repeat is not None and p_repeat < 0.05 else "not significant",
            f"two-proportion test, {fmt_p(p_repeat)}",
        ),
    ]
    if "member_revenue_per_customer" in loyalty:
        items.append(
            tile(
                "Revenue per member",
                fmt_money(get_number(loyalty, "member_revenue_per_customer")),
                f"others {fmt_money(get_number(loyalty, 'non_member_revenue_per_customer'))}; "
                f"{fmt_p(get_number(loyalty, 'revenue_p_value'))}",
            )
        )
    return (
        "<h4>Loyalty programme: members against the others</h4>"
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
