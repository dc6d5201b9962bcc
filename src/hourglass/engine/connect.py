"""Engine names: the one way to say where an analysis runs, parsed and connected.

``duckdb`` (in memory) or a DuckDB file; ``spark`` (local mode), ``spark://HOST:PORT`` (a standalone
cluster), ``local[N]``, ``sc://HOST:PORT`` (Spark Connect); ``postgres://`` / ``postgresql://``;
``clickhouse://``. docs/engines.md and docs/adr/0008-engines.md say what each one is tested with."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from hourglass.model.errors import EngineError, UnsupportedError

__all__ = [
    "DEFAULT_SPARK_CONF",
    "EXTRAS",
    "SCHEMES",
    "EngineName",
    "clickhouse_backend",
    "missing_driver",
    "parse_engine",
    "postgres_backend",
    "reachable",
    "shown_url",
    "unreachable",
]

#: The Spark settings hourglass uses unless hourglass.toml's ``[engine.spark]`` says otherwise.
DEFAULT_SPARK_CONF: Mapping[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "2g",
}

#: URL schemes and the engine kind they name.
SCHEMES: Mapping[str, str] = {
    "spark": "spark",
    "sc": "spark-connect",
    "postgres": "postgres",
    "postgresql": "postgres",
    "clickhouse": "clickhouse",
    "duckdb": "duckdb",
}

#: engine kind -> (the Python module it needs, the extra that installs it)
EXTRAS: Mapping[str, tuple[str, str]] = {
    "spark": ("pyspark", "spark"),
    "spark-connect": ("pyspark", "spark"),
    "postgres": ("psycopg", "postgres"),
    "clickhouse": ("clickhouse_connect", "clickhouse"),
}

_NAMES = ("duckdb", "spark", "spark://HOST:PORT", "sc://HOST:PORT", "postgres://...", "clickhouse://...")
_DUCKDB_FILES = (".duckdb", ".ddb", ".db")


@dataclass(frozen=True)
class EngineName:
    """A parsed engine string: ``kind`` (duckdb, spark, spark-connect, postgres, clickhouse) and
    ``target`` (the DuckDB file, the Spark master, or the server's URL)."""

    kind: str
    target: str | None = None


def _unknown(text: str, why: str = "") -> UnsupportedError:
    from hourglass.model._suggest import did_you_mean

    return UnsupportedError(
        f"unknown engine '{text}'{why or did_you_mean(text, ('duckdb', 'spark', 'postgres', 'clickhouse'))}",
        code="HG504",
        hint="engines: " + ", ".join(_NAMES) + ", or a DuckDB file (shop.duckdb); docs/engines.md",
    )


def parse_engine(text: str) -> EngineName:
    """``text`` as an EngineName; HG504 (with "did you mean") for anything else."""
    name = text.strip()
    low = name.lower()
    if low in ("", "duckdb", "memory", ":memory:"):
        return EngineName("duckdb")
    if low in ("spark", "pyspark", "local") or low.startswith("local["):
        return EngineName("spark", None if low in ("spark", "pyspark") else name)
    if low.endswith(_DUCKDB_FILES) and "://" not in low:
        return EngineName("duckdb", name)
    scheme, sep, rest = name.partition("://")
    if not sep:
        raise _unknown(name)
    kind = SCHEMES.get(scheme.lower())
    if kind is None:
        raise _unknown(name, f" (unknown scheme '{scheme}://'; schemes: {', '.join(SCHEMES)})")
    if kind == "duckdb":  # duckdb:///path/to/file.duckdb, duckdb:// (in memory)
        return EngineName("duckdb", unquote(rest) or None)
    if kind in ("spark", "spark-connect"):
        host, _, port = rest.split("/", 1)[0].rpartition(":")
        if not host or not port.isdigit():
            raise _unknown(name, f" (write {scheme}://HOST:PORT, e.g. {scheme}://127.0.0.1:7077)")
    elif not urlsplit(name).hostname:
        raise _unknown(name, f" (write {scheme}://USER:PASSWORD@HOST:PORT/DATABASE)")
    return EngineName(kind, name)


def shown_url(url: str) -> str:
    """``url`` without its password (error messages and results never repeat one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def missing_driver(kind: str, error: ImportError) -> UnsupportedError:
    """HG507 (HG503 for Spark): the engine's driver is not installed (the extra that installs it in
    the hint)."""
    module, extra = EXTRAS.get(kind, (str(error.name), kind))
    what = {"spark-connect": "Spark Connect"}.get(kind, kind)
    missing = error.name or module
    if kind == "spark-connect" and missing != "pyspark":  # pyspark's check names no module
        missing = "grpcio, grpcio-status, googleapis-common-protos"
    hint = f"pip install 'hourglass[{extra}]'"
    if kind == "spark":
        hint += " (and Java 17)"
    elif kind == "spark-connect":
        hint += " and Spark Connect's client libraries: pip install 'pyspark[connect]'"
    message = f"the {what} engine needs the Python package(s) '{missing}', not installed here"
    if kind == "spark":  # the code it always had
        return UnsupportedError(message, code="HG503", hint=hint)
    return UnsupportedError(message, code="HG507", hint=hint)


def unreachable(url: str, reason: str) -> EngineError:
    """HG506: the engine's server cannot be reached or refuses the connection."""
    first = (reason.strip().splitlines() or ["no answer"])[0]
    return EngineError(
        f"cannot connect to the engine {shown_url(url)}: {first}",
        code="HG506",
        hint="check that the server is running and that the host, port, database, user and password "
        "are right (the form: SCHEME://USER:PASSWORD@HOST:PORT/DATABASE); docs/engines.md",
    )


