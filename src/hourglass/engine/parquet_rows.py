"""The rows of a model's event names read from ONE local Parquet file by pyarrow, per row group in
threads (issue 18, the `wide` shape): DuckDB's scan and fetch of the matched rows alone cost what
chdb's whole query costs (10M `wide`: 0.65 s / 1.09 CPU-s against chdb's paths stage 0.71 / 1.05,
quiet), and no DuckDB form of the scan gets under it (bench/WIDE.md, sessions 7-8).

Each row group's three columns are read by pyarrow (which releases the GIL: the row groups in
threads; a chunk of dictionary pages as a dictionary, looked up once); the names are looked up
in the event column by engine/parquet_names.py (a raw value with a *blank edge* canonicalised
exactly as engine/raw_step.py's SQL does). The same rows and positions as raw_step's CASE
(tests/test_parquet_rows.py compares them with DuckDB's form on seeded files).

Only for a source that is exactly one local Parquet file read whole by DuckDB's ``read_parquet``
(no options, no glob), whose keyed table's ``customer``, ``timestamp`` and raw ``event`` are that
file's columns one-to-one (no filter, no deduplication), with integer customers, a timestamp in
µs or ms and a text event, as many rows as validation counted, from ``ARROW_MIN_ROWS``. Else
:func:`parquet_source` or :func:`name_rows` answers None and the callers keep DuckDB's form (also
for a file pyarrow cannot read: DuckDB's form raises its errors).
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import ibis.expr.operations as ops
import numpy as np

from hourglass.engine._arrow import int_dtype, int_view
from hourglass.engine._pages import small_pages
from hourglass.engine.parquet_names import Names, indices, trimmed
from hourglass.engine.raw_names import _canonical_event
from hourglass.ingest.normalize import strip

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

    from hourglass.engine.load import Events

T = TypeVar("T")

__all__ = [
    "ARROW_MIN_ROWS",
    "ARROW_READER",
    "NameRows",
    "ParquetColumns",
    "name_parts",
    "name_rows",
    "parquet_source",
    "trimmed",
]

#: the pyarrow reader on (off: DuckDB's form, for comparisons)
ARROW_READER = True
#: the fewest validated events it reads: below, DuckDB's form takes milliseconds and a small file's
#: analysis imports no pyarrow (issue 11); tests lower it
ARROW_MIN_ROWS = 1_000_000

#: DuckDB's view of a file read whole: ``read_parquet`` of one path, no options
_VIEW = re.compile(
    r"\ACREATE TEMP VIEW \S+ AS SELECT \* FROM read_parquet\(main\.list_value\('((?:[^']|'')*)'\)\);\Z"
)


@dataclass(frozen=True)
class ParquetColumns:
    """The file and its columns behind the keyed table's ``customer``, ``timestamp``, raw ``event``."""

    path: str
    customer: str
    timestamp: str
    event: str


@dataclass(frozen=True)
class NameRows:
    """The rows whose canonical event is one of the names: ``c`` (integer customer), ``ts`` (µs),
    ``pos`` (1-based position in the names), in file order; ``complete`` False when a kept row's
    customer or time is null (then ``c`` and ``ts`` are empty, ``pos`` still every kept row's)."""

    c: npt.NDArray[Any]
    ts: npt.NDArray[np.int64]
    pos: npt.NDArray[np.int32]
    complete: bool = True


def _base_column(value: ops.Value, base: ops.Relation) -> str | None:
    """The column of ``base`` that ``value`` is, through projections' plain fields; else None."""
    while isinstance(value, ops.Field):
        rel = value.rel
        if rel is base:
            return str(value.name)
        if not isinstance(rel, ops.Project):
            return None
        value = rel.values[value.name]
    return None


