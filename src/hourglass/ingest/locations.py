"""Where a source lives, beyond one local file: cluster and object-store URIs (read by the engine,
not checked here), Parquet datasets partitioned by day (``events/dt=2024-01-01/part-0.parquet``, the
layout the collector writes), a collector's data directory (``DIR`` or ``DIR:PROJECT``: the store of
a project, docs/collector.md) and tables of an engine's catalog (``events``, ``analytics.events``)."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from hourglass.model.errors import SourceError

__all__ = [
    "COLLECTOR_MARKER",
    "REMOTE_SCHEMES",
    "collector_projects",
    "collector_store",
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


#: the file that makes a directory a collector's data directory (``hourglass collect --data DIR``)
COLLECTOR_MARKER = "collector.json"


def collector_projects(data_dir: str | os.PathLike[str]) -> list[str]:
    """The projects of a collector's data directory: those with compacted events or a store."""
    root = Path(data_dir)
    found = set()
    with contextlib.suppress(OSError):
        found |= {p.name for p in (root / "events").iterdir() if p.is_dir() and p.name[0] not in _SKIPPED}
    with contextlib.suppress(OSError):
        found |= {p.name[: -len(".duckdb")] for p in (root / "stores").glob("*.duckdb")}
    return sorted(found)


def collector_store(text: str) -> str | None:
    """The store a collector's data directory names as a source: ``DIR`` (its only project) or
    ``DIR:PROJECT``; None when ``text`` is no collector directory. HG453 for several projects (or an
    unknown one), HG454 when the project has no store yet (nothing compacted)."""
    root, project = text, None
    if not (Path(text) / COLLECTOR_MARKER).is_file():
        head, sep, tail = text.rpartition(":")
        if not sep or not head or not (Path(head) / COLLECTOR_MARKER).is_file():
            return None
        root, project = head, tail
    projects = collector_projects(root)
    if project is None:
        if len(projects) > 1:
            raise SourceError(
                f"{root} is a collector directory with {len(projects)} projects: {', '.join(projects)}",
                code="HG453",
                hint=f"name one as {root.rstrip('/')}:PROJECT, e.g. {root.rstrip('/')}:{projects[0]}",
            )
        if not projects:
            raise _no_store(root, None)
        project = projects[0]
    elif project not in projects:
        raise SourceError(
            f"{root}: no project '{project}' in this collector directory",
            code="HG453",
            hint="its projects: "
            + (", ".join(projects) or "none yet (no event compacted)")
            + f"; name one as {root.rstrip('/')}:PROJECT",
        )
    store = Path(root) / "stores" / f"{project}.duckdb"
    if not store.is_file():
        raise _no_store(root, project)
    return str(store)


def _no_store(root: str, project: str | None) -> SourceError:
    what = f"project '{project}'" if project else "any project"
    return SourceError(
        f"{root}: no events of {what} compacted yet (the collector writes its store after each compaction)",
        code="HG454",
        hint=f"wait for the collector's next compaction (--compact-every, 30s by default), or run "
        f"hourglass compact --data {root}",
    )
