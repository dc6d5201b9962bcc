"""The event level of ``paths`` on ONE local Parquet file of very many event names, read by pyarrow
(issue 18, the `wide` shape; bench/WIDE.md, session 11).

The general fast path (engine/journeys_fast.py) numbers every raw value by its name in DuckDB
(a DISTINCT of 10M strings, their canonical names sorted), joins the 10M rows to their numbers and
sorts them with DuckDB's ``ORDER BY c, ts, node``: ~5 CPU-s of 10M `wide`. A path needs only each
customer's first ``steps`` runs, so here the strings are named last and only where they count:

1. pyarrow reads the file's customer, time and raw event per row group, in threads
   (engine/parquet_rows.py's reader and conditions);
2. the rows are ordered by (customer, ts) on integers: when the file is in time order (a log
   usually is; checked) a stable grouping of the customers (engine/grouping.py ``group_ids``),
   else engine/journeys_wide.py's sort; rows equal in (customer, ts) are then put in the order of
   their canonical names (Python's order of ``str`` is UTF-8's byte order, DuckDB's); from 1M
   rows, disjoint sets of customers (by hash), each grouped and taken through 3-4 in a thread;
3. each customer's first ``steps + 1`` rows are taken (a customer with a repeated name among them,
   whose runs may go further: all his rows) and canonicalised (engine/raw_step.py's trim on the
   rare rows with a blank edge);
4. the runs (a name unlike the previous one, every row without collapsing), each customer's first
   ``steps`` runs' names numbered by ``dictionary_encode`` (exact: equal numbers are equal names),
   packed and counted as engine/journeys_paths.py does;
5. the top: paths whose count reaches the ``top``-th count are ordered by (customers down, then
   name by name, a missing name first) on their names, in Python (a few rows).

Same answers as the portable plan (tests/test_journeys_parquet.py). Declines (None: the general
fast path runs) where engine/parquet_rows.py's reader does not apply, on a column of few distinct
values, a period, a null customer, time or event, a canonical name that is null, and past the
bounds below (many rows tied in time, many paths tied at the top).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from hourglass.engine._arrow import string_buffers
from hourglass.engine._pages import small_pages
from hourglass.engine.journeys_parquet_sorted import encoded
from hourglass.engine.parquet_names import _blank_edge, trimmed
from hourglass.engine.parquet_names import indices as _indices
from hourglass.engine.parquet_rows import (
    ParquetColumns,
    _as_dictionary,
    _numbers,
    _types_ok,
    parquet_source,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy.typing as npt

    from hourglass.engine.load import Events
    from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

    #: a set's runs: where each kept run starts a customer (his first ``depth + 1`` runs), the
    #: positions among them of the path's runs (the first ``depth``), and those runs' names
    Runs: TypeAlias = tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp], Any]

__all__ = ["ENABLED", "PARALLEL_MIN", "TIED_MAX", "TOP_MAX", "parquet_paths", "wide_read", "wide_source"]

#: the path's switch (the general fast path when off)
ENABLED = True
#: at most this many rows tied in (customer, ts) are ordered by name in Python; more: declined
TIED_MAX = 200_000
#: at most this many paths reaching the top's last count are ordered by name in Python
TOP_MAX = 200_000
#: the fewest rows worth the sets of customers in threads
PARALLEL_MIN = 1_000_000


def parquet_paths(events: Events, spec: PathsSpec) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """engine/journeys_fast.py ``fast_paths``'s answer (the top rows with ``p0`` .. as names, None
    where the path ended; the totals), or None where this form does not apply (module doc)."""
    if not ENABLED or spec.start is not None or spec.end is not None:
        return None
    if spec.level == "stage":  # the one scan's rows in sets of customers (engine/raw_stages.py)
        from hourglass.engine.raw_stages import stage_paths

        return stage_paths(events, spec)
    got = wide_read(events, spec)
    if got is None:
        return None
    c, ts, ev = got
    with small_pages():
        return _paths(c, ts, ev, spec.steps, spec.top, spec.collapse)


def wide_read(
    events: Events, spec: PathsSpec | TransitionsSpec, canonical: bool = False
) -> tuple[Any, Any, Any] | None:
    """The event level's rows of a file of many names (customers, µs, raw events: :func:`_read`;
    ``canonical``: their canonical names, :func:`_canonical` in the reader's threads), or None:
    another level, a period or a breakdown, not such a file (:func:`wide_source`), or with
    ``canonical`` a canonical name that is null."""
    if spec.level != "event" or spec.since is not None or spec.until is not None or spec.by is not None:
        return None
    cols = wide_source(events)
    return None if cols is None else _read(events, cols, canonical)


def wide_source(events: Events) -> ParquetColumns | None:
    """engine/parquet_rows.py's file and columns when its event column has very many values: some
    row group's event chunk is not all dictionary pages (read from the footer: a file of a few
    names declines without a query), and DuckDB's sample of the column says so
    (engine/raw_names.py ``many_values``). A choice of cost only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hourglass.engine.raw_names import many_values

    cols = parquet_source(events)
    if cols is None:
        return None
    try:
        meta = pq.ParquetFile(cols.path).metadata
    except (pa.ArrowException, OSError, ValueError):
        return None
    if all(_as_dictionary(meta, i, cols.event) for i in range(meta.num_row_groups)):
        return None
    return cols if many_values(events) else None


