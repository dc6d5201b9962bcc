"""The DuckDB fast path of the ordered funnel ("greedy joins", bench/README.md): the same numbers as
the portable plan (analyses/funnel_closed.py, docs/semantics.md), from hand-written SQL wrapped
around the canonical events expression compiled by Ibis.

The greedy joins' SQL and why it is exact: engine/fastpath_joins.py.

The plan chooser. ``plan_for`` picks this fast path wherever it can answer (``_why_not``), else the
portable plan. Within it, a closed funnel without ``--by`` on a store or a file of at least
``fastpath_scan.SCAN_MIN_ROWS`` (10^6) validated events (``report.rows``, known before the query)
runs the sequential-scan plan (engine/fastpath_scan.py: each step's rows in customer and time
order, one linear numpy pass; no joins), which was measured ahead of the joins on every shape of
bench/SHAPES.md, most on customers who return (many entries each); smaller logs (milliseconds
either way) and ``--by``/``--open`` keep the joins below. No plan is picked that is worse by
design: all are linear in the events per customer.

Out of scope (the portable plan runs instead): other modes, ``--exclude``, steps one event may match
together, and every engine but DuckDB. ``HOURGLASS_PLAN=portable`` forces the
portable plan (tests run both).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hourglass.engine.fastpath_heavy import Heavy, store_heavy_from
from hourglass.engine.fastpath_joins import Base, joins_sql, literal, matched_sql, micros, names_only, quote
from hourglass.model.spec import FunnelSpec
from hourglass.model.steps import Step

if TYPE_CHECKING:  # the SQL builders import no Ibis: engine/quick.py runs them on a raw connection
    import ibis.expr.types as ir

    from hourglass.engine.load import Events

__all__ = ["PLAN_ENV", "fast_funnel", "fast_funnel_sql", "fast_sql", "plan_for", "run_fast_sql"]

#: ``portable`` forces the portable Ibis plan, ``fast`` fails when the fast path cannot run.
PLAN_ENV = "HOURGLASS_PLAN"

_STEP = "__hg_step"


def _why_not(events: Events, spec: FunnelSpec) -> str | None:
    """Why the fast path cannot answer ``spec`` on ``events`` (None: it can)."""
    if events.engine.name != "duckdb":
        return f"the {events.engine.name} engine"
    return _why_not_spec(spec)


def _overlap(steps: Sequence[Step]) -> bool:
    """Whether one event may match two steps (analyses/funnel_closed.py ``overlap_groups``); steps of
    plain names (no glob) overlap only by a name in two of them, told without importing Ibis."""
    if not any(c in p for s in steps for p in s.events for c in "*?"):
        names = [name for s in steps for name in set(s.events)]
        return len(names) != len(set(names))
    from hourglass.analyses.funnel_closed import overlap_groups

    return any(len(g) > 1 for g in overlap_groups(steps))


def _why_not_spec(spec: FunnelSpec) -> str | None:
    """Why the fast path cannot answer ``spec`` on DuckDB (None: it can)."""
    if spec.mode != "ordered":
        return f"mode {spec.mode}"
    if spec.exclude:
        return "exclusions"
    if _overlap(spec.steps):
        return "steps that one event may match together"
    if spec.optional_steps:
        return "optional steps"
    if spec.hold is not None:
        return "--hold"
    if spec.count != "uniques":
        return f"--count {spec.count}"
    return None


def plan_for(events: Events, spec: FunnelSpec, plan: str | None = None) -> str:
    """``fast`` or ``portable``: which plan :func:`run_funnel` uses (``plan`` or $HOURGLASS_PLAN
    may force ``portable``; forcing ``fast`` where it cannot run raises)."""
    wanted = plan or os.environ.get(PLAN_ENV) or "auto"
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
            f"the fast path cannot run this funnel: {reason}",
            code="HG520",
            hint="unset HOURGLASS_PLAN (or set it to portable): the portable plan runs every funnel",
        )
    return "portable"


def _step_index(spec: FunnelSpec) -> str:
    """The SQL of the step index (1..n, 0 for none) of steps of plain names: one list_position per
    row, pushed into the scan."""
    names: list[str] = []
    index: list[str] = []
    for k, step in enumerate(spec.steps, start=1):
        for name in step.events:
            names.append(literal(name))
            index.append(str(k))
    pos = f"coalesce(list_position([{', '.join(names)}], event), 0)"
    if all(len(s.events) == 1 for s in spec.steps):
        return pos
    return f"[0, {', '.join(index)}][{pos} + 1]"


def _source(events: Events, spec: FunnelSpec) -> tuple[ir.Table, str]:
    """The events table to read (integer customer keys when that cannot change the answer) and the
    SQL of the step index (1..n, 0 for none)."""
    table = events.table
    used = {spec.by, *(f.column for s in spec.steps for f in s.where)}
    # the keyed table holds integer customer keys, and in a store integer µs timestamps: a --by or a
    # filter on those columns reads the canonical table (its values and types are the user's)
    keyed_differs = {"customer"} | (
        {"timestamp"} if events.keyed is not None and events.keyed.timestamp.type().is_integer() else set()
    )
    if events.keyed is not None and not used & keyed_differs:
        table = events.keyed
    if names_only(spec.steps) and table is events.keyed and events.codes is not None:
        # a store's ENUM: the step of each event code, looked up by the code (no text compared)
        step_of = {name: k for k, step in enumerate(spec.steps, start=1) for name in step.events}
        lookup = ", ".join(str(step_of.get(name, 0)) for name in events.codes)
        return table, f"coalesce([{lookup}][enum_code(event) + 1], 0)"
    if names_only(spec.steps):  # every step is a list of names
        return table, _step_index(spec)
    import ibis

    from hourglass.analyses._match import step_predicate

    preds = [step_predicate(s, events.table if table is events.table else table) for s in spec.steps]
    first = ibis.cases(*[(p, k) for k, p in enumerate(preds, start=1)], else_=0)
    return table.mutate(**{_STEP: first}), quote(_STEP)


def _store_heavy(events: Events) -> Heavy | None:
    """A store's heavy customers (its key range), None for a file or an older store."""
    database = _store_db(events)
    if database is None or not events.key_count:  # (_store_db checked it: for the type)
        return None
    return store_heavy_from(events.engine.con.con, database, events.key_count)


