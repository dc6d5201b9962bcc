"""The paths' kernel per set of customers in threads (engine/journeys_ranges.py's sets and ranges):
each customer's first ``depth`` runs packed in integers (the node bits of the whole log), the sets'
integers grouped and counted together as one log's (engine/journeys_fast.py, bench/JOURNEYS.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from hourglass.engine import journeys_wide
from hourglass.engine.journeys_order import Done, Threaded, numpy_sorted
from hourglass.engine.journeys_ranges import in_sets, runs_of_keys
from hourglass.engine.journeys_seq import I64, Sorted
from hourglass.model.journeys_spec import PathsSpec

__all__ = [
    "MIX",
    "PPart",
    "counted_paths",
    "hashed_groups",
    "path_bits",
    "paths_merge",
    "paths_part",
    "paths_runs",
    "threaded_paths",
    "wide_paths",
]

#: a 64-bit odd multiplier of the paths' hash (the golden ratio's)
MIX = np.uint64(0x9E3779B97F4A7C15)


def path_bits(node: npt.NDArray[Any]) -> int:
    """The bits of a path's node (node + 1; 0: the path ended) for the whole log."""
    return max(1, (int(node.max()) + 1).bit_length()) if len(node) else 1


#: a set's paths: each customer's path as integers (one list per integer), and its "continued"
PPart = tuple[list[I64], npt.NDArray[np.bool_]]


def paths_part(seq: Sorted, collapse: bool, depth: int, bits: int) -> PPart:
    """Each customer's first ``depth`` runs' nodes + 1 (0: the path ended) packed in integers of up
    to 62 bits, the first node highest (so their order is the paths' order node by node), and
    whether a further run follows."""
    new, _, node = seq
    if collapse:  # the runs' first elements (their times are not needed here)
        start = np.not_equal(node[1:], node[:-1])
        at = np.flatnonzero(new[1:] | start)  # (by positions: a boolean index is 3-5x slower)
        del start
        at += 1
        if len(new) and new[0]:
            at = np.concatenate(([0], at))
        return paths_runs(np.take(new, at), np.take(node, at), depth, bits)
    return paths_runs(new, node, depth, bits)


