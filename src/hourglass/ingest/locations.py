"""Where a source lives, beyond one local file: cluster and object-store URIs (read by the engine,
not checked here), Parquet datasets partitioned by day (``events/dt=2024-01-01/part-0.parquet``, the
layout the collector writes) and tables of an engine's catalog (``events``, ``analytics.events``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hourglass.model.errors import SourceError

__all__ = [
    "REMOTE_SCHEMES",
    "dataset_files",
    "hive_base",
    "is_remote",
    "is_table_name",
    "local_path",
    "unknown_type",
]

#: URI schemes read by the engine itself (Spark's Hadoop file systems, DuckDB's httpfs): no local
#: existence check, no sniffing of the first bytes.
REMOTE_SCHEMES = (
    "abfs",
    "abfss",
    "az",
    "file",
    "gcs",
    "gs",
    "hdfs",
    "http",
    "https",
    "s3",
    "s3a",
    "s3n",
    "viewfs",
    "wasb",
    "wasbs",
)

_PARTITION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=[^/]*$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
_FILE_SUFFIXES = {
    "csv",
    "tsv",
    "txt",
    "parquet",
    "pq",
    "json",
    "jsonl",
    "ndjson",
    "duckdb",
    "ddb",
    "db",
    "gz",
}
_SKIPPED = ("_", ".")  # _SUCCESS, _committed_*, .part-0.parquet.crc: a writer's bookkeeping


def is_remote(text: str) -> bool:
    """Whether ``text`` is a URI an engine reads itself (``hdfs://``, ``s3://``, ``file://``, ...)."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in REMOTE_SCHEMES


def local_path(text: str) -> str:
    """A ``file://`` URI as the local path it names (DuckDB reads paths); other text as it is."""
    return text[len("file://") :] if text.lower().startswith("file://") else text


def is_table_name(text: str) -> bool:
    """Whether ``text`` reads as a table of an engine's catalog: ``events``, ``analytics.events`` or
    ``catalog.schema.events`` (letters, digits, ``_``; no file extension, no path)."""
    return bool(_TABLE.match(text)) and Path(text).suffix.lower().lstrip(".") not in _FILE_SUFFIXES


def hive_base(path: str) -> str | None:
    """The directory above the first ``key=value`` part of ``path`` (a partitioned dataset's root,
    Spark's ``basePath``), or None when ``path`` has no such part."""
    parts = path.replace(os.sep, "/").split("/")
    for i, part in enumerate(parts[:-1]):
        if _PARTITION.match(part):
            return "/".join(parts[:i]) or "/"
    return None


def dataset_files(directory: str) -> tuple[str, ...]:
    """The Parquet files under ``directory`` (any depth, sorted), without a writer's bookkeeping
    files (``_SUCCESS``, ``.crc``, hidden files and directories)."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(_SKIPPED))
        found.extend(
            os.path.join(root, f)
            for f in files
            if not f.startswith(_SKIPPED) and f.lower().endswith((".parquet", ".pq"))
        )
    return tuple(sorted(found))


def unknown_type(text: str) -> SourceError:
    """HG202: ``text`` names no known kind of file (nor a table the engine has)."""
    return SourceError(
        f"{text}: unknown file type",
        code="HG202",
        hint="use .csv, .parquet, .jsonl/.ndjson or .duckdb (rename a file with another extension); "
        "a table of a database: name the engine (--engine postgres://... or a DuckDB file, docs/engines.md)",
    )
