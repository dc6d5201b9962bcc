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


#: past every key (a step's keys fit in ``grouping.KEY_BITS`` bits): "no such event"
_NONE = np.iinfo(np.int64).max

#: of one range, of the step-2 events after an entry (candidates, in customer order): the level of
#: each customer reaching step 2 or more, the candidate of his best chain, its entry's index, and
#: each candidate's greedy completion's times from step 2 on (``_NONE``: none)
Best = tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]


def _best(keys: list[np.ndarray], window: int, bits: int) -> Best:
    """The pass up to each customer's best chain (engine/funnel_scan.py's docstring: why it is
    exact). ``keys[0]`` has at least one key."""
    n = len(keys)
    entries = keys[0]
    none = np.empty(0, dtype=np.int64)
    if n < 2 or not len(keys[1]):
        return none, none, none, []
    k2 = keys[1]
    upto = np.searchsorted(entries, k2, side="right")
    # the candidates: the step-2 events with an entry since the previous one (an entry continues to
    # the least step-2 time >= its own: the entries after the previous step-2 event come here)
    since = np.empty(len(k2), dtype=upto.dtype)
    since[0] = 0
    since[1:] = upto[:-1]
    cand = np.flatnonzero(upto > since)
    if not len(cand):
        return none, none, none, []
    t1 = entries[upto[cand] - 1]  # each candidate's latest entry
    times = [k2[cand]]
    for k in range(2, n):
        # the least step-k time >= the step-(k-1) one; past the step's last key, _NONE (so later
        # steps find none either: the times stay in order)
        step = keys[k]
        ext = np.empty(len(step) + 1, dtype=np.int64)
        ext[:-1] = step
        ext[-1] = _NONE
        times.append(ext[_next(step, times[-1])])
    # the latest entry's level: 1 + the steps whose time is within its window and its customer's keys
    # (a key past them is another customer's; a latest entry of an earlier customer reaches level 1
    # only, as step 2 itself is past his keys). Within a customer keys differ by less than 2^bits,
    # so a longer window is 2^bits; the times are in order, so the steps counted are a prefix.
    low = (1 << bits) - 1
    deadline = t1 + min(window, 1 << bits)
    np.minimum(deadline, t1 | low, out=deadline)
    lv = np.ones(len(cand), dtype=np.int64)
    last = times[0].copy()  # the time of the last step counted (its level's)
    for k, t in enumerate(times):
        inside = t <= deadline
        lv += inside
        if k:
            np.copyto(last, t, where=inside)
    # per customer: the highest level, then the earliest candidate (the key lv * 2^40 + (2^40 - 1 - j)
    # orders by level, then by -j)
    cu = times[0] >> bits
    head = np.empty(len(cu), dtype=bool)
    head[0] = True
    np.not_equal(cu[1:], cu[:-1], out=head[1:])
    runs = np.flatnonzero(head)
    mask = (1 << _IDX) - 1
    score = lv << _IDX
    score += mask
    score -= np.arange(len(cand))
    best = np.maximum.reduceat(score, runs)
    top = best >> _IDX
    pick = mask - (best & mask)
    reached = top >= 2
    top, i = top[reached], pick[reached]
    t_top = last[i]
    # the chain's entry: the earliest of the candidate's entries (after the previous step-2 event)
    # within the window of the chain's last step
    lowest = np.maximum(t_top - window, t_top & ~low)
    e = np.maximum(np.searchsorted(entries, lowest, side="left"), since[cand[i]])
    return top, i, e, times


def _customers(entries: np.ndarray, bits: int) -> int:
    """The number of customers of ``entries`` (keys in order)."""
    if not len(entries):
        return 0
    change = entries[1:] ^ entries[:-1]
    change >>= bits
    return 1 + int(np.count_nonzero(change))


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
    top, i, e, times = _best(keys, window, bits)
    out[1] = _customers(keys[0], bits)
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
    top, i, e, times = _best(keys, window, bits)
    cust = entries >> bits
    first = np.empty(len(entries), dtype=bool)
    first[0] = True
    np.not_equal(cust[1:], cust[:-1], out=first[1:])
    at = np.flatnonzero(first)
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
