"""Files checked the way their readers fail, for errors that name the file and the cause: a damaged or
truncated Parquet file (HG206, "not a complete Parquet file"), a CSV line longer than the reader's
limit (HG406 with its line), and a JSON-lines file that starts with a byte order mark (read without
it, as DuckDB reads a CSV's). The Parquet footer's frame is checked on every load (two small reads
per file); the rest runs only when a reader has failed."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator

from hourglass.ingest.lines import CsvDialect, _lines, _open
from hourglass.ingest.sources import Source
from hourglass.model.errors import DataError, HourglassError, SourceError

__all__ = ["check_parquet_frames", "long_csv_line", "parquet_errors", "without_bom"]

_MAGIC = b"PAR1"
_HINT = (
    "the file is damaged or was cut short (an interrupted copy, download or write?): write or copy it again"
)


def _frame_problem(path: str) -> str | None:
    """What is wrong with the frame of the Parquet file ``path`` (its magic bytes at both ends and the
    footer's length), or None."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4)
            if size < 12:
                return f"{size} bytes, too small for a Parquet file"
            f.seek(size - 8)
            tail = f.read(8)
    except OSError:
        return None  # the reader reports it
    if head != _MAGIC:
        return "it does not start as a Parquet file does"
    if tail[4:] != _MAGIC:
        return "its end is missing (no footer)"
    footer = int.from_bytes(tail[:4], "little")
    if footer <= 0 or footer > size - 12:
        return f"its footer's length ({footer:,} bytes) does not fit in the file ({size:,} bytes)"
    return None


def _damaged(path: str, why: str) -> SourceError:
    return SourceError(f"{path}: not a complete Parquet file ({why})", code="HG206", hint=_HINT)


def check_parquet_frames(src: Source) -> None:
    """Every file of a Parquet source ends with a footer of a length that fits (HG206 otherwise)."""
    if src.kind != "parquet":
        return
    for path in src.paths:
        why = _frame_problem(path)
        if why is not None:
            raise _damaged(path, why)


def _unreadable_file(src: Source) -> SourceError | None:
    """The first file of ``src`` whose footer pyarrow cannot read, or (several files) whose data a
    fresh DuckDB cannot read whole; only on an error path (pyarrow's import, a scan per file)."""
    import duckdb
    import pyarrow.parquet as pq

    for path in src.paths:
        why = _frame_problem(path)
        if why is None:
            try:
                pq.read_metadata(path)
            except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad footer
                if not os.path.isfile(path):
                    continue  # gone: not a damage this can name
                why = f"its footer cannot be read: {_first_line(e)}"
        if why is None and len(src.paths) > 1:
            try:
                with duckdb.connect() as con:
                    con.execute("SELECT max(hash(t)) FROM read_parquet(?) t", [path]).fetchall()
            except Exception as e:  # noqa: BLE001 - any failure of this one file names it
                why = f"its data cannot be read: {_first_line(e)}"
        if why is not None:
            return _damaged(path, why)
    return None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:160] if text else type(e).__name__


#: What DuckDB says when a Parquet file's bytes are not what its footer describes.
_PARQUET_TEXT = re.compile(
    r"TProtocolException|don't know what type|Parquet|parquet|magic bytes|Footer|footer|"
    r"Could not read enough bytes|Invalid unicode|Corrupt|corrupt|decompress|Snappy|ZSTD"
)


@contextlib.contextmanager
def parquet_errors(src: Source) -> Iterator[None]:
    """A reader's failure on a Parquet source as HG206 naming the damaged file (or the source, when
    pyarrow reads every footer but the engine cannot read the data)."""
    try:
        yield
    except Exception as e:
        if src.kind != "parquet":
            raise
        if isinstance(e, HourglassError) and e.code not in ("HG206", "HG407"):
            raise
        text = e.message if isinstance(e, HourglassError) else str(e)
        if not _PARQUET_TEXT.search(text):
            raise  # not about the file's bytes (memory, a bug): engine/errors.py's or HG699
        damaged = _unreadable_file(src)
        if damaged is not None:
            raise damaged from None
        raise SourceError(
            f"{src.name}: not a complete Parquet file: its data cannot be read ({_first_line(e)})",
            code="HG206",
            hint=_HINT,
        ) from None


def long_csv_line(path: str, limit: int, dialect: CsvDialect | None = None) -> DataError | None:
    """HG406 naming the first physical line of ``path`` longer than ``limit`` bytes (DuckDB's
    max_line_size), or None."""
    with _open(path) as f:
        if f is None:
            return None
        for number, line in enumerate(_lines(f, (dialect or CsvDialect()).newline), start=1):
            if len(line.rstrip(b"\r\n")) > limit:
                return DataError(
                    f"{path}: line {number} is too long ({len(line):,} bytes; the CSV reader reads lines "
                    f"of up to {limit:,} bytes)",
                    code="HG406",
                    hint="shorten the value on that line (a field this long is nearly always a file or a "
                    "blob pasted into a cell) or remove the line; a quote that never closes also makes "
                    "one long line of the rest of the file",
                )
    return None


#: DuckDB's CSV reader's default max_line_size.
MAX_LINE_BYTES = 2_000_000
_LINE_SIZE = re.compile(r"Maximum line size of (\d+) bytes exceeded")


def line_size_error(src: Source, text: str) -> DataError | None:
    """The long line behind DuckDB's "Maximum line size ... exceeded" error, if ``text`` is one."""
    found = _LINE_SIZE.search(text)
    if found is None or src.kind != "csv":
        return None
    for path in src.paths:
        err = long_csv_line(path, int(found[1]))
        if err is not None:
            return err
    return None


_BOM = b"\xef\xbb\xbf"
_COPIES: list[str] = []


def _remove_copies() -> None:
    for d in _COPIES:
        shutil.rmtree(d, ignore_errors=True)


def without_bom(src: Source) -> Source:
    """A JSON-lines source whose files start with a byte order mark, with those files copied without
    it (DuckDB's JSON reader refuses a BOM; its CSV reader skips one). The copies live in a temporary
    directory until the process ends; the source keeps its name."""
    if src.kind != "jsonl":
        return src
    paths = list(src.paths)
    for i, path in enumerate(paths):
        if path.lower().endswith(".gz"):
            continue
        try:
            with open(path, "rb") as f:
                if f.read(3) != _BOM:
                    continue
                if not _COPIES:
                    atexit.register(_remove_copies)
                    _COPIES.append(tempfile.mkdtemp(prefix="hourglass-bom-"))
                copy = os.path.join(_COPIES[0], f"{i}-{os.path.basename(path)}")
                with open(copy, "wb") as out:
                    shutil.copyfileobj(f, out, 1 << 20)
        except OSError:
            continue  # the reader reports it
        paths[i] = copy
    if paths == list(src.paths):
        return src
    return Source(src.kind, src.name, paths=tuple(paths), table=src.table, obj=src.obj)
