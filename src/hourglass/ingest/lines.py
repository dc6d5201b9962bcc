"""Where a record of a text source starts: the physical line numbers that error messages cite.

The engine numbers records (data rows, 1-based, the header excluded) in the order it reads them;
people count lines in their editor. The two differ when the reader skips lines or a record spans
several: DuckDB's CSV reader skips blank lines, comment lines and ``SkipRows`` preamble lines, and a
quoted field may hold line breaks; its JSON reader skips blank lines. These functions read the file
itself (bytes, streamed, only up to the last record asked for) and are only used to word an error,
never to read data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CsvDialect", "jsonl_record_lines", "ragged_csv_lines", "record_lines"]


@dataclass(frozen=True)
class CsvDialect:
    """How the CSV reader split the file (DuckDB's ``sniff_csv``); empty strings for none."""

    delimiter: str = ","
    quote: str = '"'
    escape: str = ""
    comment: str = ""
    skip: int = 0  # lines before the header


def _blank(line: bytes) -> bool:
    """A line of blanks (the JSON reader skips it)."""
    return not line.strip(b" \t\r\n")


def _empty(line: bytes) -> bool:
    """An empty line (the CSV reader skips it; a line of blanks is a record of one field)."""
    return line in (b"\n", b"\r\n", b"\r", b"")


def _open_quote(line: bytes, inside: bool, quote: bytes, escape: bytes) -> bool:
    """Whether a quoted field is still open at the end of ``line`` (it was ``inside`` at its start)."""
    if quote not in line:
        return inside
    i, n = 0, len(line)
    while i < n:
        c = line[i : i + 1]
        if inside and escape and escape != quote and c == escape:
            i += 2  # an escaped character inside quotes (a backslash-escaped quote)
            continue
        if c == quote:
            inside = not inside  # a doubled quote "" toggles twice
        i += 1
    return inside


def _csv_records(path: str | Path, dialect: CsvDialect) -> Iterator[tuple[int, bytes]]:
    """(physical line, first line's bytes) of every record, the header first."""
    quote = dialect.quote.encode()
    escape = dialect.escape.encode()
    comment = dialect.comment.encode()
    inside = False
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if number <= dialect.skip:
                continue
            if not inside:
                if _empty(line) or (comment and line.lstrip().startswith(comment)):
                    continue
                yield number, line
            if quote:
                inside = _open_quote(line, inside, quote, escape)


def record_lines(path: str | Path, rows: Iterable[int], dialect: CsvDialect | None = None) -> dict[int, int]:
    """The physical line (1-based) on which each data record ``row`` (1-based, after the header)
    starts. Rows past the end of the file are left out."""
    wanted = set(rows)
    out: dict[int, int] = {}
    if not wanted:
        return out
    last = max(wanted)
    for index, (number, _) in enumerate(_csv_records(path, dialect or CsvDialect())):
        if index in wanted:  # index 0 is the header
            out[index] = number
        if index >= last:
            break
    return out


def jsonl_record_lines(path: str | Path, rows: Iterable[int]) -> dict[int, int]:
    """The physical line of each record ``row`` (1-based) of a JSON-lines file: blank lines are not
    records."""
    wanted = set(rows)
    out: dict[int, int] = {}
    if not wanted:
        return out
    last, index = max(wanted), 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if _blank(line):
                continue
            index += 1
            if index in wanted:
                out[index] = number
            if index >= last:
                break
    return out


def _fields(line: bytes, delimiter: bytes, quote: bytes) -> int:
    """Fields on one physical line (quoted delimiters not counted)."""
    if not quote or quote not in line:
        return line.count(delimiter) + 1
    count, inside = 1, False
    for i in range(len(line)):
        c = line[i : i + 1]
        if c == quote:
            inside = not inside
        elif c == delimiter and not inside:
            count += 1
    return count


def ragged_csv_lines(
    path: str | Path, delimiter: str, *, quote: str = '"', limit: int = 3
) -> tuple[int, list[tuple[int, int, str]]]:
    """The header's field count, and the first ``limit`` lines whose field count differs from it as
    (line, fields, text). Lines are split one by one (a quoted line break is not followed): this is
    for explaining why a reader could not split the file, not for reading it."""
    d, q = delimiter.encode(), quote.encode()
    header = 0
    bad: list[tuple[int, int, str]] = []
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if header == 0:
                if _empty(line):
                    continue
                header = _fields(line, d, q)
                continue
            if _empty(line):
                continue  # skipped by the reader; a line of blanks is not
            n = _fields(line, d, q)
            if n != header:
                bad.append((number, n, line.rstrip(b"\r\n").decode("utf-8", "replace")))
                if len(bad) >= limit:
                    break
    return header, bad
