"""The rows of a model's event names read from ONE local Parquet file by pyarrow, per row group in
threads (issue 18, the `wide` shape): DuckDB's scan and fetch of the matched rows alone cost what
chdb's whole query costs (10M `wide`: 0.65 s / 1.09 CPU-s against chdb's paths stage 0.71 / 1.05,
quiet), and no DuckDB form of the scan gets under it (bench/WIDE.md, sessions 7-8).

Each row group's three columns are read by pyarrow (which releases the GIL: the row groups in
threads; a chunk of dictionary pages as a dictionary, looked up once); the rows whose (first byte,
length) some name has are looked up by ``pc.index_in``; the rare rows with a *blank edge*
(ingest/normalize.py ``blank_edge``, told from the string array's offsets and bytes in numpy) are
canonicalised exactly as engine/raw_step.py's SQL does (RE2's ``^\\s+|\\s+$``: ``[\\t\\n\\f\\r ]``,
not ``\\v``; then NULLIF '') and looked up on their trimmed text. The same rows and positions as
raw_step's CASE (tests/test_parquet_rows.py compares them with DuckDB's form on seeded files).

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
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import ibis.expr.operations as ops
import numpy as np

from hourglass.engine._pages import small_pages
from hourglass.engine.raw_names import _canonical_event
from hourglass.ingest.normalize import EDGE_SPACE, strip

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
#: engine/raw_step.py's trim (DuckDB's RE2: ``\s`` is [\t\n\f\r ], no \v; ``$`` the end only)
_TRIM = re.compile(r"\A[\t\n\f\r ]+|[\t\n\f\r ]+\Z")


def trimmed(raw: str) -> str | None:
    """The canonical event of a raw value with a blank edge, as engine/raw_step.py's SQL computes it."""
    return _TRIM.sub("", raw) or None


def _blank_edge(raw: str) -> bool:
    """ingest/normalize.py ``blank_edge`` of one value (a first character <= ' ' is a first byte
    <= 0x20 in UTF-8, as DuckDB's byte-wise ``s < '!'``)."""
    return raw == "" or raw[0] <= " " or raw.endswith(EDGE_SPACE)


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


