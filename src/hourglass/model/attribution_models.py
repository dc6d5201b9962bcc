"""The attribution models on small aggregates (docs/semantics-attribution.md). Pure: no Ibis, no I/O.

Inputs are what the engine sends back: distinct paths with their conversions, non-conversions and
revenue (:class:`PathRow`), and Markov transition counts between states (tuples of the last k
channels; ``()`` is the start). Every function returns credits per channel; the caller checks that
every model's credits add up to the conversions and revenue attributed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CONVERSION",
    "NULL",
    "START",
    "Node",
    "PathRow",
    "conversion_probability",
    "heuristic_credits",
    "markov_credits",
    "removal_effects",
    "shapley_credits",
    "transitions_from_paths",
]

#: the start state and the two absorbing states of the Markov chain
START: tuple[str, ...] = ()
CONVERSION = "(conversion)"
NULL = "(null)"
Node = tuple[str, ...] | str
Credits = dict[str, float]
_DENSE_MAX = 600  # more transient states: a sparse solve


@dataclass(frozen=True)
class PathRow:
    """Journeys with exactly these touches in this order: ``conversions`` of them converted (with
    ``revenue`` in total), ``non_conversions`` did not."""

    channels: tuple[str, ...]
    conversions: int
    non_conversions: int
    revenue: float = 0.0


def _add(credits: Credits, channel: str, x: float) -> None:
    credits[channel] = credits.get(channel, 0.0) + x


def _position_weights(n: int, position: Sequence[float]) -> list[float]:
    first, middle, last = position
    if n == 1:
        return [1.0]
    if n == 2:
        return [first / (first + last), last / (first + last)]
    return [first, *([middle / (n - 2)] * (n - 2)), last]


def heuristic_credits(
    paths: Iterable[PathRow], *, position: Sequence[float], direct: Iterable[str]
) -> dict[str, tuple[Credits, Credits]]:
    """First touch, last touch, last non-direct, linear and position-based credits: model ->
    (conversions per channel, revenue per channel). Only converting journeys give credit."""
    plain = {d.strip().casefold() for d in direct}
    models = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based")
    out: dict[str, tuple[Credits, Credits]] = {m: ({}, {}) for m in models}
    for p in paths:
        if p.conversions == 0 or not p.channels:
            continue
        n = len(p.channels)
        marketing = [c for c in p.channels if c.strip().casefold() not in plain]
        weights: dict[str, list[tuple[str, float]]] = {
            "first_touch": [(p.channels[0], 1.0)],
            "last_touch": [(p.channels[-1], 1.0)],
            "last_non_direct": [((marketing or list(p.channels))[-1], 1.0)],
            "linear": [(c, 1.0 / n) for c in p.channels],
            "position_based": list(zip(p.channels, _position_weights(n, position), strict=True)),
        }
        for model, shares in weights.items():
            conv, rev = out[model]
            for channel, w in shares:
                _add(conv, channel, w * p.conversions)
                _add(rev, channel, w * p.revenue)
    return out


def transitions_from_paths(paths: Iterable[PathRow], order: int) -> Counter[tuple[Node, Node]]:
    """Transition counts of the order-``order`` chain: start -> (c1) -> (c1, c2) -> ... with states
    the last ``order`` channels, the last state -> conversion or null; each journey counts once per
    transition it makes (the engine computes the same counts with a GROUP BY)."""
    counts: Counter[tuple[Node, Node]] = Counter()
    for p in paths:
        if not p.channels:
            continue
        prev: Node = START
        for i in range(len(p.channels)):
            state = tuple(p.channels[max(0, i - order + 1) : i + 1])
            counts[(prev, state)] += p.conversions + p.non_conversions
            prev = state
        if p.conversions:
            counts[(prev, CONVERSION)] += p.conversions
        if p.non_conversions:
            counts[(prev, NULL)] += p.non_conversions
    return counts


def conversion_probability(
    transitions: Mapping[tuple[Node, Node], float], removed: str | None = None
) -> float:
    """P(the chain started at START is absorbed in CONVERSION), exactly (a linear solve). With
    ``removed``, every state holding that channel is absorbed in NULL instead."""
    states = sorted(
        {a for a, _ in transitions if isinstance(a, tuple)}
        | {b for _, b in transitions if isinstance(b, tuple)}
    )
    if removed is not None:
        states = [s for s in states if removed not in s]
    if START not in states:
        return 0.0
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    out_total = np.zeros(n)
    for (a, _b), k in transitions.items():
        if isinstance(a, tuple) and a in index:
            out_total[index[a]] += k
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    r = np.zeros(n)
    for (a, b), k in transitions.items():
        if not isinstance(a, tuple) or a not in index or k == 0:
            continue
        i = index[a]
        p = k / out_total[i]
        if b == CONVERSION:
            r[i] += p
        elif isinstance(b, tuple) and b in index:
            rows.append(i)
            cols.append(index[b])
            vals.append(p)
        # NULL, or a removed state: absorbed without converting
    if n <= _DENSE_MAX:
        q = np.zeros((n, n))
        np.add.at(q, (rows, cols), vals)
        x = np.linalg.solve(np.eye(n) - q, r)
    else:
        from scipy.sparse import csr_matrix, identity  # type: ignore[import-untyped]
        from scipy.sparse.linalg import spsolve  # type: ignore[import-untyped]

        q_sparse = csr_matrix((vals, (rows, cols)), shape=(n, n))
        x = spsolve((identity(n, format="csr") - q_sparse).tocsc(), r)
    return float(x[index[START]])


def removal_effects(
    transitions: Mapping[tuple[Node, Node], float], channels: Iterable[str]
) -> tuple[float, dict[str, float]]:
    """P(conversion) and each channel's removal effect ``1 - P(conversion without it) / P``."""
    p = conversion_probability(transitions)
    if p <= 0:
        return p, dict.fromkeys(channels, 0.0)
    return p, {c: max(0.0, 1.0 - conversion_probability(transitions, c) / p) for c in channels}


