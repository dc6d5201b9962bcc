"""The event level of a store of text names read as integers (issue 18, bench/WIDE.md): a store of
more than ``ENUM_MAX_NAMES`` names keeps each row's name numbered in name order (``hg_event_code``,
engine/store_codes.py) with the numbers' names (``hg_event_names``), so ``paths`` and
``transitions`` read integer nodes, as a store's ENUM codes: no DISTINCT of the rows' strings, no
sort of the names, no join of every row to its number.

Why it is exact: the numbers are the names' ranks in DuckDB's order of the text (``row_number()
OVER (ORDER BY event)`` of the distinct names, as the ENUM's values and the general path's ``SELECT
DISTINCT node ... ORDER BY node``), dense from 0, so ordering the elements by (customer, ts, code)
is ordering them by (customer, ts, name), and the names table gives each number its name back.
A store written before them (no such column) is read by the general path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import ibis.expr.operations as ops

from hourglass.engine._values import sql_literal as _literal
from hourglass.engine.load import Events
from hourglass.engine.store_codes import CODE_COLUMN, NAMES_TABLE

__all__ = ["StoreNames", "code_names", "codes_database"]


def codes_database(events: Events) -> str | None:
    """The attached store's alias when its keyed events carry the names' numbers (a store of text
    names written with them), else None."""
    keyed = events.keyed
    if keyed is None or events.codes is not None or events.report.kind != "store":
        return None
    if CODE_COLUMN not in keyed.columns:
        return None
    found = {
        str(db)
        for t in keyed.op().find(ops.DatabaseTable)
        if t.name == "hg_events" and (db := getattr(t.namespace, "database", None))
    }
    if len(found) != 1:
        return None
    database = found.pop()
    # the names table: a source's own column of that name is a property (no numbers written).
    # Literals, not parameters: DuckDB's binding of Python parameters imports pandas (~0.2 s of a
    # fresh process that would not otherwise load it)
    got = events.engine.con.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = "
        f"{_literal(database)} AND table_name = {_literal(NAMES_TABLE)}"
    ).fetchone()
    return database if got and got[0] else None


def code_names(events: Events, database: str, *, lazy: bool = False) -> Sequence[str]:
    """The names the numbers index (``names[code]``), from the store's names table; ``lazy``: read
    only when a name is asked (paths name only their top rows' nodes), its length counted."""
    raw = events.engine.con.con
    if lazy:
        got = raw.execute(f'SELECT count(*) FROM "{database}".{NAMES_TABLE}').fetchone()
        return StoreNames(events, database, int(got[0]) if got else 0)
    names: list[str] = _read(events, database).tolist()
    return names


def _read(events: Events, database: str) -> Any:
    """The names in the numbers' order (the table is written in that order: read unordered,
    checked, sorted only if not). Through ``fetchnumpy``, not Arrow: pyarrow's ``to_numpy``
    imports pandas on first use (~0.2 s of a fresh process's transitions on the 10M ``wide`` store)."""
    import numpy as np

    raw = events.engine.con.con
    got = raw.execute(f'SELECT code, name FROM "{database}".{NAMES_TABLE}').fetchnumpy()
    code, name = np.asarray(got["code"]), got["name"]
    if not np.array_equal(code, np.arange(len(code), dtype=code.dtype)):
        name = name[np.argsort(code, kind="stable")]
    return name  # an array of Python strings


class StoreNames(Sequence[str]):
    """A store's names by number, read from its names table when first asked."""

    def __init__(self, events: Events, database: str, count: int) -> None:
        self._events, self._database, self._count = events, database, count
        self._names: Any = None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, k: int) -> str: ...
    @overload
    def __getitem__(self, k: slice) -> list[str]: ...
    def __getitem__(self, k: int | slice) -> str | list[str]:
        if self._names is None:
            self._names = _read(self._events, self._database)
        if isinstance(k, slice):
            got: list[str] = self._names[k].tolist()
            return got
        if not -self._count <= k < self._count:
            raise IndexError(k)
        return str(self._names[k])
