"""The order (customer, ts, node) of the fast path's elements for integer customers, in numpy
(engine/journeys_fast.py, bench/JOURNEYS.md): DuckDB hands the rows over unordered (it materialises
them in parallel) and numpy sorts them by ranges of customers, in threads, instead of DuckDB's
global ``ORDER BY`` (one thread merges its sorted runs at the end).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from hourglass.engine import journeys_wide
from hourglass.engine.grouping import run_ranges
from hourglass.engine.journeys_seq import I64, Sorted, sorted_from_numpy
from hourglass.engine.load import Events
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = [
    "NUMPY_SORT",
    "Done",
    "Each",
    "Threaded",
    "layout",
    "numpy_order",
    "numpy_sorted",
    "ordered_keys",
    "ordered_ranges",
    "signed_ids",
    "sorted_in_numpy",
]

R = TypeVar("R")

NUMPY_SORT = True  # integer customers' rows put in order by numpy (sorted_in_numpy below)
NUMPY_ALL = False  # also a file's event level (far ids grouped by hash)


class Done:
    """An answer computed per set of customers in threads (``numpy_sorted``'s ``threaded``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


#: the kernels per set of customers in threads on the unordered rows (``c``, ``ts``, ``node``); None
#: when they decline (then the rows are sorted and the whole-log kernel runs)
Threaded = Callable[[npt.NDArray[Any], I64, npt.NDArray[Any]], Any]


def numpy_sorted(
    raw: Any,
    sql: str,
    in_numpy: bool,
    threaded: Threaded | None = None,
    wide: bool = False,
    fetch: Callable[[str], dict[str, Any]] | None = None,
) -> Sorted | Done | None:
    """``sql``'s rows fetched unordered (in parallel), sorted by numpy (``in_numpy``; ``wide``: many
    nodes, engine/journeys_wide.py) or DuckDB; with ``threaded``, its answer (:class:`Done`) when
    it gives one (the rows' order by sets of customers, each in a thread with its kernel:
    engine/journeys_ranges.py). ``fetch``: the unordered rows' columns of ``sql`` from elsewhere
    (engine/fetched.py, the dashboard's elements fetched once; read-only arrays)."""
    wide = wide and not in_numpy and journeys_wide.ENABLED
    if not in_numpy and not wide:
        return sorted_from_numpy(dict(raw.sql(f"{sql} ORDER BY 1, 2, 3").fetchnumpy()))
    got = fetch(sql) if fetch is not None else dict(raw.sql(sql).fetchnumpy())
    if any(np.ma.is_masked(v) for v in got.values()):
        return None
    c, ts, node = np.asarray(got["c"]), np.asarray(got["ts"], dtype=np.int64), np.asarray(got["node"])
    if threaded is not None and not wide:
        done = threaded(c, ts, node)
        if done is not None:
            return Done(done)
    seq = journeys_wide.wide_sorted(c, ts, node) if wide else sorted_in_numpy(c, ts, node)
    if seq is None:
        raw.register(view := f"hg_journey_rows_{uuid.uuid4().hex}", got)
        try:
            seq = sorted_from_numpy(dict(raw.sql(f"SELECT * FROM {view} ORDER BY 1, 2, 3").fetchnumpy()))
        finally:
            raw.unregister(view)
    return seq


def signed_ids(c: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Integer ids as int64 in the same order where they are unsigned past int64's range (hashed
    ids written as UINT64): the top bit flipped (a bijection that keeps the order); else as given."""
    c = np.asarray(c)
    if c.dtype.kind == "u" and c.dtype.itemsize == 8 and len(c) and int(c.max()) > np.iinfo(np.int64).max:
        return (c ^ np.uint64(1 << 63)).view(np.int64)
    return c


def numpy_order(events: Events, spec: PathsSpec | TransitionsSpec, names: Sequence[str] | None) -> bool:
    """numpy orders a store's dense customer keys, the stage level's rows and the transitions (their
    kernel per set of customers in threads: 10M `once` Parquet, event level, in one process
    alternated, load 9: 2.49 CPU-s against 2.66 with DuckDB's sort and one thread's kernel); a
    file's event-level paths are DuckDB's (its 62-bit ids grouped by hash: 2.19 against 2.11 on
    10M `returning`, and paths' kernel is cheap); past 255 names DuckDB (8 node bits and a year of
    µs, 45 bits, do not fit in its keys)."""
    few = len(names or ()) <= 255
    chosen = spec.level == "stage" or events.key_count is not None or isinstance(spec, TransitionsSpec)
    return NUMPY_SORT and few and (NUMPY_ALL or chosen)


#: the key's budget for the in-numpy order: customer, time and node bits (int64)
_KEY_BITS = 62


def sorted_in_numpy(
    c: npt.NDArray[Any], ts: I64, node: npt.NDArray[Any], workers: int | None = None
) -> Sorted | None:
    """The elements ``(c, ts, node)`` (integer customers, any order) in the order (customer, ts,
    node) without DuckDB's global sort (:func:`ordered_ranges`), decoded. None when the time and
    node bits leave fewer than 10 bits of customer (then DuckDB sorts). ``workers``: the threads
    (default ``WORKERS`` from 100,000 rows; engine/journeys_ranges.py's sets run one each)."""
    m = len(c)
    if not m:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    got: tuple[list[None], I64, list[int], int, int, int] | None = ordered_keys(c, ts, node, workers, None)
    if got is None:
        return None
    _, keys, bounds, tbits, nbits, t_min = got
    out_node = (keys & ((1 << nbits) - 1)).astype(np.int32)
    keys >>= nbits
    out_ts = keys & ((1 << tbits) - 1)
    out_ts += t_min
    keys >>= tbits  # the customer within its range: a range's first row is a new customer
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    firsts_at = np.asarray(bounds[:-1], dtype=np.int64)
    new[firsts_at[firsts_at < m]] = True
    return new, out_ts, out_node


#: a kernel of one range's sorted keys ``customer << (tbits + nbits) | (ts - t_min) << nbits |
#: node`` (the customer within its range; ``keys``, ``tbits``, ``nbits``)
Each = Callable[[I64, int, int], R]


def ordered_ranges(
    c: npt.NDArray[Any], ts: I64, node: npt.NDArray[Any], each: Each[R], workers: int | None = None
) -> list[R] | None:
    """``each`` of every range of customers' sorted keys (:func:`sorted_in_numpy`'s order, ranges
    in customer order, each range whole customers), run right after the range's sort (its keys
    still in the cache); None where :func:`sorted_in_numpy` is."""
    if not len(c):
        return []
    got = ordered_keys(c, ts, node, workers, each)
    return None if got is None else got[0]


def ordered_keys(
    c: npt.NDArray[Any],
    ts: I64,
    node: npt.NDArray[Any],
    workers: int | None,
    each: Each[R] | None,
    grouped: tuple[npt.NDArray[Any], npt.NDArray[Any], tuple[int, int, int]] | None = None,
) -> tuple[list[R], I64, list[int], int, int, int] | None:
    """The keys sorted per range (:func:`sorted_in_numpy`): ``each``'s results per range, the keys,
    the ranges' bounds, the time and node bits and the least time. The rows split into ranges of
    customers whose keys fit in 62 bits, then one SIMD sort of each range's keys (in threads: numpy
    releases the GIL). Ids within 2^15 ranges of each other (a store's dense keys, most files' ids)
    are split by a radix sort of their range; others grouped and numbered first
    (engine/funnel_scan.py: one sort of (hash of the id, row index) words), so the customers may
    come in hash order (no figure depends on it). ``grouped``: a set's rows grouped already (their
    order in ``c``, ``ts``, ``node``, their ids in it, and the layout :func:`layout` of all rows).
    """
    from hourglass.engine.grouping import WORKERS, group_ids, numbered

    if grouped is not None:
        return _keyed(grouped[0], numbered(grouped[1]), False, ts, node, grouped[2], each, 1, 0, 0)
    m = len(c)
    c = signed_ids(c)
    ts = np.asarray(ts, dtype=np.int64)
    got = layout(ts, node)
    if got is None:
        return None
    t_min, tbits, nbits = got
    sbits = _KEY_BITS - tbits - nbits  # customer bits of a range
    c = np.asarray(c)
    c_min, c_max = int(c.min()), int(c.max())
    workers = (WORKERS if m >= 100_000 else 1) if workers is None else workers
    if m >= 1_000_000 and workers > 1:  # ranges enough for the threads
        sbits = min(sbits, max(1, ((c_max - c_min) // (4 * WORKERS)).bit_length()))
    # near ids (their differences in int64): each row's range, radix-sorted
    if c_max - c_min < 1 << 62 and (c_max - c_min) >> sbits < 1 << 15:
        part = np.subtract(c, c_min, dtype=np.int64)
        part >>= sbits
        part16 = part.astype(np.int16)
        del part
        order = np.argsort(part16, kind="stable")
        counts = np.bincount(part16, minlength=1)
        del part16
    else:
        order, ids = group_ids(c)
        return _keyed(order, numbered(ids), False, ts, node, (t_min, tbits, nbits), each, workers, 0, 0)
    return _keyed(order, c, True, ts, node, (t_min, tbits, nbits), each, workers, c_min, sbits, counts)


def layout(ts: I64, node: npt.NDArray[Any]) -> tuple[int, int, int] | None:
    """The least time, the time bits and the node bits of the keys; None when they leave fewer
    than 10 bits of customer (or a node is negative)."""
    t_min = int(ts.min())
    tbits = max(1, (int(ts.max()) - t_min).bit_length())
    nbits = max(1, int(node.max()).bit_length())
    return None if int(node.min()) < 0 or tbits + nbits > _KEY_BITS - 10 else (t_min, tbits, nbits)


def _keyed(
    order: npt.NDArray[Any],
    codes: npt.NDArray[Any],
    rel: bool,
    ts: I64,
    node: npt.NDArray[Any],
    lay: tuple[int, int, int],
    each: Each[R] | None,
    workers: int,
    c_min: int,
    sbits: int,
    counts: npt.NDArray[Any] | None = None,
) -> tuple[list[R], I64, list[int], int, int, int]:
    """The rows in ``order`` keyed per range and sorted (``rel``: ``codes`` are the ids, by range
    ``counts``; else the customers' numbers in ``order``'s order)."""
    t_min, tbits, nbits = lay
    m = len(order)
    if not rel:
        sbits = _KEY_BITS - tbits - nbits
        counts = np.bincount(codes >> sbits, minlength=1)
    assert counts is not None
    bounds = np.concatenate(([0], np.cumsum(counts))).tolist()
    keys = np.empty(m, dtype=np.int64)
    mask = (1 << sbits) - 1

    def one(r: int) -> Any:
        lo, hi = bounds[r], bounds[r + 1]
        at = order[lo:hi]
        k = keys[lo:hi]
        if rel:
            np.subtract(codes[at], c_min, out=k, dtype=np.int64)
        else:
            k[:] = codes[lo:hi]
        k &= mask
        k <<= tbits
        k |= ts[at] - t_min
        k <<= nbits
        k |= node[at].astype(np.int64)
        k.sort()
        return None if each is None or not len(k) else each(k, tbits, nbits)

    got = run_ranges(one, len(bounds) - 1, workers)
    return [g for g in got if g is not None], keys, bounds, tbits, nbits, t_min
