"""The lifecycle's first entry of each stage per customer, from a store's events as numpy arrays
(issue 12: a new date range on the dashboard's hourglass page).

The stage table (analyses/lifecycle.py ``stage_customers``) is a GROUP BY of the range's events by
customer with one filtered minimum per stage, then arithmetic on those n minimums per customer
(``stage_table``). On a store, the minimums are read here instead: for each stage, the customer
keys and times of its events in the range (``hg_events``: integer keys numbered 0, 1, ..., times
in µs; one parallel fetch per stage, its event names contiguous in the store's order), and the
minimum per customer with ``numpy.minimum.at`` into an array over the keys. The customers with an
entry and their n minimums go back to DuckDB as an Arrow table, and ``stage_table`` (the same
expression) computes the rest; the result is the same table (tests/test_lifecycle_firsts.py
compares them on seeded random logs and ranges).

Only for a store's keyed events on a :class:`Bound` run (DuckDB), and stages named by plain event
names without filters (a glob or a ``where`` filter: the GROUP BY, ``None`` here).

The stage summary (``stage_summary``: per stage the customers who entered it, got no further, are
in it now, went on from it, and the median and 90th percentile of the time in it) is computed from
the same arrays too (:func:`stage_summary_of`; at 10M events DuckDB's aggregate over the 1.47M
customers was ~0.25 CPU-s, mostly its 14 ``quantile_cont``; here ~0.08), the percentiles as DuckDB's
``quantile_cont`` computes them: of the n values that are not null, sorted, at rank r = (n - 1) * q,
the values at floor(r) and ceil(r) interpolated as ``lo * (1 - d) + hi * d`` with d = r - floor(r),
in float64 (tests/test_lifecycle_firsts.py compares them bit for bit); none: null."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from hourglass.analyses._match import micros_of
from hourglass.engine._arrow import from_numpy
from hourglass.engine._pages import small_pages
from hourglass.engine._values import sql_literal as _literal
from hourglass.engine.bound import Bound, Runner
from hourglass.engine.grouping import PARALLEL_MIN, run_ranges
from hourglass.engine.keyed import KEYED_VIEW, Keyed
from hourglass.engine.range_cache import kept
from hourglass.engine.range_events import RangeEvents, bounds_sql, range_events
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.steps import Step

__all__ = [
    "QUANTILES",
    "TABLE",
    "plain_names",
    "plain_step",
    "quantiles",
    "stage_arrow",
    "stage_found",
    "stage_rows",
    "stage_summary_of",
    "store_alias",
]

TABLE = "hg_stage_rows"  #: the table's name in the compiled SQL (each run reads its own)
EVENTS = "hg_events"  #: the store's events table (engine/event_store.py)
_NONE = np.iinfo(np.int64).max  # no entry
#: the stages' entries from the range's events read once for the channels too (engine/range_events.py);
#: tests turn it off to compare with the stages' own fetches
SHARED_ON = True


def store_alias(k: Keyed) -> str | None:
    """The store's alias when ``k.table`` is its keyed view as opened."""
    op = k.table.op()
    if not isinstance(op, ops.DatabaseTable) or op.name != KEYED_VIEW or not op.namespace.database:
        return None
    return str(op.namespace.database)


def plain_step(step: Step) -> list[str] | None:
    """A step's event names, sorted, or None when it has a glob or a filter."""
    if step.where or any(c in p for p in step.events for c in "*?"):
        return None
    return sorted(set(step.events))


def plain_names(spec: LifecycleSpec) -> list[list[str]] | None:
    """Each stage's event names, or None when a stage has a glob or a filter."""
    out: list[list[str]] = []
    for stage in spec.model.stages:
        names = plain_step(stage)
        if names is None:
            return None
        out.append(names)
    return out


def _known(raw: Any, table: str) -> set[str] | None:
    """The names of the store's ENUM event column (a name outside it cannot be compared with it), or
    None for a store of text names (past ``ENUM_MAX_NAMES``: any name can be asked)."""
    kind = raw.execute(f"SELECT typeof(event) FROM {table} LIMIT 1").fetchall()
    if not kind:
        return set()  # no events
    if not str(kind[0][0]).startswith("ENUM"):
        return None
    known_rows = raw.execute(f"SELECT enum_range(event) FROM {table} LIMIT 1").fetchall()
    return set(known_rows[0][0]) if known_rows else set()


