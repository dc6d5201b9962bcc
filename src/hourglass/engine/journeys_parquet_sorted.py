"""The event level's elements of ONE local Parquet file of very many event names, numbered and
ordered without DuckDB (issue 18, the `wide` shape; bench/WIDE.md, session 11): the transitions'
rows (engine/journeys_fast.py ``sorted_nodes``).

The general fast path numbers every raw value in DuckDB (a DISTINCT of 10M strings, their names
sorted), joins the rows to their numbers and sorts them with ``ORDER BY c, ts, node`` (~5 CPU-s of
10M `wide`). Here pyarrow reads the file (engine/journeys_parquet.py's reader and conditions), the
raw values are canonicalised (engine/raw_step.py's trim on the rare rows with a blank edge),
numbered by ``dictionary_encode`` and the numbers renumbered in the names' order (Arrow's order of
strings is their bytes', as DuckDB's); the rows are then put in the order (customer, ts, node) by
engine/journeys_wide.py (grouped by customer when the file is in time order, else sorted). Same
arrays as the general path's, up to the customers' order, which no figure depends on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from hourglass.engine._pages import small_pages
from hourglass.engine.parquet_names import indices as _indices

if TYPE_CHECKING:
    import numpy.typing as npt

    from hourglass.engine.journeys_seq import Sorted
    from hourglass.engine.load import Events
    from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = ["ENABLED", "OVERLAP", "SPLIT_MIN", "encoded", "parquet_sorted"]

#: the path's switch (the general fast path when off)
ENABLED = True


def parquet_sorted(events: Events, spec: PathsSpec | TransitionsSpec) -> tuple[Sorted, list[str]] | None:
    """The elements in the order (customer, ts, node), the nodes numbers of the names in their
    order, and the names; None where engine/journeys_parquet.py's form does not apply (its
    conditions: one local Parquet file pyarrow reads, a column of many values, no period, no
    null) or the time leaves too few bits for the sort."""
    import pyarrow.compute as pc

    from hourglass.engine.journeys_parquet import _canonical, wide_read
    from hourglass.engine.journeys_wide import grouped_nodes, time_grouped, wide_sorted

    if not ENABLED:
        return None
    got = wide_read(events, spec)
    if got is None:
        return None
    c, ts, ev = got
    with small_pages(), ThreadPoolExecutor(1) as pool:
        # the customers' grouping needs no node: it runs while the names are numbered
        grouping = pool.submit(time_grouped, c, ts) if OVERLAP else None
        names = _canonical(ev)
        if names is None:
            return None
        del ev
        codes, dictionary = encoded(names)
        del names
        by_name = pc.sort_indices(dictionary)  # the names' order: their bytes', as DuckDB's
        order = _codes(by_name)
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        node = rank[codes]
        del codes, rank
        # the names in their order (1M Python strings) made in the thread while the nodes are put
        # in the customers' order
        named = pool.submit(lambda: dictionary.take(_indices(order)).to_pylist())
        grouped = grouping.result() if grouping is not None else time_grouped(c, ts)
        seq = grouped_nodes(grouped, node) if grouped is not None else wide_sorted(c, ts, node)
        if seq is None:
            return None
        return seq, named.result()


#: the customers grouped in a thread while the names are numbered (else after them)
OVERLAP = True

#: the fewest strings numbered in two halves, in threads (below: one ``dictionary_encode``)
SPLIT_MIN = 1 << 20


def encoded(names: Any) -> tuple[npt.NDArray[np.int64], Any]:
    """Each string's number and the distinct strings (``dictionary_encode``: equal numbers are
    equal strings), in two halves by the parity of the last byte (a string of one half is never
    equal to one of the other) encoded in threads when there are many: pyarrow's encoding runs on
    one thread (10M `wide` names: ~1.2 CPU-s)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(names)
    if n < SPLIT_MIN:
        got = pc.dictionary_encode(names)
        return _codes(got.indices), got.dictionary
    bufs = names.buffers()
    off = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=names.offset * 4)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    odd = np.take(data, off[1:].astype(np.intp) - 1, mode="clip") & 1
    odd[off[1:] == off[:-1]] = 0  # the empty string: the first half
    halves = [np.flatnonzero(odd == 0), np.flatnonzero(odd)]
    del odd

    def one(rows: npt.NDArray[np.intp]) -> Any:
        return pc.dictionary_encode(names.take(_indices(rows)))

    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(one, halves))
    codes = np.empty(n, dtype=np.int64)
    codes[halves[0]] = _codes(parts[0].indices)
    codes[halves[1]] = _codes(parts[1].indices) + len(parts[0].dictionary)
    return codes, pa.concat_arrays([parts[0].dictionary, parts[1].dictionary])


def _codes(indices: Any) -> npt.NDArray[np.int64]:
    width = np.dtype(f"int{indices.type.bit_width}")
    got = np.frombuffer(
        indices.buffers()[1], dtype=width, count=len(indices), offset=indices.offset * width.itemsize
    )
    return got.astype(np.int64)
