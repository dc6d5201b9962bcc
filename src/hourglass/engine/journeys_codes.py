"""The event level of a store of text names read as integers (issue 18, bench/WIDE.md): a store of
more than ``ENUM_MAX_NAMES`` names keeps each row's name numbered in name order (``hg_event_code``,
engine/event_store.py) with the numbers' names (``hg_event_names``), so ``paths`` and
``transitions`` read integer nodes, as a store's ENUM codes: no DISTINCT of the rows' strings, no
sort of the names, no join of every row to its number.

Why it is exact: the numbers are the names' ranks in DuckDB's order of the text (``row_number()
OVER (ORDER BY event)`` of the distinct names, as the ENUM's values and the general path's ``SELECT
DISTINCT node ... ORDER BY node``), dense from 0, so ordering the elements by (customer, ts, code)
is ordering them by (customer, ts, name), and the names table gives each number its name back.
A store written before them (no such column) is read by the general path.
"""

from __future__ import annotations

import ibis.expr.operations as ops

from hourglass.engine.event_store import CODE_COLUMN, NAMES_TABLE
from hourglass.engine.load import Events

__all__ = ["code_names", "codes_database"]


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
    # the names table: a source's own column of that name is a property (no numbers written)
    got = events.engine.con.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
        [database, NAMES_TABLE],
    ).fetchone()
    return database if got and got[0] else None


def code_names(events: Events, database: str) -> list[str]:
    """The names the numbers index (``names[code]``), from the store's names table."""
    raw = events.engine.con.con
    got = raw.execute(f'SELECT name FROM "{database}".{NAMES_TABLE} ORDER BY code').to_arrow_table()
    names: list[str] = got.column(0).to_pylist()
    return names
