"""The funnel over time, in Python: ``hourglass.funnel_trend`` (the funnel per period of entry),
``hourglass.time_to_convert`` (histograms of the time between steps) and
``hourglass.events_to_convert`` (events and sessions from entry to each step). Definitions:
docs/semantics-funnel-time.md."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from hourglass.analyses.funnel_time import events_plan, time_plan, trend_time_events_plan, trend_time_plan
from hourglass.analyses.funnel_trend import SharedChains, trend_plan
from hourglass.engine.load import Events
from hourglass.engine.plan import execute_plan
from hourglass.engine.session import Engine
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.interfaces.api import StepLike, build_spec, checked_by_column
from hourglass.interfaces.api import events as load
from hourglass.model.funnel_time import EventsToConvert, TimeToConvert
from hourglass.model.funnel_trend import FunnelTrend, check_period
from hourglass.model.journey import JourneyModel
from hourglass.model.results import FunnelResult, StepCounts
from hourglass.model.schema import ColumnMapping
from hourglass.model.spec import FunnelSpec, format_window, parse_window

__all__ = [
    "events_to_convert",
    "funnel_trend",
    "run_view",
    "time_to_convert",
    "trend_and_time",
    "trend_time_events",
]

View = FunnelTrend | TimeToConvert | EventsToConvert
VIEWS = ("trend", "time", "events")


def run_view(
    view: str, ev: Events, spec: FunnelSpec, *, period: str = "week", session_gap: str | int | float = "30m"
) -> View:
    """One view of a funnel on loaded events (the CLI's ``--view trend|time|events``)."""
    started = time.perf_counter()
    result: View
    meta: dict[str, Any] = {}
    if view == "trend":
        result = execute_plan(ev.engine, trend_plan(spec, ev.table, check_period(period)))
        meta["period"] = result.period
    elif view == "time":
        result = execute_plan(ev.engine, time_plan(spec, ev.table))
    else:
        gap = parse_window(session_gap, what="the session gap")
        result = execute_plan(ev.engine, events_plan(spec, ev.table, gap))
        meta["session_gap"] = format_window(gap)
    result = _mark_unmeasured(ev, spec, result)
    result.meta.update(
        engine=ev.engine.name,
        spec=spec.describe(),
        source=ev.report.source,
        duplicates_collapsed=ev.report.duplicates_collapsed,
        **meta,
        seconds=round(time.perf_counter() - started, 3),
    )
    return result


def _zero_step(result: View) -> bool:
    if isinstance(result, FunnelTrend):
        return any(all(p.counts[i].customers == 0 for p in result.periods) for i in range(len(result.steps)))
    if isinstance(result, TimeToConvert):
        return any(h.customers == 0 for h in result.histograms)
    return any(not h.distribution for h in result.histograms)


def _mark_unmeasured(ev: Events, spec: FunnelSpec, result: View) -> View:
    """A step no event of the source matches (a typo, another shop's names) and, the funnel being
    closed, every step after it are not measured: null with the funnel's own reason, never 0
    (docs/adr/0006). Asked as the funnel asks it: when a step has no customers, or on a store."""
    if ev.codes is None and not _zero_step(result):
        return result
    from hourglass.engine.event_names import _matched  # the funnel's own check (engine/run.py)

    flags = _matched(ev, spec.steps, ())
    if flags is None:  # no events at all: nothing to tell a typo from
        return result
    named = [flags.get(f"n{k}", flags[f"s{k}"]) for k in range(len(spec.steps))]
    missing = tuple(s.name for s, hit in zip(spec.steps, named, strict=True) if not hit)
    if not missing:
        return result
    dummy = FunnelResult(
        tuple(StepCounts(s.name, 0, optional=s.optional) for s in spec.steps), missing=missing
    )
    why = dummy.unmeasured_at()
    from hourglass.engine.event_names import missing_event_notes

    result.meta["notes"] = missing_event_notes(ev, spec, dummy)  # the closest names, as the funnel's
    if isinstance(result, FunnelTrend):
        return dataclasses.replace(result, unmeasured=tuple(why), meta=result.meta)
    # by position, not name (a step name may repeat): two histograms per step 2..n, in step order
    at = [why[1 + i // 2] for i in range(len(result.histograms))]
    if isinstance(result, TimeToConvert):
        times = [
            h
            if w is None or h.reason is not None
            else dataclasses.replace(h, customers=None, counts=(), median_s=None, p90_s=None, reason=w)
            for h, w in zip(result.histograms, at, strict=True)
        ]
        return dataclasses.replace(result, histograms=tuple(times), meta=result.meta)
    counts = [
        h if w is None or h.reason is not None else dataclasses.replace(h, distribution={}, reason=w)
        for h, w in zip(result.histograms, at, strict=True)
    ]
    return dataclasses.replace(result, histograms=tuple(counts), meta=result.meta)


def _prepare(
    source: Any,
    steps: Sequence[StepLike] | None,
    model: str | JourneyModel | None,
    load_options: Mapping[str, Any],
    funnel_options: Mapping[str, Any],
) -> tuple[Events, FunnelSpec]:
    config = load_options.get("config")
    cfg = config if isinstance(config, Config) else load_config(config)
    jm = load_model(model, cfg) if isinstance(model, str) else model
    options = {k: v for k, v in funnel_options.items() if v is not None}
    by = options.pop("by", None)
    spec = build_spec(steps, model=jm, config=cfg, **options)
    ev = load(
        source,
        columns=load_options.get("columns"),
        engine=load_options.get("engine"),
        table=load_options.get("table"),
        config=cfg,
    )
    if by is not None:
        spec = build_spec(steps, model=jm, config=cfg, by=checked_by_column(ev, by, code="HG306"), **options)
    return ev, spec


def funnel_trend(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    period: str = "week",
    model: str | JourneyModel | None = None,
    window: str | int | float = "7d",
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
    **funnel_options: Any,
) -> FunnelTrend:
    """The funnel per period of entry (``day``, ``week`` from Monday or ``month``, UTC), each step's
    conversion with a 95% Wilson interval; empty periods are kept (null conversion with a reason),
    periods whose entrants' window has not elapsed by the log's last event are flagged incomplete.
    ``funnel_options``: those of :func:`hourglass.funnel` (mode, since, until, exclude, ...)."""
    check_period(period)
    loads = {"columns": columns, "engine": engine, "table": table, "config": config}
    ev, spec = _prepare(source, steps, model, loads, {"window": window, **funnel_options})
    return run_view("trend", ev, spec, period=period)  # type: ignore[return-value]


def time_to_convert(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    model: str | JourneyModel | None = None,
    window: str | int | float = "7d",
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
    **funnel_options: Any,
) -> TimeToConvert:
    """Per step after the first, a histogram of the time from the previous step and from entry (bins
    from under a minute up to the window), with counts, shares, median and p90, over the customers
    the funnel counts at the step (their best chain)."""
    loads = {"columns": columns, "engine": engine, "table": table, "config": config}
    ev, spec = _prepare(source, steps, model, loads, {"window": window, **funnel_options})
    return run_view("time", ev, spec)  # type: ignore[return-value]


def events_to_convert(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    session_gap: str | int | float = "30m",
    model: str | JourneyModel | None = None,
    window: str | int | float = "7d",
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
    **funnel_options: Any,
) -> EventsToConvert:
    """Per step after the first, over the customers the funnel counts at it: how many of their
    events (any event) lie from their entry to that step, both included, and in how many sessions
    (a gap of ``session_gap`` or more starts a new one), as distributions with median and p90."""
    parse_window(session_gap, what="the session gap")
    loads = {"columns": columns, "engine": engine, "table": table, "config": config}
    ev, spec = _prepare(source, steps, model, loads, {"window": window, **funnel_options})
    return run_view("events", ev, spec, session_gap=session_gap)  # type: ignore[return-value]


def trend_and_time(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    period: str = "auto",
    model: str | JourneyModel | None = None,
    window: str | int | float = "7d",
    config: Config | str | None = None,
    **funnel_options: Any,
) -> tuple[FunnelTrend, TimeToConvert]:
    """:func:`funnel_trend` and :func:`time_to_convert` of one funnel in one plan (its best chains
    computed once): the report's section."""
    check_period(period)
    loads = {"config": config}
    ev, spec = _prepare(source, steps, model, loads, {"window": window, **funnel_options})
    started = time.perf_counter()
    trend, times = execute_plan(ev.engine, trend_time_plan(spec, ev.table, period))
    for result in (trend, times):
        result.meta.update(engine=ev.engine.name, spec=spec.describe(), source=ev.report.source)
    trend.meta.update(period=trend.period, seconds=round(time.perf_counter() - started, 3))
    return trend, times


def trend_time_events(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    period: str = "auto",
    session_gap: str | int | float = "30m",
    model: str | JourneyModel | None = None,
    window: str | int | float = "7d",
    config: Config | str | None = None,
    chain: SharedChains | None = None,
    **funnel_options: Any,
) -> tuple[FunnelTrend, TimeToConvert, EventsToConvert]:
    """:func:`funnel_trend`, :func:`time_to_convert` and :func:`events_to_convert` of one funnel in
    one plan (its best chains computed once): the report's funnel over time. The events' steps no
    event matches are not measured, as :func:`events_to_convert` says them. ``chain``: the funnel's
    chains when another plan reads them too (the report's "why customers drop"; used when they are
    this funnel's)."""
    check_period(period)
    gap = parse_window(session_gap, what="the session gap")
    ev, spec = _prepare(source, steps, model, {"config": config}, {"window": window, **funnel_options})
    started = time.perf_counter()
    plan = trend_time_events_plan(spec, ev.table, period, gap, chain=chain)
    trend, times, counts = execute_plan(ev.engine, plan)
    counts = _mark_unmeasured(ev, spec, counts)  # type: ignore[assignment]
    for result in (trend, times, counts):
        result.meta.update(engine=ev.engine.name, spec=spec.describe(), source=ev.report.source)
    counts.meta.update(session_gap=format_window(gap))
    trend.meta.update(period=trend.period, seconds=round(time.perf_counter() - started, 3))
    return trend, times, counts