def fast_funnel_sql(events: Events, spec: FunnelSpec) -> str:
    """The fast path's SQL: one row (or one per ``by`` value) with ``c{k}``, ``med{k}``, ``p90{k}``
    (and ``by``), the columns of the portable plan's summary."""
    return joins_sql(spec, _base(events, spec, heavy=True))


def _base(events: Events, spec: FunnelSpec, *, heavy: bool) -> Base:
    """What the fast path reads of ``events`` for ``spec`` (``heavy``: look up a store's heavy
    customers)."""
    table, step = _source(events, spec)
    keyed = table is events.keyed
    return Base(
        sql=events.engine.con.compile(table),
        step=step,
        integer_ts=table.timestamp.type().is_integer(),
        keyed=keyed,
        store=names_only(spec.steps) and keyed and events.enum_type is not None,
        codes=events.codes,
        enum_type=events.enum_type,
        key_count=events.key_count or 0,
        found=_store_heavy(events) if keyed and heavy else None,
    )


def _store_db(events: Events) -> str | None:
    """The attached store's database name, None for a file."""
    if events.keyed is None or not events.key_count:
        return None
    database = getattr(getattr(events.keyed.op(), "namespace", None), "database", None)
    return str(database) if database else None


def _scan(events: Events, spec: FunnelSpec) -> dict[str, Any]:
    """The sequential-scan plan's summary row (engine/fastpath_scan.py)."""
    from hourglass.engine import fastpath_scan
    from hourglass.engine.fastpath_scan import raw_gate_sql, run_scan, store_step_sql

    base = _base(events, spec, heavy=False)
    since = micros(spec.since) if spec.since is not None else None
    until = micros(spec.until) if spec.until is not None else None
    raw = events.engine.con.con
    if names_only(spec.steps) and base.keyed and _store_db(events) is not None:
        # a store: each step's rows on their own, in storage order (customer, time)
        known = set(events.codes) if events.codes is not None else None
        sqls = [
            store_step_sql(base.sql, [x for x in st.events if known is None or x in known], events.enum_type)
            for st in spec.steps
        ]
        return run_scan(raw, len(spec.steps), spec.window, since, until, steps_sql=sqls)
    zeros = False
    if names_only(spec.steps) and not base.store:  # a file: the steps matched on the raw text
        from hourglass.engine.raw_step import raw_step

        got = raw_step(events.keyed if base.keyed else events.table, [st.events for st in spec.steps])
        if got is not None:
            sql = events.engine.con.compile(got[0])
            gate = (
                raw_gate_sql([x for st in spec.steps for x in st.events]) if fastpath_scan.RAW_GATE else None
            )
            if gate is not None:  # comparisons pushed into the scan ahead of the step index
                sql = f"SELECT * FROM ({sql}) AS st WHERE {gate}"
            base = replace(base, sql=sql, step=got[1])
            # behind the gate, the rows of step 0 are few: dropped in numpy, not by a filter on the
            # step index, which DuckDB would push into the scan with the gate (10M wide, in one
            # process, x7: 0.80 vs 0.94 CPU-s for the fetch); integer customers only: text ones
            # are sorted by DuckDB, and a log of names like "visit /p/1" passes the gate (R: 2x CPU)
            zeros = gate is not None and base.keyed
    matched = matched_sql(spec, base, zeros=zeros)
    return run_scan(raw, len(spec.steps), spec.window, since, until, matched_sql=matched, integer=base.keyed)


