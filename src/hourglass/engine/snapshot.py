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
from dataclasses import dataclass, field

from hourglass.engine.parquet import damage_error
from hourglass.ingest.sources import Source
from hourglass.model.errors import SourceError

__all__ = ["Fingerprint", "check_unchanged", "fingerprint", "watch", "watched", "watching"]


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


@dataclass
class _Scope:
    """What the current :func:`watching` block loaded: the fingerprints to check again, and the
    Parquet sources whose damaged pages an analysis may meet (validation from the footers' statistics
    reads no page)."""

    fingerprints: list[Fingerprint] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


_SCOPE: ContextVar[_Scope | None] = ContextVar("hourglass_watched", default=None)


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """A command's run: the sources it loads whose queries read their files again are checked when
    it ends normally (:func:`check_unchanged`; also call that before showing a result), and the
    engine's failure to read a damaged Parquet file it loaded is HG206 naming the file."""
    scope = _Scope()
    token = _SCOPE.set(scope)
    try:
        yield
        check_unchanged()
    except Exception as e:
        for src in scope.sources:
            damaged = damage_error(src, e)
            if damaged is not None:
                raise damaged from None
        raise
    finally:
        _SCOPE.reset(token)


def watched() -> bool:
    """True inside a :func:`watching` block (the public API's functions run in one of their own only
    outside any: a command's block, or a caller's, already checks and names what they load)."""
    return _SCOPE.get() is not None


def watch(fp: Fingerprint | None, src: Source | None = None) -> None:
    """Check ``fp`` again in :func:`check_unchanged`, and name ``src``'s damaged files (inside a
    :func:`watching` block; outside one, the caller checks its Events: ``Events.check_unchanged()``)."""
    scope = _SCOPE.get()
    if scope is None:
        return
    if fp is not None:
        scope.fingerprints.append(fp)
    if src is not None and src.kind == "parquet":
        scope.sources.append(src)


def check_unchanged(*fingerprints: Fingerprint | None) -> None:
    """HG209 when a file of the given fingerprints (default: of every source loaded in the current
    :func:`watching` block that is read again by each query) changed since it was validated. Call it
    when a result is complete and before it is shown."""
    scope = _SCOPE.get()
    for fp in fingerprints or tuple(scope.fingerprints if scope else ()):
        if fp is not None:
            fp.check()
