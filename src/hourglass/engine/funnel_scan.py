"""The ordered funnel as one sequential pass over each step's events sorted by (customer, time): a
numpy kernel, linear in the events (issue 18: "latest valid start", no joins).

Input: for each step k (1..n) two integer arrays of the same length, ``codes`` (a customer's number,
>= 0, in order) and ``ts`` (µs; in order within a customer, or put in order here): the events of
step k. The steps are event sets no event
belongs to two of (the fast path's eligibility, engine/fastpath.py), so a step-k event follows a
step-(k-1) event of the customer exactly when its time is not earlier.

Why it is exact (docs/semantics.md, ADR 0003: a customer's level is the best over his entries of the
greedy completion within the window; his best chain is the earliest entry of the highest level):

- each (code, ts) is one int64 key ``code << bits | (ts - t_min)``, so "the customer's least step-k
  time >= t" is a ``searchsorted`` in the step's keys;
- an entry ``e`` (a step-1 event in the entry range) continues to the least step-2 event
  ``K2[i] >= e``: the entries of step-2 event ``i`` are those between ``K2[i-1]`` and ``K2[i]``;
  from ``K2[i]`` on the greedy completion (``T_3[i]``, ``T_4[i]``, ...) is the same for all of them,
  so it is computed once per step-2 event, not per entry; only the window (``T_k[i] - t1 <= w``)
  depends on the entry, and the latest of them (the latest valid start) reaches the highest level;
- a customer's level is the highest over his step-2 events ``i`` of that latest entry's level (1 if
  none); his best chain is, at the first ``i`` of that level, the earliest entry of ``i`` whose
  ``t1 >= T_level[i] - w`` (a ``searchsorted`` again); its times are ``t1, T_2[i], ...``.

Cost: a few passes over the entries and ``O((n + log E) * |step 2|)`` for the rest: linear in the
events per customer on every shape (a bot's 10^5 visits are a 10^5-long stretch of keys).
Customers are taken in ranges whose keys fit in 62 bits (``chunks``), which changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hourglass.engine import grouping
from hourglass.engine.grouping import grouped_sets, numbered, run_ranges
from hourglass.engine.scan_kernel import counts as range_counts
from hourglass.engine.scan_kernel import layout

__all__ = [
    "funnel_scan",
    "funnel_scan_rows",
    "funnel_scan_unsorted",
    "numbered",
    "sorted_by_code",
    "summary",
]

Arrays = tuple[np.ndarray, np.ndarray]


def __getattr__(name: str) -> int:
    """``WORKERS`` and ``PARALLEL_MIN``: engine/grouping.py's, read when asked (not copies made at
    import, which a test's or a caller's setting of grouping's would not reach)."""
    if name in ("WORKERS", "PARALLEL_MIN"):
        return int(getattr(grouping, name))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sorted_by_code(codes: np.ndarray, ts: np.ndarray) -> Arrays:
    """``(codes, ts)`` with the codes in order (a copy only when they were not; the times within a
    customer are put in order by :func:`funnel_scan`, on its keys)."""
    if len(codes) > 1 and not (codes[1:] >= codes[:-1]).all():
        order = np.argsort(codes, kind="stable")
        codes, ts = codes[order], ts[order]
    return codes, ts


def _entries_in_range(steps: Sequence[Arrays], since: int | None, until: int | None) -> list[Arrays]:
    """``steps`` with step 1 cut to the entry range (µs)."""
    codes1, ts1 = steps[0]
    if since is None and until is None:
        return list(steps)
    keep = np.ones(len(ts1), dtype=bool)
    if since is not None:
        keep &= ts1 >= since
    if until is not None:
        keep &= ts1 < until
    return [(codes1[keep], ts1[keep]), *steps[1:]]


def _layout(t_min: int, t_max: int, last: int, parallel: bool) -> tuple[int, np.ndarray]:
    """engine/scan_kernel.py ``layout``, the ranges' first codes as an array."""
    bits, starts = layout(t_min, t_max, last, parallel)
    return bits, np.asarray(starts, dtype=np.int64)


