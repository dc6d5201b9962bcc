"""The Python API of retention cohorts: ``hourglass.retention(source, period="week")``
(docs/semantics-retention.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from hourglass.analyses._match import step_predicate
from hourglass.analyses.retention import retention_plan
from hourglass.engine.event_names import top_event_names
from hourglass.engine.plan import execute_plan
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.interfaces.api import by_column
from hourglass.interfaces.api import events as load
from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SchemaError, SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.retention import RetentionResult, RetentionSpec, Target, resolve_target
from hourglass.model.schema import ColumnMapping
from hourglass.model.steps import Step

__all__ = ["retention", "retention_spec"]


def _purchases(jm: JourneyModel) -> Step | None:
    """The model's purchase events (first and repeat), else its sale stage, else none."""
    if jm.purchases:
        return Step(name="purchase", events=tuple(jm.purchases))
    if jm.sale is not None:
        return jm.stage(jm.sale)
    return None


def retention_spec(
    model: str | JourneyModel = "hourglass",
    *,
    period: str = "week",
    start: str = "first",
    return_event: str = "any",
    mode: str = "nth",
    cohorts: str = "first",
    periods: int = 10,
    since: Any = None,
    until: Any = None,
    by: str | None = None,
    config: Config | None = None,
) -> RetentionSpec:
    """The spec with ``start``/``return_event`` resolved against the model (docs/semantics-retention.md)."""
    jm = model if isinstance(model, JourneyModel) else load_model(model, config or Config())
    stages = {s.name: s for s in jm.stages}
    targets = [
        resolve_target(name, role=role, stages=stages, purchases=_purchases(jm), model=jm.name)
        for name, role in ((start, "start"), (return_event, "return"))
    ]
    return RetentionSpec.build(
        targets[0],
        targets[1],
        period=period,
        mode=mode,
        cohorts=cohorts,
        periods=periods,
        since=since,
        until=until,
        by=by,
    )


def _check_target(ev: Any, target: Target, role: str, stages: list[str]) -> str | None:
    """An event name the source does not have is HG178 (with the closest names); a stage or the
    purchase events matching nothing is a note."""
    if target.step is None:
        return None
    t = ev.table
    n = int(ev.engine.execute(t.filter(step_predicate(target.step, t)).count()))
    if n > 0:
        return None
    if target.kind == "event" and not any(c in target.label for c in "*?"):
        names = [name for name, _ in top_event_names(ev)]
        raise SpecError(
            f"--{role} {target.label}: no stage of the model and no event of the source has this name"
            f"{did_you_mean(target.label, [*names, *stages])}",
            code="HG178",
            hint="the source's most frequent events: "
            + ", ".join(names[:12])
            + "; the model's stages: "
            + ", ".join(stages),
        )
    events = ", ".join(target.step.events)
    return f"--{role} {target.label}: no event of the source matches it (events: {events})"


def retention(
    source: Any,
    *,
    model: str | JourneyModel = "hourglass",
    period: str = "week",
    start: str = "first",
    return_event: str = "any",
    mode: str = "nth",
    cohorts: str = "first",
    periods: int = 10,
    by: str | None = None,
    since: Any = None,
    until: Any = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> RetentionResult:
    """Retention cohorts of ``source`` (docs/semantics-retention.md). ``start``: ``first`` (the
    customer's first event), ``purchase`` (the model's purchase events), a stage of ``model`` or an
    event name (``event:NAME`` when a stage has the name); ``return_event``: ``any``, ``purchase``, a
    stage or an event; ``mode`` ``nth`` (returned in exactly period N) or ``unbounded`` (in N or
    later); ``cohorts`` ``first`` (each customer once) or ``recurring`` (every period with a start
    event); ``periods`` the last period shown; ``by`` a column's value at the customer's first event
    (top 10 values and "(other)"). Cells of periods that have not ended by the data's end are null
    with a reason."""
    cfg = config if isinstance(config, Config) else load_config(config)
    jm = model if isinstance(model, JourneyModel) else load_model(model, cfg)
    spec = retention_spec(
        jm,
        period=period,
        start=start,
        return_event=return_event,
        mode=mode,
        cohorts=cohorts,
        periods=periods,
        since=since,
        until=until,
        by=by,
        config=cfg,
    )
    started = time.perf_counter()
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    if spec.by is not None:
        col = by_column(ev, spec.by)
        if col not in ev.table.columns:
            raise SchemaError(
                f"--by: no column '{spec.by}'{did_you_mean(spec.by, ev.table.columns)}",
                code="HG306",
                hint="columns: " + ", ".join(ev.table.columns),
            )
        if col != spec.by:
            import dataclasses

            spec = dataclasses.replace(spec, by=col)
    stage_names = [s.name for s in jm.stages]
    notes = [
        note
        for target, role in ((spec.start, "start"), (spec.back, "return"))
        if (note := _check_target(ev, target, role, stage_names)) is not None
    ]
    result = execute_plan(ev.engine, retention_plan(spec, ev.table))
    if notes:
        result.meta["notes"] = notes
    if isinstance(model, str):
        result.meta["model"] = model
    result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return result
