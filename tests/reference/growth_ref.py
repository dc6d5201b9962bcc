"""Reference implementation (the oracle) of the flywheel's growth accounting defined in
docs/semantics-flywheel.md. Plain Python, written to be read next to the definitions, sharing no code
with ``src/hourglass`` (only the other references' period starts, referrer choice and step matching).

Input rows are dicts ``{"customer", "event", "timestamp", **properties}`` (``journeys.rows``). The
output is one dict per period (the grid from the first to the last period with an event) with the
numbers of ``FlywheelResult.to_dict()["periods"]`` that do not depend on the viral curve.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from reference.funnel_ref import Step, is_missing, step_matches
from reference.lifecycle_loop_ref import chosen_referrers, first_touch, in_range, period_label, period_start

Rows = list[dict[str, Any]]


def next_start(start: datetime, unit: str) -> datetime:
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    m = start.month - 1 + months
    return datetime(start.year + m // 12, m % 12 + 1, 1)


def growth(
    rows: Rows,
    *,
    unit: str = "month",
    activity: Step | None = None,
    new: str = "first-activity",
    sale: Step | None = None,
    purchase: Step | None = None,
    word_of_mouth: Step | None = None,
    paid_channels: set[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    rows = in_range(rows, since, until)
    if not rows:
        return []
    customers = sorted({r["customer"] for r in rows})
    evs: dict[str, Rows] = defaultdict(list)
    for r in rows:
        evs[r["customer"]].append(r)
    # the grid: every period from the first to the last one with an event
    grid = [period_start(min(r["timestamp"] for r in rows), unit)]
    last = period_start(max(r["timestamp"] for r in rows), unit)
    while grid[-1] < last:
        grid.append(next_start(grid[-1], unit))
    pos = {p: i for i, p in enumerate(grid)}

    def counted(r: dict[str, Any]) -> bool:
        return activity is None or step_matches(activity, r)

    active: list[set[str]] = [set() for _ in grid]  # customers active per period
    revenue: list[dict[str, float]] = [defaultdict(float) for _ in grid]  # customer -> revenue
    for r in rows:
        i = pos[period_start(r["timestamp"], unit)]
        if counted(r):
            active[i].add(r["customer"])
        if not is_missing(r.get("revenue")):
            revenue[i][r["customer"]] += float(r["revenue"])
    has_rev = any("revenue" in r for r in rows)

    # when is each customer new
    new_at: dict[str, int] = {}
    for c in customers:
        act = [i for i in range(len(grid)) if c in active[i]]
        if not act:
            continue
        seen = pos[period_start(min(e["timestamp"] for e in evs[c]), unit)]
        if new == "first-activity":
            new_at[c] = act[0]
        elif act[0] == seen:
            new_at[c] = seen

    referrer, _ = chosen_referrers(rows)
    referrer = {k: v for k, v in referrer.items() if v in evs}  # a referrer must be a customer of the log
    first_purchase = {}
    for c in customers:
        buys = [e["timestamp"] for e in evs[c] if sale is not None and step_matches(sale, e)]
        if buys:
            first_purchase[c] = min(buys)

    out: list[dict[str, Any]] = []
    for i, start in enumerate(grid):
        prev = active[i - 1] if i else set()
        now = active[i]
        row: dict[str, Any] = {"period": period_label(start, unit), "active": len(now)}
        row["new"] = sum(1 for c in now if new_at.get(c) == i)
        row["retained"] = len(now & prev)
        row["resurrected"] = len(now) - row["new"] - row["retained"]
        row["churned"] = len(prev - now)
        row["quick_ratio"] = (row["new"] + row["resurrected"]) / row["churned"] if row["churned"] else None
        if has_rev:
            cur = {c: v for c, v in revenue[i].items() if v != 0}
            before = {c: v for c, v in revenue[i - 1].items() if v != 0} if i else {}
            first_rev = {}
            for c in customers:
                ps = [j for j in range(len(grid)) if revenue[j].get(c, 0) != 0]
                if ps:
                    first_rev[c] = ps[0]
            parts = dict.fromkeys(
                ("new", "retained", "expansion", "contraction", "resurrected", "churned"), 0.0
            )
            for c, v in cur.items():
                if first_rev[c] == i:
                    parts["new"] += v
                elif c in before:
                    parts["retained"] += min(v, before[c])
                    parts["expansion"] += max(v - before[c], 0.0)
                    parts["contraction"] += max(before[c] - v, 0.0)
                else:
                    parts["resurrected"] += v
            parts["churned"] = sum(v for c, v in before.items() if c not in cur)
            row["revenue"] = sum(revenue[i].values())
            row.update({f"{k}_revenue": v for k, v in parts.items()})
            total_before = sum(before.values())
            row["net_revenue_retention"] = (
                (parts["retained"] + parts["expansion"]) / total_before if total_before else None
            )
            if purchase is not None:
                fp, rp = 0.0, 0.0
                for c in customers:
                    buys = [e for e in evs[c] if step_matches(purchase, e)]
                    if not buys:
                        continue
                    t0 = min(e["timestamp"] for e in buys)
                    for e in buys:
                        if pos[period_start(e["timestamp"], unit)] == i and not is_missing(e.get("revenue")):
                            if e["timestamp"] == t0:
                                fp += float(e["revenue"])
                            else:
                                rp += float(e["revenue"])
                row["first_purchase_revenue"], row["repeat_revenue"] = fp, rp
        # the loop's split of the period's new customers
        newcomers = [c for c in customers if new_at.get(c) == i]
        ref = [c for c in newcomers if c in referrer]
        wom = [
            c
            for c in newcomers
            if c not in referrer
            and word_of_mouth is not None
            and any(
                step_matches(word_of_mouth, e)
                for e in evs[c]
                if e["timestamp"] == min(x["timestamp"] for x in evs[c])
            )
        ]
        rest = [c for c in newcomers if c not in referrer and c not in wom]
        row["new_referred"], row["new_word_of_mouth"] = len(ref), len(wom)
        row["new_paid_or_organic"] = len(rest)
        if paid_channels is not None:
            row["new_paid"] = sum(1 for c in rest if first_touch(evs[c], "channel") in paid_channels)
            row["new_organic"] = len(rest) - row["new_paid"]
        if sale is not None:
            buyers = [c for c, ts in first_purchase.items() if period_start(ts, unit) == start]
            row["purchasers"] = len(buyers)
            row["referred_purchasers"] = sum(1 for c in buyers if c in referrer)
            cycles = [
                (min(e["timestamp"] for e in evs[c]) - first_purchase[referrer[c]]).total_seconds()
                for c in customers
                if c in referrer
                and referrer[c] in first_purchase
                and period_start(min(e["timestamp"] for e in evs[c]), unit) == start
            ]
            row["cycle_pairs"] = len(cycles)
            row["cycle_time_median_s"] = statistics.median(cycles) if cycles else None
        out.append(row)
    return out
