"""Connections: the one place that creates backends. ``connect()`` takes an engine string
(engine/connect.py: duckdb, a DuckDB file, spark, spark://HOST:PORT, sc://HOST:PORT, postgres://...,
clickhouse://...), an Ibis backend the caller already has, or an Engine."""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hourglass.engine.connect import (
    DEFAULT_SPARK_CONF,
    clickhouse_backend,
    missing_driver,
    parse_engine,
    postgres_backend,
    reachable,
    shown_url,
)
from hourglass.model.errors import UnsupportedError

if TYPE_CHECKING:
    from hourglass.ingest.config import Config

__all__ = ["ENGINES", "Engine", "connect", "spark_conf", "spark_session"]

#: The engines' kinds (Engine.name); docs/engines.md.
ENGINES: tuple[str, ...] = ("duckdb", "spark", "postgres", "clickhouse")

#: Ibis backend names -> Engine.name
_BACKEND_NAMES = {"pyspark": "spark"}


@dataclass
class Engine:
    """An Ibis backend plus what hourglass needs to know about it. ``name`` is the engine's kind
    (duckdb, spark, postgres, clickhouse or another Ibis backend's name), ``url`` what it was
    named with (a DuckDB file, a Spark master, a server's URL without its password)."""

    con: Any
    name: str
    path: str | None = None
    _spark: Any = field(default=None, repr=False)
    url: str | None = None

    @property
    def dialect(self) -> str:
        return "pyspark" if self.name == "spark" else self.name

    def close(self) -> None:
        """Close a server's connection (PostgreSQL, ClickHouse); the next ``connect`` of its URL opens
        a new one. DuckDB and Spark engines are left as they are (a Spark session lives as long as
        its process)."""
        if self.name in ("postgres", "clickhouse"):
            for url, engine in list(_SERVERS.items()):
                if engine is self:
                    del _SERVERS[url]
            self.con.disconnect()

    def execute(self, expr: Any) -> Any:
        from hourglass.engine.errors import translated

        with translated():
            return self.con.execute(expr)


def _ibis() -> Any:
    """Ibis, with its SQL compilers imported one by one (engine/_lazy_ibis.py, before any backend
    loads): this module is imported without Ibis (engine/quick.py needs no backend)."""
    import ibis

    from hourglass.engine import _lazy_ibis  # noqa: F401 - before the backend: one compiler, not twenty

    return ibis


def _duckdb(path: str | None = None, *, threads: int | None = None) -> Engine:
    _ibis()
    from ibis.backends.duckdb import Backend

    # what ``ibis.duckdb.connect`` does, without its scan of every installed package's entry points
    # (ibis.load_backend: a few ms of every fresh process's first query)
    backend = Backend()
    backend.register_options()
    con = backend.connect(path or ":memory:")
    con.raw_sql("SET TimeZone = 'UTC'")
    # DuckDB draws its own progress bar on the terminal after 2 s of a query: never from the API
    # (the CLI shows its own; an ingest polls query_progress(), which keeps working)
    con.raw_sql("SET enable_progress_bar_print = false")
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    return Engine(con, "duckdb", path, url=path)


_SPARK_SESSION: Any = None
_SPARK_MASTER: str | None = None


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> Any:
    """One SparkSession per process (they take 15-25 s to start): ``master`` (default:
    HOURGLASS_SPARK_MASTER, else local[2]) with :data:`DEFAULT_SPARK_CONF` and ``conf`` over it. A
    second master in the same process is HG508 (Spark runs one SparkContext per JVM)."""
    global _SPARK_SESSION, _SPARK_MASTER
    master = master or os.environ.get("HOURGLASS_SPARK_MASTER") or "local[2]"
    if master.startswith("spark://"):
        reachable(master, 7077)  # a driver would retry an absent master for a minute
    if _SPARK_SESSION is not None:
        if master != _SPARK_MASTER:
            raise UnsupportedError(
                f"this process already runs Spark on {_SPARK_MASTER}; it cannot also use {master}",
                code="HG508",
                hint="Spark runs one session per process: use one Spark engine per run (a new "
                "process for another master)",
            )
        return _SPARK_SESSION
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise missing_driver("spark", e) from None
    builder = SparkSession.builder.master(master).appName("hourglass")
    for key, value in spark_conf(conf).items():
        builder = builder.config(key, value)
    _SPARK_SESSION = builder.getOrCreate()
    _SPARK_MASTER = master
    _SPARK_SESSION.sparkContext.setLogLevel("ERROR")
    return _SPARK_SESSION


