"""The funnel's drop-off and between-step paths (docs/semantics-funnel-explore.md): the events a
customer did after his step-K event when he went no further (``dropoff``), or between his step-K
and step-K+1 events when he went on (``between``), on his best chain of the same funnel. Ibis
expressions only; the engine runs the plan."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import annotate, bit
from hourglass.analyses.funnel_closed import best_chains
from hourglass.analyses.paths import path_keys
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.funnel_explore import ExploreOptions, FunnelPaths, PathRow
from hourglass.model.spec import FunnelSpec

__all__ = ["Chain", "chain_events", "customer_paths", "path_people", "paths_plan"]

_NULL_INT = ibis.null("int64")
#: a plan's source of :func:`chain_events`, given the engine's materialize (shared by two plans)
Chain = Callable[[Materialize], ir.Table]


def chain_events(spec: FunnelSpec, events: ir.Table, upto: int, *, keep: Sequence[str] = ()) -> ir.Table:
    """Every event of the customers with a chain, in the canonical order of the customer's whole
    sequence: ``customer``, ``event``, ``ts`` (µs), ``mask``, ``pos``, the ``keep_<column>``
    columns, his ``level``, ``t1`` (his entry's time) and ``q1`` .. ``q{upto}``: the positions of
    his best chain's required steps' events (null above his level; none for an optional step).
    ``by``: his group, with ``spec.by``.

    The chain's times ``t{k}`` come from the funnel itself (``best_chains``); its events are the
    earliest events in canonical order that match step k at time ``t{k}`` after the previous one
    (the greedy completion: ordered), or the run of adjacent events from the earliest step-1 event
    at ``t1`` whose events match the steps at the chain's times (strict_order)."""
    n = len(spec.steps)
    columns = list(dict.fromkeys([*([spec.by] if spec.by else []), *keep]))
    chains = best_chains(spec, events)
    ch = chains.select(
        c_customer=chains.customer,
        level=chains.level,
        **{f"c_t{k}": chains[f"t{k}"] for k in range(1, n + 1)},
        **({"by": chains.by} if spec.by else {}),
    )
    t = annotate(events, spec.steps, exclude=spec.exclude, keep=columns, tiebreak=spec.by, matched_only=False)
    j = t.inner_join(ch, t.customer == ch.c_customer)
    j = j.select(*[c for c in j.columns if c != "c_customer"])
    j = j.mutate(t1=j.c_t1)
    cust = ibis.window(group_by=j.customer)

    def has(k: int) -> ir.BooleanValue:
        return (j["mask"] & bit(k)) != 0

    if spec.mode == "strict_order":
        seq = ibis.window(group_by=j.customer, order_by=j.pos)
        leads: dict[str, ir.Value] = {}
        for i in range(1, n):
            leads[f"lm{i}"], leads[f"lt{i}"] = j["mask"].lead(i).over(seq), j.ts.lead(i).over(seq)
        j = j.mutate(**leads)
        ok = has(1) & (j.ts == j.c_t1)
        for k in range(2, n + 1):
            step_k = ((j[f"lm{k - 1}"] & bit(k)) != 0) & (j[f"lt{k - 1}"] == j[f"c_t{k}"])
            ok = ok & ((j.level < k) | step_k.coalesce(False))
        j = j.mutate(q1=ok.coalesce(False).ifelse(j.pos, _NULL_INT).min().over(cust))
        j = j.mutate(
            **{f"q{k}": (j.level >= k).ifelse(j.q1 + (k - 1), _NULL_INT) for k in range(2, upto + 1)}
        )
        j = j.drop(*leads)
    else:  # the required steps' events (an optional step's event is not on the greedy chain)
        prev: int | None = None
        for k in [r for r in range(1, upto + 1) if not spec.steps[r - 1].optional]:
            cond = has(k) & (j.ts == j[f"c_t{k}"]) & (j.level >= k)
            if prev is not None:
                cond = cond & (j.pos > j[f"q{prev}"])
            j = j.mutate(**{f"q{k}": cond.coalesce(False).ifelse(j.pos, _NULL_INT).min().over(cust)})
            prev = k
    return j.drop(*[f"c_t{k}" for k in range(1, n + 1)])


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
