"""Writing event tables to a DuckDB database file and Parquet (the demo's outputs), each whole or
not at all: written next to the target, then renamed over it; a failed write (a full disk, a
read-only directory) is HG425 naming the target and leaves no half-written file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import duckdb

from hourglass.engine.errors import translated
from hourglass.ingest.outputs import cannot_write
from hourglass.model.errors import HourglassError

__all__ = ["write_events"]


def _lit(path: Path) -> str:
    return "'" + path.as_posix().replace("'", "''") + "'"


def _replace(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise cannot_write(target, e) from e


def _failed(tmp: Path, target: Path, e: BaseException) -> None:
    """Remove what a failed write left (the temporary file and its .wal); an OSError is HG425."""
    for path in (tmp, tmp.with_name(tmp.name + ".wal")):
        with contextlib.suppress(OSError):
            path.unlink()
    if isinstance(e, OSError) and not isinstance(e, HourglassError):  # SourceError is an OSError
        raise cannot_write(target, e) from e


def write_events(
    table: Any,
    *,
    duckdb_path: str | Path | None = None,
    parquet_path: str | Path | None = None,
    name: str = "events",
) -> None:
    """Write an Arrow table as ``name`` in a DuckDB file and/or as a Parquet file (zstd)."""
    con = duckdb.connect()
    con.register("hg_arrow_in", table)
    try:
        if parquet_path:
            target = Path(parquet_path)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with translated(target=str(target)):
                    con.execute(f"COPY hg_arrow_in TO {_lit(tmp)} (FORMAT parquet, COMPRESSION zstd)")
            except BaseException as e:
                _failed(tmp, target, e)
                raise
            _replace(tmp, target)
        if duckdb_path:
            target = Path(duckdb_path)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp.unlink(missing_ok=True)
                with translated(target=str(target)):
                    con.execute(f"ATTACH {_lit(tmp)} AS hg_out")
                    try:
                        con.execute(
                            f'CREATE TABLE hg_out."{name}" AS SELECT * FROM hg_arrow_in '
                            "ORDER BY customer_id, timestamp"
                        )
                    finally:
                        con.execute("DETACH hg_out")
            except BaseException as e:
                _failed(tmp, target, e)
                raise
            _replace(tmp, target)
    finally:
        con.close()
