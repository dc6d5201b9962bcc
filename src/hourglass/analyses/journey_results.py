"""The journey analyses (journeys, transitions, paths) as plans for the engine (analyses/plan.py):
their named queries, and the pure assembly of the rows into results (docs/semantics-journeys.md).

The portable plans are the reference. The engine's own kernels (engine/journeys_fast.py,
engine/journeys_numpy.py) answer the same questions on DuckDB without these queries; they hand
their rows to the same assembly (:func:`assemble_transitions`, :func:`assemble_paths`), so a
result has one definition whichever plan computed its rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis.expr.types as ir

from hourglass.analyses.journeys import journeys_plan
from hourglass.analyses.paths import paths_plan
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.analyses.transitions import transitions_plan
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_result import JourneysResult, build_journeys_result
from hourglass.model.journeys_spec import JourneysSpec, PathsSpec, TransitionsSpec
from hourglass.model.paths import PathsResult, build_paths_result
from hourglass.model.transitions import TransitionsResult, build_transitions_result

__all__ = [
    "assemble_paths",
    "assemble_transitions",
    "journeys_result_plan",
    "node_name",
    "paths_result_plan",
    "stage_order",
    "transitions_result_plan",
]

Row = Mapping[str, Any]


def node_name(level: str, model: JourneyModel | None, value: Any) -> str | None:
    """A node as text: a stage's name (from its 1-based index) or an event name; None stays."""
    if value is None:
        return None
    if level == "stage":
        assert model is not None
        return model.stages[int(value) - 1].name
    return str(value)


def journeys_result_plan(
    spec: JourneysSpec, events: ir.Table, meta: Mapping[str, Any]
) -> Plan[JourneysResult]:
    """Each stage's entries, back-steps and what follows them (analyses/journeys.py)."""

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        plan = journeys_plan(spec, events, materialize)
        return {
            "summary": plan.summary,
            "entry": plan.entry,
            "backsteps": plan.backsteps,
            "back_next": plan.back_next,
        }

    def assemble(rows: Rows) -> JourneysResult:
        summary = rows["summary"]
        return build_journeys_result(
            spec.model,
            spec.goal_index,
            summary[0] if summary else {},
            rows["entry"],
            rows["backsteps"],
            rows["back_next"],
            by=spec.by is not None,
            deviations=spec.deviations,
            meta=dict(meta),
        )

    return Plan(build, assemble)


def _edge(spec: TransitionsSpec, r: Row) -> dict[str, Any]:
    return {
        "from": node_name(spec.level, spec.model, r["node"]),
        "to": node_name(spec.level, spec.model, r["nxt"]),
        "moves": r["moves"],
        "customers": r["customers"],
        "median_s": r["median_s"],
        "p90_s": r["p90_s"],
    }


def stage_order(spec: TransitionsSpec | PathsSpec) -> list[str] | None:
    """The model's stage names at the stage level (the order of the transition matrix), else None."""
    return [s.name for s in spec.model.stages] if spec.level == "stage" and spec.model else None


