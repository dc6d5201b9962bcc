"""The engine's generic plan runner: named expressions, cached intermediates, plain rows."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.engine import connect
from hourglass.engine.plan import execute_plan

ENGINE = connect("duckdb")


def _table() -> Any:
    """A table of the engine's own backend (``cache`` materialises on the table's backend)."""
    frame = pd.DataFrame({"customer": ["a", "a", "b", "c"], "revenue": [1.0, 2.0, None, 4.0]})
    return ENGINE.con.create_table("plan_test", frame, overwrite=True)


def test_a_plan_runs_named_queries_and_assembles_plain_rows() -> None:
    t = _table()

    def build(materialize: Materialize) -> dict[str, Any]:
        per = materialize(t.group_by("customer").aggregate(spent=t.revenue.sum(), n=t.count()))
        return {
            "per": per.order_by("customer"),
            "total": per.spent.sum(),
            "buyers": per.filter(per.spent > 0).count(),
        }

    def assemble(rows: Rows) -> dict[str, Any]:
        return {"rows": rows["per"], "total": rows["total"][0]["value"], "buyers": rows["buyers"][0]["value"]}

    out = execute_plan(ENGINE, Plan(build, assemble))
    assert out["total"] == 7.0 and out["buyers"] == 2
    assert out["rows"] == [
        {"customer": "a", "spent": 3.0, "n": 2},
        {"customer": "b", "spent": None, "n": 1},  # NaN made plain
        {"customer": "c", "spent": 4.0, "n": 1},
    ]
    assert all(type(r["n"]) is int for r in out["rows"])


def test_expressions_inline_the_intermediates() -> None:
    t = _table()
    plan: Plan[Rows] = Plan(lambda m: {"n": m(t.filter(t.revenue > 1)).count()}, lambda rows: rows)
    sql = ibis.to_sql(plan.expressions()["n"], dialect="duckdb")
    assert "revenue" in sql
    assert Plan.of({"n": t.count()}, lambda rows: rows["n"][0]["value"]).expressions()["n"] is not None
