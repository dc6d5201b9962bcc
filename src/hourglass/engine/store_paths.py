"""The event level of ``paths`` on a store of text names from each customer's first rows, and its
rows in order for ``transitions`` (engine/store_order.py), by the rows' places (issue 18, the
`wide` shape; bench/WIDE.md, session 12).

A store keeps its rows ordered by (event, customer, ts) (engine/event_store.py: a funnel reads
only its steps' row groups), so the general fast path sorted every row by (customer, ts, node)
(engine/journeys_wide.py, ~1.1 of 1.7 CPU-s for 10M `wide` rows) where a path needs only each
customer's first ``depth`` runs. A store of text names keeps each row's place in its customer's
sequence (``hg_seq``, engine/store_codes.py: 0, 1, ... in the order (µs, name number), the journeys'
order), so here:

1. DuckDB reads the rows whose place is at most ``depth`` (each customer's first ``depth + 1``
   rows: 3.9M of 10M `wide`) as (customer key, place, name number);
2. each number goes to its cell of a grid of a row per customer key (the keys are dense: 0 ..
   customers - 1) and a column per place: no sort;
3. collapsing repeated names, a customer whose first rows hold fewer than ``depth + 1`` runs and
   who may have more rows (his ``depth + 1`` rows were all read) has his next rows read (places
   ``[lo, 4 lo)``, his key among a registered list) into a wider grid of such customers, until he
   has ``depth + 1`` runs or no more rows;
4. each customer's first ``depth`` runs (a run starts where the name differs from the cell before)
   moved to the left of his path's row; the paths grouped by a hash of their rows
   (engine/journeys_paths.py ``hashed_groups``);
5. the top: the paths whose count reaches the ``top``-th count are ordered by (customers down, then
   name number by number, a missing name first: the numbers are in name order) in Python, and
   only their names read from the store.

``transitions`` (every row, in order) reads all the rows and puts each in its slot, its customer's
start plus its place (engine/store_order.py ``store_sorted``): the general path's order of every
row with no sort.

Same answers as the portable plan (tests/test_store_paths.py). Declines (None: the general fast
path runs) on another level, a period (the places count every row), a breakdown or an anchor, a
store without the places (written before them; an ENUM store), keys not dense, a null, or places
that are not each customer's 0, 1, ... (a store not as written).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from hourglass.engine.store_codes import CODE_COLUMN, NAMES_TABLE, SEQ_COLUMN

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy.typing as npt

    from hourglass.engine.load import Events
    from hourglass.model.journeys_spec import PathsSpec

    #: (customer key, place, name number) per row
    Arrays: TypeAlias = tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]
    #: a row per customer, a column per place: the name numbers, -1 where he has no row
    Grid: TypeAlias = npt.NDArray[np.int32]

__all__ = ["ENABLED", "int_columns", "places_database", "store_paths"]

#: the path's switch (the sort of every row when off)
ENABLED = True


def store_paths(events: Events, spec: PathsSpec) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """engine/journeys_fast.py ``fast_paths``'s answer (the top rows with ``p0`` .. as names, None
    where the path ended; the totals), or None where this form does not apply (module doc)."""
    if not ENABLED or spec.level != "event" or spec.start is not None or spec.end is not None:
        return None
    if spec.since is not None or spec.until is not None or spec.by is not None:
        return None
    database = places_database(events)
    if database is None:
        return None
    raw = events.engine.con.con
    table = f'"{database}".hg_events'
    depth, cap = spec.steps, spec.steps + 1
    got = _fetch(
        raw, f"SELECT customer, {SEQ_COLUMN}, {CODE_COLUMN} FROM {table} WHERE {SEQ_COLUMN} <= {depth}"
    )
    if got is None:
        return None
    c, place, node = got
    if not len(c):
        return [], {"customers": None, "paths": 0}
    if int(c.min()) < 0 or int(place.min()) < 0 or int(node.min()) < 0:
        return None
    if int(c.max()) >= len(c):  # keys not dense (each key's place 0 is read): no grid of them
        return None
    grid = np.full((int(c.max()) + 1, cap), -1, dtype=np.int32)
    if not _filled(grid, c, place, node, 0):
        return None
    if spec.collapse:
        runs = _collapsed(raw, table, grid, depth, c.dtype)
        if runs is None:
            return None
        path, longer = runs
    else:
        path, longer = grid[:, :depth], grid[:, depth] >= 0
    held = path[:, 0] >= 0  # keys without rows: no customer
    if not held.all():
        path, longer = path[held], longer[held]
    return _top(raw, database, path, longer, spec.top)


def places_database(events: Events) -> str | None:
    """The attached store's alias when its keyed events are its table itself (no filter over it),
    with the names' numbers and the rows' places (written by the store: not in its events' view),
    else None."""
    import ibis.expr.operations as ops

    from hourglass.engine.journeys_codes import codes_database

    keyed = events.keyed
    if keyed is None or not isinstance(keyed.op(), ops.DatabaseTable) or SEQ_COLUMN not in keyed.columns:
        return None
    if SEQ_COLUMN in events.table.columns:  # the source's own column of that name: a property
        return None
    if not keyed[SEQ_COLUMN].type().is_integer() or not keyed.customer.type().is_integer():
        return None
    return codes_database(events)


def int_columns(raw: Any, sql: str) -> tuple[npt.NDArray[Any], ...] | None:
    """``sql``'s columns as integer arrays, in order; None on a null."""
    from hourglass.engine.errors import translated

    with translated():
        got = raw.execute(sql).fetchnumpy()
    cols = list(got.values())
    if any(np.ma.is_masked(v) for v in cols):
        return None
    return tuple(np.asarray(v) for v in cols)


def _fetch(raw: Any, sql: str) -> Arrays | None:
    """(customer, place, number) of ``sql``'s rows as integer arrays; None on a null."""
    got = int_columns(raw, sql)
    return None if got is None else (got[0], got[1], got[2])


def _filled(
    grid: Grid, row: npt.NDArray[Any], place: npt.NDArray[Any], node: npt.NDArray[Any], lo: int
) -> bool:
    """Write the numbers in their cells of ``grid`` (a row per customer, a column per place; -1: no
    row there; places from ``lo`` on, the cells before filled); False when the places are not each
    customer's 0, 1, ... (outside the grid, two rows in one cell, or a gap)."""
    width = grid.shape[1]
    if len(place) and (int(place.min()) < lo or int(place.max()) >= width):
        return False
    cell = row.astype(np.int64)
    cell *= width
    cell += place
    flat = grid.reshape(-1)
    flat[cell] = node
    filled = grid[:, lo:] >= 0
    if int(np.count_nonzero(filled)) != len(cell):
        return False
    if lo and bool((filled[:, 0] & (grid[:, lo - 1] < 0)).any()):
        return False
    return not bool((filled[:, 1:] & ~filled[:, :-1]).any())


def _runs(grid: Grid, depth: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.intp]]:
    """Each row's first ``depth`` runs' numbers (-1 past them; a run starts at a filled cell whose
    number differs from the cell before) and its count of runs. Most rows repeat no number: their
    cells are their runs; the others' runs are moved left."""
    filled = grid >= 0
    again = grid[:, 1:] == grid[:, :-1]
    again &= filled[:, 1:]
    runs = np.count_nonzero(filled, axis=1) - np.count_nonzero(again, axis=1)
    path = grid[:, :depth].copy()
    some = np.flatnonzero(again.any(axis=1))
    if len(some):
        start = filled[some]
        start[:, 1:] &= ~again[some]
        rank = np.cumsum(start, axis=1, dtype=np.int32)  # a run's rank from 1, at its start
        start &= rank <= depth
        i, j = np.nonzero(start)
        sub = np.full((len(some), depth), -1, dtype=np.int32)
        sub[i, rank[i, j] - 1] = grid[some[i], j]
        path[some] = sub
    return path, runs


