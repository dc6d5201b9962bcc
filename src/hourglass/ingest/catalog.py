"""Opening what is not a local file: a table of the engine's catalog, a Parquet dataset partitioned by
``key=value`` directories (on DuckDB and Spark), a cluster URI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from hourglass.ingest.locations import local_path, unknown_type
from hourglass.model.errors import SourceError

if TYPE_CHECKING:
    from hourglass.ingest.sources import Source

__all__ = ["catalog_table", "read_parquet"]


def read_parquet(con: Any, src: Source, paths: Any, extra: dict[str, Any]) -> ir.Table:
    """Parquet files, a glob or a dataset partitioned by ``key=value`` directories (its partition
    values as columns, on DuckDB and on Spark alike)."""
    if con.name == "duckdb":
        if extra:  # several files: every file's columns (a column missing from a file is NULL there)
            extra["union_by_name"] = True
        if src.remote and not src.name.lower().endswith((".parquet", ".pq")) and "*" not in src.name:
            paths = [local_path(src.name).rstrip("/") + "/**/*.parquet"]  # a dataset directory's files
            extra["union_by_name"] = True
        if src.base:
            extra["hive_partitioning"] = True
        return con.read_parquet(paths, **extra)
    session = getattr(con, "_session", None)
    if src.base and session is not None and src.base != src.name:  # Spark: partitions under basePath
        name = ibis.util.gen_name("hg_parquet")
        files = [src.name] if any(c in src.name for c in "*?[") or src.remote else list(src.paths)
        session.read.option("basePath", src.base).parquet(*files).createOrReplaceTempView(name)
        return con.table(name)
    return con.read_parquet(paths, **extra)


def _catalog_tables(con: Any) -> list[str]:
    """The tables and views of the engine's database (``schema.table`` outside the default schema),
    for a hint."""
    try:
        if con.name == "duckdb":  # ibis's list_tables goes through a deprecated DuckDB call
            rows = con.con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database() ORDER BY table_schema <> 'main', 1, 2"
            ).fetchall()
            return [t if s == "main" else f"{s}.{t}" for s, t in rows]
        return sorted(str(t) for t in con.list_tables())
    except Exception:  # noqa: BLE001 - only for a hint
        return []


def catalog_table(con: Any, src: Source) -> ir.Table:
    """A table or view of the engine's catalog (``events``, ``schema.events``,
    ``catalog.schema.events``); HG205 listing the tables there when there is none by that name,
    HG202 on DuckDB in memory (no catalog: the name was meant as a file)."""
    *namespace, name = str(src.table).split(".")
    database: Any = tuple(namespace) if len(namespace) > 1 else (namespace[0] if namespace else None)
    try:
        return con.table(name, database=database)
    except Exception:  # noqa: BLE001 - every backend raises its own "no such table"
        tables = _catalog_tables(con)
    if con.name == "duckdb" and not tables:
        in_memory = con.con.execute("SELECT current_database()").fetchone()[0] == "memory"
        if in_memory:
            raise unknown_type(src.name) from None
    where = {"duckdb": "the DuckDB database", "pyspark": "Spark's catalog"}.get(
        con.name, f"the {con.name} database"
    )
    shown = ", ".join(tables[:20]) + (f" (and {len(tables) - 20} more)" if len(tables) > 20 else "")
    raise SourceError(
        f"{src.name}: no such table or view in {where}",
        code="HG205",
        hint=f"tables there: {shown or 'none'}; name one as SOURCE (schema.table works), or give a file",
    ) from None