def parquet_source(events: Events) -> ParquetColumns | None:
    """The file and columns when the pyarrow reader applies to ``events`` (module doc), else None."""
    keyed = events.keyed
    if not ARROW_READER or keyed is None or events.engine.name != "duckdb":
        return None
    if (
        events.report.kind != "parquet"
        or events.codes is not None
        or events.report.rows < max(ARROW_MIN_ROWS, 1)
    ):
        return None
    fp = events.fingerprint
    if fp is None or len(fp.files) != 1:
        return None
    found = _canonical_event(keyed)
    if found is None or not isinstance(found[0].rel, ops.DatabaseTable):
        return None
    field, expr = found
    if expr != strip(field.to_expr()).nullif("").op():
        return None
    base = field.rel
    op = keyed.op()
    if not isinstance(op, ops.Project) or not {"customer", "timestamp"} <= set(op.values):
        return None
    c, t = op.values["customer"], op.values["timestamp"]
    if not c.dtype.is_integer() or not t.dtype.is_timestamp():
        return None
    customer, stamp = _base_column(c, base), _base_column(t, base)
    if customer is None or stamp is None or not _one_to_one(keyed, base):
        return None
    path = _view_path(events, str(base.name))
    if path is None or not os.path.isfile(path) or os.path.realpath(path) != os.path.realpath(fp.files[0][0]):
        return None
    if any("=" in part for part in os.path.dirname(path).split(os.sep)):
        return None  # a hive partition's directory: DuckDB may add or override columns from it
    return ParquetColumns(path, customer, stamp, str(field.name))


def _one_to_one(keyed: Any, base: ops.Relation) -> bool:
    """Only projections between the keyed table and the file's relation (no filter, no join)."""
    op = keyed.op()
    while isinstance(op, ops.Project):
        op = op.parent
    return op is base


def _view_path(events: Events, view: str) -> str | None:
    raw = events.engine.con.con
    name = view.replace("'", "''")  # (not a bound parameter: DuckDB's binding imports pandas)
    got = raw.execute(f"SELECT sql FROM duckdb_views() WHERE view_name = '{name}'").fetchall()
    if len(got) != 1:
        return None
    m = _VIEW.match(str(got[0][0]).strip())
    return m.group(1).replace("''", "'") if m else None


#: a row group's event chunk is read as a dictionary when its dictionary page is under this share
#: of the chunk's bytes (every page dictionary-encoded: a few names); a chunk whose dictionary grew
#: large fell back to PLAIN pages, which pyarrow would hash into a dictionary again (10M `wide`:
#: 2.5 CPU-s against 0.3 read as text). A choice of cost only: both reads give the same values.
_DICTIONARY_SHARE = 0.125


def _as_dictionary(meta: Any, i: int, column: str) -> bool:
    rg = meta.row_group(i)
    for j in range(rg.num_columns):
        chunk = rg.column(j)
        if chunk.path_in_schema == column:
            if not chunk.has_dictionary_page or chunk.dictionary_page_offset is None:
                return False
            page = chunk.data_page_offset - chunk.dictionary_page_offset
            return bool(0 < page < _DICTIONARY_SHARE * chunk.total_compressed_size)
    return False


