"""The referral loop's and the channels' customer facts of a range, from a store's events as numpy
arrays (issue 12: a new date range on the dashboard's hourglass page).

The channels' customer table (analyses/channels.py ``channel_plan``) starts with a GROUP BY of the
range's events by customer (analyses/referrals.py ``customer_facts``: first event, purchaser, first
purchase, purchases, a flag per stage, revenue, and the acquisition channel ``first_value``): at
10M events about 2 CPU-s of DuckDB's hash aggregate, half of a new range's referral loop and
channels. On a store it is computed here instead: the range's events read once as Arrow (the
integer customer key, the time in µs, the ENUM code of the name, the channel's text), each event
name's membership of the sale, the purchase and each stage looked up by its code, and the
per-customer values by ``numpy.minimum.at`` / ``numpy.bincount`` over the dense keys. The channel:
the channel's distinct texts cleaned as the plan cleans them (``strip``, blank as none: DuckDB on
the few distinct values), then per customer the least time among his events with a channel and,
among his events at that time, the least text (byte order, as DuckDB compares text). Revenue from
a second read of the rows that have one. The table goes back to DuckDB as Arrow
(``Bound.frame``), with the types of the plan's own expression, and the rest of the plan (the
referrers' joins, every aggregate) reads it as it read the GROUP BY (tests/test_referrals_facts.py
compares them customer by customer on seeded stores, and the whole lifecycle).

Only for a store's keyed events (ENUM event names) on a :class:`Bound` run, steps of plain event
names without filters, a text channel column and floating revenue; else None (the GROUP BY)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hourglass.analyses._match import micros_of
from hourglass.analyses.channels import first_value
from hourglass.analyses.referrals import customer_facts
from hourglass.engine._arrow import from_numpy
from hourglass.engine._pages import small_pages
from hourglass.engine.bound import Bound, Runner, built
from hourglass.engine.errors import translated
from hourglass.engine.keyed import Keyed
from hourglass.engine.range_cache import kept
from hourglass.engine.range_events import bounds_sql, by_name, in_range, range_events, revenue_events
from hourglass.engine.referrers_arrays import with_referrers_arrow
from hourglass.engine.stage_firsts import EVENTS, store_alias
from hourglass.ingest.normalize import strip
from hourglass.model.steps import Step

__all__ = [
    "CUSTOMERS",
    "FACTS_ON",
    "TABLE",
    "bounds_sql",
    "customers_found",
    "facts_arrow",
    "facts_rows",
]

TABLE = "hg_facts_rows"  #: the table's name in the compiled SQL (each run reads its own)
CUSTOMERS = "hg_facts_customers"  #: the facts with the referrers (engine/referrers_arrays.py)
FACTS_ON = True  #: tests turn it off to compare with the GROUP BY
_BIG = np.iinfo(np.int64).max


def _names(step: Step) -> list[str] | None:
    if step.where or any(c in p for p in step.events for c in "*?"):
        return None
    return list(step.events)


def _schema(t: ir.Table, sale: Step, purchase: Step, stages: Sequence[Step], column: str) -> Any:
    """The plan's own customer facts' schema (its columns, in order, and their types)."""
    extra = {"channel": first_value(t, column)}
    return customer_facts(t, sale, purchase, stages, extra).schema()


_CLEAN: dict[str, str] = {}  # the cleaning's SQL, compiled once
_VALUES = "hg_channel_values"


def _cleaned(backend: Any, values: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Each distinct channel text's rank among the cleaned texts (-1: blank or none) and the
    cleaned texts in order: cleaned by DuckDB with the plan's own ``strip`` (its SQL compiled once,
    run on the values registered under a name of their own)."""
    if "sql" not in _CLEAN:
        schema = ibis.schema({"i": "int64", "v": "string"})
        t = ops.DatabaseTable(_VALUES, schema=schema, source=backend, namespace=ops.Namespace()).to_expr()
        _CLEAN["sql"] = str(backend.compile(t.select(t.i, v=strip(t.v).nullif(""))))
    name = f"{_VALUES}_{uuid.uuid4().hex[:12]}"
    raw = backend.con
    raw.register(name, pa.table({"i": pa.array(np.arange(len(values), dtype=np.int64)), "v": values}))
    try:
        got = raw.sql(_CLEAN["sql"].replace(f'"{_VALUES}"', f'"{name}"')).to_arrow_table()
    finally:
        raw.unregister(name)
    order = np.asarray(got.column("i").to_numpy(), dtype=np.int64)
    cleaned: list[str | None] = [None] * len(values)
    for i, text in zip(order.tolist(), got.column("v").to_pylist(), strict=True):
        cleaned[i] = text
    ordered = sorted({c for c in cleaned if c is not None}, key=lambda s: s.encode())
    rank = {c: i for i, c in enumerate(ordered)}
    return np.array([-1 if c is None else rank[c] for c in cleaned], dtype=np.int64), ordered


