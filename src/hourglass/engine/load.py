"""Loading a source: open, resolve roles, parse, validate (one aggregate query), canonicalise."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir

from hourglass.engine.errors import translated
from hourglass.engine.session import Engine
from hourglass.engine.text_checks import (
    check_csv_files,
    empty_text_files,
    one_column_csv,
    repeated_csv_names,
    source_lines,
    unsniffable_csv,
)
from hourglass.ingest.normalize import Parsed, canonical, dedupe, integer_customers, parse
from hourglass.ingest.roles import resolve_roles
from hourglass.ingest.shown import cut
from hourglass.ingest.sources import FILE_COLUMN, Source, open_source, resolve_source
from hourglass.ingest.validate import (
    TIME_RANGE,
    Problem,
    ValidationReport,
    checks_for,
    count_expr,
    numbered,
    samples_expr,
)
from hourglass.model.errors import DataError
from hourglass.model.schema import ColumnMapping

__all__ = ["Events", "load_events", "validate_source"]


@dataclass(frozen=True)
class Events:
    """A validated source's canonical event table on an engine."""

    table: ir.Table
    engine: Engine
    report: ValidationReport
    #: the same events with an integer ``customer`` (the source's integer ids, or a store's keys),
    #: when grouping by it equals grouping by the canonical text; for the DuckDB fast path
    keyed: ir.Table | None = None
    #: when ``keyed.event`` is a DuckDB ENUM: its names in code order (a store's event codes)
    codes: tuple[str, ...] | None = None
    #: the SQL name of that ENUM type (to compare ``event`` with typed constants)
    enum_type: str | None = None
    #: when ``keyed.customer`` is a dense key 0 .. key_count - 1 (a store's customer keys)
    key_count: int | None = None


def _open(engine: Engine, source: Any, mapping: ColumnMapping, table: str | None) -> tuple[Source, Parsed]:
    src = resolve_source(source, table=table)
    empty_text_files(src)
    with translated(src.name):
        try:
            raw = open_source(engine.con, src)
        except Exception as e:
            if src.kind == "csv" and engine.name == "duckdb" and "sniffing file" in str(e):
                unsniffable_csv(engine, src)  # the lines whose fields differ from the header's
            raise
        names = [c for c in raw.columns if c != FILE_COLUMN]  # the file of each row (several files)
        if src.kind == "csv" and engine.name == "duckdb":
            one_column_csv(engine, src, names)
            repeated_csv_names(engine, src, names)
        roles = resolve_roles(names, mapping, source=src.name)
        if src.kind in ("csv", "jsonl") and engine.name == "duckdb":
            # role columns are read as text so bad values reach validation (a JSON reader types a
            # column from a sample: a bad time past it fails the read); epoch numbers stay numbers
            numeric_time = raw[roles.columns["timestamp"]].type().is_numeric()
            text = tuple(
                roles.columns[r]
                for r in ("customer", "timestamp", "revenue", "event_id", "referrer", "event", "channel")
                if r in roles.columns and not (r == "timestamp" and numeric_time)
            )
            try:
                raw = open_source(engine.con, src, text_columns=text, schema=raw.schema())
            except Exception:
                if src.kind == "csv":
                    check_csv_files(engine, src)  # which file cannot be read like the first, if one
                raise
        json_text = src.kind == "jsonl" and engine.name == "duckdb"
        return src, parse(raw, roles, source=src.name, backend=engine.name, json_text=json_text)


def _null(value: Any) -> bool:
    """SQL NULL as pandas gives it (NaN or None)."""
    return value is None or (isinstance(value, float) and value != value)


def _text(value: Any, length: Any = None) -> str | None:
    """A sample value for a message, cut to its first characters (ingest/shown.py): None for NULL."""
    if _null(value):
        return None
    return cut(str(value), None if _null(length) else int(length))


def _in_range(stat: Any) -> bool:
    """A Parquet statistic of a time column ('2024-01-31 10:00:00', '9999-12-31', '0044-03-15
    (BC)', '2024-01-01 08:00:00+00') inside TIME_RANGE; False when it cannot be told."""
    text = str(stat or "")
    year = text.split("-", 1)[0]
    if len(year) != 4 or not year.isdigit() or "(BC)" in text:
        return False
    return TIME_RANGE[0][:4] <= year < TIME_RANGE[1][:4]


