"""Issue 20's funnel core on Spark (the suite's one local session): optional steps, a held property and
totals give DuckDB's numbers on the simulated shop (ties, repeats, out-of-order rows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hourglass

# two Spark runs (each costs tens of seconds there): optional steps (one trailing) with a held
# property and a breakdown; totals in strict_order with a held property
CASES: list[dict[str, Any]] = [
    {
        "steps": ["visit", "signup?", "purchase", "review?"],
        "window": "30d",
        "hold": "device",
        "by": "channel",
    },
    {
        "steps": ["visit", "signup", "purchase"],
        "window": "30d",
        "mode": "strict_order",
        "count": "totals",
        "hold": "device",
    },
]


@pytest.fixture(scope="module")
def duckdb_rows(demo_parquet: Path) -> list[list[dict[str, Any]]]:
    ev = hourglass.events(str(demo_parquet), engine="duckdb")
    return [hourglass.funnel(ev, **case).rows() for case in CASES]


def test_cases_are_not_trivial(duckdb_rows: list[list[dict[str, Any]]]) -> None:
    for rows in duckdb_rows:
        assert rows[0]["customers"] > 50 and max(r["customers"] for r in rows[1:]) > 0


@pytest.mark.spark
def test_spark_equals_duckdb(
    demo_parquet: Path, duckdb_rows: list[list[dict[str, Any]]], spark_engine: hourglass.Engine
) -> None:
    ev = hourglass.events(str(demo_parquet), engine=spark_engine)
    for case, want in zip(CASES, duckdb_rows, strict=True):
        got = hourglass.funnel(ev, **case).rows()
        assert len(got) == len(want), case
        for g, w in zip(got, want, strict=True):
            assert g.keys() == w.keys(), case
            for key, value in w.items():
                if isinstance(value, float):
                    assert g[key] == pytest.approx(value, rel=1e-9), (case, key, g, w)
                else:
                    assert g[key] == value, (case, key, g, w)


# one more Spark run (16 s at load 6, 32 s at load 10 on 2 cores): DuckDB = Spark for each feature of
# issue 20, so it runs in make test (the suite has the time)
@pytest.mark.spark
def test_explore_with_hold_spark_equals_duckdb(demo_parquet: Path, spark_engine: hourglass.Engine) -> None:
    """The drop-off paths with a held property and an optional step in strict_order (issue 20; the
    chain's events per held value, adjacency passing over the optional step's events): Spark = DuckDB.
    (The correlation reads the same chain table: tests/test_funnel_explore.py runs both on Spark.)"""
    from hourglass.interfaces.funnel_explore_api import funnel_dropoff_paths

    case = {
        "steps": ["visit", "signup?", "purchase"],
        "window": "30d",
        "mode": "strict_order",
        "hold": "device",
    }
    got = [
        funnel_dropoff_paths(hourglass.events(str(demo_parquet), engine=e), **case, at=1, top=5).to_dict()
        for e in (spark_engine, "duckdb")
    ]
    spark, duck = ({k: v for k, v in r.items() if k != "meta"} for r in got)
    assert duck["customers"] > 20 and duck["distinct_paths"] > 5
    assert spark == duck
