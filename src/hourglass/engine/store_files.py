"""The files around a store being written (engine/event_store.py): one writer at a time, and no
temporaries left behind by an ingest that was killed; and the write's progress.

- ``.NAME.lock`` next to ``NAME`` (the store): an exclusive ``flock`` held while a store is written;
  a second ``ingest`` into the same store at the same time stops with HG426 (naming the first's PID)
  instead of both reporting success and one store silently replacing the other. The lock file holds
  the writer's PID and is removed when it is done.
- :func:`polled`: DuckDB's progress of the running write reported every 0.2 s to the caller's
  callback (the CLI's progress display).
- ``.NAME.PID.tmp`` and its ``.wal``: the store while it is written (renamed to ``NAME`` when
  complete). A killed ingest leaves them; the next ingest into the same store removes those of
  processes that are no longer alive (:func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hourglass.ingest.outputs import cannot_write
from hourglass.ingest.outputs import remove_stale as stale_temporaries
from hourglass.model.errors import SourceError

try:  # POSIX; elsewhere a store is written without the lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["Progress", "lock_path", "polled", "remove_stale", "store_lock", "temp_path"]

#: progress callback: (phase, fraction done or None when unknown)
Progress = Callable[[str, float | None], None]


def temp_path(target: Path, pid: int | None = None) -> Path:
    """Where the store ``target`` is written before it is renamed (``.NAME.PID.tmp``)."""
    return target.with_name(f".{target.name}.{os.getpid() if pid is None else pid}.tmp")


def lock_path(target: Path) -> Path:
    """The lock file of the store ``target`` (``.NAME.lock``)."""
    return target.with_name(f".{target.name}.lock")


def remove_stale(target: Path) -> list[Path]:
    """Remove the temporaries (``.NAME.PID.tmp``, ``.NAME.PID.tmp.wal``) of ingests into ``target``
    whose process is no longer alive, and this process's own; returns the files removed."""
    return [Path(p) for p in stale_temporaries(target, own=True)]


def _busy(target: Path, fd: int) -> SourceError:
    """HG426: another ingest holds the lock of ``target`` (its PID, read from the lock file)."""
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        pid = ""
    who = f" (PID {pid})" if pid.isdigit() else ""
    return SourceError(
        f"{target} is being written by another hourglass ingest{who}: nothing was written",
        code="HG426",
        hint="wait for the other ingest to finish; then the store exists: read it, or ingest again "
        "with --force to replace it (or choose another --into)",
    )


@contextlib.contextmanager
def store_lock(target: Path) -> Iterator[None]:
    """Hold the lock of the store ``target`` while the block runs: HG426 when another process holds
    it, HG425 when the lock file cannot be made (a read-only directory, a full disk)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    path = lock_path(target)
    fd = -1
    for _ in range(20):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise cannot_write(target, e, "--into") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            error = _busy(target, fd)
            os.close(fd)
            raise error from None
        except OSError as e:
            os.close(fd)
            raise cannot_write(target, e, "--into") from e
        # the writer before may have removed the file between our open and our lock: lock the one
        # that is there now, or two writers would each hold a lock of a different file
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
        fd = -1
    if fd < 0:  # pragma: no cover - twenty writers in a row finished between our open and lock
        raise cannot_write(target, "its lock file keeps being replaced", "--into")
    try:
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as e:
            raise cannot_write(target, e, "--into") from e
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while it is held: the next writer locks a new file
        os.close(fd)


@contextlib.contextmanager
def polled(con: Any, phase: str, progress: Progress | None) -> Iterator[None]:
    """Report DuckDB's progress of the running query every 0.2 s."""
    if progress is None:
        yield
        return
    progress(phase, 0.0)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            with contextlib.suppress(Exception):
                pct = float(con.query_progress())
                progress(phase, pct / 100 if pct >= 0 else None)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        progress(phase, 1.0)
