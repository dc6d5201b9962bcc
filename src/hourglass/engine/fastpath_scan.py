"""The closed ordered funnel's sequential-scan plan on DuckDB (issue 18): each step's matched events
sorted by (customer, time), read into numpy, and one linear pass (engine/funnel_scan.py) instead of
the greedy joins of engine/fastpath.py.

Where it runs (the plan chooser's rule, engine/fastpath.py): every funnel the fast path answers that
is closed (not ``--open``) and has no ``--by``, on a store or a file (``SCAN_FILES``), of at least
``SCAN_MIN_ROWS`` validated events (``report.rows``, known before the query). The greedy joins pair
each entry with every step-k event of its window: their cost grows with the entries per customer
(4.6 visits per customer on the bench's ``returning`` log: 2.0 CPU-s at 10M on Parquet, 1.2 on a
store, under load), while the scan's is a sort (a file) or nothing (a store) plus a pass linear in
the events, however many entries a customer has. Measured in one process, alternated, on every
shape of bench/SHAPES.md at 10M (bench/SHAPES.md), the scan took less CPU than the joins on each
and no more wall time, on files as on stores, so the rule needs no statistic of the log's shape.
Smaller logs keep the joins (milliseconds either way, and a small file's funnel then loads no numpy
or Arrow, issue 11). ``--by`` and ``--open`` keep the joins (a breakdown's value per entry, and the
open programme, are not in the kernel).

- **A store** (rows ordered by event, customer, time): each step reads its own rows (``event =``
  the ENUM constant, or the text in a store of more than ``ENUM_MAX_NAMES`` names; zone maps skip
  the other row groups) in storage order, already sorted by (customer key, time); a step of several
  names is ordered by DuckDB. The kernel checks the order and sorts when it does not hold.
- **A file**: the matched events (the same SQL as the joins' ``ev``), materialised by DuckDB in
  parallel (a relation's ``fetchnumpy``); integer customers are grouped by numpy, in sets of
  customers in threads (engine/funnel_scan.py ``funnel_scan_unsorted``: one SIMD sort of (hash of
  the id, row index) words, a fraction of the CPU of DuckDB's ``ORDER BY c, ts``; the times within a
  customer are put in order per range of customers, on their keys), text customers by DuckDB
  (``ORDER BY c, ts``); customers numbered in that order. The kernel takes the ranges of customers
  in threads.

The SQL builders here import no Ibis (they take the compiled source SQL as text).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hourglass.engine._pages import small_pages
from hourglass.engine._values import sql_literal as _literal
from hourglass.engine.funnel_scan import (
    funnel_scan,
    funnel_scan_rows,
    funnel_scan_unsorted,
    numbered,
    sorted_by_code,
)

__all__ = [
    "SCAN",
    "SCAN_FILES",
    "SCAN_MIN_ROWS",
    "raw_gate_sql",
    "run_scan",
    "small_pages",
    "sorted_sql",
    "store_step_sql",
]

#: the scan plan on (tests set it False to run the greedy joins on the same specs)
SCAN = True
#: the fewest validated events a log needs for the scan plan: below, both plans take milliseconds
#: and the joins need neither numpy's arrays nor their imports (a small file's funnel, issue 11)
SCAN_MIN_ROWS = 1_000_000
#: the scan plan on a file too (tests turn it off to run the joins on files). Session 5 kept files on
#: the joins: on a quiet machine the scan lost in wall time where customers walk the journey about
#: once (`once` 0.44 vs 0.37 s): its result was streamed on one thread and sorted by DuckDB. Fetched
#: in parallel and sorted by numpy, it took less CPU than the joins on every shape and no more wall
#: time (10M, in one process, alternated, medians of 5, load 6-10: `once` 0.59 vs 0.70 CPU-s,
#: `returning` 1.71 vs 2.02, `bots` 0.62 vs 0.79, `late` 0.60 vs 0.76 (wall 0.41 vs 0.41 s),
#: `wide` 1.30 vs 1.36); at load 2.6, `once`: 0.285 vs 0.315 s wall, 0.52 vs 0.60 CPU-s (bench/SHAPES.md)
SCAN_FILES = True
#: a file's raw-text gate (:func:`raw_gate_sql`) on; tests turn it off to compare
RAW_GATE = True
#: the most names the gate lists (two comparisons each): more, and the step index filters alone
RAW_GATE_NAMES = 64


def store_step_sql(base: str, names: Sequence[str], enum_type: str | None) -> str:
    """A store step's rows (``c``, ``ts``) from ``base`` (the SQL of ``hg_events``): one name in
    storage order (customer, time); several, ordered by DuckDB."""
    typed = f"::{enum_type}" if enum_type else ""
    match = " OR ".join(f"event = {_literal(x)}{typed}" for x in sorted(set(names))) or "false"
    order = " ORDER BY 1, 2" if len(set(names)) > 1 else ""
    return f'SELECT customer AS c, "timestamp" AS ts FROM ({base}) AS st WHERE {match}{order}'


def raw_gate_sql(names: Sequence[str], column: str = '"event"') -> str | None:
    """A filter on a file's raw event text (``column``) that keeps every row whose canonical event,
    ``NULLIF(strip(raw), '')``, is one of ``names`` (each its own canonical form with no blank edge:
    engine/raw_step.py ``plain_name``), in comparisons only, which DuckDB pushes into the Parquet
    scan ahead of the step index (engine/raw_step.py's CASE, whose blank-edge test is six ``SUFFIX``
    calls per row); None past ``RAW_GATE_NAMES`` names.

    Why no row is lost (the CASE still decides each kept row): a raw value ``v`` canonicalises to a
    name ``N`` either unchanged (``v = N``) or through the trim, which changes only values with a
    blank edge. With a leading one, ``v < '!'`` (every white space character sorts below ``'!'``).
    With none, the trim removes trailing white space only, so ``v`` is ``N`` followed by a white
    space character and more: ``N < v < N || '!'``, byte-wise (DuckDB compares text by bytes; every
    byte of a multi-byte UTF-8 character is >= 0x80). So the rows kept are ``v < '!'`` or
    ``N <= v < N || '!'`` for some ``N``; the others have step 0. On the 10M ``wide`` log (10^6
    names, plain strings) the scan's filter touches each value with a few comparisons instead."""
    wanted = sorted(set(names))
    if not wanted or len(wanted) > RAW_GATE_NAMES:
        return None
    ranges = [f"({column} >= {_literal(n)} AND {column} < {_literal(n + '!')})" for n in wanted]
    if len(ranges) == 1:
        return f"({column} < '!' OR {ranges[0]})"
    # the ranges' hull first: most other values fail one or two comparisons (10M `wide`, in one
    # process, x5: 0.51 vs 0.61 CPU-s for the count of the rows kept)
    hull = f"{column} >= {_literal(wanted[0])} AND {column} < {_literal(max(n + '!' for n in wanted))}"
    return f"({column} < '!' OR ({hull} AND ({' OR '.join(ranges)})))"


