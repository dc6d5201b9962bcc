"""Backend errors caused by the user's data, translated into HourglassErrors with a code."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from hourglass.ingest.shown import quoted
from hourglass.model.errors import DataError, EngineError, HourglassError, SourceError

__all__ = ["translated"]

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_COLUMN = re.compile(r'converting column "([^"]+)"')
_FIELDS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_JSON_LINE = re.compile(r"in line (\d+): ([^\n]*?)(?: Try auto-detecting.*)?$", re.M)
_ORIGINAL = re.compile(r"Original Line: ?\n?(.*)")


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
                hint="a value in the source cannot be read; check the column named above",
            ) from None
        raise
