"""Retention compiles for ClickHouse and gives DuckDB's rows there (chdb), with the watching harness
of tests/test_clickhouse_analyses.py: every query of the plan, and the cached memberships table
built on ClickHouse from its own expression; and it compiles for Postgres and Snowflake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import pytest

from hourglass.interfaces.retention_api import retention
from test_clickhouse_analyses import ClickHouse, assert_same_on_clickhouse, watch

CASES: dict[str, Callable[[str], Any]] = {
    "weeks-by-channel": lambda src: retention(src, by="channel", periods=6),
    "months-purchase-recurring-unbounded-range": lambda src: retention(
        src,
        period="month",
        start="purchase",
        return_event="purchase",
        cohorts="recurring",
        mode="unbounded",
        since="2024-02-01",
        until="2024-06-01",
    ),
}


@pytest.fixture(scope="module")
def clickhouse() -> Iterator[ClickHouse]:
    ch = ClickHouse()
    yield ch
    ch.session.close()


@pytest.mark.parametrize("case", list(CASES))
def test_retention_gives_duckdbs_answers_on_clickhouse(
    case: str, clickhouse: ClickHouse, demo_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = watch(lambda: CASES[case](str(demo_parquet)), tmp_path, monkeypatch)
    assert watched.defs  # the memberships
    assert_same_on_clickhouse(clickhouse, watched)


def test_the_plan_compiles_for_other_dialects(demo_parquet: Path) -> None:
    import hourglass
    from hourglass.analyses.retention import retention_plan
    from hourglass.interfaces.retention_api import retention_spec

    ev = hourglass.events(str(demo_parquet))
    spec = retention_spec(
        start="purchase", by="channel", cohorts="recurring", mode="unbounded", period="month"
    )
    for expr in retention_plan(spec, ev.table).expressions().values():
        for dialect in ("postgres", "snowflake", "clickhouse"):
            assert "SELECT" in ibis.to_sql(expr, dialect=dialect)
