"""Closed funnels (ordered, strict_order, any_order): one row per customer with his level, the
entry of his best chain and the step times on it (docs/semantics.md). A chain is made of the
required steps; optional steps are counted on it afterwards (analyses/funnel_optional.py)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import ibis
import ibis.expr.types as ir

from hourglass.analyses._match import annotate, bit, micros_of
from hourglass.analyses.funnel_optional import count_optional
from hourglass.model.errors import UnsupportedError
from hourglass.model.spec import FunnelSpec
from hourglass.model.steps import Step

__all__ = ["best_chains", "chain_starts", "in_range", "overlap_groups", "tiebreaks"]

_NO_TIME = ibis.null("int64")


def in_range(t: ir.Table, spec: FunnelSpec) -> ir.BooleanValue:
    cond = ibis.literal(True)
    if spec.since is not None:
        cond = cond & (t.ts >= micros_of(spec.since))
    if spec.until is not None:
        cond = cond & (t.ts < micros_of(spec.until))
    return cond


def tiebreaks(spec: FunnelSpec) -> list[str]:
    """The kept columns that order events equal on the canonical key: ``by``, then ``hold``."""
    return [c for c in (spec.by, spec.hold) if c is not None]


def _has(t: ir.Table, k: int) -> ir.BooleanValue:
    return (t["mask"] & bit(k)) != 0


def _level(t: ir.Table, reached: ir.IntegerValue, req: Sequence[int]) -> ir.IntegerValue:
    """The furthest required step's number from the number of required steps reached."""
    if list(req) == list(range(1, len(req) + 1)):
        return reached
    return ibis.cases(*[(reached == i, r) for i, r in enumerate(req, start=1)], else_=0)


def _ordered(t: ir.Table, req: Sequence[int], w: int, part: list[str], track: bool) -> ir.Table:
    """Greedy completion over the required steps ``req``: ``c{a}_{b}`` = time of the chain's b-th
    step on the greedy chain that takes the row as its a-th step, computed backwards (each a min over
    the rows after it; the completions are monotone in the start, so the min comes from the first
    following row of the step, as do the positions ``p{a}_{b}`` tracked for optional steps)."""
    m = len(req)
    if m == 1:
        return t.mutate(reached=_has(t, req[0]).ifelse(1, 0), c1_1=t.ts, p1_1=t.pos)
    last = _has(t, req[m - 1])
    t = t.mutate(**{f"c{m}_{m}": last.ifelse(t.ts, _NO_TIME), f"p{m}_{m}": last.ifelse(t.pos, _NO_TIME)})
    kinds = ("c", "p") if track else ("c",)
    for k in range(m - 1, 0, -1):
        # the window on this level's table: one built on an earlier table makes Ibis dereference
        # every use (the plan of 20 steps took 30 s to build)
        after = ibis.window(group_by=[t[c] for c in part], order_by=t.pos, rows=(1, None))
        own_k = _has(t, req[k - 1])
        # one projection per step: the step's own flag and the min over the rows after it
        cols = {
            f"{x}{k}_{j}": own_k.ifelse(t[f"{x}{k + 1}_{j}"].min().over(after), _NO_TIME)
            for x in kinds
            for j in range(k + 1, m + 1)
        }
        cols[f"c{k}_{k}"] = own_k.ifelse(t.ts, _NO_TIME)
        cols[f"p{k}_{k}"] = own_k.ifelse(t.pos, _NO_TIME)
        # one select per step: the last step's columns are replaced by this step's
        gone = {f"{x}{k + 1}_{j}" for x in ("c", "p") for j in range(k + 1, m + 1)}
        t = t.select(*[c for c in t.columns if c not in gone and c not in cols], **cols)
    reached = ibis.literal(0)
    for j in range(1, m + 1):
        ok = t[f"c1_{j}"].notnull() & (t[f"c1_{j}"] - t.c1_1 <= w)
        reached = reached + ok.ifelse(1, 0)
    return t.mutate(reached=reached)


def _strict(t: ir.Table, req: Sequence[int], w: int, hold: str | None) -> ir.Table:
    """Adjacent runs: the row and the m-1 rows after it in the customer's sequence (events of
    optional steps only are not in it). ``b{i}``: the position of the i-th row after it (the bound
    of the optional steps after the chain's i-th step)."""
    m = len(req)
    seq = ibis.window(group_by=t.customer, order_by=t.pos)
    own_hold = t[f"keep_{hold}"] if hold else None
    first = _has(t, req[0]) if own_hold is None else _has(t, req[0]) & own_hold.notnull()
    cols: dict[str, ir.Value] = {"c1_1": first.ifelse(t.ts, _NO_TIME), "p1_1": t.pos}
    for i in range(1, m + 1):
        cols[f"b{i}"] = t.pos.lead(i).over(seq)
    for i in range(1, m):
        msk, ts, ep = t["mask"].lead(i).over(seq), t.ts.lead(i).over(seq), t.epoch.lead(i).over(seq)
        ok = ((msk & bit(req[i])) != 0) & (ep == t.epoch) & (ts - t.ts <= w)
        if own_hold is not None:
            ok = ok & (own_hold.lead(i).over(seq) == own_hold)
        cols[f"ok{i + 1}"] = ok
        cols[f"c1_{i + 1}"] = ts
        cols[f"p1_{i + 1}"] = cols[f"b{i}"]
    t = t.mutate(**cols)
    # the cases are checked in order, so the first step that fails decides the level
    cases = [(~first, 0)] + [(~t[f"ok{j}"].coalesce(False), j - 1) for j in range(2, m + 1)]
    reached = ibis.cases(*cases, else_=m)
    return t.mutate(reached=reached).drop(*[f"ok{j}" for j in range(2, m + 1)])


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


