"""What an analysis hands the engine: a plan of named Ibis expressions and a pure function that
assembles their rows into the analysis's result. The analysis never executes; the engine runs any
plan the same way (``engine/plan.py``), on every backend, so there is no per-analysis runner on the
execution floor.

A plan may need intermediate tables that several of its queries read (a per-customer summary, a
stage per event): ``build`` receives a ``materialize`` function and calls it on such a table; the
engine caches the table on its backend (a temporary table on DuckDB, a persisted DataFrame on
Spark) for the plan's run and releases it afterwards. Compiled for SQL only (``expressions``),
``materialize`` is the identity and the intermediate is inlined."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import ibis.expr.types as ir

__all__ = ["Materialize", "Plan", "Rows"]

R = TypeVar("R")
#: query name -> its rows as plain Python dicts (numpy scalars, NaN and NaT made plain: None)
Rows = Mapping[str, list[dict[str, Any]]]
Materialize = Callable[[ir.Table], ir.Table]


def _identity(table: ir.Table) -> ir.Table:
    return table


@dataclass(frozen=True)
class Plan(Generic[R]):
    """``build(materialize) -> {name: expression}`` and ``assemble(rows) -> result``. An expression
    is a table (its rows come back) or a scalar (one row ``{"value": x}``)."""

    build: Callable[[Materialize], Mapping[str, ir.Expr]]
    assemble: Callable[[Rows], R]

    @classmethod
    def of(cls, queries: Mapping[str, ir.Expr], assemble: Callable[[Rows], R]) -> Plan[R]:
        """A plan without intermediate tables."""
        fixed = dict(queries)
        return cls(lambda _materialize: fixed, assemble)

    def expressions(self) -> Mapping[str, ir.Expr]:
        """The named expressions with intermediates inlined: for SQL of another dialect, tests."""
        return self.build(_identity)