def assemble_transitions(
    spec: TransitionsSpec, edges: Sequence[Row], by_edges: Sequence[Row] | None, meta: Mapping[str, Any]
) -> TransitionsResult:
    """The result from the edges' rows (``node``, ``nxt``, ``moves``, ``customers``, ``median_s``,
    ``p90_s``; a customer's last node has ``nxt`` None) and, with a breakdown, the same per value
    (``by``)."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in by_edges or ():
        groups.setdefault(r["by"], []).append(_edge(spec, r))
    return build_transitions_result(
        level=spec.level,
        collapse=spec.collapse,
        customers=sum(int(r["moves"]) for r in edges if r["nxt"] is None),
        edges=[_edge(spec, r) for r in edges],
        order=stage_order(spec),
        meta=dict(meta),
        breakdown=spec.by,
        groups=list(groups.items()),
    )


def transitions_result_plan(
    spec: TransitionsSpec, events: ir.Table, meta: Mapping[str, Any]
) -> Plan[TransitionsResult]:
    """The edges between consecutive nodes (analyses/transitions.py), per value with a breakdown."""
    plan = transitions_plan(spec, events)
    queries: dict[str, ir.Expr] = {"edges": plan.edges}
    if plan.by_edges is not None:
        queries["by_edges"] = plan.by_edges
    return Plan.of(
        queries, lambda rows: assemble_transitions(spec, rows["edges"], rows.get("by_edges"), meta)
    )


def _path_groups(
    spec: PathsSpec, top: Sequence[Row], totals: Sequence[Row], nb: Sequence[Row] | None
) -> list[dict[str, Any]]:
    """The per-value inputs of :func:`build_paths_result` from the breakdown's rows."""

    def name(v: Any) -> str | None:
        return node_name(spec.level, spec.model, v)

    cols = [f"p{i}" for i in range(spec.steps)]
    out = []
    for t in totals:
        mine = sorted((r for r in top if r["by"] == t["by"]), key=lambda r: int(r["rank"]))
        out.append(
            {
                "value": t["by"],
                "top": [[name(r[c]) for c in cols] for r in mine],
                "counts": [(int(r["customers"]), int(r["continued"] or 0)) for r in mine],
                "customers": int(t["customers"] or 0),
                "distinct": int(t["paths"] or 0),
                "neighbours": None
                if nb is None
                else [(name(r["p1"]), int(r["customers"])) for r in nb if r["by"] == t["by"]],
            }
        )
    return out


def assemble_paths(
    spec: PathsSpec,
    top: Sequence[Row],
    totals: Row,
    meta: Mapping[str, Any],
    *,
    neighbours: Sequence[Row] | None = None,
    by_top: Sequence[Row] | None = None,
    by_totals: Sequence[Row] | None = None,
    by_neighbours: Sequence[Row] | None = None,
) -> PathsResult:
    """The result from the top paths' rows (``p0`` .. ``p{steps-1}``, ``customers``, ``continued``),
    the totals' row (``customers``, ``paths``), the anchor's neighbours (``p1``, ``customers``) and,
    with a breakdown, the same per value (``by``; the top rows with their ``rank``)."""

    def name(v: Any) -> str | None:
        return node_name(spec.level, spec.model, v)

    labels = (
        {s.name: s.label or s.name for s in spec.model.stages} if spec.level == "stage" and spec.model else {}
    )
    groups = (
        [] if by_top is None or by_totals is None else _path_groups(spec, by_top, by_totals, by_neighbours)
    )
    return build_paths_result(
        level=spec.level,
        direction=spec.direction,
        anchor=spec.anchor,
        depth=spec.steps,
        top=[[name(r[f"p{i}"]) for i in range(spec.steps)] for r in top],
        counts=[(int(r["customers"]), int(r["continued"] or 0)) for r in top],
        customers=int(totals["customers"] or 0),
        distinct=int(totals["paths"] or 0),
        neighbours=None if neighbours is None else [(name(r["p1"]), int(r["customers"])) for r in neighbours],
        meta=dict(meta),
        labels=labels,
        breakdown=spec.by,
        groups=groups,
    )


def paths_result_plan(spec: PathsSpec, events: ir.Table, meta: Mapping[str, Any]) -> Plan[PathsResult]:
    """The top paths from (or to) the anchor, their totals and neighbours (analyses/paths.py), per
    value with a breakdown."""

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        plan = paths_plan(spec, events, materialize)
        queries: dict[str, ir.Expr] = {"top": plan.top, "totals": plan.totals}
        optional = {
            "neighbours": plan.neighbours,
            "by_top": plan.by_top,
            "by_totals": plan.by_totals,
            "by_neighbours": plan.by_neighbours,
        }
        queries.update({k: v for k, v in optional.items() if v is not None})
        return queries

    def assemble(rows: Rows) -> PathsResult:
        return assemble_paths(
            spec,
            rows["top"],
            rows["totals"][0],
            meta,
            neighbours=rows.get("neighbours"),
            by_top=rows.get("by_top"),
            by_totals=rows.get("by_totals"),
            by_neighbours=rows.get("by_neighbours"),
        )

    return Plan(build, assemble)
