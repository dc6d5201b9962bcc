"""Stages per customer and the stage report (docs/semantics-lifecycle.md, "Stages").

One pass over the events: per customer, the first time he entered each stage. Everything else (the
furthest and current stage, time in each stage) is arithmetic on those n timestamps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import in_period, micros, micros_of, step_predicate
from hourglass.model.lifecycle import LifecycleSpec

__all__ = [
    "BY",
    "OTHER",
    "by_groups",
    "decoded",
    "in_range",
    "present_events",
    "stage_customers",
    "stage_summary",
    "stage_table",
]

US = 1_000_000
_NONE = -(2**62)  # "no entry" below any real µs time
_INF = 2**62  # "no next stage" above any real µs time
BY = "hg_by"  #: the breakdown's column in the grouped customers table
OTHER = "(other)"  #: the group of the values after the top ones


def in_range(spec: LifecycleSpec, events: ir.Table) -> ir.Table:
    """Events with ``since <= timestamp < until`` and, with ``as_of``, ``timestamp <= as_of`` (the
    state as it was then: nothing after "now" counts)."""
    t = in_period(events, spec.since, spec.until)
    if spec.as_of is not None:
        t = t.filter(t.timestamp <= spec.as_of)
    return t


def stage_customers(spec: LifecycleSpec, events: ir.Table, as_of: datetime) -> ir.Table:
    """One row per customer with an event of some stage in the range: ``customer``,
    ``furthest_index``/``furthest``, ``current_index``/``current``, ``current_since``,
    ``days_in_current`` (to ``as_of``), and per stage ``<name>_at`` (first entry) and
    ``<name>_time_s`` (seconds to the next stage entered; null if none)."""
    t = in_range(spec, events)
    preds = [step_predicate(s, t) for s in spec.model.stages]
    any_stage = preds[0]
    for p in preds[1:]:
        any_stage = any_stage | p
    firsts = {f"e{k}": t.timestamp.min(where=p) for k, p in enumerate(preds, start=1)}
    per = t.filter(any_stage).group_by(customer=t.customer).aggregate(**firsts)
    return stage_table(spec, per, as_of)


def stage_table(spec: LifecycleSpec, per: ir.Table, as_of: datetime) -> ir.Table:
    """:func:`stage_customers` from ``per``: one row per customer with an event of some stage,
    ``customer`` and ``e1``..``en`` (his first event of each stage, null if none)."""
    stages = spec.model.stages
    n = len(stages)
    # derived values in steps, each a named column of the step before, so that the SQL refers to
    # them instead of repeating their expressions (inlined, the n keys appear n^3 times: 340 KB of
    # SQL for 7 stages, over ClickHouse's default max_query_size)
    per = per.mutate(
        **{f"k{k}": per[f"e{k}"].notnull().ifelse(micros(per[f"e{k}"]), _NONE) for k in range(1, n + 1)}
    )
    key = [per[f"k{k}"] for k in range(1, n + 1)]
    entered = [per[f"e{k}"].notnull() for k in range(1, n + 1)]
    per = per.mutate(
        hg_latest=ibis.greatest(*key) if n > 1 else key[0],
        hg_furthest=ibis.cases(*[(entered[k], k + 1) for k in reversed(range(n))], else_=0),
    )
    key = [per[f"k{k}"] for k in range(1, n + 1)]
    entered = [per[f"e{k}"].notnull() for k in range(1, n + 1)]
    latest = per.hg_latest
    now = [(entered[k] & (key[k] == latest), k + 1) for k in reversed(range(n))]
    per = per.mutate(hg_current=ibis.cases(*now, else_=0))
    key = [per[f"k{k}"] for k in range(1, n + 1)]
    entered = [per[f"e{k}"].notnull() for k in range(1, n + 1)]
    furthest, current = per.hg_furthest, per.hg_current
    cols: dict[str, ir.Value] = {
        "customer": per.customer,
        "furthest_index": furthest.cast("int64"),
        "furthest": ibis.cases(*[(furthest == k + 1, s.name) for k, s in enumerate(stages)], else_=None),
        "current_index": current.cast("int64"),
        "current": ibis.cases(*[(current == k + 1, s.name) for k, s in enumerate(stages)], else_=None),
    }
    since = ibis.cases(*[(current == k + 1, per[f"e{k + 1}"]) for k in range(n)], else_=None)
    cols["current_since"] = since
    now = ibis.literal(micros_of(as_of), "int64")  # an integer literal: a run on other dates rebinds it
    cols["days_in_current"] = (now - micros(since)).cast("float64") / (86400 * US)
    for k, s in enumerate(stages):
        # the next entry in the order (time, stage index) after this stage's entry
        later = [
            (entered[j] & ((key[j] >= key[k]) if j > k else (key[j] > key[k]))).ifelse(key[j], _INF)
            for j in range(n)
            if j != k
        ]
        nxt = (ibis.least(*later) if len(later) > 1 else later[0]) if later else ibis.literal(_INF)
        cols[f"{s.name}_at"] = per[f"e{k + 1}"]
        cols[f"{s.name}_time_s"] = (entered[k] & (nxt < _INF)).ifelse(
            (nxt - key[k]).cast("float64") / US, None
        )
    return per.select(**cols)


def stage_summary(spec: LifecycleSpec, customers: ir.Table, *, by: str | None = None) -> ir.Table:
    """One row (one per ``by`` value): ``customers``, and per stage k ``entered{k}``,
    ``furthest{k}``, ``current{k}``, ``continued{k}`` (entered k and a later stage),
    ``med{k}``/``p90{k}`` (time in stage, s)."""
    c = customers
    aggs: dict[str, ir.Value] = {"customers": c.count()}
    for k, s in enumerate(spec.model.stages, start=1):
        at = c[f"{s.name}_at"]
        time_s = c[f"{s.name}_time_s"]
        aggs[f"entered{k}"] = at.notnull().sum().coalesce(0)
        aggs[f"furthest{k}"] = (c.furthest_index == k).sum().coalesce(0)
        aggs[f"current{k}"] = (c.current_index == k).sum().coalesce(0)
        aggs[f"continued{k}"] = (at.notnull() & (c.furthest_index > k)).sum().coalesce(0)
        aggs[f"med{k}"] = time_s.quantile(0.5)
        aggs[f"p90{k}"] = time_s.quantile(0.9)
    if by is not None:
        return c.group_by(by).aggregate(**aggs)
    return c.aggregate(**aggs)


def present_events(events: ir.Table, names: Sequence[str]) -> ir.Table:
    """Which of ``names`` the events have: one row per present name (``event``). A metric whose
    events are absent is not measured, which a zero count cannot tell (docs/adr/0006)."""
    t = events.filter(events.event.isin(list(names)))
    return t.group_by("event").aggregate(n=t.count())


def by_groups(events: ir.Table, customers: ir.Table, column: str, top: int = 10) -> ir.Table:
    """``customers`` with ``hg_by``: the value of ``column`` (as text) on the customer's first
    event in ``events`` (ties at one time: the smallest value, an empty value last); the ``top``
    values with the most customers keep their name, the others are ``(other)``; no value is null
    (docs/semantics-lifecycle.md, "Breakdown")."""
    value = events[column].cast("string")
    e = events.select(b_customer=events.customer, b_ts=events.timestamp, b_val=value)
    rn = ibis.row_number().over(group_by=e.b_customer, order_by=[e.b_ts, e.b_val.isnull(), e.b_val])
    e = e.mutate(b_rn=rn)
    first = e.filter(e.b_rn == 0).select("b_customer", "b_val")
    j = customers.left_join(first, customers.customer == first.b_customer)
    j = j.select(*[j[c] for c in customers.columns], b_val=j.b_val)
    valued = j.filter(j.b_val.notnull())
    counts = valued.group_by(t_val=valued.b_val).aggregate(t_n=valued.count())
    ranked = counts.mutate(t_rank=ibis.row_number().over(order_by=[counts.t_n.desc(), counts.t_val]))
    kept = ranked.filter(ranked.t_rank < top).select("t_val")
    g = j.left_join(kept, j.b_val == kept.t_val)
    group = ibis.cases((g.b_val.isnull(), ibis.null("string")), (g.t_val.notnull(), g.b_val), else_=OTHER)
    return g.select(*[g[c] for c in customers.columns], **{BY: group})


def decoded(customers: ir.Table, ids: ir.Table) -> ir.Table:
    """``customers`` (a per-customer table whose ``customer`` is an integer key) with the customer's
    id instead (``ids``: ``key``, ``id``; engine/keyed.py), its columns in the same order."""
    j = customers.inner_join(ids, customers.customer == ids.key)
    return j.select(*[j.id.name("customer") if c == "customer" else j[c] for c in customers.columns])
