"""The order (customer, ts, node) of many nodes' elements in numpy (engine/journeys_fast.py,
bench/JOURNEYS.md, bench/WIDE.md "Left" 1): past 255 names the key (customer, µs, node) does not
fit in 62 bits (20 node bits for 10^6 names), so DuckDB's ``ORDER BY`` sorted them (2-3 CPU-s per
10M rows, its merge on one thread at the end).

Here the rows are split into ranges of customers (near ids, a store's keys: by a radix sort of the
range; far ids, a file's: grouped by hash and numbered, engine/grouping.py), and each range, in
threads, is ordered by an argsort of its ``customer << tbits | (ts - t_min)`` words (a SIMD
argsort); the node is gathered in that order, and the rare rows equal in (customer, ts) are ordered
by node inside their tie groups only. The result is the full sort's arrays, exactly: a range holds
whole customers, ranges come in customer order (or in hash order of whole customers, which no
figure depends on), and every row's key is distinct but for the ties, which are put in node order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from hourglass.engine.journeys_seq import I64, Sorted

__all__ = [
    "ENABLED",
    "IN_TIME_ORDER",
    "KEY_BITS",
    "PARALLEL_MIN",
    "RANGE_KERNEL",
    "RANGE_ROWS",
    "Grouped",
    "grouped_nodes",
    "time_grouped",
    "time_ordered",
    "wide_sorted",
]

R = TypeVar("R")

#: the path's switch (DuckDB's ``ORDER BY`` when off)
ENABLED = True
#: the words' budget: customer bits within a range + time bits
KEY_BITS = 62
#: about this many rows per range
RANGE_ROWS = 1 << 16
#: the fewest rows worth threads (and rows per thread of the ranges' radix sort)
PARALLEL_MIN = 100_000
#: the paths' kernel per range in the sort's threads (engine/journeys_paths.py ``wide_paths``)
RANGE_KERNEL = True
#: rows already in time order (a log file's usual order) grouped by customer, not sorted
IN_TIME_ORDER = True


def wide_sorted(
    c: npt.NDArray[Any],
    ts: I64,
    node: npt.NDArray[Any],
    workers: int | None = None,
    each: Callable[[Sorted], R] | None = None,
    into: list[R] | None = None,
) -> Sorted | None:
    """The elements ``(c, ts, node)`` (integer customers, any order, no null) in the order
    (customer, ts, node), decoded (engine/journeys_seq.py ``Sorted``); None when the time leaves
    fewer than 10 bits of customer in a word (then DuckDB sorts). ``each``: run on every range of
    whole customers of those arrays in the range's thread right after its sort (the paths' kernel,
    engine/journeys_paths.py ``wide_paths``), its results appended to ``into`` in range order."""
    got = _wide(c, ts, node, workers, each)
    if got is None:
        return None
    if into is not None:
        into.extend(got[1])
    return got[0]


def _wide(
    c: npt.NDArray[Any],
    ts: I64,
    node: npt.NDArray[Any],
    workers: int | None,
    each: Callable[[Sorted], R] | None,
) -> tuple[Sorted, list[R]] | None:
    from hourglass.engine.grouping import WORKERS, group_ids, numbered, run_ranges
    from hourglass.engine.journeys_order import signed_ids

    m = len(c)
    if not m:
        empty = np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        return empty, [] if each is None else [each(empty)]
    ts = np.asarray(ts, dtype=np.int64)
    t_min = int(ts.min())
    tbits = max(1, (int(ts.max()) - t_min).bit_length())
    sbits = KEY_BITS - tbits
    if sbits < 10:
        return None
    workers = (WORKERS if m >= PARALLEL_MIN else 1) if workers is None else workers
    c = signed_ids(c)
    c_min, c_max = int(c.min()), int(c.max())
    room = sbits
    # ranges of about RANGE_ROWS rows (an argsort in the cache: 34 ns a row at 80k, 68 at 1M)
    sbits = min(room, max(1, (RANGE_ROWS * (c_max - c_min + 1) // m).bit_length() - 1))
    near = c_max - c_min < 1 << 62 and (c_max - c_min) >> sbits < 1 << 15
    if near:  # each row's range, radix-sorted (a stable argsort of 16 bits) per slice of rows, in threads
        count = ((c_max - c_min) >> sbits) + 1
        ways = max(1, min(workers, m // max(1, PARALLEL_MIN)))
        cuts = [m * j // ways for j in range(ways + 1)]

        def split(j: int) -> tuple[npt.NDArray[np.intp], list[int]]:
            a, b = cuts[j], cuts[j + 1]
            part = np.subtract(c[a:b], c_min, dtype=np.int64)
            part >>= sbits
            part16 = part.astype(np.int16)
            del part
            got = np.argsort(part16, kind="stable")
            got += a
            return got, [0, *np.cumsum(np.bincount(part16, minlength=count)).tolist()]

        pieces = run_ranges(split, ways, ways)
        counts = np.sum([np.diff(b) for _, b in pieces], axis=0)
        codes = c
    else:  # grouped by hash, customers numbered in that order
        order, ids = group_ids(c)
        codes = numbered(ids)
        del ids
        sbits = min(room, max(1, (RANGE_ROWS * (int(codes[-1]) + 1) // m).bit_length() - 1))
        counts = np.bincount(codes >> sbits, minlength=1)
        pieces = []
    bounds = np.concatenate(([0], np.cumsum(counts))).tolist()
    mask = (1 << sbits) - 1
    new = np.empty(m, dtype=bool)
    out_ts = np.empty(m, dtype=np.int64)
    out_node = np.empty(m, dtype=np.int32)

    def one(r: int) -> R | None:
        lo, hi = bounds[r], bounds[r + 1]
        if hi <= lo:
            return None
        at = np.concatenate([o[b[r] : b[r + 1]] for o, b in pieces]) if near else order[lo:hi]
        if near:
            k = np.subtract(codes[at], c_min, dtype=np.int64)
        else:
            k = codes[lo:hi].astype(np.int64)
        k &= mask
        k <<= tbits
        k += ts[at]
        k -= t_min
        p = np.argsort(k)
        k = k[p]
        nd = node[at[p]].astype(np.int32)
        same = k[1:] == k[:-1]
        if same.any():  # rows equal in (customer, ts): ordered by node within their groups
            tied = np.zeros(len(k), dtype=bool)
            tied[1:] = same
            tied[:-1] |= same
            where = np.flatnonzero(tied)
            sub = nd[where]
            nd[where] = sub[np.lexsort((sub, k[where]))]
        out_node[lo:hi] = nd
        np.bitwise_and(k, (1 << tbits) - 1, out=out_ts[lo:hi])
        out_ts[lo:hi] += t_min
        k >>= tbits
        fresh = new[lo:hi]
        fresh[0] = True
        np.not_equal(k[1:], k[:-1], out=fresh[1:])
        return None if each is None else each((fresh, out_ts[lo:hi], out_node[lo:hi]))

    got = run_ranges(one, len(bounds) - 1, workers)
    return (new, out_ts, out_node), [g for g in got if g is not None]


def time_ordered(c: npt.NDArray[Any], ts: I64, node: npt.NDArray[Any]) -> Sorted | None:
    """:func:`wide_sorted`'s answer (customers in hash order) for rows already in time order (``ts``
    non-decreasing, as a log file's rows usually are: checked; else None): each customer's rows
    kept in their order by one stable grouping (engine/grouping.py ``group_ids``, a SIMD sort of a
    word per row) instead of a sort of every row's key, then the rows equal in (customer, ts)
    ordered by node within their groups (:func:`time_grouped`, then :func:`grouped_nodes`)."""
    grouped = time_grouped(c, ts)
    return None if grouped is None else grouped_nodes(grouped, node)


#: :func:`time_grouped`'s rows: their order, where a customer starts in it, the times in it, and
#: the rows equal in (customer, ts) (their positions in the order and a number per tie), if any
Grouped = tuple[
    npt.NDArray[np.intp],
    npt.NDArray[np.bool_],
    I64,
    tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]] | None,
]


def time_grouped(c: npt.NDArray[Any], ts: I64) -> Grouped | None:
    """The first half of :func:`time_ordered`, which needs no node (a caller may number the nodes
    meanwhile, in another thread): the rows' order grouped by customer, each customer's rows in
    file order, where a customer starts and the times in that order; None when the rows are not
    in time order. The rows tied in (customer, ts) are found here too (no node needed)."""
    from hourglass.engine.grouping import group_ids

    m = len(c)
    ts = np.asarray(ts, dtype=np.int64)
    if not IN_TIME_ORDER or not m or not bool(np.all(ts[1:] >= ts[:-1])):
        return None
    order, grouped = group_ids(np.asarray(c))
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(grouped[1:], grouped[:-1], out=new[1:])
    del grouped
    out_ts = ts[order]
    tie = np.zeros(m, dtype=bool)
    np.equal(out_ts[1:], out_ts[:-1], out=tie[1:])
    tie &= ~new
    ties = None
    if tie.any():
        head = tie.copy()
        head[:-1] |= tie[1:]  # the first row of each tie too
        where = np.flatnonzero(head)
        ties = where, np.cumsum(~tie[where])
    return order, new, out_ts, ties


def grouped_nodes(grouped: Grouped, node: npt.NDArray[Any]) -> Sorted:
    """The second half of :func:`time_ordered`: the nodes in :func:`time_grouped`'s order, the rows
    equal in (customer, ts) in node order within their groups."""
    order, new, out_ts, ties = grouped
    out_node = np.asarray(node)[order].astype(np.int32, copy=False)  # (a gather: a new array already)
    if ties is not None:  # rows equal in (customer, ts): in node order within their groups
        where, group = ties
        sub = out_node[where]
        out_node[where] = sub[np.lexsort((sub, group))]
    return new, out_ts, out_node
