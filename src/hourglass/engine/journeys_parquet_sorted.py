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

from typing import TYPE_CHECKING

import numpy as np

from hourglass.engine._pages import small_pages

if TYPE_CHECKING:
    from hourglass.engine.journeys_seq import Sorted
    from hourglass.engine.load import Events
    from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = ["ENABLED", "parquet_sorted"]

#: the path's switch (the general fast path when off)
ENABLED = True


def parquet_sorted(events: Events, spec: PathsSpec | TransitionsSpec) -> tuple[Sorted, list[str]] | None:
    """The elements in the order (customer, ts, node), the nodes numbers of the names in their
    order, and the names; None where engine/journeys_parquet.py's form does not apply (its
    conditions: one local Parquet file pyarrow reads, a column of many values, no period, no
    null) or the time leaves too few bits for the sort."""
    import pyarrow.compute as pc

    from hourglass.engine.journeys_parquet import _canonical, _codes, _read, wide_source
    from hourglass.engine.journeys_wide import time_ordered, wide_sorted
    from hourglass.engine.parquet_rows import _indices

    if not ENABLED or spec.level != "event" or spec.since is not None or spec.until is not None:
        return None
    if spec.by is not None:
        return None
    cols = wide_source(events)
    if cols is None:
        return None
    got = _read(events, cols)
    if got is None:
        return None
    c, ts, ev = got
    with small_pages():
        names = _canonical(ev)
        if names is None:
            return None
        del ev
        encoded = pc.dictionary_encode(names)
        del names
        dictionary = encoded.dictionary
        by_name = pc.sort_indices(dictionary)  # the names' order: their bytes', as DuckDB's
        order = _codes(by_name)
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        node = rank[_codes(encoded.indices)]
        del encoded, rank
        seq = time_ordered(c, ts, node)
        if seq is None:
            seq = wide_sorted(c, ts, node)
        if seq is None:
            return None
        return seq, [str(n) for n in dictionary.take(_indices(order)).to_pylist()]
