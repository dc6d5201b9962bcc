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

Then the files of past days are merged, one per day (merge.py).

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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hourglass.interfaces.server.dataset import (
    collector_ids,
    compaction_lock,
    events_dir,
    fsync_dir,
    is_running,
    store_path,
)
from hourglass.interfaces.server.dedupe import distinct, fresh, seen_ids, window_files
from hourglass.interfaces.server.merge import merge_days
from hourglass.interfaces.server.rows import RAW_TIMES, rows_table
from hourglass.interfaces.server.segment import scan_segment, segment_name, segments
from hourglass.model.errors import HourglassError

__all__ = ["DEDUPE_WINDOW", "ROLL_REQUEST", "CompactReport", "Compactor", "close_open_segments", "compact"]

log = logging.getLogger("hourglass.collector")

#: a retried event received this long after the first copy (or before it) is still a duplicate
DEDUPE_WINDOW = timedelta(days=7)
#: made in a running collector's log directory by ``hourglass compact``: close your segment now
ROLL_REQUEST = ".roll-request"
_US = 1_000_000
DAY_US = 86_400 * _US


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
    merged: list[str] = field(default_factory=list)
    stores: dict[str, int] = field(default_factory=dict)
    store_errors: dict[str, str] = field(default_factory=dict)
    refresh_seconds: float = 0.0
    seconds: float = 0.0


def _day(received_us: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=received_us)).date().isoformat()


def _write(table: Any, target: Path) -> None:
    """``table`` (times as integer µs) sorted by (customer, timestamp) as ``target``: a fsync'ed
    temporary, renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    utc = pa.timestamp("us", tz="UTC")
    for name in RAW_TIMES:
        table = table.set_column(table.schema.get_field_index(name), name, table.column(name).cast(utc))
    table = table.sort_by([("customer", "ascending"), ("timestamp", "ascending")])
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


def _segment(
    data_dir: Path, cid: str, number: int, path: Path, window: timedelta, report: CompactReport
) -> None:
    """Compact one closed segment (module docstring, steps 1-5)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    scan = scan_segment(path.read_bytes(), number)
    table, bad = rows_table([payload for _, payload in scan.records])
    own = f"{cid}-{number:012d}.parquet"
    if bad:
        aside = path.with_name(path.name + ".rejected.jsonl")
        aside.write_text("".join(json.dumps(r) + "\n" for r in bad), encoding="utf-8")
        log.warning("[HG450] %s: %d rows compaction cannot write kept aside in %s", path, len(bad), aside)
        report.rejected += len(bad)
    window_us = int(window.total_seconds() * _US)
    projects = sorted(pc.unique(table.column("project")).to_pylist())
    for project in projects:
        rows = table if len(projects) == 1 else table.filter(pc.equal(table.column("project"), project))
        first = int(pc.min(rows.column("received_at")).as_py())
        since = date.fromisoformat(_day(max(first - window_us, 0)))
        seen = seen_ids(window_files(events_dir(data_dir, project), since, own), rows.column("event_id"))
        if not seen and distinct(rows) == rows.num_rows:  # the common case, without a loop
            kept = rows
        else:
            customers, ids = rows.column("customer").to_pylist(), rows.column("event_id").to_pylist()
            received = rows.column("received_at").to_pylist()
            keep = fresh(customers, ids, received, seen, window_us)
            kept = rows if len(keep) == rows.num_rows else rows.take(pa.array(keep, pa.int64()))
        report.duplicates += rows.num_rows - kept.num_rows
        days = pc.divide(kept.column("received_at"), DAY_US)
        if kept.num_rows:  # the store is refreshed after this, whatever happens meanwhile
            stale = store_path(data_dir, project).with_name(f".{project}.stale")
            stale.parent.mkdir(parents=True, exist_ok=True)
            stale.touch()
        by_day = sorted(pc.unique(days).to_pylist())
        for day in by_day:
            target = events_dir(data_dir, project) / f"dt={_day(day * DAY_US)}" / own
            part = kept if len(by_day) == 1 else kept.filter(pc.equal(days, day))
            _write(part, target)
            fsync_dir(target.parent)
            report.files.append(str(target))
            report.rows_written += part.num_rows
    report.rows_read += table.num_rows + len(bad)
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


def close_open_segments(
    data_dir: Path, collector_id: str | None = None, timeout_s: float = 10.0
) -> list[str]:
    """Ask each running collector (or ``collector_id``) to close the segment it writes, so that a
    compaction now reads its latest events; wait for them. The ids that did not answer in time."""
    root = Path(data_dir) / "wal"
    running = [
        c for c in ([collector_id] if collector_id else collector_ids(data_dir)) if is_running(root / c)
    ]
    for cid in running:
        (root / cid / ROLL_REQUEST).touch()
    deadline = time.monotonic() + timeout_s
    waiting = running
    while waiting and time.monotonic() < deadline:
        time.sleep(0.05)
        waiting = [c for c in waiting if (root / c / ROLL_REQUEST).exists() and is_running(root / c)]
    for cid in waiting:
        (root / cid / ROLL_REQUEST).unlink(missing_ok=True)
    return waiting


def refresh_store(data_dir: Path, project: str) -> int:
    """Rebuild ``stores/<project>.duckdb`` from the project's dataset (the store writer validates it
    and replaces the old store by a rename); the rows it holds."""
    from hourglass.ingest.config import Config
    from hourglass.interfaces.store_api import ingest

    marker = store_path(data_dir, project).with_name(f".{project}.stale")
    info = ingest(
        str(events_dir(data_dir, project)),
        store_path(data_dir, project),
        columns={"customer": "customer"},
        config=Config(),  # the dataset's own columns, whatever hourglass.toml the collector runs next to
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
    merge_before: date | None = None,
) -> CompactReport:
    """Compact the closed segments of ``collector_id`` (every collector of ``DIR`` when None), then
    refresh the stores of the projects that got new files (module docstring)."""
    started = time.perf_counter()
    data_dir = Path(data_dir)
    report = CompactReport()
    with compaction_lock(data_dir):
        for cid in [collector_id] if collector_id else collector_ids(data_dir):
            _collector(data_dir, cid, dedupe_window, report)
        before = merge_before or datetime.now(UTC).date() - timedelta(days=1)
        report.merged = merge_days(data_dir / "events", before, checkpoint=_checkpoint)
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
        last = time.monotonic()
        request = Path(self.wal.directory) / ROLL_REQUEST if self.wal is not None else None
        while not self._stop.wait(min(self.every_s, 0.25)):
            if request is not None and request.exists():  # hourglass compact waits to compact it
                try:
                    self.wal.roll()
                except Exception:
                    log.exception("the log could not close its segment")
                request.unlink(missing_ok=True)
            if time.monotonic() - last < self.every_s:
                continue
            try:
                self.run_once()
            except Exception:
                self.errors += 1
                log.exception("compaction failed (retried in %ss)", self.every_s)
            last = time.monotonic()

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
            try:
                self.run_once()
            except Exception:  # the events are safe in the log: the next start compacts them
                self.errors += 1
                log.exception("the last compaction failed; the log keeps the events for the next one")
