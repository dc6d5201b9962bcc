"""Optional funnel steps, counted on each customer's best chain (docs/semantics.md, "Optional
steps"): an optional step counts when one of his events matches it after the chain's previous
required step and before its next one (when the chain reached it), within the window from the
entry, in the chain's exclusion epoch and with the chain's held value; in strict_order only events
of optional steps may lie between it and the previous required step."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import bit
from hourglass.model.spec import FunnelSpec

__all__ = ["count_optional"]

_NO_TIME = ibis.null("int64")


def count_optional(spec: FunnelSpec, chain: ir.Table, events: ir.Table, columns: Sequence[str]) -> ir.Table:
    """``chain``: one row per customer with ``columns`` and the chain's ``entry_ts``, ``epoch``,
    ``reached`` (required steps reached), ``p{i}`` (the position of its i-th required step), in
    strict_order ``b{i}`` (the position of the first event after its i-th required step that is not
    of optional steps only) and ``hold``. ``events``: the annotated events (``pos``, ``mask``, ...).
    Returns ``columns`` with ``t{j}`` (the time of the optional step's earliest event counted) and
    ``o{j}`` (counted) for every optional step j."""
    req, opt, w = spec.required, spec.optional_steps, spec.window
    strict = spec.mode == "strict_order"
    rows = events.filter((events["mask"] & sum(bit(j) for j in opt)) != 0)
    if strict:  # only events of optional steps only: any other breaks adjacency
        rows = rows.filter((rows["mask"] & sum(bit(k) for k in req)) == 0)
    picked: dict[str, ir.Value] = {
        "r_customer": rows.customer,
        "r_ts": rows.ts,
        "r_pos": rows.pos,
        "r_mask": rows["mask"],
        "r_epoch": rows.epoch,
    }
    if spec.hold:
        picked["r_hold"] = rows[f"keep_{spec.hold}"]
    rows = rows.select(**picked)
    j = chain.join(rows, chain.customer == rows.r_customer)
    aggs: dict[str, ir.Value] = {}
    for k in opt:
        i = req.index(spec.previous_required(k)) + 1  # the chain's i-th required step comes before it
        if strict:
            hi = j[f"b{i}"]
        elif i < len(req):
            hi = (j.reached > i).ifelse(j[f"p{i + 1}"], _NO_TIME)
        else:
            hi = _NO_TIME
        cond = (
            ((j.r_mask & bit(k)) != 0)
            & (j.reached >= i)
            & (j.r_pos > j[f"p{i}"])
            & (hi.isnull() | (j.r_pos < hi))
            & (j.r_ts - j.entry_ts <= w)
            & (j.r_epoch == j.epoch)
        )
        if spec.hold:
            cond = cond & (j.r_hold == j.hold)
        aggs[f"u{k}"] = cond.ifelse(j.r_ts, _NO_TIME).min()
    found = j.group_by(key=j.customer).aggregate(**aggs)
    out = chain.left_join(found, chain.customer == found.key)
    cols: dict[str, ir.Value] = {c: out[c] for c in columns}
    for k in opt:
        cols[f"t{k}"] = out[f"u{k}"]
        cols[f"o{k}"] = out[f"u{k}"].notnull()
    return out.select(**cols)
