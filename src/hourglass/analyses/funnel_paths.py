"""The funnel's drop-off and between-step paths (docs/semantics-funnel-explore.md): the events a
customer did after his step-K event when he went no further (``dropoff``), or between his step-K
and step-K+1 events when he went on (``between``), on his best chain of the same funnel. Ibis
expressions only; the engine runs the plan."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import annotate, bit
from hourglass.analyses.funnel_closed import best_chains, tiebreaks
from hourglass.analyses.paths import path_keys
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.funnel_explore import ExploreOptions, FunnelPaths, PathRow
from hourglass.model.spec import FunnelSpec

__all__ = ["Chain", "chain_events", "customer_paths", "path_people", "paths_plan"]

_NULL_INT = ibis.null("int64")
#: a plan's source of :func:`chain_events`, given the engine's materialize (shared by two plans)
Chain = Callable[[Materialize], ir.Table]


def chain_events(
    spec: FunnelSpec,
    events: ir.Table,
    upto: int,
    *,
    keep: Sequence[str] = (),
    chains: ir.Table | None = None,
) -> ir.Table:
    """Every event of the customers with a chain, in the canonical order of the customer's whole
    sequence: ``customer``, ``event``, ``ts`` (µs), ``mask``, ``pos``, the ``keep_<column>``
    columns, his ``level``, ``t1`` (his entry's time) and ``q1`` .. ``q{upto}``: the positions of
    his best chain's required steps' events (null above his level; none for an optional step).
    ``by``: his group, with ``spec.by``.

    The chain's times ``t{k}`` come from the funnel itself (``best_chains``); its events are the
    earliest events in canonical order that match step k at time ``t{k}`` after the previous one
    (the greedy completion: ordered), or the run of adjacent events (but for events of optional
    steps only) from the earliest step-1 event at ``t1`` whose events match the steps at the
    chain's times (strict_order). With ``hold``, a chain's events share its entry's (non-NULL)
    value: the chain is the one of the value whose step-1 event comes first. ``chains``: the funnel's
    best chains of ``spec`` on ``events`` when the caller has them (already materialised)."""
    n = len(spec.steps)
    columns = list(dict.fromkeys([*tiebreaks(spec), *keep]))
    if chains is None:
        chains = best_chains(spec, events)
    ch = chains.select(
        c_customer=chains.customer,
        level=chains.level,
        **{f"c_t{k}": chains[f"t{k}"] for k in range(1, n + 1)},
        **({"by": chains.by} if spec.by else {}),
    )
    t = annotate(
        events, spec.steps, exclude=spec.exclude, keep=columns, tiebreak=tiebreaks(spec), matched_only=False
    )
    j = t.inner_join(ch, t.customer == ch.c_customer)
    j = j.select(*[c for c in j.columns if c != "c_customer"])
    j = j.mutate(t1=j.c_t1)
    req = [k for k in spec.required if k <= n]
    j = (
        _strict_chain(spec, j, req, upto)
        if spec.mode == "strict_order"
        else _ordered_chain(spec, j, req, upto)
    )
    return j.drop(*[f"c_t{k}" for k in range(1, n + 1)])


def _has(j: ir.Table, k: int) -> ir.BooleanValue:
    return (j["mask"] & bit(k)) != 0


def _ordered_chain(spec: FunnelSpec, j: ir.Table, req: Sequence[int], upto: int) -> ir.Table:
    """ordered: per held value (one group without ``hold``), the earliest events matching the
    required steps at the chain's times, each after the previous one; the chain is the value's
    whose every step up to the level is found and whose step-1 event comes first (the best chain's
    entry, as ``best_chains`` chose it: docs/semantics-funnel-explore.md)."""
    hold = f"keep_{spec.hold}" if spec.hold else None
    # with hold every step up to the level decides which value's chain it is; else up to ``upto``
    steps = list(req) if hold else [k for k in req if k <= upto]
    prev: int | None = None
    found: ir.BooleanValue = ibis.literal(True)
    for k in steps:
        # the window on this step's table (one built on an earlier table is dereferenced at every use)
        part = ibis.window(group_by=[j.customer, *([j[hold]] if hold else [])])
        cond = _has(j, k) & (j.ts == j[f"c_t{k}"]) & (j.level >= k)
        if hold:
            cond = cond & j[hold].notnull()
        if prev is not None:
            cond = cond & (j.pos > j[f"h{prev}"])
        j = j.mutate(**{f"h{k}": cond.coalesce(False).ifelse(j.pos, _NULL_INT).min().over(part)})
        found = found & ((j.level < k) | j[f"h{k}"].notnull())
        prev = k
    if not hold:
        return j.rename(**{f"q{k}": f"h{k}" for k in steps})
    j = j.mutate(found=found)
    j = j.mutate(q1=j.found.ifelse(j.h1, _NULL_INT).min().over(ibis.window(group_by=j.customer)))
    cust = ibis.window(group_by=j.customer)
    mine = j.found & (j.h1 == j.q1)
    j = j.mutate(**{f"q{k}": mine.ifelse(j[f"h{k}"], _NULL_INT).max().over(cust) for k in steps[1:]})
    j = j.drop("found", *[f"h{k}" for k in steps])
    return j.drop(*[f"q{k}" for k in req if k > upto])


def _strict_chain(spec: FunnelSpec, j: ir.Table, req: Sequence[int], upto: int) -> ir.Table:
    """strict_order: the earliest step-1 event at ``t1`` whose run of the next events (events of
    optional steps only passed over) matches the required steps at the chain's times (with
    ``hold``: sharing its value)."""
    skip: ir.BooleanValue = ibis.literal(False)
    if spec.optional_steps:  # events of optional steps only: not adjacency's
        required_mask = sum(bit(k) for k in req)
        skip = (j["mask"] != 0) & ((j["mask"] & required_mask) == 0)
    j = j.mutate(skip=skip)
    seq = ibis.window(group_by=[j.customer, j.skip], order_by=j.pos)
    held = j[f"keep_{spec.hold}"] if spec.hold else None
    leads: dict[str, ir.Value] = {}
    for i in range(1, len(req)):
        leads[f"lm{i}"], leads[f"lt{i}"] = j["mask"].lead(i).over(seq), j.ts.lead(i).over(seq)
        if spec.optional_steps:  # the run's positions (else consecutive)
            leads[f"lp{i}"] = j.pos.lead(i).over(seq)
        if held is not None:
            leads[f"lh{i}"] = held.lead(i).over(seq)
    j = j.mutate(**leads)
    ok = ~j.skip & _has(j, req[0]) & (j.ts == j.c_t1)
    if held is not None:
        ok = ok & j[f"keep_{spec.hold}"].notnull()
    for i, k in enumerate(req[1:], start=1):
        step_k = ((j[f"lm{i}"] & bit(k)) != 0) & (j[f"lt{i}"] == j[f"c_t{k}"])
        if held is not None:
            step_k = step_k & (j[f"lh{i}"] == j[f"keep_{spec.hold}"])
        ok = ok & ((j.level < k) | step_k.coalesce(False))
    j = j.mutate(ok=ok.coalesce(False))
    j = j.mutate(q1=j.ok.ifelse(j.pos, _NULL_INT).min().over(ibis.window(group_by=j.customer)))
    later = [(i, k) for i, k in enumerate(req[1:], start=1) if k <= upto]
    if not spec.optional_steps:  # the run is consecutive: the i-th event after the entry
        j = j.mutate(**{f"q{k}": (j.level >= k).ifelse(j.q1 + i, _NULL_INT) for i, k in later})
        return j.drop("skip", "ok", *leads)
    cust = ibis.window(group_by=j.customer)
    first = j.ok & (j.pos == j.q1)
    j = j.mutate(
        **{
            f"q{k}": (first & (j.level >= k)).ifelse(j[f"lp{i}"], _NULL_INT).max().over(cust)
            for i, k in later
        }
    )
    return j.drop("skip", "ok", *leads)


def customer_paths(chained: ir.Table, view: str, opts: ExploreOptions, group: object = ...) -> ir.Table:
    """One row per customer of the view (``chained``: :func:`chain_events` up to step K+1):
    ``p0`` .. ``p{depth-1}`` (the events of his path, null where it ends), ``n`` (the events in
    the view) and ``ended`` (``n <= depth``: the path is whole). ``group``: only the customers of
    this ``by`` value (None: a missing value; not given: all)."""
    k, target = opts.at, opts.target
    j = chained
    if group is not ...:
        j = j.filter(j.by.isnull() if group is None else j.by == group)
    if view == "dropoff":
        j = j.filter((j.level >= k) & (j.level < target))
        inside = j.pos > j[f"q{k}"]
    else:
        j = j.filter(j.level >= target)
        inside = (j.pos > j[f"q{k}"]) & (j.pos < j[f"q{target}"])
    rel = j.pos - j[f"q{k}"] - 1
    none = ibis.null("string")
    aggs: dict[str, ir.Value] = {
        f"p{i}": (inside & (rel == i)).ifelse(j.event, none).max() for i in range(opts.depth)
    }
    aggs["n"] = inside.ifelse(1, 0).sum()
    per = j.group_by("customer").aggregate(**aggs)
    return per.mutate(ended=per.n <= opts.depth)


def paths_plan(
    spec: FunnelSpec,
    events: ir.Table,
    opts: ExploreOptions,
    view: str,
    group: object = ...,
    *,
    chain: Chain | None = None,
) -> Plan[FunnelPaths]:
    """The view's ``top`` most common paths and its totals (see :class:`FunnelPaths`). ``chain``:
    where the plan gets :func:`chain_events` (up to step K+1 at least; a plan that shares it)."""
    opts = opts.resolved(spec)
    cols = [f"p{i}" for i in range(opts.depth)]

    def build(materialize: Materialize) -> dict[str, ir.Expr]:
        chained = chain(materialize) if chain else chain_events(spec, events, opts.target)
        per = materialize(customer_paths(chained, view, opts, group))
        counted = per.group_by([*cols, "ended"]).aggregate(customers=per.count())
        order = [ibis.desc(counted.customers), *path_keys(counted, opts.depth), counted.ended]
        top = counted.order_by(order).limit(opts.top)
        totals = per.aggregate(customers=per.count(), none=(per.n == 0).ifelse(1, 0).sum())
        return {"top": top, "totals": totals, "paths": counted.count()}

    def assemble(rows: Rows) -> FunnelPaths:
        tot = rows["totals"][0] if rows["totals"] else {}
        customers = int(tot.get("customers") or 0)
        paths = tuple(
            PathRow(
                tuple(str(r[c]) for c in cols if r[c] is not None),
                bool(r["ended"]),
                int(r["customers"]),
                r["customers"] / customers if customers else None,
            )
            for r in rows["top"]
        )
        names = spec.step_names
        return FunnelPaths(
            view=view,
            at=opts.at,
            step=names[opts.at - 1],
            next_step=names[opts.target - 1],
            depth=opts.depth,
            customers=customers,
            paths=paths,
            none=int(tot.get("none") or 0),
            distinct_paths=int(rows["paths"][0]["value"] or 0),
        )

    return Plan(build, assemble)


def path_people(
    spec: FunnelSpec,
    events: ir.Table,
    opts: ExploreOptions,
    view: str,
    path: Sequence[str],
    ended: bool,
    group: object = ...,
) -> ir.Table:
    """The customers of one path of the view (the customers the path's count counts): ``customer``
    and ``events`` (how many events his whole path has), by customer."""
    opts = opts.resolved(spec)
    per = customer_paths(chain_events(spec, events, opts.target), view, opts, group)
    keep = per.ended == ended
    for i in range(opts.depth):
        keep &= per[f"p{i}"] == path[i] if i < len(path) else per[f"p{i}"].isnull()
    out = per.filter(keep)
    return out.select("customer", events=out.n).order_by("customer")
