"""Writing event tables to a DuckDB database file and Parquet (the demo's outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

__all__ = ["write_events"]


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
            Path(parquet_path).parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY hg_arrow_in TO '{Path(parquet_path).as_posix()}' (FORMAT parquet, COMPRESSION zstd)"
            )
        if duckdb_path:
            p = Path(duckdb_path)
            p.parent.mkdir(parents=True, exist_ok=True)
            if p.exists():
                p.unlink()
            con.execute(f"ATTACH '{p.as_posix()}' AS hg_out")
            con.execute(
                f'CREATE TABLE hg_out."{name}" AS SELECT * FROM hg_arrow_in ORDER BY customer_id, timestamp'
            )
            con.execute("DETACH hg_out")
    finally:
        con.close()
