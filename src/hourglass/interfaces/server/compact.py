"""Compaction: closed write-ahead log segments become Parquet files, one per project and day, without
duplicates, and each project's store is refreshed (docs/collector.md, "Compaction").

For each closed segment ``S`` of collector ``C`` (every segment but the newest while ``C`` runs; all of
them when it does not), in order:

1. its valid records' rows are read (a damaged record is skipped and reported, HG450);
2. rows are grouped by project and by the UTC day they were *received* (``dt=YYYY-MM-DD``);
3. duplicates are dropped: a row whose (customer, event_id) was received within ``dedupe_window``
   (7 days) of a row already in the project's dataset, or earlier in the log, is not written again
   (ADR 0004: an id is a customer's);
4. each (project, day)'s rows, sorted by (customer, timestamp), are written to a hidden temporary,
   fsync'ed and renamed to ``events/<project>/dt=<day>/C-S.parquet`` (a ``stores/.<project>.stale``
   marker is made first, so a refresh follows whatever happens next);
5. the segment is deleted (kept as ``S.wal.damaged`` when a record inside it was damaged).

Killed at any point, a re-run converges: the same segment gives the same files under the same names
(its own earlier files are left out of the duplicate check and replaced), and a segment is removed only
after all its files are in place. One compaction of a data directory runs at a time (a file lock), so
collectors sharing ``DIR`` check each other's files too. Then every project with a stale marker gets
its store rebuilt from the dataset by the store writer (``hourglass ingest``): written next to the old
one and renamed over it, so readers of the old store keep reading it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hourglass.interfaces.server.dataset import (
    COLUMNS,
    collector_ids,
    compaction_lock,
    events_dir,
    fsync_dir,
    is_running,
    schema,
    store_path,
)
from hourglass.interfaces.server.segment import read_rows, scan_segment, segment_name, segments
from hourglass.model.errors import HourglassError

__all__ = ["DEDUPE_WINDOW", "CompactReport", "Compactor", "compact"]

log = logging.getLogger("hourglass.collector")

#: a retried event received this long after the first copy (or before it) is still a duplicate
DEDUPE_WINDOW = timedelta(days=7)
_REQUIRED = ("event_id", "project", "customer", "event", "timestamp", "received_at")
_INTS = ("timestamp", "received_at")
_US = 1_000_000


def _checkpoint(step: str) -> None:
    """Between the steps of a compaction (tests raise here to kill it at any point)."""


@dataclass
class CompactReport:
    """What one compaction did."""

    segments: int = 0
    rows_read: int = 0
    rows_written: int = 0
    duplicates: int = 0
    files: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    rejected: int = 0
    stores: dict[str, int] = field(default_factory=dict)
    store_errors: dict[str, str] = field(default_factory=dict)
    refresh_seconds: float = 0.0
    seconds: float = 0.0


def _day(received_us: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=received_us)).date().isoformat()


def _window_files(project_dir: Path, since: date, own: str) -> list[str]:
    """The project's files in the days from ``since`` on, but this segment's own earlier output."""
    files = []
    with contextlib.suppress(OSError):
        for day_dir in project_dir.iterdir():
            name = day_dir.name
            if not name.startswith("dt=") or not day_dir.is_dir():
                continue
            try:
                if date.fromisoformat(name[3:]) < since:
                    continue
            except ValueError:
                continue
            files += [
                str(f)
                for f in day_dir.iterdir()
                if f.suffix == ".parquet" and not f.name.startswith((".", "_")) and f.name != own
            ]
    return sorted(files)


def _seen(files: list[str], rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[int]]:
    """(customer, event_id) -> the receive times (µs) of the dataset's rows with one of ``rows``' ids."""
    if not files:
        return {}
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    ids = pa.array(sorted({str(r["event_id"]) for r in rows}), pa.string())
    table = ds.dataset(files, format="parquet").to_table(
        columns=["customer", "event_id", "received_at"], filter=pc.field("event_id").isin(ids)
    )
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    received = table.column("received_at").cast(pa.int64()).to_pylist()
    for c, e, r in zip(
        table.column("customer").to_pylist(), table.column("event_id").to_pylist(), received, strict=True
    ):
        seen[(c, e)].append(int(r))
    return seen


def _fresh(rows: list[dict[str, Any]], seen: dict[tuple[str, str], list[int]], window_us: int) -> list[int]:
    """The indexes of ``rows`` to write: not received within the window of a copy already kept."""
    keep = []
    for i, row in enumerate(rows):
        key = (row["customer"], row["event_id"])
        at = int(row["received_at"])
        if any(abs(at - other) <= window_us for other in seen.get(key, ())):
            continue
        seen.setdefault(key, []).append(at)
        keep.append(i)
    return keep


def _write(rows: list[dict[str, Any]], target: Path) -> None:
    """``rows`` sorted by (customer, timestamp) as ``target``: a fsync'ed temporary, renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {c: [r.get(c) for r in rows] for c in COLUMNS}
    table = pa.table(
        {
            c: pa.array(v, pa.int64()).cast(schema().field(c).type)
            if c in ("timestamp", "received_at")
            else pa.array(v, schema().field(c).type)
            for c, v in columns.items()
        },
        schema=schema(),
    ).sort_by([("customer", "ascending"), ("timestamp", "ascending")])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _checkpoint("renaming")
    os.replace(tmp, target)


