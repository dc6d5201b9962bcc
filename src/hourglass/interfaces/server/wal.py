"""The collector's write-ahead log: a request's events are on disk before the collector answers.

One collector writes ``DIR/wal/<collector_id>/<NNNNNNNNNNNN>.wal`` segments (docs/collector.md,
"Durability"). A segment is a sequence of records, each one request's rows:

    header (18 bytes, little-endian): magic u16 0x4748 | length u32 | crc32 u32 | seq u64
    payload (length bytes): the rows as compact JSON (a list of objects, the event schema)

``crc32`` covers the sequence number and the payload; ``seq`` is ``segment << 24 | n`` (n = 1, 2, ...
within the segment), so it grows across segments and restarts without any other state.

Group commit: appends are queued to one writer thread, which writes everything queued in one
``write`` and makes it durable with one ``fdatasync``; every append of that group returns (its
future is resolved) only after that call returned. A write or fsync failure fails the group's
appends with :class:`WalUnavailable` (the collector answers 503; the client retries) and the segment
is cut back to its last durable record.

Recovery (:meth:`WriteAheadLog.open`): the last segment is scanned; a torn tail (a record cut short
or not matching its checksum at the end) is truncated; complete records are kept; a new segment is
started, so every earlier segment is closed and compaction may read it. A damaged record inside a
segment is skipped by :func:`scan_segment`, which resynchronises on the next valid record."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hourglass.interfaces.server.segment import (
    INDEX_BITS,
    MAX_PAYLOAD,
    encode_record,
    scan_segment,
    segment_name,
    segments,
)
from hourglass.model.errors import SourceError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "Recovery", "WalUnavailable", "WriteAheadLog"]

log = logging.getLogger("hourglass.collector")

try:  # the same compact JSON, 2-3x faster, when orjson is installed
    _orjson: Any = importlib.import_module("orjson")
except ImportError:
    _orjson = None

LOCK_NAME = ".lock"


class WalUnavailable(SourceError):
    """The log cannot be written (a full disk, an I/O error): nothing of the request is stored."""

    code = "HG451"


@dataclass(frozen=True)
class Recovery:
    """What :meth:`WriteAheadLog.open` found: the last segment, its complete records, the torn bytes
    truncated, and whether a damaged record lies inside it (kept for compaction to report)."""

    segment: int | None
    records: int
    truncated_bytes: int
    damaged_inside: bool


@dataclass
class _Op:
    kind: str  # append | roll | close
    done: Callable[[int | None, BaseException | None], None]
    payload: bytes = b""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unavailable(path: Path, error: OSError) -> WalUnavailable:
    return WalUnavailable(
        f"the write-ahead log {path} cannot be written: {error.strerror or error}",
        hint="free space on its disk or fix the disk; clients retry (503), nothing of the request was stored",
    )


class WriteAheadLog:
    """One collector's log (module docstring). ``fsync`` is injectable for tests (default
    ``os.fdatasync``); ``max_delay_s``: when appends come concurrently, the writer waits up to this
    long for more before the fsync (a larger group, fewer fsyncs)."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * 2**20,
        max_delay_s: float = 0.002,
        fsync: Callable[[int], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.segment_bytes = min(segment_bytes, 256 * 2**20)
        self.max_delay_s = max_delay_s
        self._fsync: Callable[[int], None] = fsync if fsync is not None else _durable
        self._queue: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock_fd = -1
        self._fd = -1
        self.segment = -1
        self._index = 0
        self._size = 0
        self._closed = True
        self._gate = threading.Lock()  # a submit and the close never cross (close's op is last)
        self.fsyncs = 0
        self.appends = 0

    @classmethod
    def for_collector(cls, data_dir: Path, collector_id: str, **kwargs: Any) -> WriteAheadLog:
        return cls(Path(data_dir) / "wal" / collector_id, **kwargs)

    # -- opening and recovery -------------------------------------------------------------------

    def open(self) -> Recovery:
        """Lock the directory (HG452 when another live process holds it), recover the last segment
        and start a new one."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise _unavailable(self.directory, e) from e
        if fcntl is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(self._lock_fd, 32, 0).decode("ascii", "replace").strip()
                os.close(self._lock_fd)
                self._lock_fd = -1
                raise SourceError(
                    f"{self.directory} is the log of a collector that is running (PID {pid or '?'})",
                    code="HG452",
                    hint="stop that collector, or give this one another id (--id NAME): each collector "
                    "writes its own log",
                ) from None
        try:
            os.ftruncate(self._lock_fd, 0)
            os.pwrite(self._lock_fd, str(os.getpid()).encode(), 0)
            found = segments(self.directory)
            recovery = Recovery(None, 0, 0, False)
            if found:
                recovery = self._recover(*found[-1])
                start = found[-1][0] + 1
            else:
                start = self._first_number()
            self._start_segment(start)
        except OSError as e:  # a full disk or a read-only one: HG451, the lock released
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise _unavailable(self.directory, e) from e
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="hourglass-wal", daemon=True)
        self._thread.start()
        return recovery

    def _recover(self, number: int, path: Path) -> Recovery:
        data = path.read_bytes()
        scan = scan_segment(data, number)
        cut = scan.size - scan.end if scan.torn_tail else 0
        if cut:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, scan.end)
                os.fsync(fd)
            finally:
                os.close(fd)
            log.warning("%s: torn last record truncated (%d bytes, never acknowledged)", path, cut)
        if scan.damaged_inside:
            log.warning("[HG450] %s: a damaged record inside the segment; compaction keeps it aside", path)
        return Recovery(number, len(scan.records), cut, scan.damaged_inside)

    def _first_number(self) -> int:
        """A new log's first segment: after any Parquet file this collector id already wrote
        (``events/*/dt=*/<id>-<segment>.parquet``), so a log directory removed by hand never makes
        compaction replace earlier files."""
        data_dir = self.directory.parent.parent
        prefix = self.directory.name + "-"
        highest = -1
        for path in data_dir.glob(f"events/*/dt=*/{prefix}*.parquet"):
            stem = path.name[len(prefix) : -len(".parquet")]
            if stem.isdigit():
                highest = max(highest, int(stem))
        return highest + 1

    def _start_segment(self, number: int) -> None:
        path = self.directory / segment_name(number)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        self._index = 0
        self.segment = number
        _fsync_dir(self.directory)

    # -- appending ------------------------------------------------------------------------------

    def _submit(self, op: _Op) -> None:
        with self._gate:
            if self._closed:
                raise WalUnavailable(
                    f"the write-ahead log {self.directory} is closed",
                    hint="the collector is shutting down; clients retry (503)",
                )
            if op.kind == "close":
                self._closed = True
            self._queue.put(op)

    async def append(self, records: Sequence[dict[str, Any]]) -> int:
        """Append one request's rows as one record; returns its sequence number once it is fsync'ed
        (concurrent appends share one fsync). Raises WalUnavailable when it cannot be written."""
        payload = self._encode(records)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()

        def done(seq: int | None, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
                loop.call_soon_threadsafe(_settle, fut, seq, error)

        self._submit(_Op("append", done, payload))
        return await fut

    def _encode(self, records: Sequence[dict[str, Any]]) -> bytes:
        payload = b""
        if _orjson is not None:
            with contextlib.suppress(TypeError):  # orjson.JSONEncodeError: the standard library says why
                payload = _orjson.dumps(records)
        if not payload:
            payload = json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()
        if len(payload) > MAX_PAYLOAD:  # a scan would not read it back: never acknowledge it
            raise WalUnavailable(
                f"a request of {len(payload):,} bytes is larger than a log record may be ({MAX_PAYLOAD:,})",
                hint="send smaller batches",
            )
        return payload

    def append_sync(self, records: Sequence[dict[str, Any]]) -> int:
        """:meth:`append` from any thread, blocking."""
        payload = self._encode(records)
        return self._call("append", payload)

    def roll(self) -> int:
        """Close the current segment (fsync'ed) and start the next; the number of the closed one."""
        return self._call("roll")

    def close(self) -> None:
        """Write and fsync everything queued, then close the log (idempotent)."""
        with contextlib.suppress(WalUnavailable):  # closed already
            self._call("close")
        if self._thread is not None:
            self._thread.join()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _call(self, kind: str, payload: bytes = b"") -> int:
        fut: concurrent.futures.Future[int] = concurrent.futures.Future()

        def done(seq: int | None, error: BaseException | None) -> None:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(int(seq or 0))

        self._submit(_Op(kind, done, payload))
        return fut.result()

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        grouped = False
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            if grouped and self.max_delay_s > 0 and batch[-1].kind == "append":
                deadline = time.monotonic() + self.max_delay_s
                with contextlib.suppress(queue.Empty):
                    while (left := deadline - time.monotonic()) > 0 and batch[-1].kind == "append":
                        batch.append(self._queue.get(timeout=left))
            grouped = len(batch) > 1
            pending: list[_Op] = []
            for op in batch:
                if op.kind == "append":
                    pending.append(op)
                    continue
                self._flush(pending)
                pending = []
                if self._control(op):
                    return
            self._flush(pending)

    def _control(self, op: _Op) -> bool:
        """Roll or close; True when the thread ends."""
        try:
            closed = self.segment
            if self._fd >= 0:
                self._fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
            if op.kind == "roll":
                self._start_segment(closed + 1)
        except OSError as e:
            op.done(None, _unavailable(self.directory, e))
            return op.kind == "close"
        op.done(closed, None)
        return op.kind == "close"

    def _flush(self, ops: list[_Op]) -> None:
        if not ops:
            return
        path = self.directory / segment_name(self.segment)
        start = self._size
        seqs: list[int] = []
        try:
            if self._fd < 0:  # an earlier failure closed the segment: start the next one
                self._start_segment(self.segment + 1)
                path, start = self.directory / segment_name(self.segment), self._size
            parts = []
            for op in ops:
                self._index += 1
                seq = self.segment << INDEX_BITS | self._index
                parts.append(encode_record(seq, op.payload))
                seqs.append(seq)
            data = memoryview(b"".join(parts))
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
            self._fsync(self._fd)
            self.fsyncs += 1
        except OSError as e:
            self._index -= len(seqs)
            self._cut_back(start)
            error = _unavailable(path, e)
            for op in ops:
                op.done(None, error)
            return
        self._size += sum(len(p) for p in parts)
        self.appends += len(ops)
        for op, seq in zip(ops, seqs, strict=True):
            op.done(seq, None)
        if self._size >= self.segment_bytes:
            with contextlib.suppress(OSError):
                self._fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
                self._start_segment(self.segment + 1)

    def _cut_back(self, size: int) -> None:
        """After a failed write: the segment back to its last durable record, or, when even that
        fails, closed (the next append starts a new segment)."""
        if self._fd < 0:
            return
        try:
            os.ftruncate(self._fd, size)
            self._fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def _durable(fd: int) -> None:
    """``fdatasync`` (the data and the size of an appended file), ``fsync`` where there is none."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def _settle(fut: asyncio.Future[int], seq: int | None, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(int(seq or 0))