def scan_chosen(events: Events, spec: FunnelSpec) -> bool:
    """Whether the fast path runs the sequential-scan plan (engine/fastpath_scan.py, its rule): a
    closed funnel without ``--by`` on a store or a file (``SCAN_FILES``) of at least
    ``SCAN_MIN_ROWS`` validated events."""
    from hourglass.engine import fastpath_scan

    return (
        fastpath_scan.SCAN
        and not spec.open
        and not spec.by
        and (fastpath_scan.SCAN_FILES or _store_db(events) is not None)
        and events.report.rows >= fastpath_scan.SCAN_MIN_ROWS
    )


def fast_sql(base: str, spec: FunnelSpec) -> str | None:
    """The fast path's SQL over ``base``, the SQL of a file's canonical events on DuckDB (customer
    and event as text, timestamp a TIMESTAMP, the other columns), built without Ibis (engine/quick.py);
    None when the fast path does not answer ``spec`` or its steps need Ibis (a glob or a filter)."""
    if _why_not_spec(spec) is not None or not names_only(spec.steps):
        return None
    return joins_sql(spec, Base(base, _step_index(spec)))


def fast_funnel(events: Events, spec: FunnelSpec) -> list[dict[str, Any]]:
    """Run the fast path: the summary rows as dicts of plain Python values."""
    from hourglass.engine.errors import translated

    con = events.engine.con
    hook = getattr(con, "_run_pre_execute_hooks", None)
    if hook is not None:  # registers in-memory tables the expression may hold
        hook(events.keyed if events.keyed is not None else events.table)
    if scan_chosen(events, spec):  # the plan chooser's rule (engine/fastpath_scan.py)
        with translated():
            return [_scan(events, spec)]
    sql = fast_funnel_sql(events, spec)
    with translated():
        return run_fast_sql(con.con, sql, spec)


def run_fast_sql(raw: Any, sql: str, spec: FunnelSpec) -> list[dict[str, Any]]:
    """Run the fast path's ``sql`` on the DuckDB connection ``raw``: the summary rows as dicts (one
    empty dict when no row and no ``by``). DuckDB's errors are the caller's to translate."""
    # DuckDB's CTE filter pusher would push "s = 1 OR s = 2 ..." into ``ev`` and evaluate the
    # step index once per step on every row of the source (bench/README.md, pitfall a)
    (before,) = raw.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    disabled = ",".join(x for x in (str(before or ""), "cte_filter_pusher") if x)
    raw.execute(f"SET disabled_optimizers = {literal(disabled)}")
    try:
        cur = raw.execute(sql)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        raw.execute(f"SET disabled_optimizers = {literal(str(before or ''))}")
    out = [dict(zip(names, r, strict=True)) for r in rows]
    if not spec.by and not out:
        out = [{}]
    return out
