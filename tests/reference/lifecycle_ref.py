"""Plain-Python reference of docs/semantics-lifecycle.md (stages and after-sale metrics).

Shares no code with src/. Input: ``rows`` (tests.journeys.rows: dicts with customer, event,
timestamp as naive datetime, optional offer/revenue), stages as lists of event names, and the
settings as plain values (windows in seconds). Output: plain dicts of counts and medians that the
tests compare with the engine's result."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reference.funnel_ref import quantile

US = 1_000_000


def us(ts: datetime) -> int:
    return round((ts - datetime(1970, 1, 1)).total_seconds() * US)


@dataclass
class Settings:
    stages: list[list[str]]
    sale: int | None  # 0-based
    purchases: list[str]
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    remorse: list[str] = field(default_factory=lambda: ["return", "cancel"])
    remorse_within_s: int = 14 * 86400
    support: list[str] = field(default_factory=lambda: ["support_contact"])
    resolved: list[str] = field(default_factory=lambda: ["support_resolved"])
    negative: list[str] = field(default_factory=lambda: ["delivery_late", "complaint", "return", "cancel"])
    gap_within_s: int | None = None
    offer_sent: list[str] = field(default_factory=lambda: ["offer_sent"])
    offer_redeemed: list[str] = field(default_factory=lambda: ["offer_redeemed"])
    offer_within_s: int = 30 * 86400
    loyalty: list[str] = field(default_factory=lambda: ["loyalty_join"])
    repeat_within_s: int | None = None
    nth: int = 3


def _in_range(s: Settings, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if (s.since is None or r["timestamp"] >= s.since)
        and (s.until is None or r["timestamp"] < s.until)
        and (s.as_of is None or r["timestamp"] <= s.as_of)
    ]


def stages_ref(s: Settings, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(summary, per customer). Summary: customers, and per stage (0-based) entered, furthest,
    current, continued, median/p90 time in stage (s)."""
    ev = _in_range(s, rows)
    if s.as_of is not None:
        now = us(s.as_of)
    elif s.until is not None:
        now = us(s.until)
    else:
        now = max((us(r["timestamp"]) for r in ev), default=0)
    first: dict[str, dict[int, int]] = defaultdict(dict)
    for r in ev:
        for k, names in enumerate(s.stages):
            if r["event"] in names:
                t = us(r["timestamp"])
                if k not in first[r["customer"]] or t < first[r["customer"]][k]:
                    first[r["customer"]][k] = t
    n = len(s.stages)
    per: dict[str, dict[str, Any]] = {}
    times: list[list[float]] = [[] for _ in range(n)]
    for c, f in first.items():
        order = sorted(f, key=lambda k: (f[k], k))  # entries in the order (time, stage index)
        current = order[-1]
        row: dict[str, Any] = {
            "furthest_index": max(f) + 1,
            "current_index": current + 1,
            "days_in_current": (now - f[current]) / (86400 * US),
        }
        for i, k in enumerate(order[:-1]):
            nxt = order[i + 1]
            times[k].append((f[nxt] - f[k]) / US)
            row[f"time{k}"] = (f[nxt] - f[k]) / US
        per[c] = row
    summary: dict[str, Any] = {"customers": len(per), "stages": []}
    for k in range(n):
        entered = [c for c in first if k in first[c]]
        summary["stages"].append(
            {
                "entered": len(entered),
                "furthest": sum(1 for c in per if per[c]["furthest_index"] == k + 1),
                "current": sum(1 for c in per if per[c]["current_index"] == k + 1),
                "continued": sum(1 for c in entered if per[c]["furthest_index"] > k + 1),
                "median": quantile(times[k], 0.5),
                "p90": quantile(times[k], 0.9),
            }
        )
    return summary, per | {"__now__": {"now": now}, "__first__": {"first": dict(first)}}


