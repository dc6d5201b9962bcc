"""The rows of a segment's records as one Arrow table, for compaction (compact.py): read by pyarrow's
JSON reader (C++; a segment of 200,000 events in well under a second), checked column by column, with
the rows compaction cannot write set apart, never dropped.

A row is written when it has every required field and each field has the schema's type, and when the
store writer will accept it (ingest/validate.py): a customer and an event that are not blank, a time
in 1900-2199, a finite revenue, no NUL byte in a text (no SQL text can hold it: the store's ENUM of
event names), a project that names a directory. One row the store refused would stop every refresh
of its project's store; set apart it is only reported (HG450)."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

from hourglass.interfaces.server.dataset import COLUMNS, schema

__all__ = ["RAW_TIMES", "raw_schema", "rows_table"]

REQUIRED = ("event_id", "project", "customer", "event", "timestamp", "received_at")
#: the columns held as integer microseconds in the log (TIMESTAMP in the Parquet files)
RAW_TIMES = ("timestamp", "received_at")
_NOT_BLANK = ("customer", "event", "project", "event_id")
_LOW = -2_208_988_800_000_000  # 1900-01-01 in µs
_HIGH = 7_258_118_400_000_000  # 2200-01-01


def raw_schema() -> Any:
    """The Parquet schema with the times as integer microseconds (as the log holds them)."""
    import pyarrow as pa

    return pa.schema([pa.field(c, pa.int64()) if c in RAW_TIMES else schema().field(c) for c in COLUMNS])


def _fast(payloads: Sequence[bytes]) -> Any:
    """The records' rows by pyarrow's JSON reader; None when a value does not fit the schema (the
    slow path then finds the rows)."""
    import pyarrow as pa
    import pyarrow.json as pj

    wrapped = pa.schema([pa.field("r", pa.list_(pa.struct(list(raw_schema()))))])
    data = b"".join(b'{"r":' + p + b"}\n" for p in payloads)  # a record's JSON has no raw line break
    longest = max(len(p) for p in payloads) + 8
    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(block_size=max(1 << 22, 2 * longest)),
            parse_options=pj.ParseOptions(explicit_schema=wrapped, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    parts = [pa.Table.from_struct_array(chunk.flatten()) for chunk in table.column("r").chunks]
    return pa.concat_tables(parts).select(list(COLUMNS)) if parts else raw_schema().empty_table()


def _writable_mask(table: Any) -> Any:
    import pyarrow.compute as pc

    ok = pc.is_valid(table.column(REQUIRED[0]))
    for col in REQUIRED[1:]:
        ok = pc.and_(ok, pc.is_valid(table.column(col)))
    for col in _NOT_BLANK:
        ok = pc.and_(ok, pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(table.column(col))), 0))
    for field in table.schema:
        if field.name not in RAW_TIMES and field.name != "revenue":
            nul = pc.fill_null(pc.match_substring(table.column(field.name), "\x00"), False)
            ok = pc.and_(ok, pc.invert(nul))
    stamp = table.column("timestamp")
    ok = pc.and_(ok, pc.and_(pc.greater_equal(stamp, _LOW), pc.less(stamp, _HIGH)))
    ok = pc.and_(ok, pc.greater_equal(table.column("received_at"), 0))
    revenue = table.column("revenue")
    ok = pc.and_(ok, pc.fill_null(pc.is_finite(revenue), True))
    project = table.column("project")
    for bad in ("/", "\\"):
        ok = pc.and_(ok, pc.invert(pc.match_substring(project, bad)))
    for bad in (".", "_"):
        ok = pc.and_(ok, pc.invert(pc.starts_with(project, bad)))
    return pc.fill_null(ok, False)


def _writable(row: Any) -> bool:
    """The same checks as :func:`_writable_mask`, on one row of the slow path."""
    if not isinstance(row, dict) or any(row.get(k) is None for k in REQUIRED):
        return False
    for col in COLUMNS:
        value = row.get(col)
        if value is None:
            continue
        if col in RAW_TIMES:
            ok = type(value) is int and (_LOW <= value < _HIGH if col == "timestamp" else value >= 0)
        elif col == "revenue":
            ok = type(value) in (int, float) and math.isfinite(value)
        else:
            ok = type(value) is str and "\x00" not in value and _encodable(value)
        if not ok or (col in _NOT_BLANK and not value.strip()):
            return False
    project = row["project"]
    return not any(c in project for c in "/\\") and not project.startswith((".", "_"))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def rows_table(payloads: Sequence[bytes]) -> tuple[Any, list[Any]]:
    """(the writable rows of the records ``payloads`` as an Arrow table of :func:`raw_schema`, in log
    order; the other rows, as they were logged)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not payloads:
        return raw_schema().empty_table(), []
    table = _fast(payloads)
    if table is not None:
        mask = _writable_mask(table)
        if pc.all(mask).as_py():
            return table, []
        return table.filter(mask), table.filter(pc.invert(mask)).to_pylist()
    rows: list[Any] = [row for p in payloads for row in _loads(p)]
    good = [r for r in rows if _writable(r)]
    bad = [r for r in rows if not _writable(r)]
    columns = {c: [r.get(c) for r in good] for c in COLUMNS}
    return pa.table(columns, schema=raw_schema()), bad


def _loads(payload: bytes) -> list[Any]:
    try:
        rows = json.loads(payload)
    except ValueError:  # a record the log checked but whose JSON is not readable: keep it as text
        return [{"unreadable_record": payload.decode("utf-8", "replace")}]
    return rows if isinstance(rows, list) else [rows]
