"""Reference implementation (the oracle) of the funnel explained (docs/semantics-funnel-explore.md):
drop-off paths, between-step paths and the correlation.

Plain Python, sharing no code with ``src/hourglass``: the chains come from the funnel's own oracle
(every chain enumerated, the best one greedily completed, as ``funnel_ref`` does), the statistics are
written from their textbook definitions (Fisher's test by summing exact hypergeometric
probabilities as fractions). Input as in ``funnel_ref``: ``rows`` (dicts with ``customer``,
``event``, ``timestamp`` and properties), ``steps``, ``window`` (µs) and the funnel's options
(``mode`` ordered or strict_order, ``since``, ``until``, ``exclude``, ``by``, ``hold``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

Z = 1.959963984540054
FISHER_MAX = 20_000


@dataclass(frozen=True)
class Event:
    t: int  # µs since 1970-01-01
    name: str
    row: dict[str, Any]
    steps: frozenset[int]  # the 1-based steps it matches (none when excluded)
    epoch: int


def glob(pattern: str, name: str) -> bool:
    """``*`` any run of characters, ``?`` exactly one (an anchored match of the whole name)."""
    return (
        re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), name)
        is not None
    )


def holds(value: Any, op: str, operand: Any) -> bool:
    """A step filter on one value; never on a missing value."""
    if missing(value):
        return False
    if op == "in":
        return value in list(operand)
    if op == "not_in":
        return value not in list(operand)
    return bool(
        {
            "==": lambda: value == operand,
            "!=": lambda: value != operand,
            ">": lambda: value > operand,
            ">=": lambda: value >= operand,
            "<": lambda: value < operand,
            "<=": lambda: value <= operand,
        }[op]()
    )


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def step_of(spec: Any) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
    """(name, patterns, filters) of a step given as a name (``s?``: optional) or a dict."""
    if isinstance(spec, str):
        name = spec[:-1] if spec.endswith("?") else spec
        return name, (name,), ()
    return spec["name"], tuple(spec.get("events") or [spec["name"]]), tuple(spec.get("where", ()))


def required(steps: list[Any]) -> list[int]:
    """The 1-based numbers of the required steps: a chain's steps (an optional one is not on it)."""
    optional = [s.endswith("?") if isinstance(s, str) else bool(s.get("optional")) for s in steps]
    return [k for k, o in enumerate(optional, start=1) if not o]


def canonical(
    crows: list[dict[str, Any]],
    steps: list[Any],
    exclude: frozenset[str],
    by: str | None,
    hold: str | None = None,
) -> list[Event]:
    """A customer's events in canonical order (time, first matched step, the set as a bit mask,
    name, then the breakdown value and the held value, missing last), with exclusion epochs."""
    parsed = [step_of(s) for s in steps]
    n = len(parsed)
    out = []
    for row in crows:
        name = row["event"]
        matched = frozenset(
            k
            for k, (_, patterns, where) in enumerate(parsed, start=1)
            if name not in exclude
            and any(glob(p, name) for p in patterns)
            and all(holds(row.get(c), op, v) for c, op, v in where)
        )
        out.append((row, name, matched))

    def key(item: tuple[dict[str, Any], str, frozenset[int]]) -> tuple[Any, ...]:
        row, name, matched = item
        k: tuple[Any, ...] = (
            us(row["timestamp"]),
            min(matched, default=n + 1),
            sum(1 << (i - 1) for i in matched),
            name,
        )
        for column in (by, hold):
            if column is not None:
                v = row.get(column)
                k += (missing(v), None if missing(v) else v)
        return k

    out.sort(key=key)
    excluded = [us(r["timestamp"]) for r, name, _ in out if name in exclude]
    return [
        Event(us(r["timestamp"]), name, r, matched, sum(1 for x in excluded if x <= us(r["timestamp"])))
        for r, name, matched in out
    ]


def us(ts: datetime) -> int:
    return (ts - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def best_chains(
    rows: list[dict[str, Any]],
    steps: list[Any],
    window: int,
    *,
    mode: str = "ordered",
    since: datetime | None = None,
    until: datetime | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    by: str | None = None,
    hold: str | None = None,
) -> dict[str, tuple[int, list[Event], dict[int, int]]]:
    """Customer -> (level: the number of the furthest required step reached, his events in canonical
    order, step number -> position of his best chain's event of that required step): every chain
    of the required steps enumerated; the best is the greedy completion from the earliest entry of
    a chain of the highest level (docs/semantics.md). strict_order's adjacency passes over events
    that match optional steps only; with ``hold`` a chain's events share its entry's (non-missing)
    value."""
    assert mode in ("ordered", "strict_order")
    req = required(steps)
    optional = frozenset(k for k in range(1, len(steps) + 1) if k not in req)
    lo = None if since is None else us(since)
    hi = None if until is None else us(until)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["customer"], []).append(row)
    out = {}
    for customer, crows in grouped.items():
        ev = canonical(crows, steps, frozenset(exclude), by, hold)
        length, best = _best(ev, req, window, mode, lo, hi, hold, optional)
        out[customer] = (req[length - 1] if length else 0, ev, dict(zip(req, best, strict=False)))
    return out


