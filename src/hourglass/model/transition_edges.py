"""The transition graph kept as columns (numpy arrays) to the end: a log of 10^6 event names has
millions of edges (10M events of bench/_data.py's ``wide`` shape: 8.9M), and a dict per edge built
and sorted in Python cost a minute (bench/WIDE.md). :class:`EdgeColumns` is what the engine hands
over; :func:`graph_columns` computes the nodes' visits and ends and the documented order with
vector operations; :class:`Rows` gives the rows as dicts only when they are read (JSON, CSV, the
printed table), each dict equal to model/transitions.py's row of the same edge."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

__all__ = ["EdgeColumns", "Rows", "graph_columns"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: the bits of the packed order key (:func:`_edge_order`)
_WORD_BITS = 63

#: from this many edges, their order is sorted in two threads
_THREADED = 1 << 20

#: edges per chunk of the order's check and of the probabilities (8 MB arrays, under glibc's mmap
#: bound: each chunk's temporaries reuse the last one's memory)
_CHUNK_CHECKED = 1 << 20

#: rows materialised per chunk when iterated (each column's chunk converted by one ``tolist``)
_CHUNK = 1 << 16


@dataclass(frozen=True, eq=False)
class EdgeColumns:
    """One entry per edge: ``src`` and ``dst`` index ``names`` (``dst`` -1: the sequence ended),
    ``moves``, ``customers``, ``median_s`` and ``p90_s`` (NaN for the end: not measured, there is
    no next run). ``names`` are the nodes' names (stage or event names), each once.

    ``ranked`` and ``visits`` (optional, engine/wide_edges.py's): every node with an edge, most
    visited first, then by code, and their visits (each node's moves in all); given, the edges come
    in the graph's order by that ranking (the kernel's construction, proven against plain Python
    and against this module's own derivation in tests/test_transitions_wide_kernel.py). With the
    names in code order the graph then takes them as they are (cheap checks only: :func:`_hinted`)
    instead of counting the visits, sorting the nodes and checking every edge's order."""

    names: Sequence[str]
    src: I64
    dst: I64
    moves: I64
    customers: I64
    median_s: F64
    p90_s: F64
    ranked: I64 | None = None
    visits: I64 | None = None

    def __len__(self) -> int:
        return len(self.src)

    @classmethod
    def of(
        cls,
        names: Sequence[str],
        src: Any,
        dst: Any,
        moves: Any,
        customers: Any,
        median_s: Any,
        p90_s: Any,
        *,
        first: int = 0,
        ranked: Any = None,
        visits: Any = None,
    ) -> EdgeColumns:
        """From any array-likes (copied only when their type differs); ``first``: the code of
        ``names[0]`` in ``src`` and ``dst`` (1 for 1-based stages; an end stays -1); ``ranked``
        and ``visits``: the engine's ranking of the nodes (codes as ``src``'s), if any."""
        s, d = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        r = None if ranked is None or visits is None else np.asarray(ranked, dtype=np.int64)
        if first:
            s, d = s - first, np.where(d < 0, -1, d - first)
            r = None if r is None else r - first
        return cls(
            names,
            s,
            d,
            np.asarray(moves, dtype=np.int64),
            np.asarray(customers, dtype=np.int64),
            np.asarray(median_s, dtype=np.float64),
            np.asarray(p90_s, dtype=np.float64),
            r,
            None if r is None else np.asarray(visits, dtype=np.int64),
        )


def _none_nan(values: list[Any]) -> list[Any]:
    return [None if v != v else v for v in values]  # NaN is the only value not equal to itself


class _Named:
    """Codes to names (``end``: -1 to None); a class, not a closure: results are pickled (the
    dashboard's disk cache)."""

    __slots__ = ("end", "names")

    def __init__(self, names: list[str], *, end: bool) -> None:
        self.names, self.end = names, end

    def __call__(self, codes: list[Any]) -> list[Any]:
        names = self.names
        if self.end:
            return [None if k < 0 else names[k] for k in codes]
        return [names[k] for k in codes]


class Rows(Sequence[dict[str, Any]]):
    """A read-only sequence of dict rows built on demand from equal-length columns: ``keys`` in
    order, each column a numpy array and a function of its ``tolist()`` chunk (or None). Equal to
    any sequence of the same dicts (a tuple or list of them)."""

    __slots__ = ("_columns", "_keys", "_n")

    def __init__(
        self, keys: Sequence[str], columns: Sequence[tuple[Any, Callable[[list[Any]], list[Any]] | None]]
    ) -> None:
        self._keys = tuple(keys)
        self._columns = tuple(columns)
        self._n = len(columns[0][0]) if columns else 0

    def __len__(self) -> int:
        return self._n

    def _chunk(self, start: int, stop: int) -> list[dict[str, Any]]:
        cols = []
        for arr, conv in self._columns:
            part = arr[start:stop].tolist()
            cols.append(part if conv is None else conv(part))
        keys = self._keys
        return [dict(zip(keys, vals, strict=True)) for vals in zip(*cols, strict=True)]

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            start, stop, step = i.indices(self._n)
            if step == 1:
                return self._chunk(start, max(start, stop))
            return [self[k] for k in range(start, stop, step)]
        k = i + self._n if i < 0 else i
        if not 0 <= k < self._n:
            raise IndexError(i)
        return self._chunk(k, k + 1)[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for start in range(0, self._n, _CHUNK):
            yield from self._chunk(start, min(self._n, start + _CHUNK))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]  # as a list of dicts

    def __repr__(self) -> str:
        head = ", ".join(repr(r) for r in self[:2])
        return f"Rows([{head}{', ...' if self._n > 2 else ''}] {self._n} rows)"


def _sorted_names(names: Sequence[str], present: I64) -> tuple[list[str], bool]:
    """The present codes' names and whether they are in code order (str's <, one numpy loop)."""
    # every code present (1M names on a wide log): the names as they are, no lookup per code
    sub = list(names) if len(present) == len(names) else [names[k] for k in present.tolist()]
    ordered = np.asarray(sub, dtype=object)
    return sub, len(sub) < 2 or bool(np.all(ordered[1:] > ordered[:-1]))


def _names_rank(names: Sequence[str], present: I64) -> I64:
    """Each present code's rank by name (the codes' order when the names are sorted, as the
    engine's are: a store's ENUM codes and the numbered raw values are in name order)."""
    sub, in_order = _sorted_names(names, present)
    if in_order:
        return np.arange(len(sub), dtype=np.int64)
    order = sorted(range(len(sub)), key=sub.__getitem__)
    rank = np.empty(len(sub), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(sub), dtype=np.int64)
    return rank


def _hinted(cols: EdgeColumns) -> tuple[I64, I64] | None:
    """The engine's ranking (``cols.ranked``) and each code's visits where it is the graph's order
    of nodes, else None (the graph derives them). Checked: the names in code order (the graph's tie
    order is by name), the visits descending with ties by code, the first and last edges' nodes
    the first and last ranked, and the visits' sum the moves'. (Each node's visits and the edges'
    order are the kernel's construction: see :class:`EdgeColumns`.)"""
    codes, by_rank = cols.ranked, cols.visits
    n_names = len(cols.names)
    if codes is None or by_rank is None or not len(codes) or len(codes) != len(by_rank) or not len(cols.src):
        return None
    if int(codes.min()) < 0 or int(codes.max()) >= n_names or int(by_rank[-1]) < 1:
        return None
    if int(cols.src[0]) != int(codes[0]) or int(cols.src[-1]) != int(codes[-1]):
        return None
    step = by_rank[1:] - by_rank[:-1]
    if bool((step > 0).any()) or not bool((codes[1:][step == 0] > codes[:-1][step == 0]).all()):
        return None
    if int(by_rank.sum()) != int(cols.moves.sum()):
        return None
    visits = np.zeros(n_names, dtype=np.int64)
    visits[codes] = by_rank
    if int(np.count_nonzero(visits)) != len(codes):  # a code ranked twice
        return None
    if not _sorted_names(cols.names, np.flatnonzero(visits))[1]:
        return None
    return codes, visits


def _edge_order(fr: I64, moves: I64, to: I64, n_nodes: int) -> I64:
    """The edges' order: from-node rank, moves (descending), then the to-node's rank with the end
    (rank ``n_nodes``) after every node. One argsort of packed words when they fit in 63 bits."""
    if not len(fr):
        return np.zeros(0, dtype=np.int64)
    top = int(moves.max())
    down = top - moves  # moves descending as an ascending key
    nbits = max(1, n_nodes.bit_length())
    mbits = max(1, top.bit_length())
    if nbits * 2 + mbits > _WORD_BITS:
        # the moves' distinct values ranked (a few thousand, even on millions of edges)
        _, down = np.unique(down, return_inverse=True)
        down = down.astype(np.int64)
        mbits = max(1, int(down.max()).bit_length())
    if nbits * 2 + mbits > _WORD_BITS:
        return np.lexsort((to, down, fr)).astype(np.int64)
    word = fr << (mbits + nbits)
    down <<= nbits
    word |= down
    del down
    word |= to
    return _argsort_halves(word)  # the words are distinct (one edge per from, to)


def _ordered(rank: I64, cols: EdgeColumns, n_nodes: int, pool: ThreadPoolExecutor | None = None) -> bool:
    """Whether the edges are in :func:`_edge_order`'s order already (engine/wide_edges.py hands
    them so): its packed words made and checked by chunks (no array of every edge: each costs its
    page faults), with ``pool`` the two halves of the chunks in its threads; False where the word
    does not fit (then the sort decides). An edge whose node is not in the order raises KeyError,
    as the dict form's rank[] lookup."""
    m = len(cols.src)
    if not m:
        return True
    top = int(cols.moves.max())
    nbits = max(1, n_nodes.bit_length())
    mbits = max(1, top.bit_length())
    if nbits * 2 + mbits > _WORD_BITS:
        return False

    def check(ab: tuple[int, int]) -> tuple[bool, int, int]:  # in order, its first and last word
        head, last = -1, -1
        for a in range(ab[0], ab[1], _CHUNK_CHECKED):
            b = min(a + _CHUNK_CHECKED, ab[1])
            word = rank[cols.src[a:b]]
            if (word == n_nodes).any():
                raise KeyError("an edge's node is not in the order")
            word <<= mbits + nbits
            down = top - cols.moves[a:b]
            down <<= nbits
            word |= down
            del down
            word |= rank[cols.dst[a:b]]  # dst -1 reads the last slot: the end, after every node
            if head < 0:
                head = int(word[0])
            if int(word[0]) <= last or not bool((word[1:] > word[:-1]).all()):
                return False, head, last
            last = int(word[-1])
        return True, head, last

    if pool is None or m < _THREADED:
        return check((0, m))[0]
    lo, hi = pool.map(check, [(0, m // 2), (m // 2, m)])
    return lo[0] and hi[0] and lo[2] < hi[1]


def _argsort_halves(word: I64) -> I64:
    """The order of distinct ``word``s; past a million, the words below and above a sampled
    median argsorted in two threads (numpy's sort releases the GIL: the wall time of one)."""
    if len(word) < _THREADED:
        return np.argsort(word).astype(np.int64)
    sample = word[:: max(1, len(word) // 4096)]
    cut = np.partition(sample, len(sample) // 2)[len(sample) // 2]
    below = word < cut
    halves = [np.flatnonzero(below), np.flatnonzero(~below)]
    del below

    def part(idx: I64) -> I64:
        return idx[np.argsort(word[idx])]

    with ThreadPoolExecutor(2) as pool:
        lo, hi = pool.map(part, halves)
    return np.concatenate((lo, hi)).astype(np.int64)


def _gathered(columns: list[Any], o: I64) -> list[Any]:
    """Each column in the order ``o``; past a million rows in two threads (numpy's gathers release
    the GIL)."""
    if len(o) < _THREADED:
        return [c[o] for c in columns]
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda c: c[o], columns))


def graph_columns(cols: EdgeColumns, order: Sequence[str] | None) -> tuple[Rows, Rows, int]:
    """model/transitions.py's ``nodes`` and ``edges`` (same dicts, same order) and the customers
    (each sequence ends once: the moves to the end), from the columns. Past a million edges the
    vector passes run in two threads (numpy releases the GIL)."""
    if len(cols.src) < _THREADED:
        return _graph(cols, order, None)
    with ThreadPoolExecutor(2) as pool:
        return _graph(cols, order, pool)


def _graph(
    cols: EdgeColumns, order: Sequence[str] | None, pool: ThreadPoolExecutor | None
) -> tuple[Rows, Rows, int]:
    n_names = len(cols.names)

    def ended() -> tuple[I64, int, I64]:  # each node's moves to the end, all of them, the end edges
        end = np.flatnonzero(cols.dst < 0)
        moves = cols.moves[end]
        by_node = np.bincount(cols.src[end], weights=moves, minlength=n_names).astype(np.int64)
        return by_node, int(moves.sum()), end

    def visits_of(ab: tuple[int, int]) -> F64:  # by chunks: the weights' float cast under the mmap bound
        acc = np.zeros(n_names)
        for a in range(ab[0], ab[1], _CHUNK_CHECKED):
            b = min(a + _CHUNK_CHECKED, ab[1])
            acc += np.bincount(cols.src[a:b], weights=cols.moves[a:b], minlength=n_names)
        return acc

    m = len(cols.src)
    later = None if pool is None else pool.submit(ended)
    hinted = None if order is not None else _hinted(cols)
    if hinted is not None:  # the engine's ranking: the graph's order of nodes and of the edges
        nodes_codes, visits = hinted
    else:
        if pool is not None:
            upper = pool.submit(visits_of, (m // 2, m))
            visits = (visits_of((0, m // 2)) + upper.result()).astype(np.int64)
        else:
            visits = visits_of((0, m)).astype(np.int64)
        present = np.flatnonzero(visits > 0).astype(np.int64)
        if order is not None:
            code_of = {cols.names[k]: k for k in present.tolist()}
            nodes_codes = np.asarray([code_of[n] for n in order if n in code_of], dtype=np.int64)
        else:
            by_name = _names_rank(cols.names, present)
            nodes_codes = present[np.lexsort((by_name, -visits[present]))]
    rank = np.full(n_names + 1, len(nodes_codes), dtype=np.int64)  # the last slot: the end (-1)
    rank[nodes_codes] = np.arange(len(nodes_codes), dtype=np.int64)
    o = None
    if hinted is None and not _ordered(rank, cols, len(nodes_codes), pool):
        fr, to = rank[cols.src], rank[cols.dst]  # dst -1 reads the last slot
        if (fr == len(nodes_codes)).any():
            raise KeyError("an edge's node is not in the order")  # as the dict form's rank[] lookup
        o = _edge_order(fr, cols.moves, to, len(nodes_codes))
        del fr, to
    ends, customers_n, end_edges = later.result() if later is not None else ended()
    named = _Named(list(cols.names), end=False)
    named_or_end = _Named(named.names, end=True)

    columns = [cols.src, cols.dst, cols.moves, cols.customers, cols.median_s, cols.p90_s]
    src, dst, moves, customers, median, p90 = columns if o is None else _gathered(columns, o)
    probability = np.empty(len(moves))

    def divided(ab: tuple[int, int]) -> None:
        for a in range(ab[0], ab[1], _CHUNK_CHECKED):
            b = min(a + _CHUNK_CHECKED, ab[1])
            np.divide(moves[a:b], visits[src[a:b]], out=probability[a:b])

    def measured() -> tuple[bool, I64]:  # the end's times are NaN already; the end edges' places
        at_end = end_edges if o is None else np.flatnonzero(dst < 0)
        return bool(np.isnan(median[at_end]).all() and np.isnan(p90[at_end]).all()), at_end

    if pool is not None:
        mid = len(moves) // 2
        parts = [pool.submit(divided, (0, mid)), pool.submit(divided, (mid, len(moves)))]
        nan_ends, at_end = measured()
        for f in parts:
            f.result()
    else:
        divided((0, len(moves)))
        nan_ends, at_end = measured()
    if not nan_ends:
        median, p90 = median.copy(), p90.copy()  # the end's times are not measured
        median[at_end] = math.nan
        p90[at_end] = math.nan
    edges = Rows(
        ("from", "to", "moves", "customers", "probability", "median_time_s", "p90_time_s"),
        [
            (src, named),
            (dst, named_or_end),
            (moves, None),
            (customers, None),
            (probability, None),
            (median, _none_nan),
            (p90, _none_nan),
        ],
    )
    nodes = Rows(
        ("node", "visits", "ends"),
        [(nodes_codes, named), (visits[nodes_codes], None), (ends[nodes_codes], None)],
    )
    return nodes, edges, customers_n
