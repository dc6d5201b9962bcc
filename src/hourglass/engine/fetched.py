"""The journeys page's elements fetched once (the dashboard turns it on: ``KEEP``).

The journeys page's first view asks the journeys (engine/journeys_numpy.py), the transitions and
the paths (engine/journeys_fast.py), and beside them the per-customer paths a Sankey node's click
filters (engine/paths_people.py): each of them fetched the same elements (``c``, ``ts``, ``node``
of the model's stages in the page's dates) with its own query, about 0.45 CPU-s each at 10M
events. With ``KEEP`` on, :func:`fetched` keeps the last query's columns (read-only numpy arrays):
a second asker of the same query on the same events gets them, and one asking while the first
fetch runs waits for it instead of fetching beside it. The events are named by their validation
report, which the events of a second connection to the same database share
(engine/second_connection.py: the same data, another connection); the events of a store loaded
again (written again at its path) have their own, so they never get the older events' rows.

Off (the default, the API and the CLI) it is the query's fetch: nothing is kept (the last fetch of
10M events' elements holds ~200 MB)."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from hourglass.engine.load import Events

__all__ = ["KEEP", "fetched", "forget"]

KEEP = False  # the dashboard's (interfaces/dashboard/app.py); the API and CLI fetch each time

_lock = threading.Lock()
_last: list[tuple[weakref.ref[Any], str, dict[str, np.ndarray]]] = []  # (report, sql, columns)
_pending: dict[tuple[int, str], threading.Event] = {}


def _found(events: Events, sql: str) -> dict[str, np.ndarray] | None:
    for ref, kept_sql, got in _last:
        if ref() is events.report and kept_sql == sql:
            return got
    return None


def fetched(events: Events, sql: str) -> dict[str, np.ndarray]:
    """``sql``'s columns (``fetchnumpy``) on ``events``' connection; with ``KEEP``, the last ones
    kept (read-only) for the same events' report and SQL, fetched once when asked meanwhile."""
    from hourglass.engine.errors import translated

    def fetch() -> dict[str, np.ndarray]:
        with translated():
            return dict(events.engine.con.con.sql(sql).fetchnumpy())

    if not KEEP:
        return fetch()
    key = (id(events.report), sql)
    while True:
        with _lock:
            got = _found(events, sql)
            if got is not None:
                return got
            running = _pending.get(key)
            if running is None:
                done = _pending[key] = threading.Event()
                break
        running.wait()  # then found, or (its fetch failed: interrupted) fetched here
    try:
        got = fetch()
        for column in got.values():
            column.flags.writeable = False  # shared by the askers: none may write in it
        with _lock:
            _last[:] = [(weakref.ref(events.report), sql, got)]
        return got
    finally:
        with _lock:
            del _pending[key]
        done.set()


def forget() -> None:
    """Drop what is kept (tests)."""
    with _lock:
        _last.clear()