def sorted_sql(matched: str, *, by_customer: bool = True) -> str:
    """A file's matched events (``matched``: columns ``c``, ``ts`` in µs, ``s`` the step, or 0 for a
    row of no step, dropped by :func:`run_scan`), sorted by customer and time (``by_customer``), or
    as they come (integer customers, sorted in numpy). The step as one byte (a funnel has at most 30
    steps): numpy's radix sort of it takes one pass."""
    order = " ORDER BY c, ts" if by_customer else ""
    return f"SELECT c, ts, CAST(s AS TINYINT) AS s FROM ({matched}) AS m{order}"


def _fetch(raw: Any, sql: str) -> dict[str, np.ndarray]:
    """The result's columns as numpy arrays: a relation's ``fetchnumpy``, which DuckDB materialises
    in parallel (``execute(...).fetchnumpy()`` streamed the result on one thread: 0.46 vs 0.24 s
    wall for the 3.3M matched rows of the 10M ``returning`` Parquet file). Not through Arrow:
    DuckDB's ``to_arrow_table`` and pyarrow's ``to_numpy`` import pandas on first use, ~0.27 s of a
    fresh process's funnel on the 10M store."""
    return dict(raw.sql(sql).fetchnumpy())


def run_scan(
    raw: Any,
    n: int,
    window: int,
    since: int | None,
    until: int | None,
    *,
    steps_sql: Sequence[str] | None = None,
    matched_sql: str | None = None,
    integer: bool = False,
) -> dict[str, Any]:
    """The summary row, from a store's ``steps_sql`` (one query per step) or a file's
    ``matched_sql`` (one query, sorted here; ``integer``: its customers are integers);
    ``raw``: the DuckDB connection."""
    with small_pages():
        return _run_scan(raw, n, window, since, until, steps_sql, matched_sql, integer)


def _run_scan(
    raw: Any,
    n: int,
    window: int,
    since: int | None,
    until: int | None,
    steps_sql: Sequence[str] | None,
    matched_sql: str | None,
    integer: bool,
) -> dict[str, Any]:
    steps: list[tuple[np.ndarray, np.ndarray]] = []
    if steps_sql is not None:
        for sql in steps_sql:
            got = _fetch(raw, sql)
            steps.append(sorted_by_code(got["c"], got["ts"]))
    else:
        assert matched_sql is not None
        got = _fetch(raw, sorted_sql(matched_sql, by_customer=not integer))
        c, ts, s = got["c"], np.asarray(got["ts"], dtype=np.int64), got["s"]
        if len(s) and s.min() < 1:  # rows of no step (kept by engine/fastpath.py's raw gate)
            keep = s > 0
            c, ts, s = c[keep], ts[keep], s[keep]
        if integer:
            # integer customers: grouped by numpy's SIMD sort, a fraction of the CPU of DuckDB's
            # ORDER BY c, ts (0.44 CPU-s for 3.3M rows), in threads over sets of customers; the
            # times within a customer are put in order per range of customers
            return funnel_scan_unsorted(c, ts, s, n, window, since, until)
        return funnel_scan_rows(numbered(c), ts, s, n, window, since, until)
    return funnel_scan(steps, window, since, until)
