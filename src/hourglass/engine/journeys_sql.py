"""The SQL fast path of ``paths`` and ``transitions`` (engine/journeys_fast.py's fallback where the
numpy kernels decline: a null customer, time or node; its docstring says why it is exact): one
window over the customer's elements ordered by (ts, node).
"""

from __future__ import annotations

from hourglass.engine.load import Events
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = ["fast_paths_sql", "fast_transitions_sql"]

_WINDOW = "WINDOW w AS (PARTITION BY c ORDER BY ts, node)"


def fast_paths_sql(events: Events, spec: PathsSpec) -> str:
    """The SQL of the top paths (``p0`` .., ``customers``, ``continued``, ordered as the portable
    plan) with the totals on every row (``all_customers``, ``all_paths``)."""
    from hourglass.engine.journeys_fast import nodes_sql

    n = spec.steps
    starts = "WHERE pn IS NULL OR pn <> node" if spec.collapse else ""
    cols = ", ".join(f"r[{i + 1}] AS p{i}" for i in range(n))
    order = ", ".join(f"p{i} ASC NULLS FIRST" for i in range(n))
    return (
        f"WITH n AS ({nodes_sql(events, spec)}),\n"
        f"s AS (SELECT c, node, lag(node) OVER w AS pn, row_number() OVER w AS rn FROM n {_WINDOW}),\n"
        f"k AS (SELECT min_by(node, rn, {n + 1}) AS r FROM s {starts} GROUP BY c),\n"
        f"counted AS (SELECT {cols}, count(*) AS customers, count_if(len(r) > {n}) AS continued "
        f"FROM k GROUP BY ALL)\n"
        "SELECT *, sum(customers) OVER () AS all_customers, count(*) OVER () AS all_paths FROM counted "
        f"ORDER BY customers DESC, {order} LIMIT {spec.top}"
    )


def fast_transitions_sql(events: Events, spec: TransitionsSpec) -> str:
    """The SQL of the edges: ``node``, ``nxt``, ``moves``, ``customers``, ``q`` (the median and
    the 90th percentile of the seconds to the next run, null for the end)."""
    from hourglass.engine.journeys_fast import nodes_sql

    s = (
        "SELECT c, ts, node, lag(node) OVER w AS pn, lead(node) OVER w AS nn, lead(ts) OVER w AS nts, "
        f"row_number() OVER w AS rn FROM n {_WINDOW}"
    )
    if spec.collapse:
        start, end = "(pn IS DISTINCT FROM node)", "(nn IS DISTINCT FROM node)"
        ends = (
            f"s AS MATERIALIZED ({s}),\n"
            # the starts and ends of the runs of several elements alternate: an end's start is its lag
            f"m AS (SELECT c, node, nn, nts, CASE WHEN {start} THEN ts ELSE lag(ts) OVER "
            f"(PARTITION BY c ORDER BY rn) END AS st FROM s WHERE {start} <> {end}),\n"
            f"e AS (SELECT c, node, nn, nts, ts AS st FROM s WHERE {start} AND {end} "
            f"UNION ALL SELECT c, node, nn, nts, st FROM m WHERE {end})\n"
        )
    else:
        ends = (
            "e AS (SELECT c, node, lead(node) OVER w AS nn, lead(ts) OVER w AS nts, ts AS st "
            f"FROM n {_WINDOW})\n"
        )
    dt = "CAST(nts - st AS DOUBLE) / 1000000"
    return (
        f"WITH n AS ({nodes_sql(events, spec)}),\n{ends}"
        # both quantiles from one list (one sort of each edge's times)
        f"SELECT node, nn AS nxt, count(*) AS moves, count(DISTINCT c) AS customers, "
        f"quantile_cont({dt}, [0.5, 0.9]) AS q FROM e GROUP BY node, nn"
    )
