"""Closed funnels (ordered, strict_order, any_order): one row per customer with his level, the
entry of his best chain and the step times on it (docs/semantics.md)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import annotate, bit, micros_of
from hourglass.model.errors import UnsupportedError
from hourglass.model.spec import FunnelSpec
from hourglass.model.steps import Step

__all__ = ["best_chains", "in_range", "overlap_groups"]

_NO_TIME = ibis.null("int64")


def in_range(t: ir.Table, spec: FunnelSpec) -> ir.BooleanValue:
    cond = ibis.literal(True)
    if spec.since is not None:
        cond = cond & (t.ts >= micros_of(spec.since))
    if spec.until is not None:
        cond = cond & (t.ts < micros_of(spec.until))
    return cond


def _has(t: ir.Table, k: int) -> ir.BooleanValue:
    return (t["mask"] & bit(k)) != 0


def _ordered(t: ir.Table, n: int, w: int) -> ir.Table:
    """Greedy completion: ``c{k}_{j}`` = time of step j on the greedy chain that takes the row as
    step k, computed backwards from step n-1 (each a min over the rows after it)."""
    part = [t.customer, t.epoch]
    after = ibis.window(group_by=part, order_by=t.pos, rows=(1, None))
    if n == 1:
        return t.mutate(level=_has(t, 1).ifelse(1, 0), c1_1=t.ts)
    # level n-1 completions from the following step-n rows
    t = t.mutate(**{f"c{n}_{n}": _has(t, n).ifelse(t.ts, _NO_TIME)})
    for k in range(n - 1, 0, -1):
        nxt = {f"c{k}_{j}": t[f"c{k + 1}_{j}"].min().over(after) for j in range(k + 1, n + 1)}
        t = t.mutate(**nxt)
        own = {f"c{k}_{j}": _has(t, k).ifelse(t[f"c{k}_{j}"], _NO_TIME) for j in range(k + 1, n + 1)}
        own[f"c{k}_{k}"] = _has(t, k).ifelse(t.ts, _NO_TIME)
        t = t.mutate(**own)
        t = t.drop(*[f"c{k + 1}_{j}" for j in range(k + 1, n + 1)])
    level = ibis.literal(0)
    for j in range(1, n + 1):
        ok = t[f"c1_{j}"].notnull() & (t[f"c1_{j}"] - t.c1_1 <= w)
        level = level + ok.ifelse(1, 0)
    return t.mutate(level=level)


def _strict(t: ir.Table, n: int, w: int) -> ir.Table:
    """Adjacent runs: the row and the n-1 rows after it in the customer's whole sequence."""
    seq = ibis.window(group_by=t.customer, order_by=t.pos)
    cols: dict[str, ir.Value] = {"c1_1": _has(t, 1).ifelse(t.ts, _NO_TIME)}
    for i in range(1, n):
        m, ts, ep = t["mask"].lead(i).over(seq), t.ts.lead(i).over(seq), t.epoch.lead(i).over(seq)
        cols[f"ok{i + 1}"] = ((m & bit(i + 1)) != 0) & (ep == t.epoch) & (ts - t.ts <= w)
        cols[f"c1_{i + 1}"] = ts
    t = t.mutate(**cols)
    # the cases are checked in order, so the first step that fails decides the level
    cases = [(~_has(t, 1), 0)] + [(~t[f"ok{j}"].coalesce(False), j - 1) for j in range(2, n + 1)]
    level = ibis.cases(*cases, else_=n)
    return t.mutate(level=level).drop(*[f"ok{j}" for j in range(2, n + 1)])