def spark_conf(conf: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Spark settings of a session: :data:`DEFAULT_SPARK_CONF` with ``conf`` (``[engine.spark]``
    of hourglass.toml) over it."""
    return {**DEFAULT_SPARK_CONF, **(conf or {})}


def _spark_engine(session: Any, url: str | None) -> Engine:
    _ibis()
    import ibis.backends.pyspark

    return Engine(ibis.pyspark.connect(session), "spark", None, session, url=url)


def _spark_connect(url: str, conf: Mapping[str, str]) -> Engine:
    """A Spark Connect session (pyspark's client; ``pyspark[connect]``): only session settings
    (``spark.sql.*``) can be given from here, the server has its own."""
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql.connect.utils import check_dependencies

        check_dependencies("pyspark.sql.connect")
    except ImportError as e:
        raise missing_driver("spark-connect", e) from None
    reachable(url, 15002)
    builder = SparkSession.builder.remote(url)
    for key, value in spark_conf(conf).items():
        if key.startswith("spark.sql."):
            builder = builder.config(key, value)
    return _spark_engine(builder.getOrCreate(), url)


def _wrap(backend: Any) -> Engine:
    """An Ibis backend the caller already has, as an Engine."""
    name = _BACKEND_NAMES.get(backend.name, backend.name)
    session = getattr(backend, "_session", None) if name == "spark" else None
    return Engine(backend, name, None, session)


def _from_config(config: Config | None) -> Config:
    if config is not None:
        return config
    from hourglass.ingest.config import load_config

    return load_config()


def connect(
    engine: str | Engine | Any | None = None,
    *,
    path: str | None = None,
    config: Config | None = None,
    **options: Any,
) -> Engine:
    """An Engine for ``engine``: an engine string (engine/connect.py; None: ``[engine] name`` of
    ``config`` or ./hourglass.toml, else duckdb), an Ibis backend (wrapped), or an Engine (as it is).
    ``path``: a DuckDB database file; ``threads``: DuckDB's threads; ``session``: a SparkSession to
    use. Spark settings: ``[engine.spark]`` of the config over :data:`DEFAULT_SPARK_CONF`."""
    if isinstance(engine, Engine):
        return engine
    if engine is not None and not isinstance(engine, str):
        if isinstance(engine, _ibis().BaseBackend):
            return _wrap(engine)
        raise UnsupportedError(
            f"cannot use a {type(engine).__name__} as an engine",
            code="HG504",
            hint="pass an engine name (duckdb, spark, spark://HOST:PORT, postgres://...), an Ibis "
            "backend (ibis.duckdb.connect(), ...) or an hourglass Engine",
        )
    if options.get("session") is not None:
        return _spark_engine(options["session"], None)
    cfg: Config | None = config
    if engine is None and path is None:
        cfg = _from_config(config)
        engine = cfg.engine
    name = parse_engine(engine or "duckdb")
    if name.kind == "duckdb":
        return _duckdb(path or name.target, threads=options.get("threads"))
    if name.kind in ("spark", "spark-connect"):
        cfg = _from_config(cfg)
        if name.kind == "spark-connect":
            return _spark_connect(str(name.target), cfg.spark_conf)
        return _spark_engine(spark_session(name.target, cfg.spark_conf), name.target)
    return _server(name.kind, str(name.target))


#: server engines by URL: one connection per database and process (as one Spark session), reused by
#: every analysis of a run instead of a new login each (and never left open by a dropped Engine)
_SERVERS: dict[str, Engine] = {}


@atexit.register
def _close_servers() -> None:
    """Close the server connections when the process ends (a connection left to the garbage
    collector is a ResourceWarning, and the server logs an unexpected EOF)."""
    for engine in list(_SERVERS.values()):
        with contextlib.suppress(Exception):
            engine.close()


def _server(kind: str, url: str) -> Engine:
    if url not in _SERVERS:
        _ibis()
        con = postgres_backend(url) if kind == "postgres" else clickhouse_backend(url)
        _SERVERS[url] = Engine(con, kind, None, url=shown_url(url))
    return _SERVERS[url]
