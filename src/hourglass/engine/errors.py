"""Backend errors caused by the user's data, translated into HourglassErrors with a code; and the
faults that are not the data's: a DuckDB file locked by another process (HG426) and a write that
fails (a full disk, a read-only file system: HG425), each blamed on the file it concerns."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator

from hourglass.ingest.outputs import cannot_write
from hourglass.ingest.shown import quoted
from hourglass.model.errors import DataError, EngineError, HourglassError, SourceError

__all__ = ["locked", "translated"]

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_COLUMN = re.compile(r'converting column "([^"]+)"')
_FIELDS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_JSON_LINE = re.compile(r"in line (\d+): ([^\n]*?)(?: Try auto-detecting.*)?$", re.M)
_ORIGINAL = re.compile(r"Original Line: ?\n?(.*)")
_LOCK = re.compile(r'Could not set lock on file "([^"]+)": Conflicting lock is held in ([^\n]*)')
_HOLDER = re.compile(r"(.+?) \(PID (\d+)\)")
#: DuckDB's failed writes: 'Could not write file "F": No space left on device' (also fsync, truncate)
_WRITE = re.compile(r'Could not (?:write|fsync|truncate)(?: to)? file "([^"]+)": ?([^\n]*)')
_FILE = re.compile(r'file "([^"]+)": ?([^\n]*)')
#: the reasons of a failed write that are the disk's (strerror), never the data's
_DISK = tuple(os.strerror(n) for n in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT))


def locked(path: str, holder: str | None = None, pid: str | None = None) -> SourceError:
    """HG426: the DuckDB file ``path`` is locked by another process (``holder``, ``pid``)."""
    who = ", ".join(x for x in (f"PID {pid}" if pid else "", holder or "") if x)
    return SourceError(
        f"{path} is locked by another process{f' ({who})' if who else ''}: it has the database "
        "open for writing",
        code="HG426",
        hint="wait for that process to finish (or close the database there), then run again; "
        "DuckDB lets one process at a time write a database file",
    )


def _lock_error(text: str) -> SourceError | None:
    found = _LOCK.search(text)
    if found is None:
        return None
    holder = _HOLDER.match(found[2])
    if holder:
        return locked(found[1], holder[1], holder[2])
    return locked(found[1], found[2].split(". See also")[0].strip() or None)


def _ours(named: str, target: str) -> bool:
    """Whether the file ``named`` is ``target`` or one written for it next to it (its temporary
    file, its .wal)."""
    head, name = os.path.split(os.path.abspath(target))
    there, file = os.path.split(os.path.abspath(named))
    return there == head and name in file


def _write_error(text: str, target: str | None, option: str | None, io: bool) -> SourceError | None:
    """A failed write (the engine's text of any error: a failed commit too), as HG425 naming
    ``target`` (the file being written, whose temporary and .wal files are written too) when given,
    else the file the engine names; None when ``text`` is not a failed write. ``io``: an I/O error,
    which concerns ``target`` when it names one of its files (e.g. it cannot be created)."""
    write = _WRITE.search(text)
    named = write or _FILE.search(text)
    disk = next((d for d in _DISK if d in text), None)
    reason = disk or (named[2].strip().rstrip(".") if named else "") or text.strip().splitlines()[0]
    ours = io and named is not None and target is not None and _ours(named[1], target)
    ours = ours or (io and any(w in text for w in ("CHECKPOINT", "Failed to commit")))  # the write's
    if target is not None and (write or disk or ours):
        return cannot_write(target, reason, option)
    if write or disk:
        return cannot_write(named[1] if named else "a file", reason)
    return None


def _server_error(e: Exception, text: str) -> HourglassError | None:
    """A database server's driver error (PostgreSQL's psycopg, by class name: the driver stays out of
    the imports) that is not a bug: the server going away mid-query (HG506), a table the engine's
    user may not read (HG205); None for any other."""
    if not type(e).__module__.startswith("psycopg"):
        return None
    first = (text.strip().splitlines() or [type(e).__name__])[0]
    kinds = {c.__name__ for c in type(e).__mro__}
    if "InsufficientPrivilege" in kinds:
        return SourceError(
            f"the engine's user may not read the table: {first}",
            code="HG205",
            hint="grant it the right to read (GRANT SELECT ON TABLE ... TO that user), or connect as a "
            "user who may",
        )
    if "OperationalError" in kinds or "InterfaceError" in kinds:
        return EngineError(
            f"the engine's server stopped answering: {first}",
            code="HG506",
            hint="check that the server is running and reachable, then run again (docs/engines.md)",
        )
    return None


def _starts_with_bracket(path: str | None) -> bool:
    try:
        with open(path or "", "rb") as f:
            return f.read(4096).lstrip().startswith(b"[")
    except OSError:
        return False


def _malformed_json(where: str, source: str | None, text: str) -> DataError:
    """DuckDB's "Malformed JSON in file F, at byte B in line N: why" as HG411."""
    found = _JSON_LINE.search(text)
    if _starts_with_bracket(source):
        return DataError(
            f"{where}a JSON array, not JSON lines",
            code="HG411",
            hint="write one JSON object per line (e.g. jq -c '.[]' file.json > file.jsonl)",
        )
    line, why = (found[1], found[2].strip()) if found else ("?", text.strip().splitlines()[0])
    return DataError(
        f"{where}line {line} is not a complete JSON object ({why})",
        code="HG411",
        hint="every line must be one JSON object; the broken one is this line or the one before it "
        "(an object that does not close continues on the next line)",
    )


