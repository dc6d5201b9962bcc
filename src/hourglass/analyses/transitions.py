"""Transition matrices between consecutive nodes (stages or event names) of each customer's
sequence: counts, and the median time between the nodes (docs/semantics-journeys.md). Never
executes."""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir

from hourglass.analyses._by import node_rows_by, top_values
from hourglass.analyses.stages import node_rows, runs
from hourglass.model.journeys_spec import TransitionsSpec

__all__ = ["TransitionsPlan", "transitions_plan"]

US = 1_000_000


@dataclass(frozen=True)
class TransitionsPlan:
    """``edges``: one row per (``node``, ``nxt``) with ``moves`` (``nxt`` null: the sequence ended
    there), ``customers`` and ``median_s``/``p90_s`` (seconds from the node's first event to the
    next node's first event; null for the end). Every customer's sequence ends once, so the
    customers are the sum of the moves to the end. With ``by``, ``by_edges``: the same per value of
    ``by`` (the customer's value at his first element; the top values, the rest ``(other)``)."""

    spec: TransitionsSpec
    edges: ir.Table
    by_edges: ir.Table | None = None


def _edges(r: ir.Table, keys: list[str]) -> ir.Table:
    dt = (r.nxt_ts - r.ts).cast("float64") / US
    return r.group_by([*keys, "node", "nxt"]).aggregate(
        moves=r.count(),
        customers=r.customer.nunique(),
        median_s=dt.quantile(0.5),
        p90_s=dt.quantile(0.9),
    )


def transitions_plan(spec: TransitionsSpec, events: ir.Table) -> TransitionsPlan:
    if spec.by is None:
        t = node_rows(spec.level, spec.model, events, since=spec.since, until=spec.until)
        return TransitionsPlan(spec, _edges(runs(t, "node", collapse=spec.collapse), []))
    t = node_rows_by(spec.level, spec.model, events, spec.by, since=spec.since, until=spec.until)
    r = runs(t, "node", collapse=spec.collapse)
    # the first run starts with the first element: its value is the customer's
    groups = top_values(r.filter(r.rpos == 1).select("customer", "by"))
    r = r.drop("by").join(groups, "customer")
    return TransitionsPlan(spec, _edges(r, []), _edges(r, ["by"]))