#: one thread's counts per level and time differences per step (merged by :func:`_summary`)
Part = tuple[list[int], list[list[np.ndarray]]]


def _parts(
    keys_of: Callable[[int], list[np.ndarray]], ranges: int, n: int, window: int, bits: int, parallel: bool
) -> list[Part]:
    """Each range's counts and differences from its keys per step (``keys_of``), the ranges in
    ``grouping.WORKERS`` threads when ``parallel`` (numpy releases the GIL in its passes over whole
    arrays)."""

    def one(r: int) -> Part:
        return range_counts(keys_of(r), window, bits)  # the pass (engine/scan_kernel.py)

    return run_ranges(one, ranges, grouping.WORKERS if parallel else 1)


def summary(parts: Sequence[Part], n: int) -> dict[str, Any]:
    """The summary row of the parts' customers (disjoint sets)."""
    row: dict[str, Any] = {"c1": sum(p[0][1] for p in parts)}
    for k in range(2, n + 1):
        row[f"c{k}"] = sum(p[0][k] for p in parts)
        row[f"med{k}"] = row[f"p90{k}"] = None
        if row[f"c{k}"]:
            d = np.concatenate([x for p in parts for x in p[1][k]])
            row[f"med{k}"], row[f"p90{k}"] = quantiles(d, (0.5, 0.9), 1_000_000)
    return row


def quantiles(values: np.ndarray, qs: Sequence[float], unit: int) -> list[float]:
    """``np.quantile(values.astype(float) / unit, qs)`` (method "linear"), bit for bit: the order
    statistics by one ``np.partition`` of the integers (that conversion keeps their order), then
    numpy's own interpolation. np.quantile imports numpy.ma on first use: 0.05 s of a fresh process's call,
    on its one thread (a fifth of the 10M store's funnel)."""
    n = len(values)
    spots = []
    for q in qs:
        v = (n - 1) * q
        lo = -1 if v >= n - 1 else math.floor(v)
        spots.append((v, lo, -1 if lo == -1 else lo + 1))
    got = np.partition(values, sorted({i % n for _, lo, hi in spots for i in (lo, hi)}))
    out = []
    for v, lo, hi in spots:
        a, b, t = float(got[lo]) / unit, float(got[hi]) / unit, v - lo
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


def _keys(codes: np.ndarray, ts: np.ndarray, c0: int, bits: int, t_min: int) -> np.ndarray:
    """One step's keys of a range of customers (from code ``c0``), in order."""
    key = codes.astype(np.int64)  # (a copy: computed in place from here)
    key -= c0
    key <<= bits
    return _in_order(_plus_time(key, ts, t_min))


def _plus_time(key: np.ndarray, ts: np.ndarray, t_min: int) -> np.ndarray:
    """``key | (ts - t_min)`` in place (``key``'s low bits are 0 and ``ts - t_min`` fits in them, so
    it is a sum: no temporary array; int64 sums wrap, so the result is exact in any case)."""
    np.add(key, ts.astype(np.int64, copy=False), out=key)
    key -= t_min
    return key


def _in_order(key: np.ndarray) -> np.ndarray:
    """``key`` sorted in place (a customer's times out of order: a step of several names, a file's
    rows not in time order); the check is one comparison pass."""
    if len(key) > 1 and not (key[1:] >= key[:-1]).all():
        key.sort()
    return key


