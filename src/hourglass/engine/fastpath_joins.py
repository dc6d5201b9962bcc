"""The greedy joins of the DuckDB fast path of the ordered funnel (engine/fastpath.py chooses the
plan): the SQL builder and what it reads.

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

Open funnels (``--open``) have their own SQL (engine/fastpath_open.py) over the same matched events.
On a store (engine/event_store.py, rows ordered by event, customer, time) with steps of plain names,
each step reads its own rows (zone maps on the ENUM code skip the rest) instead of one scan, and the
step-1 customers are counted with a bitstring over the dense customer keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hourglass.engine import fastpath_heavy
from hourglass.engine._values import sql_literal as literal
from hourglass.engine.fastpath_heavy import Heavy, chains, sampled_heavy
from hourglass.engine.fastpath_open import open_funnel_sql

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hourglass.model.spec import FunnelSpec
    from hourglass.model.steps import Step

__all__ = ["BITSTRING_MAX", "Base", "joins_sql", "literal", "matched_sql", "micros", "names_only", "quote"]

#: the largest store (in customers) whose step-1 customers are counted with a bitstring: DuckDB's
#: bitstring_agg refuses ranges over 10^9, and each thread holds key_count / 8 bytes (16 MiB here)
BITSTRING_MAX = 2**27


def names_only(steps: Sequence[Step]) -> bool:
    return all(not s.where and not any(c in p for c in "*?") for s in steps for p in s.events)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def micros(value: datetime) -> int:
    """A naive UTC datetime as integer microseconds since 1970-01-01 (analyses/_match.py micros_of)."""
    return (value - datetime(1970, 1, 1)) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Base:
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


def matched_sql(spec: FunnelSpec, src_: Base, by: str = "", *, zeros: bool = False) -> str:
    """The matched events of ``src_``: ``c``, ``ts`` (µs), ``s`` (the step, 1..n) and ``by``'s
    columns; ``zeros``: the rows of step 0 too (the scan drops them in numpy)."""
    # a store keeps integer microseconds
    ts = '"timestamp"' if src_.integer_ts else 'epoch_us("timestamp")'
    src = src_.sql
    if src_.store:  # only the row groups of the steps' event names
        used = sorted({x for st in spec.steps for x in st.events} & set(src_.codes or ()))
        match = " OR ".join(f"event = {literal(x)}::{src_.enum_type}" for x in used) or "false"
        src = f"SELECT * FROM ({src_.sql}) AS st WHERE {match}"
    cols = f"customer AS c, {ts} AS ts, {src_.step} AS s{by}"
    return f"SELECT * FROM (SELECT {cols} FROM ({src}) AS src) AS x" + ("" if zeros else " WHERE s > 0")


def joins_sql(spec: FunnelSpec, src_: Base) -> str:
    """:func:`fast_funnel_sql` of the events ``src_``."""
    n, w = len(spec.steps), spec.window
    base = src_.sql
    # the entry's value: of its step-1 events at t1, the canonically first (smallest event name, then
    # smallest value, NULL last); when step 1 is one event name, that is min(b) (NULL only if all are)
    one_name = len(spec.steps[0].events) == 1 and names_only(spec.steps[:1])
    first_b = "min(g.b)" if one_name else "first(g.b ORDER BY g.e, g.b NULLS LAST)"
    by = f", {quote(spec.by)} AS b{'' if one_name else ', CAST(event AS VARCHAR) AS e'}" if spec.by else ""
    carried = (", b" if one_name else ", e, b") if spec.by else ""
    in_range = []
    if spec.since is not None:
        in_range.append(f"ts >= {micros(spec.since)}")
    if spec.until is not None:
        in_range.append(f"ts < {micros(spec.until)}")
    store = src_.store
    found = src_.found
    heavy: Heavy | None = found
    ctes: list[str] = []
    if store and not spec.open:
        # a store keeps each event name's rows together, clustered by customer and time: each step
        # reads its own rows, and the scan skips every other row group (zone maps on the ENUM code)
        def rows(k: int, cols: str = "") -> str:
            names = sorted(set(spec.steps[k - 1].events) & set(src_.codes or ()))
            match = " OR ".join(f"event = {literal(x)}::{src_.enum_type}" for x in names) or "false"
            return f'(SELECT customer AS c, "timestamp" AS ts{cols} FROM ({base}) AS st WHERE {match})'

        def heavy_rows(k: int, cols: str = "") -> str:
            return f"(SELECT x.* FROM {rows(k, cols)} AS x WHERE {heavy.heavy('x.c') if heavy else 'false'})"
    else:
        ev = f"ev AS MATERIALIZED ({matched_sql(spec, src_, by)})"
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
    bitstring = src_.keyed and 0 < key_count <= BITSTRING_MAX
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
