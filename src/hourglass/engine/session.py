"""Connections: the one place that creates backends (DuckDB by default, Spark on request)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import ibis

from hourglass.engine import _lazy_ibis  # noqa: F401 - before the backend: one compiler, not twenty
from hourglass.model.errors import UnsupportedError

__all__ = ["ENGINES", "Engine", "connect"]

ENGINES: tuple[str, ...] = ("duckdb", "spark")


@dataclass
class Engine:
    """An Ibis backend plus what hourglass needs to know about it."""

    con: Any
    name: str
    path: str | None = None
    _spark: Any = field(default=None, repr=False)

    @property
    def dialect(self) -> str:
        return "pyspark" if self.name == "spark" else self.name

    def execute(self, expr: Any) -> Any:
        from hourglass.engine.errors import translated

        with translated():
            return self.con.execute(expr)


def _duckdb(path: str | None = None, *, threads: int | None = None) -> Engine:
    import ibis.backends.duckdb

    con = ibis.duckdb.connect(path or ":memory:")
    con.raw_sql("SET TimeZone = 'UTC'")
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    return Engine(con, "duckdb", path)


_SPARK_SESSION: Any = None


def spark_session() -> Any:
    """One local SparkSession per process (they take 15-25 s to start)."""
    global _SPARK_SESSION
    if _SPARK_SESSION is None:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise UnsupportedError(
                "the spark engine needs pyspark",
                code="HG503",
                hint="pip install 'hourglass[spark]' (and Java 17)",
            ) from None
        master = os.environ.get("HOURGLASS_SPARK_MASTER", "local[2]")
        _SPARK_SESSION = (
            SparkSession.builder.master(master)
            .appName("hourglass")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        _SPARK_SESSION.sparkContext.setLogLevel("ERROR")
    return _SPARK_SESSION


def _spark(session: Any = None) -> Engine:
    session = session or spark_session()
    con = ibis.pyspark.connect(session)
    return Engine(con, "spark", None, session)


def connect(engine: str | Engine | None = None, *, path: str | None = None, **options: Any) -> Engine:
    """``duckdb`` (default; ``path`` for a database file) or ``spark`` (local mode unless
    HOURGLASS_SPARK_MASTER says otherwise). An Engine passes through."""
    if isinstance(engine, Engine):
        return engine
    name = engine or "duckdb"
    if name == "duckdb":
        return _duckdb(path, threads=options.get("threads"))
    if name in ("spark", "pyspark"):
        return _spark(options.get("session"))
    from hourglass.model._suggest import did_you_mean

    raise UnsupportedError(
        f"unknown engine '{name}'{did_you_mean(name, ENGINES)}",
        code="HG504",
        hint="engines: duckdb, spark; for ClickHouse use --show-sql --dialect clickhouse",
    )