def funnel_scan(
    steps: Sequence[Arrays], window: int, since: int | None = None, until: int | None = None
) -> dict[str, Any]:
    """The funnel's summary row (``c{k}``, ``med{k}``, ``p90{k}``: as the fast path's SQL) from each
    step's ``(codes, ts)`` (codes in order, :func:`sorted_by_code`); ``since``/``until``: the entry
    range in µs."""
    n = len(steps)
    steps = _entries_in_range(steps, since, until)
    nonempty = [s for s in steps if len(s[1])]
    if not len(steps[0][1]):
        return summary([], n)
    t_min = min(int(ts.min()) for _, ts in nonempty)
    t_max = max(int(ts.max()) for _, ts in nonempty)
    last = max(int(c[-1]) for c, _ in nonempty)
    parallel = len(steps[0][1]) >= grouping.PARALLEL_MIN
    bits, starts = _layout(t_min, t_max, last, parallel)
    # each step's row range per range of customers: one search (in the codes' own type: a search
    # with another type converts the whole array, per call)
    bounds = [np.searchsorted(c, starts.astype(c.dtype)) for c, _ in steps]
    firsts = starts.tolist()

    def keys_of(r: int) -> list[np.ndarray]:
        return [
            _keys(codes[b[r] : b[r + 1]], ts[b[r] : b[r + 1]], firsts[r], bits, t_min)
            for (codes, ts), b in zip(steps, bounds, strict=True)
        ]

    return summary(_parts(keys_of, len(starts) - 1, n, window, bits, parallel), n)


def funnel_scan_rows(
    codes: np.ndarray,
    ts: np.ndarray,
    step: np.ndarray,
    n: int,
    window: int,
    since: int | None = None,
    until: int | None = None,
) -> dict[str, Any]:
    """:func:`funnel_scan` of the matched rows of all steps at once: ``codes`` in order, ``ts``
    (µs), ``step`` (1..n); the ranges of customers, each split by step, in threads."""
    return summary(_rows_parts(codes, ts, step, n, window, since, until, threads=True), n)


def funnel_scan_unsorted(
    customers: np.ndarray,
    ts: np.ndarray,
    step: np.ndarray,
    n: int,
    window: int,
    since: int | None = None,
    until: int | None = None,
) -> dict[str, Any]:
    """:func:`funnel_scan_rows` of rows in any order with integer ``customers``: split into
    ``grouping.WORKERS`` sets of customers (by a multiplicative hash of the id), each grouped by
    customer, numbered and scanned in its own thread (engine/grouping.py ``grouped_sets``)."""
    parallel = len(customers) >= grouping.PARALLEL_MIN
    ways = grouping.WORKERS if parallel else 1

    def part(order: np.ndarray, grouped: np.ndarray) -> list[Part]:
        return _rows_parts(numbered(grouped), ts[order], step[order], n, window, since, until, threads=False)

    return summary([p for ps in grouped_sets(customers, ways, part) for p in ps], n)


def _rows_parts(
    codes: np.ndarray,
    ts: np.ndarray,
    step: np.ndarray,
    n: int,
    window: int,
    since: int | None,
    until: int | None,
    *,
    threads: bool,
) -> list[Part]:
    """:func:`funnel_scan_rows`'s parts (``threads``: the ranges in threads)."""
    if since is not None or until is not None:
        keep = step != 1
        inside = np.ones(len(ts), dtype=bool)
        if since is not None:
            inside &= ts >= since
        if until is not None:
            inside &= ts < until
        keep |= inside
        codes, ts, step = codes[keep], ts[keep], step[keep]
    entries = int(np.count_nonzero(step == 1))
    if not entries:
        return []
    parallel = threads and entries >= grouping.PARALLEL_MIN
    t_min = int(ts.min())
    bits, starts = _layout(t_min, int(ts.max()), int(codes[-1]), parallel)
    bounds = np.searchsorted(codes, starts.astype(codes.dtype)).tolist()
    firsts = starts.tolist()

    def keys_of(r: int) -> list[np.ndarray]:
        lo, hi = bounds[r], bounds[r + 1]
        key = codes[lo:hi].astype(np.int64)  # (a copy)
        key -= firsts[r]
        key <<= bits
        key = _plus_time(key, ts[lo:hi], t_min)
        # the range's keys split by step: one stable radix sort of the small step numbers (1..n),
        # one gather and slices (the keys built once for all steps, one gather instead of two)
        s = step[lo:hi]
        key = key[np.argsort(s, kind="stable")]
        ends = np.cumsum(np.bincount(s, minlength=n + 1)).tolist()
        return [_in_order(key[ends[k - 1] : ends[k]]) for k in range(1, n + 1)]

    return _parts(keys_of, len(starts) - 1, n, window, bits, parallel)
