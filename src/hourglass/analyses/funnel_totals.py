"""``--count totals``: chains per step instead of customers (docs/semantics.md, "Totals").

Every entry (a step-1 event in range) starts a chain, its greedy completion cut at the window;
a step counts the distinct events that are that step on some entry's chain, so chains that share
an event count it once (step 1 counts every entry). The time of a counted event is from the
latest previous-step event before it on those chains."""

from __future__ import annotations

import ibis.expr.types as ir

from hourglass.analyses.funnel_closed import chain_starts
from hourglass.model.spec import FunnelSpec

__all__ = ["totals_summary"]

US = 1_000_000


def totals_summary(spec: FunnelSpec, events: ir.Table) -> ir.Table:
    """One row: ``c{k}`` (step k's distinct chain events), ``med{k}``, ``p90{k}`` (seconds from the
    previous step) per required step k (ordered and strict_order, no optional steps)."""
    t, _ = chain_starts(spec, events, track=True)
    req = spec.required
    parts: list[ir.Table] = []
    for i, k in enumerate(req, start=1):
        e = t.filter(t.reached >= i)
        if i == 1:
            parts.append(e.aggregate(**{f"c{k}": e.count()}))
            continue
        g = e.group_by(customer=e.customer, at=e[f"p1_{i}"]).aggregate(
            dt=(e[f"c1_{i}"] - e[f"c1_{i - 1}"]).min()
        )
        s = g.dt.cast("float64") / US
        parts.append(
            g.aggregate(**{f"c{k}": g.count(), f"med{k}": s.quantile(0.5), f"p90{k}": s.quantile(0.9)})
        )
    out = parts[0]
    for part in parts[1:]:
        out = out.cross_join(part)
    return out
