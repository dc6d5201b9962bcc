"""The collector's data directory (docs/collector.md):

    DIR/collector.json                                    {"version": 1}: "this is a collector directory"
    DIR/keys.json                                         write keys (interfaces/server/keys.py)
    DIR/wal/<collector_id>/<NNNNNNNNNNNN>.wal             each collector's write-ahead log (wal.py)
    DIR/events/<project>/dt=YYYY-MM-DD/<collector_id>-<NNNNNNNNNNNN>.parquet   compacted events (compact.py)
    DIR/stores/<project>.duckdb                           the store every analysis reads

and the Arrow schema of the compacted events."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hourglass.ingest.locations import COLLECTOR_MARKER, collector_projects
from hourglass.ingest.outputs import cannot_write
from hourglass.interfaces.server.wal import LOCK_NAME

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "COLUMNS",
    "MARKER_VERSION",
    "collector_ids",
    "collector_projects",
    "compaction_lock",
    "events_dir",
    "fsync_dir",
    "init_data_dir",
    "is_running",
    "schema",
    "store_path",
]

MARKER_VERSION = 1

#: the columns of a compacted file, in order (the contract's event row; dt is the directory)
COLUMNS: tuple[str, ...] = (
    "event_id",
    "project",
    "customer",
    "user_id",
    "anonymous_id",
    "event",
    "type",
    "timestamp",
    "received_at",
    "channel",
    "revenue",
    "referrer",
    "properties",
    "context",
)


def schema() -> Any:
    """The Arrow schema of a compacted file: times as TIMESTAMP (microseconds, UTC)."""
    import pyarrow as pa

    utc = pa.timestamp("us", tz="UTC")
    types = {"timestamp": utc, "received_at": utc, "revenue": pa.float64()}
    return pa.schema([pa.field(c, types.get(c, pa.string())) for c in COLUMNS])


def init_data_dir(data_dir: Path) -> Path:
    """Create ``DIR`` and its ``collector.json`` (atomically, once); HG425 when it cannot be written."""
    data_dir = Path(data_dir)
    marker = data_dir / COLLECTOR_MARKER
    if marker.exists():
        return marker
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{COLLECTOR_MARKER}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"version": MARKER_VERSION}) + "\n", encoding="utf-8")
        os.replace(tmp, marker)
        fsync_dir(data_dir)
    except OSError as e:
        raise cannot_write(marker, e, "--data") from e
    return marker


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def events_dir(data_dir: Path, project: str) -> Path:
    return Path(data_dir) / "events" / project


def store_path(data_dir: Path, project: str) -> Path:
    return Path(data_dir) / "stores" / f"{project}.duckdb"


def collector_ids(data_dir: Path) -> list[str]:
    """The collectors that have a log in ``DIR/wal/``."""
    root = Path(data_dir) / "wal"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_running(log_dir: Path) -> bool:
    """Whether a live process holds the log directory's lock (its collector runs: the newest segment
    is being written)."""
    if fcntl is None:  # pragma: no cover - Windows: assume it runs (its newest segment is left alone)
        return True
    try:
        fd = os.open(Path(log_dir) / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


@contextlib.contextmanager
def compaction_lock(data_dir: Path) -> Iterator[None]:
    """One compaction of ``DIR`` at a time (all collectors and ``hourglass compact``): the check for
    duplicates, the files' renames and the store's refresh are one step for everyone."""
    root = Path(data_dir) / "events"
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / ".compact.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise cannot_write(root, e, "--data") from e
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