class _Names:
    """The names looked up: pyarrow's value set, each name's 1-based position, and a gate of
    (first byte, byte length) pairs that some name has (a value outside it is no name: only the
    values inside it are hashed by ``pc.index_in``; 10M `wide`: 0.25 -> ~0.1 CPU-s)."""

    def __init__(self, names: list[str]) -> None:
        import pyarrow as pa

        raw = [n.encode() for n in names]
        ends = np.cumsum([0, *(len(b) for b in raw)], dtype=np.int32)
        # from buffers: ``pa.array`` of a list imports pandas (~0.3 s of a fresh process)
        self.value_set = pa.Array.from_buffers(
            pa.string(), len(raw), [None, pa.py_buffer(ends.tobytes()), pa.py_buffer(b"".join(raw))]
        )
        self.lookup = {n: k for k, n in enumerate(names, start=1)}
        self.width = max((len(b) for b in raw), default=0) + 2  # the last column: longer than any
        gate = np.zeros((256, self.width), dtype=np.bool_)
        for b in raw:
            if b:
                gate[b[0], len(b)] = True
        self.gate = gate.ravel()

    def positions(self, arr: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """The rows of the string array ``arr`` whose value is a name (in order) and each one's
        1-based name position."""
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(arr)
        bufs = arr.buffers()
        width = np.dtype(np.int64 if pa.types.is_large_string(arr.type) else np.int32)
        off: npt.NDArray[Any] = np.frombuffer(
            bufs[1], dtype=width, count=n + 1, offset=arr.offset * width.itemsize
        )
        data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
        valid = _valid(arr) if arr.null_count else None
        if len(data):
            rows, rare = self._scan(off, data, valid)
        else:  # every value empty (or null)
            edge: npt.NDArray[np.bool_] = off[1:] <= off[:-1]
            if valid is not None:
                edge &= valid
            rows, rare = np.zeros(0, np.int64), np.flatnonzero(edge)
        vals = np.zeros(0, np.int32)
        if len(rows):
            idx = pc.index_in(arr.take(_indices(rows)), value_set=self.value_set)
            vals = np.frombuffer(idx.buffers()[1], dtype=np.int32, count=len(idx), offset=idx.offset * 4) + 1
            if idx.null_count:
                hit = _valid(idx)
                rows, vals = rows[hit], vals[hit]
        if len(rare):  # a few rows: their canonical name, exactly
            told = [
                (k, self.lookup.get(trimmed(raw) or "", 0))
                for k, raw in zip(rare.tolist(), arr.take(_indices(rare)).to_pylist(), strict=True)
                if _blank_edge(raw)  # else a last byte < 0x20 not blank: its lookup above stands
            ]
            if told:
                at_rows = np.asarray([k for k, _ in told], dtype=np.int64)
                kept = ~np.isin(rows, at_rows)
                named = np.asarray([v for _, v in told], dtype=np.int32)
                rows = np.concatenate([rows[kept], at_rows[named > 0]])
                vals = np.concatenate([vals[kept], named[named > 0]])
                order = np.argsort(rows, kind="stable")
                rows, vals = rows[order], vals[order]
        return rows.astype(np.int64, copy=False), vals.astype(np.int32, copy=False)

    def _scan(
        self, off: npt.NDArray[Any], data: npt.NDArray[np.uint8], valid: npt.NDArray[np.bool_] | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The rows whose (first byte, length) some name has, and the rows that may have a blank
        edge (empty, a first byte <= 0x20 or a last one: told exactly by the caller), from the
        string array's offsets and bytes (``data`` not empty). By blocks of ``_BLOCK`` rows in
        this thread's scratch arrays: whole-array temporaries were ~3,000 page faults per row group
        of 500k rows (10M `wide`: 60k faults, ~0.1 system CPU-s), and a block's passes stay in
        the cache."""
        n = len(off) - 1
        sc = _scratch()
        top = self.width - 1
        found, rare = [], []
        for lo in range(0, n, _BLOCK):
            k = min(_BLOCK, n - lo)
            at, size, tmp = sc.at[: k + 1], sc.size[:k], sc.tmp[:k]
            first, last, maybe, edge = sc.first[:k], sc.last[:k], sc.maybe[:k], sc.edge[:k]
            np.copyto(at, off[lo : lo + k + 1], casting="unsafe")
            np.subtract(at[1:], at[:-1], out=size)
            np.take(data, at[:-1], out=first, mode="clip")
            np.minimum(size, top, out=tmp)
            np.multiply(first, self.width, out=size, dtype=np.intp, casting="unsafe")
            size += tmp  # (size is the gate's index now; tmp keeps min(size, top): 0 for an empty)
            np.take(self.gate, size, out=maybe, mode="clip")
            # a blank edge (ingest/normalize.py ``blank_edge``): a first byte <= 0x20 or a last one
            # of ``EDGE_SPACE``; a last byte <= 0x20 marks a candidate, told exactly in Python
            np.subtract(at[1:], 1, out=size)
            np.take(data, size, out=last, mode="clip")
            np.minimum(first, last, out=first)
            np.less_equal(first, 0x20, out=edge)
            np.less_equal(tmp, 0, out=last.view(np.bool_))  # empty
            edge |= last.view(np.bool_)
            if valid is not None:
                maybe &= valid[lo : lo + k]
                edge &= valid[lo : lo + k]
            got = np.flatnonzero(maybe)
            if len(got):
                found.append(got + lo)
            got = np.flatnonzero(edge)
            if len(got):
                rare.append(got + lo)
        none = np.zeros(0, np.int64)
        return (
            np.concatenate(found).astype(np.int64, copy=False) if found else none,
            np.concatenate(rare).astype(np.int64, copy=False) if rare else none,
        )

    def chunk(self, arr: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """:meth:`positions` of a string or dictionary array (the dictionary's looked up once)."""
        import pyarrow as pa

        if not pa.types.is_dictionary(arr.type):
            return self.positions(arr)
        rows, vals = self.positions(arr.dictionary)
        per = np.zeros(len(arr.dictionary), np.int32)
        per[rows] = vals
        ind = arr.indices
        width = np.dtype(f"{'u' if ind.type.id in _UNSIGNED else ''}int{ind.type.bit_width}")
        codes = np.frombuffer(
            ind.buffers()[1], dtype=width, count=len(ind), offset=ind.offset * width.itemsize
        )
        # a null slot's code may be anything: clipped, then zeroed below
        pos: npt.NDArray[np.int32] = (
            np.take(per, codes, mode="clip") if len(per) else np.zeros(len(arr), np.int32)
        )
        if arr.null_count:
            pos[~_valid(arr)] = 0
        keep = np.flatnonzero(pos)
        return keep.astype(np.int64, copy=False), pos[keep]


#: the rows of one block of :meth:`_Names._scan` (its scratch arrays: ~1.7 MB a thread)
_BLOCK = 1 << 16


class _Scratch:
    """A thread's scratch arrays of :meth:`_Names._scan` (made once per thread, reused)."""

    def __init__(self, block: int) -> None:
        self.at = np.empty(block + 1, dtype=np.intp)
        self.size = np.empty(block, dtype=np.intp)
        self.tmp = np.empty(block, dtype=np.intp)
        self.first = np.empty(block, dtype=np.uint8)
        self.last = np.empty(block, dtype=np.uint8)
        self.maybe = np.empty(block, dtype=np.bool_)
        self.edge = np.empty(block, dtype=np.bool_)


_LOCAL = threading.local()


def _scratch() -> _Scratch:
    """This thread's scratch arrays (of ``_BLOCK`` rows, which tests may lower)."""
    sc: _Scratch | None = getattr(_LOCAL, "scratch", None)
    if sc is None or len(sc.size) != _BLOCK:
        sc = _LOCAL.scratch = _Scratch(_BLOCK)
    return sc


#: Arrow's unsigned integer type ids (a dictionary's indices may be any integer type)
_UNSIGNED = frozenset({2, 4, 6, 8})


def _indices(rows: npt.NDArray[Any]) -> Any:
    """``rows`` (int64) as an Arrow array without a copy (``take`` of a numpy array converts it
    through ``pa.array``, which imports pandas: ~0.3 s of a fresh process)."""
    import pyarrow as pa

    rows = np.ascontiguousarray(rows, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(rows), [None, pa.py_buffer(rows)])


def _valid(arr: Any) -> npt.NDArray[np.bool_]:
    """The validity of each slot of ``arr`` (which has nulls, so a bitmap)."""
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    got: npt.NDArray[np.bool_] = np.unpackbits(bits, bitorder="little")[
        arr.offset : arr.offset + len(arr)
    ].view(np.bool_)
    return got


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
    cols: ParquetColumns, i: int, names: _Names
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
        keeps.append(rows + start)
        poss.append(vals)
        start += len(a)
    keep = np.concatenate(keeps) if keeps else np.zeros(0, np.int64)
    pos = np.concatenate(poss) if poss else np.zeros(0, np.int32)
    c_col = t.column(cols.customer).take(_indices(keep))
    ts_col = t.column(cols.timestamp).take(_indices(keep))
    if c_col.null_count or ts_col.null_count:
        return pos, None, None
    ts = _numbers(ts_col).view(np.int64)
    if ts_col.type.unit == "ms":
        ts = ts * 1000
    return pos, _numbers(c_col), ts


def _numbers(col: Any) -> npt.NDArray[Any]:
    """A chunked array of integers or times without nulls as one numpy array (from the buffers:
    pyarrow's ``to_numpy`` of a chunked array imports pandas)."""
    width = col.type.bit_width
    dtype = np.dtype(f"{'u' if col.type.id in _UNSIGNED else ''}int{width}")
    parts = [
        np.frombuffer(a.buffers()[1], dtype=dtype, count=len(a), offset=a.offset * dtype.itemsize)
        for a in col.chunks
        if len(a)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


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
            looked = _Names(names)
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
