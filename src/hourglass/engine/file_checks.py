"""Files checked the way their readers fail, for errors that name the file and the cause: a CSV line
longer than the reader's limit (HG406 with its line), a damaged Parquet file (engine/parquet.py), and
a JSON-lines file that starts with a byte order mark (read without it, as DuckDB reads a CSV's)."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator

from hourglass.engine.errors import translated
from hourglass.engine.parquet import parquet_errors
from hourglass.ingest.lines import CsvDialect, _lines, _open
from hourglass.ingest.sources import Source
from hourglass.model.errors import DataError, HourglassError

__all__ = ["long_csv_line", "reading", "without_bom"]


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


@contextlib.contextmanager
def _line_size(src: Source) -> Iterator[None]:
    """DuckDB's "Maximum line size exceeded" as HG406 naming the long line."""
    try:
        yield
    except HourglassError:
        raise
    except Exception as e:
        err = line_size_error(src, str(e))
        if err is None and isinstance(e, UnicodeDecodeError) and src.kind == "csv":
            # DuckDB's message quotes the long line cut inside a character: Python cannot decode it
            err = next(filter(None, (long_csv_line(p, MAX_LINE_BYTES) for p in src.paths)), None)
        if err is not None:
            raise err from None
        raise


@contextlib.contextmanager
def reading(src: Source) -> Iterator[None]:
    """Reading ``src``: the engine's errors as coded errors naming the file (a long CSV line, a damaged
    Parquet file, then engine/errors.py's translations)."""
    with translated(src.name), parquet_errors(src), _line_size(src):
        yield
