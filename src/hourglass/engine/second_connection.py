"""A second connection to the events' DuckDB database, for work that runs beside the first one (the
dashboard computes what a click will ask for next while a request is answered on the first).

DuckDB runs the queries of two connections of one database (``cursor()``) at the same time; both
see the attached stores and the database's views; a temporary view over a source's files is made
again on the second (its SQL). A temporary table is its connection's own: a source read into one
when it was loaded (a small CSV) has no second connection (None), nor has any engine but DuckDB."""

from __future__ import annotations

import dataclasses
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from hourglass.engine.load import Events
from hourglass.engine.session import Engine

__all__ = ["second_connection"]


def _rebound(table: ir.Table | None, old: Any, new: Any) -> ir.Table | None:
    """``table`` with each of its database tables read through the backend ``new``, not ``old``."""
    if table is None:
        return None
    swap = {n: n.copy(source=new) for n in table.op().find(ops.DatabaseTable) if n.source is old}
    return table.op().replace(swap).to_expr() if swap else table


def _temporary_views(events: Events, first: Any, second: Any) -> None:
    """The first connection's temporary views that the events read (a file source's view), made
    again on the second (a view is its SQL: nothing is copied)."""
    names = {
        n.name for t in (events.table, events.keyed) if t is not None for n in t.op().find(ops.DatabaseTable)
    }
    rows = first.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    for name, sql in rows:
        if name in names and sql:
            second.execute(sql)


def second_connection(events: Events) -> Events | None:
    """The same events on a new connection to their DuckDB database (None: no such connection, see
    the module's docstring). Its queries run beside those of ``events``; it is closed when the last
    reference to it goes."""
    if events.engine.name != "duckdb":
        return None
    old = events.engine.con
    try:
        cursor = old.con.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute("SET enable_progress_bar = false")  # a connection's own settings
        _temporary_views(events, old.con, cursor)
        backend = ibis.duckdb.from_connection(cursor)
        table = _rebound(events.table, old, backend)
        assert table is not None
        backend.execute(table.limit(0))  # a temporary table of the first connection fails here
        keyed = _rebound(events.keyed, old, backend)
    except Exception:  # noqa: BLE001 - no second connection: the caller works on the first one
        return None
    engine = Engine(backend, "duckdb", events.engine.path, url=events.engine.url)
    return dataclasses.replace(events, table=table, keyed=keyed, engine=engine)