def _read(events: Events, cols: ParquetColumns, canonical: bool = False) -> tuple[Any, Any, Any] | None:
    """The file's customers, µs and raw events (one string array; ``canonical``: each row group's
    canonical names, in its thread), or None (a null, another schema or row count, a file pyarrow
    cannot read, more text than a string array holds, with ``canonical`` a null name)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, columns = cols.path, [cols.customer, cols.timestamp, cols.event]

    def group(i: int) -> tuple[Any, Any, list[Any]] | None:
        t = pq.ParquetFile(path).read_row_group(i, columns=columns, use_threads=False)
        c_col, t_col, e_col = (t.column(n) for n in columns)
        if c_col.null_count or t_col.null_count or e_col.null_count:
            return None
        ts = _numbers(t_col).view(np.int64)
        chunks = [a.cast(pa.string()) for a in e_col.chunks if len(a)]
        if canonical:
            chunks = [_canonical(a) for a in chunks]
            if any(a is None for a in chunks):
                return None
        return _numbers(c_col), ts * 1000 if t_col.type.unit == "ms" else ts, chunks

    try:
        pf = pq.ParquetFile(path)
        meta = pf.metadata
        if meta.num_rows != events.report.rows or not meta.num_rows or not _types_ok(pf.schema_arrow, cols):
            return None
        groups = meta.num_row_groups
        with small_pages(), ThreadPoolExecutor(max(1, min(os.cpu_count() or 1, groups))) as pool:
            parts = list(pool.map(group, range(groups)))
        if any(p is None for p in parts):
            return None
        chunks = [a for p in parts if p is not None for a in p[2]]
        if sum(a.buffers()[2].size if a.buffers()[2] is not None else 0 for a in chunks) >= 1 << 31:
            return None
        ev = pa.concat_arrays(chunks)
    except (pa.ArrowException, OSError, ValueError):
        return None  # DuckDB's form reads it and raises its errors (engine/parquet_rows.py)
    c = np.concatenate([p[0] for p in parts if p is not None])
    ts = np.concatenate([p[1] for p in parts if p is not None]).astype(np.int64, copy=False)
    return c, ts, ev


def _paths(
    c: npt.NDArray[Any], ts: npt.NDArray[np.int64], ev: Any, depth: int, top: int, collapse: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    import pyarrow as pa

    from hourglass.engine.grouping import WORKERS, grouped_sets
    from hourglass.engine.journeys_paths import paths_runs
    from hourglass.engine.journeys_wide import wide_sorted

    m = len(c)
    if m >= 1 << 31:
        return None
    if bool(np.all(ts[1:] >= ts[:-1])):  # the file in time order: a stable grouping suffices
        # disjoint sets of customers (by hash), each grouped and cut to its paths' runs in a thread
        ways = WORKERS if m >= PARALLEL_MIN else 1

        def then(order: npt.NDArray[np.intp], grouped: npt.NDArray[Any]) -> Runs | None:
            new = np.empty(len(order), dtype=bool)
            if len(order):
                new[0] = True
                np.not_equal(grouped[1:], grouped[:-1], out=new[1:])
            del grouped
            return _runs(_tied(order, new, ts[order], ev), new, ev, depth, collapse)

        parts = grouped_sets(np.asarray(c), ways, then)
    else:
        got = wide_sorted(c, ts, np.arange(m, dtype=np.int32))
        if got is None:
            return None
        new, t_o, at = got
        parts = [_runs(_tied(at.astype(np.intp), new, t_o, ev), new, ev, depth, collapse)]
    done = [p for p in parts if p is not None]
    if len(done) < len(parts):
        return None
    # the path nodes numbered by name together (equal numbers: equal names, in every set)
    codes, dictionary = encoded(pa.concat_arrays([p[2] for p in done]))
    bits = max(1, (len(dictionary) + 1).bit_length())
    ends = np.cumsum([0, *(len(p[2]) for p in done)]).tolist()
    packed = []
    for (first, in_path, _), a, b in zip(done, ends[:-1], ends[1:], strict=True):
        node = np.zeros(len(first), dtype=np.int64)
        node[in_path] = codes[a:b]
        packed.append(paths_runs(first, node, depth, bits))
    words = [np.concatenate([w[j] for w, _ in packed]) for j in range(len(packed[0][0]))]
    return _top(words, np.concatenate([lg for _, lg in packed]), depth, bits, top, dictionary)


def _runs(
    order: npt.NDArray[np.intp] | None, new: npt.NDArray[np.bool_], ev: Any, depth: int, collapse: bool
) -> Runs | None:
    """The runs (module doc, 3-4) of the rows ``order`` (grouped by customer, each in (ts, name)
    order; ``new``: where a customer starts); None when declined."""
    import pyarrow as pa

    if order is None:
        return None
    m = len(order)
    begin = np.flatnonzero(new)
    length = np.diff(np.append(begin, m))
    cap = depth + 1
    rows, first = _prefix(order, begin, np.minimum(length, cap))
    names = _canonical(ev.take(_indices(rows)))
    if names is None:
        return None
    if collapse:
        start = _run_starts(names, first)
        # a customer whose first rows repeat a name may have more runs further: all his rows
        runs = np.add.reduceat(start, np.flatnonzero(first), dtype=np.int64) if len(first) else start
        more = (runs < cap) & (length > cap)
        if more.any():
            keep = np.repeat(~more, np.minimum(length, cap))
            rows2, first2 = _prefix(order, begin[more], length[more])
            names2 = _canonical(ev.take(_indices(rows2)))
            if names2 is None:
                return None
            names = pa.concat_arrays([names.filter(_bool_array(keep)), names2])
            first = np.concatenate([first[keep], first2])
            start = np.concatenate([start[keep], _run_starts(names2, first2)])
        at = np.flatnonzero(start)
        first, names = first[at], names.take(_indices(at))
    # each run's rank in its customer: the path's runs named, the (depth + 1)-th kept for
    # "continued" only
    count = np.cumsum(first) - 1
    rank = np.arange(len(first)) - np.flatnonzero(first)[count]
    kept = np.flatnonzero(rank <= depth)
    first, rank = first[kept], rank[kept]
    in_path = np.flatnonzero(rank < depth)
    return first, in_path, names.take(_indices(kept[in_path]))


def _tied(
    order: npt.NDArray[np.intp], new: npt.NDArray[np.bool_], t_o: npt.NDArray[np.int64], ev: Any
) -> npt.NDArray[np.intp] | None:
    """``order`` (rows grouped by customer, each in time order) with the rows equal in (customer,
    ts) put in their canonical names' order; None when declined."""
    m = len(order)
    tie = np.zeros(m, dtype=bool)
    np.equal(t_o[1:], t_o[:-1], out=tie[1:])
    tie &= ~new
    if tie.any():  # rows equal in (customer, ts): in their names' order
        if int(tie.sum()) > TIED_MAX:
            return None
        head = tie.copy()
        head[:-1] |= tie[1:]  # the first row of each tied group too
        where = np.flatnonzero(head)
        group = np.cumsum(~tie[where])
        canon = _canonical(ev.take(_indices(order[where])))
        if canon is None:
            return None
        texts = canon.to_pylist()
        by = sorted(range(len(where)), key=lambda k: (group[k], texts[k]))
        order[where] = order[where][np.asarray(by, dtype=np.intp)]
    return order


