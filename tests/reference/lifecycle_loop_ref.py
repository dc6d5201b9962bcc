"""Reference implementation (the oracle) of the referral loop and the channel analysis defined in
docs/semantics-referrals.md. Plain Python, written to be read next to the definitions, sharing no
code with ``src/hourglass`` (only the funnel reference's step matching and statistics).

Input rows are dicts ``{"customer", "event", "timestamp", **properties}`` (``journeys.rows``); steps
are funnel-reference steps (``funnel_ref.make_step``). Outputs are shaped like the results'
``to_dict()`` without ``meta`` and ``warnings``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from reference.funnel_ref import Step, glob_matches, is_missing, quantile, ratio_fields, step_matches

Rows = list[dict[str, Any]]


def in_range(rows: Rows, since: datetime | None, until: datetime | None) -> Rows:
    return [
        r
        for r in rows
        if (since is None or r["timestamp"] >= since) and (until is None or r["timestamp"] < until)
    ]


def by_customer(rows: Rows) -> dict[str, Rows]:
    out: dict[str, Rows] = defaultdict(list)
    for r in rows:
        out[r["customer"]].append(r)
    return out


def seconds(a: datetime, b: datetime) -> float:
    return (a - b) / timedelta(microseconds=1) / 1_000_000


def period_start(ts: datetime, unit: str) -> datetime:
    day = datetime(ts.year, ts.month, ts.day)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return datetime(ts.year, ts.month, 1)
    if unit == "quarter":
        return datetime(ts.year, 3 * ((ts.month - 1) // 3) + 1, 1)
    return datetime(ts.year, 1, 1)


def period_label(start: datetime, unit: str) -> str:
    if unit == "day":
        return start.strftime("%Y-%m-%d")
    if unit == "week":
        y, w, _ = start.isocalendar()
        return f"{y}-W{w:02d}"
    if unit == "month":
        return start.strftime("%Y-%m")
    if unit == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def chosen_referrers(
    rows: Rows, referral_event: str | None = None, referee_column: str | None = None
) -> tuple[dict[str, str], set[str]]:
    """(customer -> his chosen referrer value, customers who name themselves). The chosen value is
    the one of the earliest claim (timestamp, then referrer value) that does not name himself."""
    claims: list[tuple[str, str, datetime]] = []  # (referee, referrer, ts)
    for r in rows:
        if referral_event is None:
            if not is_missing(r.get("referrer")):
                claims.append((r["customer"], str(r["referrer"]), r["timestamp"]))
        elif r["event"] == referral_event and not is_missing(r.get(referee_column)):
            value = str(r[referee_column]).strip()
            if value:
                claims.append((value, r["customer"], r["timestamp"]))
    selfs = {a for a, b, _ in claims if a == b}
    best: dict[str, tuple[datetime, str]] = {}
    for referee, referrer, ts in claims:
        if referee == referrer:
            continue
        if referee not in best or (ts, referrer) < best[referee]:
            best[referee] = (ts, referrer)
    return {k: v[1] for k, v in best.items()}, selfs


def generation_of(customer: str, referrer: dict[str, str], max_depth: int) -> tuple[int | None, bool]:
    """Follow the links: (number of links to a customer with no referrer, or None if none is met
    within max_depth links; whether the customer meets himself within max_depth links)."""
    node, links, cycle, generation = customer, 0, False, None
    while links < max_depth:
        node = referrer[node]
        links += 1
        if node == customer:
            cycle = True
        if node not in referrer and generation is None:
            generation = links
            break
    return generation, cycle


def referrals(
    rows: Rows,
    sale: Step,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    referral_event: str | None = None,
    referee_column: str | None = None,
    period: str = "month",
    max_depth: int = 10,
    top: int = 10,
    has_revenue: bool = True,
) -> dict[str, Any]:
    rows = in_range(rows, since, until)
    cust = by_customer(rows)
    raw, selfs = chosen_referrers(rows, referral_event, referee_column)
    raw = {c: v for c, v in raw.items() if c in cust}  # a named referee must be a customer of the log
    referrer = {c: v for c, v in raw.items() if v in cust}
    first_purchase: dict[str, datetime] = {}
    revenue: dict[str, float] = {}
    for c, evs in cust.items():
        buys = [e["timestamp"] for e in evs if step_matches(sale, e)]
        if buys:
            first_purchase[c] = min(buys)
        revenue[c] = sum(e["revenue"] for e in evs if not is_missing(e.get("revenue")))
    purchasers = set(first_purchase)
    referees = set(referrer)
    n_referees = Counter(referrer.values())
    referred_purchasers = referees & purchasers
    deltas = [
        seconds(first_purchase[c], first_purchase[referrer[c]])
        for c in referred_purchasers
        if referrer[c] in purchasers
    ]
    gens: Counter[int] = Counter()
    beyond = cycles = 0
    for c in referees:
        g, cyc = generation_of(c, referrer, max_depth)
        if g is None:
            beyond += 1
            cycles += cyc
        else:
            gens[g] += 1
    generations = [(0, len(cust) - len(referees))]
    generations += [(g, gens[g]) for g in range(1, max(gens, default=0) + 1)]
    dist = Counter(n_referees.get(c, 0) for c in cust)
    periods: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for c, evs in cust.items():
        p = period_start(min(e["timestamp"] for e in evs), period)
        periods[p][0] += 1
        periods[p][1] += c in referees
    total_rev = sum(revenue.values())
    ref_rev = sum(revenue[c] for c in referees)
    other_rev = total_rev - ref_rev
    others = len(cust) - len(referees)
    ranked = sorted(
        n_referees,
        key=lambda r: (-n_referees[r], -sum(1 for c in referred_purchasers if referrer[c] == r), r),
    )
    referring = {c for c in purchasers if n_referees.get(c, 0) > 0}
    return {
        "customers": len(cust),
        "purchasers": len(purchasers),
        "referees": len(referees),
        "referred_purchasers": len(referred_purchasers),
        **ratio_fields("k_factor", len(referred_purchasers), len(purchasers)),
        **ratio_fields("referral_conversion", len(referred_purchasers), len(referees)),
        "referrers": len(n_referees),
        "referees_per_customer": len(referees) / len(cust) if cust else None,
        "referees_per_referrer": len(referees) / len(n_referees) if n_referees else None,
        "purchasers_referring": len(referring),
        **ratio_fields("referral_rate", len(referring), len(purchasers)),
        "referees_distribution": [{"referees": k, "customers": dist[k]} for k in sorted(dist)],
        "generations": [{"generation": g, "customers": n} for g, n in generations],
        "deepest_generation": max((g for g, n in generations if n), default=None),
        "max_depth": max_depth,
        "self_referrals": len(selfs & set(cust)),
        "external_referrers": len(raw) - len(referrer),
        "in_cycles": cycles,
        "beyond_max_depth": beyond,
        "cycle_time": {
            "pairs": len(deltas),
            "median_s": quantile(deltas, 0.5),
            "p90_s": quantile(deltas, 0.9),
            "negative": sum(1 for d in deltas if d < 0),
        },
        "revenue": {
            "total": total_rev if has_revenue else None,
            "referred": ref_rev if has_revenue else None,
            "referred_share": ref_rev / total_rev if has_revenue and total_rev else None,
            "per_referred_customer": ref_rev / len(referees) if has_revenue and referees else None,
            "per_other_customer": other_rev / others if has_revenue and others else None,
        },
        "period_unit": period,
        "periods": [
            {
                "period": period_label(p, period),
                "new_customers": n,
                "referred": k,
                "referred_share": k / n,
            }
            for p, (n, k) in sorted(periods.items())
        ],
        "top_referrers": [
            {
                "customer": r,
                "referees": n_referees[r],
                "referred_purchasers": sum(1 for c in referred_purchasers if referrer[c] == r),
                "referee_revenue": sum(revenue[c] for c in referees if referrer[c] == r)
                if has_revenue
                else None,
            }
            for r in ranked[:top]
        ],
    }


def first_touch(evs: Rows, column: str) -> str | None:
    """The value of ``column`` on the earliest event that has one; ties: the smallest value."""
    have = [(e["timestamp"], str(e[column])) for e in evs if not is_missing(e.get(column))]
    return min(have)[1] if have else None


def channels(
    rows: Rows,
    stages: list[Step],
    sale: Step,
    purchase_events: list[str],
    *,
    channel_column: str = "channel",
    spend: list[tuple[str, datetime, datetime, float]] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    has_referrer: bool = True,
    referral_event: str | None = None,
    referee_column: str | None = None,
) -> list[dict[str, Any]]:
    """One dict per channel: the counts of the ``channels`` list of ChannelResult.to_dict() (spend
    rows are (channel, start, end, cost), already restricted to the range). The referral graph: the
    ``referrer`` column, or with ``referral_event`` the referral events naming their referee."""
    rows = in_range(rows, since, until)
    cust = by_customer(rows)
    has_referrer = has_referrer or referral_event is not None
    raw, _ = chosen_referrers(rows, referral_event, referee_column) if has_referrer else ({}, set())
    referrer = {c: v for c, v in raw.items() if v in cust and c in cust}
    n_referees = Counter(referrer.values())
    out: dict[str | None, dict[str, Any]] = {}
    for c, evs in sorted(cust.items()):
        ch = first_touch(evs, channel_column)
        first = min(e["timestamp"] for e in evs)
        bought = any(step_matches(sale, e) for e in evs)
        buys = sum(1 for e in evs if any(glob_matches(p, e["event"]) for p in purchase_events))
        entered = [any(step_matches(s, e) for e in evs) for s in stages]
        rev = sum(e["revenue"] for e in evs if not is_missing(e.get("revenue")))
        row = out.setdefault(
            ch,
            {
                "channel": ch,
                "customers": 0,
                "stages": [0] * len(stages),
                "purchasers": 0,
                "repeat_purchasers": 0,
                "referees": 0,
                "purchasers_referring": 0,
                "revenue": 0.0,
                "cost": None,
                "covered": 0,
                "covered_purchasers": 0,
                "covered_stages": [0] * len(stages),
                "covered_revenue": 0.0,
                "zero_cost": 0,
            },
        )
        row["customers"] += 1
        row["stages"] = [a + b for a, b in zip(row["stages"], entered, strict=True)]
        row["purchasers"] += bought
        row["repeat_purchasers"] += bought and buys >= 2
        row["referees"] += c in referrer
        row["purchasers_referring"] += bought and n_referees.get(c, 0) > 0
        row["revenue"] += rev
        match = [s for s in spend or () if s[0] == ch and s[1] <= first < s[2]]
        if match:
            row["covered"] += 1
            row["covered_purchasers"] += bought
            row["covered_stages"] = [a + b for a, b in zip(row["covered_stages"], entered, strict=True)]
            row["covered_revenue"] += rev
        if spend is not None:  # zero cost: a referee, or acquired in a period whose spend is 0
            row["zero_cost"] += (c in referrer) or bool(match and match[0][3] == 0)
    for ch, _, _, cost in spend or ():
        row = out.get(ch)
        if row is None:
            continue
        row["cost"] = (row["cost"] or 0.0) + cost
    return sorted(out.values(), key=lambda r: (-r["customers"], r["channel"] is None, str(r["channel"])))
