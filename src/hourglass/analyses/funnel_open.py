"""Open funnels (GA4's "open"): chains may start at any step (docs/semantics.md, "--open")."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import annotate, bit
from hourglass.analyses.funnel_closed import in_range
from hourglass.model.spec import FunnelSpec

__all__ = ["open_reach"]

_NULL = ibis.null("int64")


def open_reach(spec: FunnelSpec, events: ir.Table) -> ir.Table:
    """One row per customer with ``r{j}`` (reached step j), ``k{j}`` (continued into j from j-1)
    and ``d{j}`` (µs from the previous step for the first continuing event)."""
    n, w = len(spec.steps), spec.window
    hold = [spec.hold] if spec.hold else []
    t = annotate(events, spec.steps, exclude=spec.exclude, keep=hold, tiebreak=hold)
    if spec.hold:  # a chain's events share the held value; NULL is in no chain
        t = t.filter(t[f"keep_{spec.hold}"].notnull())
    t = t.mutate(inr=in_range(t, spec))
    part_names = ["customer", "epoch", *(f"keep_{c}" for c in hold)]

    def has(k: int) -> ir.BooleanValue:
        return (t["mask"] & bit(k)) != 0

    # L1: the latest start of a chain ending at the row as step 1 = its own time, if in range
    t = t.mutate(L1=(has(1) & t.inr).ifelse(t.ts, _NULL), r1=has(1) & t.inr)
    for j in range(2, n + 1):
        # the window on this pass's table (one built on the first table makes Ibis dereference
        # every use: 20 steps took seconds more to build)
        before = ibis.window(group_by=[t[c] for c in part_names], order_by=t.pos, rows=(None, -1))
        prev = t[f"L{j - 1}"]
        t = t.mutate(
            **{
                f"P{j}": prev.max().over(before),
                f"T{j}": prev.notnull().ifelse(t.ts, _NULL).max().over(before),
            }
        )
        hj = (t["mask"] & bit(j)) != 0
        cont = hj & t[f"P{j}"].notnull() & (t.ts - t[f"P{j}"] <= w)
        own = (hj & t.inr).ifelse(t.ts, _NULL)
        via = cont.ifelse(t[f"P{j}"], _NULL)
        t = t.mutate(
            **{
                f"k{j}": cont,
                f"r{j}": cont | (hj & t.inr),
                f"L{j}": ibis.cases((own.isnull(), via), (via.isnull(), own), else_=ibis.greatest(own, via)),
                f"d{j}": cont.ifelse(t.ts - t[f"T{j}"], _NULL),
                f"o{j}": cont.ifelse(t.pos, _NULL),
            }
        ).drop(f"P{j}", f"T{j}")
    aggs: dict[str, ir.Value] = {"r1": t.r1.any()}
    for j in range(2, n + 1):
        aggs[f"r{j}"] = t[f"r{j}"].any()
        aggs[f"k{j}"] = t[f"k{j}"].any()
        aggs[f"d{j}"] = t[f"d{j}"].argmin(t[f"o{j}"])
    return t.group_by("customer").aggregate(**aggs)