def _from_parquet_statistics(engine: Engine, src: Source, parsed: Parsed) -> dict[str, Any] | None:
    """The validation counts read from Parquet footers instead of a scan, when the statistics settle
    every check: the row count; no NULLs in the role columns; and no blank text, because every
    row group's minimum is >= '!' (text compares byte-wise, so no value is empty or starts with a
    blank, and a blank value is all blanks). None when a check needs the data (text timestamps or
    revenue, event ids, other types, missing statistics)."""
    if engine.name != "duckdb" or src.kind != "parquet":
        return None
    raw = parsed.table
    need: dict[str, bool] = {}  # source column -> must its minimum be >= '!'
    ranged: set[str] = set()  # time columns whose minimum and maximum must be in TIME_RANGE
    for check, col in checks_for(parsed):
        t = raw[col].type()
        if check.code in ("HG401", "HG402"):
            if not (t.is_integer() or t.is_string()):
                return None
            need[col] = need.get(col, False) or t.is_string()
        elif check.code == "HG403":
            need.setdefault(col, False)
        elif check.code == "HG412":
            if not (t.is_timestamp() or t.is_date()):
                return None
            ranged.add(col)
            need.setdefault(col, False)
        else:  # HG404 (a time that cannot be read), HG405 (revenue that is not a number)
            time_ok = t.is_timestamp() or t.is_date()
            if not (time_ok if check.code == "HG404" else t.is_numeric() or t.is_boolean()):
                return None
    if "event_id" in parsed.roles.columns:
        return None
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in src.paths) + "]"
    with translated(src.name):
        meta = engine.con.con.execute(
            "SELECT file_name, row_group_id, any_value(row_group_num_rows), "
            "list({'col': path_in_schema, 'nulls': stats_null_count, 'min': stats_min_value, "
            "'max': stats_max_value}) "
            f"FROM parquet_metadata({files}) GROUP BY file_name, row_group_id"
        ).fetchall()
    rows = 0
    for _, _, n, columns in meta:
        rows += int(n)
        stats = {c["col"]: c for c in columns}
        for col, text in need.items():
            st = stats.get(col)
            if st is None or st["nulls"] is None or int(st["nulls"]) != 0:
                return None
            if text and int(n) > 0 and (st["min"] is None or not str(st["min"]) >= "!"):
                return None
            if col in ranged and int(n) > 0 and not (_in_range(st["min"]) and _in_range(st["max"])):
                return None
    if not meta:
        return None
    return {"rows": rows, **{c.code: 0 for c, _ in checks_for(parsed)}}


def validate_source(
    engine: Engine,
    source: Any,
    mapping: ColumnMapping | None = None,
    *,
    table: str | None = None,
    samples: int = 5,
) -> tuple[ValidationReport, Parsed]:
    """Every problem of the source at once (counts, and the first rows of each)."""
    mapping = mapping or ColumnMapping()
    src, parsed = _open(engine, source, mapping, table)
    counts = _from_parquet_statistics(engine, src, parsed)
    if counts is None:
        with translated(src.name):
            counts = engine.con.execute(count_expr(parsed)).iloc[0].to_dict()
    problems = []
    checks = [(c, col) for c, col in checks_for(parsed) if int(counts.get(c.code, 0) or 0) > 0]
    if checks:
        num = numbered(parsed)
        for check, col in checks:
            with translated(src.name):
                rows = engine.con.execute(samples_expr(parsed, check, col, num, samples))
            files = [str(f) for f in rows["file"]] if "file" in rows.columns else []
            problems.append(
                Problem(
                    code=check.code,
                    column=col,
                    what=check.what,
                    count=int(counts[check.code]),
                    samples=[
                        (int(r), _text(v, n))
                        for r, v, n in zip(rows["row"], rows["value"], rows["length"], strict=True)
                    ],
                    hint=check.hint,
                    files=files,
                )
            )
    dupes = 0
    if "event_ids" in counts:
        dupes = int(counts["with_event_id"]) - int(counts["event_ids"])
    lines = source_lines(engine, src, problems) if problems and src.kind in ("csv", "jsonl") else {}
    report = ValidationReport(
        source=src.name,
        kind=src.kind,
        rows=int(counts["rows"]),
        roles=dict(parsed.roles.columns),
        problems=problems,
        duplicates_collapsed=dupes,
        lines=lines,
        time_unit=parsed.roles.time_unit,
    )
    return report, parsed


def load_events(
    engine: Engine,
    source: Any,
    mapping: ColumnMapping | None = None,
    *,
    table: str | None = None,
    validate: bool = True,
) -> Events:
    """The canonical, deduplicated events of ``source``; raises DataError if validation fails. An
    hourglass store (engine/event_store.py) is read as it was written, without validation."""
    from hourglass.engine.event_store import open_store

    if isinstance(source, str | os.PathLike):
        stored = open_store(engine, resolve_source(source, table=table), mapping)
        if stored is not None:
            return stored
    if validate:
        report, parsed = validate_source(engine, source, mapping, table=table)
        if not report.ok:
            first = report.problems[0]
            raise DataError(
                report.describe(),
                code=first.code,
                hint="fix the rows above (nothing is dropped silently); "
                "'hourglass validate SOURCE' lists every problem",
            )
    else:
        src, parsed = _open(engine, source, mapping or ColumnMapping(), table)
        report = ValidationReport(source=src.name, kind=src.kind, rows=-1, roles=dict(parsed.roles.columns))
    keyed = None
    if integer_customers(parsed) and "event_id" not in parsed.roles.columns:
        keyed = canonical(parsed, integer_key=True)
    return Events(dedupe(canonical(parsed)), engine, report, keyed)
