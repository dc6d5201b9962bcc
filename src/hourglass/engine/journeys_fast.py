"""The DuckDB fast path of ``paths`` and ``transitions`` (docs/semantics-journeys.md, bench/JOURNEYS.md):
the portable plans' rows, from SQL around the customer's nodes compiled by Ibis, or numpy kernels.

Why it is exact. A customer's sequence is ordered by (timestamp, node[, event, channel]); rows equal
in (timestamp, node) are the same element for every figure here (same node, same time), so one
window ordered by (ts, node) gives the sequence. Then:

- paths: the runs' starts (``lag(node) <> node``, or every element without collapsing) keep their
  position in the sequence; ``min_by(node, position, depth + 1)`` is the first depth + 1 runs in
  order (a bounded aggregate per customer, not a second sort), its first ``depth`` the path and a
  ``depth + 1``-th one means "continued";
- transitions: a run's move is read at its *last* element, where ``lead(node) <> node``: the edge
  is (node, ``lead(node)``), the next run's first time is ``lead(ts)``; the run's own first time is
  the element's when the run has one element, else the previous row among the starts and ends of
  the runs of several elements (a second, smaller window).

Out of scope (the portable plan runs): engines but DuckDB, ``by``, paths from/to an anchor, stage
models where one event may match two stages; ``HOURGLASS_PLAN=portable`` forces the portable plan.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import micros, micros_of, step_predicate
from hourglass.analyses.funnel_closed import overlap_groups
from hourglass.engine import journeys_wide
from hourglass.engine._values import sql_literal as _quoted
from hourglass.engine.fastpath import PLAN_ENV
from hourglass.engine.fetched import fetched
from hourglass.engine.journeys_codes import code_names, codes_database
from hourglass.engine.journeys_order import Done, Threaded, numpy_order, numpy_sorted
from hourglass.engine.journeys_parquet import parquet_paths
from hourglass.engine.journeys_parquet_sorted import parquet_sorted
from hourglass.engine.journeys_paths import threaded_paths, wide_paths
from hourglass.engine.journeys_ranges import threaded_transitions
from hourglass.engine.journeys_seq import (
    PACKED_EDGES,
    Sorted,
    seq_paths,
    seq_transitions,
    small_pages,
    sorted_from_arrow,
)
from hourglass.engine.journeys_sql import fast_paths_sql, fast_transitions_sql
from hourglass.engine.load import Events
from hourglass.engine.raw_names import raw_codes_sql, raw_event_table, raw_names
from hourglass.engine.raw_stages import stage_rows
from hourglass.engine.store_codes import CODE_COLUMN
from hourglass.engine.store_order import store_sorted
from hourglass.engine.store_paths import store_paths
from hourglass.engine.wide_edges import Columns, edge_columns
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = [
    "fast_paths",
    "fast_paths_sql",
    "fast_transitions",
    "fast_transitions_sql",
    "journeys_plan_for",
    "nodes_sql",
    "sorted_nodes",
]


def _why_not(events: Events, spec: PathsSpec | TransitionsSpec) -> str | None:
    if events.engine.name != "duckdb":
        return f"the {events.engine.name} engine"
    if spec.by is not None:
        return "a breakdown (by)"
    if isinstance(spec, PathsSpec) and (spec.start is not None or spec.end is not None):
        return "an anchor (from/to)"
    if spec.level == "stage":
        assert spec.model is not None
        if any(len(g) > 1 for g in overlap_groups(spec.model.stages)):
            return "stages that one event may match together"
    return None


def journeys_plan_for(events: Events, spec: PathsSpec | TransitionsSpec) -> str:
    """``fast`` or ``portable``, as the funnel's (engine/fastpath.py ``plan_for``):
    $HOURGLASS_PLAN=portable forces the portable plan, ``fast`` where the fast path cannot run
    raises HG520, another value HG109."""
    wanted = os.environ.get(PLAN_ENV) or "auto"
    if wanted not in ("auto", "fast", "portable"):
        from hourglass.model.errors import SpecError

        raise SpecError(f"unknown plan '{wanted}'", code="HG109", hint="auto, fast or portable")
    if wanted == "portable":
        return "portable"
    reason = _why_not(events, spec)
    if reason is None:
        return "fast"
    if wanted == "fast":
        from hourglass.model.errors import UnsupportedError

        raise UnsupportedError(
            f"the fast path of {'paths' if isinstance(spec, PathsSpec) else 'transitions'} cannot "
            f"run: {reason}",
            code="HG520",
            hint="unset HOURGLASS_PLAN (or set it to portable): the portable plan runs every analysis",
        )
    return "portable"


def _framed(table: ir.Table, spec: PathsSpec | TransitionsSpec) -> tuple[ir.Table, ir.Value, str]:
    """The events in the period, the time column to select and its µs in SQL (of ``ts``)."""
    stamp = table.timestamp.type().is_timestamp()
    ts = micros(table.timestamp) if stamp else table.timestamp
    t = table.mutate(__hg_ts=ts)
    # the time as DuckDB's epoch_us of the column (its date_diff from 1970, what Ibis writes, costs
    # 1.5x more at 10M rows); the period's filter keeps Ibis's form
    tcol, us = (t.timestamp, "epoch_us(ts)") if stamp else (t.__hg_ts, "ts")
    if spec.since is not None:
        t = t.filter(t.__hg_ts >= micros_of(spec.since))
    if spec.until is not None:
        t = t.filter(t.__hg_ts < micros_of(spec.until))
    return t, tcol, us


def _nodes_sql(
    events: Events, spec: PathsSpec | TransitionsSpec, *, raw_event: bool = False, code: bool = False
) -> str:
    """SQL of the customer's elements: ``c`` (a key grouping as the customer does), ``ts`` (µs),
    ``node`` (the event name, or the 1-based stage), in the period; ``raw_event``: at the event
    level, the raw event value (engine/raw_names.py's form must apply); ``code``: at the event
    level, a store's number of the name (engine/journeys_codes.py)."""
    table = events.table
    stages = spec.model.stages if spec.level == "stage" and spec.model else []
    used = {f.column for s in stages for f in s.where}
    if events.keyed is not None and not used & {"customer", "timestamp"}:
        table = events.keyed  # integer customer keys; a store's ENUM codes sort in name order
    if raw_event:
        raw_table = raw_event_table(table)
        assert raw_table is not None and not stages
        table = raw_table
    t, tcol, us = _framed(table, spec)
    if stages and all(not st.where and not any(ch in n for ch in "*?") for st in stages for n in st.events):
        # stages of plain names: one list lookup per row (an Ibis CASE repeats the canonical event
        # expression once per stage in the scan's pushed-down filter: 4x slower at 10M events)
        names = [n for st in stages for n in st.events]
        index = [str(k) for k, st in enumerate(stages, start=1) for _ in st.events]
        lookup = ", ".join(_quoted(n) for n in names)
        base = events.engine.con.compile(t.select(c=t.customer, ts=tcol, e=t.event))
        expr = f"[0, {', '.join(index)}][coalesce(list_position([{lookup}], CAST(e AS VARCHAR)), 0) + 1]"
        raw = _raw_stage_nodes(events, table, spec, names, index)
        if raw is not None:
            base, expr = raw
        elif table is events.keyed and events.codes is not None and events.enum_type is not None:
            # a store's ENUM: the stage by the code, and only the stages' row groups are read (its
            # rows are ordered by event: zone maps on the code skip the others)
            stage_of = dict(zip(names, index, strict=True))
            expr = f"[{', '.join(stage_of.get(n, '0') for n in events.codes)}][enum_code(e) + 1]"
            found = [n for n in events.codes if n in stage_of]
            match = " OR ".join(f"e = {_quoted(n)}::{events.enum_type}" for n in found)
            base = f"SELECT * FROM ({base}) AS st WHERE {match or 'false'}"
        elif table is events.keyed and events.report.kind == "store":
            # a store's names as text (too many for an ENUM): canonical as written, and its rows
            # ordered by event, so the filter reads only the stages' row groups
            base = f"SELECT * FROM ({base}) AS st WHERE e IN ({lookup})"
        return (
            f"SELECT c, {us} AS ts, node FROM (SELECT c, ts, {expr} AS node FROM ({base}) AS b) AS x "
            "WHERE node > 0"
        )
    if stages:
        node: ir.Value = ibis.cases(*[(step_predicate(s, t), k) for k, s in enumerate(stages, start=1)])
        sel = t.select(c=t.customer, ts=tcol, node=node.cast("int64"))
        sel = sel.filter(sel.node.notnull())
    else:
        sel = t.select(c=t.customer, ts=tcol, node=t[CODE_COLUMN] if code else t.event)
    return f"SELECT c, {us} AS ts, node FROM ({events.engine.con.compile(sel)}) AS q"


#: the customer's elements' SQL (``c``, ``ts``, ``node``), public for engine/paths_people.py (S's)
nodes_sql = _nodes_sql


def _raw_stage_nodes(
    events: Events, table: ir.Table, spec: PathsSpec | TransitionsSpec, names: list[str], index: list[str]
) -> tuple[str, str] | None:
    """The elements' SQL (``c``, ``ts``, ``e``) over the raw event column and the stage by the raw
    value (the raw values of the stages' names from the column's distinct values, the query the
    model check ran: engine/raw_names.py): no canonical text per row, and the filter on the raw
    values is pushed into the scan. None when that form does not apply (a store: its codes; a
    deduplicated source) or no name occurs."""
    if events.codes is not None:
        return None
    raw_table = raw_event_table(table)
    got = raw_names(events, list(dict.fromkeys(names))) if raw_table is not None else None
    if raw_table is None or got is None or not got.raw:
        return None
    stage_of = dict(zip(names, index, strict=True))
    raw = sorted(got.raw)
    values = ", ".join(_quoted(r) for r in raw)
    t, tcol, _ = _framed(raw_table, spec)
    base = events.engine.con.compile(t.select(c=t.customer, ts=tcol, e=t.event))
    base = f"SELECT * FROM ({base}) AS r WHERE e IN ({values})"
    return base, f"[0, {', '.join(stage_of[got.raw[r]] for r in raw)}][list_position([{values}], e) + 1]"


THREADED = True  # the kernels per set of customers in threads, with the numpy order (journeys_ranges.py)


def _run_pre_hooks(events: Events) -> None:
    hook = getattr(events.engine.con, "_run_pre_execute_hooks", None)
    if hook is not None:  # registers in-memory tables the expression may hold
        hook(events.keyed if events.keyed is not None else events.table)


def _rows(events: Events, sql: str) -> list[dict[str, Any]]:
    from hourglass.engine.errors import translated

    _run_pre_hooks(events)
    with translated():
        cur = events.engine.con.con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def sorted_nodes(
    events: Events, spec: PathsSpec | TransitionsSpec, threaded: Threaded | None = None
) -> tuple[Sorted | Done, Sequence[str] | None] | None:
    """Every element in the order (customer, ts, node), as arrays (engine/journeys_seq.py), or
    ``threaded``'s answer on them unordered (:class:`Done`; integer customers ordered in numpy), and
    the event names the integer nodes index (None at the stage level: the 1-based stage); None
    when a customer, a time or a node is null (the SQL fast path answers then)."""
    import numpy as np
    import pyarrow as pa

    from hourglass.engine.errors import translated

    if spec.level == "stage":  # the rows of engine/raw_stages.py's one scan, when it ran (wide files)
        pre = stage_rows(events, spec, threaded)
        if pre is not None:
            return pre, None
    elif isinstance(spec, TransitionsSpec):  # many names: a Parquet file's numbered by pyarrow, a
        read = parquet_sorted(events, spec) or store_sorted(events, spec)  # store's rows put in place
        if read is not None:
            return read
    raw = events.engine.con.con
    nodes = _nodes_sql(events, spec)
    names: Sequence[str] | None = None
    view = None
    _run_pre_hooks(events)
    with translated():
        if spec.level == "stage":
            sql = f"SELECT c, ts, node FROM ({nodes}) AS n"
        elif _keyed_nodes(events, spec) and events.codes is not None and events.enum_type is not None:
            names = list(events.codes)  # a store's ENUM: its codes are in name order
            sql = f"SELECT c, ts, enum_code(node) AS node FROM ({nodes}) AS n"
        elif _keyed_nodes(events, spec) and (database := codes_database(events)) is not None:
            # a store of text names: their numbers (paths read only their top rows' names)
            names = code_names(events, database, lazy=isinstance(spec, PathsSpec))
            sql = f"SELECT c, ts, node FROM ({_nodes_sql(events, spec, code=True)}) AS n"
        elif (codes_sql := _raw_codes(events, spec)) is not None:
            # the raw values numbered by their names from the column's distinct values (a
            # Parquet column's dictionary), joined to the raw values: no canonical text per row
            names, numbered = _numbered(raw.sql(codes_sql).to_arrow_table())
            view = f"hg_journey_codes_{uuid.uuid4().hex}"
            raw.register(view, numbered)
            sql = (
                f"SELECT n.c, n.ts, m.code AS node FROM ({_nodes_sql(events, spec, raw_event=True)}) AS n "
                f"LEFT JOIN {view} AS m ON n.node = m.raw"
            )
        else:  # the names (in DuckDB's order), numbered, joined to the elements
            q = f"SELECT DISTINCT node FROM ({nodes}) AS n WHERE node IS NOT NULL ORDER BY node"
            got = raw.execute(q).to_arrow_table().column(0).combine_chunks()  # not 10^6 tuples (Wb)
            names = [str(n) for n in got.to_pylist()]
            codes = pa.array(np.arange(len(names), dtype=np.int32))
            view = f"hg_journey_names_{uuid.uuid4().hex}"
            raw.register(view, pa.table({"name": got.cast(pa.string()), "code": codes}))
            sql = (
                f"SELECT n.c, n.ts, m.code AS node FROM ({nodes}) AS n LEFT JOIN {view} AS m "
                "ON n.node = m.name"
            )
        try:
            if _keyed_nodes(events, spec):  # integer customers: numpy arrays, not through Arrow
                # past 8 node bits, a store's keys: engine/journeys_wide.py (a file's far ids: DuckDB,
                # 4.99 against 4.71 CPU-s for 10M `wide` Parquet paths)
                wide = len(names or ()) > 255 and events.key_count is not None
                # the stage level's elements: the dashboard's fetched once (engine/fetched.py, O's)
                fetch = (lambda q: fetched(events, q)) if spec.level == "stage" else None
                in_numpy = numpy_order(events, spec, names)
                if (
                    wide
                    and not in_numpy
                    and journeys_wide.ENABLED
                    and journeys_wide.RANGE_KERNEL
                    and isinstance(spec, PathsSpec)
                ):
                    seq = wide_paths(raw, sql, spec)  # the kernel per range, in the sort's threads
                else:
                    seq = numpy_sorted(raw, sql, in_numpy, threaded, wide, fetch)
            else:
                seq = sorted_from_arrow(raw.execute(f"{sql} ORDER BY 1, 2, 3").to_arrow_table())
        finally:
            if view is not None:
                raw.unregister(view)
    return None if seq is None else (seq, names)


def _numbered(got: Any) -> tuple[list[str], Any]:
    """The names in order and an Arrow table of ``raw`` and ``code`` (its name's number) from the
    raw values and their names in name order (a sort of the distinct values, not a window)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    name = got.column("name").combine_chunks()
    m = len(name)
    first = np.ones(m, dtype=bool)
    if m > 1:
        first[1:] = pc.not_equal(name.slice(1), name.slice(0, m - 1)).to_numpy(zero_copy_only=False)
    code = np.cumsum(first, dtype=np.int32) - 1
    names = [str(n) for n in name.filter(pa.array(first)).to_pylist()]
    return names, pa.table({"raw": got.column("raw"), "code": pa.array(code, pa.int32())})


def _raw_codes(events: Events, spec: PathsSpec | TransitionsSpec) -> str | None:
    """engine/raw_names.py's numbered raw values at the event level, when its form applies."""
    if spec.level == "stage" or events.codes is not None:
        return None
    table = events.keyed if _keyed_nodes(events, spec) and events.keyed is not None else events.table
    return raw_codes_sql(events) if raw_event_table(table) is not None else None


def _keyed_nodes(events: Events, spec: PathsSpec | TransitionsSpec) -> bool:
    """``_nodes_sql`` reads the keyed table (a store's ENUM event column)."""
    stages = spec.model.stages if spec.level == "stage" and spec.model else []
    used = {f.column for s in stages for f in s.where}
    return events.keyed is not None and not used & {"customer", "timestamp"}


def _named(value: int, names: Sequence[str] | None) -> Any:
    return None if value < 0 else value if names is None else names[value]


def fast_paths(events: Events, spec: PathsSpec) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The top paths' rows and the totals' row (``customers``, ``paths``), as the portable plan's."""
    # a Parquet file of very many names: named last, by pyarrow; a store's: its customers' first rows
    read = parquet_paths(events, spec) or store_paths(events, spec)
    if read is not None:
        return read
    with small_pages():
        got = sorted_nodes(events, spec, threaded_paths(spec) if THREADED else None)
        if got is not None:
            if isinstance(got[0], Done):
                top, counts = got[0].value
            else:
                top, counts = seq_paths(got[0], spec.collapse, spec.steps, spec.top)
    if got is not None:
        names = got[1]
        for r in top:
            for i in range(spec.steps):
                r[f"p{i}"] = _named(r[f"p{i}"], names)
        return top, {"customers": counts["customers"] or None, "paths": counts["paths"]}
    rows = _rows(events, fast_paths_sql(events, spec))
    head = rows[0] if rows else {"all_customers": None, "all_paths": 0}
    totals = {"customers": head["all_customers"], "paths": head["all_paths"]}
    return [{k: v for k, v in r.items() if not k.startswith("all_")} for r in rows], totals


def fast_transitions(
    events: Events, spec: TransitionsSpec
) -> list[dict[str, Any]] | tuple[Columns, list[str] | None]:
    """The edges' rows, as the portable plan's; on many nodes (10^6 names: millions of edges)
    engine/wide_edges.py's columns and the names the nodes index (None: the 1-based stages)."""
    rows: list[dict[str, Any]] = []
    wide: Sorted | None = None  # the elements for the many-node kernel
    with small_pages():
        got = sorted_nodes(events, spec, threaded_transitions(spec) if THREADED else None)
        if got is not None:
            seq = got[0]
            if isinstance(seq, Done):
                rows = seq.value
            elif len(seq[2]) and (int(seq[2].max()) + 2) ** 2 > PACKED_EDGES:
                wide = seq
            else:
                rows = seq_transitions(seq, spec.collapse)
    if got is not None:
        names = got[1]
        if wide is not None:  # outside small_pages: engine/wide_edges.py chooses its pages
            return edge_columns(wide, spec.collapse), None if names is None else list(names)
        for r in rows:
            r["node"], r["nxt"] = _named(r["node"], names), _named(r["nxt"], names)
        return rows
    rows = _rows(events, fast_transitions_sql(events, spec))
    for r in rows:
        q = r.pop("q")
        r["median_s"], r["p90_s"] = (None, None) if q is None else (q[0], q[1])
    return rows
