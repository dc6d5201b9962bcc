"""Queries compiled once and run again on other dates (issue 12: a new date range on the dashboard).

A new date range is the same analysis with other literals: the range's bounds and "now" (the last
event of the range). Building and compiling the lifecycle's ~19 Ibis expressions was a third of a
new hourglass range at 1M events and nearly all of it on small logs (0.3-0.6 CPU-s of Python per
range). Here the analyses build their expressions with stand-ins for those values (``STAND_INS``:
instants in the year 2999, no log's), the SQL of an expression is compiled once per structure
(equal Ibis expressions are equal values: a second range builds equal expressions and finds their
SQL), and each run puts its own values in place of the stand-ins' literals in that SQL. The
intermediate tables get a name derived from their SQL, so that the queries reading them are equal
expressions too; each run creates them under a name of its own and drops them at the end.

Only the integer microseconds the analyses compare (``analyses/_match.py`` ``micros_of``) are
stood in for: the stand-ins' literals are 17-digit integers no other literal of the plans has (a
query with a stand-in no value was given for is not run: :class:`Bound` raises EngineError HG146,
never guesses). On DuckDB only; elsewhere (and with ``HOURGLASS_PLAN=portable``) the expressions
are built with the values themselves, as before (:func:`direct`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from hourglass.analyses._match import micros_of
from hourglass.engine._values import plain_records
from hourglass.engine.errors import translated
from hourglass.engine.plan import cached
from hourglass.engine.session import Engine
from hourglass.model.errors import EngineError

__all__ = ["STAND_INS", "Bound", "Runner", "bound", "built", "direct"]

T = TypeVar("T")

#: the stand-ins for the range's start, its end and "now" (distinct instants no log has)
STAND_INS = {
    "since": datetime(2999, 1, 1, 0, 0, 0, 111111),
    "until": datetime(2999, 6, 1, 0, 0, 0, 222222),
    "now": datetime(2999, 11, 1, 0, 0, 0, 333333),
}
_BATCH = 1 << 17  # rows per batch of a frame
_MAX = 512  # compiled queries kept (a range's lifecycle is ~20)
_compiled: OrderedDict[Any, str] = OrderedDict()
_built: OrderedDict[Any, Any] = OrderedDict()
_lock = threading.Lock()


class Runner(Protocol):
    """Runs an analysis's expressions: ``rows`` executes one (plain Python values), ``table``
    materialises an intermediate that several read; ``value(name, v)`` is ``v`` (a datetime) as
    the expressions must hold it (the value itself, or its stand-in)."""

    def rows(self, expr: ir.Expr) -> list[dict[str, Any]]: ...

    def table(self, expr: ir.Table) -> ir.Table: ...

    def value(self, name: str, v: datetime | None) -> datetime | None: ...


def _sql(engine: Engine, expr: ir.Expr) -> str:
    """The expression's SQL, compiled once per structure (the op is the key: equal values)."""
    op = expr.op()
    with _lock:
        found = _compiled.get(op)
        if found is not None:
            _compiled.move_to_end(op)
            return found
    sql = str(engine.con.compile(expr))
    with _lock:
        _compiled[op] = sql
        while len(_compiled) > _MAX:
            _compiled.popitem(last=False)
    return sql


