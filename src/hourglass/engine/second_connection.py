"""A second connection to the events' DuckDB database, for work that runs beside the first one (the
dashboard computes what a click will ask for next while a request is answered on the first).

DuckDB runs the queries of two connections of one database (``cursor()``) at the same time; both
see the attached stores and the database's views; a temporary view over a source's files is made
again on the second (its SQL). A temporary table is its connection's own: a source read into one
when it was loaded (a small CSV) has no second connection (None), nor has any engine but DuckDB."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from hourglass.engine.load import Events
from hourglass.engine.session import Engine

__all__ = ["beside", "interrupt", "second_connection"]

T = TypeVar("T")


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


_lock = threading.Lock()
#: per first connection (its backend), per events table: the second connection's events and its lock
_companions: weakref.WeakKeyDictionary[Any, dict[Any, tuple[Events, threading.Lock] | None]] = (
    weakref.WeakKeyDictionary()
)


def _companion(events: Events) -> tuple[Events, threading.Lock] | None:
    """The events' second connection kept for :func:`beside` (one per first connection and events
    table, so that its queries' SQL, compiled once per structure, is found again: engine/bound.py)."""
    backend = events.engine.con
    key = (events.table.op(), None if events.keyed is None else events.keyed.op())
    with _lock:
        kept = _companions.get(backend, {})
        if key in kept:
            return kept[key]
    second = second_connection(events)  # None (none possible) is kept too: not tried again
    made = None if second is None else (second, threading.Lock())
    with _lock:
        return _companions.setdefault(backend, {}).setdefault(key, made)


@contextlib.contextmanager
def beside(events: Events, fn: Callable[[Events], T]) -> Iterator[Callable[[], T]]:
    """``fn`` run on a second connection to the events' database in a thread while the body runs
    on the first; the body gets a function that waits for ``fn``'s answer (and raises its error).
    Without a second connection (see the module's docstring), or with the second already busy (a
    caller's other thread), ``fn`` runs on ``events`` when its answer is asked for. On two cores the
    queries of both connections share DuckDB's threads: a query that keeps one core busy (most of
    the lifecycle's at 1M events) leaves the other to the first connection's."""
    found = _companion(events)
    if found is None or not found[1].acquire(blocking=False):
        yield lambda: fn(events)
        return
    second, held = found
    out: list[T] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            out.append(fn(second))
        except BaseException as e:  # noqa: BLE001 - raised again where the answer is asked for
            failed.append(e)
        finally:
            held.release()

    worker = threading.Thread(target=work, name="hourglass-beside", daemon=True)
    worker.start()

    def answer() -> T:
        worker.join()
        if failed:
            raise failed[0]
        return out[0]

    try:
        yield answer
    finally:
        worker.join()  # never leave a query of the second connection running past the caller


def interrupt(events: Events) -> None:
    """Interrupt the query running on the events' connection and those of its :func:`beside`
    companions (a job computing ahead that a person's request must not wait behind: its
    lifecycle's referral loop runs on a companion). A connection running none ignores it."""
    backend = events.engine.con
    with _lock:
        kept = list(_companions.get(backend, {}).values())
    for con in [backend, *(c[0].engine.con for c in kept if c is not None)]:
        with contextlib.suppress(Exception):
            con.con.interrupt()
