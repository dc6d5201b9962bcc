"""Running the journey analyses (journeys, transitions, paths): the engine's own kernels where they
answer (engine/journeys_numpy.py, engine/journeys_fast.py), else the portable plans of
analyses/journey_results.py, run by engine/plan.py. Both hand their rows to the same assembly.
Only the small aggregates are fetched."""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir

from hourglass.analyses.journey_results import (
    assemble_paths,
    assemble_transitions,
    journeys_result_plan,
    paths_result_plan,
    stage_order,
    transitions_result_plan,
)
from hourglass.engine._pages import small_pages
from hourglass.engine.journeys_fast import fast_paths, fast_transitions, journeys_plan_for
from hourglass.engine.load import Events
from hourglass.engine.plan import execute_plan, plain
from hourglass.engine.wide_edges import KEYS
from hourglass.model.journeys_result import JourneysResult
from hourglass.model.journeys_spec import JourneysSpec, PathsSpec, TransitionsSpec
from hourglass.model.paths import PathsResult
from hourglass.model.transitions import EdgeColumns, TransitionsResult, build_transitions_result

__all__ = ["meta_of", "run_journeys", "run_paths", "run_transitions"]


def meta_of(events: Events, spec_info: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "engine": events.engine.name,
        "spec": spec_info,
        "source": events.report.source,
        "duplicates_collapsed": events.report.duplicates_collapsed,
        **(extra or {}),
    }


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
    plan = journeys_result_plan(spec, _journey_events(events, spec), meta_of(events, spec.describe(), meta))
    return execute_plan(events.engine, plan)


def run_transitions(
    events: Events, spec: TransitionsSpec, meta: dict[str, Any] | None = None
) -> TransitionsResult:
    info = meta_of(events, spec.describe(), meta)
    if journeys_plan_for(events, spec) != "fast":
        return execute_plan(events.engine, transitions_result_plan(spec, events.table, info))
    got = fast_transitions(events, spec)  # Python values already
    if not isinstance(got, tuple):
        return assemble_transitions(spec, got, None, info)
    # columns to the end (millions of edges on a log of 10^6 names)
    cols, names = got
    order = stage_order(spec)
    first = 0
    if names is None:  # the stage level: the 1-based stages
        assert order is not None
        names, first = order, 1
    with small_pages():  # the model's vector passes over millions of edges: fresh arrays
        return build_transitions_result(
            level=spec.level,
            collapse=spec.collapse,
            edges=EdgeColumns.of(
                names,
                *(cols[k] for k in KEYS),
                first=first,
                ranked=cols.get("ranked"),
                visits=cols.get("visits"),
            ),
            order=order,
            meta=info,
        )


def run_paths(events: Events, spec: PathsSpec, meta: dict[str, Any] | None = None) -> PathsResult:
    info = meta_of(events, spec.describe(), meta)
    if journeys_plan_for(events, spec) != "fast":
        return execute_plan(events.engine, paths_result_plan(spec, events.table, info))
    fast_top, fast_totals = fast_paths(events, spec)  # engine/journeys_fast.py: the same rows
    top = [{k: plain(v) for k, v in r.items()} for r in fast_top]
    return assemble_paths(spec, top, {k: plain(v) for k, v in fast_totals.items()}, info)
