"""A closed funnel's breakdown (``--by``) on a store by the sequential scan (engine/funnel_scan.py),
where each customer's step-1 events have one value of the breakdown column (a customer's country, his
acquisition channel): the dashboard's funnel with a breakdown.

Why it is exact. A customer's group is the value of his best chain's entry event (docs/semantics.md,
``--by``). When all of his step-1 events have the same value (or all none), every chain of his starts
with that value, so his group is that value whatever his best chain; each group's counts and times
are then the funnel of that group's customers alone (a customer's chains never depend on another
customer's events), which is the scan of their rows. Customers of several values (a device that
changes from visit to visit) make this return ``None``, and the fast path's joins answer instead
(engine/fastpath.py), as for every spec outside this module's rule (:func:`by_scan_rows`).

Cost (1M shop store, by channel): one aggregate of the step-1 rows per customer and the store's rows
of the steps read once (engine/funnel_batch.py), then one pass per group, instead of the joins'
per-entry pairing with every later step's events of the window."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from hourglass.engine.funnel_batch import (
    is_store,
    micros_of,
    read_names,
    rows_span,
    sql_literal,
    step_names,
    step_rows,
)

if TYPE_CHECKING:
    import numpy as np

    from hourglass.engine.load import Events
    from hourglass.model.spec import FunnelSpec

__all__ = ["by_scan_rows"]

#: the most groups taken by the scan (a column of more values keeps the joins: one pass per group)
MAX_GROUPS = 1000


def _eligible(events: Events, spec: FunnelSpec) -> bool:
    """The scan plan's rule but for the breakdown (engine/fastpath.py ``scan_chosen``), on a store,
    steps of plain names, a breakdown column of the store's own (not the customer or the time)."""
    from dataclasses import replace

    from hourglass.engine.funnel_batch import shares_scan

    if not spec.by or spec.by in ("customer", "timestamp", "event") or spec.open or not is_store(events):
        return False
    assert events.keyed is not None
    return spec.by in events.keyed.columns and shares_scan(events, replace(spec, by=None))


class _NotKnown(Exception):
    """The step-1 values could not be read (not kept: the next funnel asks again)."""


def _groups(events: Events, spec: FunnelSpec) -> tuple[np.ndarray, np.ndarray, list[Any]] | None:
    """The step-1 customers' keys, their group numbers and the groups' values (ordered, NULL last),
    or None when a customer's step-1 events have more than one value (or there are too many)."""
    import duckdb
    import numpy as np

    from hourglass.engine.errors import translated

    assert events.keyed is not None and events.codes is not None
    con = events.engine.con
    base = con.compile(events.keyed)
    names = [x for x in sorted(set(spec.steps[0].events)) if x in events.codes]
    if not names:
        return None
    match = " OR ".join(f"event = {sql_literal(x)}::{events.enum_type}" for x in names)
    b = '"' + str(spec.by).replace('"', '""') + '"'
    per = (
        f"SELECT customer AS c, min({b}) AS lo, max({b}) AS hi, count({b}) AS nb, count(*) AS n "
        f"FROM ({base}) AS st WHERE {match} GROUP BY customer"
    )
    sql = (
        f"WITH per AS MATERIALIZED ({per}), "
        "vals AS (SELECT lo, CAST(row_number() OVER (ORDER BY lo NULLS LAST) - 1 AS INTEGER) AS g "
        "FROM (SELECT DISTINCT lo FROM per) AS d), "
        "bad AS (SELECT count(*) AS k FROM per WHERE lo IS DISTINCT FROM hi OR (nb <> 0 AND nb <> n)) "
        "SELECT per.c AS c, vals.g AS g, (SELECT k FROM bad) AS bad, (SELECT count(*) FROM vals) AS m "
        "FROM per JOIN vals ON per.lo IS NOT DISTINCT FROM vals.lo"
    )
    try:  # a column DuckDB cannot order (a map), a query interrupted: the joins answer, or say why
        got = con.con.sql(sql).fetchnumpy()
    except duckdb.Error as e:
        raise _NotKnown from e
    with translated():
        if not len(got["c"]) or int(got["bad"][0]) or int(got["m"][0]) > MAX_GROUPS:
            return None
        values = [
            r[0]
            for r in con.con.sql(
                f"SELECT DISTINCT {b} FROM ({base}) AS st WHERE {match} ORDER BY 1 NULLS LAST"
            ).fetchall()
        ]
    return np.asarray(got["c"], dtype=np.int64), np.asarray(got["g"], dtype=np.int64), values


#: the last few breakdowns' group of each customer (the dashboard asks for the same one with other
#: windows and dates): (events, column, step-1 names) -> (group by customer key, values) or None
_KEPT: OrderedDict[
    tuple[int, str, tuple[str, ...]], tuple[weakref.ref[Events], tuple[np.ndarray, list[Any]] | None]
]
_KEPT = OrderedDict()
_KEPT_MAX = 4
_lock = threading.Lock()


def _group_of(events: Events, spec: FunnelSpec) -> tuple[np.ndarray, list[Any]] | None:
    """Each customer key's group number (-1: no step-1 event) and the groups' values, kept for
    the next funnel of the same events, column and step-1 names; None as :func:`_groups`."""
    import numpy as np

    key = (id(events), str(spec.by), tuple(sorted(set(spec.steps[0].events))))
    with _lock:
        kept = _KEPT.get(key)
        if kept is not None and kept[0]() is events:  # (not another object at that id)
            _KEPT.move_to_end(key)
            return kept[1]
    try:
        found = _groups(events, spec)
    except _NotKnown:  # not kept: asked again next time
        return None
    value: tuple[np.ndarray, list[Any]] | None = None
    if found is not None:
        keys, group, values = found
        assert events.key_count is not None
        of = np.full(events.key_count, -1, dtype=np.int16 if len(values) < 2**15 else np.int32)
        of[keys] = group
        value = (of, values)
    with _lock:
        _KEPT[key] = (weakref.ref(events), value)  # the events are not kept alive by it
        while len(_KEPT) > _KEPT_MAX:
            _KEPT.popitem(last=False)
    return value


def by_scan_rows(events: Events, spec: FunnelSpec) -> list[dict[str, Any]] | None:
    """The fast path's summary rows of ``spec`` (one per ``by`` value: ``by``, ``c{k}``, ``med{k}``,
    ``p90{k}``), or None where this scan does not answer (the joins do)."""
    if not _eligible(events, spec):
        return None
    import numpy as np

    from hourglass.engine._pages import small_pages
    from hourglass.engine.funnel_scan import WORKERS, funnel_scan

    found = _group_of(events, spec)
    if found is None:
        return None
    of, values = found
    with small_pages():
        rows = read_names(
            events, sorted({x for st in spec.steps for x in st.events}), rows_span(events, spec)
        )
        split = []
        for k in step_names(spec):
            codes, ts = step_rows(rows, k)
            g = of[codes]
            order = np.argsort(g, kind="stable")  # by group, each in customer order (radix: small ints)
            bounds = np.searchsorted(g[order], np.arange(len(values) + 1))
            codes, ts = codes[order], ts[order]
            split.append(
                [
                    (codes[bounds[j] : bounds[j + 1]], ts[bounds[j] : bounds[j + 1]])
                    for j in range(len(values))
                ]
            )
        since, until = micros_of(spec.since), micros_of(spec.until)
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:  # the groups side by side
            found_rows = pool.map(
                lambda j: funnel_scan([s[j] for s in split], spec.window, since, until), range(len(values))
            )
            out = [{"by": value, **row} for value, row in zip(values, found_rows, strict=True) if row["c1"]]
    return out