def _channel_ranks(
    backend: Any, column: pa.ChunkedArray, values: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Per event, the rank of its cleaned channel text (-1: none), and the cleaned texts; with
    ``values`` the column holds each event's index in ``values`` (-1: none), from DuckDB's ENUM
    cast (engine/range_events.py), else the texts themselves."""
    if values is not None:
        codes = _np(column, np.int64)
        if not values:
            return np.full(len(codes), -1, dtype=np.int64), []
        ranks, texts = _cleaned(backend, pa.array(values, type=pa.string()))
        return np.append(ranks, -1)[codes], texts  # index -1: the appended "none"
    if len(column) == 0:
        return np.empty(0, np.int64), []
    encoded = pc.dictionary_encode(column.combine_chunks())
    if len(encoded.dictionary) == 0:
        return np.full(len(column), -1, dtype=np.int64), []
    ranks, texts = _cleaned(backend, encoded.dictionary)
    idx = encoded.indices
    valid = pc.is_valid(idx).to_numpy(zero_copy_only=False)
    return np.where(valid, ranks[_np(idx.fill_null(0), np.int64)], -1), texts


def _np(col: Any, dtype: Any) -> np.ndarray:
    return np.asarray(col.to_numpy(), dtype=dtype) if len(col) else np.empty(0, dtype)


def facts_arrow(
    backend: Any,
    k: Keyed,
    t: ir.Table,
    sale: Step,
    purchase: Step,
    stages: Sequence[Step],
    column: str,
    since: datetime | None,
    until: datetime | None,
    owner: Any = None,
) -> tuple[pa.Table, dict[str, Any]] | None:
    """:func:`_facts_arrow`, kept per ``owner`` (the loaded source's report) and range for the
    clicks that follow it (engine/range_cache.py)."""
    args = (backend, k, t, sale, purchase, stages, column, since, until, owner)
    if owner is None:
        return _facts_arrow(*args)
    key = ("facts", sale, purchase, tuple(stages), column, since, until)
    return kept(owner, key, lambda: _facts_arrow(*args))


def _facts_arrow(
    backend: Any,
    k: Keyed,
    t: ir.Table,
    sale: Step,
    purchase: Step,
    stages: Sequence[Step],
    column: str,
    since: datetime | None,
    until: datetime | None,
    owner: Any = None,
) -> tuple[pa.Table, dict[str, Any]] | None:
    """The customer facts of the range [since, until) (``customer_facts`` with the channel's
    ``first_value``; ``customer`` the key) as an Arrow table and its Ibis schema, or None where
    this path does not apply (the module's docstring). ``t``: the keyed events as the plan reads
    them (for the schema); ``owner``: the loaded source's report, its range's events read once for
    the stage table too (engine/range_events.py)."""
    alias, raw = store_alias(k), backend.con
    steps = [_names(s) for s in (sale, purchase, *stages)]
    if alias is None or any(s is None for s in steps) or column not in t.columns or len(steps) > 64:
        return None
    schema = built(_schema, t, sale, purchase, tuple(stages), column)
    if "revenue" in schema and not schema["revenue"].is_floating():
        return None
    table = f'"{alias}"."{EVENTS}"'
    bounds = bounds_sql(since, until)
    with small_pages():
        read = range_events(raw, table, column, bounds, owner)
        if read is None:
            return None
        events, names, values = read
        code = {n: i for i, n in enumerate(names)}
        c = events.column("c").to_numpy()  # the store's integer keys as they are (no copy to int64)
        ts = _np(events.column("ts"), np.int64)
        # each name's events a slice (range_events.by_name: as read, in the store's order)
        order, starts = by_name(events.column("e").to_numpy(), len(names))
        if order is not None:
            c, ts = c[order], ts[order]
        size = int(c.max()) + 1 if len(c) else 0
        keys = np.flatnonzero(np.bincount(c, minlength=size))

        def rows(step_names: list[str] | None) -> list[slice]:
            found = {code[n] for n in step_names or () if n in code}
            return [slice(int(starts[i]), int(starts[i + 1])) for i in sorted(found)]

        # per step (sale, purchase, each stage) its names' slices: a flag per customer who has one
        # (at 10M events one lookup per event and an OR per customer were ~0.17 CPU-s)
        flags = []
        for step_names in steps[2:]:
            flag = np.zeros(size, dtype=bool)
            for part in rows(step_names):
                flag[c[part]] = True
            flags.append(flag[keys])
        first = np.full(size, _BIG, dtype=np.int64)
        np.minimum.at(first, c, ts)
        first_sale = np.full(size, _BIG, dtype=np.int64)
        for part in rows(steps[0]):
            np.minimum.at(first_sale, c[part], ts[part])
        purchases = np.zeros(size, dtype=np.int64)
        for part in rows(steps[1]):
            purchases += np.bincount(c[part], minlength=size)
        # the channel: the least (time, cleaned text) among the events with one
        r, texts = _channel_ranks(backend, events.column("ch"), values)
        if order is not None:
            r = r[order]
        has = r >= 0
        if bool(has.all()):  # every event has one (a log that tags each): its least time is the first
            cw, tw, rw, at = c, ts, r, first
        else:
            cw, tw, rw = c[has], ts[has], r[has]
            at = np.full(size, _BIG, dtype=np.int64)
            np.minimum.at(at, cw, tw)
        tied = tw == at[cw]
        best = np.full(size, _BIG, dtype=np.int64)
        np.minimum.at(best, cw[tied], rw[tied])
        channel = best[keys]
        chan_valid = channel != _BIG
        revenue = None
        if "revenue" in schema:
            # the source's events with a revenue, read once (engine/after_sale_arrays.py), in the range
            lo = None if since is None else micros_of(since)
            hi = None if until is None else micros_of(until)
            rc, _ts, rv = in_range(revenue_events(raw, table, owner), lo, hi)
            revenue = np.bincount(rc, weights=rv, minlength=size)[keys]
    fk, sk = first[keys], first_sale[keys]
    bought = sk != _BIG
    cols: dict[str, pa.Array] = {}
    for name, typ in schema.items():
        arrow_type = typ.to_pyarrow()
        if name == "customer":
            cols[name] = pa.array(keys.astype(typ.to_numpy()))
        elif name == "first_ts":
            cols[name] = pa.array(fk).cast(arrow_type)
        elif name == "first_at":
            cols[name] = from_numpy(fk, None, pa.timestamp("us")).cast(arrow_type)
        elif name == "purchaser":
            cols[name] = pa.array(bought.astype(np.int64)).cast(arrow_type)
        elif name == "first_purchase":
            cols[name] = from_numpy(np.where(bought, sk, 0), bought, pa.int64()).cast(arrow_type)
        elif name == "purchases":
            cols[name] = pa.array(purchases[keys].astype(np.int64)).cast(arrow_type)
        elif name == "revenue":
            assert revenue is not None
            cols[name] = pa.array(revenue).cast(arrow_type)
        elif name == "channel":
            text = pa.array(texts or [""], type=pa.string())
            cols[name] = text.take(from_numpy(np.where(chan_valid, channel, 0), chan_valid, pa.int64()))
        elif name.startswith("s") and name[1:].isdigit():
            cols[name] = pa.array(flags[int(name[1:])].astype(np.int64)).cast(arrow_type)
        else:  # a column this module does not know: the GROUP BY
            return None
    return pa.table(cols), dict(schema.items())


def facts_rows(
    run: Runner,
    k: Keyed | None,
    t: ir.Table,
    sale: Step,
    purchase: Step,
    stages: Sequence[Step],
    column: str,
    since: datetime | None,
    until: datetime | None,
) -> ir.Table | None:
    """:func:`facts_arrow` as a table of ``run`` (a :class:`Bound` run: DuckDB; else None)."""
    if not FACTS_ON or k is None or not isinstance(run, Bound):
        return None
    found = facts_arrow(run.engine.con, k, t, sale, purchase, stages, column, since, until)
    return None if found is None else run.frame(TABLE, *found)


def customers_found(
    run: Runner,
    k: Keyed | None,
    facts: pa.Table,
    customers: ir.Table,
    by_event: bool,
    since: datetime | None,
    until: datetime | None,
    owner: Any = None,
) -> tuple[ir.Table, pa.Table] | None:
    """The plan's ``customers`` (the facts with the referrers, analyses/referrals.py
    ``with_referrers``) from ``facts`` (:func:`facts_arrow`'s) as a table of ``run`` and as Arrow
    (engine/referrers_arrays.py), or None (the plan's joins): the referral-event mode
    (``by_event``), no referrer column, a referrer that is not text. ``owner``: the loaded
    source's report (the store's referrers' keys looked up once)."""
    alias = None if k is None else store_alias(k)
    if by_event or alias is None or not isinstance(run, Bound):
        return None
    schema = dict(customers.schema().items())
    table = f'"{alias}"."{EVENTS}"'
    raw = run.engine.con.con
    with translated():
        found = with_referrers_arrow(raw, alias, table, bounds_sql(since, until), facts, schema, owner)
    return None if found is None else (run.frame(CUSTOMERS, found, schema), found)
