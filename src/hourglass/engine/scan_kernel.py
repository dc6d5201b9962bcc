"""The funnel's sequential-scan pass over one range of customers, the one copy of it: summed per
level (:func:`counts`: engine/funnel_scan.py's funnel, engine/models_scan.py's overview models over
shared keys) or kept per customer (:func:`chunk`: each customer's level, best chain's entry and times
between steps, for engine/scan_levels.py: a bar's people, a breakdown by a column customers
change). Why the pass is exact: the docstring of engine/funnel_scan.py."""

from __future__ import annotations

import numpy as np

from hourglass.engine import grouping

__all__ = ["chunk", "counts", "layout"]

_IDX = 40  # an index fits in 40 bits (as engine/funnel_scan.py)


def layout(t_min: int, t_max: int, last: int, parallel: bool = True) -> tuple[int, list[int]]:
    """The key's time bits and the first code of each range of customers (and one past the last):
    their keys fit in ``grouping.KEY_BITS``; with ``parallel``, at least ``2 * grouping.WORKERS``
    ranges, so that the threads share them."""
    bits = max(1, (t_max - t_min).bit_length())
    span = 1 << max(0, grouping.KEY_BITS - bits)  # customers per range
    if parallel:
        span = max(1, min(span, -(-(last + 1) // (2 * grouping.WORKERS))))
    starts = [min(i * span, last + 1) for i in range(last // span + 2)]
    return bits, starts


#: of one range: the entries' customers and where each customer starts, and, of the customers
#: reaching step 2 or more (in customer order): their level, the step-2 event of their best chain,
#: its entry's index, and the greedy completion's times from each step-2 event
Best = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]


def _best(keys: list[np.ndarray], window: int, bits: int) -> Best:
    """The pass up to each customer's best chain (engine/funnel_scan.py's docstring: why it is exact)."""
    n = len(keys)
    entries = keys[0]
    none = np.empty(0, dtype=np.int64)
    cust = entries >> bits
    first = np.empty(len(entries), dtype=bool)
    first[0] = True
    np.not_equal(cust[1:], cust[:-1], out=first[1:])
    at = np.flatnonzero(first)
    if n < 2 or not len(keys[1]):
        return cust, at, none, none, none, []
    k2 = keys[1]
    c2 = k2 >> bits
    upto = np.searchsorted(entries, k2, side="right")
    latest = upto - 1
    before = np.empty(len(k2), dtype=np.int64)
    before[0] = 0
    before[1:] = upto[:-1]
    ok = latest >= before
    ok[ok] &= cust[latest[ok]] == c2[ok]
    times = [k2]
    found = [np.ones(len(k2), dtype=bool)]
    for k in range(2, n):
        step = keys[k]
        if not len(step):
            break
        j = _next(step, times[-1])
        there = j < len(step)
        np.minimum(j, len(step) - 1, out=j)
        t = step[j]
        found.append(found[-1] & there & ((t >> bits) == c2))
        times.append(t)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return cust, at, none, none, none, times
    t1 = entries[latest[idx]]
    lv = np.ones(len(idx), dtype=np.int64)
    for f, t in zip(found, times, strict=True):
        lv += f[idx] & (t[idx] - t1 <= window)
    cu = c2[idx]
    runs = np.flatnonzero(np.concatenate(([True], cu[1:] != cu[:-1])))
    mask = (1 << _IDX) - 1
    best = np.maximum.reduceat((lv << _IDX) + (mask - np.arange(len(idx))), runs)
    top = best >> _IDX
    pick = mask - (best & mask)
    reached = top >= 2
    top, i = top[reached], idx[pick[reached]]
    t_top = times[0][i]
    for k, t in enumerate(times[1:], start=3):
        sel = top == k
        t_top[sel] = t[i[sel]]
    lowest = np.maximum(t_top - window, (t_top >> bits) << bits)
    e = np.maximum(np.searchsorted(entries, lowest, side="left"), before[i])
    return cust, at, top, i, e, times


def _diffs(
    entries: np.ndarray, top: np.ndarray, i: np.ndarray, e: np.ndarray, times: list[np.ndarray], n: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per step k >= 2: which of the reaching customers reach k, and their times from step k-1."""
    none: np.ndarray = np.empty(0, dtype=np.int64)
    out: list[tuple[np.ndarray, np.ndarray]] = [(none, none)] * (n - 1)
    t_1 = entries[e]
    for k in range(2, n + 1):
        sel = top >= k
        if k - 2 >= len(times) or not sel.any():
            break
        prev = t_1[sel] if k == 2 else times[k - 3][i[sel]]
        out[k - 2] = (sel, times[k - 2][i[sel]] - prev)
    return out


def counts(keys: list[np.ndarray], window: int, bits: int) -> tuple[list[int], list[list[np.ndarray]]]:
    """One range's customers per level (``[0, c1, c2, ...]``) and times per step (summed over the
    ranges by engine/funnel_scan.py ``summary``): :func:`chunk` without its per-customer arrays."""
    n = len(keys)
    out = [0] * (n + 1)
    diffs: list[list[np.ndarray]] = [[] for _ in range(n + 1)]
    if not len(keys[0]):
        return out, diffs
    _, at, top, i, e, times = _best(keys, window, bits)
    out[1] = len(at)
    for k, (_, d) in enumerate(_diffs(keys[0], top, i, e, times, n), start=2):
        out[k] = len(d)
        diffs[k].append(d)
    return out, diffs


def chunk(
    keys: list[np.ndarray], g: np.ndarray | None, window: int, bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[tuple[np.ndarray, np.ndarray]]]:
    """One range of customers (their keys per step, in order; step 1's groups ``g`` or None):
    each customer's (range-relative) code, level, group (None without ``g``) and, per step k >= 2,
    (index of the customer, diff); the pass, per customer."""
    n = len(keys)
    entries = keys[0]
    none = np.empty(0, dtype=np.int64)
    if not len(entries):
        diffs = [(none, none)] * (n - 1)
        return none, none.astype(np.int8), None if g is None else none.astype(np.int32), diffs
    cust, at, top, i, e, times = _best(keys, window, bits)
    codes = cust[at]
    level = np.ones(len(at), dtype=np.int8)
    entry = at.copy()  # each customer's best chain's entry (level 1: his earliest)
    pos = np.searchsorted(codes, cust[e])
    level[pos] = top
    entry[pos] = e
    diffs = [(pos[sel], d) for sel, d in _diffs(entries, top, i, e, times, n)]
    return codes, level, None if g is None else _least_group(entries, g, entry), diffs


def _least_group(entries: np.ndarray, g: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The group at each entry ``at`` (the first of its equal keys): the least of the group numbers
    of the step-1 events of that customer and time (the canonical order's tie rule)."""
    if len(entries) < 2 or not (entries[1:] == entries[:-1]).any():
        same: np.ndarray = g[at]
        return same
    head = np.concatenate(([True], entries[1:] != entries[:-1]))
    runs = np.flatnonzero(head)
    least: np.ndarray = np.minimum.reduceat(g, runs)[np.cumsum(head)[at] - 1]
    return least


def _next(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For sorted ``queries``: the index of the least key >= each (``len(keys)``: none)."""
    if len(queries) <= 2 * len(keys):
        return np.searchsorted(keys, queries, side="left")
    below = np.searchsorted(queries, keys, side="right")
    out: np.ndarray = np.cumsum(np.bincount(below, minlength=len(queries) + 1))[: len(queries)]
    return out
