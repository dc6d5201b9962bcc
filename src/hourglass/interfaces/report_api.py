"""The Python API of the HTML report: ``hourglass.report(source)`` runs the funnel of every model,
the lifecycle and the journey analyses of one "main" model on one load of the source and writes the
self-contained report (docs/report.md). A model none of whose events is in the source is not run:
its section says "not measured", why, and how to map it, never a table of zeros."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from hourglass.engine.load import Events
from hourglass.engine.plan import cached
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.ingest.sources import is_read_once
from hourglass.interfaces import api
from hourglass.interfaces.report_extras import Context, check_extras, extra_parts
from hourglass.interfaces.report_funnel_parts import funnel_parts
from hourglass.interfaces.report_gc import with_fewer_collections
from hourglass.interfaces.report_helper import Helper, start_helper
from hourglass.interfaces.report_sections import (
    FunnelOptions,
    draft_of,
    funnel_section,
    journeys_block,
    lifecycle_args,
    lifecycle_blocks,
    lifecycle_of,
    not_counted_model,
    not_measured_model,
)
from hourglass.interfaces.reports._parts import Part
from hourglass.interfaces.reports.html import write_report
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle_result import LifecycleResult
from hourglass.model.presets import PRESETS
from hourglass.model.results import FunnelResult
from hourglass.model.schema import ColumnMapping

__all__ = ["MAIN_MODEL", "ReportResult", "event_counts", "matched_stages", "report"]

MAIN_MODEL = "hourglass"  # the model of the lifecycle and journey sections when none is given
_MAX_NAMES = 10_000  # distinct event names read to check the models against the source


@dataclass(frozen=True)
class ReportResult:
    """What ``report`` wrote: the file, the sections it includes (``funnel:<model>``, ``lifecycle``,
    ``referrals``, ``channels``, ``journeys``), the sections not measured with the reason and how to
    map them, and how long it took. ``results`` and ``lifecycle`` are the results it ran."""

    path: Path
    sections: tuple[str, ...]
    not_measured: Mapping[str, str]
    seconds: float
    events: int
    customers: int
    main_model: str
    #: the source's most frequent event names (at most 10)
    top_events: tuple[str, ...] = ()
    #: the model drafted from the source's event names when no model matched any (its key), else None
    suggested: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    #: the funnels' options: ``hold`` (a column, or None) and ``count`` (``uniques`` or ``totals``)
    funnel_options: Mapping[str, Any] = field(default_factory=lambda: {"hold": None, "count": "uniques"})
    #: one line each on what the funnels count and hold, and that the other sections are unchanged
    notes: tuple[str, ...] = ()
    results: Mapping[str, FunnelResult] = field(default_factory=dict, repr=False, compare=False)
    lifecycle: LifecycleResult | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sections": list(self.sections),
            "not_measured": dict(self.not_measured),
            "main_model": self.main_model,
            "top_events": list(self.top_events),
            "suggested": self.suggested,
            "events": self.events,
            "customers": self.customers,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "funnel_options": dict(self.funnel_options),
            "notes": list(self.notes),
        }


def event_counts(ev: Events) -> dict[str, int]:
    """Events per event name of the source, most frequent first (at most 10,000 names)."""
    t = ev.table
    expr = t.group_by("event").aggregate(n=t.count()).order_by([t.count().desc(), "event"])
    frame = ev.engine.execute(expr.limit(_MAX_NAMES))
    return {str(e): int(n) for e, n in zip(frame["event"], frame["n"], strict=True) if e is not None}


def matched_stages(model: JourneyModel, names: Sequence[str]) -> list[bool]:
    """For each stage: does any of its event names or patterns match an event of the source?"""
    out = []
    for stage in model.stages:
        hit = False
        for pattern in stage.events:
            glob = any(c in pattern for c in "*?")
            if any(fnmatchcase(n, pattern) for n in names) if glob else pattern in names:
                hit = True
                break
        out.append(hit)
    return out


def _models(models: str | Sequence[str] | None, cfg: Config) -> list[tuple[str, JourneyModel]]:
    """(key, model) in report order: the given ones, else every preset and the config's models."""
    if isinstance(models, str):
        models = [models]
    names = list(models) if models else [*PRESETS, *(m for m in cfg.models if m not in PRESETS)]
    out: list[tuple[str, JourneyModel]] = []
    seen: set[str] = set()
    for name in dict.fromkeys(names):
        jm = load_model(name, cfg)
        key = jm.name if jm.name not in seen else name
        seen.add(key)
        out.append((key, jm))
    return out


def _by(ev: Events, by: str | None) -> str | None:
    """The breakdown column of the journey sections: ``by`` (checked), else the channel if any."""
    if by is None:
        return "channel" if "channel" in ev.table.columns else None
    return api.checked_by_column(ev, by, code="HG306")


