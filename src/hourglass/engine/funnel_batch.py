"""Several closed funnels on one store at once (the dashboard's overview: every built-in model for
one window and dates), sharing what they read.

Each funnel the store's sequential scan answers alone (engine/fastpath.py ``scan_chosen`` on a
store, steps of plain names) reads each of its steps' rows with its own query, and a step of several
names is ordered by DuckDB (engine/fastpath_scan.py). The overview's six models name 27 event names
in 30 steps, most of them in several models: one funnel after the other, the 1M shop's store was read
31 times for one overview. Here the union of their names is read once, in storage order (event code,
customer, time), each name's rows are a slice of it, and a step is its names' slices (put in customer
order by one stable sort of the concatenation when it has several); each funnel is then the same
numpy pass (engine/funnel_scan.py ``funnel_scan``) on the same rows, so its summary row is the one
:func:`~hourglass.engine.run.run_funnel` computes (tests/test_dashboard_overview_batch.py).

A spec the shared scan does not answer (another plan, ``--by``, a file, a filter or a glob in a
step) gets ``None`` and is run on its own by the caller.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hourglass.engine._values import sql_literal

if TYPE_CHECKING:
    import numpy as np

    from hourglass.engine.load import Events
    from hourglass.model.spec import FunnelSpec

__all__ = [
    "SHARED_KEYS",
    "is_store",
    "micros_of",
    "read_names",
    "rows_span",
    "shared_scan_rows",
    "shares_scan",
    "sql_literal",
    "step_names",
    "step_rows",
]


#: the overview's models scanned over keys built once per step (engine/models_scan.py); False:
#: each model's own scan (engine/funnel_scan.py), as before (tests and benchmarks compare both)
SHARED_KEYS = True


def _plain_names(spec: FunnelSpec) -> bool:
    return all(not s.where and not any(c in p for c in "*?") for s in spec.steps for p in s.events)


def is_store(events: Events) -> bool:
    """A store's keyed events (dense customer keys, ENUM event codes), not a file's."""
    if events.keyed is None or not events.key_count or events.codes is None or events.enum_type is None:
        return False
    namespace = getattr(events.keyed.op(), "namespace", None)
    return bool(getattr(namespace, "database", None))


def shares_scan(events: Events, spec: FunnelSpec) -> bool:
    """Whether :func:`shared_scan_rows` answers ``spec`` on ``events``: the fast path's
    sequential-scan plan on a store (the plan chooser's own rule), steps of plain names."""
    from hourglass.engine.fastpath import plan_for, scan_chosen

    return (
        is_store(events)
        and _plain_names(spec)
        and plan_for(events, spec) == "fast"
        and scan_chosen(events, spec)
    )


def micros_of(value: datetime | None) -> int | None:
    if value is None:
        return None
    return (value - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def rows_span(events: Events, spec: FunnelSpec) -> tuple[int | None, int | None]:
    """The times (µs) a chain of ``spec`` can have: from ``since`` (its entry's earliest) to before
    ``until`` + the window (its last step's latest); (None, None) when the store's times are not
    integer µs or there are no dates."""
    assert events.keyed is not None
    if not events.keyed.timestamp.type().is_integer():
        return None, None
    until = micros_of(spec.until)
    return micros_of(spec.since), None if until is None else until + spec.window


def read_names(
    events: Events, names: Sequence[str], span: tuple[int | None, int | None] = (None, None)
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each name's rows ``(customer keys, µs)`` in storage order (customer, time), from one query;
    ``span``: only the rows of those times (µs, from, before)."""
    import numpy as np

    from hourglass.engine.errors import translated

    codes = events.codes or ()
    wanted = sorted({codes.index(x) for x in names if x in codes})
    if not wanted:
        return {}
    assert events.keyed is not None
    con = events.engine.con
    hook = getattr(con, "_run_pre_execute_hooks", None)
    if hook is not None:
        hook(events.keyed)
    base = con.compile(events.keyed)
    match = " OR ".join(f"event = {sql_literal(codes[i])}::{events.enum_type}" for i in wanted)
    match = f"({match})"
    if span[0] is not None:
        match += f' AND "timestamp" >= {span[0]}'
    if span[1] is not None:
        match += f' AND "timestamp" < {span[1]}'
    sql = f'SELECT customer AS c, "timestamp" AS ts, enum_code(event) AS e FROM ({base}) AS st WHERE {match}'
    with translated():
        got = con.con.sql(sql).fetchnumpy()
    c, ts, e = got["c"], np.asarray(got["ts"], dtype=np.int64), np.asarray(got["e"], dtype=np.int64)
    if len(e) > 1 and not (e[1:] >= e[:-1]).all():  # storage order not kept: grouped by code here
        order = np.argsort(e, kind="stable")
        c, ts, e = c[order], ts[order], e[order]
    bounds = np.searchsorted(e, np.asarray([*wanted, wanted[-1] + 1], dtype=np.int64))
    return {
        codes[i]: (c[bounds[j] : bounds[j + 1]], ts[bounds[j] : bounds[j + 1]]) for j, i in enumerate(wanted)
    }


def step_rows(
    rows: dict[str, tuple[np.ndarray, np.ndarray]], names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One step's ``(codes, ts)``, codes in order (engine/funnel_scan.py ``sorted_by_code``)."""
    import numpy as np

    from hourglass.engine.funnel_scan import sorted_by_code

    parts = [rows[x] for x in sorted(set(names)) if x in rows and len(rows[x][0])]
    if not parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if len(parts) == 1:
        return sorted_by_code(*parts[0])
    return sorted_by_code(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


def step_names(spec: FunnelSpec) -> list[tuple[str, ...]]:
    return [tuple(sorted(set(st.events))) for st in spec.steps]


def shared_scan_rows(
    events: Events, specs: Sequence[FunnelSpec], wanted: Callable[[], bool] | None = None
) -> list[dict[str, Any] | None]:
    """Each spec's summary row (``c{k}``, ``med{k}``, ``p90{k}``, as the fast path's scan gives it),
    ``None`` for a spec :func:`shares_scan` does not answer; the store is read once for all.
    ``wanted``: asked after the read and before each range of the models' scan (engine/models_scan.py
    ``Stopped`` once False: the dashboard's work ahead for a view left behind)."""
    from hourglass.engine._pages import small_pages
    from hourglass.engine.funnel_scan import WORKERS, funnel_scan

    chosen = [shares_scan(events, spec) for spec in specs]
    names = sorted(
        {x for spec, ok in zip(specs, chosen, strict=True) if ok for s in spec.steps for x in s.events}
    )
    out: list[dict[str, Any] | None] = [None] * len(specs)
    if not names:
        return out
    spans = {rows_span(events, spec) for spec, ok in zip(specs, chosen, strict=True) if ok}
    span = spans.pop() if len(spans) == 1 else (None, None)  # (the overview's: one window and dates)
    todo = [i for i, ok in enumerate(chosen) if ok]
    ranges = {(specs[i].since, specs[i].until) for i in todo}
    with small_pages():
        if SHARED_KEYS and len(ranges) == 1:  # one entry range (the overview): each step's keys once
            from hourglass.engine.models_scan import models_scan_rows

            since, until = ranges.pop()
            got = models_scan_rows(
                _kept_rows(events, names, span),
                [specs[i] for i in todo],
                [step_names(specs[i]) for i in todo],
                micros_of(since),
                micros_of(until),
                wanted,
            )
            for i, row in zip(todo, got, strict=True):
                out[i] = row
            return out
        rows = read_names(events, names, span)
        # each distinct step once (a step of several models), in threads (numpy's sorts release the GIL)
        distinct = list(dict.fromkeys(k for i in todo for k in step_names(specs[i])))
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            made = dict(zip(distinct, pool.map(lambda k: step_rows(rows, k), distinct), strict=True))

            def scan(spec: FunnelSpec) -> dict[str, Any]:
                steps = [made[k] for k in step_names(spec)]
                return funnel_scan(steps, spec.window, micros_of(spec.since), micros_of(spec.until))

            # the models side by side too: one's single-threaded parts (its ranges' bounds, its
            # quantiles) beside another's
            for i, row in zip(todo, pool.map(scan, [specs[i] for i in todo]), strict=True):
                out[i] = row
    return out


#: the last overviews' rows (the page's dates and the period before, a comparison's): (events,
#: names, span) -> each name's rows, customer keys in order
_KEPT_MAX = 2
_KEPT: list[tuple[weakref.ref[Events], tuple[str, ...], tuple[int | None, int | None], Any]] = []
_kept_lock = threading.Lock()


def _covers(wide: tuple[int | None, int | None], span: tuple[int | None, int | None]) -> bool:
    """``wide`` holds ``span`` and starts with it (not all dates' rows for a range of days: the
    scan's cost is its rows')."""
    return wide[0] == span[0] and (wide[1] is None or (span[1] is not None and span[1] <= wide[1]))


def _kept_rows(
    events: Events, names: Sequence[str], span: tuple[int | None, int | None]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`read_names` (customer keys in order), or a last overview's rows when they are of
    the same events and names over a span that holds this one (a new window no longer than the
    last: the rows of a longer span hold every chain of a shorter one, and the entries are cut to
    the range by the scan)."""
    with _kept_lock:
        for i, (ref, kept_names, wide, rows) in enumerate(_KEPT):
            if ref() is events and kept_names == tuple(names) and _covers(wide, span):
                _KEPT.append(_KEPT.pop(i))
                return rows  # type: ignore[no-any-return]
    rows = {x: _by_code(*r) for x, r in read_names(events, names, span).items()}
    with _kept_lock:
        _KEPT.append((weakref.ref(events), tuple(names), span, rows))
        del _KEPT[:-_KEPT_MAX]
    return rows


def _by_code(codes: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A name's rows with the customer keys in order (engine/funnel_scan.py ``sorted_by_code``)."""
    from hourglass.engine.funnel_scan import sorted_by_code

    return sorted_by_code(codes, ts)