def _prefix(
    order: npt.NDArray[np.intp], begin: npt.NDArray[Any], count: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """The rows (file indices) of each customer's first ``count`` rows in ``order`` (customers from
    ``begin``), and where each customer's rows start among them."""
    total = int(count.sum())
    ends = np.cumsum(count)
    shift = np.repeat(begin - (ends - count), count)
    shift += np.arange(total)
    first = np.zeros(total, dtype=bool)
    first[(ends - count)[count > 0]] = True
    return order[shift], first


def _run_starts(names: Any, first: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """A run starts at a customer's first row or where the name changes."""
    import pyarrow.compute as pc

    start = first.copy()
    n = len(names)
    if n > 1:
        differs = pc.not_equal(names.slice(1), names.slice(0, n - 1))
        # from the bitmap: ``to_numpy`` of a boolean array imports pandas (names have no null)
        bits = np.frombuffer(differs.buffers()[1], dtype=np.uint8)
        start[1:] |= np.unpackbits(bits, bitorder="little")[differs.offset : differs.offset + n - 1].view(
            np.bool_
        )
    return start


def _bool_array(keep: npt.NDArray[np.bool_]) -> Any:
    """A numpy bool array as Arrow's (bit-packed, from buffers: no pandas import)."""
    import pyarrow as pa

    bits = np.packbits(keep, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(keep), [None, pa.py_buffer(bits.tobytes())])


def _canonical(arr: Any) -> Any:
    """The canonical names of raw values (engine/raw_step.py: trimmed, '' null): the values
    themselves but for the rare ones with a blank edge, told in Python; None when one is null."""
    import pyarrow as pa

    n = len(arr)
    if not n:
        return arr
    off, data = string_buffers(arr)
    size = off[1:] - off[:-1]
    edge = size <= 0
    if len(data):
        at = off.astype(np.intp)
        low = np.minimum(np.take(data, at[:-1], mode="clip"), np.take(data, at[1:] - 1, mode="clip"))
        edge |= low <= 0x20
    rare = np.flatnonzero(edge)
    if not len(rare):
        return arr
    raws = arr.take(_indices(rare)).to_pylist()
    fixed = [trimmed(r) if _blank_edge(r) else r for r in raws]
    if any(f is None for f in fixed):
        return None
    values = [str(f).encode() for f in fixed]
    ends = np.cumsum([0, *(len(b) for b in values)], dtype=np.int32)
    repl = pa.Array.from_buffers(
        pa.string(), len(values), [None, pa.py_buffer(ends.tobytes()), pa.py_buffer(b"".join(values))]
    )
    mask = np.zeros(n, dtype=bool)
    mask[rare] = True
    import pyarrow.compute as pc

    return pc.replace_with_mask(arr, _bool_array(mask), repl)


def _top(
    words: list[npt.NDArray[np.int64]],
    longer: npt.NDArray[np.bool_],
    depth: int,
    bits: int,
    top: int,
    dictionary: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """The paths counted (numbers in any order; engine/journeys_paths.py ``counted_paths``), the
    top ones ordered by their names."""
    from hourglass.engine.journeys_paths import counted_paths

    n = len(longer)
    if not n:
        return [], {"customers": None, "paths": 0}
    head, counts, continued, cand = counted_paths(words, longer, top)
    if len(cand) > TOP_MAX:
        return None
    per = max(1, 62 // bits)
    mask = (1 << bits) - 1
    held = [min(per, depth - j * per) for j in range(len(words))]
    rows = []
    for u in cand.tolist():
        at = int(head[u])
        codes = []
        for i in range(depth):
            j = i // per
            codes.append(((int(words[j][at]) >> (bits * (held[j] - 1 - (i - j * per)))) & mask) - 1)
        rows.append((codes, int(counts[u]), int(continued[u])))
    used = sorted({x for r in rows for x in r[0] if x >= 0})
    text = dict(
        zip(used, dictionary.take(_indices(np.asarray(used, dtype=np.int64))).to_pylist(), strict=True)
    )

    def key(r: tuple[list[int], int, int]) -> tuple[Any, ...]:
        return (-r[1], *[(0, "") if x < 0 else (1, text[x]) for x in r[0]])

    out = []
    for codes, customers, cont in sorted(rows, key=key)[:top]:
        row: dict[str, Any] = {f"p{i}": None if x < 0 else text[x] for i, x in enumerate(codes)}
        row["customers"] = customers
        row["continued"] = cont
        out.append(row)
    return out, {"customers": n, "paths": len(counts)}
