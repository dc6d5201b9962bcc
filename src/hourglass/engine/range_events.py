"""A store's events of a range read once as Arrow (the customer key, the time in µs, the event name's
ENUM code and, when asked, the channel's code), for both sides of a new range's lifecycle (issue
12: a new date range on the dashboard's hourglass page).

A new range's lifecycle computes its stage table (engine/stage_firsts.py) on one connection and
the channels' customer facts (engine/facts_arrays.py) on another, beside it; each read the range's
events (at 10M events a 90-day range: the stages' 7 fetches of 4.9M rows, ~0.4 CPU-s, and the
facts' one read of 5.75M rows, ~0.3 CPU-s). The events are read here once, by whichever side asks
first; the other waits for that read (engine/range_cache.py ``shared``) and computes from the same
arrays. Kept per loaded source for the last range only (~100 MB at 10M events).

The channel column ``ch``: with at most ``ENUM_MAX`` distinct channel texts in the range, each
event's index among them (-1: none; DuckDB's ``list_position`` among at most ``LIST_MAX`` of them,
else its cast to an ENUM of them, on its threads: at 10M events the texts' Arrow strings, their
dictionary and its indices as numpy were ~0.5 CPU-s warm, ~3 fresh, of one thread) and the texts
are returned; else (or a text holding a NUL byte, which the ENUM's SQL text cannot hold) ``ch`` is
the texts themselves and the texts None. Without a channel column asked for, no ``ch``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from hourglass.analyses._match import micros_of
from hourglass.engine.range_cache import remembered, shared

__all__ = [
    "ENUM_MAX",
    "LIST_MAX",
    "RangeEvents",
    "bounds_sql",
    "by_name",
    "in_range",
    "range_events",
    "read_events",
    "revenue_events",
]

ENUM_MAX = 1000  #: at most this many distinct channel texts in a range: DuckDB codes them
LIST_MAX = 16  #: at most this many: each text's place in their list, else an ENUM of them

#: the events (c, ts, e[, ch]), the ENUM's names in code order, the channel's distinct texts
RangeEvents = tuple[pa.Table, list[str], list[str] | None]
_START, _END = np.iinfo(np.int64).min, np.iinfo(np.int64).max


def bounds_sql(since: datetime | None, until: datetime | None) -> str:
    """The range as the SQL conditions on the store's µs (each `` AND ...``)."""
    return "".join(
        [
            f' AND "timestamp" >= {micros_of(since)}' if since is not None else "",
            f' AND "timestamp" < {micros_of(until)}' if until is not None else "",
        ]
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_events(raw: Any, table: str, column: str | None, bounds: str) -> RangeEvents | None:
    """The range's events of ``table`` (``bounds``: SQL conditions, each `` AND ...``) with the
    channel ``column`` coded as the module says (None: no channel); None for a store of text names
    or a channel column that is not text."""
    kinds = f"typeof(event), typeof({_q(column)})" if column is not None else "typeof(event)"
    kind = raw.execute(f"SELECT {kinds} FROM {table} LIMIT 1").fetchall()
    if kind and not str(kind[0][0]).startswith("ENUM"):
        return None
    if kind and column is not None and str(kind[0][1]) != "VARCHAR":
        return None
    names: list[str] = []
    if kind:
        names = list(raw.execute(f"SELECT enum_range(event) FROM {table} LIMIT 1").fetchall()[0][0])
    ch, values = "", None
    if column is not None:
        col = _q(column)
        found = raw.execute(
            f"SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL{bounds} LIMIT {ENUM_MAX + 1}"
        ).fetchall()
        distinct = [str(r[0]) for r in found]
        values = distinct
        if len(distinct) > ENUM_MAX or any("\x00" in v for v in distinct):  # (no NUL in SQL text)
            values, code = None, col
        elif not distinct:
            code = "-1"
        else:  # a few texts: a search of their list per event (at 10M events, 5 texts: 0.15 CPU-s
            # against the ENUM cast's 0.33); more: the ENUM's lookup
            texts = ", ".join("'" + v.replace("'", "''") + "'" for v in distinct)
            if len(distinct) <= LIST_MAX:
                code = f"COALESCE(CAST(list_position([{texts}], {col}) AS INTEGER) - 1, -1)"
            else:
                code = f"COALESCE(CAST(enum_code(CAST({col} AS ENUM({texts}))) AS INTEGER), -1)"
        ch = f", {code} AS ch"
    sql = (
        f'SELECT customer AS c, "timestamp" AS ts, enum_code(event) AS e{ch} FROM {table} WHERE true{bounds}'
    )
    return raw.sql(sql).to_arrow_table().combine_chunks(), names, values  # (each side's numpy: no copy)


def range_events(
    raw: Any, table: str, column: str | None, bounds: str, owner: Any = None
) -> RangeEvents | None:
    """:func:`read_events`, read once per ``owner`` (the loaded source's report) and range: a
    second caller while it is read waits for it (engine/range_cache.py ``shared``)."""
    if owner is None:
        return read_events(raw, table, column, bounds)
    key = ("events", table, column, bounds, ENUM_MAX, LIST_MAX)
    return shared(owner, key, lambda: read_events(raw, table, column, bounds))


def by_name(e: np.ndarray, count: int) -> tuple[np.ndarray | None, np.ndarray]:
    """The events' order by name code ``e`` (None: they are in it, as read in the store's order,
    engine/event_store.py; else a stable sort's permutation, to apply to every column) and where
    each code's events start in that order (``count`` codes, then the end): code k's events are
    ``starts[k]:starts[k + 1]``, a slice instead of a mask over all the events per name."""
    order = None
    if len(e) > 1 and not bool(np.all(e[1:] >= e[:-1])):
        order = np.argsort(e, kind="stable")
        e = e[order]
    starts = np.empty(count + 1, dtype=np.int64)
    starts[:count] = np.searchsorted(e, np.arange(count).astype(e.dtype), "left")
    starts[count] = len(e)
    return order, starts


def revenue_events(raw: Any, table: str, owner: Any) -> tuple[np.ndarray, ...]:
    """The source's events with a revenue other than 0 (which adds nothing to a sum; a NaN is kept):
    key, µs, revenue (the store's order), read once per loaded source ``owner`` (for the channels'
    customer facts, engine/facts_arrays.py, and the loyalty block, engine/after_sale_arrays.py)."""

    def read() -> tuple[np.ndarray, ...]:
        sql = f'SELECT customer AS c, "timestamp" AS ts, revenue AS r FROM {table} WHERE revenue <> 0'
        got = raw.sql(sql).fetchnumpy()
        return tuple(
            np.asarray(got[k], dtype=t) for k, t in (("c", np.int64), ("ts", np.int64), ("r", np.float64))
        )

    if owner is None:
        return read()
    return remembered(owner, ("revenue events", table), read)


def in_range(cols: tuple[Any, ...], lo: int | None, hi: int | None) -> tuple[Any, ...]:
    """The rows ``cols`` (``c``, ``ts``, then others; other than arrays as they are) in [lo, hi)."""
    ts = cols[1]
    keep = (ts >= (_START if lo is None else lo)) & (ts <= (_END if hi is None else hi - 1))
    return tuple(x[keep] if isinstance(x, np.ndarray) else x for x in cols)