@with_fewer_collections
def report(
    source: Any,
    models: str | Sequence[str] | None = None,
    *,
    out: str | Path = "report.html",
    spend: str | Path | None = None,
    window: str = "90d",
    by: str | None = None,
    goal: str | None = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
    title: str | None = None,
    since: Any = None,
    until: Any = None,
    step: Callable[[str], None] | None = None,
    summary: Mapping[str, Any] | None = None,
    suggest: bool = True,
    after_sale: Mapping[str, Any] | None = None,
    extras: Sequence[str] | None = None,
    whatif: Sequence[str] = (),
    hold: str | None = None,
    count: str = "uniques",
) -> ReportResult:
    """Write the HTML report of ``source`` to ``out`` (self-contained, works offline).

    ``models``: built-in names, model files or the config's ``[models]`` names (default: every
    built-in model and the config's models); the first is the "main" model of the lifecycle and
    journey sections (default: ``hourglass``). ``spend``: a CSV of channel, period, cost (CAC and
    ROI); ``window``: the funnels' window; ``by``: the column of the journeys' entry breakdown
    (default: the channel, when the source has one); ``goal``: the main model's stage that makes a
    purchaser (default: its sale stage). When no model is given and none matches an event of the
    source, ``suggest`` drafts one from the event names (``hourglass models suggest``) and makes it
    the main model, labelled as a draft. ``step(message)`` is called as each piece of
    work starts (a progress display); ``summary`` adds headline figures; ``after_sale``: the
    lifecycle's after-sale settings over the config's ``[lifecycle]`` (``{"remorse_events": "refund"}``,
    as ``hourglass lifecycle --set``); ``extras``: the sections of the later analyses to add (default
    all of ``flywheel``, ``friction``, ``retention``, ``clv``, ``attribution``; ``()`` for none), each
    listed as not measured with its reason when the source cannot support it; ``whatif``: changes the
    friction section forecasts (``"trial->sale +10%"``, ``"friction delivery_late -50%"``);
    ``hold`` and ``count``: the options of ``hourglass.funnel`` for every funnel of the report (the
    models' funnels, the funnel over time, why customers drop): ``hold="device"``, a chain's events
    share that column's value; ``count="totals"``, chains per step instead of customers (a funnel
    or view that cannot count them is not measured, with the reason); the other sections count
    customers, unchanged. Example::

        import hourglass
        result = hourglass.report("shop.csv", ["my_model.yaml", "hourglass"], out="shop.html")
        result.not_measured  # {"funnel:aida": "none of its events ... is in the source: ..."}
    """
    started = time.perf_counter()
    say = step or (lambda _msg: None)
    cfg = config if isinstance(config, Config) else load_config(config)
    chosen = _models(models, cfg)  # a bad model name fails before the source is read
    options = FunnelOptions.checked(hold, count)
    wanted = check_extras(extras)
    main_key, main = chosen[0] if models else next(((k, m) for k, m in chosen if k == MAIN_MODEL), chosen[0])
    if goal is not None:
        main.stage(goal)  # "no stage 'x' (did you mean ...)"
        main = dataclasses.replace(main, sale=goal)
        chosen = [(k, main if k == main_key else m) for k, m in chosen]
    # a helper process computes some later sections meanwhile (a small file: both CPUs)
    helper = start_helper(
        source,
        only=wanted,
        context=Context(main, spend=spend, since=since, until=until, changes=tuple(whatif)),
        columns=columns,
        engine=engine,
        table=table,
        config=cfg,
        lifecycle=lifecycle_args(main, spend, since, until, after_sale),
    )
    try:
        say("loading the source")
        ev = api.events(source, columns=columns, engine=engine, table=table, config=cfg)
        if helper is not None:  # two processes on a small file: one DuckDB thread each
            ev.engine.con.raw_sql("SET threads = 1")
        options = options.held(ev)  # a bad --hold fails before any section is computed
        with cached() as materialize:
            # read once: every analysis below scans the same events (a store is a table; a small file
            # is already a temporary table of its canonical events)
            if ev.report.kind != "store" and not is_read_once(ev.table):
                keyed = None if ev.keyed is None else materialize(ev.keyed)
                ev = dataclasses.replace(ev, table=materialize(ev.table), keyed=keyed)
            request = _Request(
                chosen,
                main_key,
                main,
                cfg,
                out,
                spend,
                window,
                by,
                title,
                since,
                until,
                summary,
                suggest and not models,
                dict(after_sale or {}),
                wanted,
                tuple(whatif),
                helper,
                options,
            )
            return _report(ev, request, started, say)
    finally:
        if helper is not None:
            helper.cancel()


@dataclass(frozen=True)
class _Request:
    """What ``report`` was asked for, resolved (the models loaded, the config read)."""

    chosen: list[tuple[str, JourneyModel]]
    main_key: str
    main: JourneyModel
    cfg: Config
    out: str | Path
    spend: str | Path | None
    window: str
    by: str | None
    title: str | None
    since: Any
    until: Any
    summary: Mapping[str, Any] | None
    suggest: bool
    after_sale: dict[str, Any]
    extras: tuple[str, ...]
    whatif: tuple[str, ...] = ()
    helper: Helper | None = None
    options: FunnelOptions = field(default_factory=FunnelOptions)


