"""Plain-Python reference of multi-touch attribution (docs/semantics-attribution.md), written from
the words of the docs, independently of the engine: journeys from raw events, every model, the
Markov chain solved with exact fractions (Gaussian elimination), and the Shapley value by brute-force
enumeration of coalitions (the full Shapley formula over the value function, not the simplified
sum)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Any


@dataclass(frozen=True)
class Ev:
    customer: str
    event: str
    ts: int  # microseconds
    channel: str | None = None
    revenue: float | None = None


@dataclass(frozen=True)
class Journey:
    touches: tuple[tuple[int, str], ...]  # (ts, channel) in order
    converted: bool
    revenue: float
    conv_ts: int


def journeys(
    events: Sequence[Ev],
    conversion: Iterable[str],
    count: str,
    lookback: int,
    touch_events: Iterable[str] = (),
) -> tuple[list[Journey], int, float]:
    """(journeys with >= 1 touch, all conversions, all conversion revenue)."""
    conv_names = set(conversion)
    touch_names = set(touch_events)
    out: list[Journey] = []
    n_conv = 0
    rev_total = 0.0
    for cust in sorted({e.customer for e in events}):
        mine = [e for e in events if e.customer == cust]
        touches = sorted(
            (e.ts, e.channel.strip())
            for e in mine
            if e.channel is not None
            and e.channel.strip() != ""
            and (not touch_names or e.event in touch_names)
        )
        matches = sorted(
            ((e.ts, e.event, e.revenue or 0.0) for e in mine if e.event in conv_names),
            key=lambda x: (x[0], x[1], x[2]),
        )
        convs: list[tuple[tuple[int, str, float], int | None]]
        if count == "first":
            resets = matches[:1]
            convs = [(m, None) for m in matches[:1]]
        elif count == "after_first":
            resets = matches
            convs = [(matches[i], matches[i - 1][0]) for i in range(1, len(matches))]
        else:
            resets = matches
            convs = [(matches[i], matches[i - 1][0] if i else None) for i in range(len(matches))]
        for (ts, _ev, rev), prev in convs:
            n_conv += 1
            rev_total += rev
            ts_in = tuple(
                (t, c) for t, c in touches if t < ts and t >= ts - lookback and (prev is None or t >= prev)
            )
            if ts_in:
                out.append(Journey(ts_in, True, rev, ts))
        last_ts = max(e.ts for e in mine)
        last_reset = max((r[0] for r in resets), default=None)
        can = (
            (last_reset is None)
            if count == "first"
            else (last_reset is not None)
            if count == "after_first"
            else True
        )
        if can:
            tail = tuple(
                (t, c)
                for t, c in touches
                if t >= last_ts - lookback and (last_reset is None or t >= last_reset)
            )
            if tail:
                out.append(Journey(tail, False, 0.0, last_ts))
    return out, n_conv, rev_total


def _solve(states: list[Any], trans: Counter[tuple[Any, Any]], removed: str | None) -> Fraction:
    """P(start -> conversion) with exact fractions; removed states absorb in null."""
    live = [s for s in states if removed is None or removed not in s]
    if () not in live:
        return Fraction(0)
    idx = {s: i for i, s in enumerate(live)}
    n = len(live)
    out_total = Counter[Any]()
    for (a, _b), k in trans.items():
        out_total[a] += k
    a_mat = [[Fraction(int(i == j)) for j in range(n)] + [Fraction(0)] for i in range(n)]
    for (a, b), k in trans.items():
        if a not in idx:
            continue
        p = Fraction(k, out_total[a])
        if b == "conv":
            a_mat[idx[a]][n] += p
        elif b != "null" and b in idx:
            a_mat[idx[a]][idx[b]] -= p
    for col in range(n):  # Gauss-Jordan
        piv = next(r for r in range(col, n) if a_mat[r][col] != 0)
        a_mat[col], a_mat[piv] = a_mat[piv], a_mat[col]
        pv = a_mat[col][col]
        a_mat[col] = [x / pv for x in a_mat[col]]
        for r in range(n):
            if r != col and a_mat[r][col] != 0:
                f = a_mat[r][col]
                a_mat[r] = [x - f * y for x, y in zip(a_mat[r], a_mat[col], strict=True)]
    return a_mat[idx[()]][n]


def markov_transitions(paths: Iterable[tuple[tuple[str, ...], bool]], order: int) -> Counter[tuple[Any, Any]]:
    trans: Counter[tuple[Any, Any]] = Counter()
    for chans, converted in paths:
        prev: Any = ()
        for i in range(len(chans)):
            st = tuple(chans[max(0, i - order + 1) : i + 1])
            trans[(prev, st)] += 1
            prev = st
        trans[(prev, "conv" if converted else "null")] += 1
    return trans


def markov_exact(
    paths: Iterable[tuple[tuple[str, ...], bool]], order: int
) -> tuple[Fraction, dict[str, Fraction]]:
    """P(conversion) and the removal effect of every channel, as fractions."""
    paths = list(paths)
    trans = markov_transitions(paths, order)
    states = sorted({a for a, _ in trans} | {b for _, b in trans if isinstance(b, tuple)})
    p = _solve(states, trans, None)
    channels = sorted({c for chans, _ in paths for c in chans})
    if p == 0:
        return p, dict.fromkeys(channels, Fraction(0))
    return p, {c: 1 - _solve(states, trans, c) / p for c in channels}


def shapley_brute(values: dict[frozenset[str], float]) -> dict[str, float]:
    """The Shapley value by enumeration: v(S) = sum of values[T] over observed T subset of S;
    phi_c = sum over S not holding c of |S|! (n-|S|-1)! / n! (v(S + c) - v(S))."""
    players = sorted({c for s in values for c in s})
    n = len(players)

    def v(s: frozenset[str]) -> float:
        return sum(x for t, x in values.items() if t <= s)

    out = {}
    for c in players:
        others = [p for p in players if p != c]
        total = 0.0
        for k in range(len(others) + 1):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for combo in combinations(others, k):
                s = frozenset(combo)
                total += w * (v(s | {c}) - v(s))
        out[c] = total
    return out


def attribute(
    events: Sequence[Ev],
    *,
    conversion: Iterable[str],
    count: str = "first",
    lookback: int,
    half_life: int,
    position: Sequence[float] = (0.4, 0.2, 0.4),
    direct: Iterable[str] = ("direct", "none", "(none)"),
    order: int = 1,
    touch_events: Iterable[str] = (),
) -> dict[str, Any]:
    """Credits per model and channel (conversions and revenue), and the totals."""
    js, n_conv, rev_total = journeys(events, conversion, count, lookback, touch_events)
    plain = {d.casefold() for d in direct}
    models = [
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "time_decay",
        "position_based",
        "markov",
        "shapley",
        "shapley_rate",
    ]
    conv: dict[str, defaultdict[str, float]] = {m: defaultdict(float) for m in models}
    rev: dict[str, defaultdict[str, float]] = {m: defaultdict(float) for m in models}

    def give(model: str, channel: str, w: float, j: Journey) -> None:
        conv[model][channel] += w
        rev[model][channel] += w * j.revenue

    for j in js:
        if not j.converted:
            continue
        chans = [c for _, c in j.touches]
        n = len(chans)
        give("first_touch", chans[0], 1.0, j)
        give("last_touch", chans[-1], 1.0, j)
        nd = [c for c in chans if c.casefold() not in plain]
        give("last_non_direct", (nd or chans)[-1], 1.0, j)
        for c in chans:
            give("linear", c, 1.0 / n, j)
        last = j.touches[-1][0]
        ws = [0.5 ** ((last - t) / half_life) for t, _ in j.touches]
        for (_, c), w in zip(j.touches, ws, strict=True):
            give("time_decay", c, w / sum(ws), j)
        a, b, z = position
        if n == 1:
            pw = [1.0]
        elif n == 2:
            pw = [a / (a + z), z / (a + z)]
        else:
            pw = [a] + [b / (n - 2)] * (n - 2) + [z]
        for c, w in zip(chans, pw, strict=True):
            give("position_based", c, w, j)
    attributed = sum(1 for j in js if j.converted)
    rev_attr = sum(j.revenue for j in js if j.converted)
    paths = [(tuple(c for _, c in j.touches), j.converted) for j in js]
    p, effects = markov_exact(paths, order)
    total_re = sum(effects.values())
    for c, e in effects.items():
        share = float(e / total_re) if total_re else 0.0
        conv["markov"][c] += share * attributed
        rev["markov"][c] += share * rev_attr
    by_set: Counter[frozenset[str]] = Counter()
    rev_set: defaultdict[frozenset[str], float] = defaultdict(float)
    seen: Counter[frozenset[str]] = Counter()
    for j in js:
        s = frozenset(c for _, c in j.touches)
        seen[s] += 1
        if j.converted:
            by_set[s] += 1
            rev_set[s] += j.revenue
    for c, x in shapley_brute({s: float(k) for s, k in by_set.items()}).items():
        conv["shapley"][c] += x
    for c, x in shapley_brute(dict(rev_set)).items():
        rev["shapley"][c] += x
    rates = {s: by_set[s] / seen[s] for s in seen}
    phi = shapley_brute(rates)
    total_phi = sum(phi.values())
    for c, x in phi.items():
        share = x / total_phi if total_phi else 0.0
        conv["shapley_rate"][c] += share * attributed
        rev["shapley_rate"][c] += share * rev_attr
    return {
        "conversions": n_conv,
        "revenue": rev_total,
        "conversions_attributed": attributed,
        "revenue_attributed": rev_attr,
        "non_converting_journeys": sum(1 for j in js if not j.converted),
        "conversion_probability": float(p) if js else None,
        "removal_effects": {c: float(e) for c, e in effects.items()},
        "credits": {m: dict(conv[m]) for m in models},
        "revenue_credits": {m: dict(rev[m]) for m in models},
    }


def stage_attribute(
    events: Sequence[Ev],
    stages: Sequence[tuple[str, Iterable[str]]],
    *,
    model: str,
    lookback: int,
    half_life: int,
    order: int = 1,
    touch_events: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """The hourglass stages per channel (docs/semantics-attribution.md, "Stages"): per stage (name,
    its event names), the customers who entered it (None when none did: not measured), those with a
    touch before their entry, and the ``model``'s credits: each stage is attributed as its own
    conversion, the customer's first event of the stage, with the same lookback and the
    non-converting journeys of the customers who never entered it."""
    out: dict[str, dict[str, Any]] = {}
    for name, names in stages:
        r = attribute(
            events,
            conversion=list(names),
            count="first",
            lookback=lookback,
            half_life=half_life,
            order=order,
            touch_events=touch_events,
        )
        entered = r["conversions"] or None
        out[name] = {
            "customers": entered,
            "with_touch": None if entered is None else r["conversions_attributed"],
            "credits": None if entered is None else r["credits"][model],
        }
    return out
