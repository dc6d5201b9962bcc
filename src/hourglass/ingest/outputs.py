"""Where results are written: an output never replaces a file of the source (HG424), and an output
that cannot be written is an error with the reason (HG425), found before any work where possible.
One place for the command line's ``--out`` and ``--customers``, the Python API's ``customers=`` and
the demo's directory.

Every output file is written whole or not at all (:func:`atomic_open`, :func:`write_text_atomically`):
into a temporary file next to it, then renamed over it, so a full disk or a failure half-way leaves
the old file (or none), never a 0-byte or half-written one."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from hourglass.model.errors import HourglassError, SourceError

__all__ = [
    "atomic_open",
    "cannot_write",
    "check_output",
    "remove_stale",
    "source_files",
    "write_text_atomically",
]

#: the temporaries written next to NAME: ``.NAME.PID.tmp`` (a store, and its ``.wal``) and
#: ``.NAME.PID.HEX.tmp`` (:func:`atomic_open`)
_TEMPORARY = re.compile(r"(\d+)(?:\.[0-9a-f]+)?\.tmp(?:\.wal)?")

#: errno -> what to do about it (the default: the directory and its permissions)
_FULL = "free space on that disk (or raise the quota), or write to another disk"
_HINTS = {
    errno.ENOSPC: _FULL,
    errno.EDQUOT: _FULL,
    errno.EFBIG: "the file is larger than this process may write (ulimit -f), or the disk is full: "
    "raise the limit or write to another disk",
    errno.EROFS: "the file system is read-only: choose a path on a writable disk",
    errno.EACCES: "check the permissions of the file and its directory, or choose another path",
    errno.EPERM: "check the permissions of the file and its directory, or choose another path",
}


def source_files(source: object, *, table: str | None = None, kind: str | None = None) -> tuple[str, ...]:
    """The files a source reads (a glob's matched files, a DuckDB database or store); none for an
    in-memory table or a source that cannot be resolved (its own error comes later)."""
    if not isinstance(source, str | os.PathLike):
        return ()
    if kind in ("duckdb", "store"):
        return (os.fspath(source).rpartition(":")[0] or os.fspath(source),)
    # imported here: the sources module imports Ibis (~0.2 s), which the writers in this module, the
    # collector and its keys never need
    from hourglass.ingest.sources import resolve_source

    try:
        return resolve_source(source, table=table, fmt=kind).paths
    except HourglassError:
        return ()


def cannot_write(
    path: str | os.PathLike[str], reason: str | OSError, option: str | None = None
) -> SourceError:
    """HG425: ``path`` (given as ``option``) cannot be written, and why (an OSError's reason and a
    hint for its cause: a full disk, a read-only file system, permissions)."""
    given = f" ({option})" if option else ""
    hint = (
        "create the directory first (hourglass does not create it), check its permissions, "
        "or choose another path"
    )
    if isinstance(reason, OSError):
        hint = _HINTS.get(reason.errno or 0, hint)
        reason = reason.strerror or str(reason)
    else:  # an engine's message: its reason is the system's text (strerror)
        hint = next((h for n, h in _HINTS.items() if os.strerror(n) in reason), hint)
    return SourceError(f"cannot write {os.fspath(path)}{given}: {reason}", code="HG425", hint=hint)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (another user's counts: it cannot be signalled, but lives)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale(path: str | os.PathLike[str], *, own: bool = False) -> list[str]:
    """Remove the temporaries written next to ``path`` by processes that are no longer alive (killed
    while writing it), and with ``own`` this process's too; returns the files removed. Nothing else
    is touched: a live process's temporary is its write in progress."""
    head, name = os.path.split(os.path.abspath(path))
    prefix = f".{name}."
    removed = []
    for found in glob.glob(os.path.join(glob.escape(head), glob.escape(prefix) + "*.tmp*")):
        match = _TEMPORARY.fullmatch(os.path.basename(found)[len(prefix) :])
        if match is None:
            continue
        pid = int(match[1])
        if (own and pid == os.getpid()) or (pid != os.getpid() and not _alive(pid)):
            with contextlib.suppress(OSError):
                os.unlink(found)
                removed.append(found)
    return removed


def _mode_of(path: str) -> int | None:
    """The mode of the file ``path`` replaces, if there is one."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    option: str | None = None,
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """``open(path, mode)`` for writing (``"w"`` or ``"wb"``), whole or not at all: the file is written
    next to ``path`` (``.NAME.PID.XXXX.tmp``) and renamed over it only when the block ends without an
    error; on an error the temporary file is removed and ``path`` is left as it was. A write that
    fails (a full disk, a read-only file system, permissions) is HG425 naming ``path`` (and
    ``option``). ``path`` that exists and is not a regular file (``/dev/stdout``, a pipe,
    ``/dev/full``) is written directly; a symbolic link's target is replaced, not the link."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes ('w' or 'wb'), not {mode!r}")
    shown = os.fspath(path)
    real = os.path.realpath(shown)
    enc = None if "b" in mode else encoding
    nl = None if "b" in mode else newline
    try:
        special = os.path.exists(real) and not stat.S_ISREG(os.stat(real).st_mode)
    except OSError:
        special = False
    if special:
        try:
            with open(real, mode, encoding=enc, newline=nl) as direct:
                yield direct
        except HourglassError:
            raise
        except OSError as e:
            raise cannot_write(shown, e, option) from e
        return
    head, name = os.path.split(real)
    tmp = os.path.join(head, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    remove_stale(real)  # what a killed write of the same file left
    fh: IO[Any] | None = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # as open() makes it: umask
        fh = os.fdopen(fd, mode, encoding=enc, newline=nl)
        if (kept := _mode_of(real)) is not None:
            os.fchmod(fh.fileno(), kept)  # a replaced file keeps its mode
        yield fh
        fh.close()  # a full disk can show only here, when the buffer is written
        os.replace(tmp, real)
    except BaseException as e:
        if fh is not None:
            with contextlib.suppress(OSError):
                fh.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, HourglassError):  # SourceError is one
            raise cannot_write(shown, e, option) from e
        raise


def write_text_atomically(
    path: str | os.PathLike[str], text: str, *, option: str | None = None, newline: str | None = None
) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all (:func:`atomic_open`); HG425 naming
    ``path`` when it cannot be written."""
    with atomic_open(path, "w", option=option, newline=newline) as fh:
        fh.write(text)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)  # also a hard link or another spelling of the same file
    except OSError:  # one of them does not exist
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(
    path: str | os.PathLike[str],
    *,
    option: str,
    sources: Iterable[str],
    inputs: Mapping[str, str] | None = None,
) -> None:
    """``path`` is in an existing directory (HG425), is none of ``sources`` and none of the other
    ``inputs`` (option -> file: a config, spend or model file, another output) (HG424)."""
    text = os.fspath(path)
    parent = os.path.dirname(text) or "."
    if not os.path.isdir(parent):
        why = "not a directory" if os.path.exists(parent) else "no such directory"
        raise cannot_write(text, f"{why}: {parent}", option)
    for f in sources:
        if _same_file(text, f):
            raise SourceError(
                f"{text} ({option}) is one of the source's files: writing it would destroy the input",
                code="HG424",
                hint="write the output to another file",
            )
    for other, f in (inputs or {}).items():
        if other != option and _same_file(text, f):
            raise SourceError(
                f"{text} ({option}) is the {other} file: writing it would destroy it",
                code="HG424",
                hint="write the output to another file",
            )
