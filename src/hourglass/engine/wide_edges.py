"""The transitions kernel for many nodes (past engine/journeys_seq.py's packed few-node kernel; a
log of 10^6 event names: 8.9M distinct edges on 10M events of bench/_data.py's ``wide`` shape):
the edges as columns, never a dict each (model/transition_edges.py builds the rows that are read).

From the customer's sorted elements (journeys_seq's ``Sorted``): runs, each run's move to the next
run of the same customer (or the end), the nodes ranked as the graph orders them (most visited
first, then by code: the engine's codes are in name order; a node's visits are its runs), then one
sort of (edge, row) words of 64 bits (numpy's SIMD sort of plain integers: 0.15 CPU-s at 10M
against 0.9 for an argsort) groups the moves by edge (the nodes' ranks) with each edge's customers
in order: moves, distinct customers and the gaps per edge follow by slices. Most edges of such a
log have one move (one customer; its gap is its median and 90th percentile); only the moves of
edges with several are gathered and sorted by (edge, gap) for the quantiles (linear interpolation,
as DuckDB's ``quantile_cont``; bit for bit ``np.quantile``'s, as journeys_seq's few-edge kernels).
Within each node the edges with several moves are then put first (moves descending), before the
one-move edges already in order: the columns come in model/transition_edges.py's documented order,
which then only checks it (no argsort of millions of edges). Each half's sorted moves are read in
slices of whole nodes (``SLICE_ROWS``): every fresh array of 10M rows costs ~20k page faults, about
as much CPU as the pass that fills it, and arrays under glibc's 32 MB mmap bound reuse freed memory."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt

from hourglass.engine._pages import huge_room, small_pages
from hourglass.engine.journeys_seq import runs_of

__all__ = ["PARALLEL_MIN", "Columns", "edge_columns", "rows_of"]

#: ``node``, ``nxt`` (-1: the end), ``moves``, ``customers`` (int64), ``median_s``, ``p90_s``
#: (float64, NaN for the end: there is no next run); with edges also ``ranked`` (the node codes,
#: most visited first, then by code: the edges' order) and ``visits`` (theirs: each node's runs,
#: one move each), model/transition_edges.py's ``EdgeColumns.ranked`` and ``visits``
Columns = dict[str, npt.NDArray[Any]]

KEYS = ("node", "nxt", "moves", "customers", "median_s", "p90_s")

#: the bits of a packed sort word but its sign (past them: an argsort or a lexsort)
_WORD_BITS = 63
#: the fewest runs split in two halves of edges (two threads)
PARALLEL_MIN = 200_000
#: about this many moves read at once (their arrays of 8 bytes: 8 MB)
SLICE_ROWS = 1 << 20
#: up to this many elements the kernel keeps numpy's huge pages, which its caller turns off for the
#: read and sort before it (engine/_pages.py): 10M `wide` store events, fresh processes alternated,
#: 0.70-0.84 -> 0.48-0.53 system CPU-s, the call 1.65-1.75 -> 1.46-1.56 s (no compaction stall:
#: free 2 MB blocks aplenty); past it small pages (the 50M `returning` scan's faults compacted
#: memory: 5.1 against 1.0 system CPU-s)
HUGE_PAGES_MAX = 20_000_000
#: the kernel's huge pages an element, all it faults in without reusing any freed block (10M
#: `wide` store events: 1.15 GB of huge-page faults, ~115 B, its peak RSS +1.0 GB; R, s13: ~165 B
#: at 20M synthetic elements); huge pages are kept only where the free blocks of a huge page or
#: more hold this much (``huge_room``; 1.7 GB at 10M, 1.7x the peak): the hazard is the machine's
#: fragmentation (compaction stalls), not the size. Small pages cost the 10M kernel 1.14-1.21 ->
#: 1.49-1.50 CPU-s (system 0.19-0.25 -> 0.50), so the gate asks no more than the faults. (2 x 120 B
#: refused on this loaded machine for the Parquet call: 2.27 GB free in such blocks, s13.)
HUGE_BYTES = 170


def _empty() -> Columns:
    z = np.zeros(0, dtype=np.int64)
    return {"node": z, "nxt": z, "moves": z, "customers": z, "median_s": np.zeros(0), "p90_s": np.zeros(0)}


def _ranked(rnode: Any) -> tuple[Any, Any, Any]:
    """Each node code's rank in the graph's order of nodes (visits descending, then the code), the
    codes by rank and their visits (runs) by rank."""
    visits = _visits(rnode)
    present = np.flatnonzero(visits)
    v = visits[present]
    top = int(v.max())
    cbits = max(1, int(present[-1]).bit_length())
    if cbits + top.bit_length() <= _WORD_BITS:
        word = top - v  # visits descending as an ascending key, then the code
        word <<= cbits
        word |= present
        word.sort()
        codes = word & ((1 << cbits) - 1)
    else:
        codes = present[np.argsort(-v, kind="stable")]
    rank = np.zeros(len(visits), dtype=np.int64)
    rank[codes] = np.arange(len(codes), dtype=np.int64)
    return rank, codes.astype(np.int64), visits[codes]


def _visits(rnode: Any) -> Any:
    """Each node code's runs: ``bincount`` by slices (its cast of each to intp stays under glibc's
    mmap bound: no fresh pages), in two threads from ``PARALLEL_MIN`` runs."""
    from hourglass.engine.grouping import run_ranges

    m = len(rnode)
    top = int(rnode.max()) + 1
    ways = 2 if m >= PARALLEL_MIN else 1
    cuts = [m * j // ways for j in range(ways + 1)]

    def part(j: int) -> Any:
        acc = np.zeros(top, dtype=np.int64)
        for x in range(cuts[j], cuts[j + 1], SLICE_ROWS):
            acc += np.bincount(rnode[x : min(x + SLICE_ROWS, cuts[j + 1])], minlength=top)
        return acc

    parts = run_ranges(part, ways, ways)
    return parts[0] if ways == 1 else parts[0] + parts[1]


def _quantiles(g: Any, n: Any) -> tuple[Any, Any]:
    """The median and 90th percentile (seconds) of each edge's gaps (µs): ``g`` grouped by edge,
    ``n[k]`` of edge ``k`` (each at least 2)."""
    e = np.repeat(np.arange(len(n), dtype=np.int64), n)
    gbits = max(1, int(g.max()).bit_length())
    ebits = max(1, len(n).bit_length())
    if gbits + ebits <= _WORD_BITS:
        word = e << gbits
        word |= g
        word.sort()
        g_s = (word & ((1 << gbits) - 1)).astype(np.float64) / 1_000_000
    else:
        g_s = g[np.lexsort((g, e))].astype(np.float64) / 1_000_000
    first = np.zeros(len(n), dtype=np.int64)
    np.cumsum(n[:-1], out=first[1:])
    last = n - 1
    out = []
    for share in (0.5, 0.9):
        pos = last * share  # numpy's linear quantile, its arithmetic too: np.quantile's values
        lo = np.floor(pos)
        t = pos - lo
        at = first + lo.astype(np.int64)
        below, above = g_s[at], g_s[np.minimum(at + 1, first + last)]
        diff = above - below
        value = below + diff * t
        np.subtract(above, diff * (1 - t), out=value, where=t >= 0.5)
        out.append(value)
    return out[0], out[1]


def edge_columns(seq: tuple[Any, Any, Any], collapse: bool) -> Columns:
    """Every edge of the sorted elements ``seq`` (new customer, µs, node >= 0) as :data:`Columns`,
    in the graph's order: the node's rank (visits descending, then the code), moves descending,
    then the next node's rank with the end last."""
    n = len(seq[2])
    if n > HUGE_PAGES_MAX or (n and not huge_room(HUGE_BYTES * n)):
        with small_pages():
            return _edge_columns(seq, collapse)
    return _edge_columns(seq, collapse)  # numpy's pages (huge unless a caller turned them off)


