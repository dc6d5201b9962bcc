"""Several closed funnels of one entry range scanned together over the same rows (the dashboard's
overview: six models, 30 steps of 27 event names, 19 distinct steps): each step's keys built once
per range of customers, however many models have it, instead of once per model.

engine/funnel_scan.py's pass reads each step of a funnel as int64 keys ``customer << bits | time``
of a range of customers, built from the step's rows (a copy, a shift, a sum, an order check; a sort
for a step of several names). The overview's models share most steps (``ad_click`` or ``visit`` in
five of them, 6.9M rows at 10M events): one funnel after the other built them five times, and each
step of several names was first put in customer order as a whole (a stable argsort and two gathers
of every row). Here all the models use one layout (the time bits and ranges of customers of all the
rows read), so a step's keys of a range are the same for every model: built once per range (a step
of several names: its names' slices of the range concatenated and sorted, a merge of sorted runs),
then each model's pass (engine/scan_kernel.py ``counts``, funnel_scan's kernel)
reads them. The layout changes no number (a chain's times are key differences within a customer;
the ranges split the customers), so each summary row is the one ``funnel_scan`` gives
(tests/test_dashboard_overview_batch.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hourglass.engine import grouping
from hourglass.engine.funnel_scan import summary
from hourglass.engine.scan_kernel import counts, layout

if TYPE_CHECKING:
    from hourglass.model.spec import FunnelSpec

__all__ = ["Stopped", "models_scan_rows"]

Rows = dict[str, tuple[np.ndarray, np.ndarray]]


class Stopped(Exception):  # (never shown: only the work ahead passes a ``wanted``)
    """The scan stopped: its caller's ``wanted`` said no (the dashboard's work ahead for a view
    left behind, interfaces/dashboard/asked.py)."""


Step = tuple[str, ...]


def models_scan_rows(
    rows: Rows,
    specs: Sequence[FunnelSpec],
    steps: Sequence[Sequence[Step]],
    since: int | None,
    until: int | None,
    wanted: Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """Each spec's summary row (``c{k}``, ``med{k}``, ``p90{k}``: as engine/funnel_scan.py
    ``funnel_scan``) from ``rows`` (each name's ``(customer keys, µs)``, keys in order), ``steps``
    (each spec's steps' names), the entry range ``since``/``until`` (µs) the specs share.
    ``wanted``: asked first and before each range; :class:`Stopped` once it is False."""
    if wanted is not None and not wanted():
        raise Stopped
    used = [x for x in {x for st in steps for k in st for x in k} if x in rows and len(rows[x][0])]
    if not used:
        return [summary([], len(st)) for st in steps]
    t_min = min(int(rows[x][1].min()) for x in used)
    t_max = max(int(rows[x][1].max()) for x in used)
    last = max(int(rows[x][0][-1]) for x in used)
    bits, starts = layout(t_min, t_max, last)
    bounds = {
        x: np.searchsorted(rows[x][0], np.asarray(starts, dtype=rows[x][0].dtype)).tolist() for x in used
    }
    distinct = list(dict.fromkeys((k, j == 0) for st in steps for j, k in enumerate(st)))

    def keys_of(r: int, names: Step, entry: bool) -> np.ndarray:
        parts = []
        for x in names:
            if x not in bounds:
                continue
            lo, hi = bounds[x][r], bounds[x][r + 1]
            codes, ts = rows[x][0][lo:hi], rows[x][1][lo:hi]
            if entry and (since is not None or until is not None):
                keep = np.ones(len(ts), dtype=bool)
                if since is not None:
                    keep &= ts >= since
                if until is not None:
                    keep &= ts < until
                codes, ts = codes[keep], ts[keep]
            key = codes.astype(np.int64)
            key -= starts[r]
            key <<= bits
            key += ts
            key -= t_min
            parts.append(key)
        if not parts:
            return np.empty(0, dtype=np.int64)
        key = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if len(key) > 1 and not (key[1:] >= key[:-1]).all():
            key.sort(kind="stable")  # (sorted runs: a merge)
        return key

    def one(r: int) -> list[tuple[list[int], list[list[np.ndarray]]]]:
        if wanted is not None and not wanted():
            raise Stopped
        keys = {(k, e): keys_of(r, k, e) for k, e in distinct}
        out = []
        for spec, st in zip(specs, steps, strict=True):
            out.append(counts([keys[(k, j == 0)] for j, k in enumerate(st)], spec.window, bits))
        return out

    parts = grouping.run_ranges(one, len(starts) - 1, grouping.WORKERS)
    return [summary([p[i] for p in parts], len(st)) for i, st in enumerate(steps)]
