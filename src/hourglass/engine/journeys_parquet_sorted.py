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

from hourglass.engine._arrow import int_view, string_buffers
from hourglass.engine._pages import small_pages
from hourglass.engine.parquet_names import indices as _indices

if TYPE_CHECKING:
    import numpy.typing as npt

    from hourglass.engine.journeys_seq import Sorted
    from hourglass.engine.load import Events
    from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = ["ENABLED", "HALVES", "OVERLAP", "SORT_MIN", "SPLIT_MIN", "byte_order", "encoded", "parquet_sorted"]

#: the path's switch (the general fast path when off)
ENABLED = True


def parquet_sorted(events: Events, spec: PathsSpec | TransitionsSpec) -> tuple[Sorted, list[str]] | None:
    """The elements in the order (customer, ts, node), the nodes numbers of the names in their
    order, and the names; None where engine/journeys_parquet.py's form does not apply (its
    conditions: one local Parquet file pyarrow reads, a column of many values, no period, no
    null) or the time leaves too few bits for the sort."""
    from hourglass.engine.journeys_parquet import wide_read
    from hourglass.engine.journeys_wide import grouped_nodes, time_grouped, wide_sorted

    if not ENABLED:
        return None
    got = wide_read(events, spec, canonical=True)  # the canonical names, in the reader's threads
    if got is None:
        return None
    c, ts, names = got
    with small_pages(), ThreadPoolExecutor(1) as pool:
        # the customers' grouping needs no node: it runs while the names are numbered
        grouping = pool.submit(time_grouped, c, ts) if OVERLAP else None
        codes, dictionary = encoded(names, halves=HALVES)
        del names
        order = byte_order(dictionary)  # the names' order: their bytes', as DuckDB's
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

#: the transitions' names in two halves when many (else one ``dictionary_encode`` on this thread
#: while the customers' grouping takes the other core: 10M `wide`, loaded, x6 alternated: 0.2-0.3
#: CPU-s fewer, no halves' split and copies)
HALVES = False

#: the fewest strings numbered in two halves, in threads (below: one ``dictionary_encode``)
SPLIT_MIN = 1 << 20


def encoded(names: Any, halves: bool = True) -> tuple[npt.NDArray[np.signedinteger[Any]], Any]:
    """Each string's number and the distinct strings (``dictionary_encode``: equal numbers are
    equal strings); with ``halves``, in two halves by the parity of the last byte (a string of one
    half is never equal to one of the other) encoded in threads when there are many: pyarrow's
    encoding runs on one thread (10M `wide` names: ~0.7-1.2 CPU-s)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(names)
    if n < SPLIT_MIN or not halves:
        got = pc.dictionary_encode(names)
        return _view(got.indices), got.dictionary  # (Arrow's numbers as they are: no copy)
    off, data = string_buffers(names)
    if not len(data):  # every string empty: a byte to take from
        data = np.zeros(1, np.uint8)
    odd = np.take(data, off[1:].astype(np.intp) - 1, mode="clip") & 1
    odd[off[1:] == off[:-1]] = 0  # the empty string: the first half
    split = [np.flatnonzero(odd == 0), np.flatnonzero(odd)]
    del odd

    def one(rows: npt.NDArray[np.intp]) -> Any:
        return pc.dictionary_encode(names.take(_indices(rows)))

    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(one, split))
    codes = np.empty(n, dtype=np.int64)
    codes[split[0]] = _codes(parts[0].indices)
    codes[split[1]] = _codes(parts[1].indices) + len(parts[0].dictionary)
    return codes, pa.concat_arrays([parts[0].dictionary, parts[1].dictionary])


#: the fewest distinct strings put in order by their first 8 bytes in numpy (below: Arrow's sort)
SORT_MIN = 1 << 12


def byte_order(strings: Any) -> npt.NDArray[np.int64]:
    """The order of distinct strings (no null) by their UTF-8 bytes (``pc.sort_indices``'s, and
    DuckDB's). Many: one numpy sort of a word per string, its first 8 bytes big-endian (zeros past
    its end); the strings whose words tie (longer than 8 bytes with a common start, or ending in
    zero bytes) are then ordered by Arrow within each tie, so the order is exact for any strings.
    (10M `wide`'s 1M names: ~0.28 CPU-s by ``pc.sort_indices`` alone.)"""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(strings)
    if n < SORT_MIN or strings.type != pa.string() or strings.null_count:
        return _codes(pc.sort_indices(strings))
    off, data = string_buffers(strings)
    off = off.astype(np.intp)
    data = np.concatenate([data[off[0] : off[-1]], np.zeros(8, np.uint8)])  # a string's 8 bytes in reach
    start = off[:-1] - off[0]
    size = off[1:] - off[:-1]
    word = np.zeros(n, dtype=np.uint64)
    for k in range(8):
        byte = np.where(size > k, data[start + k], 0).astype(np.uint64)
        word |= byte << np.uint64(56 - 8 * k)
    order = np.argsort(word).astype(np.int64)
    ranked = word[order]
    tie = np.zeros(n, dtype=bool)
    np.equal(ranked[1:], ranked[:-1], out=tie[1:])
    if tie.any():  # equal words: those strings in Arrow's order within each tie
        head = tie.copy()
        head[:-1] |= tie[1:]
        where = np.flatnonzero(head)
        sub = order[where]
        group = np.cumsum(~tie[where])
        table = pa.table({"g": _indices(group), "s": strings.take(_indices(sub))})
        by = pc.sort_indices(table, sort_keys=[("g", "ascending"), ("s", "ascending")])
        order[where] = sub[_codes(by)]
    return order


def _codes(indices: Any) -> npt.NDArray[np.int64]:
    return _view(indices).astype(np.int64)


_view = int_view  # Arrow's integer indices as numpy's, without a copy
