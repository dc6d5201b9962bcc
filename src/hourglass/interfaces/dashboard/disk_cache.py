"""The dashboard's results kept on disk, next to the source, so that a restart of ``hourglass serve``
on the same source reuses what was computed (the overview, the hourglass, the journeys: minutes at
10M events) instead of computing it again.

A result is stored under its key and the *context* it was computed in: the source's version (each
file's path, modification time and size), the config, spend and model files' versions, and the
hourglass code's own (its version and its modules' sizes and times, read once per process). A change
of any of them is a new context: its results are computed again, never read from an older one, and
the older context's files are removed when the cache opens. Each file is written whole (next to its
name, then renamed), holds its context and key (checked when read) and is read only by the dashboard
that wrote it; one that cannot be read is a miss. A source that is not a file (a table in memory),
or a directory where no cache can be written, has none: the results are kept in memory only; nor has
a database server's table (no file version says when it changed). A result the disk cannot keep (it
does not pickle, is larger than ``MAX_BYTES``, or is not written) is kept in memory only, named in
``DiskCache.skipped`` and logged."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_FORMAT",
    "PERSISTED",
    "DiskCache",
    "cache_dir",
    "code_version",
    "file_versions",
    "open_disk_cache",
]

CACHE_FORMAT = 1
#: the views whose results are kept on disk: those that take the engine seconds to minutes and are
#: small (per-customer tables are not: they are computed ahead, dashboard/ahead.py)
PERSISTED = frozenset(
    {
        "overview",
        "funnel",
        "lifecycle",
        "lifecycle-stages",
        "journeys",
        "transitions",
        "paths",
        "funnel-trend",
        "explore",
        "flywheel",
        "friction",
        "retention",
        "clv",
        "attribution",
    }
)
MAX_BYTES = 64 * 2**20  # a larger result stays in memory only
SUFFIX = ".hgresult"
log = logging.getLogger("hourglass.dashboard")


@functools.cache
def code_version() -> tuple[Hashable, ...]:
    """The hourglass code's version: its version string and every module's size and modification
    time (an edited module is new code: its results are computed again). Computed once per
    process: the code it loaded (a module edited while it runs is not the code it runs)."""
    import hourglass

    root = Path(hourglass.__file__).parent
    out: list[Hashable] = [getattr(hourglass, "__version__", "")]
    for path in sorted(root.rglob("*.py")):
        with contextlib.suppress(OSError):
            st = path.stat()
            out.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
    return tuple(out)


def file_versions(names: Iterable[Any]) -> tuple[Hashable, ...]:
    """(path, size, mtime) of each name that is a file (a model, config or spend file)."""
    out: list[Hashable] = []
    for name in names:
        if isinstance(name, str | os.PathLike) and os.path.isfile(name):
            st = os.stat(name)
            out.append((os.path.abspath(name), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _strings(key: Any) -> Iterable[str]:
    if isinstance(key, str):
        yield key
    elif isinstance(key, tuple | list | frozenset):
        for k in key:
            yield from _strings(k)


def cache_dir(source: Any) -> Path | None:
    """Where a source's results are kept: ``<source>.hgcache`` next to a file source, else (a glob,
    a directory that cannot be written) under ``$XDG_CACHE_HOME/hourglass`` (``~/.cache``); None for
    a source that is not a path."""
    if not isinstance(source, str | os.PathLike):
        return None
    path = os.fspath(source)
    if not os.path.exists(path) and ":" in path:  # store.duckdb:events
        path = path.rsplit(":", 1)[0]
    if os.path.isfile(path) and os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        return Path(path + ".hgcache")
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:20]
    return Path(home) / "hourglass" / "dashboard" / digest


class DiskCache:
    """Results of one context in ``directory``: ``get`` (None: not there), ``put``."""

    def __init__(self, directory: Path, context: tuple[Hashable, ...]) -> None:
        self.directory = directory
        self.context = context
        self.prefix = hashlib.sha256(repr((CACHE_FORMAT, context)).encode()).hexdigest()[:16]
        self.reads = 0
        self.writes = 0
        self.skipped: dict[str, str] = {}  # view -> why a result was not kept
        self.ok = True
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for old in directory.glob("*" + SUFFIX):  # another context's: never read again
                if not old.name.startswith(self.prefix):
                    old.unlink(missing_ok=True)
        except OSError:
            self.ok = False

    def _path(self, view: str, key: Hashable) -> Path:
        digest = hashlib.sha256(repr((view, key, file_versions(_strings(key)))).encode()).hexdigest()
        return self.directory / f"{self.prefix}-{digest[:32]}{SUFFIX}"

    def wanted(self, view: str) -> bool:
        return self.ok and view in PERSISTED

    def get(self, view: str, key: Hashable) -> tuple[bool, Any]:
        """(True, the result) when it is on disk for this context, view and key."""
        if not self.wanted(view):
            return False, None
        path = self._path(view, key)
        try:
            with path.open("rb") as f:
                stored = pickle.load(f)  # written by this dashboard, next to its source
        except FileNotFoundError:
            return False, None
        except Exception:  # noqa: BLE001 - damaged, or an older format: computed again
            return False, None
        if not isinstance(stored, tuple) or len(stored) != 4:
            return False, None
        context, stored_view, stored_key, value = stored
        if context != self.context or stored_view != view or stored_key != repr(key):
            return False, None
        self.reads += 1
        return True, value

    def put(self, view: str, key: Hashable, value: Any) -> None:
        """Keep ``value`` (written whole, then renamed; a failure leaves the cache as it was)."""
        if not self.wanted(view):
            return
        try:
            data = pickle.dumps((self.context, view, repr(key), value), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - a result that cannot be pickled stays in memory only
            self._skip(view, f"cannot be pickled: {type(e).__name__}: {e}")
            return
        if len(data) > MAX_BYTES:
            self._skip(view, f"{len(data) / 2**20:.0f} MB, more than {MAX_BYTES // 2**20} MB")
            return
        path = self._path(view, key)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=SUFFIX + ".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
            self.writes += 1
        except OSError as e:
            self._skip(view, f"not written: {e}")
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)

    def _skip(self, view: str, why: str) -> None:
        """A result kept in memory only: counted per view and logged once per view and reason."""
        if self.skipped.get(view) != why:
            log.warning(
                "dashboard: a %s result is not kept on disk (%s): a restart computes it again", view, why
            )
        self.skipped[view] = why


def open_disk_cache(src: Any) -> DiskCache | None:
    """The disk cache of a loaded source (``DashboardSource``): in ``cache_dir(src.label)``, its
    context the source's version, how it was read, its config, spend and model files and the code."""
    files_read = src.identity[1:]
    if not files_read or not all(isinstance(f, tuple) for f in files_read):
        return None  # not files (a table in memory, a database server): no version to check
    where = cache_dir(src.label)
    if where is None:
        return None
    files = file_versions([src.config_path, src.spend, *src.models])
    cache = DiskCache(where, (src.identity, src.options, files, code_version()))
    return cache if cache.ok else None
