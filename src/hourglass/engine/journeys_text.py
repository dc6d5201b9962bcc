"""Event-level paths of a source whose raw event column holds very many distinct values (10^6 names:
bench/_data.py's ``wide`` shape; issue 18, bench/JOURNEYS.md session 9): only the strings a path
can read are numbered.

The general fast path (engine/journeys_fast.py) numbers every raw value first (DuckDB's DISTINCT of
10M plain strings, the 10^6 values canonicalised and sorted, then a join of every row to its code:
~3.8 CPU-s at 10M) and sorts the rows by (customer, ts, node). A path reads only each customer's
first ``depth`` runs, so here:

1. DuckDB hands over ``(c, ts, raw event)`` unordered (Arrow);
2. numpy orders the rows by (customer, ts) in threads (engine/journeys_wide.py, the row index as the
   node: ties in (customer, ts) are put in name order at the end);
3. each customer's first ``depth + PREFIX`` rows are taken (a customer with rows equal in
   (customer, ts): all of its rows); only their strings are numbered (pyarrow's ``dictionary_encode``),
   canonicalised as the source's event is (``NULLIF(strip(raw), '')``: the regex only on the distinct
   values with a blank edge, by DuckDB's own ``REGEXP_REPLACE``, engine/raw_step.py's form);
4. a customer whose taken rows hold fewer than ``depth + 1`` runs (equal canonical names) and who has
   further rows is taken whole: a second pass numbers the new rows only (``index_in`` the first
   pass's values, the new values encoded);
5. the names are ranked by byte order of the UTF-8 text (the portable plan's and Python's ``str``
   order), the tied rows put in node order inside their groups, and the whole-log paths kernel
   (engine/journeys_seq.py ``seq_paths``) counts them: every path and its "continued" are the
   full sort's.

Exact against the general path: the same elements in the same order for every row a path reads,
nodes numbered in name order (only the names read, so the same integer order). None (the general path
runs) where it does not apply: a null raw value or one whose canonical form is null anywhere in the
log (the general path then answers by SQL), a time span that leaves fewer than 10 customer bits.
:func:`text_sorted` numbers every row the same way (the event-level transitions; off:
``TRANSITIONS``). A store of text names through it was tried: dearer (bench/JOURNEYS.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from hourglass.engine.journeys_seq import I64, Sorted, seq_paths
from hourglass.ingest.normalize import EDGE_SPACE, TRIM_PATTERN

__all__ = ["ENABLED", "PREFIX", "TRANSITIONS", "strip_form", "text_paths", "text_sorted"]

#: the path's switch (the general fast path when off). Off: 10M `wide` Parquet paths, one process,
#: 5 rounds alternated at load 3.1-3.7 (a core often free): 4.01 against 4.58 CPU-s but 3.96 against
#: 2.82 s wall (its encoding and selection run on one thread; DuckDB's DISTINCT, join and sort on
#: both cores): the target is the wall (bench/JOURNEYS.md, session 9)
ENABLED = False
#: also the event-level transitions (every row numbered: :func:`text_sorted`); off: in one process at
#: load 7-8 it cost what the general path costs (10M `wide`, 5 rounds alternated: 7.86-8.60 against
#: 7.94-8.22 CPU-s), its wall unmeasured quiet (bench/JOURNEYS.md, session 9)
TRANSITIONS = False
#: each customer's first ``depth + PREFIX`` rows numbered in the first pass (all of a customer's
#: where its runs there are not enough)
PREFIX = 1


def strip_form(table: Any) -> bool:
    """The table's event is ``NULLIF(strip(raw), '')`` of one raw text column, its rows the raw
    relation's one-to-one (engine/raw_names.py, engine/raw_step.py's test): the canonical form here."""
    from hourglass.engine.raw_names import _canonical_event
    from hourglass.ingest.normalize import strip

    found = None if table is None else _canonical_event(table)
    if found is None:
        return False
    field, expr = found
    return bool(expr == strip(field.to_expr()).nullif("").op())


def _blank_edge(values: Any) -> Any:
    """ingest/normalize.py ``blank_edge`` of an Arrow string array (empty, a first character <= ' '
    or a last one of ``EDGE_SPACE``): the values whose canonical form may differ from them."""
    import pyarrow.compute as pc

    edge = pc.less(values, "!")
    for ch in EDGE_SPACE:
        edge = pc.or_(edge, pc.ends_with(values, pattern=ch))
    return pc.fill_null(edge, True)


def _canonical(raw: Any, values: Any) -> Any | None:
    """The canonical form (``NULLIF(strip(v), '')``) of the distinct Arrow strings ``values``; None
    when one is null (the general path decides then)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.null_count:
        return None
    edge = _blank_edge(values)
    at = np.flatnonzero(edge.to_numpy(zero_copy_only=False))
    if not len(at):
        return values
    few = values.take(pa.array(at))
    view = f"hg_text_edges_{id(few):x}"
    raw.register(view, pa.table({"v": few}))
    try:
        pattern = "'" + TRIM_PATTERN.replace("'", "''") + "'"
        got = raw.sql(f"SELECT NULLIF(REGEXP_REPLACE(v, {pattern}, '', 'g'), '') AS t FROM {view}")
        trimmed = got.to_arrow_table().column(0).combine_chunks().cast(values.type)
    finally:
        raw.unregister(view)
    if trimmed.null_count:
        return None
    out = values.to_pylist() if len(values) < 4096 else None
    if out is not None:
        for k, t in zip(at.tolist(), trimmed.to_pylist(), strict=True):
            out[k] = t
        return pa.array(out, type=values.type)
    mask = np.zeros(len(values), dtype=bool)
    mask[at] = True
    return pc.replace_with_mask(values, pa.array(mask), trimmed)