def _valid(row: Any) -> bool:
    """A row compaction can write: the required fields, and every field of its type."""
    if not isinstance(row, dict) or any(row.get(k) is None for k in _REQUIRED):
        return False
    for col in COLUMNS:
        value = row.get(col)
        if value is None:
            continue
        if col in _INTS:
            ok = type(value) is int and -(2**62) < value < 2**62
        elif col == "revenue":
            ok = type(value) in (int, float)
        else:  # a NUL byte: no SQL text can hold it (the store's ENUM of event names)
            ok = type(value) is str and "\x00" not in value
        if not ok:
            return False
    project = row["project"]
    return bool(project) and "/" not in project and not project.startswith((".", "_"))


def _split(rows: Iterable[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Rows by project, and the rows without a required field (kept aside, never dropped)."""
    by_project: dict[str, list[dict[str, Any]]] = defaultdict(list)
    bad = []
    for row in rows:
        if _valid(row):
            by_project[row["project"]].append(row)
        else:
            bad.append(row)
    return by_project, bad


def _segment(
    data_dir: Path, cid: str, number: int, path: Path, window: timedelta, report: CompactReport
) -> None:
    """Compact one closed segment (module docstring, steps 1-5)."""
    scan = scan_segment(path.read_bytes(), number)
    rows = [row for _, payload in scan.records for row in read_rows(payload)]
    by_project, bad = _split(rows)
    own = f"{cid}-{number:012d}.parquet"
    if bad:
        aside = path.with_name(path.name + ".rejected.jsonl")
        aside.write_text("".join(json.dumps(r) + "\n" for r in bad), encoding="utf-8")
        log.warning("[HG450] %s: %d rows without a required field kept aside in %s", path, len(bad), aside)
        report.rejected += len(bad)
    window_us = int(window.total_seconds() * _US)
    for project, prows in sorted(by_project.items()):
        first = min(int(r["received_at"]) for r in prows) - window_us
        since = date.fromisoformat(_day(max(first, 0)))
        seen = _seen(_window_files(events_dir(data_dir, project), since, own), prows)
        kept = [prows[i] for i in _fresh(prows, seen, window_us)]
        report.duplicates += len(prows) - len(kept)
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in kept:
            by_day[_day(int(row["received_at"]))].append(row)
        if by_day:  # the store is refreshed after this, whatever happens meanwhile
            stale = store_path(data_dir, project).with_name(f".{project}.stale")
            stale.parent.mkdir(parents=True, exist_ok=True)
            stale.touch()
        for day, drows in sorted(by_day.items()):
            target = events_dir(data_dir, project) / f"dt={day}" / own
            _write(drows, target)
            fsync_dir(target.parent)
            report.files.append(str(target))
            report.rows_written += len(drows)
    report.rows_read += len(rows)
    _checkpoint("removing the segment")
    if scan.damaged_inside:
        os.replace(path, path.with_name(path.name + ".damaged"))
        report.damaged.append(str(path))
        log.warning(
            "[HG450] %s: damaged bytes %s inside the segment; its %d valid records were compacted, the "
            "segment is kept as %s.damaged for inspection",
            path,
            scan.damaged,
            len(scan.records),
            path.name,
        )
    else:
        path.unlink()
    fsync_dir(path.parent)
    report.segments += 1


def _collector(data_dir: Path, cid: str, window: timedelta, report: CompactReport) -> None:
    log_dir = Path(data_dir) / "wal" / cid
    closed = segments(log_dir)
    running = is_running(log_dir)
    if closed and running:
        closed = closed[:-1]  # the segment being written
    for stale in log_dir.parent.parent.glob(f"events/*/dt=*/.{cid}-*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()
    for number, path in closed:
        if not running and (number, path) == closed[-1]:
            if path.stat().st_size == 0:
                continue  # the newest segment of a stopped collector, empty: its numbering's mark
            # a stopped collector's newest segment: leave the next (empty) one as the numbering's mark
            (log_dir / segment_name(number + 1)).touch()
        _segment(data_dir, cid, number, path, window, report)


def refresh_store(data_dir: Path, project: str) -> int:
    """Rebuild ``stores/<project>.duckdb`` from the project's dataset (the store writer validates it
    and replaces the old store by a rename); the rows it holds."""
    from hourglass.interfaces.store_api import ingest

    marker = store_path(data_dir, project).with_name(f".{project}.stale")
    info = ingest(
        str(events_dir(data_dir, project)),
        store_path(data_dir, project),
        columns={"customer": "customer"},
        overwrite=True,
    )
    marker.unlink(missing_ok=True)
    return info.rows


def compact(
    data_dir: Path,
    *,
    collector_id: str | None = None,
    dedupe_window: timedelta = DEDUPE_WINDOW,
    refresh: bool = True,
) -> CompactReport:
    """Compact the closed segments of ``collector_id`` (every collector of ``DIR`` when None), then
    refresh the stores of the projects that got new files (module docstring)."""
    started = time.perf_counter()
    data_dir = Path(data_dir)
    report = CompactReport()
    with compaction_lock(data_dir):
        for cid in [collector_id] if collector_id else collector_ids(data_dir):
            _collector(data_dir, cid, dedupe_window, report)
        if refresh:
            refreshing = time.perf_counter()
            for marker in sorted((data_dir / "stores").glob(".*.stale")):
                project = marker.name[1 : -len(".stale")]
                try:
                    report.stores[project] = refresh_store(data_dir, project)
                except Exception as e:  # noqa: BLE001 - one project's store never stops the others
                    report.store_errors[project] = str(e) if isinstance(e, HourglassError) else repr(e)
                    log.error("the store of project %s was not refreshed: %r", project, e)
            report.refresh_seconds = time.perf_counter() - refreshing
    report.seconds = time.perf_counter() - started
    return report


class Compactor:
    """The collector's background compaction: every ``every_s`` seconds, roll the log (when given)
    and compact this collector's closed segments. Errors are logged, never end the thread.

    A store is rebuilt whole, so its refresh is spaced out as stores grow: after a refresh that took
    ``t`` seconds the next comes no sooner than ``REFRESH_SPACING * t`` later (the files are written at
    every pass; the stale marker keeps the refresh due)."""

    REFRESH_SPACING = 10.0

    def __init__(
        self,
        data_dir: Path,
        *,
        collector_id: str,
        every_s: float = 30.0,
        wal: Any = None,
        dedupe_window: timedelta = DEDUPE_WINDOW,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.collector_id = collector_id
        self.every_s = every_s
        self.wal = wal
        self.dedupe_window = dedupe_window
        self.last: CompactReport | None = None
        self.errors = 0
        self._next_refresh = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> CompactReport:
        if self.wal is not None:
            self.wal.roll()
        due = time.monotonic() >= self._next_refresh
        self.last = compact(
            self.data_dir, collector_id=self.collector_id, dedupe_window=self.dedupe_window, refresh=due
        )
        if due:
            self._next_refresh = time.monotonic() + self.REFRESH_SPACING * self.last.refresh_seconds
        return self.last

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.run_once()
            except Exception:
                self.errors += 1
                log.exception("compaction failed (retried in %ss)", self.every_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="hourglass-compactor", daemon=True)
        self._thread.start()

    def stop(self, *, final: bool = False) -> None:
        """Stop the thread (waits for a pass under way); ``final``: one last pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if final:
            self._next_refresh = 0.0
            self.run_once()