def after_sale_ref(s: Settings, rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert s.sale is not None
    summary, per = stages_ref(s, rows)
    now = per["__now__"]["now"]
    first = per["__first__"]["first"]
    sale_at = {c: f[s.sale] for c, f in first.items() if s.sale in f}
    ev = _in_range(s, rows)
    by_c: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ev:
        if r["customer"] in sale_at:
            by_c[r["customer"]].append(r)
    out: dict[str, Any] = {}
    # purchases
    info: dict[str, dict[str, Any]] = {}
    n_purch, nth_days = 0, {k: [] for k in range(2, s.nth + 1)}
    for c in sale_at:
        buys = sorted((us(r["timestamp"]), r["event"]) for r in by_c[c] if r["event"] in s.purchases)
        n_purch += len(buys)
        t = [b[0] for b in buys]
        rep = len(t) >= 2 and (s.repeat_within_s is None or t[1] - t[0] <= s.repeat_within_s * US)
        obs = s.repeat_within_s is None or (bool(t) and t[0] + s.repeat_within_s * US <= now)
        info[c] = {"repeater": rep, "observed": obs}
        for k in range(2, s.nth + 1):
            if len(t) >= k:
                nth_days[k].append((t[k - 1] - t[0]) / (86400 * US))
    obs_c = [c for c in info if info[c]["observed"]]
    out["purchases"] = {
        "all_purchasers": len(sale_at),
        "purchasers": len(obs_c),
        "repeaters": sum(1 for c in obs_c if info[c]["repeater"]),
        "purchases": n_purch,
        "nth": {k: (len(v), quantile(v, 0.5)) for k, v in nth_days.items()},
    }
    after = {c: [r for r in by_c[c] if us(r["timestamp"]) >= sale_at[c]] for c in sale_at}
    # remorse: a remorse event within the window after the latest purchase at or before it
    events = customers = 0
    for rs in after.values():
        hit = False
        for r in rs:
            if r["event"] not in s.remorse:
                continue
            t = us(r["timestamp"])
            prior = [us(p["timestamp"]) for p in rs if p["event"] in s.purchases and us(p["timestamp"]) <= t]
            if prior and t - max(prior) <= s.remorse_within_s * US:
                events += 1
                hit = True
        customers += hit
    out["remorse"] = {"events": events, "customers": customers}
    # support: each contact resolved by the first resolved event at or after it
    contacts, who, resolved, waits = 0, set(), 0, []
    for c, rs in after.items():
        for r in rs:
            if r["event"] in s.support:
                contacts += 1
                who.add(c)
                t = us(r["timestamp"])
                later = [
                    us(x["timestamp"]) for x in rs if x["event"] in s.resolved and us(x["timestamp"]) >= t
                ]
                if later:
                    resolved += 1
                    waits.append((min(later) - t) / US)
    out["support"] = {
        "contacts": contacts,
        "customers": len(who),
        "resolved": resolved,
        "median": quantile(waits, 0.5),
    }
    # experience gap
    neg = rec = obs_neg = rep_neg = obs_pos = rep_pos = 0
    for c, rs in after.items():
        sale = sale_at[c]
        negs = [
            us(r["timestamp"])
            for r in rs
            if r["event"] in s.negative
            and (s.gap_within_s is None or us(r["timestamp"]) - sale <= s.gap_within_s * US)
        ]
        buys = [us(r["timestamp"]) for r in rs if r["event"] in s.purchases]
        had = bool(negs)
        neg += had
        rec += had and bool(buys) and max(buys) > min(negs)
        if info[c]["observed"]:
            if had:
                obs_neg += 1
                rep_neg += info[c]["repeater"]
            else:
                obs_pos += 1
                rep_pos += info[c]["repeater"]
    out["gap"] = {
        "negative": neg,
        "recovered": rec,
        "obs_neg": obs_neg,
        "rep_neg": rep_neg,
        "obs_pos": obs_pos,
        "rep_pos": rep_pos,
    }
    # win-back per offer
    offers: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for rs in after.values():
        sent: dict[str, int] = {}
        for r in rs:
            if r["event"] in s.offer_sent:
                o = "(none)" if r.get("offer") is None else str(r["offer"])
                t = us(r["timestamp"])
                sent[o] = min(t, sent.get(o, t))
        for o, t in sent.items():
            offers[o][0] += 1
            red = [
                us(r["timestamp"])
                for r in rs
                if r["event"] in s.offer_redeemed
                and ("(none)" if r.get("offer") is None else str(r["offer"])) == o
            ]
            offers[o][1] += any(x >= t for x in red)
            buys = [us(r["timestamp"]) for r in rs if r["event"] in s.purchases]
            offers[o][2] += any(t < b <= t + s.offer_within_s * US for b in buys)
    out["offers"] = {o: tuple(v) for o, v in offers.items()}
    # loyalty (observed purchasers; membership anywhere in the range)
    groups = {True: [0, 0, 0.0, 0.0], False: [0, 0, 0.0, 0.0]}
    for c in obs_c:
        mine = [r for r in ev if r["customer"] == c]
        member = any(r["event"] in s.loyalty for r in mine)
        rev = sum(r.get("revenue") or 0.0 for r in mine)
        g = groups[member]
        g[0] += 1
        g[1] += info[c]["repeater"]
        g[2] += rev
        g[3] += rev * rev
    out["loyalty"] = groups
    out["stages"] = summary
    return out