def _group(
    cols: ParquetColumns, i: int, names: Names
) -> tuple[npt.NDArray[np.int32], npt.NDArray[Any] | None, npt.NDArray[np.int64] | None]:
    import pyarrow.parquet as pq

    plain = pq.ParquetFile(cols.path)
    pf = (
        pq.ParquetFile(cols.path, read_dictionary=[cols.event])
        if _as_dictionary(plain.metadata, i, cols.event)
        else plain
    )
    t = pf.read_row_group(i, columns=[cols.customer, cols.timestamp, cols.event], use_threads=False)
    keeps, poss, start = [], [], 0
    for a in t.column(cols.event).chunks:
        rows, vals = names.chunk(a)
        keeps.append(rows + start if start else rows)
        poss.append(vals)
        start += len(a)
    keep = (keeps[0] if len(keeps) == 1 else np.concatenate(keeps)) if keeps else np.zeros(0, np.int64)
    pos = (poss[0] if len(poss) == 1 else np.concatenate(poss)) if poss else np.zeros(0, np.int32)
    c_all, ts_all = t.column(cols.customer), t.column(cols.timestamp)
    if c_all.num_chunks == 1 and ts_all.num_chunks == 1 and not c_all.null_count and not ts_all.null_count:
        # one chunk each, no null: the kept rows gathered by numpy from the chunks' buffers
        # (pyarrow's take and a copy of its result: ~0.8 ms a row group more)
        c, ts = np.take(_numbers(c_all, copy=False), keep), np.take(_numbers(ts_all, copy=False), keep)
        ts_unit = ts_all.type.unit
    else:
        c_col, ts_col = c_all.take(indices(keep)), ts_all.take(indices(keep))
        if c_col.null_count or ts_col.null_count:
            return pos, None, None
        c, ts, ts_unit = _numbers(c_col), _numbers(ts_col), ts_col.type.unit
    ts = ts.view(np.int64)
    if ts_unit == "ms":
        ts = ts * 1000
    return pos, c, ts


def _numbers(col: Any, copy: bool = True) -> npt.NDArray[Any]:
    """A chunked array of integers or times without nulls as one numpy array (from the buffers:
    pyarrow's ``to_numpy`` of a chunked array imports pandas); ``copy`` False: one chunk's is a
    read-only view of its buffer."""
    parts = [int_view(a) for a in col.chunks if len(a)]
    if not copy and len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, int_dtype(col.type))


def _types_ok(schema: Any, cols: ParquetColumns) -> bool:
    import pyarrow as pa

    try:
        c, t, e = (schema.field(n).type for n in (cols.customer, cols.timestamp, cols.event))
    except KeyError:
        return False
    return (
        pa.types.is_integer(c)
        and pa.types.is_timestamp(t)
        and t.unit in ("us", "ms")
        and (pa.types.is_string(e) or pa.types.is_large_string(e))
    )


def name_parts(
    events: Events,
    cols: ParquetColumns,
    names: list[str],
    each: Callable[[npt.NDArray[np.int32], npt.NDArray[Any] | None, npt.NDArray[np.int64] | None], T],
) -> list[T] | None:
    """``each(pos, c, ts)`` of every row group's rows of ``names`` (each its own canonical form:
    engine/raw_step.py ``plain_name``), in the reader's thread, in row group order (``c`` and ``ts``
    None when a kept row's customer or time is null); None when the file's schema or row count is
    not what the reader handles."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(cols.path)
        meta = pf.metadata
        if meta.num_rows != events.report.rows or not _types_ok(pf.schema_arrow, cols):
            return None
        groups = meta.num_row_groups
        workers = max(1, min(os.cpu_count() or 1, groups))
        with small_pages(), ThreadPoolExecutor(workers) as pool:
            looked = Names(names)
            return list(pool.map(lambda i: each(*_group(cols, i, looked)), range(groups)))
    except (pa.ArrowException, OSError, ValueError):
        # a file pyarrow cannot read (damaged, changed, another writer's form): DuckDB's form
        # reads it and raises its errors (engine/parquet.py: HG206 naming the file), as before
        return None


def name_rows(events: Events, cols: ParquetColumns, names: list[str]) -> NameRows | None:
    """The rows of ``names`` (each its own canonical form: engine/raw_step.py ``plain_name``) in
    the file, or None when its schema or row count is not what the reader handles."""
    got = name_parts(events, cols, names, lambda pos, c, ts: (pos, c, ts))
    if got is None:
        return None
    pos = np.concatenate([g[0] for g in got]) if got else np.zeros(0, np.int32)
    if any(g[1] is None or g[2] is None for g in got):
        none = np.zeros(0, np.int64)
        return NameRows(none, none, pos, complete=False)
    c = np.concatenate([g[1] for g in got if g[1] is not None])
    ts = np.concatenate([g[2] for g in got if g[2] is not None]).astype(np.int64, copy=False)
    return NameRows(c, ts, pos)
