"""Entry stages, the skip matrix, back-steps and conformance to the ideal order: (spec, events) ->
small Ibis expressions (docs/semantics-journeys.md). Never executes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from hourglass.analyses.stages import runs, stage_rows
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import JourneysSpec

__all__ = ["BUCKETS", "JourneysPlan", "journeys_plan", "moves_table", "per_customer"]

#: Fitness buckets: [0, 0.25), [0.25, 0.5), [0.5, 0.75), [0.75, 1), exactly 1.
BUCKETS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class JourneysPlan:
    """``summary``: one row (reach ``r{j}``, skips ``s{k}_{j}``, fitness and move totals);
    ``entry``: per entry stage (and ``by`` value) customers and purchasers; ``backsteps``: per
    (from, to) moves, customers and purchasers who made it before their first goal visit;
    ``back_next``: per (from, to, next) moves; ``customers``: one row per customer."""

    spec: JourneysSpec
    summary: ir.Table
    entry: ir.Table
    backsteps: ir.Table
    back_next: ir.Table
    customers: ir.Table


def _kinds(model: JourneyModel, r: ir.Table) -> tuple[ir.BooleanValue, ir.BooleanValue, ir.BooleanValue]:
    """(ideal, back, skip) for each run's move to the next run (all false after the last run)."""
    n = len(model.stages)
    moved = r.nxt.notnull()
    ideal = moved & (r.nxt == r.stage + 1)
    if model.kind == "flywheel":
        ideal = ideal | (moved & (r.stage == n) & (r.nxt == 1))
    return ideal, moved & (r.nxt < r.stage) & ~ideal, moved & (r.nxt > r.stage + 1)


def moves_table(model: JourneyModel, r: ir.Table, goal: int) -> ir.Table:
    """Classify each run's move to the next run: ``ideal`` (to the next stage, or from the last to
    the first in a flywheel), ``back`` (to an earlier stage, not ideal), ``skip`` (forward past the
    next stage); adds ``nxt2`` (the stage after the next) and ``grpos`` (the customer's first
    goal run position, null if none)."""
    seq = ibis.window(group_by=r.customer, order_by=r.rpos)
    ideal, back, skip = _kinds(model, r)
    return r.mutate(
        ideal=ideal,
        back=back,
        skip=skip,
        nxt2=r.stage.lead(2).over(seq),
        grpos=(r.stage == goal)
        .ifelse(r.rpos, ibis.null("int64"))
        .min()
        .over(ibis.window(group_by=r.customer)),
    )


def per_customer(model: JourneyModel, r: ir.Table, goal: int, *, by: bool = False) -> ir.Table:
    """One row per customer from his runs (``r``, from :func:`runs` with ``stage``): ``f{k}`` first
    time at stage k, ``entry``, ``moves``, ``ideal``, ``back``, ``skip``, ``grpos`` and ``good``
    (runs 1..goal whose stage equals their position)."""
    n = len(model.stages)
    nul = ibis.null("int64")
    ideal, back, skip = _kinds(model, r)
    aggs: dict[str, ir.Value] = {f"f{k}": (r.stage == k).ifelse(r.ts, nul).min() for k in range(1, n + 1)}
    aggs.update(
        entry=(r.rpos == 1).ifelse(r.stage, nul).max(),
        moves=r.nxt.notnull().ifelse(1, 0).sum(),
        ideal=ideal.ifelse(1, 0).sum(),
        back=back.ifelse(1, 0).sum(),
        skip=skip.ifelse(1, 0).sum(),
        grpos=(r.stage == goal).ifelse(r.rpos, nul).min(),
        good=((r.rpos <= goal) & (r.stage == r.rpos)).ifelse(1, 0).sum(),
        last_ts=r.ts.max(),
        last_stage=r.stage.argmax(r.rpos),
    )
    if by:
        aggs["entry_by"] = (r.rpos == 1).ifelse(r.by, ibis.null("string")).max()
    return r.group_by("customer").aggregate(**aggs)


def _summary(c: ir.Table, n: int, goal: int) -> ir.Table:
    aggs: dict[str, ir.Value] = {"customers": c.count()}
    for j in range(1, n + 1):
        fj = c[f"f{j}"]
        aggs[f"r{j}"] = fj.notnull().ifelse(1, 0).sum()
        for k in range(1, j):
            fk = c[f"f{k}"]
            aggs[f"s{k}_{j}"] = (fj.notnull() & (fk.isnull() | (fk > fj))).ifelse(1, 0).sum()
    has_moves = c.moves > 0
    fitness = has_moves.ifelse(c.ideal.cast("float64") / c.moves.cast("float64"), ibis.null("float64"))
    aggs.update(
        with_moves=has_moves.ifelse(1, 0).sum(),
        fitness_mean=fitness.mean(),
        fitness_median=fitness.quantile(0.5),
        conformant=((c.entry == 1) & (c.ideal == c.moves)).ifelse(1, 0).sum(),
        purchasers_ideal=((c.grpos == goal) & (c.good == goal)).ifelse(1, 0).sum(),
        moves=c.moves.sum(),
        ideal_moves=c.ideal.sum(),
        back_moves=c.back.sum(),
        skip_moves=c.skip.sum(),
    )
    for i, lo in enumerate(BUCKETS[:-1]):
        hi = BUCKETS[i + 1]
        aggs[f"b{i}"] = (has_moves & (fitness >= lo) & (fitness < hi)).ifelse(1, 0).sum()
    aggs[f"b{len(BUCKETS) - 1}"] = (has_moves & (c.ideal == c.moves)).ifelse(1, 0).sum()
    return c.aggregate(**aggs)


def journeys_plan(
    spec: JourneysSpec, events: ir.Table, materialize: Callable[[ir.Table], ir.Table] | None = None
) -> JourneysPlan:
    """``materialize`` (the engine's cache) is applied to the runs table every output reads."""
    model, goal, n = spec.model, spec.goal_index, len(spec.model.stages)
    s = stage_rows(model, events, since=spec.since, until=spec.until, by=spec.by)
    r = runs(s, "stage")
    r = materialize(r) if materialize else r
    c = per_customer(model, r, goal, by=spec.by is not None)
    keys = ["entry", "entry_by"] if spec.by else ["entry"]
    entry = c.group_by(keys).aggregate(
        customers=c.count(), purchasers=c[f"f{goal}"].notnull().ifelse(1, 0).sum()
    )
    m = moves_table(model, r, goal)
    b = m.filter(m.back)
    nul = ibis.null(b.customer.type())
    backsteps = b.group_by([b.stage.name("from_stage"), b.nxt.name("to_stage")]).aggregate(
        moves=b.count(),
        customers=b.customer.nunique(),
        purchasers=(b.grpos.notnull() & (b.rpos < b.grpos)).ifelse(b.customer, nul).nunique(),
    )
    back_next = b.group_by(
        [b.stage.name("from_stage"), b.nxt.name("to_stage"), b.nxt2.name("next_stage")]
    ).aggregate(moves=b.count())
    return JourneysPlan(spec, _summary(c, n, goal), entry, backsteps, back_next, c)
