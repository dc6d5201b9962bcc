"""Customers' rows grouped in numpy, and work run per range (or set) of customers in threads: the
shared helpers of the funnel's sequential scan (engine/funnel_scan.py) and the journeys' numpy order
(engine/journeys_order.py). numpy releases the GIL in its passes over whole arrays, so threads over
disjoint sets of customers use the cores; splitting at customer boundaries keeps every answer exact.

- :func:`group_ids`: an order of the rows that keeps each integer id's rows together (one SIMD sort
  of (hash of the id, row index) words, the ids whose truncated hashes collide sorted apart).
- :func:`grouped_sets`: the same for ``ways`` disjoint sets of customers at once, with no pass that
  compresses the rows by set: each thread sorts the words of its slice of the rows, the sorted
  slices are cut at the sets' hash bounds, and each set's pieces are merged and handed to ``then``
  in the set's thread (the grouping, the gathers and the kernel of a set in one task).
- :func:`run_ranges`: ``fn(0..count-1)`` in up to ``WORKERS`` threads, results in order.
- :func:`numbered`: customer numbers 0, 1, ... of values grouped by customer.

The module's constants are read at each call, so tests may set them (more ways than cores, small
key budgets, a zero hash that makes every id collide).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

__all__ = [
    "KEY_BITS",
    "MULT",
    "PARALLEL_MIN",
    "WORKERS",
    "group_ids",
    "grouped_sets",
    "numbered",
    "run_ranges",
]

T = TypeVar("T")

#: the kernels' key budget: customer bits + time (+ node) bits <= KEY_BITS (int64, with room for sums)
KEY_BITS = 62
#: threads for the sets and ranges of customers
WORKERS = max(1, min(4, os.cpu_count() or 1))
#: the multiplicative hash of integer ids (Fibonacci hashing: a bijection of 64-bit words)
MULT = 0x9E3779B97F4A7C15
#: the fewest rows (or entries) worth more than one thread (below: milliseconds)
PARALLEL_MIN = 100_000


def run_ranges(fn: Callable[[int], T], count: int, workers: int | None = None) -> list[T]:
    """``[fn(0), ..., fn(count - 1)]``, in up to ``workers`` (default ``WORKERS``) threads when
    there are several; an error of one is raised here."""
    ways = min(WORKERS if workers is None else workers, count)
    if ways <= 1:
        return [fn(r) for r in range(count)]
    with ThreadPoolExecutor(max_workers=ways) as pool:
        return list(pool.map(fn, range(count)))


def numbered(values: np.ndarray) -> np.ndarray:
    """Customer numbers 0, 1, ... of ``values`` grouped by customer (integers, or text as objects)."""
    new = np.empty(len(values), dtype=bool)
    if len(values):
        new[0] = True
        np.not_equal(values[1:], values[:-1], out=new[1:])
    out = np.cumsum(new, dtype=np.int64)
    out -= 1
    return out


def _index_bits(m: int) -> int:
    return max(1, (m - 1).bit_length())


def _words(c: np.ndarray, first: int, bits: int) -> np.ndarray:
    """The rows' words ``hash(id) >> bits << bits | row index`` (rows ``first``, ``first + 1``, ...),
    sorted."""
    key = np.asarray(c, dtype=np.int64).view(np.uint64) * np.uint64(MULT)
    key >>= np.uint64(bits)
    key <<= np.uint64(bits)
    key |= np.arange(first, first + len(c), dtype=np.uint64)
    key.sort()
    return key


def _order(key: np.ndarray, c: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """From sorted words (``key``, modified): the rows' order and their ids in it; the rows of ids
    whose truncated hashes are equal (rare: 42 bits for 3.3M rows) put apart by (hash, id)."""
    order = np.bitwise_and(key.view(np.int64), (1 << bits) - 1).astype(np.intp, copy=False)
    key >>= np.uint64(bits)
    grouped = c[order]
    mixed = (key[1:] == key[:-1]) & (grouped[1:] != grouped[:-1])
    if mixed.any():  # rows of the hashes two customers share: ordered by (hash, id)
        at = np.flatnonzero(np.isin(key, np.unique(key[1:][mixed])))
        by = np.lexsort((grouped[at], key[at]))
        order[at] = order[at][by]
        grouped[at] = grouped[at][by]
    return order, grouped


def group_ids(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order of the rows that keeps each customer's rows together (``c``: integer ids; a
    customer's rows in their order), and ``c`` in that order: one SIMD sort of a word per row, the
    id's hash above the row's index (0.10 CPU-s for 3.3M rows, vs 0.21 for ``argsort`` and a
    gather)."""
    bits = _index_bits(len(c))
    return _order(_words(c, 0, bits), c, bits)


def grouped_sets(c: np.ndarray, ways: int, then: Callable[[np.ndarray, np.ndarray], T]) -> list[T]:
    """``then(order, grouped)`` of each of ``ways`` disjoint sets of customers (by their hash:
    :func:`group_ids` of the set's rows, ``order`` indexes ``c``), the sets in threads. No pass
    compresses the rows by set: thread ``j`` sorts the words of the ``j``-th slice of the rows; the
    sets are ranges of the hash, so each sorted slice is cut at the sets' bounds and set ``w``
    merges its pieces (sorted runs) in its own thread before ``then``."""
    m = len(c)
    if ways <= 1 or m < 2:
        return [then(*group_ids(c))]
    bits = _index_bits(m)
    cuts = [m * j // ways for j in range(ways + 1)]
    sorted_slices = run_ranges(lambda j: _words(c[cuts[j] : cuts[j + 1]], cuts[j], bits), ways, ways)
    # the sets' bounds: multiples of 2^bits (a customer's words share their bits above the index)
    bounds = np.array([((w << 64) // ways) >> bits << bits for w in range(1, ways)], dtype=np.uint64)
    at = [[0, *np.searchsorted(s, bounds).tolist(), len(s)] for s in sorted_slices]

    def one(w: int) -> T:
        key = np.concatenate([s[a[w] : a[w + 1]] for s, a in zip(sorted_slices, at, strict=True)])
        key.sort(kind="stable")  # sorted runs, merged
        return then(*_order(key, c, bits))

    return run_ranges(one, ways, ways)
