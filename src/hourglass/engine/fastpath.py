"""The DuckDB fast path of the ordered funnel ("greedy joins", bench/README.md): the same numbers as
the portable plan (analyses/funnel_closed.py, docs/semantics.md), from hand-written SQL wrapped
around the canonical events expression compiled by Ibis.

Why it is exact. When no event can match two steps (``overlap_groups`` are singletons), the
canonical order of a customer's matched events is (timestamp, step, event name[, by value]), so a
step-k event comes after a step-(k-1) event exactly when its timestamp is not earlier. The greedy
completion from a step-1 event at t1 is then: t2 = the least step-2 time >= t1, t3 = the least
step-3 time >= t2, ..., each within t1 + window (a join and a ``min`` per step). Step-1 events at the
same time have the same completion, so they are one candidate entry; the best chain is the candidate
with the highest level, then the earliest t1; its ``--by`` value is the one of its canonically first
step-1 event (the smallest event name, then the smallest value, NULL last).

A customer with many entries (a bot, an anonymous id) would make those joins quadratic in his events:
such "heavy" customers take ASOF joins instead (engine/fastpath_heavy.py, which also states the plan
chooser's rule: the fast path is linear in events per customer on every shape, so a log's shape never
sends a funnel to the portable plan).

The plan chooser. ``plan_for`` picks this fast path wherever it can answer (``_why_not``), else the
portable plan. Within it, a closed funnel without ``--by`` on a store or a file of at least
``fastpath_scan.SCAN_MIN_ROWS`` (10^6) validated events (``report.rows``, known before the query)
runs the sequential-scan plan (engine/fastpath_scan.py: each step's rows in customer and time
order, one linear numpy pass; no joins), which was measured ahead of the joins on every shape of
bench/SHAPES.md, most on customers who return (many entries each); smaller logs (milliseconds
either way) and ``--by``/``--open`` keep the joins below. No plan is picked that is worse by
design: all are linear in the events per customer.

Open funnels (``--open``) have their own SQL (engine/fastpath_open.py) over the same matched events.
On a store (engine/event_store.py, rows ordered by event, customer, time) with steps of plain names,
each step reads its own rows (zone maps on the ENUM code skip the rest) instead of one scan, and the
step-1 customers are counted with a bitstring over the dense customer keys.
Out of scope (the portable plan runs instead): other modes, ``--exclude``, steps one event may match
together, and every engine but DuckDB. ``HOURGLASS_PLAN=portable`` forces the
portable plan (tests run both).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hourglass.engine import fastpath_heavy
from hourglass.engine.fastpath_heavy import Heavy, chains, sampled_heavy, store_heavy_from
from hourglass.engine.fastpath_open import open_funnel_sql
from hourglass.model.spec import FunnelSpec
from hourglass.model.steps import Step

if TYPE_CHECKING:  # the SQL builders import no Ibis: engine/quick.py runs them on a raw connection
    import ibis.expr.types as ir

    from hourglass.engine.load import Events

__all__ = ["PLAN_ENV", "fast_funnel", "fast_funnel_sql", "fast_sql", "plan_for", "run_fast_sql"]

#: ``portable`` forces the portable Ibis plan, ``fast`` fails when the fast path cannot run.
PLAN_ENV = "HOURGLASS_PLAN"

_STEP = "__hg_step"
#: the largest store (in customers) whose step-1 customers are counted with a bitstring: DuckDB's
#: bitstring_agg refuses ranges over 10^9, and each thread holds key_count / 8 bytes (16 MiB here)
_BITSTRING_MAX = 2**27


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


def _names_only(steps: Sequence[Step]) -> bool:
    return all(not s.where and not any(c in p for c in "*?") for s in steps for p in s.events)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _micros(value: datetime) -> int:
    """A naive UTC datetime as integer microseconds since 1970-01-01 (analyses/_match.py micros_of)."""
    return (value - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def _step_index(spec: FunnelSpec) -> str:
    """The SQL of the step index (1..n, 0 for none) of steps of plain names: one list_position per
    row, pushed into the scan."""
    names: list[str] = []
    index: list[str] = []
    for k, step in enumerate(spec.steps, start=1):
        for name in step.events:
            names.append(_literal(name))
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
    if _names_only(spec.steps) and table is events.keyed and events.codes is not None:
        # a store's ENUM: the step of each event code, looked up by the code (no text compared)
        step_of = {name: k for k, step in enumerate(spec.steps, start=1) for name in step.events}
        lookup = ", ".join(str(step_of.get(name, 0)) for name in events.codes)
        return table, f"coalesce([{lookup}][enum_code(event) + 1], 0)"
    if _names_only(spec.steps):  # every step is a list of names
        return table, _step_index(spec)
    import ibis

    from hourglass.analyses._match import step_predicate

    preds = [step_predicate(s, events.table if table is events.table else table) for s in spec.steps]
    first = ibis.cases(*[(p, k) for k, p in enumerate(preds, start=1)], else_=0)
    return table.mutate(**{_STEP: first}), _quote(_STEP)


def _store_heavy(events: Events) -> Heavy | None:
    """A store's heavy customers (its key range), None for a file or an older store."""
    database = _store_db(events)
    if database is None or not events.key_count:  # (_store_db checked it: for the type)
        return None
    return store_heavy_from(events.engine.con.con, database, events.key_count)


