"""The Python API of the non-linear journey analyses: ``journeys``, ``transitions``, ``paths``,
``journey`` and ``followers`` (docs/semantics-journeys.md). Each loads the source like
:func:`hourglass.funnel` (a path/glob, ``db.duckdb:table``, a pandas/Arrow/Ibis table, or the
result of :func:`hourglass.events`) and returns a result object with ``to_dict()``, ``rows()``,
``to_pandas()`` and ``to_text()``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from hourglass.analyses._match import micros_of
from hourglass.analyses.followers import as_of_plan, followers_result_plan
from hourglass.analyses.journey_map import customer_map_plan, sample_draw_plan, sample_map_plan
from hourglass.engine.event_names import check_model_events
from hourglass.engine.load import Events
from hourglass.engine.plan import execute_plan
from hourglass.engine.raw_stages import drop, prefetch
from hourglass.engine.run_journeys import meta_of, run_journeys, run_paths, run_transitions
from hourglass.engine.session import Engine
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.interfaces.api import checked_by_column
from hourglass.interfaces.api import events as load
from hourglass.model.followers import FollowersResult
from hourglass.model.journey import JourneyModel
from hourglass.model.journey_map import JourneyMapResult
from hourglass.model.journeys_result import JourneysResult
from hourglass.model.journeys_spec import (
    FollowersSpec,
    JourneyMapSpec,
    JourneysSpec,
    PathsSpec,
    TransitionsSpec,
)
from hourglass.model.paths import PathsResult
from hourglass.model.schema import ColumnMapping
from hourglass.model.transitions import TransitionsResult

__all__ = ["followers", "journey", "journeys", "paths", "transitions"]

ModelLike = str | JourneyModel
Columns = ColumnMapping | Mapping[str, Any] | None


def _setup(model: ModelLike | None, config: Config | str | None) -> tuple[JourneyModel | None, Config]:
    cfg = config if isinstance(config, Config) else load_config(config)
    if model is None:
        return None, cfg
    return (model if isinstance(model, JourneyModel) else load_model(model, cfg)), cfg


def _load(
    source: Any,
    cfg: Config,
    columns: Columns,
    engine: str | Engine | None,
    table: str | None,
    jm: JourneyModel | None,
    spec: PathsSpec | TransitionsSpec | None = None,
) -> tuple[Events, list[str]]:
    """The events, and the notes of the model's stages that match no event of the source (HG117
    when none matches: a model of another shop's names must not print tables of zeros). ``spec``
    (paths, transitions): its stage rows and the check's names from one scan where that applies
    (engine/raw_stages.py: a file of 10^6 event names), else the check's own query."""
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    if spec is not None and jm is not None and spec.by is None:
        prefetch(ev, spec)
    try:
        return ev, (check_model_events(ev, jm) if jm is not None else [])
    except BaseException:
        drop(ev)
        raise


def _by(ev: Events, by: str) -> str:
    """``--by``: a column of the events, or the source's name of a role column (``utm_source`` read
    as the channel); else HG330 with the columns."""
    return checked_by_column(ev, by, code="HG330")


def _timed(started: float, meta: dict[str, Any], model: ModelLike | None, notes: list[str]) -> None:
    if isinstance(model, str):
        meta["model"] = model
    if notes:
        meta["notes"] = [*meta.get("notes", []), *notes]
    meta["seconds"] = round(time.perf_counter() - started, 3)


