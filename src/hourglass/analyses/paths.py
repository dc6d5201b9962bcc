"""Top paths: each customer's path of up to N nodes (from the start, from his first anchor node
on, or up to it), counted per distinct path, with the next/previous node after/before the anchor
(docs/semantics-journeys.md). Never executes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from hourglass.analyses._by import first_value, node_rows_by, top_values
from hourglass.analyses.stages import node_rows, runs
from hourglass.model.journeys_spec import PathsSpec

__all__ = ["PathsPlan", "customer_paths", "path_keys", "paths_plan"]


@dataclass(frozen=True)
class PathsPlan:
    """``top``: the ``top`` most common paths (``p0`` .. ``p{steps-1}``, ``customers``,
    ``continued``), ordered; ``totals``: one row (``customers``, ``paths``); ``neighbours``: per
    value of ``p1`` (the node after/before the anchor; null: none) the customers (anchored only).
    With ``by``: the same per value of ``by`` (``by_top``: the ``top`` paths of each value, with
    ``by``; ``by_totals``, ``by_neighbours``), the overall ones as without it."""

    spec: PathsSpec
    top: ir.Table
    totals: ir.Table
    neighbours: ir.Table | None
    by_top: ir.Table | None = None
    by_totals: ir.Table | None = None
    by_neighbours: ir.Table | None = None


def customer_paths(
    r: ir.Table, steps: int, *, anchor: ir.Value | None = None, reverse: bool = False
) -> ir.Table:
    """One row per customer (with the anchor, if one is given) from his runs ``r`` (``node``,
    ``rpos``): ``p{i}`` = the node i places from the start (or from the anchor's first run, after
    it or, with ``reverse``, before it), null where the sequence ends; ``more`` = 1 if it goes on
    beyond ``p{steps-1}``. With a ``by`` column in ``r``: ``by``, his value at his first element
    (before any anchor)."""
    keys = ["customer"]
    if "by" in r.columns:
        r = first_value(r)
        keys.append("by")
    if anchor is None:
        rel = r.rpos - 1
    else:
        apos = (
            (r.node == anchor).ifelse(r.rpos, ibis.null("int64")).min().over(ibis.window(group_by=r.customer))
        )
        r = r.mutate(apos=apos)
        r = r.filter(r.apos.notnull())
        rel = (r.apos - r.rpos) if reverse else (r.rpos - r.apos)
    r = r.mutate(rel=rel)
    r = r.filter(r.rel >= 0)
    nul = ibis.null(r.node.type())
    aggs: dict[str, ir.Value] = {f"p{i}": (r.rel == i).ifelse(r.node, nul).max() for i in range(steps)}
    aggs["more"] = (r.rel >= steps).ifelse(1, 0).max()
    return r.group_by(keys).aggregate(**aggs)


def path_keys(t: ir.Table, steps: int) -> list[ir.Value]:
    """Sort keys for the tie-break: node by node, a missing node before any node."""
    keys = []
    for i in range(steps):
        p = t[f"p{i}"]
        keys.append(p.isnull().ifelse(0, 1))
        keys.append(p)
    return keys


def paths_plan(
    spec: PathsSpec, events: ir.Table, materialize: Callable[[ir.Table], ir.Table] | None = None
) -> PathsPlan:
    """``materialize`` (the engine's cache) is applied to the per-customer paths."""
    if spec.by is not None:
        t = node_rows_by(spec.level, spec.model, events, spec.by, since=spec.since, until=spec.until)
    else:
        t = node_rows(spec.level, spec.model, events, since=spec.since, until=spec.until)
    r = runs(t, "node", collapse=spec.collapse)
    anchor: ir.Value | None = None
    if spec.anchor is not None:
        if spec.level == "stage":
            assert spec.model is not None
            anchor = ibis.literal([s.name for s in spec.model.stages].index(spec.anchor) + 1, "int64")
        else:
            anchor = ibis.literal(spec.anchor, "string")
    c = customer_paths(r, spec.steps, anchor=anchor, reverse=spec.direction == "reverse")
    if spec.by is not None:
        c = top_values(c)
    c = materialize(c) if materialize else c
    cols = [f"p{i}" for i in range(spec.steps)]
    counted = c.group_by(cols).aggregate(customers=c.count(), continued=c.more.sum())
    top = counted.order_by([ibis.desc(counted.customers), *path_keys(counted, spec.steps)]).limit(spec.top)
    totals = counted.aggregate(customers=counted.customers.sum(), paths=counted.count())
    neighbours = None
    if anchor is not None:
        neighbours = c.group_by(c.p1).aggregate(customers=c.count())
    if spec.by is None:
        return PathsPlan(spec, top, totals, neighbours)
    per = c.group_by(["by", *cols]).aggregate(customers=c.count(), continued=c.more.sum())
    rank = ibis.row_number().over(
        group_by=per.by, order_by=[ibis.desc(per.customers), *path_keys(per, spec.steps)]
    )
    per_top = per.mutate(rank=rank)
    per_top = per_top.filter(per_top["rank"] < spec.top)
    by_totals = per.group_by("by").aggregate(customers=per.customers.sum(), paths=per.count())
    by_neighbours = None
    if anchor is not None:
        by_neighbours = c.group_by([c.by, c.p1]).aggregate(customers=c.count())
    return PathsPlan(spec, top, totals, neighbours, per_top, by_totals, by_neighbours)
