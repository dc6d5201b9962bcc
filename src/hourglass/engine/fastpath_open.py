"""The DuckDB fast path of the open funnel (docs/semantics.md, "--open"): the portable plan's
"latest valid start" dynamic programme (analyses/funnel_open.py) as window-bounded joins.

Why it is exact (same eligibility as the ordered fast path: DuckDB, no exclusions, no event matching
two steps, so one epoch and a step-j event is after a step-(j-1) event exactly when its timestamp is
not earlier). ``L_j(e)``, the latest start of an open chain ending at the step-j event ``e``, depends
only on (customer, j, ts(e)):

- ``L_1(e) = ts(e)`` when ``e`` is in the entry range, else none;
- ``L_j(e) = ts(e)`` when ``e`` is in range (its own chain starts later than any other), else
  ``via(e) = max{L_{j-1}(e') : ts(e') <= ts(e)}`` when ``ts(e) - via(e) <= window``, else none.

Since ``L_{j-1}(e') <= ts(e')``, a valid ``via`` only needs the step-(j-1) events of the last window
before ``e``: a hash join on the customer with a range condition, then ``max`` per step-j event. The
customer continued into j when some step-j event has a valid ``via``; his time from the previous
step is, at his earliest such event, the time since the latest step-(j-1) event with a start (that
event is within the window too, being no earlier than the one giving ``via``).

Without ``since``/``until`` every matched event starts its own chain (``L = ts``), so the steps'
joins are independent of each other (no chain of joins).

A heavy customer (engine/fastpath_heavy.py) takes ASOF joins instead: without bounds ``tp`` is the
latest step-(j-1) time <= ts(e) (one ASOF join); with bounds ``via(e)`` is the larger of the latest
in-range step-(j-1) chain end (whose start is its own time, increasing) and the latest one after the
range (whose start is a prefix maximum, so non-decreasing too): two ASOF joins. No chain starts
before the range.
"""

from __future__ import annotations

from hourglass.engine.fastpath_heavy import Heavy

__all__ = ["open_funnel_sql"]


def open_funnel_sql(ev: str, n: int, window: int, in_range: list[str], heavy: Heavy | None) -> str:
    """The open funnel's summary SQL: one row with ``c{j}``, ``k{j}``, ``med{j}``, ``p90{j}``.

    ``ev``: the ``ev`` CTE (columns ``c``, ``ts`` in µs, ``s`` the step 1..n); ``in_range``: the
    SQL conditions on ``ts`` of the entry range (empty: no bounds); ``heavy``: the customers who take
    ASOF joins (engine/fastpath_heavy.py; None: nobody), the others take window-bounded joins."""
    bounded = bool(in_range)
    inr = " AND ".join(in_range) if bounded else "TRUE"
    ctes = [ev]
    if heavy is not None and heavy.cte:
        ctes.append(heavy.cte)
    ctes.append(f"l1 AS (SELECT c, ts, ts AS l FROM ev WHERE s = 1{' AND ' + inr if bounded else ''})")
    for j in range(2, n + 1):
        prev = f"l{j - 1}"
        light, mine = f"(SELECT c, ts FROM ev WHERE s = {j})", ""
        if heavy is not None:
            light = f"(SELECT c, ts FROM ev WHERE s = {j} AND {heavy.light('c')})"
            mine = f"(SELECT DISTINCT c, ts FROM ev WHERE s = {j} AND {heavy.heavy('c')})"
        if bounded:
            # via: the latest start among the window's step-(j-1) chain ends; tp: the latest such end
            sql = (
                f"SELECT e.c, e.ts, max(p.l) FILTER (WHERE p.l >= e.ts - {window}) AS v, "
                f"max(p.ts) AS tp FROM {light} AS e JOIN {prev} AS p "
                f"ON p.c = e.c AND p.ts <= e.ts AND p.ts >= e.ts - {window} GROUP BY e.c, e.ts "
                f"HAVING max(p.l) FILTER (WHERE p.l >= e.ts - {window}) IS NOT NULL"
            )
            if heavy is not None:
                # the latest chain end in range (its start is its own time) and the latest after the
                # range (starts are monotone there: prefix maxima), one ASOF join each
                ends = f"SELECT c, ts, l FROM {prev} WHERE {heavy.heavy('c')}"
                sql += (
                    " UNION ALL BY NAME SELECT e.c, e.ts, greatest(a.l, b.l) AS v, "
                    f"greatest(a.ts, b.ts) AS tp FROM {mine} AS e "
                    f"ASOF LEFT JOIN ({ends} AND {inr}) AS a ON a.c = e.c AND a.ts <= e.ts "
                    f"ASOF LEFT JOIN ({ends} AND NOT ({inr})) AS b ON b.c = e.c AND b.ts <= e.ts "
                    f"WHERE greatest(a.l, b.l) >= e.ts - {window}"
                )
            ctes.append(f"k{j} AS ({sql})")
            ctes.append(
                f"l{j} AS (SELECT c, ts, ts AS l FROM ev WHERE s = {j} AND {inr} "
                f"UNION ALL SELECT c, ts, v AS l FROM k{j} WHERE NOT ({inr}))"
            )
        else:
            # every chain end is its own start: continuing = a step-(j-1) event in the last window
            sql = (
                f"SELECT e.c, e.ts, max(p.ts) AS tp FROM {light} AS e "
                f"JOIN (SELECT c, ts FROM ev WHERE s = {j - 1}) AS p "
                f"ON p.c = e.c AND p.ts <= e.ts AND p.ts >= e.ts - {window} GROUP BY e.c, e.ts"
            )
            if heavy is not None:  # the latest step-(j-1) event: an ASOF join
                sql += (
                    f" UNION ALL BY NAME SELECT e.c, e.ts, p.ts AS tp FROM {mine} AS e "
                    f"ASOF JOIN (SELECT c, ts FROM ev WHERE s = {j - 1} AND {heavy.heavy('c')}) AS p "
                    f"ON p.c = e.c AND p.ts <= e.ts WHERE p.ts >= e.ts - {window}"
                )
            ctes.append(f"k{j} AS ({sql})")
        # the time from the previous step at the customer's earliest continuing event
        ctes.append(f"d{j} AS (SELECT c, arg_min(ts - tp, ts) AS d FROM k{j} GROUP BY c)")
    cols = []
    for j in range(1, n + 1):
        reached = f"l{j}" if bounded or j == 1 else f"ev WHERE s = {j}"
        cols.append(f"(SELECT count(DISTINCT c) FROM {reached}) AS c{j}")
        if j > 1:
            sec = "CAST(d AS DOUBLE) / 1000000"
            cols.append(f"(SELECT count(*) FROM d{j}) AS k{j}")
            cols.append(f"(SELECT quantile_cont({sec}, 0.5) FROM d{j}) AS med{j}")
            cols.append(f"(SELECT quantile_cont({sec}, 0.9) FROM d{j}) AS p90{j}")
    return "WITH " + ",\n".join(ctes) + "\nSELECT " + ", ".join(cols)
