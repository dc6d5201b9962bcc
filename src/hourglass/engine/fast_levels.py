"""Every customer's level of a closed funnel on the DuckDB fast path (engine/fastpath.py): the people
behind a funnel's bars (the dashboard's click on a bar) in about the time of the funnel itself,
instead of the portable per-customer plan (``funnel_plan(...).customers``: 1 s at 10^6 events,
46 s at 10^7 on a loaded machine).

The fast path's breakdown SQL already holds, per customer with an entry, his level and his group
(its ``cust`` table: the best chain's level, 1 with step 1 alone; the best chain's value, or the
value at the earliest entry); only its last SELECT counts them per group. Here that last SELECT
lists them instead (without a breakdown, the funnel is asked by ``event``, a group not read: the
levels do not depend on it), and the customer key of the table it reads is put back to the id (a
store's ``hg_customers``). Whatever this cannot answer (the fast path's own exclusions, open
funnels, the integer ids of a file, SQL of another shape) is None: the caller runs the portable
plan. Tests compare both."""

from __future__ import annotations

import dataclasses
from typing import Any

import ibis.expr.operations as ops

from hourglass.engine.errors import translated
from hourglass.engine.fastpath import _source, fast_funnel_sql, plan_for
from hourglass.engine.fastpath_joins import literal
from hourglass.engine.load import Events
from hourglass.model.spec import FunnelSpec

__all__ = ["fast_levels", "fast_levels_sql"]

_CUST = "cust AS (SELECT "
_LAST = "SELECT b AS by, count(*) AS c1"


def _tables(table: Any) -> set[Any]:
    return set(table.op().find(ops.DatabaseTable))


def fast_levels_sql(events: Events, spec: FunnelSpec) -> str | None:
    """The SQL of ``customer``, ``level`` (and ``by``) for ``spec`` on the fast path, or None."""
    if spec.open or spec.optional_steps or spec.count == "totals" or plan_for(events, spec) != "fast":
        return None  # the fast path's ``cust`` has neither optional steps' flags nor chains
    grouped = spec if spec.by else dataclasses.replace(spec, by="event")  # any value: not read
    sql = fast_funnel_sql(events, grouped)
    head, _, last = sql.rpartition("\n")
    if head.count(_CUST) != 1 or not last.startswith(_LAST):
        return None
    head = head.replace(_CUST, "cust AS (SELECT c, ")
    by = ", b AS by" if spec.by else ""
    table, _ = _source(events, grouped)
    if events.keyed is None or not _tables(table) & _tables(events.keyed):
        return f"{head}\nSELECT c AS customer, level{by} FROM cust"
    database = getattr(getattr(events.keyed.op(), "namespace", None), "database", None)
    if not database or not events.key_count:  # integer ids of a file: no key to put back
        return None
    ids = f'"{database}".hg_customers'
    by = ", cust.b AS by" if spec.by else ""
    return f"{head}\nSELECT k.id AS customer, cust.level{by} FROM cust JOIN {ids} AS k ON k.key = cust.c"


def fast_levels(events: Events, spec: FunnelSpec) -> Any:
    """The levels (pandas: ``customer``, ``level`` int, with a breakdown ``by``), or None where the
    fast path cannot say (the caller runs the portable plan)."""
    sql = fast_levels_sql(events, spec)
    if sql is None:
        return None
    raw = events.engine.con.con
    with translated():
        # as fast_funnel: DuckDB's CTE filter pusher would evaluate the step index once per step
        (before,) = raw.execute("SELECT current_setting('disabled_optimizers')").fetchone()
        disabled = ",".join(x for x in (str(before or ""), "cte_filter_pusher") if x)
        raw.execute(f"SET disabled_optimizers = {literal(disabled)}")
        try:
            frame = raw.execute(sql).df()
        finally:
            raw.execute(f"SET disabled_optimizers = {literal(str(before or ''))}")
    frame["level"] = frame["level"].astype("int64")
    return frame
