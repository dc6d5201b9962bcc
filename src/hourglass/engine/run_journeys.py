"""Running the journey analyses (journeys, transitions, paths): Ibis plans in, result objects out.
Only the small aggregates are fetched."""

from __future__ import annotations

import math
from typing import Any

from hourglass.analyses.journeys import journeys_plan
from hourglass.analyses.paths import paths_plan
from hourglass.analyses.transitions import transitions_plan
from hourglass.engine.load import Events
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_result import JourneysResult, build_journeys_result
from hourglass.model.journeys_spec import JourneysSpec, PathsSpec, TransitionsSpec
from hourglass.model.paths import PathsResult, build_paths_result
from hourglass.model.transitions import TransitionsResult, build_transitions_result

__all__ = ["fetch", "meta_of", "node_name", "plain", "run_journeys", "run_paths", "run_transitions"]


def plain(value: Any) -> Any:
    """numpy/pandas scalars to Python; NaN and NaT to None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ == "NaTType":
        return None
    return value


def fetch(events: Events, expr: Any) -> list[dict[str, Any]]:
    """Execute and return plain records."""
    df = events.engine.execute(expr)
    return [{k: plain(v) for k, v in r.items()} for r in df.to_dict("records")]


def meta_of(events: Events, spec_info: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "engine": events.engine.name,
        "spec": spec_info,
        "source": events.report.source,
        "duplicates_collapsed": events.report.duplicates_collapsed,
        **(extra or {}),
    }


def node_name(level: str, model: JourneyModel | None, value: Any) -> str | None:
    """A node as text: a stage's name (from its 1-based index) or an event name; None stays."""
    if value is None:
        return None
    if level == "stage":
        assert model is not None
        return model.stages[int(value) - 1].name
    return str(value)


def run_journeys(events: Events, spec: JourneysSpec, meta: dict[str, Any] | None = None) -> JourneysResult:
    plan = journeys_plan(spec, events.table)
    summary = fetch(events, plan.summary)
    return build_journeys_result(
        spec.model,
        spec.goal_index,
        summary[0] if summary else {},
        fetch(events, plan.entry),
        fetch(events, plan.backsteps),
        fetch(events, plan.back_next),
        by=spec.by is not None,
        deviations=spec.deviations,
        meta=meta_of(events, spec.describe(), meta),
    )


def run_transitions(
    events: Events, spec: TransitionsSpec, meta: dict[str, Any] | None = None
) -> TransitionsResult:
    plan = transitions_plan(spec, events.table)
    rows = fetch(events, plan.edges)
    totals = fetch(events, plan.totals)
    edges = [
        {
            "from": node_name(spec.level, spec.model, r["node"]),
            "to": node_name(spec.level, spec.model, r["nxt"]),
            "moves": r["moves"],
            "customers": r["customers"],
            "median_s": r["median_s"],
            "p90_s": r["p90_s"],
        }
        for r in rows
    ]
    order = [s.name for s in spec.model.stages] if spec.level == "stage" and spec.model else None
    return build_transitions_result(
        level=spec.level,
        collapse=spec.collapse,
        customers=int(totals[0]["customers"] or 0) if totals else 0,
        edges=edges,
        order=order,
        meta=meta_of(events, spec.describe(), meta),
    )


def run_paths(events: Events, spec: PathsSpec, meta: dict[str, Any] | None = None) -> PathsResult:
    plan = paths_plan(spec, events.table)
    top = fetch(events, plan.top)
    totals = fetch(events, plan.totals)[0]

    def name(v: Any) -> str | None:
        return node_name(spec.level, spec.model, v)

    neighbours = None
    if plan.neighbours is not None:
        neighbours = [(name(r["p1"]), int(r["customers"])) for r in fetch(events, plan.neighbours)]
    return build_paths_result(
        level=spec.level,
        direction=spec.direction,
        anchor=spec.anchor,
        steps=spec.steps,
        top=[[name(r[f"p{i}"]) for i in range(spec.steps)] for r in top],
        counts=[(int(r["customers"]), int(r["continued"] or 0)) for r in top],
        customers=int(totals["customers"] or 0),
        distinct=int(totals["paths"] or 0),
        neighbours=neighbours,
        meta=meta_of(events, spec.describe(), meta),
    )