def _edge_columns(seq: tuple[Any, Any, Any], collapse: bool) -> Columns:
    from hourglass.engine.grouping import run_ranges

    first, rts, rnode = runs_of(seq, collapse)
    m = len(rnode)
    if not m:
        return _empty()
    rank, codes, visits = _ranked(rnode)
    n = len(codes)
    dbits = max(1, n.bit_length())  # the next node's rank, or n: the end
    ebits = max(1, (n - 1).bit_length()) + dbits
    named = np.append(codes, -1)  # the code of each rank, the end's -1
    rbits = max(1, (m - 1).bit_length())
    ways = 2 if m >= PARALLEL_MIN else 1
    # each run's edge (node rank << dbits | the next run's rank, n: the end), its gap (µs to the
    # next run, an end 0) and its customer, built by ranges of runs in threads
    edge = np.empty(m, dtype=np.int64)
    gap = np.empty(m, dtype=np.int64)
    cust = np.empty(m, dtype=np.int32)
    cuts = [m * j // ways for j in range(ways + 1)]

    def moves(j: int) -> None:  # by slices: their temporaries under glibc's mmap bound
        base = int(np.count_nonzero(first[: cuts[j]]))
        for x in range(cuts[j], cuts[j + 1], SLICE_ROWS):
            y = min(x + SLICE_ROWS, cuts[j + 1])
            _moves(first, rts, rnode, rank, (x, y), n, dbits, (edge, gap, cust), base)
            base = int(cust[y - 1])

    run_ranges(moves, ways, ways)
    if ebits + rbits > _WORD_BITS + 1:
        order = np.argsort(edge, kind="stable")
        return {
            **_filled([[(edge[order], order)]], cust, gap, dbits, named),
            "ranked": codes,
            "visits": visits,
        }
    # the runs split by their node's rank where half the runs are below (a node's edges in one
    # half): each half's edges sorted and read in a thread (numpy releases the GIL); the halves'
    # nodes are disjoint and in order, so their columns follow each other in the outputs
    cut = min(max(int(np.searchsorted(np.cumsum(visits), m // 2, side="right")), 1), n) if ways > 1 else n
    split = cut << dbits  # the first edge of the second half
    ways = 2 if cut < n else 1

    def half(j: int) -> list[tuple[Any, Any]]:
        # (edge, row) words of 64 bits sorted (a SIMD sort of plain integers: 6x cheaper than an
        # argsort); the rows are in customer order, so each edge's customers come in order
        if ways == 1:
            rows = np.arange(m, dtype=np.int64)
        else:
            mine = edge < split if j == 0 else edge >= split
            rows = np.flatnonzero(mine)
            del mine
        word = edge[rows].view(np.uint64)
        word <<= np.uint64(rbits)
        word |= rows.view(np.uint64)
        del rows
        word.sort()
        order = (word & np.uint64((1 << rbits) - 1)).view(np.int64)
        word >>= np.uint64(rbits)
        e_s = word.view(np.int64)
        # read in slices of whole nodes: their arrays, under glibc's 32 MB mmap bound, reuse the
        # freed ones' memory instead of faulting in fresh pages
        k = -(-len(e_s) // SLICE_ROWS)  # the slices
        at = [0]
        for i in range(1, k):
            bound = (int(e_s[i * len(e_s) // k]) >> dbits) << dbits  # that edge's node's first edge
            at.append(max(at[-1], int(np.searchsorted(e_s, bound))))
        at.append(len(e_s))
        return [(e_s[x:y], order[x:y]) for x, y in itertools.pairwise(at)]

    cols = _filled(run_ranges(half, ways, ways), cust, gap, dbits, named)
    return {**cols, "ranked": codes, "visits": visits}


def _moves(
    first: Any,
    rts: Any,
    rnode: Any,
    rank: Any,
    ab: tuple[int, int],
    n: int,
    dbits: int,
    out: tuple[Any, Any, Any],
    base: int,
) -> None:
    """The runs ``a:b``'s edges (``n``, the nodes' count: the end), gaps and customers (numbered
    from 1, a cumulative sum of ``first`` over every run; ``base``: its value before ``a``)
    written into ``out``."""
    a, b = ab
    m = len(rnode)
    hi = min(b + 1, m)  # the next run's rank too
    edge, gap, cust = (v[a:b] for v in out)
    ended = np.empty(b - a, dtype=bool)  # the customer's last run: the sequence ended
    ended[: hi - a - 1] = first[a + 1 : hi]
    if hi == b:
        ended[-1] = True
    r = rank[rnode[a:hi]]
    edge[: hi - a - 1] = r[1:]
    edge[ended] = n
    r <<= dbits
    edge |= r[: b - a]
    del r
    np.subtract(rts[a + 1 : hi], rts[a : hi - 1], out=gap[: hi - a - 1])
    gap[ended] = 0
    np.cumsum(first[a:b], dtype=np.int32, out=cust)
    if base:
        cust += np.int32(base)


def _filled(halves: list[list[tuple[Any, Any]]], cust: Any, gap: Any, dbits: int, named: Any) -> Columns:
    """The columns of every slice (sorted edges, their rows) of the halves, in order, each half's
    slices read in its thread and written straight into the outputs (no concatenation)."""
    from hourglass.engine.grouping import run_ranges

    def count(j: int) -> list[int]:  # each slice's edges
        out = []
        for e_s, _ in halves[j]:
            out.append(int(np.count_nonzero(e_s[1:] != e_s[:-1])) + 1 if len(e_s) else 0)
        return out

    ways = len(halves)
    counts = run_ranges(count, ways, ways)
    at = np.cumsum([0, *(c for cs in counts for c in cs)]).tolist()
    total = at[-1]
    cols: Columns = {
        "node": np.empty(total, dtype=np.int64),
        "nxt": np.empty(total, dtype=np.int64),
        "moves": np.empty(total, dtype=np.int64),
        "customers": np.empty(total, dtype=np.int64),
        "median_s": np.empty(total, dtype=np.float64),
        "p90_s": np.empty(total, dtype=np.float64),
    }
    first_slice = np.cumsum([0, *(len(h) for h in halves)]).tolist()

    def fill(j: int) -> None:
        for i, (e_s, order) in enumerate(halves[j]):
            x = first_slice[j] + i
            if at[x + 1] > at[x]:
                _part(e_s, order, cust, gap, dbits, named, {k: v[at[x] : at[x + 1]] for k, v in cols.items()})

    run_ranges(fill, ways, ways)
    return cols


def _part(e_s: Any, order: Any, cust: Any, gap: Any, dbits: int, named: Any, cols: Columns) -> None:
    """The columns of the moves ``order`` (row numbers) whose edges ``e_s`` are sorted, each
    node's edges whole, written into ``cols`` (views of the outputs, one entry per edge). (Few
    fresh arrays: each costs its page faults, 10M rows' worth of them about as much CPU as the
    numpy pass that fills it.)"""
    m = len(order)
    starts = np.empty(m, dtype=bool)
    starts[0] = True
    np.not_equal(e_s[1:], e_s[:-1], out=starts[1:])
    starts = np.flatnonzero(starts)
    counts = cols["moves"]
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = m - starts[-1]
    e_first = e_s[starts]
    med, p90 = cols["median_s"], cols["p90_s"]
    np.true_divide(gap[order[starts]], 1_000_000, out=med)  # one move: its gap (s)
    p90[:] = med  # (a plain copy: the edges with several moves are overwritten below)
    customers = cols["customers"]
    customers.fill(1)
    several = counts > 1
    multi = np.flatnonzero(several)
    if len(multi):  # the moves of edges with several, by edge
        n = counts[multi]
        rows = order[np.repeat(several, counts)]
        med[multi], p90[multi] = _quantiles(gap[rows], n)
        c_s = cust[rows]  # distinct customers: where the customer changes within an edge's moves
        newc = np.empty(len(rows), dtype=bool)
        newc[0] = True
        np.not_equal(c_s[1:], c_s[:-1], out=newc[1:])
        at = np.zeros(len(n), dtype=np.int64)
        np.cumsum(n[:-1], out=at[1:])
        newc[at] = True
        customers[multi] = np.add.reduceat(newc, at, dtype=np.int64)
    del several
    src = e_first >> dbits
    e_first &= (1 << dbits) - 1  # the next node's rank
    nxt = cols["nxt"]
    np.take(named, e_first, out=nxt, mode="clip")  # unbuffered (indices in range)
    del e_first
    end = nxt < 0
    med[end] = np.nan
    p90[end] = np.nan
    np.take(named, src, out=cols["node"], mode="clip")
    if len(multi):
        at, to = _by_moves(src, counts, multi)
        for v in cols.values():
            v[to] = v[at]


def _by_moves(src: Any, counts: Any, multi: Any) -> tuple[Any, Any]:
    """The edges that move, and their places, when within each node (``src``, sorted) the edges
    with several moves (``multi``) come first by moves descending (ties in their order) and the
    one-move edges after them in their order. Only the nodes with such edges are read (10M `wide`
    events: 2.1M of 8.9M edges): their edges sorted by (node, moves descending with the one-move
    edges last, place), one sort of packed words where they fit."""
    s = src[multi]
    head = np.empty(len(s), dtype=bool)  # a node's first multi edge
    head[0] = True
    np.not_equal(s[1:], s[:-1], out=head[1:])
    nodes = s[head]
    lo = np.searchsorted(src, nodes, side="left")
    sizes = np.searchsorted(src, nodes, side="right") - lo
    k = int(sizes.sum())
    before = np.zeros(len(sizes), dtype=np.int64)  # the edges read before each node's
    np.cumsum(sizes[:-1], out=before[1:])
    idx = np.repeat(lo - before, sizes)  # every edge of those nodes, in order
    idx += np.arange(k, dtype=np.int64)
    top = int(counts[multi].max())
    rank = top - counts[idx]  # moves descending, then the one-move edges (top - 1 -> top)
    rank[rank == top - 1] = top
    group = np.repeat(np.arange(len(nodes), dtype=np.int64), sizes)
    pbits = max(1, (k - 1).bit_length())
    rbits = max(1, top.bit_length())
    if max(1, len(nodes).bit_length()) + rbits + pbits <= _WORD_BITS:
        word = group << (rbits + pbits)
        rank <<= pbits
        word |= rank
        word |= np.arange(k, dtype=np.int64)
        word.sort()
        word &= (1 << pbits) - 1
        perm = word
    else:
        perm = np.lexsort((rank, group))  # stable: ties in their place
    at = idx[perm]
    moved = at != idx
    return at[moved], idx[moved]


def rows_of(cols: Columns) -> list[dict[str, Any]]:
    """The columns as journeys_seq's ``seq_transitions`` rows (None for the end's quantiles), in
    its order of the edge (node, then nxt with the end first), as its few-node kernels'."""
    o = np.lexsort((cols["nxt"], cols["node"]))
    rows = [dict(zip(KEYS, r, strict=True)) for r in zip(*(cols[k][o].tolist() for k in KEYS), strict=True)]
    for r in rows:
        if r["nxt"] < 0:
            r["median_s"] = r["p90_s"] = None
    return rows