def _covers(t: ir.Table, subsets: list[tuple[int, ...]], wanted: set[int]) -> ir.BooleanValue:
    """Hall's condition: every subset of ``wanted`` within an overlap group has as many events."""
    ok: ir.BooleanValue = ibis.literal(True)
    for sub in subsets:
        if set(sub) <= wanted:
            ok = ok & (t["n_" + "_".join(map(str, sub))] >= len(sub))
    return ok


def _any(t: ir.Table, spec: FunnelSpec, w: int, part: list[str]) -> ir.Table:
    """Windows [t, t + w] starting at each row; Hall's condition on the counts of every subset of
    an overlap group within the required steps reached (and, for an optional step, with it)."""
    frame = ibis.window(group_by=[t[c] for c in part], order_by=t.ts, range=(0, w))
    subsets: list[tuple[int, ...]] = []
    for g in overlap_groups(spec.steps):
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
    req = spec.required
    covered = [_covers(t, subsets, set(req[:i])) for i in range(1, len(req) + 1)]
    reached = ibis.cases(*[(~ok, i) for i, ok in enumerate(covered)], else_=len(req))
    t = t.mutate(reached=reached, c1_1=t.ts)
    flags = {}
    for j in spec.optional_steps:
        r = spec.previous_required(j)
        options = [
            (t.reached == i, _covers(t, subsets, {*req[:i], j}))
            for i in range(req.index(r) + 1, len(req) + 1)
        ]
        flags[f"o{j}"] = ibis.cases(*options, else_=False)
    return t.mutate(**flags).drop(*counts)


def chain_starts(spec: FunnelSpec, events: ir.Table, *, track: bool = False) -> tuple[ir.Table, ir.Table]:
    """Every entry in range that reaches step 1 (one row each): ``reached`` (required steps reached
    on its greedy chain), ``level``, ``c1_{i}`` (time of the chain's i-th required step; past
    ``reached`` not cut at the window), with ``track`` (ordered) or in strict_order ``p1_{i}`` (its
    position); and the annotated events they were found among."""
    w, req = spec.window, spec.required
    keep = tiebreaks(spec)
    t = annotate(
        events,
        spec.steps,
        exclude=spec.exclude,
        keep=keep,
        tiebreak=keep,
        matched_only=spec.mode != "strict_order",
    )
    hold = f"keep_{spec.hold}" if spec.hold else None
    if hold is not None and spec.mode != "strict_order":
        t = t.filter(t[hold].notnull())  # NULL never matches: in no chain
    part = ["customer", "epoch", *([hold] if hold else [])]
    base = t  # the events the optional steps are counted among
    if spec.optional_steps and spec.mode == "strict_order":  # events of optional steps only: not adjacency's
        required_mask = sum(bit(k) for k in req)
        t = t.filter((t["mask"] == 0) | ((t["mask"] & required_mask) != 0))
    if spec.mode == "ordered":
        t = _ordered(t, req, w, part, track=track)
    elif spec.mode == "strict_order":
        t = _strict(t, req, w, spec.hold)
    else:
        t = _any(t, spec, w, part)
    # candidates: entries (step-1 rows for ordered/strict, any matching row for any_order) in range
    entry = t["c1_1"].notnull() if spec.mode != "any_order" else t["mask"] > 0
    t = t.filter(entry & in_range(t, spec) & (t.reached > 0))
    return t.mutate(level=_level(t, t.reached, req)), base


def best_chains(spec: FunnelSpec, events: ir.Table) -> ir.Table:
    """One row per customer with a chain: ``customer``, ``level`` (the number of the furthest
    required step reached), ``entry_ts``, ``t{k}`` (the time of step k on the best chain, µs; null
    after the level; an optional step: the time of its event counted, null when not counted, and
    null in any_order), ``o{j}`` per optional step j (counted on the chain) and ``by`` when asked."""
    n, req = len(spec.steps), spec.required
    optional = bool(spec.optional_steps)
    t, base = chain_starts(spec, events, track=optional)
    hold = f"keep_{spec.hold}" if spec.hold else None
    # the best chain: highest level, then earliest entry
    key = (n + 1 - t.level).cast("int64") * (1 << 40) + t.pos
    t = t.mutate(key=key)
    # (a window in a filter predicate miscompiles on pyspark: materialise it first)
    t = t.mutate(best_key=t.key.min().over(ibis.window(group_by=t.customer)))
    t = t.filter(t.key == t.best_key)
    out: dict[str, ir.Value] = {"customer": t.customer, "level": t.level.cast("int64"), "entry_ts": t.ts}
    for k in range(1, n + 1):
        if spec.mode == "any_order" or k not in req:
            out[f"t{k}"] = _NO_TIME
        else:
            i = req.index(k) + 1
            out[f"t{k}"] = (t.reached >= i).ifelse(t[f"c1_{i}"], _NO_TIME)
    if spec.by:
        out["by"] = t[f"keep_{spec.by}"]
    if not optional:
        return t.select(**out)
    if spec.mode == "any_order":
        return t.select(**out, **{f"o{j}": t[f"o{j}"] for j in spec.optional_steps})
    chain = t.select(
        **out,
        epoch=t.epoch,
        reached=t.reached,
        **({"hold": t[hold]} if hold else {}),
        **{f"p{i}": t[f"p1_{i}"] for i in range(1, len(req) + 1)},
        **({f"b{i}": t[f"b{i}"] for i in range(1, len(req) + 1)} if spec.mode == "strict_order" else {}),
    )
    return count_optional(spec, chain, base, list(out))