def overlap_groups(steps: Sequence[Step]) -> list[list[int]]:
    """Groups of steps (1-based) that one event may match together (conservative: same name, or
    a pattern on either side). Distinct-event coverage needs Hall's condition only within a group.
    The funnel's fast path and the journeys' one-CASE stage rely on singletons meaning "no event
    matches two steps": this must stay a superset of what ``_match.step_predicate`` can match (if
    matching ever becomes case-insensitive or regex-based, widen it here)."""
    n = len(steps)
    parent = list(range(n + 1))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    def overlap(a: Step, b: Step) -> bool:
        from fnmatch import fnmatchcase

        for p in a.events:
            for q in b.events:
                wild_p, wild_q = any(c in p for c in "*?"), any(c in q for c in "*?")
                if (
                    (wild_p and wild_q)
                    or p == q
                    or (wild_p and fnmatchcase(q, p))
                    or (wild_q and fnmatchcase(p, q))
                ):
                    return True
        return False

    for i in range(1, n + 1):
        for j in range(i + 1, n + 1):
            if overlap(steps[i - 1], steps[j - 1]):
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for k in range(1, n + 1):
        groups.setdefault(find(k), []).append(k)
    return list(groups.values())


def _any(t: ir.Table, n: int, w: int, steps: Sequence[Step]) -> ir.Table:
    """Windows [t, t + w] starting at each row; Hall's condition on the counts of every subset of
    an overlap group within the first k steps."""
    frame = ibis.window(group_by=[t.customer, t.epoch], order_by=t.ts, range=(0, w))
    groups = overlap_groups(steps)
    subsets: list[tuple[int, ...]] = []
    for g in groups:
        if len(g) > 12:
            raise UnsupportedError(
                f"any_order with {len(g)} steps that can match the same event",
                code="HG502",
                hint="at most 12 mutually overlapping steps",
            )
        for r in range(1, len(g) + 1):
            subsets.extend(combinations(g, r))
    counts = {}
    for sub in subsets:
        sel = sum(bit(k) for k in sub)
        counts["n_" + "_".join(map(str, sub))] = ((t["mask"] & sel) != 0).ifelse(1, 0).sum().over(frame)
    t = t.mutate(**counts)
    cases = []
    for k in range(1, n + 1):
        conds = [t["n_" + "_".join(map(str, sub))] >= len(sub) for sub in subsets if max(sub) == k]
        ok = conds[0]
        for c in conds[1:]:
            ok = ok & c
        cases.append((~ok, k - 1))
    level = ibis.cases(*cases, else_=n)
    return t.mutate(level=level, c1_1=t.ts).drop(*counts)


def best_chains(spec: FunnelSpec, events: ir.Table) -> ir.Table:
    """One row per customer with a chain: ``customer``, ``level``, ``entry_ts``, ``t{k}`` (the
    time of step k on the best chain, µs; null after the level) and ``by`` when asked."""
    n, w = len(spec.steps), spec.window
    keep = [spec.by] if spec.by else []
    t = annotate(
        events,
        spec.steps,
        exclude=spec.exclude,
        keep=keep,
        tiebreak=spec.by,
        matched_only=spec.mode != "strict_order",
    )
    if spec.mode == "ordered":
        t = _ordered(t, n, w)
    elif spec.mode == "strict_order":
        t = _strict(t, n, w)
    else:
        t = _any(t, n, w, spec.steps)
    # candidates: entries (step-1 rows for ordered/strict, any matching row for any_order) in range
    entry = t["c1_1"].notnull() if spec.mode != "any_order" else t["mask"] > 0
    t = t.filter(entry & in_range(t, spec) & (t.level > 0))
    # the best chain: highest level, then earliest entry
    key = (n + 1 - t.level).cast("int64") * (1 << 40) + t.pos
    t = t.mutate(key=key)
    # (a window in a filter predicate miscompiles on pyspark: materialise it first)
    t = t.mutate(best_key=t.key.min().over(ibis.window(group_by=t.customer)))
    t = t.filter(t.key == t.best_key)
    out: dict[str, ir.Value] = {"customer": t.customer, "level": t.level.cast("int64"), "entry_ts": t.ts}
    for k in range(1, n + 1):
        if spec.mode == "any_order":
            out[f"t{k}"] = _NO_TIME
        else:
            tk = t[f"c1_{k}"]
            out[f"t{k}"] = (t.level >= k).ifelse(tk, _NO_TIME)
    if spec.by:
        out["by"] = t[f"keep_{spec.by}"]
    return t.select(**out)