def markov_credits(
    transitions: Mapping[tuple[Node, Node], float],
    channels: Iterable[str],
    conversions: float,
    revenue: float,
) -> tuple[Credits, Credits, float, dict[str, float]]:
    """Removal effects normalised to the ``conversions`` (and ``revenue``) attributed: credits,
    revenue credits, P(conversion) and the raw removal effects."""
    chans = list(channels)
    p, effects = removal_effects(transitions, chans)
    total = sum(effects.values())
    if total <= 0:
        zero = dict.fromkeys(chans, 0.0)
        return zero, dict(zero), p, effects
    conv = {c: conversions * e / total for c, e in effects.items()}
    rev = {c: revenue * e / total for c, e in effects.items()}
    return conv, rev, p, effects


def shapley_credits(paths: Iterable[PathRow], *, rate: bool = False) -> tuple[Credits, Credits]:
    """Zhao et al.'s simplified Shapley value. A coalition is the set of channels of a journey;
    ``R(S)`` is the conversions (revenue) of the journeys whose set is exactly ``S`` (0 for a set no
    journey has) and ``v(S) = sum of R(T) over T subset of S``; then the Shapley value of channel c
    is ``sum over S containing c of R(S) / |S|``, which adds up to v(all channels). With ``rate``,
    ``R(S)`` is the conversion rate of the journeys with set S, and the values are scaled to add up
    to the conversions (revenue) attributed."""
    conv_by: dict[frozenset[str], float] = {}
    rev_by: dict[frozenset[str], float] = {}
    seen_by: dict[frozenset[str], float] = {}
    for p in paths:
        if not p.channels:
            continue
        s = frozenset(p.channels)
        conv_by[s] = conv_by.get(s, 0.0) + p.conversions
        rev_by[s] = rev_by.get(s, 0.0) + p.revenue
        seen_by[s] = seen_by.get(s, 0.0) + p.conversions + p.non_conversions
    conv: Credits = {}
    rev: Credits = {}
    if not rate:
        for s, k in conv_by.items():
            for c in s:
                _add(conv, c, k / len(s))
                _add(rev, c, rev_by[s] / len(s))
        return conv, rev
    phi: Credits = {}
    for s, k in conv_by.items():
        for c in s:
            _add(phi, c, (k / seen_by[s]) / len(s))
    total_phi = sum(phi.values())
    total_conv, total_rev = sum(conv_by.values()), sum(rev_by.values())
    for c, x in phi.items():
        share = x / total_phi if total_phi > 0 else 0.0
        conv[c] = share * total_conv
        rev[c] = share * total_rev
    return conv, rev
