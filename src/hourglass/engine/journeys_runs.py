"""The journeys' sets and ranges of customers cut from rows that come as a few runs sorted by
customer (engine/journeys_ranges.py ``in_sets``, bench/JOURNEYS.md): a store's rows are ordered by
(event, customer, time) (engine/event_store.py), so DuckDB's unordered fetch of the event level is
one run per event name, each sorted by customer, and the stage level's a run per stage's name.

A range of customers is then one contiguous slice of each run (found by a binary search of the
range's first customer in every run): its keys ``customer << (tbits + nbits) | (ts - t_min) << nbits
| node`` are built from those slices in a buffer the size of the range (in the cache, no gathers),
sorted, and handed to the kernel. No pass over all the rows groups them (the radix sort of their
ranges and the three gathers per set of ``ordered_keys``: about half of a set's CPU), and the sets
are ranges of ranges, so nothing is compressed per set either.

Exact whatever the rows' order: the runs are found (maximal non-decreasing stretches of the
customer), a range's rows are exactly its slices of the runs, and its keys are sorted whole; the
path declines (None: the rows are grouped as before) when there are many runs, so a file's rows in
time order pay one cheap check of a sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from hourglass.engine import journeys_order
from hourglass.engine.journeys_order import Each, layout
from hourglass.engine.journeys_seq import I64

__all__ = ["ENABLED", "RANGE_ROWS", "RUNS_MAX", "SLICES_MAX", "in_runs", "sorted_runs"]

P = TypeVar("P")
Q = TypeVar("Q")

#: the path's switch (tests compare it with the grouping by ranges)
ENABLED = True
#: the most runs sorted by customer taken as such (a store's event level: one per name, <= 255)
RUNS_MAX = 256
#: the most (run, range) slices: each costs a few numpy calls in Python
SLICES_MAX = 1 << 14
#: about this many rows per range (its keys, 8 bytes each, stay in the core's cache)
RANGE_ROWS = 1 << 16


def sorted_runs(c: npt.NDArray[Any]) -> list[int] | None:
    """The bounds of the maximal stretches of non-decreasing ``c`` (``[0, .., len(c)]``), None when
    there are more than ``RUNS_MAX`` or no rows: a sample first (a subsequence has no more descents
    than the whole), then every row."""
    m = len(c)
    if m < 2:
        return [0, m] if m else None
    sample = c[:: max(1, m // 4096)]
    if np.count_nonzero(sample[1:] < sample[:-1]) >= RUNS_MAX:
        return None
    down = c[1:] < c[:-1]
    if np.count_nonzero(down) >= RUNS_MAX:
        return None
    return [0, *(np.flatnonzero(down) + 1).tolist(), m]


def in_runs(
    c: npt.NDArray[Any],
    ts: I64,
    node: npt.NDArray[Any],
    bounds: list[int],
    each: Each[Q],
    combine: Callable[[list[Q], int], P],
    ways: int,
    run_ranges: Callable[[Callable[[int], P], int, int], list[P]],
) -> list[P] | None:
    """``combine`` of ``each`` of every range's sorted keys of each of ``ways`` sets of customers
    (consecutive ranges of about equal rows) and the keys' time bits, the sets through
    ``run_ranges`` (threads); ``bounds``: :func:`sorted_runs`'s. None when the keys do not fit
    (engine/journeys_order.py ``layout``) or the ranges would make too many slices."""
    lay = layout(ts, node)
    if lay is None:
        return None
    t_min, tbits, nbits = lay
    starts, ends = bounds[:-1], bounds[1:]
    c_min = min(int(c[a]) for a in starts)
    c_max = max(int(c[b - 1]) for b in ends)
    room = journeys_order._KEY_BITS - tbits - nbits  # customer bits of a range (its key budget)
    per = max(1, RANGE_ROWS * (c_max - c_min + 1) // max(1, len(c)))  # customers per range
    sbits = min(room, max(1, per.bit_length() - 1))
    if len(starts) * (((c_max - c_min) >> sbits) + 1) > SLICES_MAX:
        sbits = room
    count = ((c_max - c_min) >> sbits) + 1
    if len(starts) * count > SLICES_MAX:
        return None
    # inner[r - 1]: range r's first customer (range r: [c_min + r << sbits, c_min + (r + 1) << sbits)),
    # in the customers' own type (a binary search of another type converts the whole run first)
    inner = (c_min + (np.arange(1, count, dtype=np.int64) << sbits)).astype(c.dtype)
    # at[j, r]: the row where range r starts in run j; at[j, count]: the run's end
    at = np.array(
        [[a, *(a + np.searchsorted(c[a:b], inner)).tolist(), b] for a, b in zip(starts, ends, strict=True)],
        dtype=np.int64,
    )
    rows = (at[:, 1:] - at[:, :-1]).sum(axis=0)
    total = np.cumsum(rows)
    ways = max(1, min(ways, count))
    cuts = [0, *np.searchsorted(total, [total[-1] * w // ways for w in range(1, ways)], side="right"), count]
    cuts = [int(x) for x in cuts]
    mask = (1 << sbits) - 1

    def one(w: int) -> P:
        r0, r1 = cuts[w], cuts[w + 1]
        out: list[Q] = []
        if r1 <= r0:
            return combine(out, tbits)
        # the set's keys, run by run (its rows are one slice of each run): a few large passes
        lo, hi = at[:, r0], at[:, r1]
        base = np.concatenate(([0], np.cumsum(hi - lo)))
        mine = np.empty(int(base[-1]), dtype=np.int64)
        for j in range(len(lo)):
            a, b = int(lo[j]), int(hi[j])
            k = mine[int(base[j]) : int(base[j + 1])]
            np.subtract(c[a:b], c_min, out=k, dtype=np.int64)
            k &= mask
            k <<= tbits
            k += ts[a:b]
            k -= t_min
            k <<= nbits
            np.bitwise_or(k, node[a:b], out=k, casting="unsafe")
        # range r's keys: its piece of each run, copied together (in the cache), sorted
        starts = (at[:, r0:r1] - lo[:, None] + base[:-1, None]).tolist()
        stops = (at[:, r0 + 1 : r1 + 1] - lo[:, None] + base[:-1, None]).tolist()
        buf = np.empty(int(rows[r0:r1].max()), dtype=np.int64)
        for i in range(r1 - r0):
            n = int(rows[r0 + i])
            if not n:
                continue
            keys = buf[:n]
            np.concatenate([mine[s[i] : e[i]] for s, e in zip(starts, stops, strict=True)], out=keys)
            keys.sort()
            out.append(each(keys, tbits, nbits))  # its arrays are new: the buffer is reused
        return combine(out, tbits)

    return run_ranges(one, ways, ways)
