"""Where results are written: an output never replaces a file of the source (HG424), and an output
that cannot be written is an error with the reason (HG425), found before any work where possible.
One place for the command line's ``--out`` and ``--customers``, the Python API's ``customers=`` and
the demo's directory."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from hourglass.ingest.sources import resolve_source
from hourglass.model.errors import HourglassError, SourceError

__all__ = ["cannot_write", "check_output", "source_files"]


def source_files(source: object, *, table: str | None = None, kind: str | None = None) -> tuple[str, ...]:
    """The files a source reads (a glob's matched files, a DuckDB database or store); none for an
    in-memory table or a source that cannot be resolved (its own error comes later)."""
    if not isinstance(source, str | os.PathLike):
        return ()
    if kind in ("duckdb", "store"):
        return (os.fspath(source).rpartition(":")[0] or os.fspath(source),)
    try:
        return resolve_source(source, table=table, fmt=kind).paths
    except HourglassError:
        return ()


def cannot_write(path: str | os.PathLike[str], reason: str, option: str | None = None) -> SourceError:
    """HG425: ``path`` (given as ``option``) cannot be written, and why."""
    given = f" ({option})" if option else ""
    return SourceError(
        f"cannot write {os.fspath(path)}{given}: {reason}",
        code="HG425",
        hint="create the directory first (hourglass does not create it), check its permissions, "
        "or choose another path",
    )


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
