"""The funnel's correlation (docs/semantics-funnel-explore.md): the events and property values
seen before the drop-off point of the customers who reached step K, counted for those who went on
to step L and those who did not. Ibis expressions only; the statistics are the model's
(:meth:`FunnelCorrelation.assemble`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import step_predicate
from hourglass.analyses.funnel_paths import Chain, chain_events, paths_plan
from hourglass.analyses.funnel_trend import SharedChains
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.funnel_explore import ExploreOptions, FunnelCorrelation, FunnelPaths
from hourglass.model.spec import FunnelSpec

__all__ = [
    "EVENT",
    "NOT_PROPERTIES",
    "correlation_plan",
    "default_columns",
    "explain_plan",
    "item_people",
    "observed_events",
    "observed_from",
    "observed_items",
]

EVENT = "event"
#: columns that are never property items: the roles that identify or measure an event
NOT_PROPERTIES = ("customer", "event", "timestamp", "event_id", "revenue", "referrer")


def default_columns(events: ir.Table) -> tuple[str, ...]:
    """The property columns tested when none are given: every text or true/false column but the
    roles that identify or measure an event (so ``channel`` and the source's own properties)."""
    schema = events.schema()
    return tuple(
        c
        for c in events.columns
        if c not in NOT_PROPERTIES and (schema[c].is_string() or schema[c].is_boolean())
    )


def observed_events(
    spec: FunnelSpec, events: ir.Table, opts: ExploreOptions, columns: Sequence[str]
) -> ir.Table:
    """The events of the customers who reached step K (:func:`chain_events` with ``conv``: he
    reached step L, and ``inside``: the event is before his drop-off point: a converter's events
    before his step-L event in canonical order, a dropper's at or before his entry's time plus the
    window)."""
    return observed_from(chain_events(spec, events, opts.target, keep=columns), spec, opts)


def observed_from(chained: ir.Table, spec: FunnelSpec, opts: ExploreOptions) -> ir.Table:
    """:func:`observed_events` from :func:`chain_events` (up to step L at least)."""
    k, target = opts.at, opts.target
    j = chained.filter(chained.level >= k)
    conv = j.level >= target
    inside = (conv & (j.pos < j[f"q{target}"])) | (~conv & (j.ts <= j.t1 + spec.window))
    return j.mutate(conv=conv, inside=inside.coalesce(False))


def observed_items(spec: FunnelSpec, seen: ir.Table, columns: Sequence[str]) -> ir.Table:
    """One row per customer who reached step K and item he had before his drop-off point
    (``seen``: :func:`observed_events`): ``customer``, ``kind`` (``event`` or the column),
    ``value`` (text) and ``conv`` (he reached step L). Events that match a step's names are no
    event item (their properties are items)."""
    j = seen.filter(seen.inside)
    names = [dataclasses.replace(s, where=()) for s in spec.steps]
    step_event = step_predicate(names[0], j)
    for s in names[1:]:
        step_event = step_event | step_predicate(s, j)
    parts = [
        j.filter(~step_event).select(
            "customer", kind=ibis.literal(EVENT, "string"), value=j.event.cast("string"), conv=j.conv
        )
    ]
    for c in columns:
        col = j[f"keep_{c}"]
        parts.append(
            j.filter(col.notnull()).select(
                "customer", kind=ibis.literal(c, "string"), value=col.cast("string"), conv=j.conv
            )
        )
    items = parts[0]
    for p in parts[1:]:
        items = items.union(p, distinct=False)
    return items.distinct()


def correlation_plan(
    spec: FunnelSpec,
    events: ir.Table,
    opts: ExploreOptions,
    columns: Sequence[str],
    *,
    chain: Chain | None = None,
) -> Plan[FunnelCorrelation]:
    """Each item's customers who converted and who dropped, capped to the ``max_events`` event
    names and the ``max_values`` values per column with the most customers; and the two totals.
    ``chain``: where the plan gets :func:`chain_events` (up to step L, with the columns kept)."""
    opts = opts.resolved(spec)
    k, target = opts.at, opts.target

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        if chain is None:
            seen = materialize(observed_events(spec, events, opts, columns))
        else:
            seen = materialize(observed_from(chain(materialize), spec, opts))
        items = observed_items(spec, seen, columns)
        counts = items.group_by(["kind", "value"]).aggregate(
            a=items.conv.ifelse(1, 0).sum(), b=items.conv.ifelse(0, 1).sum(), total=items.count()
        )
        order = [ibis.desc(counts.total), counts.value]
        counts = counts.mutate(rank=ibis.row_number().over(group_by=counts.kind, order_by=order))
        cap = (counts.kind == EVENT).ifelse(opts.max_events, opts.max_values)
        counts = counts.filter(counts["rank"] < cap).select("kind", "value", "a", "b")
        per = seen.group_by("customer").aggregate(conv=seen.conv.max())
        totals = per.aggregate(converted=per.conv.ifelse(1, 0).sum(), dropped=per.conv.ifelse(0, 1).sum())
        return {"counts": counts, "totals": totals}

    def assemble(rows: Rows) -> FunnelCorrelation:
        tot = rows["totals"][0] if rows["totals"] else {}
        counts = sorted((str(r["kind"]), str(r["value"]), int(r["a"]), int(r["b"])) for r in rows["counts"])
        names = spec.step_names
        return FunnelCorrelation.assemble(
            counts,
            int(tot.get("converted") or 0),
            int(tot.get("dropped") or 0),
            at=k,
            to=target,
            step=names[k - 1],
            target_step=names[target - 1],
            properties=tuple(columns),
        )

    return Plan(build, assemble)


def item_people(
    spec: FunnelSpec, events: ir.Table, opts: ExploreOptions, columns: Sequence[str], kind: str, value: str
) -> ir.Table:
    """The customers behind one item: those who reached step K and had it before the drop-off
    point (``customer``, ``converted``), by customer."""
    opts = opts.resolved(spec)
    chosen = [c for c in columns if c == kind]
    items = observed_items(spec, observed_events(spec, events, opts, chosen), chosen)
    out = items.filter((items.kind == kind) & (items.value == value))
    return out.select("customer", converted=out.conv).order_by("customer")


def explain_plan(
    spec: FunnelSpec,
    events: ir.Table,
    opts: ExploreOptions,
    columns: Sequence[str],
    *,
    best: SharedChains | None = None,
) -> Plan[tuple[FunnelPaths, FunnelCorrelation]]:
    """The drop-off paths and the correlation at step K (to K+1) in one run: the chain table is
    computed once for both (the report's section). ``best``: the funnel's best chains when another
    plan computes them too (the report's funnel over time): read, not computed again."""
    opts = opts.resolved(spec)
    held: dict[str, ir.Table] = {}
    shared = best if best is not None and best.fits(spec, events) else None

    def chain(materialize: Materialize) -> ir.Table:
        if "chain" not in held:
            known = None if shared is None else shared(materialize)
            held["chain"] = materialize(chain_events(spec, events, opts.target, keep=columns, chains=known))
        return held["chain"]

    paths = paths_plan(spec, events, opts, "dropoff", chain=chain)
    corr = correlation_plan(spec, events, opts, columns, chain=chain)

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        held.clear()
        out = {f"paths.{k}": v for k, v in paths.build(materialize).items()}
        return out | {f"corr.{k}": v for k, v in corr.build(materialize).items()}

    def assemble(rows: Rows) -> tuple[FunnelPaths, FunnelCorrelation]:
        def part(prefix: str) -> Rows:
            return {k[len(prefix) :]: v for k, v in rows.items() if k.startswith(prefix)}

        return paths.assemble(part("paths.")), corr.assemble(part("corr."))

    return Plan(build, assemble)
