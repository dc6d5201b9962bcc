"""Journeys on every backend: the hand-checked log gives the same answers on DuckDB and Spark
(``engine`` fixture), and on the simulated shop every journey output of Spark equals DuckDB's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hourglass
from hourglass.engine.store import write_events
from hourglass.interfaces import journeys_api as hg
from test_journeys_hand import LOG, MODEL


@pytest.fixture(scope="module")
def hand_parquet(tmp_path_factory: pytest.TempPathFactory) -> str:
    import pyarrow as pa

    path = tmp_path_factory.mktemp("jp") / "hand.parquet"
    write_events(pa.Table.from_pandas(LOG, preserve_index=False), parquet_path=path)
    return str(path)


def test_hand_log_on_every_engine(engine: hourglass.Engine, hand_parquet: str) -> None:
    ev = hourglass.events(hand_parquet, engine=engine)
    j = hg.journeys(ev, MODEL, by="channel").to_dict()
    assert [e["customers"] for e in j["entry"]] == [4, 1, 0, 0]
    assert j["conformance"]["moves"] == {"total": 9, "ideal": 6, "back": 1, "skip": 2}
    assert j["conformance"]["fitness_median"] == pytest.approx(0.75)
    p = hg.paths(ev, MODEL, end="sale", depth=3, by="channel").to_dict()
    assert [g["value"] for g in p["groups"]] == [None, "ads"]
    assert [(n["node"], n["customers"]) for n in p["previous"]] == [("trial", 2), ("interest", 1)]
    t = hg.transitions(ev, MODEL).to_dict()
    assert t["edges"][0]["median_time_s"] == 86400.0
    m = hg.journey(ev, MODEL, customer="cat").to_dict()["customer"]
    assert m["fitness"] == 0.5 and len(m["timeline"]) == 5
    f = hg.followers(ev, MODEL).to_dict()
    assert (f["followers"], f["as_of"]) == (2, "2024-01-10T10:00:00")


CASES: list[tuple[str, dict[str, Any]]] = [
    ("journeys", {"model": "hourglass", "by": "channel"}),
    ("journeys", {"model": "flywheel"}),
    ("transitions", {"model": "hourglass", "by": "channel"}),
    ("transitions", {"model": None, "level": "event", "collapse": False}),
    ("paths", {"model": "hourglass", "depth": 8, "top": 15, "by": "channel"}),
    ("paths", {"model": None, "level": "event", "start": "signup", "depth": 4}),
    ("paths", {"model": "funnel4", "end": "action"}),
    ("journey", {"model": "hourglass", "sample": 2, "clusters": 3}),
    ("followers", {"model": "hourglass"}),
]


def _run(source: Any, name: str, kw: dict[str, Any], engine: Any) -> dict[str, Any]:
    kw = dict(kw)
    model = kw.pop("model")
    out = getattr(hg, name)(source, model, engine=engine, **kw).to_dict()
    out.pop("meta")
    return out  # type: ignore[no-any-return]


def _same(got: Any, want: Any) -> None:
    if isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9)
    elif isinstance(want, dict):
        assert got.keys() == want.keys()
        for k in want:
            _same(got[k], want[k])
    elif isinstance(want, list | tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _same(g, w)
    else:
        assert got == want


@pytest.fixture(scope="module")
def duckdb_results(demo_parquet: Path) -> list[dict[str, Any]]:
    return [_run(str(demo_parquet), name, kw, "duckdb") for name, kw in CASES]


def test_cases_are_not_trivial(duckdb_results: list[dict[str, Any]]) -> None:
    assert duckdb_results[0]["customers"] > 1000 and duckdb_results[0]["backsteps"]
    assert duckdb_results[4]["other"]["customers"] > 0 and len(duckdb_results[4]["groups"]) > 2
    assert len(duckdb_results[2]["groups"]) > 2
    assert len(duckdb_results[7]["clusters"]) == 3


@pytest.mark.spark
@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_spark_equals_duckdb(
    i: int, demo_parquet: Path, duckdb_results: list[dict[str, Any]], spark_engine: hourglass.Engine
) -> None:
    name, kw = CASES[i]
    _same(_run(str(demo_parquet), name, kw, spark_engine), duckdb_results[i])