def _best(
    ev: list[Event], req: list[int], window: int, mode: str, lo: int | None, hi: int | None,
    hold: str | None = None, optional: frozenset[int] = frozenset(),
) -> tuple[int, tuple[int, ...]]:  # fmt: skip
    def same(first: Event, e: Event) -> bool:  # the held value, never a missing one
        return hold is None or (not missing(first.row.get(hold)) and e.row.get(hold) == first.row.get(hold))

    def passed_over(e: Event) -> bool:  # strict_order: an event of optional steps only
        return bool(e.steps) and e.steps <= optional

    def fits(chain: tuple[int, ...], j: int) -> bool:
        first, last = ev[chain[0]], chain[-1]
        return (
            j > last
            and req[len(chain)] in ev[j].steps
            and ev[j].t - first.t <= window
            and ev[j].epoch == first.epoch
            and same(first, ev[j])
            and (mode != "strict_order" or all(passed_over(ev[x]) for x in range(last + 1, j)))
        )

    chains: list[tuple[int, ...]] = []

    def walk(chain: tuple[int, ...]) -> None:
        chains.append(chain)
        if len(chain) < len(req):
            for j in range(len(ev)):
                if fits(chain, j):
                    walk((*chain, j))

    for i, e in enumerate(ev):
        if req[0] in e.steps and (lo is None or e.t >= lo) and (hi is None or e.t < hi) and same(e, e):
            walk((i,))
    length = max((len(c) for c in chains), default=0)
    best: tuple[int, ...] = ()
    if length:
        best = (min(c[0] for c in chains if len(c) == length),)
        while len(best) < length:
            best = (*best, min(j for j in range(len(ev)) if fits(best, j)))
    return length, best


def customer_paths(
    rows: list[dict[str, Any]],
    steps: list[Any],
    window: int,
    view: str,
    at: int,
    to: int | None = None,
    **options: Any,
) -> dict[str, list[str]]:
    """Customer -> his whole path of the view (every event name, not cut at a depth): ``dropoff``:
    reached ``at`` and not ``to`` (default: the next required step), his events after his step-``at``
    event; ``between``: reached ``to``, his events between the two steps' events."""
    nxt = min(k for k in required(steps) if k > at) if to is None else to
    out = {}
    for customer, (level, events, best) in best_chains(rows, steps, window, **options).items():
        if view == "dropoff" and at <= level < nxt:
            out[customer] = [e.name for e in events[best[at] + 1 :]]
        elif view == "between" and level >= nxt:
            out[customer] = [e.name for e in events[best[at] + 1 : best[nxt]]]
    return out


