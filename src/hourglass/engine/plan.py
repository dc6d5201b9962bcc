"""The engine runs plans (``analyses/plan.py``): it builds the named expressions with intermediate
tables cached on the backend, executes each, makes the rows plain Python, and hands them to the
plan's pure ``assemble``. Every new analysis goes through here; nothing analysis-specific lives on
the execution floor."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import ibis.expr.types as ir

from hourglass.analyses.plan import Plan
from hourglass.engine.errors import translated
from hourglass.engine.session import Engine

__all__ = ["cached", "execute_plan", "plain", "rows_of"]

R = TypeVar("R")


@contextlib.contextmanager
def cached() -> Iterator[Callable[[ir.Table], ir.Table]]:
    """A function that materialises a table on its backend (a temporary table on DuckDB, a
    persisted DataFrame on Spark) so that several small aggregates read it once; released on exit."""
    held: list[Any] = []

    def materialize(t: ir.Table) -> ir.Table:
        with translated():
            c = t.cache()
        held.append(c)
        return c

    try:
        yield materialize
    finally:
        for c in held:
            c.release()


def plain(value: Any) -> Any:
    """numpy/pandas scalars to Python; NaN and NaT to None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ == "NaTType":
        return None
    return value


def rows_of(engine: Engine, expr: ir.Expr) -> list[dict[str, Any]]:
    """Execute one expression: a table's rows, or a scalar as ``[{"value": x}]``, all plain."""
    out = engine.execute(expr)
    if isinstance(expr, ir.Table):
        return [{k: plain(v) for k, v in r.items()} for r in out.to_dict("records")]
    if isinstance(expr, ir.Column):
        return [{"value": plain(v)} for v in out.tolist()]
    return [{"value": plain(out)}]


def execute_plan(engine: Engine, plan: Plan[R]) -> R:
    """Run every query of ``plan`` on ``engine`` (intermediates cached for the run) and assemble."""
    with cached() as materialize:
        queries = plan.build(materialize)
        rows = {name: rows_of(engine, expr) for name, expr in queries.items()}
    return plan.assemble(rows)
