"""The store's Python API: ``ingest(source, into)`` writes a source's validated events as a store
(engine/event_store.py) that every analysis reads as a source (``store.duckdb``).

A table of a PostgreSQL database is a source too: ``ingest("postgres://USER@HOST:PORT/DB/TABLE",
into)`` or ``ingest("TABLE", into, engine="postgres://USER@HOST:PORT/DB")``. Its rows are streamed
out of the server in Arrow batches (engine/table_stream.py) into a Parquet file next to the store,
which is then validated and written exactly like a Parquet source, and removed."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hourglass.engine.event_store import StoreInfo, write_store
from hourglass.engine.load import load_events
from hourglass.engine.session import Engine, connect
from hourglass.engine.snapshot import watching
from hourglass.ingest.config import Config, load_config
from hourglass.model.errors import HourglassError, SourceError
from hourglass.model.schema import ColumnMapping

__all__ = ["SERVER_SCHEMES", "StoreInfo", "ingest", "server_table"]

#: URL schemes of a server table given as SOURCE (``postgres://USER@HOST:PORT/DB/TABLE``).
SERVER_SCHEMES = ("postgres", "postgresql")

Progress = Callable[[str, float | None], None]


def server_table(source: Any, engine: str | Engine | None) -> tuple[str | Engine, str] | None:
    """(the engine, the table) when ``source`` is a table on a PostgreSQL server: a URL whose last
    path part is the table (``postgres://u@h:5432/shop/events``, ``.../shop/analytics.events``), or a
    table name with a ``postgres://`` engine; None for every other source."""
    if isinstance(source, str) and urlsplit(source).scheme.lower() in SERVER_SCHEMES:
        parts = urlsplit(source)
        path = parts.path.strip("/")
        database, _, table = path.rpartition("/")
        if not database or not table:
            raise SourceError(
                f"{_shown(source)}: name the database and the table (postgres://USER@HOST:PORT/DB/TABLE)",
                code="HG203",
                hint="e.g. postgres://me@db.example.com:5432/shop/events, or SCHEMA.TABLE as the last part",
            )
        return parts._replace(path="/" + database).geturl(), table
    name = engine.name if isinstance(engine, Engine) else urlsplit(engine or "").scheme.lower()
    if name in ("postgres", *SERVER_SCHEMES) and isinstance(source, str):
        return engine, source  # type: ignore[return-value]
    return None


def _shown(url: str) -> str:
    from hourglass.engine.connect import shown_url

    return shown_url(url)


def _mapping(columns: ColumnMapping | Mapping[str, Any] | None, cfg: Config) -> ColumnMapping:
    mapping = cfg.columns
    if columns is not None:
        given = columns if isinstance(columns, ColumnMapping) else ColumnMapping.from_dict(columns)
        mapping = mapping.merged(given)
    return mapping


def ingest(
    source: Any,
    into: str | Path,
    *,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    config: Config | str | None = None,
    table: str | None = None,
    engine: str | Engine | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> StoreInfo:
    """Validate ``source`` (any source :func:`hourglass.funnel` reads, or a PostgreSQL table: see
    the module) and write its canonical events to the DuckDB file ``into``, each event name's rows
    together and clustered by customer and time (a funnel reads only its steps' rows), with integer
    customer keys, ENUM event names (text past 10,000 names) and integer microsecond timestamps.
    Raises the validation's
    DataError (nothing is written) and HG420 when ``into`` exists (``overwrite=True`` replaces it).
    ``progress(phase, fraction)`` is called while it works."""
    cfg = config if isinstance(config, Config) else load_config(config)
    mapping = _mapping(columns, cfg)
    server = server_table(source, engine)
    if server is not None:
        return _ingest_server(server[0], server[1], into, mapping, table, overwrite, progress)
    if progress is not None:
        progress("validating", None)
    events = load_events(connect("duckdb"), source, mapping, table=table)
    return write_store(events, into, overwrite=overwrite, progress=progress)


def _ingest_server(
    engine: str | Engine,
    name: str,
    into: str | Path,
    mapping: ColumnMapping,
    table: str | None,
    overwrite: bool,
    progress: Progress | None,
) -> StoreInfo:
    """A server's table: streamed into a Parquet file next to the store, then ingested as one."""
    from hourglass.ingest.sources import open_source, resolve_source

    started = time.perf_counter()
    target = Path(into)
    if target.exists() and not overwrite:  # before reading a whole table
        raise SourceError(
            f"{target} already exists", code="HG420", hint="choose another path, or --force to replace it"
        )
    server = connect(engine)  # the process's connection to that server (engine/session.py keeps it)
    src = resolve_source(name, table=table)
    shown = f"{server.url}/{src.name}" if server.url else src.name
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.{os.getpid()}.source.parquet")
    raw = open_source(server.con, src)
    _stage(server, raw, shown, staged, progress)
    try:
        if progress is not None:
            progress("validating", None)
        # the staged file is checked for changes in a scope of its own, before it is removed (not at
        # the end of the command, when it is gone)
        with watching():
            try:
                events = load_events(connect("duckdb"), str(staged), mapping)
            except HourglassError as e:
                raise _renamed(e, str(staged), shown) from None
            events = dataclasses.replace(
                events, report=dataclasses.replace(events.report, source=shown, kind="table")
            )
            info = write_store(events, target, overwrite=overwrite, progress=progress)
    finally:
        staged.unlink(missing_ok=True)
    return dataclasses.replace(info, seconds=time.perf_counter() - started)  # reading the table too


def _stage(server: Engine, raw: Any, shown: str, path: Path, progress: Progress | None) -> int:
    """Stream ``raw`` into the Parquet file ``path``; the rows written."""
    import pyarrow.parquet as pq

    from hourglass.engine.table_stream import stream_batches

    total = None
    if progress is not None:
        progress(f"reading {shown}", None)
        total = int(server.execute(raw.count()))
    schema, batches = stream_batches(server, raw, name=shown)
    done = 0
    try:
        with pq.ParquetWriter(path, schema, compression="zstd") as out:
            for batch in batches:
                out.write_batch(batch)
                done += batch.num_rows
                if progress is not None:
                    progress(f"reading {shown}", done / total if total else None)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return done


def _renamed(error: HourglassError, staged: str, shown: str) -> HourglassError:
    """The validation's error naming the table instead of the staging file."""
    error.message = error.message.replace(staged, shown)
    error.args = (error.message,)
    if error.hint:
        error.hint = error.hint.replace(staged, shown)
    return error
