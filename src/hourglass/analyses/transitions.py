"""Transition matrices between consecutive nodes (stages or event names) of each customer's
sequence: counts, and the median time between the nodes (docs/semantics-journeys.md). Never
executes."""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir

from hourglass.analyses.stages import node_rows, runs
from hourglass.model.journeys_spec import TransitionsSpec

__all__ = ["TransitionsPlan", "transitions_plan"]

US = 1_000_000


@dataclass(frozen=True)
class TransitionsPlan:
    """``edges``: one row per (``node``, ``nxt``) with ``moves`` (``nxt`` null: the sequence ended
    there), ``customers`` and ``median_s``/``p90_s`` (seconds from the node's first event to the
    next node's first event; null for the end). Every customer's sequence ends once, so the
    customers are the sum of the moves to the end."""

    spec: TransitionsSpec
    edges: ir.Table


def transitions_plan(spec: TransitionsSpec, events: ir.Table) -> TransitionsPlan:
    t = node_rows(spec.level, spec.model, events, since=spec.since, until=spec.until)
    r = runs(t, "node", collapse=spec.collapse)
    dt = (r.nxt_ts - r.ts).cast("float64") / US
    edges = r.group_by(["node", "nxt"]).aggregate(
        moves=r.count(),
        customers=r.customer.nunique(),
        median_s=dt.quantile(0.5),
        p90_s=dt.quantile(0.9),
    )
    return TransitionsPlan(spec, edges)
