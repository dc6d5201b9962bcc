"""The stage level's paths on ONE local Parquet file per set of customers, split in the reader's
threads (issue 18, the `wide` shape; bench/WIDE.md session 13).

engine/raw_stages.py's one scan reads the model's rows per row group in threads
(engine/parquet_rows.py). For ``paths`` each row group's rows are also split there into ``ways``
disjoint sets of customers (by a hash of the id, engine/grouping.py's ``MULT``: the top bits of
``id * MULT``), each set's pieces kept in row group order. Then each set, in its own thread, is
concatenated (its rows in file order), grouped by customer as engine/journeys_wide.py
``time_ordered`` groups a file in time order (else sorted by ``wide_sorted``), and packed into
paths (engine/journeys_paths.py ``paths_part``); the sets' paths are counted together
(``paths_merge``). Before, the grouping and the paths ran on the main thread after the read
(10M `wide`: ~0.14 of the call's 0.60 s, quiet).

Exact: the sets are disjoint sets of whole customers, a set's rows keep their file order (each
customer's order is the file's, as in ``time_ordered``), and every figure of the paths is a sum over
customers, counted over the union of the sets' packed paths (the node bits of the whole log: the
largest stage that occurs, from the names' counts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

    from hourglass.engine.journeys_paths import PPart
    from hourglass.engine.journeys_seq import I64, Sorted

__all__ = ["ENABLED", "Piece", "Pieces", "set_paths", "splitter"]

#: the split on (off: the rows concatenated, the grouping and the paths on the main thread)
ENABLED = True

#: a row group's rows of one set: customers, µs, 1-based stages
Pieces = tuple[tuple["npt.NDArray[Any]", "I64", "npt.NDArray[np.int32]"], ...]


class Piece:
    """One row group's part of the one scan: each name's rows (``counts``, by 1-based position) and
    the rows of each set (``sets``; None when a kept row's customer or time is null)."""

    __slots__ = ("counts", "sets")

    def __init__(self, counts: npt.NDArray[np.int64], sets: Pieces | None) -> None:
        self.counts = counts
        self.sets = sets


def splitter(
    stage: npt.NDArray[np.int32], ways: int
) -> Callable[[npt.NDArray[np.int32], npt.NDArray[Any] | None, I64 | None], Piece]:
    """engine/parquet_rows.py ``name_parts``'s ``each``: a row group's counts and its rows split
    into ``ways`` sets of customers (``stage``: each 1-based name position's stage, 0 first)."""
    from hourglass.engine.grouping import MULT

    width = len(stage)

    def each(pos: npt.NDArray[np.int32], c: npt.NDArray[Any] | None, ts: I64 | None) -> Piece:
        counts = np.bincount(pos, minlength=width).astype(np.int64, copy=False)
        if c is None or ts is None:
            return Piece(counts, None)
        node = np.take(stage, pos)
        if ways <= 1:
            return Piece(counts, ((c, ts, node),))
        h = np.asarray(c).astype(np.int64, copy=False).view(np.uint64) * np.uint64(MULT)
        h >>= np.uint64(32)
        h *= np.uint64(ways)
        h >>= np.uint64(32)  # the set: floor(top 32 bits of the hash * ways / 2^32)
        which = h.astype(np.int8 if ways <= 127 else np.int64)  # (one byte a row: WORKERS <= 4)
        sets = []
        for w in range(ways):
            at = np.flatnonzero(which == w)  # (a take by positions: a boolean index is ~5x slower)
            sets.append((np.take(c, at), np.take(ts, at), np.take(node, at)))
        return Piece(counts, tuple(sets))

    return each


def _set_sorted(c: npt.NDArray[Any], ts: I64, node: npt.NDArray[np.int32]) -> Sorted | None:
    """One set's rows (file order) in the order (customer, ts, node), customers grouped by hash."""
    from hourglass.engine.journeys_wide import time_ordered, wide_sorted

    got = time_ordered(c, ts, node)
    return got if got is not None else wide_sorted(c, ts, node, workers=1)


def set_paths(
    sets: tuple[Pieces, ...], collapse: bool, depth: int, top: int, max_node: int
) -> tuple[list[dict[str, Any]], dict[str, int]] | None:
    """engine/journeys_seq.py ``seq_paths``'s answer from the sets' pieces (each set in a thread),
    ``max_node`` the largest node of the whole log; None when a set's times leave too few key bits
    (the caller's general path)."""
    from hourglass.engine.grouping import run_ranges
    from hourglass.engine.journeys_paths import path_bits, paths_merge, paths_part

    bits = path_bits(np.asarray([max_node], dtype=np.int64))

    def one(w: int) -> PPart | None:
        pieces = sets[w]
        c = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.int64)
        ts = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
        node = np.concatenate([p[2] for p in pieces]) if pieces else np.zeros(0, np.int32)
        if not len(c):
            return paths_part((np.zeros(0, bool), ts, node), collapse, depth, bits)
        seq = _set_sorted(c, ts, node)
        del c, ts, node
        return None if seq is None else paths_part(seq, collapse, depth, bits)

    got = run_ranges(one, len(sets), len(sets))
    if any(p is None for p in got):
        return None
    parts = [p for p in got if p is not None and len(p[1])] or [p for p in got if p is not None][:1]
    return paths_merge(parts, depth, bits, top)
