"""Running the journey analyses (journeys, transitions, paths): Ibis plans in, result objects out.
Only the small aggregates are fetched."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import ibis.expr.types as ir

from hourglass.analyses.journeys import journeys_plan
from hourglass.analyses.paths import paths_plan
from hourglass.analyses.transitions import transitions_plan
from hourglass.engine._pages import small_pages
from hourglass.engine.errors import translated
from hourglass.engine.journeys_fast import fast_paths, fast_transitions, journeys_plan_for
from hourglass.engine.load import Events
from hourglass.engine.wide_edges import KEYS
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_result import JourneysResult, build_journeys_result
from hourglass.model.journeys_spec import JourneysSpec, PathsSpec, TransitionsSpec
from hourglass.model.paths import PathsResult, build_paths_result
from hourglass.model.transitions import EdgeColumns, TransitionsResult, build_transitions_result

__all__ = ["cached", "fetch", "meta_of", "node_name", "plain", "run_journeys", "run_paths", "run_transitions"]


@contextlib.contextmanager
def cached() -> Iterator[Callable[[ir.Table], ir.Table]]:
    """A function that materialises a table on its backend (a temporary table on DuckDB, a
    persisted DataFrame on Spark) so that several small aggregates read it once; released on exit."""
    held: list[Any] = []

    def materialize(t: ir.Table) -> ir.Table:
        with translated():
            c = t.cache()
        held.append(c)
        return c

    try:
        yield materialize
    finally:
        for c in held:
            c.release()


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


def _journey_events(events: Events, spec: JourneysSpec) -> ir.Table:
    """The keyed events (an integer customer: the windows and groups over 10M events cost ~20%
    less CPU than over the customer's text) when no output names a customer and the stages'
    filters and the breakdown read neither the customer nor the time; else the canonical ones."""
    used = {f.column for s in spec.model.stages for f in s.where} | {spec.by}
    keyed = events.keyed
    if keyed is not None and not used & {"customer", "timestamp"} and keyed.timestamp.type().is_timestamp():
        return keyed  # (a store's keyed time is its integer µs: the canonical table then)
    return events.table


def run_journeys(events: Events, spec: JourneysSpec, meta: dict[str, Any] | None = None) -> JourneysResult:
    from hourglass.engine.journeys_numpy import fast_journeys

    fast = fast_journeys(events, spec, meta)  # the numpy kernels (S's), else the portable plan
    if fast is not None:
        return fast
    with cached() as materialize:
        plan = journeys_plan(spec, _journey_events(events, spec), materialize)
        summary = fetch(events, plan.summary)
        entry, backs, back_next = (fetch(events, e) for e in (plan.entry, plan.backsteps, plan.back_next))
    return build_journeys_result(
        spec.model,
        spec.goal_index,
        summary[0] if summary else {},
        entry,
        backs,
        back_next,
        by=spec.by is not None,
        deviations=spec.deviations,
        meta=meta_of(events, spec.describe(), meta),
    )


def _edge(spec: TransitionsSpec, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": node_name(spec.level, spec.model, r["node"]),
        "to": node_name(spec.level, spec.model, r["nxt"]),
        "moves": r["moves"],
        "customers": r["customers"],
        "median_s": r["median_s"],
        "p90_s": r["p90_s"],
    }


def run_transitions(
    events: Events, spec: TransitionsSpec, meta: dict[str, Any] | None = None
) -> TransitionsResult:
    groups: dict[Any, list[dict[str, Any]]] = {}
    plan = None
    order = [s.name for s in spec.model.stages] if spec.level == "stage" and spec.model else None
    if journeys_plan_for(events, spec) == "fast":
        got = fast_transitions(events, spec)  # Python values already
        if isinstance(got, tuple):  # columns to the end (millions of edges on a log of 10^6 names)
            cols, names = got
            first = 0
            if names is None:  # the stage level: the 1-based stages
                assert order is not None
                names, first = order, 1
            with small_pages():  # the model's vector passes over millions of edges: fresh arrays
                return build_transitions_result(
                    level=spec.level,
                    collapse=spec.collapse,
                    edges=EdgeColumns.of(names, *(cols[k] for k in KEYS), first=first),
                    order=order,
                    meta=meta_of(events, spec.describe(), meta),
                )
        rows = got
    else:
        plan = transitions_plan(spec, events.table)
        rows = fetch(events, plan.edges)
    if plan is not None and plan.by_edges is not None:
        for r in fetch(events, plan.by_edges):
            groups.setdefault(r["by"], []).append(_edge(spec, r))
    return build_transitions_result(
        level=spec.level,
        collapse=spec.collapse,
        customers=sum(int(r["moves"]) for r in rows if r["nxt"] is None),
        edges=[_edge(spec, r) for r in rows],
        order=order,
        meta=meta_of(events, spec.describe(), meta),
        breakdown=spec.by,
        groups=list(groups.items()),
    )


def _path_groups(
    spec: PathsSpec, top: list[dict[str, Any]], totals: list[dict[str, Any]], nb: list[dict[str, Any]] | None
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


def _portable_paths(
    events: Events, spec: PathsSpec
) -> tuple[list[dict[str, Any]], dict[str, Any], list[tuple[str | None, int]] | None, list[dict[str, Any]]]:
    """The top paths' rows, the totals' row, the neighbours and the breakdown's groups (portable)."""

    def name(v: Any) -> str | None:
        return node_name(spec.level, spec.model, v)

    groups: list[dict[str, Any]] = []
    with cached() as materialize:
        plan = paths_plan(spec, events.table, materialize)
        top = fetch(events, plan.top)
        totals = fetch(events, plan.totals)[0]
        neighbours = None
        if plan.neighbours is not None:
            neighbours = [(name(r["p1"]), int(r["customers"])) for r in fetch(events, plan.neighbours)]
        if plan.by_top is not None and plan.by_totals is not None:
            by_nb = None if plan.by_neighbours is None else fetch(events, plan.by_neighbours)
            groups = _path_groups(spec, fetch(events, plan.by_top), fetch(events, plan.by_totals), by_nb)
    return top, totals, neighbours, groups


def run_paths(events: Events, spec: PathsSpec, meta: dict[str, Any] | None = None) -> PathsResult:
    def name(v: Any) -> str | None:
        return node_name(spec.level, spec.model, v)

    neighbours: list[tuple[str | None, int]] | None = None
    groups: list[dict[str, Any]] = []
    if journeys_plan_for(events, spec) == "fast":  # engine/journeys_fast.py: the same rows
        fast_top, fast_totals = fast_paths(events, spec)
        top = [{k: plain(v) for k, v in r.items()} for r in fast_top]
        totals = {k: plain(v) for k, v in fast_totals.items()}
    else:
        top, totals, neighbours, groups = _portable_paths(events, spec)
    labels = (
        {s.name: s.label or s.name for s in spec.model.stages} if spec.level == "stage" and spec.model else {}
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
        neighbours=neighbours,
        meta=meta_of(events, spec.describe(), meta),
        labels=labels,
        breakdown=spec.by,
        groups=groups,
    )