def _firsts(
    raw: Any, table: str, names: list[list[str]], lo: int | None, hi: int | None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The keys of the customers with an entry and, per stage, their first entry (µs; ``_NONE``)."""
    known = _known(raw, table)
    bounds = "".join(
        [
            f' AND "timestamp" >= {lo}' if lo is not None else "",
            f' AND "timestamp" < {hi}' if hi is not None else "",
        ]
    )
    got: list[tuple[np.ndarray, np.ndarray]] = []
    size = 0
    for stage in names:
        present = [n for n in stage if known is None or n in known]  # a name the store has not: none
        if not present:
            got.append((np.empty(0, np.int64), np.empty(0, np.int64)))
            continue
        match = ", ".join(_literal(n) for n in present)
        sql = f'SELECT customer AS c, "timestamp" AS ts FROM {table} WHERE event IN ({match}){bounds}'
        cols = raw.sql(sql).fetchnumpy()  # in parallel (engine/fastpath_scan.py ``_fetch``)
        c, ts = np.asarray(cols["c"], dtype=np.int64), np.asarray(cols["ts"], dtype=np.int64)
        got.append((c, ts))
        if len(c):
            size = max(size, int(c.max()) + 1)
    firsts = []
    entered = np.zeros(size, dtype=bool)
    for c, ts in got:
        first = np.full(size, _NONE, dtype=np.int64)
        np.minimum.at(first, c, ts)
        entered |= first != _NONE
        firsts.append(first)
    keys = np.flatnonzero(entered)
    return keys, [f[keys] for f in firsts]


def _firsts_of(read: RangeEvents, names: list[list[str]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """:func:`_firsts` from the range's events (c, ts, e: engine/range_events.py): each stage's
    events are those whose name's ENUM code is one of its names' (a name the store has not: none).
    Read in the store's order (by name: each name's rows together, engine/event_store.py), a
    name's events are a slice (found by bisection), else a mask of the names' codes (at 10M events
    the 7 masks were ~0.1 CPU-s)."""
    events, codes = read[0], {n: i for i, n in enumerate(read[1])}
    c = events.column("c").to_numpy()
    ts = np.asarray(events.column("ts").to_numpy(), dtype=np.int64)
    e = events.column("e").to_numpy()
    size = int(c.max()) + 1 if len(c) else 0
    ordered = len(e) < 2 or bool(np.all(e[1:] >= e[:-1]))
    firsts = []
    entered = np.zeros(size, dtype=bool)
    for stage in names:
        mine = sorted({codes[n] for n in stage if n in codes})
        first = np.full(size, _NONE, dtype=np.int64)
        if ordered:
            for code in mine:
                at = e.dtype.type(code)  # (of the array's type: no copy of it to compare)
                a, b = int(np.searchsorted(e, at, "left")), int(np.searchsorted(e, at, "right"))
                np.minimum.at(first, c[a:b], ts[a:b])
        elif mine:
            member = np.zeros(len(codes) + 1, dtype=bool)
            member[mine] = True
            mask = member[e]
            np.minimum.at(first, c[mask], ts[mask])
        entered |= first != _NONE
        firsts.append(first)
    keys = np.flatnonzero(entered)
    return keys, [f[keys] for f in firsts]


def _table(spec: LifecycleSpec, keys: np.ndarray, firsts: list[np.ndarray], now: int) -> dict[str, Any]:
    """The stage table's columns (analyses/lifecycle.py ``stage_table``: a stage's time is the next
    entry in the order (time, stage index) minus its own). An entry as ``time * n + index``
    (distinct, in that order; no entry: above all); the current stage is the greatest entry. Per
    stage, the next entry is the least entry of the others above its own: only a customer who
    entered two stages or more has one (at 10M events a 90-day range had 1.47M customers, 0.33M of
    them in two stages or more), so the n * (n - 1) passes run over those customers only (over
    every customer they were ~1 CPU-s; sorting each customer's n entries, numpy's sort along a row
    of 7, cost five times as much)."""
    n, rows = len(firsts), len(keys)
    names = [s.name for s in spec.model.stages]
    low = np.iinfo(np.int64).min
    entered = [first != _NONE for first in firsts]
    count = np.zeros(rows, dtype=np.int64)
    last = np.full(rows, low, dtype=np.int64)
    furthest = np.zeros(rows, dtype=np.int64)
    for k, first in enumerate(firsts):
        count += entered[k]
        np.maximum(last, np.where(entered[k], first * n + k, low), out=last)
        furthest[entered[k]] = k + 1
    several = np.flatnonzero(count > 1)
    entries = np.empty((n, len(several)), dtype=np.int64)
    for k, first in enumerate(firsts):
        sub = first[several]
        entries[k] = np.where(sub != _NONE, sub * n + k, _NONE)

    def following(k: int) -> np.ndarray:
        nxt = np.full(len(several), _NONE, dtype=np.int64)
        for j in range(n):
            if j != k:
                np.minimum(nxt, np.where(entries[j] > entries[k], entries[j], _NONE), out=nxt)
        return nxt

    # per stage in threads (numpy's passes release the GIL; each stage's own array): at 10M events
    # the 42 passes were ~0.4 s of one thread beside the referral loop's connection
    nexts = run_ranges(following, n, None if len(several) >= PARALLEL_MIN else 1)
    current = np.where(count > 0, last % n + 1, 0)
    since = np.where(count > 0, last // n, _NONE)
    labels = pa.array([None, *names], type=pa.string())
    cols: dict[str, Any] = {
        "furthest_index": pa.array(furthest),
        "furthest": labels.take(pa.array(furthest)),
        "current_index": pa.array(current),
        "current": labels.take(pa.array(current)),
        "current_since": from_numpy(since, count > 0, pa.timestamp("us")),
        "days_in_current": from_numpy(
            (now - since).astype(np.float64) / (86400 * 1_000_000), count > 0, pa.float64()
        ),
    }
    for k, first in enumerate(firsts):
        measured = np.zeros(rows, dtype=bool)
        measured[several] = nexts[k] != _NONE  # (an entry has a next only if it is one)
        seconds = np.zeros(rows, dtype=np.float64)
        seconds[several] = (nexts[k] // n - first[several]).astype(np.float64) / 1_000_000
        cols[f"{names[k]}_at"] = from_numpy(first, entered[k], pa.timestamp("us"))
        cols[f"{names[k]}_time_s"] = from_numpy(seconds, measured, pa.float64())
    return cols


def stage_arrow(
    raw: Any,
    k: Keyed | None,
    spec: LifecycleSpec,
    now: datetime,
    owner: Any = None,
    channel: str | None = None,
) -> tuple[pa.Table, dict[str, Any]] | None:
    """:func:`_stage_arrow`, kept per ``owner`` (the loaded source's report) and range for the
    clicks that follow it (engine/range_cache.py)."""
    if owner is None:
        return _stage_arrow(raw, k, spec, now)
    key = ("stages", tuple(spec.model.stages), spec.since, spec.until, now)  # names, events, filters
    return kept(owner, key, lambda: _stage_arrow(raw, k, spec, now, owner, channel))


def _stage_arrow(
    raw: Any,
    k: Keyed | None,
    spec: LifecycleSpec,
    now: datetime,
    owner: Any = None,
    channel: str | None = None,
) -> tuple[pa.Table, dict[str, Any]] | None:
    """The range of ``spec`` (its own dates) as the stage table (analyses/lifecycle.py
    ``stage_customers``, ``customer`` the key): an Arrow table and its Ibis schema; None where this
    path does not apply (the module's docstring). ``raw``: the DuckDB connection. The stages'
    entries from the range's events as engine/range_events.py reads them once per ``owner`` (the
    loaded source's report) with the ``channel`` column the channels beside read (None: none), so
    that the channels' facts find them read; a store of text names: each stage's own fetch."""
    if k is None or spec.as_of is not None:
        return None
    alias, names = store_alias(k), plain_names(spec)
    if alias is None or names is None:
        return None
    lo = None if spec.since is None else micros_of(spec.since)
    hi = None if spec.until is None else micros_of(spec.until)
    table = f'"{alias}"."{EVENTS}"'
    with small_pages():
        read = None
        if SHARED_ON:
            read = range_events(raw, table, channel, bounds_sql(spec.since, spec.until), owner)
        keys, firsts = _firsts(raw, table, names, lo, hi) if read is None else _firsts_of(read, names)
        limit = 2**62 // len(firsts)  # an entry as time * n + index must fit (any year < 10000 does)
        if any(bool(np.any((f != _NONE) & ((f > limit) | (f < -limit)))) for f in firsts):
            return None
        key_type = k.table.customer.type()
        ts_type = k.table.timestamp.type()
        columns = {
            "customer": pa.array(keys.astype(key_type.to_numpy())),
            **_table(spec, keys, firsts, micros_of(now)),
        }
    schema: dict[str, Any] = {"customer": key_type}
    for name in columns:
        if name in ("furthest_index", "current_index"):
            schema[name] = "int64"
        elif name in ("furthest", "current"):
            schema[name] = "string"
        elif name == "current_since" or name.endswith("_at"):
            schema[name] = ts_type
        elif name != "customer":
            schema[name] = "float64"
    return pa.table(columns), schema


def stage_rows(
    run: Runner,
    k: Keyed | None,
    spec: LifecycleSpec,
    now: datetime,
    owner: Any = None,
    channel: str | None = None,
) -> ir.Table | None:
    """:func:`stage_arrow` as a table of ``run`` (a :class:`Bound` run: DuckDB; else None)."""
    found = stage_found(run, k, spec, now, owner, channel)
    return None if found is None else found[0]


def stage_found(
    run: Runner,
    k: Keyed | None,
    spec: LifecycleSpec,
    now: datetime,
    owner: Any = None,
    channel: str | None = None,
) -> tuple[ir.Table, pa.Table] | None:
    """:func:`stage_arrow` as a table of ``run`` (a :class:`Bound` run: DuckDB; else None) and its
    Arrow table (:func:`stage_summary_of`: the summary from it)."""
    if not isinstance(run, Bound):
        return None
    found = stage_arrow(run.engine.con.con, k, spec, now, owner, channel)
    return None if found is None else (run.frame(TABLE, *found), found[0])


QUANTILES = (("med", 0.5), ("p90", 0.9))  #: the summary's percentiles (``stage_summary``'s)


def quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[float | None]:
    """DuckDB's ``quantile_cont`` of ``values`` (float64, no nulls) at each of ``qs``."""
    n = len(values)
    if n == 0:
        return [None for _ in qs]
    ranks = [(n - 1) * q for q in qs]
    at = sorted({i for r in ranks for i in (math.floor(r), math.ceil(r))})
    part = np.partition(values, at)
    out: list[float | None] = []
    for r in ranks:
        lo, hi = math.floor(r), math.ceil(r)
        if lo == hi:
            out.append(float(part[lo]))
        else:
            d = r - lo
            out.append(float(part[lo] * (1.0 - d) + part[hi] * d))
    return out


def stage_summary_of(spec: LifecycleSpec, table: pa.Table) -> dict[str, Any]:
    """``stage_summary``'s one row (no breakdown) of the stage ``table`` (stage_firsts.py's Arrow
    table: ``furthest_index``, ``current_index``, per stage ``<name>_at`` and ``<name>_time_s``)."""
    furthest = np.asarray(table.column("furthest_index").to_numpy(), dtype=np.int64)
    current = np.asarray(table.column("current_index").to_numpy(), dtype=np.int64)
    row: dict[str, Any] = {"customers": table.num_rows}
    for k, stage in enumerate(spec.model.stages, start=1):
        at = table.column(f"{stage.name}_at")
        entered = np.asarray(at.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        time_s = table.column(f"{stage.name}_time_s").drop_null()
        row[f"entered{k}"] = int(np.count_nonzero(entered))
        row[f"furthest{k}"] = int(np.count_nonzero(furthest == k))
        row[f"current{k}"] = int(np.count_nonzero(current == k))
        row[f"continued{k}"] = int(np.count_nonzero(entered & (furthest > k)))
        values = np.asarray(time_s.to_numpy(), dtype=np.float64)
        for (name, _q), value in zip(
            QUANTILES, quantiles(values, tuple(q for _, q in QUANTILES)), strict=True
        ):
            row[f"{name}{k}"] = value
    return row