def _key(value: Any) -> Any:
    """An argument as a key: an Ibis expression by its op (equal expressions, equal ops)."""
    if isinstance(value, ir.Expr):
        return ("expr", value.op())
    if isinstance(value, set | frozenset):
        return frozenset(value)
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _key(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return tuple(_key(v) for v in value)
    return value


def built(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` (an analysis's pure expression builder), built once per equal
    arguments: a second range's arguments hold the same stand-ins and intermediates (names derived
    from their SQL), so its expressions are found, not built again (at 12k events 0.12 of the 0.24
    CPU-s left of a range once the SQL is kept). Arguments that cannot be keys: built each time."""
    try:
        key = (fn, _key(args), tuple(sorted((k, _key(v)) for k, v in kwargs.items())))
        hash(key)
    except TypeError:
        return fn(*args, **kwargs)
    with _lock:
        if key in _built:
            _built.move_to_end(key)
            return _built[key]  # type: ignore[no-any-return]
    out = fn(*args, **kwargs)
    with _lock:
        _built[key] = out
        while len(_built) > _MAX:
            _built.popitem(last=False)
    return out


class Bound:
    """A run on DuckDB: the stand-ins' literals replaced by this run's values (``bind``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._values: dict[str, str] = {}  # a stand-in's literal -> this run's
        self._names: dict[str, str] = {}  # an intermediate's name in the SQL -> this run's
        self._held: list[str] = []
        self._registered: list[str] = []

    def value(self, name: str, v: datetime | None) -> datetime | None:
        """The stand-in of ``v`` (None stays None), bound to ``v`` for this run."""
        if v is None:
            return None
        self.bind(name, v)
        return STAND_INS[name]

    def bind(self, name: str, v: datetime) -> None:
        self._values[str(micros_of(STAND_INS[name]))] = str(micros_of(v))

    def _text(self, expr: ir.Expr) -> str:
        sql = _sql(self.engine, expr)
        for stand_in, value in self._values.items():
            pattern = rf"(?<![\w.]){stand_in}(?!\d)"
            sql = re.sub(pattern, value if not value.startswith("-") else f"({value})", sql)
        for name, actual in self._names.items():
            sql = sql.replace(f'"{name}"', f'"{actual}"')
        left = [s for s in (str(micros_of(t)) for t in STAND_INS.values()) if s in sql]
        if left:  # a stand-in nobody bound: the query would read the year 2999
            raise EngineError(
                f"a query still holds a date stand-in (the year 2999) no value was given for: {left}",
                code="HG146",
                hint="a bug in hourglass: report it with the command; HOURGLASS_PLAN=portable runs the "
                "analysis without stand-ins meanwhile",
            )
        return sql

    def rows(self, expr: ir.Expr) -> list[dict[str, Any]]:
        con = self.engine.con
        con._run_pre_execute_hooks(expr)  # registers in-memory tables the expression may hold
        with translated():
            cur = con.con.execute(self._text(expr))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def table(self, expr: ir.Table) -> ir.Table:
        con = self.engine.con
        con._run_pre_execute_hooks(expr)
        name = "hg_bound_" + hashlib.sha1(_sql(self.engine, expr).encode()).hexdigest()[:20]
        actual = f"{name}_{uuid.uuid4().hex[:12]}"
        with translated():
            con.con.execute(f'CREATE TEMPORARY TABLE "{actual}" AS {self._text(expr)}')
        self._held.append(actual)
        self._names[name] = actual
        op = ops.DatabaseTable(name, schema=expr.schema(), source=con, namespace=ops.Namespace())
        return op.to_expr()

    def frame(self, name: str, data: Any, schema: Mapping[str, Any]) -> ir.Table:
        """``data`` (an Arrow table) as a table of this run: the SQL reading it names it ``name``
        (so that it is compiled once), each run reads its own (registered on the connection until
        :meth:`close`)."""
        actual = f"{name}_{uuid.uuid4().hex[:12]}"
        if isinstance(data, pa.Table):  # batches DuckDB's threads scan in parallel (one: one thread)
            data = pa.Table.from_batches(data.to_batches(max_chunksize=_BATCH), schema=data.schema)
        self.engine.con.con.register(actual, data)
        self._registered.append(actual)
        self._names[name] = actual
        op = ops.DatabaseTable(
            name, schema=ibis.schema(dict(schema)), source=self.engine.con, namespace=ops.Namespace()
        )
        return op.to_expr()

    def close(self) -> None:
        for actual in self._registered:
            with contextlib.suppress(Exception):
                self.engine.con.con.unregister(actual)
        self._registered.clear()
        for actual in self._held:
            with contextlib.suppress(Exception):
                self.engine.con.con.execute(f'DROP TABLE IF EXISTS temp.main."{actual}"')
        self._held.clear()


class _Direct:
    """Any engine: the values themselves, intermediates cached by Ibis (``engine/plan.py`` ``cached``)."""

    def __init__(self, engine: Engine, materialize: Callable[[ir.Table], ir.Table]) -> None:
        self.engine = engine
        self._materialize = materialize

    def rows(self, expr: ir.Expr) -> list[dict[str, Any]]:
        return plain_records(self.engine, expr)

    def table(self, expr: ir.Table) -> ir.Table:
        return self._materialize(expr)

    def value(self, name: str, v: datetime | None) -> datetime | None:
        return v


@contextlib.contextmanager
def direct(engine: Engine) -> Iterator[Runner]:
    with cached() as materialize:
        yield _Direct(engine, materialize)


@contextlib.contextmanager
def bound(engine: Engine, *, allowed: bool = True) -> Iterator[Runner]:
    """A :class:`Bound` run on DuckDB (``allowed``), else :func:`direct`; intermediates dropped at
    the end. ``HOURGLASS_PLAN=portable`` (the plan every engine runs, as for the funnel's and the
    journeys' fast paths) runs direct: each query as Ibis executes it, each intermediate cached."""
    if engine.name != "duckdb" or not allowed or os.environ.get("HOURGLASS_PLAN") == "portable":
        with direct(engine) as runner:
            yield runner
        return
    run = Bound(engine)
    try:
        yield run
    finally:
        run.close()
