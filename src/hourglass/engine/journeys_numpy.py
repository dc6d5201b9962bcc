"""The journeys analysis (entry stages, skips, back-steps, conformance) on the journeys fast path's
elements and numpy order (engine/journeys_fast.py, engine/journeys_order.py), per range of
customers in threads: the journeys page's first view at 10M events spent 15 CPU-s in the portable
plan's windows over the decoded events (bench/PEOPLE.md).

Why it is exact. The elements are the fast path's (``c`` the integer customer, ``ts`` µs, ``node``
the 1-based stage) in the order (customer, ts, stage), which is analyses/stages.py's sequence up to
rows equal in (ts, stage), and those fall in one run; runs are read from the sorted keys as the
paths' kernel reads them. Every figure of analyses/journeys.py ``journeys_plan`` is then a sum over
customers or runs (ranges hold whole customers, so distinct customers per back-step add up), and
the fitness mean and median are taken from every customer's fitness (the median as DuckDB's
``quantile_cont``: numpy's linear quantile). Out of scope (None: the portable plan runs): what the
paths' fast path declines, a breakdown, far customer keys."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from hourglass.analyses.journeys import BUCKETS
from hourglass.engine.journeys_ranges import in_sets, runs_of_keys
from hourglass.engine.journeys_seq import I64, small_pages
from hourglass.engine.load import Events
from hourglass.engine.paths_people import elements
from hourglass.model.journeys_result import JourneysResult, build_journeys_result
from hourglass.model.journeys_spec import JourneysSpec, PathsSpec

__all__ = ["fast_journeys", "journeys_of_runs"]

Part = dict[str, Any]


def journeys_of_runs(new: npt.NDArray[np.bool_], ts: I64, st: I64, n: int, goal: int, flywheel: bool) -> Part:
    """One range's sums (customers whole): runs in order, ``new`` where a customer starts, ``ts``
    their first times, ``st`` their stages (1..n)."""
    m = len(st)
    begin = np.flatnonzero(new)
    cc = len(begin)
    cid = np.cumsum(new, dtype=np.int64) - 1
    rpos = np.arange(m, dtype=np.int64) - begin[cid] + 1
    has_next = np.zeros(m, dtype=bool)
    has_next[:-1] = ~new[1:]
    nxt = np.zeros(m, dtype=np.int64)
    nxt[:-1] = st[1:]
    nxt[~has_next] = 0
    ideal = has_next & (nxt == st + 1)
    if flywheel:
        ideal |= has_next & (st == n) & (nxt == 1)
    back = has_next & (nxt < st) & ~ideal
    skip = has_next & (nxt > st + 1)
    per = {k: np.bincount(cid, weights=v, minlength=cc).astype(np.int64) for k, v in
           (("moves", has_next), ("ideal", ideal), ("back", back), ("skip", skip),
            ("good", (rpos <= goal) & (st == rpos)))}  # fmt: skip
    first = np.full((cc, n), -1, dtype=np.int64)  # the first time at each stage (-1: never)
    for k in range(1, n + 1):
        at = np.flatnonzero(st == k)
        who = cid[at]
        once = np.ones(len(at), dtype=bool)
        once[1:] = who[1:] != who[:-1]
        first[who[once], k - 1] = ts[at[once]]
    grpos = np.zeros(cc, dtype=np.int64)  # the first goal run's position (0: none)
    at = np.flatnonzero(st == goal)
    who = cid[at]
    once = np.ones(len(at), dtype=bool)
    once[1:] = who[1:] != who[:-1]
    grpos[who[once]] = rpos[at[once]]
    out: Part = {"customers": cc}
    seen = first >= 0
    for j in range(1, n + 1):
        out[f"r{j}"] = int(seen[:, j - 1].sum())
        for k in range(1, j):
            fj, fk = first[:, j - 1], first[:, k - 1]
            out[f"s{k}_{j}"] = int((seen[:, j - 1] & (~seen[:, k - 1] | (fk > fj))).sum())
    moves, ideal_c = per["moves"], per["ideal"]
    with_moves = moves > 0
    out["fitness"] = ideal_c[with_moves] / moves[with_moves]
    entry = st[begin]
    out["conformant"] = int(((entry == 1) & (ideal_c == moves)).sum())
    out["purchasers_ideal"] = int(((grpos == goal) & (per["good"] == goal)).sum())
    for name in ("moves", "ideal", "back", "skip"):
        out[name] = int(per[name].sum())
    out["b_last"] = int((with_moves & (ideal_c == moves)).sum())
    buyer = seen[:, goal - 1]
    out["entry"] = np.bincount(entry, minlength=n + 1), np.bincount(entry, weights=buyer, minlength=n + 1)
    # back-steps: per (from, to) moves, distinct customers, those before their first goal run
    b = np.flatnonzero(back)
    edge = st[b] * (n + 1) + nxt[b]
    span = (n + 1) ** 2
    out["back_moves_by"] = np.bincount(edge, minlength=span)
    out["back_customers"] = np.bincount(np.unique(cid[b] * span + edge) % span, minlength=span)
    early = (grpos[cid[b]] > 0) & (rpos[b] < grpos[cid[b]])
    out["back_buyers"] = np.bincount(np.unique(cid[b][early] * span + edge[early]) % span, minlength=span)
    nxt2 = np.zeros(len(b), dtype=np.int64)
    two = b + 2 < m
    two[two] &= cid[np.minimum(b[two] + 2, m - 1)] == cid[b[two]]
    nxt2[two] = st[b[two] + 2]
    out["back_next"] = np.bincount(edge * (n + 1) + nxt2, minlength=span * (n + 1))
    return out


def _merged(parts: list[Part], n: int, goal: int) -> tuple[dict[str, Any], list[Any], list[Any], list[Any]]:
    """The summary row, the entry, back-step and next-step rows as the portable plan's."""
    keys = [k for k in parts[0] if isinstance(parts[0][k], int)]
    s: dict[str, Any] = {k: sum(p[k] for p in parts) for k in keys}
    fitness = np.concatenate([p["fitness"] for p in parts])
    row: dict[str, Any] = {k: s[k] for k in s if k[0] in "rs" and k[1:2].isdigit()}
    row |= {"customers": s["customers"], "with_moves": len(fitness)}
    row["fitness_mean"] = float(fitness.mean()) if len(fitness) else None
    row["fitness_median"] = float(np.quantile(fitness, 0.5)) if len(fitness) else None
    row |= {"conformant": s["conformant"], "purchasers_ideal": s["purchasers_ideal"], "moves": s["moves"]}
    row |= {"ideal_moves": s["ideal"], "back_moves": s["back"], "skip_moves": s["skip"]}
    for i, lo in enumerate(BUCKETS[:-1]):
        row[f"b{i}"] = int(((fitness >= lo) & (fitness < BUCKETS[i + 1])).sum())
    row[f"b{len(BUCKETS) - 1}"] = s["b_last"]
    count = sum(p["entry"][0] for p in parts)
    buyers = sum(p["entry"][1] for p in parts)
    entry = [
        {"entry": k, "customers": int(count[k]), "purchasers": int(buyers[k])}
        for k in range(1, n + 1)
        if count[k]
    ]
    moves = sum(p["back_moves_by"] for p in parts)
    custs = sum(p["back_customers"] for p in parts)
    buy = sum(p["back_buyers"] for p in parts)
    backs = [
        {"from_stage": e // (n + 1), "to_stage": e % (n + 1), "moves": int(moves[e]),
         "customers": int(custs[e]), "purchasers": int(buy[e])}
        for e in np.flatnonzero(moves).tolist()
    ]  # fmt: skip
    nxt = sum(p["back_next"] for p in parts)
    back_next = [
        {"from_stage": e // (n + 1) ** 2, "to_stage": e // (n + 1) % (n + 1),
         "next_stage": (e % (n + 1)) or None, "moves": int(nxt[e])}
        for e in np.flatnonzero(nxt).tolist()
    ]  # fmt: skip
    return row, entry, backs, back_next


