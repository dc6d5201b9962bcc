"""The journeys' kernels per set of customers, in threads (engine/journeys_fast.py, bench/JOURNEYS.md):
the elements of integer customers, fetched from DuckDB unordered, are split into ``WORKERS`` sets
of customers (near ids, a store's keys: cut by value at the quantiles of a sample; far ids, a file's
62-bit ids: by their hash, engine/grouping.py ``grouped_sets``); in each set's thread the rows are
put in order range by range (engine/journeys_order.py ``ordered_ranges``: one SIMD sort of packed
(customer, time, node) keys per range) and each range's kernel runs right after its sort, its keys
still in the cache: the runs read from the keys, then the paths' words or the transitions' counts
and (edge, gap) words. numpy releases the GIL in these passes, so the sets use the cores.

Why the merge is exact: the sets and the ranges are disjoint sets of whole customers, and every
figure is a sum over customers (moves, distinct customers of an edge, customers of a path,
continued) or a quantile of an edge's gaps, taken from the union of the sets' gaps of the edge with
``np.quantile``'s own arithmetic. A path's nodes are packed in integers with the node bits of the
whole log, so the paths of all sets are grouped and ordered together as one log's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from hourglass.engine import journeys_runs
from hourglass.engine.grouping import run_ranges
from hourglass.engine.journeys_order import Each, Threaded, layout, ordered_keys, ordered_ranges, signed_ids
from hourglass.engine.journeys_runs import in_runs, sorted_runs
from hourglass.engine.journeys_seq import I64, PACKED_EDGES, Sorted, runs_of
from hourglass.model.journeys_spec import TransitionsSpec

__all__ = [
    "GROUP_MOVES",
    "PARALLEL_MIN",
    "in_sets",
    "runs_of_keys",
    "threaded_transitions",
    "transitions_merge",
    "transitions_part",
    "transitions_runs",
]

P = TypeVar("P")
Q = TypeVar("Q")
#: the fewest elements cut into sets of customers for threads
PARALLEL_MIN = 200_000


def _workers() -> int:
    from hourglass.engine import grouping

    return grouping.WORKERS


#: ids spread wider than this are grouped by hash per set (engine/grouping.py), nearer ones cut by value
_NEAR = 1 << 40


def in_sets(
    c: npt.NDArray[Any],
    ts: I64,
    node: npt.NDArray[Any],
    each: Each[Q],
    combine: Callable[[list[Q], int], P],
) -> list[P] | None:
    """``combine`` of ``each`` of every range's sorted keys of each set of customers
    (engine/journeys_order.py ``ordered_ranges``) and the set's time bits; the sets in threads:
    near ids (a store's keys) cut by value at the quantiles of a sample, far ids (a file's 62-bit
    ids) by their hash without compressing the rows (engine/grouping.py ``grouped_sets``). None when
    the keys do not fit (engine/journeys_order.py ``layout``)."""
    from hourglass.engine.grouping import grouped_sets

    m = len(c)
    c = signed_ids(c)
    ways = _workers() if m and m >= PARALLEL_MIN else 1
    runs = sorted_runs(c) if journeys_runs.ENABLED else None
    if runs is not None:  # a store's rows: a few runs sorted by customer (engine/journeys_runs.py)
        got = in_runs(c, ts, node, runs, each, combine, ways, run_ranges)
        if got is not None:
            return got
    if ways <= 1:
        return _all([_set(c, ts, node, each, combine)])
    if int(c.max()) - int(c.min()) >= _NEAR:
        lay = layout(ts, node)
        if lay is None:
            return None

        def then(order: npt.NDArray[Any], ids: npt.NDArray[Any]) -> P:
            got = ordered_keys(c, ts, node, 1, each, (order, ids, lay))
            assert got is not None
            return combine(got[0], lay[1])

        return grouped_sets(c, ways, then)
    # cuts at the quantiles of a sample of the ids: equal work whatever their spread
    sample = np.sort(c[:: max(1, m // 4096)])
    cuts = [int(sample[len(sample) * w // ways]) for w in range(1, ways)]

    def one(w: int) -> P | None:
        if w == 0:
            mine = c < cuts[0]
        elif w == ways - 1:
            mine = c >= cuts[-1]
        else:
            mine = c >= cuts[w - 1]
            mine &= c < cuts[w]
        return _set(c[mine], ts[mine], node[mine], each, combine)

    return _all(run_ranges(one, ways, ways))


def _set(
    c: npt.NDArray[Any], ts: I64, node: npt.NDArray[Any], each: Each[Q], combine: Callable[[list[Q], int], P]
) -> P | None:
    got = ordered_ranges(c, ts, node, each, workers=1)
    tbits = max(1, (int(ts.max()) - int(ts.min())).bit_length()) if len(ts) else 1
    return None if got is None else combine(got, tbits)


def runs_of_keys(keys: I64, tbits: int, nbits: int, collapse: bool) -> tuple[npt.NDArray[np.bool_], I64, I64]:
    """The runs of one range's sorted keys (engine/journeys_order.py ``Each``): does the run start a
    customer, its first time (from the range's least time) and its node."""
    cust = keys >> (tbits + nbits)
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(cust[1:], cust[:-1], out=new[1:])
    del cust
    if collapse:  # a run starts where (customer, node) changes: the key without its time bits
        same = keys & ~(((1 << tbits) - 1) << nbits)
        start = np.empty(len(keys), dtype=bool)
        start[0] = True
        np.not_equal(same[1:], same[:-1], out=start[1:])
        del same
        keys, new = keys[start], new[start]
    node = keys & ((1 << nbits) - 1)
    rts = keys >> nbits
    rts &= (1 << tbits) - 1
    return new, rts, node


def _all(parts: list[P | None]) -> list[P] | None:
    out = [p for p in parts if p is not None]
    return out if len(out) == len(parts) else None


#: the fewest moves per group of edges whose quantiles are read in a thread of their own
GROUP_MOVES = 1_000_000

#: a set's transitions: moves and distinct customers per edge (bincounts over span ** 2), the
#: (edge, gap) words sorted, and the gap's bits in them
TPart = tuple[I64, I64, I64, int]


def transitions_part(seq: Sorted, collapse: bool, span: int) -> TPart | None:
    """A part of the transitions from elements in order (``span``: the nodes + 2, the edge ``node *
    span + nxt + 1``): :func:`transitions_runs`'s counts and its (edge, gap) words sorted. None when
    the words do not fit in 63 bits."""
    first, rts, rnode = runs_of(seq, collapse)
    if not len(rnode):
        return _no_edges(span)
    gap = _gaps(first, rts)
    got = transitions_runs(first, gap, rnode, span, max(1, int(gap.max()).bit_length()))
    if got is None:
        return None
    moves, customers, words, gbits = got
    words.sort()
    return moves, customers, words, gbits


def _no_edges(span: int) -> TPart:
    empty = np.zeros(span * span, dtype=np.int64)
    return empty, empty, np.zeros(0, dtype=np.int64), 1


def _gaps(first: npt.NDArray[np.bool_], rts: I64) -> I64:
    """µs from each run to the customer's next run (the customer's last run: 0)."""
    gap = np.zeros(len(rts), dtype=np.int64)
    np.subtract(rts[1:], rts[:-1], out=gap[:-1])
    gap[:-1][first[1:]] = 0
    gap[-1] = 0
    return gap


def transitions_runs(
    first: npt.NDArray[np.bool_], gap: I64, rnode: npt.NDArray[Any], span: int, gbits: int
) -> TPart | None:
    """Moves by a bincount of the edges, distinct customers by one sort of (customer, edge) words,
    and the (edge, gap) words (unsorted) of runs in order (``first``: the run starts a customer;
    ``gap`` :func:`_gaps`, under ``2 ** gbits``). None when the words do not fit in 63 bits."""
    size = span * span
    ebits = (size - 1).bit_length()
    if ebits + gbits > 63 or ebits + len(first).bit_length() > 63:
        return None
    nxt = np.empty(len(rnode), dtype=np.int64)  # the next run's node (an end: -1)
    nxt[:-1] = rnode[1:]
    nxt[:-1][first[1:]] = -1
    nxt[-1] = -1
    edge = rnode.astype(np.int64)
    edge *= span
    edge += nxt
    edge += 1
    del nxt
    moves = np.bincount(edge, minlength=size)
    cust = np.cumsum(first, dtype=np.int64)
    cust <<= ebits
    cust |= edge
    cust.sort()
    one = np.empty(len(cust), dtype=bool)
    one[0] = True
    np.not_equal(cust[1:], cust[:-1], out=one[1:])
    customers = np.bincount(cust[one] & ((1 << ebits) - 1), minlength=size)
    del cust, one
    edge <<= gbits
    edge |= gap
    return moves, customers, edge, gbits


def _transitions_set(parts: list[TPart], tbits: int, span: int) -> TPart:
    """A set's part from its ranges' (their words of ``tbits`` gap bits, unsorted)."""
    if not parts:
        return _no_edges(span)
    moves = np.sum([p[0] for p in parts], axis=0)
    customers = np.sum([p[1] for p in parts], axis=0)
    words = np.concatenate([p[2] for p in parts])
    words.sort()
    return moves, customers, words, tbits


def transitions_merge(parts: list[TPart], span: int) -> list[dict[str, Any]]:
    """The edges' rows (``node``, ``nxt`` -1 for the end, ``moves``, ``customers``, ``median_s``,
    ``p90_s``: engine/journeys_seq.py ``seq_transitions``'s) of the sets' parts."""
    moves = np.sum([p[0] for p in parts], axis=0)
    customers = np.sum([p[1] for p in parts], axis=0)
    present = np.flatnonzero(moves)
    to = present % span - 1
    med, p90 = _edge_quantiles(parts, present, moves[present])
    ended = to < 0
    return [
        {"node": a, "nxt": b, "moves": mv, "customers": cu}
        | ({"median_s": None, "p90_s": None} if e else {"median_s": q5, "p90_s": q9})
        for a, b, mv, cu, q5, q9, e in zip(
            (present // span).tolist(),
            to.tolist(),
            moves[present].tolist(),
            customers[present].tolist(),
            med.tolist(),
            p90.tolist(),
            ended.tolist(),
            strict=True,
        )
    ]


def _edge_quantiles(parts: list[TPart], present: I64, counts: I64) -> tuple[npt.NDArray[np.float64], ...]:
    """Each present edge's median and 90th percentile of its gaps in seconds, as ``np.quantile``'s
    default (linear) computes them, bit for bit, from the union of the sets' gaps: the edges in
    ``WORKERS`` groups in threads, each group's slices of the sets' sorted (edge, gap) words merged
    by one sort (none for one set), then the order statistics read at once for all its edges."""
    n = len(present)
    med, p90 = np.empty(n), np.empty(n)
    if not n:  # no edge (an empty range, a level matching no event of it)
        return med, p90
    top = max(p[3] for p in parts)
    ways = min(_workers(), max(1, int(counts.sum()) // GROUP_MOVES))
    ends = np.cumsum(counts)
    cuts = [0, *np.searchsorted(ends, [ends[-1] * w // ways for w in range(1, ways)]).tolist(), n]

    def one(w: int) -> None:
        i0, i1 = cuts[w], cuts[w + 1]
        if i0 >= i1:
            return
        e_lo, e_hi = int(present[i0]), int(present[i1 - 1]) + 1
        pieces = []
        for _, _, words, g in parts:
            lo, hi = np.searchsorted(words, [e_lo << g, e_hi << g]).tolist()
            piece = words[lo:hi]
            if g != top:  # the gap's bits of the widest set
                piece = ((piece >> g) << top) | (piece & ((1 << g) - 1))
            pieces.append(piece)
        merged = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        if len(pieces) > 1:
            merged.sort(kind="stable")  # sorted runs: merged (timsort), 1.8x cheaper
        gaps = (merged & ((1 << top) - 1)).astype(np.float64)
        gaps /= 1_000_000
        c = counts[i0:i1]
        start = np.cumsum(c) - c
        for q, out in ((0.5, med), (0.9, p90)):
            virtual = (c - 1) * q  # numpy's "linear": (n - 1) * q, floor, the next, lerp
            prev = np.floor(virtual)
            last = virtual >= c - 1
            below = np.where(last, c - 1, prev).astype(np.int64)
            above = np.where(last, c - 1, prev + 1).astype(np.int64)
            a, b = gaps[start + below], gaps[start + above]
            t = virtual - np.where(last, -1, prev)
            diff = b - a
            got = a + diff * t
            np.subtract(b, diff * (1 - t), out=got, where=t >= 0.5)
            out[i0:i1] = got

    run_ranges(one, ways, ways)
    return med, p90


def threaded_transitions(spec: TransitionsSpec) -> Threaded:
    """The transitions' rows (``seq_transitions``'s) per set of customers in threads, each range's
    kernel right after its sort; None past ``PACKED_EDGES`` possible edges or when the words do not
    fit (then the whole-log kernel)."""

    def run(c: Any, ts: Any, node: Any) -> Any:
        span = (int(node.max()) if len(node) else 0) + 2
        if span * span > PACKED_EDGES:
            return None
        failed: list[bool] = []

        def each(keys: I64, tbits: int, nbits: int) -> TPart:
            first, rts, rnode = runs_of_keys(keys, tbits, nbits, spec.collapse)
            got = transitions_runs(first, _gaps(first, rts), rnode, span, tbits)
            if got is None:
                failed.append(True)
                return _no_edges(span)
            return got

        parts = in_sets(c, ts, node, each, lambda got, tbits: _transitions_set(got, tbits, span))
        return None if parts is None or failed else transitions_merge(parts, span)

    return run
