"""The rows of a store of text names in the order (customer, ts, node) for ``transitions``, by
the rows' places (``hg_seq``, engine/store_codes.py; issue 18, the `wide` shape, bench/WIDE.md):
each row put at its customer's start plus its place, no sort (engine/store_paths.py: the same
places for ``paths``).

The starts come from the store's counts of each customer's rows (``hg_customers.events``), so the
rows need not all be read first: DuckDB reads them in Arrow batches on a cursor and each batch is
put in place in a thread while the next is read; the names are read beside them on the connection
(10M ``wide`` rows: the read and the puts overlap instead of following each other, and Arrow's
batches, viewed in place, cost less than ``fetchnumpy``'s copy). A row whose place is not below its
customer's count is refused, so each row lands in its own customer's slots; with as many rows read
as the counts' sum and every slot filled, each slot holds one row, so the store's counts are the
rows' own and each customer's places are 0 .. count - 1 (no count per batch: R's proof, s13). Where
that fails (a store not as written), the rows are put in place again from their own counts.

Same answers as the sort of every row (tests/test_store_paths.py). Declines (None) as store_paths:
another level, a period, a breakdown, a store without the places, a null, keys not dense, or
places that are not each customer's 0, 1, ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hourglass.engine._arrow import int_view
from hourglass.engine.store_codes import CODE_COLUMN, SEQ_COLUMN
from hourglass.engine.store_paths import int_columns, places_database

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    import numpy.typing as npt

    from hourglass.engine.journeys_seq import Sorted
    from hourglass.engine.load import Events
    from hourglass.model.journeys_spec import TransitionsSpec

__all__ = ["BATCH_ROWS", "ENABLED", "PARALLEL_MIN", "store_sorted"]

#: the order's switch (the sort of every row when off)
ENABLED = True

#: the fewest rows put in place in threads from their own counts
PARALLEL_MIN = 1_000_000

#: rows per Arrow batch of the read (each put in place while the next is read)
BATCH_ROWS = 1 << 20


def store_sorted(events: Events, spec: TransitionsSpec) -> tuple[Sorted, list[str]] | None:
    """Every element of the event level in the order (customer, ts, node) (engine/journeys_seq.py
    ``Sorted``) and the names the nodes index, from the rows' places: each row put at its
    customer's start plus its place (the keys are dense: a customer's rows start after the rows of
    the keys before his), no sort (``transitions``: engine/journeys_fast.py ``sorted_nodes``); None
    where the places do not apply (as engine/store_paths.py's ``store_paths``).

    The starts come from the store's counts (``hg_customers.events``): each Arrow batch of rows is
    put in place in a thread while DuckDB reads the next (on a cursor), the names read beside them
    (on the connection). A row is refused where its place is not below its customer's count; as
    many rows as the counts' sum and every slot filled then prove the counts and places (the
    module's note); else the rows are put in place again from their own counts."""
    from concurrent.futures import ThreadPoolExecutor

    from hourglass.engine.errors import translated
    from hourglass.engine.journeys_codes import code_names

    if not ENABLED or spec.level != "event" or spec.since is not None or spec.until is not None:
        return None
    database = places_database(events) if spec.by is None else None
    if database is None:
        return None
    raw = events.engine.con.con
    sql = f'SELECT customer, {SEQ_COLUMN}, "timestamp", {CODE_COLUMN} FROM "{database}".hg_events'
    with translated(), ThreadPoolExecutor(2) as pool:
        cur = raw.cursor()
        try:
            counts = _claimed(cur, database)
            names = pool.submit(code_names, events, database)
            got = _streamed(cur, sql, counts, pool)
        finally:
            cur.close()
        listed = list(names.result())
    return None if got is None else (got, listed)


class _Placed:
    """The rows put at their customer's start (from ``counts``, each key's rows) plus their place."""

    def __init__(self, counts: npt.NDArray[np.int64]) -> None:
        n = int(counts.sum())
        self.counts = counts
        self.begin = np.cumsum(counts)
        self.begin -= counts
        self.ts = np.empty(n, dtype=np.int64)
        self.node = np.full(n, -1, dtype=np.int32)  # -1: no row here (yet)
        small = bool(len(counts)) and int(counts.max()) < 1 << 31  # the places' bound gathered as int32
        self.bound = counts.astype(np.int32) if small else counts

    def put(
        self, c: npt.NDArray[Any], place: npt.NDArray[Any], ts: npt.NDArray[Any], node: npt.NDArray[Any]
    ) -> bool:
        """Put the rows in their slots (numpy's scatter frees the GIL); False on a negative value,
        a key past the counts or a place not below its customer's count (a slot outside its
        customer's: see the module's proof)."""
        if not len(c):
            return True
        if int(c.min()) < 0 or int(place.min()) < 0 or int(node.min()) < 0 or int(c.max()) >= len(self.begin):
            return False
        if not bool((place < self.bound[c]).all()):
            return False
        slot = self.begin[c]
        slot += place
        self.ts[slot] = ts
        self.node[slot] = node
        return True

    def sorted(self) -> Sorted | None:
        """The rows in order; None when a slot was not filled (with the true counts: two rows in
        one, or a gap: the places are not each customer's 0, 1, ...)."""
        if not bool((self.node >= 0).all()):
            return None
        new = np.zeros(len(self.node), dtype=bool)
        new[self.begin[self.counts > 0]] = True
        return new, self.ts, self.node


def _claimed(cur: Any, database: str) -> npt.NDArray[np.int64] | None:
    """Each customer key's rows as the store counted them (``hg_customers``); None when they cannot
    be the rows' counts (keys not 0 .. customers - 1, a null, not the table's rows in all)."""
    (rows,) = cur.execute(f'SELECT count(*) FROM "{database}".hg_events').fetchone() or (0,)
    got = int_columns(cur, f'SELECT key, events FROM "{database}".hg_customers')
    if got is None or not len(got[0]):
        return None
    key, count = got
    if int(key.min()) < 0 or int(key.max()) >= len(key) or int(count.min()) < 0 or int(count.sum()) != rows:
        return None
    counts = np.zeros(len(key), dtype=np.int64)
    counts[key] = count
    return counts


def _streamed(
    cur: Any, sql: str, counts: npt.NDArray[np.int64] | None, pool: ThreadPoolExecutor
) -> Sorted | None:
    """``sql``'s rows (customer, place, µs, name number) read in Arrow batches, each put in place by
    ``counts`` in ``pool`` while the next is read (the slots made there too, beside the first read);
    when that does not prove the order (a row refused, not as many rows as the counts' sum, a slot
    not filled) or without counts, the rows put in place again from their own counts
    (:func:`_in_place`). None on a null."""
    placed = None if counts is None else pool.submit(_Placed, counts)
    batches: list[tuple[npt.NDArray[Any], ...]] = []
    puts = []
    for batch in cur.execute(sql).to_arrow_reader(BATCH_ROWS):
        cols = _viewed(batch)
        if cols is None:
            return None
        batches.append(cols)
        if placed is not None:
            puts.append(pool.submit(_put, placed, cols))
    if placed is not None and all([f.result() for f in puts]):  # every put waited for
        slots = placed.result()
        if sum(len(b[0]) for b in batches) == len(slots.node):
            got = slots.sorted()
            if got is not None:
                return got
    if not batches:
        z = np.zeros(0, dtype=np.int64)
        return _in_place(z, z, z, z)
    c, place, ts, node = (np.concatenate([b[k] for b in batches]) for k in range(4))
    del batches
    return _in_place(c, place, ts, node)


def _viewed(batch: Any) -> tuple[npt.NDArray[Any], ...] | None:
    """An Arrow batch's integer columns as numpy views of its buffers (not ``to_numpy``: pyarrow's
    imports pandas); None on a null or another type."""
    import pyarrow as pa

    out = []
    for a in batch.columns:
        if a.null_count or not pa.types.is_integer(a.type):
            return None
        out.append(int_view(a))
    return tuple(out)


def _put(slots: Future[_Placed], cols: tuple[npt.NDArray[Any], ...]) -> bool:
    """A batch's rows put in place; False where they cannot be (:meth:`_Placed.put`). (``slots``
    is made by a task submitted before this one: started, never waiting behind it.)"""
    return slots.result().put(*cols)


def _in_place(
    c: npt.NDArray[Any], place: npt.NDArray[Any], ts: npt.NDArray[Any], node: npt.NDArray[Any]
) -> Sorted | None:
    """The rows put in place from their own counts, in threads from ``PARALLEL_MIN`` rows; None
    where the keys are not dense (more keys than rows) or the places not each customer's 0, 1, ..."""
    from hourglass.engine.grouping import WORKERS, run_ranges

    n = len(c)
    if n and (int(c.min()) < 0 or int(c.max()) >= n):
        return None
    placed = _Placed(np.bincount(c).astype(np.int64, copy=False) if n else np.zeros(0, dtype=np.int64))
    ways = WORKERS if n >= PARALLEL_MIN else 1
    cuts = [n * k // ways for k in range(ways + 1)]

    def put(k: int) -> bool:
        a, b = cuts[k], cuts[k + 1]
        return placed.put(c[a:b], place[a:b], ts[a:b], node[a:b])

    if not all(run_ranges(put, ways)):
        return None
    return placed.sorted()
