"""One sequential pass over each customer's sorted nodes, in numpy: the kernels of the DuckDB fast
path of ``paths`` and ``transitions`` (engine/journeys_fast.py, bench/JOURNEYS.md).

DuckDB sorts the customer's elements once (``ORDER BY c, ts, node``, integer nodes) and hands over
three arrays; runs, moves, paths, distinct customers and quantiles are then vector operations over
them (DuckDB's window operator and its ``count(DISTINCT ..)`` cost 2-3x more at 10M events). The
answers are the SQL fast path's (and the portable plan's): a run starts at a customer's first element
or where the node changes (every element without collapsing); a run's move goes to the next run of
the same customer, its time is the next run's first time minus its own; a path is the first
``depth`` runs in order, "continued" when there is a further one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from hourglass.engine._pages import small_pages

__all__ = [
    "I64",
    "PACKED_EDGES",
    "Sorted",
    "runs_of",
    "seq_paths",
    "seq_transitions",
    "small_pages",
    "sorted_from_arrow",
    "sorted_from_numpy",
]

I64 = npt.NDArray[np.int64]
#: (a new customer starts here, ts in µs, node >= 0 as int32), in the order (customer, ts, node)
Sorted = tuple[npt.NDArray[np.bool_], I64, npt.NDArray[np.int32]]


def sorted_from_numpy(got: dict[str, Any]) -> Sorted | None:
    """The sorted elements from DuckDB's numpy columns (a column with a null is a masked array)."""
    if any(np.ma.is_masked(got[k]) for k in ("c", "ts", "node")):
        return None
    c = np.asarray(got["c"])
    new = np.empty(len(c), dtype=bool)
    if len(c):
        new[0] = True
        np.not_equal(c[1:], c[:-1], out=new[1:])
    return new, np.asarray(got["ts"], dtype=np.int64), np.asarray(got["node"], dtype=np.int32)


def sorted_from_arrow(got_t: Any) -> Sorted | None:
    """The sorted elements from an Arrow table (text customers)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if any(got_t.column(k).null_count for k in ("c", "ts", "node")):
        return None
    m = got_t.num_rows
    c = got_t.column("c").combine_chunks()
    new = np.empty(m, dtype=bool)
    if m:
        new[0] = True
        if pa.types.is_integer(c.type):
            np.not_equal(c.to_numpy()[1:], c.to_numpy()[:-1], out=new[1:])
        else:
            new[1:] = pc.not_equal(c.slice(1), c.slice(0, m - 1)).to_numpy(zero_copy_only=False)
    ts = np.asarray(got_t.column("ts").to_numpy(), dtype=np.int64)
    node = np.asarray(got_t.column("node").to_numpy(), dtype=np.int32)
    return new, ts, node


def runs_of(seq: Sorted, collapse: bool) -> Sorted:
    """Per run (in order): does it start a customer, its first time, its node."""
    new, ts, node = seq
    if not collapse:
        return new, ts, node
    start = new.copy()
    start[1:] |= node[1:] != node[:-1]
    return new[start], ts[start], node[start]


def seq_transitions(seq: Sorted, collapse: bool) -> list[dict[str, Any]]:
    """The edges' rows as the SQL fast path's: ``node``, ``nxt`` (-1: the end), ``moves``,
    ``customers``, ``median_s``, ``p90_s`` (None for the end)."""
    if len(seq[2]) and (int(seq[2].max()) + 2) ** 2 <= PACKED_EDGES:
        from hourglass.engine.journeys_ranges import transitions_merge, transitions_part

        span = int(seq[2].max()) + 2
        part = transitions_part(seq, collapse, span)
        if part is not None:
            return transitions_merge([part], span)
    from hourglass.engine.wide_edges import edge_columns, rows_of

    return rows_of(edge_columns(seq, collapse))  # many nodes: engine/wide_edges.py (W's kernel)


#: up to this many possible edges (span ** 2), :func:`_packed_transitions` counts them
PACKED_EDGES = 1 << 16


def seq_paths(
    seq: Sorted, collapse: bool, depth: int, top: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The top paths' rows (``p0`` .. as nodes, -1 where the path ended, ``customers``,
    ``continued``), ordered as the portable plan (customers down, then node by node, a missing node
    first), and the totals (``customers``, ``paths``)."""
    from hourglass.engine.journeys_paths import path_bits, paths_merge, paths_part

    bits = path_bits(seq[2])
    return paths_merge([paths_part(seq, collapse, depth, bits)], depth, bits, top)
