"""Shared fixtures. ``engine`` runs a test once per backend (DuckDB always; Spark in local mode,
one session for the whole run, when pyspark and Java are available)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import hourglass

SPARK_OK = shutil.which("java") is not None
try:  # pragma: no cover - depends on the machine
    import pyspark  # noqa: F401
except ImportError:  # pragma: no cover
    SPARK_OK = False

BACKENDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param(
        "spark",
        id="spark",
        marks=[
            pytest.mark.spark,
            pytest.mark.skipif(not SPARK_OK, reason="pyspark or java missing"),
        ],
    ),
]


@pytest.fixture(scope="session")
def spark_engine() -> hourglass.Engine:
    return hourglass.connect("spark")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> hourglass.Engine:
    if request.param == "spark":
        return request.getfixturevalue("spark_engine")  # type: ignore[no-any-return]
    return hourglass.connect("duckdb")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on loopback for the whole run (tests/_servers.py); its URL."""
    from _servers import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def demo_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated shop (2 000 customers) as Parquet: the input every backend can read."""
    from hourglass.engine.store import write_events
    from hourglass.ingest.simulator import simulate_shop

    table, _ = simulate_shop(2_000, seed=11)
    path = tmp_path_factory.mktemp("demo") / "events.parquet"
    write_events(table, parquet_path=path)
    return path
