"""Text sources (CSV, JSON lines) checked the way their reader sees them, for errors that name the
file and the line: empty files (HG207), a CSV split into one column (HG408), a header naming a column
twice (HG308), files of a glob with different columns (HG307), and the physical line of each sample
row of a validation problem (ingest/lines.py, with DuckDB's sniffed dialect). Only error paths and a
few cheap checks of the header run on every read."""

from __future__ import annotations

import os
from typing import Any

from hourglass.engine.session import Engine
from hourglass.ingest.lines import (
    CsvDialect,
    csv_header,
    header_fields,
    jsonl_record_lines,
    ragged_csv_lines,
    record_lines,
)
from hourglass.ingest.shown import quoted
from hourglass.ingest.sources import Source, open_source
from hourglass.ingest.validate import Problem
from hourglass.model.errors import DataError, SchemaError, SourceError

__all__ = [
    "check_csv_files",
    "csv_dialect",
    "empty_text_files",
    "one_column_csv",
    "repeated_csv_names",
    "source_lines",
    "unsniffable_csv",
]


def one_column_csv(engine: Engine, src: Source, columns: list[str]) -> None:
    """A CSV read as one column whose name holds delimiters: the reader's guess of the delimiter
    failed, nearly always because some lines have another number of fields than the header."""
    if len(columns) != 1:
        return
    fields = {d: header_fields(columns[0], d) for d in (",", ";", "\t", "|")}
    delimiter = max(fields, key=lambda d: fields[d])  # the first of a tie
    if fields[delimiter] == 1:
        return  # a file of one column: the roles say what is missing
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    for path in src.paths:
        sniffed = csv_dialect(engine, path)
        dialect = CsvDialect(delimiter, '"', "", sniffed.comment, sniffed.skip, sniffed.newline)
        header, bad = ragged_csv_lines(path, dialect)
        if bad:
            lines = "; ".join(
                f"line {n} has {k} field{'s' * (k != 1)} ({quoted(text)})" for n, k, text in bad
            )
            raise DataError(
                f"{path}: cannot split the CSV into columns: the header has {header} fields separated "
                f"by {shown}, but {lines}",
                code="HG408",
                hint="give every line the header's fields (remove lines of blanks, quote values that "
                "hold the separator)",
            )
    raise DataError(
        f"{src.name}: the CSV reader found one column named {quoted(columns[0])}",
        code="HG408",
        hint=f"check that every line has the header's fields separated by {shown}",
    )


def unsniffable_csv(engine: Engine, src: Source) -> None:
    """DuckDB's sniffer found no way to split the CSV (it reads a sample from the whole file, so a
    line with another number of fields than the header's, anywhere, is the usual cause): name those
    lines (HG408), as :func:`one_column_csv` does; nothing when none is found (the reader's error
    stands)."""
    for path in src.paths:
        first = csv_header(path, CsvDialect(delimiter="\x00"))  # the header line, not split
        if first:
            try:
                one_column_csv(engine, Source("csv", path, paths=(path,)), [first[0]])
            except DataError as e:
                if "cannot split" in e.message:
                    raise


def empty_text_files(src: Source) -> None:
    """A CSV or JSON-lines source whose files hold nothing but white space: say so (the readers
    would report a missing column ``column0``)."""
    if src.kind not in ("csv", "jsonl") or not src.paths:
        return
    for path in src.paths:
        try:
            if os.path.getsize(path) > 65_536 or path.endswith(".gz"):
                return
            with open(path, "rb") as f:
                if f.read().strip():
                    return
        except OSError:
            return  # the reader reports it
    what = f"{src.paths[0]}: the file is empty" if len(src.paths) == 1 else f"{src.name}: every file is empty"
    raise SourceError(
        what,
        code="HG207",
        hint="give a file with a header line and events",
    )


def repeated_csv_names(engine: Engine, src: Source, names: list[str]) -> None:
    """A header that names a column twice: the reader renames the second (``event_name_1``), and a
    role would silently read the first. Checked only when such a renamed name is there."""
    suspects = [
        n for n in names if "_" in n and n.rsplit("_", 1)[1].isdigit() and n.rsplit("_", 1)[0] in names
    ]
    if not suspects:
        return
    path = src.paths[0]
    header = csv_header(path, csv_dialect(engine, path))
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name in seen:
            raise SchemaError(
                f"{path}: the header names column '{name}' twice (columns {seen[name]} and {i})",
                code="HG308",
                hint="give every column its own name in the header line",
            )
        seen[name] = i


def check_csv_files(engine: Engine, src: Source) -> None:
    """Several CSV files are read with the first file's columns: name the file that the reader
    splits into one column (HG408) or whose columns differ from the first's (HG307)."""
    if len(src.paths) < 2:
        return
    first: tuple[str, list[str]] | None = None
    for path in src.paths:
        single = Source("csv", path, paths=(path,))
        names = list(open_source(engine.con, single).columns)
        one_column_csv(engine, single, names)
        if first is None:
            first = (path, names)
        elif names != first[1]:
            raise SchemaError(
                f"{path}: its columns ({', '.join(names)}) differ from those of {first[0]} "
                f"({', '.join(first[1])}); the files of one source must have the same columns",
                code="HG307",
                hint="give the files the same header, or read them as separate sources",
            )


def csv_dialect(engine: Engine, path: str) -> CsvDialect:
    """How DuckDB's reader splits ``path`` (the defaults on other engines, or if sniffing fails)."""
    if engine.name != "duckdb":
        return CsvDialect()
    try:
        (row,) = engine.con.con.execute(
            "SELECT Delimiter, Quote, Escape, Comment, SkipRows, NewLineDelimiter "
            "FROM sniff_csv(?, header = true)",
            [path],
        ).fetchall()
    except Exception:  # noqa: BLE001 - only the wording of an error depends on it
        return CsvDialect()

    def text(value: Any) -> str:
        return "" if value in (None, "(empty)") else str(value)

    newline = "\r" if text(row[5]) in ("\\r", "\r") else "\n"
    return CsvDialect(
        text(row[0]) or ",", text(row[1]), text(row[2]), text(row[3]), int(row[4] or 0), newline
    )


def source_lines(engine: Engine, src: Source, problems: list[Problem]) -> dict[tuple[str, int], int]:
    """The physical line of every sample row of a CSV or JSON-lines source, keyed by (file, row)
    (file "" for a single file): readers skip empty lines, and a quoted CSV field may span lines."""
    wanted: dict[str, set[int]] = {}
    for p in problems:
        files = p.files or [""] * len(p.samples)
        for (row, _), file in zip(p.samples, files, strict=True):
            wanted.setdefault(file, set()).add(row)
    out: dict[tuple[str, int], int] = {}
    for file, rows in wanted.items():
        path = file or (src.paths[0] if len(src.paths) == 1 else "")
        if not path:
            continue
        try:
            if src.kind == "csv":
                found = record_lines(path, rows, csv_dialect(engine, path))
            else:
                found = jsonl_record_lines(path, rows)
        except OSError:
            continue  # the message falls back to counting records
        out.update({(file, row): line for row, line in found.items()})
    return out