def _collapsed(
    raw: Any, table: str, grid: Grid, depth: int, dtype: Any
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]] | None:
    """Each customer's first ``depth`` runs' numbers (-1 past his runs) and whether he has more;
    the rows of those whose read rows may hide more runs read further (module doc, 3)."""
    cap = depth + 1
    path, runs = _runs(grid, depth)
    keys = np.flatnonzero((runs < cap) & (grid[:, -1] >= 0))
    sub = grid[keys]
    while len(keys):
        lo = sub.shape[1]
        width = lo * 4
        extra = _later(raw, table, keys, dtype, lo, width)
        if extra is None:
            return None
        at = np.full(len(grid), -1, dtype=np.int64)
        at[keys] = np.arange(len(keys))
        row = at[extra[0]]
        if len(row) and int(row.min()) < 0:
            return None
        wider = np.full((len(keys), width), -1, dtype=np.int32)
        wider[:, :lo] = sub
        if not _filled(wider, row, extra[1], extra[2], lo):
            return None
        path[keys], runs[keys] = _runs(wider, depth)
        still = (runs[keys] < cap) & (wider[:, -1] >= 0)
        keys, sub = keys[still], wider[still]
    return path, runs > depth


def _later(raw: Any, table: str, keys: npt.NDArray[np.intp], dtype: Any, lo: int, hi: int) -> Arrays | None:
    """The rows of the customers ``keys`` (as ``dtype``, the column's) whose places are in ``[lo, hi)``."""
    import pyarrow as pa

    view = f"hg_paths_keys_{uuid.uuid4().hex}"
    raw.register(view, pa.table({"k": pa.array(keys.astype(dtype))}))
    try:  # a join on the keys (distinct): a DuckDB semi join costs 1.5x more here
        return _fetch(
            raw,
            f"SELECT e.customer, e.{SEQ_COLUMN}, e.{CODE_COLUMN} FROM {table} AS e JOIN {view} AS k "
            f"ON e.customer = k.k WHERE e.{SEQ_COLUMN} >= {lo} AND e.{SEQ_COLUMN} < {hi}",
        )
    finally:
        raw.unregister(view)


def _top(
    raw: Any, database: str, path: npt.NDArray[np.int32], longer: npt.NDArray[np.bool_], top: int
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """The paths counted (engine/journeys_paths.py ``counted_paths``), the top ones ordered by
    (customers down, then number by number, a missing one first) and named from the store's names
    table."""
    from hourglass.engine.journeys_paths import counted_paths

    n = len(path)
    if not n:
        return [], {"customers": None, "paths": 0}
    head, counts, continued, cand = counted_paths([path[:, i] for i in range(path.shape[1])], longer, top)
    lead = path[head[cand]]
    best = cand[np.lexsort((*lead.T[::-1], -counts[cand]))[:top]]
    chosen = path[head[best]]
    used = sorted({int(x) for x in np.unique(chosen) if x >= 0})
    text: dict[int, str] = {}
    if used:
        got = raw.execute(
            f'SELECT code, name FROM "{database}".{NAMES_TABLE} WHERE code IN ({", ".join(map(str, used))})'
        ).fetchall()
        text = {int(code): str(name) for code, name in got if name is not None}
        if len(text) != len(used):
            return None
    out = []
    for u, codes in zip(best.tolist(), chosen.tolist(), strict=True):
        row: dict[str, Any] = {f"p{i}": None if x < 0 else text[x] for i, x in enumerate(codes)}
        row["customers"] = int(counts[u])
        row["continued"] = int(continued[u])
        out.append(row)
    return out, {"customers": n, "paths": len(counts)}