def paths(
    rows: list[dict[str, Any]],
    steps: list[Any],
    window: int,
    *,
    view: str,
    at: int,
    depth: int,
    top: int,
    to: int | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The view's JSON as ``FunnelPaths.to_dict`` (without ``meta``)."""
    whole = customer_paths(rows, steps, window, view, at, to, **options)
    counted: dict[tuple[tuple[str, ...], bool], int] = {}
    for p in whole.values():
        key = (tuple(p[:depth]), len(p) <= depth)
        counted[key] = counted.get(key, 0) + 1

    def order(item: tuple[tuple[tuple[str, ...], bool], int]) -> tuple[Any, ...]:
        (path, ended), n = item
        # node by node, a missing node before any node; then a path that goes on before one that ends
        nodes = tuple((1, path[i]) if i < len(path) else (0, "") for i in range(depth))
        return (-n, nodes, ended)

    ranked = sorted(counted.items(), key=order)[:top]
    customers = len(whole)
    names = [step_of(s)[0] for s in steps]
    none = sum(1 for p in whole.values() if not p)
    shown = [
        {"path": list(path), "ended": ended, "customers": n, "share": n / customers}
        for (path, ended), n in ranked
    ]
    return {
        "view": view,
        "at": at,
        "step": names[at - 1],
        "next_step": names[(min(k for k in required(steps) if k > at) if to is None else to) - 1],
        "depth": depth,
        "customers": customers,
        "none": none,
        "none_share": none / customers if customers else None,
        "distinct_paths": len(counted),
        "other_customers": customers - sum(r["customers"] for r in shown),
        "paths": shown,
    }


def observed(
    rows: list[dict[str, Any]],
    steps: list[Any],
    window: int,
    *,
    at: int,
    to: int,
    columns: list[str],
    **options: Any,
) -> tuple[dict[str, bool], dict[tuple[str, str], set[str]]]:
    """(customer -> converted, for those who reached ``at``; item -> its customers). An item is an
    event name no step's patterns match, or ``(column, value)``, seen before the drop-off point:
    a converter's events before his step-``to`` event, a dropper's at or before entry + window."""
    conv: dict[str, bool] = {}
    items: dict[tuple[str, str], set[str]] = {}
    for customer, (level, events, best) in best_chains(rows, steps, window, **options).items():
        if level < at:
            continue
        converted = level >= to
        conv[customer] = converted
        if converted:
            seen = events[: best[to]]
        else:
            entry = events[best[min(best)]].t
            seen = [e for e in events if e.t <= entry + window]
        for e in seen:
            if not any(glob(p, e.name) for s in steps for p in step_of(s)[1]):
                items.setdefault(("event", e.name), set()).add(customer)
            for c in columns:
                v = e.row.get(c)
                if not missing(v):
                    items.setdefault((c, str(v)), set()).add(customer)
    return conv, items


def fisher(a: int, b: int, c: int, d: int) -> float:
    """Two-sided: the sum of P(table) over the tables with these margins no more likely than this."""
    r1, c1, n = a + b, a + c, a + b + c + d

    def prob(x: int) -> Fraction:
        return Fraction(math.comb(c1, x) * math.comb(n - c1, r1 - x), math.comb(n, r1))

    observed_p = prob(a)
    total = sum(
        (
            prob(x)
            for x in range(max(0, r1 + c1 - n), min(r1, c1) + 1)
            if prob(x) <= observed_p * Fraction(10_000_001, 10_000_000)
        ),
        Fraction(0),
    )
    return min(1.0, float(total))


def chi2(a: int, b: int, c: int, d: int) -> float:
    n = a + b + c + d
    expected = [(a + b) * (a + c) / n, (a + b) * (b + d) / n, (c + d) * (a + c) / n, (c + d) * (b + d) / n]
    stat = sum((o - e) ** 2 / e for o, e in zip((a, b, c, d), expected, strict=True))
    return math.erfc(math.sqrt(stat / 2))


def bh(p: list[float]) -> list[float]:
    """q_i = min over j with p_j >= p_i of p_j m / rank_j (ties share the largest rank), at most 1."""
    m = len(p)
    out = []
    for pi in p:
        candidates = [pj * m / sum(1 for pk in p if pk <= pj) for pj in p if pj >= pi]
        out.append(min(1.0, min(candidates)))
    return out


def correlation(
    rows: list[dict[str, Any]],
    steps: list[Any],
    window: int,
    *,
    at: int,
    to: int | None = None,
    columns: list[str] = (),  # type: ignore[assignment]
    max_values: int = 50,
    max_events: int = 100,
    **options: Any,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Item -> its table and statistics (the engine's ``items`` keyed by ``(kind, value)``), and
    under the key ``("", "")`` the totals."""
    to = min(k for k in required(steps) if k > at) if to is None else to
    conv, items = observed(rows, steps, window, at=at, to=to, columns=list(columns), **options)
    converted = sum(conv.values())
    dropped = len(conv) - converted
    kept = []
    for kind in {k for k, _ in items}:
        ranked = sorted(((-len(cs), v) for (k, v), cs in items.items() if k == kind))
        cap = max_events if kind == "event" else max_values
        kept += [(kind, v) for _, v in ranked[:cap]]
    tested = []
    for kind, value in kept:
        cs = items[(kind, value)]
        a = sum(1 for c in cs if conv[c])
        b = len(cs) - a
        if a + b in (0, converted + dropped):
            continue
        c, d = converted - a, dropped - b
        p = fisher(a, b, c, d) if a + b + c + d <= FISHER_MAX else chi2(a, b, c, d)
        cells = [a, b, c, d] if 0 not in (a, b, c, d) else [x + 0.5 for x in (a, b, c, d)]
        ratio = cells[0] * cells[3] / (cells[1] * cells[2])
        se = math.sqrt(sum(1 / x for x in cells))
        tested.append(
            {
                "kind": kind,
                "value": value,
                "converted_with": a,
                "dropped_with": b,
                "converted_without": c,
                "dropped_without": d,
                "odds_ratio": ratio,
                "odds_ratio_low": math.exp(math.log(ratio) - Z * se),
                "odds_ratio_high": math.exp(math.log(ratio) + Z * se),
                "p_value": p,
            }
        )
    for item, q in zip(tested, bh([t["p_value"] for t in tested]), strict=True):
        item["q_value"] = q
    out = {(t["kind"], t["value"]): t for t in tested}
    out[("", "")] = {"converted": converted, "dropped": dropped, "untested": len(kept) - len(tested)}
    return out
