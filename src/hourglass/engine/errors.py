"""Backend errors caused by the user's data, translated into HourglassErrors with a code."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from hourglass.model.errors import DataError, EngineError, HourglassError, SourceError

__all__ = ["translated"]

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_COLUMN = re.compile(r'converting column "([^"]+)"')
_FIELDS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_ORIGINAL = re.compile(r"Original Line: ?\n?(.*)")


@contextlib.contextmanager
def translated(source: str | None = None) -> Iterator[None]:
    """Turn a backend's read/parse error into a DataError naming the file, line and column."""
    try:
        yield
    except HourglassError:
        raise
    except Exception as e:
        text = str(e)
        name = type(e).__name__
        where = f"{source}: " if source else ""
        if name in ("ConversionException", "InvalidInputException") and "CSV" in text:
            line = _CSV_LINE.search(text)
            fields = _FIELDS.search(text)
            if line and fields:  # a ragged line past the sample the reader's sniffer read
                original = _ORIGINAL.search(text)
                shown = f" ({original[1][:80]!r})" if original else ""
                raise DataError(
                    f"{where}line {line[1]} has {fields[2]} fields where the header has {fields[1]}{shown}",
                    code="HG408",
                    hint="give every line the header's fields (quote values that hold the separator)",
                ) from None
            if "unicode" in text.lower() or "utf-8" in text.lower():
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
                hint="a value in the source cannot be read; check the column named above",
            ) from None
        raise
