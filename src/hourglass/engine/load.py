"""Loading a source: open, resolve roles, parse, validate (one aggregate query), canonicalise."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.backends.sql.datatypes import DuckDBType

from hourglass.engine._values import plain_records
from hourglass.engine.errors import translated
from hourglass.engine.file_checks import reading, without_bom
from hourglass.engine.parquet import check_parquet_frames, read_every_value
from hourglass.engine.parquet import from_parquet_statistics as _from_parquet_statistics
from hourglass.engine.session import Engine
from hourglass.engine.snapshot import Fingerprint, fingerprint, watch
from hourglass.engine.text_checks import (
    check_csv_files,
    empty_text_files,
    one_column_csv,
    repeated_csv_names,
    source_lines,
    unsniffable_csv,
)
from hourglass.ingest.normalize import (
    Parsed,
    canonical,
    dedupe,
    integer_customers,
    looks_like_date_digits,
    parse,
)
from hourglass.ingest.roles import resolve_roles
from hourglass.ingest.shown import cut
from hourglass.ingest.sources import (
    FILE_COLUMN,
    READ_ONCE_BYTES,
    Source,
    _read_csv_sql,
    describe_csv,
    is_read_once,
    open_source,
    resolve_source,
    source_bytes,
    temp_table,
)
from hourglass.ingest.validate import (
    Check,
    Problem,
    ValidationReport,
    checks_for,
    count_expr,
    notes_for,
    numbered,
    samples_expr,
)
from hourglass.model.errors import DataError, HourglassError
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
    #: the source's files before they were read, when every query reads them again (not a snapshot)
    fingerprint: Fingerprint | None = None

    def check_unchanged(self) -> None:
        """HG209 when a file of the source changed since it was validated (engine/snapshot.py):
        call it when a result is complete, before showing it."""
        if self.fingerprint is not None:
            self.fingerprint.check()


def _open(
    engine: Engine, source: Any, mapping: ColumnMapping, table: str | None, *, once: bool = False
) -> tuple[Source, Parsed]:
    """The parsed source (:func:`_open_watched` without the fingerprint)."""
    src, parsed, _ = _open_watched(engine, source, mapping, table, once=once)
    return src, parsed


def _open_watched(
    engine: Engine, source: Any, mapping: ColumnMapping, table: str | None, *, once: bool = False
) -> tuple[Source, Parsed, Fingerprint | None]:
    """The parsed source, and the fingerprint of its files when its queries read them again (not a
    snapshot: engine/snapshot.py). ``once``: a small CSV or JSON-lines file is read and parsed into
    memory (for a validated load: every query reads it; not for the SQL of --show-sql, which names
    the source's columns)."""
    src = without_bom(resolve_source(source, table=table))
    fp = fingerprint(src)  # before the first read
    empty_text_files(src)
    check_parquet_frames(src)
    # a CSV on DuckDB: its columns from one sniff, then one read with the role columns as text
    csv_duckdb = src.kind == "csv" and engine.name == "duckdb"
    # a small text file on DuckDB, for a validated load: read and parsed into memory in one pass (a
    # snapshot: validation and every query of the analysis read the same rows)
    size = source_bytes(src) if src.kind in ("csv", "jsonl") and engine.name == "duckdb" else None
    snapshot = once and size is not None and size <= READ_ONCE_BYTES
    with reading(src):
        try:
            if csv_duckdb:
                types = describe_csv(engine.con, src)
            else:
                raw = open_source(engine.con, src)
                types = {c: str(t) for c, t in raw.schema().items()}
        except Exception as e:
            if csv_duckdb and "sniffing file" in str(e):
                unsniffable_csv(engine, src)  # the lines whose fields differ from the header's
            raise
        names = [c for c in types if c != FILE_COLUMN]  # the file of each row (several files)
        if csv_duckdb:
            one_column_csv(engine, src, names)
            repeated_csv_names(engine, src, names)
        roles = resolve_roles(names, mapping, source=src.name)
        if src.kind in ("csv", "jsonl") and engine.name == "duckdb":
            # role columns are read as text so bad values reach validation (a JSON reader types a
            # column from a sample: a bad time past it fails the read); epoch numbers stay numbers
            time_type = types[roles.columns["timestamp"]]
            numeric_time = (
                DuckDBType.from_string(time_type) if csv_duckdb else raw.schema()[roles.columns["timestamp"]]
            ).is_numeric()
            text = tuple(
                roles.columns[r]
                for r in ("customer", "timestamp", "revenue", "event_id", "referrer", "event", "channel")
                if r in roles.columns and not (r == "timestamp" and numeric_time)
            )
            try:
                if csv_duckdb and snapshot:  # the file's rows as a query: only the parse is kept
                    raw = _csv_query(engine, src, types, text)
                elif csv_duckdb:
                    raw = open_source(engine.con, src, text_columns=text, once=True)
                else:
                    raw = open_source(engine.con, src, text_columns=text, schema=raw.schema())
            except Exception:
                if src.kind == "csv":
                    check_csv_files(engine, src)  # which file cannot be read like the first, if one
                raise
        json_text = src.kind == "jsonl" and engine.name == "duckdb"
        digits = _date_digits(engine, raw, roles.columns["timestamp"])
        parsed = parse(
            raw, roles, source=src.name, backend=engine.name, json_text=json_text, date_digits=digits
        )
        if snapshot:  # one read of the file, parsed into memory
            try:
                table = temp_table(engine.con, str(engine.con.compile(parsed.table)))
            except Exception:
                if src.kind == "csv":
                    check_csv_files(engine, src)
                raise
            parsed = dataclasses.replace(parsed, table=table)
        return src, parsed, None if is_read_once(parsed.table) else fp


def _csv_query(engine: Engine, src: Source, types: dict[str, str], text: tuple[str, ...]) -> ir.Table:
    """A CSV source's rows as a query over the file (not materialised): its columns' types as
    sniffed (``types``), the ``text`` columns as strings."""
    mapper = engine.con.compiler.type_mapper
    schema = ibis.schema(
        {c: dt.string if c in text else mapper.from_string(t, nullable=True) for c, t in types.items()}
    )
    sql = f"SELECT * FROM {_read_csv_sql(src, text)}"
    query: ir.Table = ops.SQLQueryResult(query=sql, schema=schema, source=engine.con).to_expr()
    return query


def _date_digits(engine: Engine, raw: ir.Table, column: str) -> bool:
    """Whether the numeric time ``column`` holds YYYYMMDD dates (ingest/normalize.py, DATE_DIGITS),
    decided by its first 1,000 rows (at least half of them such dates) as a reader guesses a type:
    then every value must be one (validation lists the others, HG404), so that one typo never turns
    the column into 1970."""
    if not raw[column].type().is_numeric():
        return False
    (row,) = plain_records(engine, looks_like_date_digits(raw, column, 1000))
    return bool(row["dates"])


#: A CSV up to this size (about 100k events) is read, parsed and checked on one DuckDB thread: its
#: rows fit in one of DuckDB's row groups, and more threads only wait for each other (2-3x slower on
#: a busy 2-CPU machine; bench/README.md, "Small data").
ONE_THREAD_BYTES = 8 * 2**20


@contextlib.contextmanager
def _one_thread(engine: Engine, source: Any, table: str | None) -> Iterator[None]:
    """Run the block on one DuckDB thread when ``source`` is a small CSV (then the setting is put
    back); otherwise as it is."""
    small = False
    if engine.name == "duckdb" and isinstance(source, str | os.PathLike):
        try:
            src = resolve_source(source, table=table)
        except HourglassError:
            src = None  # its error comes from the load itself
        size = source_bytes(src) if src is not None and src.kind == "csv" else None
        small = size is not None and size <= ONE_THREAD_BYTES
    if not small:
        yield
        return
    raw = engine.con.con
    (before,) = raw.execute("SELECT current_setting('threads')").fetchone() or (None,)
    raw.execute("SET threads = 1")
    try:
        yield
    finally:
        if before is not None:
            raw.execute(f"SET threads = {int(before)}")


def _null(value: Any) -> bool:
    """SQL NULL as pandas gives it (NaN or None)."""
    return value is None or (isinstance(value, float) and value != value)


def _text(value: Any, length: Any = None) -> str | None:
    """A sample value for a message, cut to its first characters (ingest/shown.py): None for NULL."""
    if _null(value):
        return None
    return cut(str(value), None if _null(length) else int(length))


def validate_source(
    engine: Engine,
    source: Any,
    mapping: ColumnMapping | None = None,
    *,
    table: str | None = None,
    samples: int = 5,
) -> tuple[ValidationReport, Parsed]:
    """Every problem of the source at once (counts, and the first rows of each); HG209 when a file
    of it changed while it was read."""
    with _one_thread(engine, source, table):
        report, parsed, _src, fp = _validate(
            engine, source, mapping or ColumnMapping(), table, samples, thorough=True
        )
    if fp is not None:
        fp.check()
    return report, parsed


def _validate(
    engine: Engine,
    source: Any,
    mapping: ColumnMapping,
    table: str | None,
    samples: int,
    *,
    thorough: bool = False,
) -> tuple[ValidationReport, Parsed, Source, Fingerprint | None]:
    """The report, the parsed source, the source and its fingerprint (engine/snapshot.py).
    ``thorough`` (``hourglass validate``): every value of a Parquet source is read, not only the
    footers' statistics, so that "ok" vouches for every page an analysis may read."""
    src, parsed, fp = _open_watched(engine, source, mapping, table, once=True)
    counts = None if thorough else _from_parquet_statistics(engine, src, parsed)
    if thorough:
        read_every_value(engine, src)
    if counts is None:
        with reading(src):
            counts = plain_records(engine, count_expr(parsed, engine.name))[0]
    num = numbered(parsed)

    def found(checks: list[tuple[Check, str]]) -> list[Problem]:
        out = []
        for check, col in checks:
            n = int(counts.get(check.code, 0) or 0)
            if n > 0:
                with reading(src):
                    rows = plain_records(engine, samples_expr(parsed, check, col, num, samples))
                hint = check.hint
                if check.code == "HG404" and parsed.date_digits:
                    hint = (
                        "most of the column's first values are dates written as YYYYMMDD (20240131), "
                        "so it is read as such dates: write these values that way too (or give the "
                        "column ISO 8601 text, or epoch numbers only)"
                    )
                if check.code == "future":
                    hint += f": {_text(counts.get('last_time'))}; give --as-of, or fix these rows"
                out.append(
                    Problem(
                        code=check.code,
                        column=col,
                        what=check.what,
                        count=n,
                        samples=[(int(r["row"]), _text(r["value"], r["length"])) for r in rows],
                        hint=hint,
                        files=[str(r["file"]) for r in rows if "file" in r],
                    )
                )
        return out

    problems = found(checks_for(parsed))
    notes = found(notes_for(parsed, engine.name))
    dupes = 0
    if "event_ids" in counts:
        dupes = int(counts["with_event_id"]) - int(counts["event_ids"])
    listed = problems + notes
    lines = source_lines(engine, src, listed) if listed and src.kind in ("csv", "jsonl") else {}
    remarks = []
    if parsed.date_digits:
        column = parsed.roles.columns["timestamp"]
        remarks.append(
            f"column '{column}' holds integers read as YYYYMMDD dates (20240131 is 2024-01-31), "
            "not epoch numbers"
        )
    report = ValidationReport(
        source=src.name,
        kind=src.kind,
        rows=int(counts["rows"]),
        roles=dict(parsed.roles.columns),
        problems=problems,
        duplicates_collapsed=dupes,
        lines=lines,
        time_unit=parsed.roles.time_unit,
        notes=notes,
        remarks=remarks,
    )
    return report, parsed, src, fp


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
    with _one_thread(engine, source, table):
        return _load(engine, source, mapping, table, validate)


def _load(
    engine: Engine, source: Any, mapping: ColumnMapping | None, table: str | None, validate: bool
) -> Events:
    if validate:
        report, parsed, src, fp = _validate(engine, source, mapping or ColumnMapping(), table, 5)
        if fp is not None:  # analysed again by every query: checked now and when a result is done
            fp.check()
        watch(fp, src)  # and a damaged Parquet page an analysis meets is named (snapshot.watching)
        if not report.ok:
            first = report.problems[0]
            raise DataError(
                report.describe(),
                code=first.code,
                hint="fix the rows above (nothing is dropped silently); "
                "'hourglass validate SOURCE' lists every problem",
            )
    else:
        src, parsed, fp = _open_watched(engine, source, mapping or ColumnMapping(), table)
        report = ValidationReport(source=src.name, kind=src.kind, rows=-1, roles=dict(parsed.roles.columns))
    keyed = None
    if integer_customers(parsed) and "event_id" not in parsed.roles.columns:
        keyed = canonical(parsed, integer_key=True)
    canon: ir.Table = dedupe(canonical(parsed))
    if is_read_once(parsed.table):  # the canonical events once, for every analysis that reads them
        with translated(report.source):
            canon = temp_table(engine.con, str(engine.con.compile(canon)))
            if keyed is not None:
                keyed = temp_table(engine.con, str(engine.con.compile(keyed)))
    elif engine.name in ("postgres", "clickhouse"):  # a server: the canonical events once, not per query
        with translated(report.source):
            canon = canon.cache()  # a TEMPORARY table of the connection, nothing in the user's database
            if keyed is not None:
                keyed = keyed.cache()
    return Events(canon, engine, report, keyed, fingerprint=fp)
