"""Sources: where events come from (files, globs, Parquet datasets partitioned by day, cluster URIs,
DuckDB databases, tables of an engine's catalog, in-memory tables) and how to open them as Ibis
tables on a backend connection the engine owns."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hourglass.ingest.locations import (
    collector_store,
    dataset_files,
    hive_base,
    is_remote,
    is_table_name,
    local_path,
    unknown_type,
)
from hourglass.ingest.sniff import by_content
from hourglass.model.errors import HourglassError, SchemaError, SourceError, UnsupportedError

if TYPE_CHECKING:  # Ibis is imported where a table is opened: resolving a source needs none
    import ibis.expr.types as ir

__all__ = [
    "FILE_COLUMN",
    "FORMATS",
    "Source",
    "describe_csv",
    "is_read_once",
    "open_source",
    "resolve_source",
    "source_bytes",
    "temp_table",
]

#: The Ibis backends that read files (the others, PostgreSQL and ClickHouse servers, read their tables).
FILE_READERS = ("duckdb", "pyspark")

#: The column naming each row's file when a source has several files.
FILE_COLUMN = "__hg_file"

FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".csv.gz", ".tsv", ".txt"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz"),
    "duckdb": (".duckdb", ".ddb", ".db"),
}


@dataclass(frozen=True)
class Source:
    """A resolved source: ``kind`` is one of FORMATS, ``table`` (a table of the engine's catalog) or
    ``memory`` / ``ibis``."""

    kind: str
    name: str  # what error messages call it
    paths: tuple[str, ...] = ()
    table: str | None = None  # for DuckDB databases and catalog tables
    obj: Any = field(default=None, compare=False, repr=False)  # in-memory data or an Ibis table
    #: a Parquet dataset partitioned by ``key=value`` directories: its root (Spark's basePath); the
    #: partition values are columns (``dt``)
    base: str | None = None
    #: a URI the engine reads itself (hdfs://, s3://, file://): not a local file
    remote: bool = False

    @property
    def is_file(self) -> bool:
        return self.kind in ("csv", "parquet", "jsonl")


def _arrow(obj: Any) -> Any:
    """An in-memory table as Arrow; all-NULL columns (no type to infer) become strings."""
    import pyarrow as pa

    table = (
        pa.Table.from_pandas(obj, preserve_index=False) if type(obj).__module__.startswith("pandas") else obj
    )
    if isinstance(table, pa.Table):
        for i, f in enumerate(table.schema):
            if pa.types.is_null(f.type):
                table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


def _kind_of(path: str) -> str | None:
    low = path.lower()
    for kind, exts in FORMATS.items():
        if low.endswith(exts):
            return kind
    return None


def resolve_source(source: Any, *, table: str | None = None, fmt: str | None = None) -> Source:
    """Turn a path, glob, ``db.duckdb:table``, DataFrame, Arrow table or Ibis table into a Source."""
    if not isinstance(source, str | os.PathLike) and type(source).__module__.startswith("ibis."):
        import ibis.expr.types as ir

        if isinstance(source, ir.Table):
            return Source("ibis", "the Ibis table", obj=source)
    if not isinstance(source, str | os.PathLike):
        mod = type(source).__module__.split(".")[0]
        if mod in ("pandas", "pyarrow", "polars"):
            return Source("memory", f"the in-memory {mod} table", obj=source)
        raise SourceError(
            f"cannot read events from a {type(source).__name__}",
            code="HG201",
            hint="pass a file path, a glob, a DuckDB file, a pandas/Arrow table or an Ibis table",
        )
    text = os.fspath(source)
    if is_remote(text):
        return _remote(text, fmt)
    store = collector_store(text) if table is None else None
    if store is not None:  # a collector's data directory: its project's store (docs/collector.md)
        return Source("duckdb", f"{store}:events", paths=(store,), table="events")
    if table is None and ":" in text and not os.path.exists(text):
        head, _, tail = text.rpartition(":")
        if _kind_of(head) == "duckdb":
            text, table = head, tail
    if Path(text).is_dir():
        return _dataset(text)
    kind = fmt or _kind_of(text)
    if kind is None and is_table_name(text) and not os.path.exists(text):
        name = f"{text}.{table}" if table else text  # SOURCE --table NAME: the table NAME of schema SOURCE
        return Source("table", name, table=name)
    if kind is None:
        raise unknown_type(text)
    if kind not in FORMATS:
        raise SourceError(
            f"unknown input format '{kind}'", code="HG202", hint="one of: " + ", ".join(FORMATS)
        )
    if any(c in text for c in "*?["):
        paths = tuple(sorted(glob.glob(text, recursive=True)))
        if not paths:
            raise SourceError(
                f"{text}: no file matches this pattern",
                code="HG203",
                hint="check the path; quote the pattern so the shell does not expand it",
            )
    else:
        if not Path(text).exists():
            raise SourceError(f"{text}: no such file", code="HG203", hint="check the path")
        if Path(text).is_dir():
            raise SourceError(
                f"{text} is a directory", code="HG203", hint=f"give a glob such as '{text}/*.parquet'"
            )
        paths = (text,)
    base = hive_base(text)
    if kind == "duckdb":
        if len(paths) != 1:
            raise SourceError(
                f"{text}: give one DuckDB file, not a pattern",
                code="HG204",
                hint="name one database file, e.g. shop.duckdb or shop.duckdb:TABLE",
            )
        return Source("duckdb", f"{paths[0]}:{table or 'events'}", paths=paths, table=table or "events")
    if fmt is None:
        kind = by_content(kind, paths, text)
    return Source(kind, text, paths=paths, base=base if kind == "parquet" else None)


def _remote(text: str, fmt: str | None) -> Source:
    """A URI the engine reads (hdfs://, s3://, file://): its kind from its name; a name without a
    file extension is a Parquet dataset directory."""
    kind = fmt or _kind_of(text.rstrip("/")) or "parquet"
    if kind not in FORMATS or kind == "duckdb":
        raise SourceError(
            f"{text}: a {kind} source cannot be read from a URI",
            code="HG202",
            hint="give CSV, Parquet or JSON-lines files (a .duckdb file must be a local path)",
        )
    return Source(kind, text, paths=(text,), base=hive_base(text) or text.rstrip("/"), remote=True)


def _dataset(directory: str) -> Source:
    """A directory of Parquet files (partitioned by day: ``dt=2024-01-01/part-0.parquet``); HG203
    for a directory without any."""
    files = dataset_files(directory)
    if not files:
        raise SourceError(
            f"{directory} is a directory",
            code="HG203",
            hint=f"give a glob such as '{directory.rstrip('/')}/*.parquet' (a directory is read as a "
            "Parquet dataset; this one has no .parquet file)",
        )
    root = directory.rstrip("/") or "/"
    partitioned = any(hive_base(os.path.relpath(f, root)) is not None for f in files)
    return Source("parquet", root, paths=files, base=root if partitioned else None)


def _tables(con: Any, alias: str) -> list[str]:
    """The tables and views of the attached database ``alias``; those outside its main schema as
    ``schema.table``."""
    lit = "'" + alias.replace("'", "''") + "'"
    rows = con.raw_sql(
        f"SELECT s, t FROM (SELECT schema_name AS s, table_name AS t FROM duckdb_tables() "
        f"WHERE database_name = {lit} UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
        f"WHERE database_name = {lit} AND NOT internal) ORDER BY s <> 'main', s, t"
    ).fetchall()
    return [name if schema == "main" else f"{schema}.{name}" for schema, name in rows]


#: CSV sources up to this size (all files) are read once into a DuckDB temporary table: one parse of
#: the file instead of one per query (validation, the analysis), and no re-sniffing on each schema
#: lookup; larger ones stay views over the files (memory). Compressed files count four times.
READ_ONCE_BYTES = 64 * 2**20


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_csv_sql(src: Source, text_columns: tuple[str, ...] = ()) -> str:
    """DuckDB's ``read_csv`` of ``src``, as ibis's ``read_csv`` calls it (header, auto-detection),
    with the file of each row for several files and ``text_columns`` read as VARCHAR."""
    options = ["header = true", "auto_detect = true"]
    if len(src.paths) > 1:
        options.append(f"filename = {_sql_text(FILE_COLUMN)}")
    if text_columns:
        types = ", ".join(f"{_sql_text(c)}: 'VARCHAR'" for c in text_columns)
        options.append(f"types = {{{types}}}")
    files = "[" + ", ".join(_sql_text(p) for p in src.paths) + "]"
    return f"read_csv({files}, {', '.join(options)})"


def describe_csv(con: Any, src: Source) -> dict[str, str]:
    """A CSV source's columns and DuckDB types as its reader sniffs them (one sniff; the DuckDB
    engine only). ``con``: the Ibis backend, or the raw DuckDB connection (engine/quick.py)."""
    raw = getattr(con, "con", con)
    rows = raw.execute(f"DESCRIBE SELECT * FROM {_read_csv_sql(src)}").fetchall()
    types = {str(r[0]): str(r[1]) for r in rows}
    for name in types:
        if any(c in name for c in "\x00\r\n"):  # no SQL can name it (DuckDB's parser stops at a NUL)
            raise SchemaError(
                f"{src.name}: the header names a column with a control character: {name!r}",
                code="HG311",
                hint="fix the column's name in the file's first line (remove the NUL byte or line break)",
            )
    return types


def source_bytes(src: Source) -> int | None:
    """The size of a file source (compressed files count four times), None when unknown."""
    total = 0
    for path in src.paths:
        try:
            size = os.path.getsize(path)
        except OSError:
            return None
        total += size * (4 if path.lower().endswith((".gz", ".zst", ".bz2", ".xz")) else 1)
    return total


def _small(src: Source) -> bool:
    size = source_bytes(src)
    return size is not None and size <= READ_ONCE_BYTES


def temp_table(con: Any, select_sql: str, *, view: bool = False) -> ir.Table:
    """``select_sql`` as a new temporary table (or view) of the DuckDB backend ``con``, as an Ibis
    table: its schema as ibis's ``con.table(name)`` reads it, without its Arrow round trip
    (pyarrow's import is 0.15 s of a small command)."""
    import ibis
    import ibis.expr.operations as ops

    name = ibis.util.gen_name("hg_view" if view else "hg_once")
    con.con.execute(f'CREATE TEMP {"VIEW" if view else "TABLE"} "{name}" AS {select_sql}')
    described = con.con.execute(f'DESCRIBE "{name}"').fetchall()
    mapper = con.compiler.type_mapper
    schema = ibis.schema(
        {str(c): mapper.from_string(str(t), nullable=n == "YES") for c, t, n, *_ in described}
    )
    table: ir.Table = ops.DatabaseTable(
        name, schema=schema, source=con, namespace=ops.Namespace(catalog=None, database=None)
    ).to_expr()
    return table


def is_read_once(table: ir.Table) -> bool:
    """Whether ``table`` is a temporary table of :func:`temp_table` (a small source read once)."""
    import ibis.expr.operations as ops

    op = table.op()
    return isinstance(op, ops.DatabaseTable) and op.name.startswith("ibis_hg_once_")


def _csv_once(con: Any, src: Source, text_columns: tuple[str, ...]) -> ir.Table:
    """A CSV source on DuckDB: a temporary table (small files, read once) or a view."""
    return temp_table(con, f"SELECT * FROM {_read_csv_sql(src, text_columns)}", view=not _small(src))


def open_source(
    con: Any, src: Source, *, text_columns: tuple[str, ...] = (), schema: Any = None, once: bool = False
) -> ir.Table:
    """The raw table of ``src`` on the Ibis backend ``con``. ``text_columns`` are read as strings
    (CSV/JSON), so that bad values in role columns reach validation instead of failing the read;
    JSON lines need the ``schema`` of a first read for the other columns' types. ``once``: a CSV on
    DuckDB is read into a temporary table when small (:data:`READ_ONCE_BYTES`)."""
    import ibis

    from hourglass.ingest.catalog import catalog_table

    if src.kind == "ibis":
        table: ir.Table = src.obj
        return table
    if src.kind == "memory":
        return con.create_table(ibis.util.gen_name("hg_mem"), _arrow(src.obj), temp=True)
    if src.kind == "table":
        return catalog_table(con, src)
    if con.name not in FILE_READERS and is_table_name(src.name):  # a server reads its own tables
        return catalog_table(con, Source("table", src.name, table=src.name))
    try:
        return _open_files(con, src, text_columns, schema, once)
    except NotImplementedError as e:
        if isinstance(e, HourglassError):  # UnsupportedError is a NotImplementedError too (HG501)
            raise
        raise SourceError(
            f"{src.name}: the {con.name} engine cannot read files",
            code="HG509",
            hint="name a table of its database as SOURCE (schema.table works), or run on duckdb or "
            "spark, or load the file into the database first (docs/engines.md)",
        ) from None


def _open_files(con: Any, src: Source, text_columns: tuple[str, ...], schema: Any, once: bool) -> ir.Table:
    """:func:`open_source` for files, globs, datasets and DuckDB databases."""
    import ibis

    from hourglass.ingest.catalog import read_parquet

    paths: Any = [local_path(p) for p in src.paths]
    if con.name != "duckdb":  # other backends take one path or their own glob
        paths = src.paths[0] if len(src.paths) == 1 else src.name
    # several files: DuckDB adds the file of each row, for error messages
    extra: dict[str, Any] = {"filename": FILE_COLUMN} if con.name == "duckdb" and len(src.paths) > 1 else {}
    if src.kind == "parquet":
        return read_parquet(con, src, paths, extra)
    if src.kind == "csv":
        if con.name != "duckdb":
            return con.read_csv(paths, header=True)
        if once:
            return _csv_once(con, src, text_columns)
        if text_columns:
            extra["types"] = {c: "VARCHAR" for c in text_columns}
        return con.read_csv(paths, **extra)
    if src.kind == "jsonl":
        if con.name != "duckdb":
            return con.read_json(paths)
        if text_columns and schema is not None:
            from ibis.backends.sql.datatypes import DuckDBType

            extra["columns"] = {
                name: "VARCHAR" if name in text_columns else DuckDBType.from_ibis(dtype).sql("duckdb")
                for name, dtype in schema.items()
                if name != FILE_COLUMN
            }
        return con.read_json(paths, format="newline_delimited", **extra)
    if src.kind == "duckdb":
        if con.name != "duckdb":
            raise UnsupportedError(
                f"{src.name}: a DuckDB database can only be read by the duckdb engine",
                code="HG501",
                hint="export the table to Parquet for other engines",
            )
        alias = "hg_src_" + ibis.util.gen_name("db").split("_")[-1]
        quoted = "'" + src.paths[0].replace("'", "''") + "'"  # ibis's attach does not escape quotes
        con.raw_sql(f"ATTACH {quoted} AS {alias} (READ_ONLY)")
        schema, _, name = (src.table or "events").rpartition(".")  # analytics.events: a table of a schema
        try:
            return con.table(name, database=(alias, schema or "main"))
        except Exception:  # noqa: BLE001 - ibis raises backend-specific errors here
            tables = _tables(con, alias)
            raise SourceError(
                f"{src.paths[0]}: no table '{src.table}'",
                code="HG205",
                hint="tables there: " + (", ".join(tables) or "none") + f"; name one as {src.paths[0]}:TABLE",
            ) from None
    raise SourceError(
        f"cannot open {src.name}", code="HG202", hint="give a .csv, .parquet, .jsonl/.ndjson or .duckdb file"
    )
