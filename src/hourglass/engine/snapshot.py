"""Analyse what was validated (issue 19, item 2): a file that grows or is rewritten between
validation and the analysis must not be analysed with rows nobody checked.

Small CSV and JSON-lines sources are read once into memory (a snapshot: every query reads the rows
validation read). Other file sources are read again by each query; for them the fingerprint of every
file (size and modification time in nanoseconds) is taken before the first read and compared after
validation and again when a command has its result (:func:`check_unchanged`, :func:`watching`): a
change is HG209, "changed while it was read: run again"."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from hourglass.ingest.sources import Source
from hourglass.model.errors import SourceError

__all__ = ["Fingerprint", "check_unchanged", "fingerprint", "watch", "watching"]


@dataclass(frozen=True)
class Fingerprint:
    """A file source's files as they were before it was read: (path, size, mtime_ns) each."""

    source: str
    files: tuple[tuple[str, int, int], ...]

    def changed(self) -> str | None:
        """The first file that is not as it was (what changed), or None."""
        for path, size, mtime in self.files:
            try:
                st = os.stat(path)
            except OSError:
                return f"{path} is gone"
            if st.st_size != size:
                grew = "grew" if st.st_size > size else "shrank"
                return f"{path} {grew} from {size:,} to {st.st_size:,} bytes"
            if st.st_mtime_ns != mtime:
                return f"{path} was written again"
        return None

    def check(self) -> None:
        """HG209 when a file changed since the fingerprint was taken."""
        what = self.changed()
        if what is not None:
            raise SourceError(
                f"{self.source} changed while it was read ({what}): the analysis would include rows "
                "that were not validated",
                code="HG209",
                hint="run again when the file is complete: a file that is still being written cannot "
                "be analysed (copy it first, or ingest it once: hourglass ingest SOURCE --into STORE)",
            )


def fingerprint(src: Source) -> Fingerprint | None:
    """The fingerprint of a file source (None for other sources, or a file that cannot be read: its
    reader reports it)."""
    if not src.is_file or not src.paths:
        return None
    files = []
    for path in src.paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        files.append((path, st.st_size, st.st_mtime_ns))
    return Fingerprint(src.name, tuple(files))


#: The fingerprints of the sources loaded inside the current :func:`watching` block (a command).
_SCOPE: ContextVar[list[Fingerprint] | None] = ContextVar("hourglass_watched", default=None)


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """A command's run: the sources it loads whose queries read their files again are checked when
    it ends normally (:func:`check_unchanged`; also call that before showing a result)."""
    token = _SCOPE.set([])
    try:
        yield
        check_unchanged()
    finally:
        _SCOPE.reset(token)


def watch(fp: Fingerprint) -> None:
    """Check ``fp`` again in :func:`check_unchanged` (inside a :func:`watching` block; outside one,
    the caller checks its Events itself: ``Events.check_unchanged()``)."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.append(fp)


def check_unchanged(*fingerprints: Fingerprint | None) -> None:
    """HG209 when a file of the given fingerprints (default: of every source loaded in the current
    :func:`watching` block that is read again by each query) changed since it was validated. Call it
    when a result is complete and before it is shown."""
    for fp in fingerprints or tuple(_SCOPE.get() or ()):
        if fp is not None:
            fp.check()
