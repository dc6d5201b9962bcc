"""Each customer's level, best chain and breakdown group of a closed funnel on a store, by the
sequential scan (engine/funnel_scan.py's pass, kept per customer instead of summed): the dashboard's
people behind a bar, and a breakdown by any column (one a customer changes, a device, too), without
the fast path's joins.

Why it is exact. The pass of engine/funnel_scan.py finds, per customer, his level and his best chain
(the earliest entry of the highest level, docs/semantics.md); its counts and times are sums over
those. Here the same arrays are kept per customer: his key, level, best chain's entry (the first of
his step-1 events at that time: with several, the one of the least breakdown value, NULL last, as
the canonical order says) and the times between his chain's steps. A customer of level 1 has no
chain past step 1; his group is the value at his earliest entry. So:

- the people behind a bar (``scan_levels``): the customers' keys and levels, the ids taken by key
  from the store's ``hg_customers`` (read once per events), in key order (the ids' order but
  for the heavy customers numbered last);
- a breakdown (``scan_by_rows``): each customer's group is the value at his best chain's entry; the
  counts and times of each group are those of its customers: the fast path's joins' rows.

Whatever this does not answer (not a store, another plan, globs or filters in steps, ``--open``,
optional steps, ``--count totals``, a breakdown of more than ``MAX_GROUPS`` values or a column DuckDB
cannot order) is None: the caller runs the joins. Tests compare both (tests/test_funnel_by_scan_levels.py).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hourglass.engine import grouping
from hourglass.engine.funnel_batch import (
    is_store,
    micros_of,
    read_names,
    rows_span,
    shares_scan,
    sql_literal,
    step_names,
    step_rows,
)
from hourglass.engine.funnel_scan import quantiles
from hourglass.engine.grouping import run_ranges
from hourglass.engine.scan_kernel import chunk, layout

if TYPE_CHECKING:
    from hourglass.engine.load import Events
    from hourglass.model.spec import FunnelSpec

__all__ = [
    "MAX_GROUPS",
    "Customers",
    "Unwanted",
    "Wanted",
    "customers_of",
    "scan_by_rows",
    "scan_levels",
    "store_ids",
]

#: whether the result is still wanted (asked between the steps of the work)
Wanted = Callable[[], bool]


class Unwanted(Exception):
    """Raised by :func:`customers_of` once its ``wanted`` says False."""


#: the most breakdown values taken by the scan (more: the joins)
MAX_GROUPS = 1000


@dataclass(frozen=True)
class Customers:
    """Every customer with an entry: ``keys`` (the store's customer keys, in order), ``level``,
    ``group`` (the breakdown value's number at his best chain's entry; None without a breakdown),
    ``values`` (each number's value) and per step k >= 2 ``(owner, diff)``: the index in ``keys`` of
    each customer reaching k and his time from step k-1 (µs)."""

    keys: np.ndarray
    level: np.ndarray
    group: np.ndarray | None
    values: list[Any]
    diffs: list[tuple[np.ndarray, np.ndarray]]
    #: the values as pandas has them from DuckDB (the joins' frame's ``by``: its dtype, NaN for NULL)
    typed: Any = None


def eligible(events: Events, spec: FunnelSpec) -> bool:
    """The fast path's sequential-scan plan's specs on a store (engine/funnel_batch.py
    ``shares_scan``, its breakdown aside), ordered, closed, without optional steps, counting
    customers; a breakdown column of the store's own."""
    if spec.open or spec.mode != "ordered" or spec.count != "uniques" or spec.exclude or spec.hold:
        return False
    if spec.optional_steps or not is_store(events):
        return False
    assert events.keyed is not None
    if not events.keyed.timestamp.type().is_integer():  # (a store's times: integer µs)
        return False
    if spec.by is not None and (
        spec.by in ("customer", "timestamp", "event") or spec.by not in events.keyed.columns
    ):
        return False
    return shares_scan(events, replace(spec, by=None))


def _step1_rows(
    events: Events, spec: FunnelSpec, since: int | None, until: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any], Any] | None:
    """The step-1 rows in the entry range: customer keys (in order), µs, and the breakdown value's
    number (values ordered, NULL last; zeros without a breakdown), and the values; None when the
    column has more than ``MAX_GROUPS`` values or DuckDB cannot order it."""
    import duckdb

    assert events.keyed is not None and events.codes is not None
    names = [x for x in sorted(set(spec.steps[0].events)) if x in events.codes]
    if not spec.by:
        rows = read_names(events, names, (since, until))
        c, ts = step_rows(rows, tuple(names))
        return c, ts, np.zeros(len(c), dtype=np.int32), [None], None
    con = events.engine.con
    base = con.compile(events.keyed)
    match = " OR ".join(f"event = {sql_literal(x)}::{events.enum_type}" for x in names) or "false"
    match = f"({match})"
    if since is not None:
        match += f' AND "timestamp" >= {since}'
    if until is not None:
        match += f' AND "timestamp" < {until}'
    b = '"' + str(spec.by).replace('"', '""') + '"'
    rows_sql = f'SELECT customer AS c, "timestamp" AS ts, {b} AS v FROM ({base}) AS st WHERE {match}'
    try:  # (not translated: whatever fails here, the joins run and say it)
        distinct = f"SELECT DISTINCT v FROM ({rows_sql}) ORDER BY 1 NULLS LAST"
        values = [r[0] for r in con.con.sql(distinct).fetchall()]
        if len(values) > MAX_GROUPS:
            return None
        typed = con.con.sql(distinct).df()["v"] if values else None
        got = _numbered(con.con, rows_sql, values)
    except duckdb.InterruptException:  # the work ahead stopped (not a reason to run the joins)
        raise
    except duckdb.Error:  # a column DuckDB cannot order (a map): the joins
        return None
    c, ts, g = got["c"], np.asarray(got["ts"], dtype=np.int64), np.asarray(got["g"], dtype=np.int32)
    if len(c) > 1 and not (c[1:] >= c[:-1]).all():
        order = np.argsort(c, kind="stable")
        c, ts, g = c[order], ts[order], g[order]
    return c, ts, g, values or [None], typed


def _numbered(raw: Any, rows_sql: str, values: list[Any]) -> dict[str, Any]:
    """``rows_sql``'s ``c``, ``ts`` and ``g``: the number of its value ``v`` in ``values`` (NULL
    last): a lookup in the values as a list parameter (0.2 CPU-s for 5M rows), or a join with
    them where DuckDB cannot bind that list (0.3-0.7 CPU-s)."""
    import duckdb

    known = [v for v in values if v is not None]
    try:
        return dict(
            raw.execute(
                f"SELECT c, ts, CAST(coalesce(list_position($1, v), {len(values)}) - 1 AS INTEGER) AS g "
                f"FROM ({rows_sql}) AS r",
                [known],
            ).fetchnumpy()
        )
    except (duckdb.BinderException, duckdb.ConversionException, duckdb.NotImplementedException):
        return dict(
            raw.sql(
                f"WITH r AS ({rows_sql}), vals AS (SELECT v, "
                "CAST(row_number() OVER (ORDER BY v NULLS LAST) - 1 AS INTEGER) AS g "
                "FROM (SELECT DISTINCT v FROM r) AS d) "
                "SELECT r.c AS c, r.ts AS ts, vals.g AS g FROM r JOIN vals ON r.v IS NOT DISTINCT FROM vals.v"
            ).fetchnumpy()
        )


def customers_of(events: Events, spec: FunnelSpec, wanted: Wanted | None = None) -> Customers | None:
    """Every entered customer's key, level, group and times (:class:`Customers`), or None where
    this scan does not answer (:func:`eligible`, the breakdown's values); ``wanted``: asked
    between the reads and the pass, :class:`Unwanted` is raised once it says False."""
    if not eligible(events, spec):
        return None
    from hourglass.engine._pages import small_pages

    def still() -> None:
        if wanted is not None and not wanted():
            raise Unwanted(spec)

    since, until = micros_of(spec.since), micros_of(spec.until)
    with small_pages():
        first = _step1_rows(events, spec, since, until)
        still()  # (before the joins are left to answer: a funnel left behind gets neither)
        if first is None:
            return None
        c1, t1, g1, values, typed = first
        later = step_names(spec)[1:]
        span = rows_span(events, spec)
        rows = read_names(events, sorted({x for k in later for x in k}), span) if later else {}
        still()
        steps = [(c1, t1), *(step_rows(rows, k) for k in later)]
        found = _scan(steps, g1, values, spec.window)
        still()
        return replace(found, typed=typed)


def _scan(
    steps: Sequence[tuple[np.ndarray, np.ndarray]], g1: np.ndarray, values: list[Any], window: int
) -> Customers:
    """The per-customer pass over the steps' ``(codes, ts)`` (codes in order), ``g1`` the step-1
    rows' group numbers; the ranges of customers in ``grouping.WORKERS`` threads."""
    n = len(steps)
    empty = np.empty(0, dtype=np.int64)
    nonempty = [s for s in steps if len(s[1])]
    if not len(steps[0][1]):
        return Customers(
            empty, empty.astype(np.int8), empty.astype(np.int32), values, [(empty, empty)] * (n - 1)
        )
    t_min = min(int(ts.min()) for _, ts in nonempty)
    t_max = max(int(ts.max()) for _, ts in nonempty)
    last = max(int(c[-1]) for c, _ in nonempty)
    bits, starts = layout(t_min, t_max, last)
    bounds = [np.searchsorted(c, np.asarray(starts, dtype=c.dtype)).tolist() for c, _ in steps]

    def one(r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        keys, g = [], g1[bounds[0][r] : bounds[0][r + 1]]
        for k, ((codes, ts), b) in enumerate(zip(steps, bounds, strict=True)):
            key = codes[b[r] : b[r + 1]].astype(np.int64)
            key -= starts[r]
            key <<= bits
            key += ts[b[r] : b[r + 1]]
            key -= t_min
            if len(key) > 1 and not (key[1:] >= key[:-1]).all():
                order = np.argsort(key, kind="stable")
                key = key[order]
                if k == 0:
                    g = g[order]
            keys.append(key)
        cust, level, group, diffs = chunk(keys, g, window, bits)
        assert group is not None
        return cust + starts[r], level, group, diffs

    parts = run_ranges(one, len(starts) - 1, grouping.WORKERS)
    offsets = np.cumsum([0, *(len(p[0]) for p in parts)])
    diffs = [
        (
            np.concatenate([p[3][k][0] + o for p, o in zip(parts, offsets, strict=False)]),
            np.concatenate([p[3][k][1] for p in parts]),
        )
        for k in range(n - 1)
    ]
    return Customers(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        values,
        diffs,
    )


def scan_by_rows(events: Events, spec: FunnelSpec) -> list[dict[str, Any]] | None:
    """The fast path's summary rows of ``spec`` with a breakdown (one per value with customers:
    ``by``, ``c{k}``, ``med{k}``, ``p90{k}``), in the values' order, or None (the joins answer)."""
    if not spec.by:
        return None
    found = customers_of(events, spec)
    if found is None:
        return None
    n, m = len(spec.steps), len(found.values)
    assert found.group is not None
    counts = [np.bincount(found.group[found.level >= k], minlength=m) for k in range(1, n + 1)]
    out = []
    per_k = []
    for owner, d in found.diffs:
        g = found.group[owner]
        order = np.argsort(g, kind="stable")
        per_k.append((d[order], np.searchsorted(g[order], np.arange(m + 1)).tolist()))
    for j, value in enumerate(found.values):
        if not counts[0][j]:
            continue
        row: dict[str, Any] = {"by": value, "c1": int(counts[0][j])}
        for k in range(2, n + 1):
            row[f"c{k}"] = int(counts[k - 1][j])
            row[f"med{k}"] = row[f"p90{k}"] = None
            if row[f"c{k}"]:
                d, b = per_k[k - 2]
                row[f"med{k}"], row[f"p90{k}"] = quantiles(d[b[j] : b[j + 1]], (0.5, 0.9), 1_000_000)
        out.append(row)
    return out


def scan_levels(events: Events, spec: FunnelSpec, wanted: Wanted | None = None) -> Any:
    """The levels (pandas: ``customer``, ``level`` int64, with a breakdown ``by``), as
    engine/fast_levels.py's, in the store's key order; or None (the caller runs the joins);
    ``wanted``: as :func:`customers_of`'s (the work ahead's people of a funnel left behind)."""
    import pandas as pd
    import pyarrow as pa

    found = customers_of(events, spec, wanted)
    if found is None:
        return None
    columns: dict[str, Any] = {"customer": store_ids(events).take(pa.array(found.keys))}
    columns["level"] = pa.array(found.level.astype(np.int64))
    frame = pa.table(columns).to_pandas()
    if spec.by:
        assert found.group is not None
        if found.typed is not None:  # the joins' dtype (a number's float64 and NaN, a text's str)
            frame["by"] = found.typed.take(found.group).reset_index(drop=True)
        else:  # nobody entered: an empty group column
            frame["by"] = pd.Series(_objects(found.values)[found.group], dtype=object)
    return frame


#: each store's customer ids in key order (Arrow text, ~12 bytes a customer), by the events read
#: (not by the file at the path: a store written again there while the old events still read the
#: file they attached would give the new events the old ids)
_IDS: OrderedDict[int, tuple[weakref.ref[Events], Any]] = OrderedDict()
_IDS_MAX = 4  # (the dashboard's: its request connection and the work ahead's two)
_lock = threading.Lock()


def store_ids(events: Events) -> Any:
    """The store's ``hg_customers.id`` in key order (a pyarrow array), read once per events: a
    customer list is then a ``take`` of its keys (the join with the customer table and its pandas
    conversion took 1.4-1.7 CPU-s for 2.4M customers at 10M events)."""
    from hourglass.engine.errors import translated

    with _lock:
        kept = _IDS.get(id(events))
        if kept is not None and kept[0]() is events:
            _IDS.move_to_end(id(events))
            return kept[1]
    assert events.keyed is not None
    database = getattr(getattr(events.keyed.op(), "namespace", None), "database", None)
    with translated():
        table = events.engine.con.con.sql(
            f'SELECT id FROM "{database}".hg_customers ORDER BY key'
        ).to_arrow_table()
    ids = table.column(0).combine_chunks()
    with _lock:
        _IDS[id(events)] = (weakref.ref(events), ids)
        while len(_IDS) > _IDS_MAX:
            _IDS.popitem(last=False)
    return ids


def _objects(values: list[Any]) -> np.ndarray:
    """``values`` as a numpy object array (each value as it is, a tuple or a list too)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out