@contextlib.contextmanager
def translated(
    source: str | None = None, *, target: str | None = None, option: str | None = None
) -> Iterator[None]:
    """Turn a backend's read/parse error into a DataError naming the file, line and column. A file
    locked by another process is HG426; a failed write (a full disk, a read-only file system) is
    HG425 naming ``target`` (given as ``option``; e.g. the store being written), or the file the
    engine names, never the source."""
    try:
        yield
    except HourglassError:
        raise
    except Exception as e:
        text = str(e)
        name = type(e).__name__
        where = f"{source}: " if source else ""
        fault = (
            _lock_error(text)
            or _write_error(text, target, option, name == "IOException")
            or _server_error(e, text)
        )
        if fault is not None:
            raise fault from None
        if name in ("ConversionException", "InvalidInputException") and "CSV" in text:
            line = _CSV_LINE.search(text)
            fields = _FIELDS.search(text)
            if line and fields:  # a ragged line past the sample the reader's sniffer read
                original = _ORIGINAL.search(text)
                shown = f" ({quoted(original[1])})" if original else ""
                raise DataError(
                    f"{where}line {line[1]} has {fields[2]} fields where the header has {fields[1]}{shown}",
                    code="HG408",
                    hint="give every line the header's fields (quote values that hold the separator)",
                ) from None
            if "sniffing file" in text:
                raise DataError(
                    f"{where}cannot tell how the CSV's lines split into columns",
                    code="HG408",
                    hint="give every line the header's fields (quote values that hold the separator); "
                    "a file whose lines differ is not one table",
                ) from None
            if "invalid unicode" in text.lower() or "not utf-8" in text.lower():
                raise DataError(
                    f"{where}line {line[1] if line else '?'} is not UTF-8 text",
                    code="HG410",
                    hint="save the file as UTF-8 (it looks like another encoding, e.g. Latin-1 or "
                    "Windows-1252)",
                ) from None
            col = _COLUMN.search(text)
            first = text.strip().splitlines()[0]
            raise DataError(
                f"{where}cannot read the CSV{f' at line {line[1]}' if line else ''}"
                f"{f', column {col[1]}' if col else ''}: {first}",
                code="HG406",
                hint="fix the value, or if the column's type was guessed wrong, check the file's first rows",
            ) from None
        if name == "InvalidInputException" and "Malformed JSON" in text:
            raise _malformed_json(where, source, text) from None
        if name == "IOException" or "No files found" in text:
            raise SourceError(
                f"{where}{text.strip().splitlines()[0]}",
                code="HG206",
                hint="check that the file is complete and in the format its name says "
                "(.csv, .parquet, .jsonl, .duckdb)",
            ) from None
        if name == "OutOfMemoryException" or "java.lang.OutOfMemoryError" in text:
            raise EngineError(
                f"{where}the engine ran out of memory: {text.strip().splitlines()[0]}",
                code="HG601",
                hint="free memory, or ingest the source once into a store (hourglass ingest), or use "
                "--engine spark; DuckDB spills to its temp_directory when it has one",
            ) from None
        if name in ("ConversionException", "InvalidInputException"):
            raise DataError(
                f"{where}{text.strip().splitlines()[0]}",
                code="HG407",
                hint="a value in the source cannot be read as its column's type (the message quotes it); "
                "hourglass validate SOURCE finds its line",
            ) from None
        raise
