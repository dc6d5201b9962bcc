"""The customers behind a number of the funnel, the journeys and the channels, as Ibis expressions
(the engine executes them): the people of a funnel's steps on the portable plan (with the optional
steps' flags, or under ``--count totals`` each customer's chains per step), of a Sankey node (the
top paths through a step's node), of a transition (a move from one node to the next, or the
sequence's end) and of a channel's cell (the customers a channel acquired who entered a stage).
Each is the set the number counts, for the same spec, so a list's length equals the number shown
(totals: the sum of its ``n{k}`` column). Never executes."""

from __future__ import annotations

import dataclasses

import ibis
import ibis.expr.types as ir

from hourglass.analyses.channels import channel_plan
from hourglass.analyses.funnel import funnel_plan
from hourglass.analyses.funnel_closed import chain_starts
from hourglass.analyses.paths import customer_paths, paths_plan
from hourglass.analyses.stages import node_rows, runs
from hourglass.model.channels import ChannelSpec
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec
from hourglass.model.referrals import ReferralSpec, sale_definition
from hourglass.model.spec import FunnelSpec

__all__ = [
    "channel_customers",
    "channel_people",
    "funnel_people",
    "funnel_totals_people",
    "node_value",
    "path_node_people",
    "paths_per_customer",
    "transition_people",
]


def funnel_people(spec: FunnelSpec, events: ir.Table) -> ir.Table:
    """Every customer of a closed funnel counted by customers: ``customer``, ``level`` (the furthest
    required step's number), ``o{j}`` per optional step j (true: the step counted for him, on his
    best chain) and ``by`` with a breakdown: the funnel plan's own per-customer table, the one its
    counts sum (step k: ``level >= k``; an optional step j: ``o{j}``)."""
    per = funnel_plan(spec, events).customers
    flags = [f"o{j}" for j in spec.optional_steps]
    cols: dict[str, ir.Value] = {"level": per.level.cast("int64")}
    cols |= {f: per[f].coalesce(False) for f in flags}
    if spec.by:
        cols["by"] = per.by
    return per.select("customer", **cols)


def funnel_totals_people(spec: FunnelSpec, events: ir.Table) -> ir.Table:
    """``--count totals``: one row per customer with a chain: ``customer``, ``level`` (his furthest
    step, as counted by customers) and ``n{k}`` per step k: his distinct step-k events that are step
    k on some entry's chain, the events the step's totals count counts (docs/semantics.md,
    "Totals"), so the sum of ``n{k}`` over the customers is the step's number."""
    t, _ = chain_starts(spec, events, track=True)
    aggs: dict[str, ir.Value] = {"level": t.level.max().cast("int64")}
    for i, k in enumerate(spec.required, start=1):
        aggs[f"n{k}"] = (t.reached >= i).ifelse(t[f"p1_{i}"], ibis.null("int64")).nunique().cast("int64")
    return t.group_by("customer").aggregate(**aggs)


def node_value(level: str, model: JourneyModel | None, name: str) -> ir.Value:
    """A node as the sequences hold it: a stage's 1-based index at the stage level (an unknown
    stage: -1, which matches nothing), the event name at the event level."""
    if level == "stage" and model is not None:
        names = [s.name for s in model.stages]
        return ibis.literal(names.index(name) + 1 if name in names else -1, "int64")
    return ibis.literal(name, "string")


def paths_per_customer(spec: PathsSpec, events: ir.Table) -> ir.Table:
    """One row per customer: his path ``p0`` .. and ``more`` (as ``paths_plan`` counts it, without
    ``by``): a Sankey node's people are the rows of one of the top paths with the node at its step."""
    t = node_rows(spec.level, spec.model, events, since=spec.since, until=spec.until)
    r = runs(t, "node", collapse=spec.collapse)
    anchor: ir.Value | None = None
    if spec.anchor is not None:
        anchor = node_value(spec.level, spec.model, spec.anchor)
    return customer_paths(r, spec.steps, anchor=anchor, reverse=spec.direction == "reverse")


