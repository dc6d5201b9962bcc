"""The error codes no command line on a small file can trigger (issue 19: every code in docs/errors.md
has an example, and a test checks it): an engine other than DuckDB reading what only DuckDB reads
(HG305 on PostgreSQL, HG501 on Spark), and the attribution's check of the engine's Markov counts
against its paths (HG382, a bug: triggered here by corrupting the counts)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import hourglass
import hourglass.model.attribution_assemble as attribution_assemble
from hourglass.interfaces.attribution_api import attribution
from hourglass.model.errors import EngineError, HourglassError
from test_attribution import SMALL, log


def test_hg305_epoch_milliseconds_on_postgres(postgres_url: str) -> None:
    engine = hourglass.connect(postgres_url)
    times = [1704103200000, 1704189600000]  # epoch milliseconds
    ms = pd.DataFrame({"customer_id": ["c1", "c1"], "event": ["visit", "signup"], "timestamp": times})
    engine.con.create_table("epoch_ms", ms, overwrite=True)
    with pytest.raises(HourglassError) as e:
        hourglass.funnel("epoch_ms", ["visit", "signup"], engine=engine, columns={"time_unit": "ms"})
    assert e.value.code == "HG305"


@pytest.mark.spark
def test_hg501_a_duckdb_database_on_spark(spark_engine: hourglass.Engine, tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    con = hourglass.connect(str(db))
    con.con.raw_sql("CREATE TABLE events AS SELECT 'c1' AS customer_id, 'visit' AS event, now() AS timestamp")
    con.con.disconnect()
    with pytest.raises(HourglassError) as e:
        hourglass.funnel(str(db), ["visit"], engine=spark_engine)
    assert e.value.code == "HG501"


def test_hg382_markov_counts_that_differ_from_the_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    real = attribution_assemble._markov_counts

    def off_by_one(rows: object, order: int) -> object:
        counts = real(rows, order)  # type: ignore[arg-type]
        counts[next(iter(counts))] += 1
        return counts

    monkeypatch.setattr(attribution_assemble, "_markov_counts", off_by_one)
    with pytest.raises(EngineError) as e:
        attribution(log(SMALL), conversion="purchase")
    assert e.value.code == "HG382"