@dataclass(frozen=True)
class _Base:
    """What the fast path's SQL reads: ``sql``, the events (customer, event, timestamp, the rest);
    ``step``, the SQL of each row's step index; and what it knows of a store's keyed events."""

    sql: str
    step: str
    integer_ts: bool = False  # a store's integer microseconds
    keyed: bool = False  # the integer-keyed events (a store's dense keys when key_count)
    store: bool = False  # a store's ENUM events, steps of plain names
    codes: tuple[str, ...] | None = None
    enum_type: str | None = None
    key_count: int = 0
    found: Heavy | None = None  # a store's heavy customers


def fast_funnel_sql(events: Events, spec: FunnelSpec) -> str:
    """The fast path's SQL: one row (or one per ``by`` value) with ``c{k}``, ``med{k}``, ``p90{k}``
    (and ``by``), the columns of the portable plan's summary."""
    return _sql(spec, _base(events, spec, heavy=True))


def _base(events: Events, spec: FunnelSpec, *, heavy: bool) -> _Base:
    """What the fast path reads of ``events`` for ``spec`` (``heavy``: look up a store's heavy
    customers)."""
    table, step = _source(events, spec)
    keyed = table is events.keyed
    return _Base(
        sql=events.engine.con.compile(table),
        step=step,
        integer_ts=table.timestamp.type().is_integer(),
        keyed=keyed,
        store=_names_only(spec.steps) and keyed and events.enum_type is not None,
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
    since = _micros(spec.since) if spec.since is not None else None
    until = _micros(spec.until) if spec.until is not None else None
    raw = events.engine.con.con
    if _names_only(spec.steps) and base.keyed and _store_db(events) is not None:
        # a store: each step's rows on their own, in storage order (customer, time)
        known = set(events.codes) if events.codes is not None else None
        sqls = [
            store_step_sql(base.sql, [x for x in st.events if known is None or x in known], events.enum_type)
            for st in spec.steps
        ]
        return run_scan(raw, len(spec.steps), spec.window, since, until, steps_sql=sqls)
    zeros = False
    if _names_only(spec.steps) and not base.store:  # a file: the steps matched on the raw text
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
    matched = _matched(spec, base, zeros=zeros)
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
    if _why_not_spec(spec) is not None or not _names_only(spec.steps):
        return None
    return _sql(spec, _Base(base, _step_index(spec)))


def _matched(spec: FunnelSpec, src_: _Base, by: str = "", *, zeros: bool = False) -> str:
    """The matched events of ``src_``: ``c``, ``ts`` (µs), ``s`` (the step, 1..n) and ``by``'s
    columns; ``zeros``: the rows of step 0 too (the scan drops them in numpy)."""
    # a store keeps integer microseconds
    ts = '"timestamp"' if src_.integer_ts else 'epoch_us("timestamp")'
    src = src_.sql
    if src_.store:  # only the row groups of the steps' event names
        used = sorted({x for st in spec.steps for x in st.events} & set(src_.codes or ()))
        match = " OR ".join(f"event = {_literal(x)}::{src_.enum_type}" for x in used) or "false"
        src = f"SELECT * FROM ({src_.sql}) AS st WHERE {match}"
    cols = f"customer AS c, {ts} AS ts, {src_.step} AS s{by}"
    return f"SELECT * FROM (SELECT {cols} FROM ({src}) AS src) AS x" + ("" if zeros else " WHERE s > 0")


def _sql(spec: FunnelSpec, src_: _Base) -> str:
    """:func:`fast_funnel_sql` of the events ``src_``."""
    n, w = len(spec.steps), spec.window
    base = src_.sql
    # the entry's value: of its step-1 events at t1, the canonically first (smallest event name, then
    # smallest value, NULL last); when step 1 is one event name, that is min(b) (NULL only if all are)
    one_name = len(spec.steps[0].events) == 1 and _names_only(spec.steps[:1])
    first_b = "min(g.b)" if one_name else "first(g.b ORDER BY g.e, g.b NULLS LAST)"
    by = f", {_quote(spec.by)} AS b{'' if one_name else ', CAST(event AS VARCHAR) AS e'}" if spec.by else ""
    carried = (", b" if one_name else ", e, b") if spec.by else ""
    in_range = []
    if spec.since is not None:
        in_range.append(f"ts >= {_micros(spec.since)}")
    if spec.until is not None:
        in_range.append(f"ts < {_micros(spec.until)}")
    store = src_.store
    found = src_.found
    heavy: Heavy | None = found
    ctes: list[str] = []
    if store and not spec.open:
        # a store keeps each event name's rows together, clustered by customer and time: each step
        # reads its own rows, and the scan skips every other row group (zone maps on the ENUM code)
        def rows(k: int, cols: str = "") -> str:
            names = sorted(set(spec.steps[k - 1].events) & set(src_.codes or ()))
            match = " OR ".join(f"event = {_literal(x)}::{src_.enum_type}" for x in names) or "false"
            return f'(SELECT customer AS c, "timestamp" AS ts{cols} FROM ({base}) AS st WHERE {match})'

        def heavy_rows(k: int, cols: str = "") -> str:
            return f"(SELECT x.* FROM {rows(k, cols)} AS x WHERE {heavy.heavy('x.c') if heavy else 'false'})"
    else:
        ev = f"ev AS MATERIALIZED ({_matched(spec, src_, by)})"
        if spec.open:
            heavy = found if found is not None else sampled_heavy("ev")
            none = found is not None and found.from_key == src_.key_count  # a store without any
            return open_funnel_sql(ev, n, w, in_range, None if none else heavy)
        ctes.append(ev)
        by = carried

        def rows(k: int, cols: str = "") -> str:
            return f"(SELECT c, ts{cols} FROM ev WHERE s = {k})"

        def heavy_rows(k: int, cols: str = "") -> str:
            return f"(SELECT c, ts{cols} FROM evh WHERE s = {k})"

    first = f"SELECT c, ts AS t1{carried} FROM {rows(1, by)} AS x"
    where = f" WHERE {' AND '.join(in_range)}" if in_range else ""
    ctes.append(f"g1 AS ({first}{where})")
    key_count = src_.key_count
    bitstring = src_.keyed and 0 < key_count <= _BITSTRING_MAX
    if n > 1:
        # the heavy customers (engine/fastpath_heavy.py): a store's key range, else counted by the
        # aggregate that counts step 1 anyway where there is one
        limit = fastpath_heavy.HEAVY
        if spec.by:
            ctes.append("entry0 AS MATERIALIZED (SELECT c, min(t1) AS t1, count(*) AS n FROM g1 GROUP BY c)")
        if found is not None:
            heavy = found
        elif spec.by:
            heavy = Heavy(cte=f"hv AS MATERIALIZED (SELECT c FROM entry0 WHERE n > {limit})")
        elif not bitstring:  # the same aggregate counts the step-1 customers
            ctes.append("n1 AS MATERIALIZED (SELECT c, count(*) AS n FROM g1 GROUP BY c)")
            heavy = Heavy(cte=f"hv AS MATERIALIZED (SELECT c FROM n1 WHERE n > {limit})")
        else:
            heavy = sampled_heavy("g1")
        if heavy.cte:
            ctes.append(heavy.cte)
        if heavy.from_key == key_count:  # a store without heavy customers: the greedy joins alone
            ctes.extend(chains(n, w, rows, None, heavy_rows, first_b if spec.by else None))
        else:
            if ctes[0].startswith("ev AS"):  # the heavy customers' matched events, once
                ctes.append(f"evh AS MATERIALIZED (SELECT x.* FROM ev AS x WHERE {heavy.heavy('x.c')})")
            ctes.append(f"g1h AS (SELECT c, ts AS t1{carried} FROM {heavy_rows(1, by)} AS x{where})")
            ctes.extend(chains(n, w, rows, heavy, heavy_rows, first_b if spec.by else None))
    # candidate entries that reach step 2 or more; the best: highest level, then earliest entry
    # (the key k * 2^64 - t1 orders by k, then by -t1, for any 64-bit t1)
    parts = []
    for k in range(2, n + 1):
        times = ", ".join(f"t{j}" if j <= k else f"NULL::BIGINT AS t{j}" for j in range(2, n + 1))
        parts.append(f"SELECT c, {k} AS k, t1, {times}{', b' if spec.by else ''} FROM g{k}")
    if n > 1:
        # first the best (level, entry) per customer from narrow rows (the key k * 2^64 - t1 orders by
        # k, then by -t1, for any 64-bit t1), then that chain's times from its own level's rows
        keys = " UNION ALL ".join(
            f"SELECT c, {k} AS k, {k}::HUGEINT * 18446744073709551616 - t1 AS key FROM g{k}"
            for k in range(2, n + 1)
        )
        ctes.append(
            f"top AS (SELECT c, max(k) AS level, "
            f"CAST(max(k) * 18446744073709551616 - max(key) AS BIGINT) AS t1 FROM ({keys}) AS u GROUP BY c)"
        )
        fields = ", ".join(f"u.t{j}" for j in range(1, n + 1)) + (", u.b" if spec.by else "")
        ctes.append(
            f"best AS (SELECT top.c, top.level, struct_pack({fields}) AS x FROM top JOIN "
            f"({' UNION ALL '.join(parts)}) AS u ON u.c = top.c AND u.k = top.level AND u.t1 = top.t1)"
        )
    aggs = []
    for k in range(2, n + 1):
        aggs.append(f"coalesce(count_if(level >= {k}), 0) AS c{k}")
        dt = f"CASE WHEN level >= {k} THEN CAST(x.t{k} - x.t{k - 1} AS DOUBLE) / 1000000 ELSE NULL END"
        aggs.append(f"quantile_cont({dt}, 0.5) AS med{k}")
        aggs.append(f"quantile_cont({dt}, 0.9) AS p90{k}")
    if spec.by:
        # every customer with an entry: his group is the best chain's value, or (level 1) the value
        # at his earliest entry
        # (the earliest entry time first, by a cheap hash aggregate; the tie-break only among its rows)
        if n == 1:
            ctes.append("entry0 AS (SELECT c, min(t1) AS t1 FROM g1 GROUP BY c)")
        ctes.append(
            f"entry AS (SELECT g.c, {first_b} AS b FROM g1 AS g "
            "JOIN entry0 AS m ON m.c = g.c AND m.t1 = g.t1 GROUP BY g.c)"
        )
        level = "coalesce(best.level, 1)" if n > 1 else "1"
        value = "CASE WHEN best.c IS NULL THEN entry.b ELSE best.x.b END" if n > 1 else "entry.b"
        join = " LEFT JOIN best USING (c)" if n > 1 else ""
        ctes.append(
            f"cust AS (SELECT {level} AS level, {value} AS b{', best.x' if n > 1 else ''} FROM entry{join})"
        )
        select = f"SELECT b AS by, count(*) AS c1{''.join(', ' + a for a in aggs)} FROM cust GROUP BY b"
    else:
        counted = any(c.startswith("n1 AS") for c in ctes)  # the step-1 customers, counted already
        c1 = f"(SELECT {'count(*) FROM n1' if counted else 'count(DISTINCT c) FROM g1'}) AS c1"
        if bitstring:
            # a store's keys are 0 .. key_count - 1: one bit per customer instead of a hash table
            c1 = f"(SELECT coalesce(bit_count(bitstring_agg(c, 0, {key_count - 1})), 0) FROM g1) AS c1"
        select = f"SELECT {c1}{''.join(', ' + a for a in aggs)}" + (" FROM best" if n > 1 else "")
    return "WITH " + ",\n".join(ctes) + "\n" + select


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
    raw.execute(f"SET disabled_optimizers = {_literal(disabled)}")
    try:
        cur = raw.execute(sql)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        raw.execute(f"SET disabled_optimizers = {_literal(str(before or ''))}")
    out = [dict(zip(names, r, strict=True)) for r in rows]
    if not spec.by and not out:
        out = [{}]
    return out