def path_node_people(spec: PathsSpec, events: ir.Table, step: int, name: str, width: int) -> ir.Table:
    """The customers of a Sankey node: those on one of the ``spec.top`` most common paths whose
    node at ``step`` (1-based, the Sankey's column) is ``name``. ``width``: the longest top path's
    length (a reverse path, up to its ``to`` node, is right-aligned: step ``s`` is ``p{width-s}``).
    Columns: ``customer``, ``p0`` .. (node values) and ``more`` (1: the journey goes on beyond
    the cut)."""
    spec_plain = dataclasses.replace(spec, by=None)
    c = paths_per_customer(spec_plain, events)
    cols = [f"p{i}" for i in range(spec.steps)]
    top = paths_plan(spec_plain, events).top.select(*[ibis._[p].name(f"t_{p}") for p in cols])
    j = c.inner_join(top, [c[p].identical_to(top[f"t_{p}"]) for p in cols])
    j = j.select("customer", *cols, "more")
    at = step - 1 if spec.direction != "reverse" else width - step
    if not 0 <= at < spec.steps:
        return j.filter(ibis.literal(False))
    return j.filter(j[f"p{at}"] == node_value(spec.level, spec.model, name)).order_by("customer")


def transition_people(spec: TransitionsSpec, events: ir.Table, source: str, target: str | None) -> ir.Table:
    """The customers who moved from node ``source`` to node ``target`` (``None``: whose sequence
    ended at ``source``), as the transition matrix counts them: ``customer``, ``moves`` (how many
    times), ``first_at`` (µs since the epoch of the first such move's node)."""
    t = node_rows(spec.level, spec.model, events, since=spec.since, until=spec.until)
    r = runs(t, "node", collapse=spec.collapse)
    keep = r.node == node_value(spec.level, spec.model, source)
    if target is None:
        keep &= r.nxt.isnull()
    else:
        keep &= r.nxt == node_value(spec.level, spec.model, target)
    m = r.filter(keep)
    return m.group_by("customer").aggregate(moves=m.count(), first_at=m.ts.min()).order_by("customer")


def channel_customers(
    spec: ChannelSpec, events: ir.Table, model: JourneyModel, *, referrals: ReferralSpec | None = None
) -> ir.Table:
    """Every customer with his acquisition channel (null: none), ``purchaser`` and one 0/1 column
    per stage (``s0`` .. in the model's order), as the channels table counts them: a channel's
    cell is the rows of that channel (with the stage's flag)."""
    sale = sale_definition(model, spec.sale_stage)
    cust = channel_plan(spec, events, model, sale.step, None, referrals or ReferralSpec()).customers
    flags = [f"s{i}" for i in range(len(model.stages))]
    return cust.select("customer", "channel", "purchaser", *flags)


def channel_people(
    spec: ChannelSpec,
    events: ir.Table,
    model: JourneyModel,
    channel: str | None,
    stage: str | None,
    *,
    referrals: ReferralSpec | None = None,
) -> ir.Table:
    """The customers a channel acquired (``channel`` None: those without a channel), as the
    channels table counts them; with ``stage``, only those who entered it. Columns: ``customer``,
    ``channel``, ``purchaser`` and one 0/1 column per stage (``s0`` .. in the model's order)."""
    sale = sale_definition(model, spec.sale_stage)
    cust = channel_plan(spec, events, model, sale.step, None, referrals or ReferralSpec()).customers
    keep = cust.channel.isnull() if channel is None else cust.channel == channel
    if stage is not None:
        names = [s.name for s in model.stages]
        keep &= cust[f"s{names.index(stage)}"] == 1 if stage in names else ibis.literal(False)
    flags = [f"s{i}" for i in range(len(model.stages))]
    out = cust.filter(keep)
    return out.select("customer", "channel", "purchaser", *flags).order_by("customer")