def paths_runs(first: npt.NDArray[np.bool_], rnode: npt.NDArray[Any], depth: int, bits: int) -> PPart:
    """:func:`paths_part` of runs in order (``first``: the run starts a customer)."""
    n = len(rnode)
    per = max(1, 62 // bits)
    words = [np.zeros(0, dtype=np.int64) for _ in range(-(-depth // per))]
    if not n:
        return words, np.zeros(0, dtype=bool)
    begin = np.flatnonzero(first)
    end = np.empty_like(begin)
    end[:-1] = begin[1:]
    end[-1] = n
    # each run's node + 1, and a 0 past the last: a customer's missing run reads it
    code = np.zeros(n + 1, dtype=np.int64 if bits > 31 else np.int32)
    np.add(rnode, 1, out=code[:n], casting="unsafe")
    words = [np.zeros(len(begin), dtype=np.int64) for _ in words]
    at = begin.copy()
    inside = np.empty(len(begin), dtype=bool)
    got = np.empty(len(begin), dtype=code.dtype)
    for i in range(depth):
        if i:
            at += 1
        np.less(at, end, out=inside)
        np.take(code, np.where(inside, at, n), out=got)
        w = words[i // per]
        w <<= bits
        w |= got
    return words, np.subtract(end, begin) > depth


def hashed_groups(cols: list[npt.NDArray[Any]]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """An order of the paths (``cols``: their integer columns, one value per path each) with equal
    paths together, and where each distinct path starts in it: by a 64-bit hash of the columns (a
    sort of one word, not ``np.lexsort`` of them all: 10M `wide`'s 500k paths of 3 words, 0.2 ->
    0.05 CPU-s); paths equal in hash are checked equal (else the columns are sorted)."""
    n = len(cols[0]) if cols else 0
    h = np.zeros(n, dtype=np.uint64)
    for col in cols:
        h ^= col.astype(np.int64).view(np.uint64)
        h *= MIX
        h ^= h >> np.uint64(29)
    order = np.argsort(h)
    differs = np.zeros(max(0, n - 1), dtype=bool)
    for col in cols:
        s = col[order]
        differs |= s[1:] != s[:-1]
    hs = h[order]
    if bool((differs & (hs[1:] == hs[:-1])).any()):  # two paths of one hash: the columns sorted
        order = np.lexsort(cols[::-1])
        differs[:] = False
        for col in cols:
            s = col[order]
            differs |= s[1:] != s[:-1]
    return order, np.concatenate(([0], np.flatnonzero(differs) + 1)).astype(np.intp)


def counted_paths(
    cols: list[npt.NDArray[Any]], longer: npt.NDArray[np.bool_], top: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """The paths (``cols``: their integer columns, one value per customer each; ``longer``: a
    further run follows) counted (:func:`hashed_groups`): each distinct path's first customer (an
    index of ``cols``), its customers and its "continued", and the candidates for a top of ``top``
    (the distinct paths whose count reaches the ``top``-th count, in no order)."""
    n = len(longer)
    order, starts = hashed_groups(cols)
    counts = np.diff(np.append(starts, n))
    continued = np.add.reduceat(longer[order], starts, dtype=np.int64)
    k = min(top, len(counts))
    cand = np.zeros(0, dtype=np.intp)
    if k > 0:
        cand = np.flatnonzero(counts >= np.partition(counts, len(counts) - k)[len(counts) - k])
    return order[starts], counts, continued, cand


def _paths_set(parts: list[PPart], tbits: int) -> PPart:
    """A set's part from its ranges' (customers disjoint)."""
    del tbits
    if len(parts) <= 1:
        return parts[0] if parts else ([], np.zeros(0, dtype=bool))
    return [np.concatenate([p[0][j] for p in parts]) for j in range(len(parts[0][0]))], np.concatenate(
        [p[1] for p in parts]
    )


def paths_merge(
    parts: list[PPart], depth: int, bits: int, top: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The top paths' rows (``p0`` .. as nodes, -1 where the path ended, ``customers``,
    ``continued``), customers down then node by node (a missing node first), and the totals
    (``customers``, ``paths``): engine/journeys_seq.py ``seq_paths``'s."""
    words = [np.concatenate([p[0][j] for p in parts]) for j in range(len(parts[0][0]))]
    longer = np.concatenate([p[1] for p in parts])
    n = len(longer)
    if not n:
        return [], {"customers": 0, "paths": 0}
    order: npt.NDArray[np.intp] | None = None
    if len(words) == 1:  # one integer: (path, continued) words sorted (a SIMD sort, no argsort)
        one = words[0]  # (the concatenation's own array: changed in place, no copy faulted in)
        one <<= 1
        one |= longer
        one.sort()
        longer = np.empty(n, dtype=bool)
        np.bitwise_and(one, 1, out=longer, casting="unsafe")
        one >>= 1
    else:
        order = np.lexsort(words[::-1])
    differs = np.zeros(n - 1, dtype=bool)
    for w in words:
        w_s = w if order is None else w[order]
        differs |= w_s[1:] != w_s[:-1]
    starts = np.concatenate(([0], np.flatnonzero(differs) + 1))
    counts = np.diff(np.append(starts, n))
    continued = np.add.reduceat(longer if order is None else longer[order], starts, dtype=np.int64)
    best = np.argsort(-counts, kind="stable")[:top]  # the paths are in path order already
    per = max(1, 62 // bits)
    mask = (1 << bits) - 1
    rows = []
    for u in best.tolist():
        at = int(starts[u] if order is None else order[starts[u]])
        row: dict[str, Any] = {}
        for i in range(depth):
            j = i // per
            held = min(per, depth - j * per)  # nodes in word j
            row[f"p{i}"] = ((int(words[j][at]) >> (bits * (held - 1 - (i - j * per)))) & mask) - 1
        row["customers"] = int(counts[u])
        row["continued"] = int(continued[u])
        rows.append(row)
    return rows, {"customers": n, "paths": len(counts)}


def threaded_paths(spec: PathsSpec) -> Threaded:
    """The paths' answer (engine/journeys_seq.py ``seq_paths``'s) per set of customers in threads,
    each range's kernel right after its sort."""

    def run(c: Any, ts: Any, node: Any) -> Any:
        bits = path_bits(node)

        def each(keys: I64, tbits: int, nbits: int) -> PPart:
            first, _, rnode = runs_of_keys(keys, tbits, nbits, spec.collapse)
            return paths_runs(first, rnode, spec.steps, bits)

        parts = in_sets(c, ts, node, each, _paths_set)
        if parts is None:
            return None
        parts = [p for p in parts if len(p[1])] or parts[:1]
        return paths_merge(parts, spec.steps, bits, spec.top)

    return run


def wide_paths(raw: Any, sql: str, spec: PathsSpec) -> Sorted | Done | None:
    """The paths' answer on many nodes (:class:`Done`): ``sql``'s rows fetched unordered, each
    range of customers sorted by engine/journeys_wide.py and its paths packed in the range's thread
    right after (:func:`paths_part`; was ``seq_paths`` on one thread after
    the whole sort); None on a null (the SQL fast path answers)."""
    got = dict(raw.sql(sql).fetchnumpy())
    if any(np.ma.is_masked(v) for v in got.values()):
        return None
    c, ts, node = np.asarray(got["c"]), np.asarray(got["ts"], dtype=np.int64), np.asarray(got["node"])
    del got
    bits = path_bits(node)
    parts: list[PPart] = []
    each = lambda seq: paths_part(seq, spec.collapse, spec.steps, bits)  # noqa: E731
    if journeys_wide.wide_sorted(c, ts, node, each=each, into=parts) is None:
        return numpy_sorted(raw, sql, False)  # the time leaves too few customer bits: DuckDB sorts
    parts = [p for p in parts if len(p[1])] or parts[:1]
    return Done(paths_merge(parts, spec.steps, bits, spec.top))
