"""Attribution on every backend: the hand-checked worked example gives the same credits on DuckDB
and Spark (``engine`` fixture); on the simulated shop (repeat purchases, Markov order 2, pooled
channels, the stages per channel under Markov) Spark's whole result equals DuckDB's."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import hourglass
from hourglass.engine.store import write_events
from hourglass.interfaces.attribution_api import attribution
from test_attribution import WORKED, log


@pytest.fixture(scope="module")
def worked_parquet(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("attr") / "worked.parquet"
    write_events(pa.Table.from_pandas(log(WORKED), preserve_index=False), parquet_path=path)
    return str(path)


def _same(got: Any, want: Any, where: str = "") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for k in want:
            _same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), (where, got, want)
    else:
        assert got == want, (where, got, want)


def test_worked_example_on_every_engine(engine: hourglass.Engine, worked_parquet: str) -> None:
    r = attribution(worked_parquet, conversion="purchase", engine=engine)
    assert r.credits["markov"] == pytest.approx({"ads": 0.75, "email": 27 / 16, "search": 9 / 16})
    assert r.credits["first_touch"] == pytest.approx({"ads": 1, "email": 1, "search": 1})
    assert r.non_converting_journeys == 2


def _cases(path: str, engine: Any) -> list[dict[str, Any]]:
    out = []
    cases: list[dict[str, Any]] = [
        {"conversion": "repeat", "markov_order": 2},
        {"conversion": "sale", "max_channels": 3, "touch_events": "visit,signup,purchase"},
        # the hourglass stages per channel: the stage as a grouping key of every engine table
        {"conversion": "sale", "credit_model": "markov", "markov_order": 2, "max_channels": 4},
    ]
    for kw in cases:
        d = attribution(path, engine=engine, **kw).to_dict()
        d.pop("meta")
        out.append(d)
    return out


@pytest.mark.spark
def test_spark_equals_duckdb_on_the_simulated_shop(
    demo_parquet: Path, spark_engine: hourglass.Engine
) -> None:
    want = _cases(str(demo_parquet), "duckdb")
    assert want[0]["conversions"] > 50 and want[1]["pooled"]  # not trivial
    measured = [s for s in want[2]["stages"]["stages"] if s["measured"] and s["with_touch"]]
    assert len(measured) >= 3 and want[2]["stages"]["credit_model"] == "markov"
    _same(_cases(str(demo_parquet), spark_engine), want)
