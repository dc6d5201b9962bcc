"""The flywheel's headline for one group (docs/semantics-flywheel.md): the latest complete period's
ratios, the loop's share of new customers over the range, the whole range's K-factor and cycle time,
and the viral curve they imply (Skok/Reiss), each null with a reason when it cannot be measured."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from hourglass.model.stats import ratio, wilson

__all__ = ["Rows", "null", "summary", "viral_customers"]

Rows = Mapping[str, list[dict[str, Any]]]


def viral_customers(c0: float, k: float, t_days: float, cycle_days: float) -> float | None:
    """Skok/Reiss: C(t) = C0 (K^(t/ct + 1) - 1) / (K - 1); K = 1: C0 (t/ct + 1). None when K^x
    leaves the float range."""
    x = t_days / cycle_days + 1
    if abs(k - 1) < 1e-12:
        return c0 * x
    if k > 0 and x * math.log(k) > 700:
        return None
    return float(c0 * (k**x - 1) / (k - 1))


def null(row: dict[str, Any], key: str, reason: str) -> None:
    row[key] = None
    row[f"{key}_reason"] = reason


def summary(
    rows: Rows,
    g: Any,
    periods: list[dict[str, Any]],
    reasons: Mapping[str, str],
    unit: str,
    p_min: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    complete = [r for r in periods if r["complete"]]
    latest = (complete or periods)[-1] if periods else None
    out["latest_period"] = latest["period"] if latest else None
    for key in ("quick_ratio", "revenue_quick_ratio", "net_revenue_retention"):
        out[key] = latest.get(key) if latest else None
        if out[key] is None:
            out[f"{key}_reason"] = (latest or {}).get(f"{key}_reason", "no period")
    new = sum(r["new"] for r in periods)
    loop = sum((r.get("new_referred") or 0) + (r.get("new_word_of_mouth") or 0) for r in periods)
    if reasons.get("referrals") and reasons.get("word_of_mouth"):
        out["loop_share"], out["loop_share_reason"] = None, reasons["referrals"]
    elif new:
        out["loop_share"] = loop / new
        out["loop_share_low"], out["loop_share_high"] = wilson(loop, new)
    else:
        out["loop_share"], out["loop_share_reason"] = None, "no new customers"
    out["new_customers"] = new
    # the whole range's K-factor (= the lifecycle's) and cycle time, and the viral curve they imply
    why = reasons.get("sale") or reasons.get("referrals")
    k = ct = None
    if why:
        out["k_factor"] = out["cycle_time_median_s"] = None
        out["k_factor_reason"] = out["cycle_time_median_s_reason"] = why
    else:
        buyers = sum(r["purchasers"] for r in periods)
        ref = sum(r["referred_purchasers"] for r in periods)
        k = ratio(ref, buyers)
        out["purchasers"], out["referred_purchasers"], out["k_factor"] = buyers, ref, k
        if k is None:
            out["k_factor_reason"] = "no purchasers"
        else:
            out["k_factor_low"], out["k_factor_high"] = wilson(ref, buyers)
        cyc = next((r for r in rows.get("cycle_all", []) if r.get("g") == g), None)
        out["cycle_pairs"] = int(cyc["pairs"]) if cyc else 0
        ct = float(cyc["cycle_median_s"]) if cyc and cyc.get("cycle_median_s") is not None else None
        out["cycle_time_median_s"] = ct
        if ct is None:
            out["cycle_time_median_s_reason"] = "no referee of a purchasing referrer"
    c0 = periods[0]["new"] if periods else 0
    viral: dict[str, Any] = {"c0": c0, "k": k, "cycle_time_days": None if ct is None else ct / 86400}
    if why or k is None or ct is None or ct <= 0 or not periods:
        reason = why or (
            "no K-factor (no purchasers)"
            if k is None
            else "no cycle time (no referee of a purchasing referrer)"
            if ct is None
            else "the median cycle time is not positive (referees arrive before their referrer buys)"
        )
        viral["reason"] = reason
        for r in periods:
            null(r, "viral_customers", reason)
    else:
        end0 = datetime.fromisoformat(periods[0]["end"])
        for r in periods:
            t_days = (datetime.fromisoformat(r["end"]) - end0) / timedelta(days=1)
            value = viral_customers(c0, k, t_days, ct / 86400)
            if value is None:
                null(r, "viral_customers", "beyond the float range")
            else:
                r["viral_customers"] = value
    out["viral"] = viral
    return out
