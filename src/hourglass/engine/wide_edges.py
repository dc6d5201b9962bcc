"""The transitions kernel for many nodes (past engine/journeys_seq.py's packed few-node kernel; a
log of 10^6 event names: 8.9M distinct edges on 10M events of bench/_data.py's ``wide`` shape):
the edges as columns, never a dict each (model/transition_edges.py builds the rows that are read).

From the customer's sorted elements (journeys_seq's ``Sorted``): runs, each run's move to the next
run of the same customer (or the end), then one sort of (edge, row) words of 64 bits (numpy's SIMD
sort of plain integers: 0.15 CPU-s at 10M against 0.9 for an argsort) groups the moves by edge with
each edge's customers in order: moves, distinct customers and the gaps per edge follow by slices.
Most edges of such a log have one move (its gap is its median and 90th percentile); only the moves
of edges with several are sorted by (edge, gap) for the quantiles (linear interpolation, as DuckDB's
``quantile_cont``; bit for bit ``np.quantile``'s, as journeys_seq's few-edge kernels). Was a stable
argsort of the edges and a lexsort of every gap: 10M ``wide``, 8.4 of 15 s (load 5); now 1.6 CPU-s."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from hourglass.engine.journeys_seq import runs_of

__all__ = ["PARALLEL_MIN", "Columns", "edge_columns", "rows_of"]

#: ``node``, ``nxt`` (-1: the end), ``moves``, ``customers`` (int64), ``median_s``, ``p90_s``
#: (float64, NaN for the end: there is no next run)
Columns = dict[str, npt.NDArray[Any]]

KEYS = ("node", "nxt", "moves", "customers", "median_s", "p90_s")

#: the bits of a packed sort word but its sign (past them: an argsort or a lexsort)
_WORD_BITS = 63
#: the fewest runs split in two halves of edges (two threads)
PARALLEL_MIN = 200_000


def _empty() -> Columns:
    z = np.zeros(0, dtype=np.int64)
    return {"node": z, "nxt": z, "moves": z, "customers": z, "median_s": np.zeros(0), "p90_s": np.zeros(0)}


def _quantiles(gap: Any, starts: Any, counts: Any) -> tuple[Any, Any]:
    """The median and 90th percentile (seconds) of each edge's gaps (µs): ``gap`` grouped by edge
    (edge ``k``'s at ``starts[k]``, ``counts[k]`` of them)."""
    med = gap[starts].astype(np.float64) / 1_000_000  # one move: its gap
    p90 = med.copy()
    multi = np.flatnonzero(counts > 1)
    if not len(multi):
        return med, p90
    n = counts[multi]
    g = gap[np.repeat(counts > 1, counts)]  # the moves of edges with several, by edge
    e = np.repeat(np.arange(len(multi), dtype=np.int64), n)
    gbits = max(1, int(g.max()).bit_length())
    ebits = max(1, len(multi).bit_length())
    if gbits + ebits <= _WORD_BITS:
        word = e << gbits
        word |= g
        word.sort()
        g_s = (word & ((1 << gbits) - 1)).astype(np.float64) / 1_000_000
    else:
        g_s = g[np.lexsort((g, e))].astype(np.float64) / 1_000_000
    first = np.zeros(len(multi), dtype=np.int64)
    np.cumsum(n[:-1], out=first[1:])
    last = n - 1
    for share, out in ((0.5, med), (0.9, p90)):
        pos = last * share  # numpy's linear quantile, its arithmetic too: np.quantile's values
        lo = np.floor(pos)
        t = pos - lo
        at = first + lo.astype(np.int64)
        below, above = g_s[at], g_s[np.minimum(at + 1, first + last)]
        diff = above - below
        value = below + diff * t
        np.subtract(above, diff * (1 - t), out=value, where=t >= 0.5)
        out[multi] = value
    return med, p90


def edge_columns(seq: tuple[Any, Any, Any], collapse: bool) -> Columns:
    """Every edge of the sorted elements ``seq`` (new customer, µs, node >= 0) as :data:`Columns`,
    in the order of the edge (node, then nxt with the end first)."""
    first, rts, rnode = runs_of(seq, collapse)
    m = len(rnode)
    if not m:
        return _empty()
    span = int(rnode.max()) + 2
    cust = np.cumsum(first, dtype=np.int32)
    ebits = (span * span - 1).bit_length()
    ended = np.empty(m, dtype=bool)  # the customer's last run: the sequence ended
    ended[:-1] = first[1:]
    ended[-1] = True
    edge = np.zeros(m, dtype=np.int64)  # node * span + the next run's node + 1 (0: the end)
    edge[:-1] = rnode[1:]
    edge += 1
    edge[ended] = 0
    edge += rnode.astype(np.int64) * span
    gap = np.zeros(m, dtype=np.int64)  # µs to the next run (an end: 0)
    np.subtract(rts[1:], rts[:-1], out=gap[:-1])
    gap[ended] = 0
    rbits = max(1, (m - 1).bit_length())
    if ebits + rbits > _WORD_BITS + 1:
        order = np.argsort(edge, kind="stable")
        return _part(edge[order], order, cust, gap, span)
    # the rows split by edge at a sampled median: each half's edges sorted and read in a thread
    # (numpy releases the GIL); the halves' edges are disjoint and in order, so the columns concatenate
    halves = [np.arange(m, dtype=np.int64)]
    if m >= PARALLEL_MIN:
        sample = np.sort(edge[:: max(1, m // 4096)])
        cut = int(sample[len(sample) // 2])
        below = edge < cut
        halves = [np.flatnonzero(below), np.flatnonzero(~below)]
        del below

    def half(rows: Any) -> Columns:
        # (edge, row) words of 64 bits sorted (a SIMD sort of plain integers: 6x cheaper than an
        # argsort); the rows are in customer order, so each edge's customers come in order
        word = edge[rows].view(np.uint64)
        word <<= np.uint64(rbits)
        word |= rows.view(np.uint64)
        word.sort()
        order = (word & np.uint64((1 << rbits) - 1)).view(np.int64)
        word >>= np.uint64(rbits)
        return _part(word.view(np.int64), order, cust, gap, span)

    from hourglass.engine.grouping import run_ranges

    got = run_ranges(lambda j: half(halves[j]), len(halves), len(halves))
    if len(got) == 1:
        return got[0]
    return {k: np.concatenate([g[k] for g in got]) for k in KEYS}


def _part(e_s: Any, order: Any, cust: Any, gap: Any, span: int) -> Columns:
    """The columns of the moves ``order`` (row numbers) whose edges ``e_s`` are sorted."""
    n = len(order)
    if not n:
        return _empty()
    bounds = np.flatnonzero(e_s[1:] != e_s[:-1]) + 1
    starts = np.concatenate(([0], bounds)).astype(np.int64)
    counts = np.diff(np.append(starts, n))
    # distinct customers: where the customer changes within an edge's moves
    c_s = cust[order]
    newc = np.empty(n, dtype=bool)
    newc[0] = True
    np.not_equal(c_s[1:], c_s[:-1], out=newc[1:])
    newc[starts] = True
    del c_s
    customers = np.add.reduceat(newc, starts, dtype=np.int64)
    del newc
    med, p90 = _quantiles(gap[order], starts, counts)
    e_first = e_s[starts]
    nxt = e_first % span - 1
    end = nxt < 0
    med[end] = np.nan
    p90[end] = np.nan
    return {
        "node": e_first // span,
        "nxt": nxt,
        "moves": counts.astype(np.int64),
        "customers": customers,
        "median_s": med,
        "p90_s": p90,
    }


def rows_of(cols: Columns) -> list[dict[str, Any]]:
    """The columns as journeys_seq's ``seq_transitions`` rows (None for the end's quantiles)."""
    rows = [dict(zip(KEYS, r, strict=True)) for r in zip(*(cols[k].tolist() for k in KEYS), strict=True)]
    for r in rows:
        if r["nxt"] < 0:
            r["median_s"] = r["p90_s"] = None
    return rows
