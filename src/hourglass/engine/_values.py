"""Values between Python and the engine: its small aggregates read back (numbers, counts, records)
and text written into hand-made SQL (:func:`sql_literal`)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["count", "number", "plain_records", "records", "sql_literal"]


def number(x: Any) -> float | None:
    """A float, with NULL and NaN as None."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def count(x: Any) -> int:
    """An integer count, with NULL and NaN as 0 (a sum over no rows)."""
    v = number(x)
    return 0 if v is None else int(v)


def records(engine: Any, expr: Any) -> list[dict[str, Any]]:
    """Execute ``expr`` (a small result) and return its rows as dicts."""
    out: list[dict[str, Any]] = engine.execute(expr).to_dict("records")
    return out


def plain_records(engine: Any, expr: Any) -> list[dict[str, Any]]:
    """Execute ``expr`` (a small result) and return its rows as dicts of plain Python values (NULL
    is None). On DuckDB through the connection itself: no pandas DataFrame, so a small command does
    not pay pandas' import (0.2 s); elsewhere through Ibis."""
    if engine.name != "duckdb":
        rows: list[dict[str, Any]] = engine.execute(expr).to_dict("records")
        return rows
    con = engine.con
    hook = getattr(con, "_run_pre_execute_hooks", None)
    if hook is not None:  # registers in-memory tables the expression may hold
        hook(expr)
    cur = con.con.execute(str(con.compile(expr)))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def sql_literal(text: str) -> str:
    """``text`` as an SQL string literal (its quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"