def _report(ev: Events, rq: _Request, started: float, say: Callable[[str], None]) -> ReportResult:
    chosen, main_key, main, cfg = rq.chosen, rq.main_key, rq.main, rq.cfg
    window, since, until = rq.window, rq.since, rq.until
    timings: dict[str, float] = {}
    counts = event_counts(ev)
    customers = int(ev.engine.execute(ev.table.customer.nunique()))
    breakdown = _by(ev, rq.by)
    timings["load"] = time.perf_counter() - started
    names = list(counts)
    top = ", ".join(names[:8]) or "none"
    where = f"the source (its events: {top}{', ...' if len(names) > 8 else ''})"
    suggested: str | None = None
    if rq.suggest and names and not any(any(matched_stages(m, names)) for _, m in chosen):
        say("drafting a model from the event names")
        draft = draft_of(ev, [k for k, _ in chosen])
        if draft is not None:
            suggested = main_key = draft.name
            main = draft
            chosen = [(main_key, main), *chosen]
    not_measured: dict[str, str] = {}
    sections: list[dict[str, Any]] = []
    results: dict[str, FunnelResult] = {}
    mark = time.perf_counter()
    options = rq.options
    for key, jm in chosen:
        hits = matched_stages(jm, names)
        if not any(hits):
            sections.append(not_measured_model(key, jm, window, where, options))
            not_measured[f"funnel:{key}"] = sections[-1]["not_measured"]
            continue
        say(f"funnel: {key}")
        try:
            res = api.funnel(
                ev, model=jm, window=window, since=since, until=until, config=cfg, **options.kwargs()
            )
        except SpecError as e:  # HG126: --count totals and a model with optional stages
            if e.code != "HG126":
                raise
            sections.append(not_counted_model(key, jm, window, e, options))
            not_measured[f"funnel:{key}"] = sections[-1]["not_measured"]
            continue
        res.meta.setdefault("model", key)
        results[key] = res
        section = funnel_section(key, jm, res, window, hits, main=key == main_key, options=options)
        sections.append(section)
    over_time: list[Part] = []
    if main_key in results:  # the main model's funnel over time and why customers drop
        over_time, cannot = funnel_parts(
            ev, main_key, main, results[main_key], window, since, until, cfg, say, options
        )
        not_measured.update(cannot)
    timings["funnels"] = time.perf_counter() - mark
    life_dict: dict[str, Any] | None = None
    parts: list[Part] = []
    life: LifecycleResult | None = None
    journeys: dict[str, Any] | None = None
    if any(matched_stages(main, names)):
        mark = time.perf_counter()
        say(f"lifecycle: {main_key}")
        life = lifecycle_of(ev, main, rq.spend, since, until, cfg, rq.after_sale, rq.helper)
        life_dict = life.to_dict()
        timings["lifecycle"] = time.perf_counter() - mark
        mark = time.perf_counter()
        journeys = journeys_block(ev, main, breakdown, since, until, cfg, life_dict, say)
        timings["journeys"] = time.perf_counter() - mark
        mark = time.perf_counter()
        ctx = Context(main, spend=rq.spend, since=since, until=until, changes=rq.whatif)
        parts, why_not = extra_parts(ev, ctx, only=rq.extras, say=say, helper=rq.helper)
        not_measured.update(why_not)
        timings["extras"] = time.perf_counter() - mark
    else:
        reason = (
            f"the main model '{main_key}' matches no event of the source; map your events in a model "
            "file (hourglass models suggest SOURCE) and give it first: --model my_model.yaml"
        )
        not_measured["lifecycle"] = not_measured["journeys"] = reason
        not_measured.update(dict.fromkeys(rq.extras, reason))
    included = [f"funnel:{k}" for k in results]
    for name, why in lifecycle_blocks(life_dict).items():
        if why is None:
            included.append(name)
        else:
            not_measured[name] = why
    if journeys is not None:
        included.append("journeys")
    included += [p.anchor for p in [*over_time, *parts]]  # in the page's order
    say("writing the report")
    seconds = time.perf_counter() - started
    head: dict[str, Any] = {
        "source": ev.report.source,
        "events": ev.report.rows,
        "customers": customers,
        "engine": ev.engine.name,
        "window": window,
        **options.head(),
        "main model": main_key,
        **dict(rq.summary or {}),
        "seconds": round(seconds, 1),
    }
    mark = time.perf_counter()
    path = write_report(
        rq.out,
        sections,
        title=rq.title or f"hourglass report: {Path(str(ev.report.source)).name}",
        summary=head,
        lifecycle=life_dict,
        journeys=journeys,
        extra_parts=[*over_time, *parts],
        not_measured={k: v for k, v in not_measured.items() if not k.startswith("funnel:")},
        notes=options.notes(),
    )
    timings["report"] = time.perf_counter() - mark
    return ReportResult(
        path=path,
        sections=tuple(included),
        not_measured=not_measured,
        seconds=time.perf_counter() - started,
        events=ev.report.rows,
        customers=customers,
        main_model=main_key,
        top_events=tuple(names[:10]),
        suggested=suggested,
        timings=timings,
        funnel_options=options.kwargs(),
        notes=tuple(options.notes()),
        results=results,
        lifecycle=life,
    )