def reachable(url: str, default_port: int, timeout: float = 5.0) -> None:
    """HG506 unless a TCP connection to the URL's host and port opens within ``timeout`` seconds (a
    Spark driver would otherwise retry an absent master for a minute)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as e:
        raise unreachable(url, f"{host}:{port}: {e.strerror or e}") from None


def _server_backend(
    kind: str, url: str, make: Callable[[], Any], error_types: tuple[type[BaseException], ...]
) -> Any:
    """``make()``, with its driver's connection errors as HG506 (never a driver traceback); a closed
    port is found first, with a plain message."""
    import logging

    reachable(url, 5432 if kind == "postgres" else 8123)
    quiet = logging.getLogger("clickhouse_connect")  # logs an HTTP failure before raising it
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return make()
    except error_types as e:
        raise unreachable(url, str(e)) from None
    finally:
        quiet.setLevel(level)


def postgres_backend(url: str) -> Any:
    """Ibis's PostgreSQL backend on ``url`` (postgres:// or postgresql://)."""
    try:
        import ibis.backends.postgres
        import psycopg
    except ImportError as e:
        raise missing_driver("postgres", e) from None
    import ibis

    parts = urlsplit(url)
    database, _, schema = parts.path.lstrip("/").partition("/")
    kwargs: dict[str, Any] = {"host": parts.hostname, "port": parts.port or 5432}
    if parts.username:
        kwargs["user"] = unquote(parts.username)
    if parts.password:
        kwargs["password"] = unquote(parts.password)
    if database:
        kwargs["database"] = unquote(database)
    if schema:
        kwargs["schema"] = unquote(schema)
    kwargs["connect_timeout"] = 10
    return _server_backend("postgres", url, lambda: ibis.postgres.connect(**kwargs), (psycopg.Error,))


def clickhouse_backend(url: str) -> Any:
    """Ibis's ClickHouse backend on ``url`` (clickhouse://USER:PASSWORD@HOST:PORT/DATABASE; the HTTP
    port, 8123 by default; ``?secure=true`` for HTTPS)."""
    try:
        import clickhouse_connect.driver.exceptions as ch_errors
        import ibis.backends.clickhouse
    except ImportError as e:
        raise missing_driver("clickhouse", e) from None
    import ibis

    parts = urlsplit(url)
    kwargs: dict[str, Any] = {"host": parts.hostname, "port": parts.port or 8123}
    if parts.username:
        kwargs["user"] = unquote(parts.username)
    if parts.password:
        kwargs["password"] = unquote(parts.password)
    database = parts.path.strip("/")
    if database:
        kwargs["database"] = unquote(database)
    if "secure=true" in parts.query.lower():
        kwargs["secure"] = True
    kwargs["connect_timeout"] = 10
    return _server_backend("clickhouse", url, lambda: ibis.clickhouse.connect(**kwargs), (ch_errors.Error,))