def _ranked(raw: Any, values: Any) -> tuple[npt.NDArray[np.int32], Any] | None:
    """Each distinct raw value's node (its canonical name's rank among the names here) and the names
    in order (Arrow); None when a canonical name is null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    canon = _canonical(raw, values)
    if canon is None:
        return None
    if canon is values:  # distinct already
        uniq, of = values, None
    else:  # names equal after canonicalising: one node
        names = pc.dictionary_encode(canon)
        uniq, of = names.dictionary, np.asarray(names.indices.to_numpy(), dtype=np.int64)
    order = np.asarray(pc.sort_indices(uniq).to_numpy(), dtype=np.int64)
    rank = np.empty(len(uniq), dtype=np.int32)
    rank[order] = np.arange(len(uniq), dtype=np.int32)
    return (rank if of is None else rank[of]), uniq.take(pa.array(order))


def _encoded(text: Any, known: Any | None) -> tuple[npt.NDArray[np.int64], Any]:
    """Each string's index in the distinct values ``known`` extended by the new ones here, and
    those values (Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if known is None:
        enc = pc.dictionary_encode(text)
        return np.asarray(enc.indices.to_numpy(), dtype=np.int64), enc.dictionary
    pos = pc.index_in(text, value_set=known)
    fresh = np.asarray(pc.is_null(pos).to_numpy(zero_copy_only=False))
    idx = np.asarray(pc.fill_null(pos, -1).to_numpy(), dtype=np.int64)
    if not fresh.any():
        return idx, known
    enc = pc.dictionary_encode(text.filter(pa.array(fresh)))
    idx[fresh] = np.asarray(enc.indices.to_numpy(), dtype=np.int64) + len(known)
    return idx, pa.concat_arrays([known, enc.dictionary.cast(known.type)])


def _tied_in_order(ts: I64, new: npt.NDArray[np.bool_], node: npt.NDArray[np.int32]) -> None:
    """Rows equal in (customer, ts) (consecutive) put in node order inside their groups, in place."""
    same = ts[1:] == ts[:-1]
    same &= ~new[1:]
    if not same.any():
        return
    tied = np.zeros(len(ts), dtype=bool)
    tied[1:] = same
    tied[:-1] |= same
    where = np.flatnonzero(tied)
    group = np.cumsum(~np.concatenate(([False], same)))[where]
    sub = node[where]
    node[where] = sub[np.lexsort((sub, group))]


def _short(
    raw: Any,
    values: Any,
    idx: I64,
    new: npt.NDArray[np.bool_],
    sizes: I64,
    depth: int,
    collapse: bool,
) -> npt.NDArray[np.bool_] | None:
    """Per customer: its rows taken (``idx`` into ``values``, in the order (customer, ts), no ties)
    hold fewer than ``depth + 1`` runs and it has further rows; None when a canonical name is null.
    Runs by equal canonical names (their order is not needed here)."""
    import pyarrow.compute as pc

    canon = _canonical(raw, values)
    if canon is None:
        return None
    eq = idx if canon is values else np.asarray(pc.dictionary_encode(canon).indices.to_numpy())[idx]
    short = _runs_per_customer(new, eq, collapse) <= depth
    short &= np.bincount(np.cumsum(new) - 1, minlength=len(sizes)) < sizes
    return short


def _runs_per_customer(new: npt.NDArray[np.bool_], node: npt.NDArray[Any], collapse: bool) -> I64:
    start = new.copy()
    if collapse:
        start[1:] |= node[1:] != node[:-1]
    else:
        start[:] = True
    cust = np.cumsum(new) - 1
    return np.bincount(cust[start], minlength=int(cust[-1]) + 1 if len(cust) else 0)


def _by_customer(raw: Any, sql: str) -> tuple[Any, Sorted] | None:
    """``sql``'s rows (``c`` integer, ``ts`` µs, ``node`` the raw event text) fetched unordered: the
    raw text (Arrow, in the fetched order) and the rows ordered by (customer, ts) in numpy, each
    with its row index as its node (ties in (customer, ts) not yet by name); None where no null
    may be, the index and the time do not fit, or a raw value canonicalises to null."""
    import pyarrow as pa

    from hourglass.engine.journeys_wide import wide_sorted

    got = raw.sql(sql).to_arrow_table()
    if any(got.column(k).null_count for k in ("c", "ts", "node")):
        return None
    m = got.num_rows
    if m >= 1 << 31:  # the row index as an int32 node
        return None
    text = got.column("node").combine_chunks()
    low = np.flatnonzero(_low(text))  # values that may canonicalise to null: every row checked
    if len(low) and _canonical(raw, text.take(pa.array(low)).unique()) is None:
        return None
    c = np.asarray(got.column("c").to_numpy())
    ts = np.asarray(got.column("ts").to_numpy(), dtype=np.int64)
    del got
    order = wide_sorted(c, ts, np.arange(m, dtype=np.int32))
    return None if order is None else (text, order)


def text_sorted(raw: Any, sql: str) -> tuple[Sorted, list[str]] | None:
    """Every element of ``sql``'s rows (as :func:`text_paths`) in the order (customer, ts, node),
    as journeys_seq's ``Sorted`` (every raw value numbered by its canonical name's rank: pyarrow's
    ``dictionary_encode`` in the fetched order, not DuckDB's DISTINCT and join), and the names."""
    got = _by_customer(raw, sql)
    if got is None:
        return None
    text, (new, ts, row) = got
    idx, values = _encoded(text, None)
    del text
    ranked = _ranked(raw, values)
    if ranked is None:
        return None
    node = ranked[0][idx]
    del idx
    node = node[row]
    _tied_in_order(ts, new, node)
    return (new, ts, node), [str(n) for n in ranked[1].to_pylist()]


def text_paths(
    raw: Any, sql: str, collapse: bool, depth: int, top: int
) -> tuple[tuple[list[dict[str, Any]], dict[str, int]], list[str]] | None:
    """engine/journeys_seq.py ``seq_paths``'s answer (the top paths, the totals) and the names the
    nodes index, from ``sql``'s rows (``c`` integer, ``ts`` µs, ``node`` the raw event text); None
    where this path does not apply (module doc)."""
    import pyarrow as pa

    got = _by_customer(raw, sql)
    if got is None:
        return None
    text, (new, ts_s, row) = got
    m = len(new)
    if not m:
        return seq_paths((new, ts_s, row), collapse, depth, top), []
    begin = np.flatnonzero(new)
    sizes = np.diff(np.append(begin, m))
    # each customer's first rows; a customer with rows equal in (customer, ts) whole (their order is
    # by name: put right at the end, with every row of the customer numbered)
    first = np.zeros(m, dtype=bool)
    for i in range(depth + PREFIX):
        first[(begin + i)[sizes > i]] = True
    same = np.flatnonzero(ts_s[1:] == ts_s[:-1])
    same = same[~new[same + 1]]
    whole = np.zeros(len(begin), dtype=bool)
    if len(same):
        whole[np.searchsorted(begin, same, side="right") - 1] = True
        first |= np.repeat(whole, sizes)
    at = np.full(m, -1, dtype=np.int64)  # each sorted row's raw value, where numbered
    pick = np.flatnonzero(first)
    del first
    at[pick], values = _encoded(text.take(pa.array(row[pick])), None)
    take = pick
    short = _short(raw, values, at[take], new[take], sizes, depth, collapse)
    if short is None:
        return None
    short &= ~whole
    if short.any():  # each customer short of runs in its first rows, taken whole
        pick = np.flatnonzero(np.repeat(short, sizes) & (at < 0))
        at[pick], values = _encoded(text.take(pa.array(row[pick])), values)
        take = np.flatnonzero(at >= 0)
    t_new, t_ts = new[take], ts_s[take]
    ranked = _ranked(raw, values)
    if ranked is None:
        return None
    node = ranked[0][at[take]]
    _tied_in_order(t_ts, t_new, node)
    names = [str(n) for n in ranked[1].to_pylist()]
    return seq_paths((t_new, t_ts, node), collapse, depth, top), names


def _low(text: Any) -> npt.NDArray[np.bool_]:
    """The rows whose raw value is empty or starts with a character <= ' ' (the only ones that may
    canonicalise to null)."""
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(pc.less(text, "!"), True).to_numpy(zero_copy_only=False))
