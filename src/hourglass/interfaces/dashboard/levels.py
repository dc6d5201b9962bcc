"""The people behind a funnel's bars: every customer of the funnel with his level (open funnels:
``r{j}``/``k{j}``; optional steps: ``o{j}``, counted on his chain; ``--count totals``: ``n{k}``, his
chains' step-k events) and breakdown group, as the engine computes them for the same spec (one run
per funnel, then filtered by ``funnel_view.people_frame``; the browser never counts)."""

from __future__ import annotations

from typing import Any

from hourglass.analyses.people import funnel_people, funnel_totals_people
from hourglass.engine.fast_levels import fast_levels
from hourglass.engine.scan_levels import Wanted, scan_levels
from hourglass.interfaces import api

from .data import DashboardSource
from .funnel_view import FunnelView, funnel_kwargs
from .query import FunnelQuery

__all__ = ["ahead_levels", "funnel_levels", "named_levels"]


def funnel_levels(src: DashboardSource, q: FunnelQuery, wanted: Wanted | None = None) -> Any:
    """``api.funnel_levels`` for the funnel builder's query (pandas), on ``src``'s connection: on the
    store by the funnel's sequential scan kept per customer (engine/scan_levels.py), else on the
    DuckDB fast path when it can say (engine/fast_levels.py), else the portable plan; with optional
    steps or ``--count totals`` the portable plan's per-customer table that their counts sum
    (``analyses/people.py``). ``wanted``: asked between the scan's reads and pass
    (engine/scan_levels.py: the work ahead's people of a funnel left behind stop there)."""
    kwargs = funnel_kwargs(src, q)

    def run() -> Any:
        by = api.checked_by_column(src.events, q.by, code="HG306") if q.by else None
        options = {k: v for k, v in kwargs.items() if k not in ("steps", "model")}
        spec = api.build_spec(kwargs["steps"], model=kwargs["model"], config=src.config, by=by, **options)
        if spec.count == "totals" or (spec.optional_steps and not spec.open):
            people = funnel_totals_people if spec.count == "totals" else funnel_people
            return src.events.engine.execute(people(spec, src.events.table))
        fast = scan_levels(src.events, spec, wanted)
        if fast is None:
            fast = fast_levels(src.events, spec)
        if fast is not None:
            return fast
        return api.funnel_levels(src.events, by=q.by or None, config=src.config, **kwargs)

    return src.run(run)


def ahead_levels(views: Any, src: DashboardSource, q: FunnelQuery) -> Any:
    """The work ahead's people of funnel ``q`` (into ``views``' cache), while it is the funnel
    asked for last (``views._newest_funnel``); stopped between the scan's reads and its pass once
    another funnel is asked for (10M: the people of three funnels left behind took 2.1 CPU-s after
    the click, which needed none of them)."""

    def wanted() -> bool:
        return bool(views._newest_funnel == q.key())

    return views._cached("levels", q.key(), lambda: funnel_levels(src, q, wanted)) if wanted() else None


def named_levels(view: FunnelView, frame: Any) -> Any:
    """A step's customers as the CSV has them: the furthest step by its name, the group under the
    breakdown column's name."""
    frame = frame.copy()
    if "level" in frame.columns:
        frame["level"] = [view.labels[int(v) - 1] if v else None for v in frame["level"]]
        frame = frame.rename(columns={"level": "furthest_step"})
    if view.by and "by" in frame.columns:
        frame = frame.rename(columns={"by": view.by})
    return frame