def journeys(
    source: Any,
    model: ModelLike = "hourglass",
    *,
    goal: str | None = None,
    since: Any = None,
    until: Any = None,
    by: str | None = None,
    deviations: int = 10,
    columns: Columns = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> JourneysResult:
    """Entry stages (by ``by``, e.g. ``"channel"``), the skip matrix, back-steps, conformance to the
    model's ideal order and the most common deviations in words."""
    jm, cfg = _setup(model, config)
    assert jm is not None
    spec = JourneysSpec.build(jm, goal=goal, since=since, until=until, by=by, deviations=deviations)
    started = time.perf_counter()
    ev, notes = _load(source, cfg, columns, engine, table, jm)
    if by is not None:
        spec = dataclasses.replace(spec, by=_by(ev, by))
    result = run_journeys(ev, spec)
    _timed(started, result.meta, model, notes)
    return result


def transitions(
    source: Any,
    model: ModelLike | None = "hourglass",
    *,
    level: str = "stage",
    collapse: bool = True,
    since: Any = None,
    until: Any = None,
    by: str | None = None,
    columns: Columns = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> TransitionsResult:
    """The stage- or event-level transition graph (counts, probabilities, median times); with
    ``by`` (e.g. ``"channel"``) also one graph per value of that column at the customer's first
    element (the 10 most common values, the rest as ``"(other)"``)."""
    jm, cfg = _setup(model if level == "stage" else None, config)
    spec = TransitionsSpec.build(jm, level=level, collapse=collapse, since=since, until=until)
    started = time.perf_counter()
    ev, notes = _load(source, cfg, columns, engine, table, jm, spec if by is None else None)
    if by is not None:
        spec = dataclasses.replace(spec, by=_by(ev, by))
    try:
        result = run_transitions(ev, spec)
    finally:
        drop(ev)  # rows of the one scan the run did not take
    _timed(started, result.meta, model if level == "stage" else None, notes)
    return result


def paths(
    source: Any,
    model: ModelLike | None = "hourglass",
    *,
    level: str = "stage",
    depth: int | None = None,
    top: int = 10,
    collapse: bool = True,
    start: str | None = None,
    end: str | None = None,
    since: Any = None,
    until: Any = None,
    by: str | None = None,
    columns: Columns = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
    steps: int | None = None,
) -> PathsResult:
    """The ``top`` most common paths of up to ``depth`` nodes and an "other" bucket (from the start,
    from the first ``start`` node, or the last ``depth`` nodes up to the first ``end`` node), with
    Sankey data; with ``by`` (e.g. ``"channel"``) also per value of that column at the customer's
    first element (the 10 most common values, the rest as ``"(other)"``). ``depth`` None: room for
    the ideal path to the goal (or ``end``) and two detours, 5 to 8 (5 at the event level).
    ``steps`` is the old name of ``depth``, still accepted."""
    jm, cfg = _setup(model if level == "stage" else None, config)
    spec = PathsSpec.build(
        jm,
        level=level,
        depth=depth if depth is not None else steps,
        top=top,
        collapse=collapse,
        start=start,
        end=end,
        since=since,
        until=until,
    )
    started = time.perf_counter()
    ev, notes = _load(source, cfg, columns, engine, table, jm, spec if by is None else None)
    if by is not None:
        spec = dataclasses.replace(spec, by=_by(ev, by))
    try:
        result = run_paths(ev, spec)
    finally:
        drop(ev)  # rows of the one scan the run did not take
    _timed(started, result.meta, model if level == "stage" else None, notes)
    return result


def journey(
    source: Any,
    model: ModelLike = "hourglass",
    *,
    customer: str | None = None,
    sample: int | None = None,
    clusters: int = 5,
    limit: int = 200,
    goal: str | None = None,
    since: Any = None,
    until: Any = None,
    columns: Columns = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> JourneyMapResult:
    """One customer's journey map (``customer``), or ``sample`` typical journeys for each of the
    ``clusters`` most common collapsed stage paths."""
    jm, cfg = _setup(model, config)
    assert jm is not None
    spec = JourneyMapSpec.build(
        jm,
        customer=customer,
        sample=sample,
        clusters=clusters,
        limit=limit,
        goal=goal,
        since=since,
        until=until,
    )
    started = time.perf_counter()
    ev, notes = _load(source, cfg, columns, engine, table, jm)
    meta = meta_of(ev, spec.describe(), None)
    if spec.customer is not None:
        result = execute_plan(ev.engine, customer_map_plan(spec, ev.table, meta))
    else:
        draw = execute_plan(ev.engine, sample_draw_plan(spec, ev.table))
        result = execute_plan(ev.engine, sample_map_plan(spec, ev.table, draw, meta))
    _timed(started, result.meta, model, notes)
    return result


def followers(
    source: Any,
    model: ModelLike = "hourglass",
    *,
    goal: str | None = None,
    since: Any = None,
    until: Any = None,
    as_of: Any = None,
    columns: Columns = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> FollowersResult:
    """Customers active before the goal stage who have not reached it, and for how long."""
    jm, cfg = _setup(model, config)
    assert jm is not None
    spec = FollowersSpec.build(jm, goal=goal, since=since, until=until, as_of=as_of)
    started = time.perf_counter()
    ev, notes = _load(source, cfg, columns, engine, table, jm)
    as_of = (
        micros_of(spec.as_of)
        if spec.as_of is not None
        else execute_plan(ev.engine, as_of_plan(spec, ev.table))
    )
    meta = meta_of(ev, spec.describe(), None)
    result = execute_plan(ev.engine, followers_result_plan(spec, ev.table, as_of, meta))
    _timed(started, result.meta, model, notes)
    return result