def fast_journeys(
    events: Events, spec: JourneysSpec, meta: dict[str, Any] | None = None
) -> JourneysResult | None:
    """engine/run_journeys.py ``run_journeys``'s result from the numpy kernels, or None where they
    do not apply (the caller runs the portable plan)."""
    if spec.by is not None:
        return None
    model, goal, n = spec.model, spec.goal_index, len(spec.model.stages)
    paths = PathsSpec.build(model, level="stage", since=spec.since, until=spec.until)
    with small_pages():
        got = elements(events, paths)
        if got is None:
            return None
        c, ts, node = got
        if not len(c):
            return None

        def each(keys: I64, tbits: int, nbits: int) -> Part:
            new, rts, st = runs_of_keys(keys, tbits, nbits, True)
            return journeys_of_runs(new, rts, st, n, goal, model.kind == "flywheel")

        # the sets of customers in threads (no figure depends on the customers' order)
        sets = in_sets(c, ts, node, each, lambda got, _tbits: got)
        if not sets:
            return None
        parts = [p for got in sets for p in got]
        if not parts:
            return None
        row, entry, backs, back_next = _merged(parts, n, goal)
    from hourglass.engine.run_journeys import meta_of

    return build_journeys_result(
        model, goal, row, entry, backs, back_next, by=False, deviations=spec.deviations,
        meta=meta_of(events, spec.describe(), meta),
    )  # fmt: skip
