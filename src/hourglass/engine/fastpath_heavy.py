"""Heavy customers in the funnel's fast path (issue 18): no quadratic corner.

The greedy joins of engine/fastpath.py pair each of a customer's step-(k-1) candidates with each of
his step-k events (then keep the least time in the window): cheap for a customer who walks the
journey a few times, quadratic for a bot or an "anonymous" id with 10^5 visits and signups (one id
with 160,000 events took 35 s). So the customers are split in two:

- **light** customers (at most :data:`HEAVY` entries on a file, at most :data:`HEAVY_EVENTS` events
  in a store) keep the hash joins: their pairs are at most ``HEAVY`` (or ``HEAVY_EVENTS / 2``) per
  event, so the cost is linear in their events, with a bounded factor;
- **heavy** customers take ASOF joins: "the least step-k time >= t_{k-1}" of every candidate is
  exactly DuckDB's ``ASOF JOIN ... ON e.c = g.c AND g.t <= e.ts`` (one row per candidate, by a sort:
  O(m log m) in his m events), and the open funnel's "latest step-(j-1) time <= t" is the mirror
  ASOF join (module docstring of engine/fastpath_open.py).

Which customer is heavy never changes a number (every customer is answered exactly by either join;
tests/test_quadratic.py runs every customer through the ASOF joins against the reference), only what
it costs. The set is found where it is cheapest:

- a store counts every customer's events at ingest (engine/event_store.py) and numbers the heavy
  customers last: ``key >= heavy_from`` (in ``hg_store``) is the test, a comparison in the scan, and
  a store without heavy customers runs the plain greedy joins (no extra SQL at all);
- on a file, the closed funnel counts each customer's entries in the aggregate that counts the
  step-1 customers anyway (``n1``), or, where step 1 is counted otherwise, on a 1-in-:data:`SAMPLE`
  sample; the open funnel counts the matched events on the sample.

The plan chooser (``plan_for``) therefore never needs to pick the portable plan for a log's shape: the
fast path is linear in the events per customer on every shape, and the portable plan (window
functions over the canonical order: a sort) is never cheaper by design on a log the fast path can
answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["HEAVY", "HEAVY_EVENTS", "SAMPLE", "Heavy", "chains", "sampled_heavy", "store_heavy_from"]

#: a customer with more entries (step-1 events) than this is heavy (a file's closed funnel); the
#: open funnel counts his matched events. An ASOF join costs ~5-15 ms however few its rows (measured
#: at 10M events), so the thresholds keep the ordinary shapes' customers light (bench/SHAPES.md: at
#: most ~350 visits, ~1,700 events per customer) and catch the bots (10^5 events)
HEAVY = 256
#: a store's heavy customers: more events than this (any names; counted at ingest); a light
#: customer's pairs are then at most (HEAVY_EVENTS / 2)^2, about 10 ms of hash join
HEAVY_EVENTS = 2048
#: the heavy customers of a file are counted on one row in SAMPLE where no exact count is at hand
SAMPLE = 16


@dataclass(frozen=True)
class Heavy:
    """How the SQL tells a heavy customer (column ``c``): a store's key range (``from_key``), or
    membership in the CTE ``hv`` (``cte``: its definition)."""

    from_key: int | None = None
    cte: str | None = None

    def heavy(self, col: str) -> str:
        return f"{col} >= {self.from_key}" if self.from_key is not None else f"{col} IN (SELECT c FROM hv)"

    def light(self, col: str) -> str:
        return f"{col} < {self.from_key}" if self.from_key is not None else f"{col} NOT IN (SELECT c FROM hv)"


def sampled_heavy(src: str) -> Heavy:
    """The customers with more than :data:`HEAVY` rows in ``src`` (a table or CTE with a column
    ``c``), counted on a 1-in-:data:`SAMPLE` sample of the rows: a quarter of the cost of an exact
    count; a customer with 10x the threshold is missed with a probability below 10^-6 (and then only
    costs more)."""
    if HEAVY < 2 * SAMPLE:  # a threshold too small to sample (the tests' 0: every customer heavy)
        return Heavy(cte=f"hv AS MATERIALIZED (SELECT c FROM {src} GROUP BY c HAVING count(*) > {HEAVY})")
    return Heavy(
        cte=f"hv AS MATERIALIZED (SELECT c FROM (SELECT c FROM {src} WHERE random() < {1 / SAMPLE}) AS x "
        f"GROUP BY c HAVING count(*) > {HEAVY // SAMPLE})"
    )


def store_heavy_from(raw: Any, database: str, key_count: int) -> Heavy | None:
    """A store's heavy customers: keys from ``hg_store.heavy_from`` on (``Heavy(from_key=...)``),
    ``Heavy()`` with ``from_key = key_count`` when it has none, None for a store written before
    the count (then the file's ways apply)."""
    with contextlib.suppress(Exception):
        row = raw.execute(f'SELECT heavy_from FROM "{database}".hg_store').fetchone()
        if row and row[0] is not None:
            return Heavy(from_key=min(int(row[0]), key_count))
    return None


def chains(
    n: int,
    w: int,
    rows: Callable[[int], str],
    heavy: Heavy | None,
    heavy_rows: Callable[[int], str],
    first_b: str | None,
) -> list[str]:
    """The CTEs ``g2`` .. ``g{n}``: every entry's greedy completion (``c``, ``t1`` .. ``t{k}``, and
    ``b`` when ``first_b``, the entry's value, an aggregate over ``g``'s rows), from ``g1`` (the
    entries), ``rows(k)`` (the step-k events) and, unless ``heavy`` is None (no heavy customer),
    ``g1h`` (the heavy customers' entries) and ``heavy_rows(k)`` (their step-k events)."""
    ctes = []
    carried = ", g.b" if first_b else ""
    if heavy is not None:
        b = f", {first_b} AS b" if first_b else ""
        ctes.append(f"g1e AS (SELECT g.c, g.t1{b} FROM g1h AS g GROUP BY g.c, g.t1)")
    light = "l" if heavy is not None else ""
    for k in range(2, n + 1):
        prev = "".join(f", any_value(g.t{j}) AS t{j}" for j in range(2, k))
        if first_b:  # the entry's value
            prev += f", {first_b} AS b" if k == 2 else ", any_value(g.b) AS b"
        # light customers: every step-k event of the entry's window, then the least (the heavy
        # customers' step-2 events are left out: their entries find none, so no later step either)
        events = rows(k)
        if heavy is not None and k == 2:
            events = f"(SELECT x.c, x.ts FROM {rows(k)} AS x WHERE {heavy.light('x.c')})"
        ctes.append(
            f"g{k}{light} AS (SELECT g.c, g.t1{prev}, min(e.ts) AS t{k} "
            f"FROM g{k - 1}{light if k > 2 else ''} AS g JOIN {events} AS e "
            f"ON e.c = g.c AND e.ts >= g.t{k - 1} AND e.ts <= g.t1 + {w} GROUP BY g.c, g.t1)"
        )
        if heavy is None:
            continue
        times = "".join(f", g.t{j}" for j in range(2, k))
        ctes.append(
            f"g{k}h AS (SELECT g.c, g.t1{times}{carried}, e.ts AS t{k} "
            f"FROM g{k - 1}{'h' if k > 2 else 'e'} AS g ASOF JOIN {heavy_rows(k)} AS e "
            f"ON e.c = g.c AND g.t{k - 1} <= e.ts WHERE e.ts <= g.t1 + {w})"
        )
        ctes.append(f"g{k} AS (SELECT * FROM g{k}l UNION ALL BY NAME SELECT * FROM g{k}h)")
    return ctes
