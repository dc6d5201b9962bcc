"""Where a record of a text source starts: the physical line numbers that error messages cite.

The engine numbers records (data rows, 1-based, the header excluded) in the order it reads them;
people count lines in their editor. The two differ when the reader skips lines or a record spans
several: DuckDB's CSV reader skips empty lines, comment lines and ``SkipRows`` preamble lines, and a
quoted field may hold line breaks; its JSON reader skips blank lines. These functions read the file
itself (bytes, streamed, gzip-decompressed for ``.gz``, only up to the last record asked for) and
are only used to word an error, never to read data.

A CSV line is scanned the way DuckDB's reader splits it: a quote opens a quoted field only at the
start of a field (``5" screen`` and ``don't`` are text), a quoted field ends at an unescaped quote
(doubled, or preceded by the escape character), and outside quotes a comment character ends the
line. Only the delimiter, quote, escape and comment tokens are visited (one regex per line).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "CsvDialect",
    "csv_header",
    "header_fields",
    "jsonl_record_lines",
    "ragged_csv_lines",
    "record_lines",
]


@dataclass(frozen=True)
class CsvDialect:
    """How the CSV reader splits the file (DuckDB's ``sniff_csv``); empty strings for none."""

    delimiter: str = ","
    quote: str = '"'
    escape: str = ""  # none: a quote inside a quoted field is doubled
    comment: str = ""
    skip: int = 0  # lines before the header
    newline: str = "\n"  # "\r" for a file whose lines end with a carriage return only


_COMPRESSED = (".zst", ".zstd", ".bz2", ".xz", ".lz4", ".snappy")


@contextmanager
def _open(path: str | Path) -> Iterator[BinaryIO | None]:
    """The file's bytes (decompressed for gzip); None for a compression this module cannot read."""
    name = str(path).lower()
    if name.endswith(".gz"):
        with gzip.open(path, "rb") as g:
            yield g  # type: ignore[misc]
    elif name.endswith(_COMPRESSED):
        yield None
    else:
        with open(path, "rb") as f:
            yield f


def _lines(f: BinaryIO, newline: str = "\n") -> Iterator[bytes]:
    """Physical lines with their line ends; lines end at ``\\r`` alone when that is the newline."""
    if newline != "\r":
        yield from f
        return
    rest = b""
    while chunk := f.read(1 << 20):
        parts = (rest + chunk).split(b"\r")
        rest = parts.pop()
        for part in parts:
            yield part + b"\r"
    if rest:
        yield rest


def _empty(line: bytes) -> bool:
    """An empty line (the CSV reader skips it; a line of blanks is a record of one field)."""
    return line in (b"\n", b"\r\n", b"\r", b"")


def _blank(line: bytes) -> bool:
    """A line of blanks (the JSON reader skips it)."""
    return not line.strip(b" \t\r\n")


_FIELD, _QUOTED, _CLOSING = 0, 1, 2


class _Scanner:
    """One line at a time: is a quoted field still open at its end, and how many fields began."""

    def __init__(self, dialect: CsvDialect) -> None:
        self.d = dialect.delimiter.encode()
        self.q = dialect.quote.encode()
        self.e = dialect.escape.encode() or self.q
        self.c = dialect.comment.encode()
        tokens = sorted({t for t in (self.d, self.q, self.e, self.c) if t}, key=len, reverse=True)
        self.pattern = re.compile(b"|".join(re.escape(t) for t in tokens))
        # a whole line of plain fields, each quoted (no quote or escape inside) or unquoted (no quote,
        # no comment): it ends outside quotes; one regex match in C instead of a token loop
        self.plain: re.Pattern[bytes] | None = None
        if self.q and len(self.q) == 1 and len(self.d) == 1 and len(self.e) == 1 and len(self.c) <= 1:
            q, d, e, c = (re.escape(x) for x in (self.q, self.d, self.e, self.c))
            inner = b"[^" + q + e + b"]*"
            bare = b"[^" + q + d + c + b"\r\n]*"
            field = b"(?:" + q + inner + q + b"|" + bare + b")"
            self.plain = re.compile(field + b"(?:" + d + field + b")*\r?\n?")

    def comment_line(self, line: bytes) -> bool:
        return bool(self.c) and line.lstrip(b" \t").startswith(self.c)

    def scan(self, line: bytes, inside: bool, *, fields_needed: bool = True) -> tuple[bool, int]:
        """(a quoted field is open at the end of ``line``, fields begun on it; 0 when not needed)."""
        if not inside and self.q not in line and (not self.c or self.c not in line):
            return False, line.count(self.d) + 1 if self.d else 1
        if not inside and not fields_needed and self.plain is not None and self.plain.fullmatch(line):
            return False, 0
        d, q, e, c = self.d, self.q, self.e, self.c
        state = _QUOTED if inside else _FIELD
        start = -1 if inside else 0  # where the current field starts (a quote there opens it)
        fields, skip, last_quote = 1, -1, -2
        for m in self.pattern.finditer(line):
            p, tok = m.start(), m.group()
            if p < skip:
                continue
            if state == _CLOSING:
                if tok == q and e == q and p == last_quote + len(q):
                    state = _QUOTED  # a doubled quote is a quote character
                    continue
                state, start = _FIELD, -1  # the field is closed; what follows is text
            if state == _QUOTED:
                if e != q and tok == e:
                    skip = p + len(e) + 1  # the escaped character is text
                elif tok == q:
                    state, last_quote = _CLOSING, p
                continue
            if tok == d:
                fields, start = fields + 1, p + len(d)
            elif tok == q and p == start:
                state = _QUOTED
            elif c and tok == c:
                break  # the rest of the line is a comment
        return state == _QUOTED, fields


def header_fields(header: str, delimiter: str, quote: str = '"') -> int:
    """Fields of one line split by ``delimiter`` (a quoted delimiter is text)."""
    return _Scanner(CsvDialect(delimiter, quote)).scan(header.encode(), False)[1]


def _csv_records(
    f: BinaryIO, dialect: CsvDialect, *, fields_needed: bool = True
) -> Iterator[tuple[int, bytes, int]]:
    """(physical line it starts on, its first line, its fields or 0 when not needed) of every
    record, the header first; a record is yielded once its last line is read."""
    scanner = _Scanner(dialect)
    open_record: tuple[int, bytes, int] | None = None  # a record whose quoted field is still open
    for number, line in enumerate(_lines(f, dialect.newline), start=1):
        if number <= dialect.skip:
            continue
        if open_record is not None:
            inside, more = scanner.scan(line, True)
            start, first, fields = open_record
            open_record = (start, first, fields + more - 1)  # its first field continues the open one
            if not inside:
                yield open_record
                open_record = None
            continue
        if _empty(line) or scanner.comment_line(line):
            continue
        inside, fields = scanner.scan(line, False, fields_needed=fields_needed)
        if inside:
            open_record = (number, line, fields)
        else:
            yield number, line, fields
    if open_record is not None:
        yield open_record


def record_lines(path: str | Path, rows: Iterable[int], dialect: CsvDialect | None = None) -> dict[int, int]:
    """The physical line (1-based) on which each data record ``row`` (1-based, after the header)
    starts. Rows past the end of the file, or of a compressed file this cannot read, are left out."""
    wanted = set(rows)
    out: dict[int, int] = {}
    if not wanted:
        return out
    last = max(wanted)
    with _open(path) as f:
        if f is None:
            return out
        records = _csv_records(f, dialect or CsvDialect(), fields_needed=False)
        for index, (number, _, _) in enumerate(records):
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
    with _open(path) as f:
        if f is None:
            return out
        for number, line in enumerate(f, start=1):
            if _blank(line):
                continue
            index += 1
            if index in wanted:
                out[index] = number
            if index >= last:
                break
    return out


def ragged_csv_lines(
    path: str | Path, dialect: CsvDialect | None = None, *, limit: int = 3
) -> tuple[int, list[tuple[int, int, str]]]:
    """The header's field count, and the first ``limit`` records whose field count differs from it,
    as (line, fields, first line's text): for explaining why a reader could not split the file."""
    header = 0
    bad: list[tuple[int, int, str]] = []
    with _open(path) as f:
        if f is None:
            return header, bad
        for number, line, fields in _csv_records(f, dialect or CsvDialect()):
            if header == 0:
                header = fields
            elif fields != header:
                bad.append((number, fields, line.rstrip(b"\r\n").decode("utf-8", "replace")))
                if len(bad) >= limit:
                    break
    return header, bad


def csv_header(path: str | Path, dialect: CsvDialect | None = None) -> list[str]:
    """The header's names as written (a reader renames a repeated name; this does not)."""
    import csv
    import io

    dialect = dialect or CsvDialect()
    with _open(path) as f:
        if f is None:
            return []
        for _, first, _ in _csv_records(f, dialect):
            text = first.decode("utf-8", "replace").rstrip("\r\n")
            reader = csv.reader(
                io.StringIO(text), delimiter=dialect.delimiter or ",", quotechar=dialect.quote or '"'
            )
            return [name.strip() for name in next(reader, [])]
    return []
