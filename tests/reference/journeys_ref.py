"""Reference implementation (the oracle) of docs/semantics-journeys.md: entry stages, the skip
matrix, back-steps, conformance, transitions and top paths.

Plain Python, written to be read next to the definitions and sharing no code with
``src/hourglass`` (step matching and quantiles come from the funnel's reference). Every customer's
sequence is built, sorted and walked explicitly.

Input
    rows     list of dicts ``{"customer", "event", "timestamp", **properties}`` (naive UTC datetimes,
             missing values ``None``), as ``tests/journeys.py rows()`` gives.
    stages   list of step specs as in ``funnel_ref`` (``"visit"`` or ``{"name", "events", "where"}``).
    goal     1-based index of the goal stage; ``kind`` the model's kind (``flywheel`` is cyclic).

Outputs are shaped like the engine's JSON (without ``meta`` and, for journeys, without texts).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

from reference.funnel_ref import make_step, quantile, step_matches, to_us

US = 1_000_000


def _ratio(k: int, n: int) -> float | None:
    return None if n == 0 else k / n


def _in_period(row: dict[str, Any], since: Any, until: Any) -> bool:
    return (since is None or row["timestamp"] >= since) and (until is None or row["timestamp"] < until)


def sequences(
    rows: list[dict[str, Any]],
    level: str,
    stages: list[Any] | None = None,
    *,
    since: Any = None,
    until: Any = None,
    by: str | None = None,
) -> dict[str, list[tuple[int, Any, Any]]]:
    """Per customer, his sequence of (time µs, node, by-value): at the stage level one element per
    (event, stage it matches), ordered by (time, stage, event, channel with None last); at the
    event level one per event, ordered by (time, event, channel with None last)."""
    steps = [make_step(s) for s in stages or []]
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        if not _in_period(row, since, until):
            continue
        ch = row.get("channel")
        chkey = (ch is None, ch or "")
        byv = None if by is None else row.get(by)
        byv = None if byv is None else str(byv)
        if level == "stage":
            for k, step in enumerate(steps, start=1):
                if step_matches(step, row):
                    out[row["customer"]].append((to_us(row["timestamp"]), k, row["event"], chkey, byv))
        else:
            out[row["customer"]].append((to_us(row["timestamp"]), row["event"], row["event"], chkey, byv))
    result = {}
    for customer, elems in out.items():
        elems.sort(key=lambda e: (e[0], e[1], e[2], e[3], (e[4] is None, e[4] or "")))
        result[customer] = [(e[0], e[1], e[4]) for e in elems]
    return result


def collapse(seq: list[tuple[int, Any, Any]], on: bool = True) -> list[tuple[int, Any, Any]]:
    """Runs: consecutive elements with the same node merged into the first (when ``on``)."""
    out: list[tuple[int, Any, Any]] = []
    for e in seq:
        if on and out and out[-1][1] == e[1]:
            continue
        out.append(e)
    return out


def _kinds(a: int, b: int, n: int, kind: str) -> tuple[bool, bool, bool]:
    ideal = b == a + 1 or (kind == "flywheel" and a == n and b == 1)
    return ideal, b < a and not ideal, b > a + 1


def journeys(
    rows: list[dict[str, Any]],
    stages: list[Any],
    goal: int,
    kind: str = "funnel",
    *,
    since: Any = None,
    until: Any = None,
) -> dict[str, Any]:
    names = [make_step(s).name for s in stages]
    n = len(names)
    seqs = sequences(rows, "stage", stages, since=since, until=until)
    entry = dict.fromkeys(range(1, n + 1), 0)
    entry_buyers = dict.fromkeys(range(1, n + 1), 0)
    reached = dict.fromkeys(range(1, n + 1), 0)
    skipped = {(k, j): 0 for j in range(1, n + 1) for k in range(1, j)}
    fitness: list[float] = []
    totals = {"total": 0, "ideal": 0, "back": 0, "skip": 0}
    conformant = purchasers_ideal = 0
    back_moves: dict[tuple[int, int], int] = defaultdict(int)
    back_customers: dict[tuple[int, int], set[str]] = defaultdict(set)
    back_buyers: dict[tuple[int, int], set[str]] = defaultdict(set)
    back_next: dict[tuple[int, int], dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
    for customer, seq in seqs.items():
        first: dict[int, int] = {}
        for t, k, _ in seq:
            first.setdefault(k, t)
        for j in first:
            reached[j] += 1
            for k in range(1, j):
                if k not in first or first[k] > first[j]:
                    skipped[(k, j)] += 1
        runs = [k for _, k, _ in collapse(seq)]
        entry[runs[0]] += 1
        buyer = goal in first
        if buyer:
            entry_buyers[runs[0]] += 1
        grpos = runs.index(goal) + 1 if goal in runs else None
        ideal = 0
        for i, (a, b) in enumerate(pairwise(runs), start=1):
            is_ideal, is_back, is_skip = _kinds(a, b, n, kind)
            totals["total"] += 1
            totals["ideal"] += is_ideal
            totals["back"] += is_back
            totals["skip"] += is_skip
            ideal += is_ideal
            if is_back:
                back_moves[(a, b)] += 1
                back_customers[(a, b)].add(customer)
                if grpos is not None and i < grpos:
                    back_buyers[(a, b)].add(customer)
                back_next[(a, b)][runs[i + 1] if i + 1 < len(runs) else None] += 1
        moves = len(runs) - 1
        if moves:
            fitness.append(ideal / moves)
        conformant += runs[0] == 1 and ideal == moves
        purchasers_ideal += runs[:goal] == list(range(1, goal + 1))
    total = len(seqs)
    buyers = reached[goal]
    buckets = [0] * 5
    for f in fitness:
        buckets[4 if f == 1 else int(f * 4)] += 1
    deviations = []
    for k in range(1, goal):
        deviations.append((skipped[(k, goal)], 0, k, 0, {"kind": "skipped", "stage": names[k - 1]}))
    for k in range(2, n + 1):
        deviations.append((entry_buyers[k], 1, k, 0, {"kind": "entered", "stage": names[k - 1]}))
    for (a, b), who in back_buyers.items():
        deviations.append((len(who), 2, a, b, {"kind": "back", "stage": names[a - 1], "to": names[b - 1]}))
    deviations = sorted((d for d in deviations if d[0] > 0), key=lambda d: (-d[0], d[1], d[2], d[3]))
    backs = sorted(back_moves, key=lambda ab: (-back_moves[ab], ab[0], ab[1]))
    return {
        "customers": total,
        "entry": [
            {"stage": names[k - 1], "customers": c, "share": _ratio(c, total)} for k, c in entry.items()
        ],
        "skips": [
            {
                "stage": names[j - 1],
                "reached": reached[j],
                "skipped": [
                    {
                        "stage": names[k - 1],
                        "customers": skipped[(k, j)],
                        "share": _ratio(skipped[(k, j)], reached[j]),
                    }
                    for k in range(1, j)
                ],
            }
            for j in range(1, n + 1)
        ],
        "backsteps": [
            {
                "from": names[a - 1],
                "to": names[b - 1],
                "moves": back_moves[(a, b)],
                "customers": len(back_customers[(a, b)]),
                "purchasers": len(back_buyers[(a, b)]),
                "next": sorted(
                    (
                        {
                            "stage": None if x is None else names[x - 1],
                            "moves": m,
                            "share": m / back_moves[(a, b)],
                        }
                        for x, m in back_next[(a, b)].items()
                    ),
                    key=lambda d: (
                        -d["moves"],
                        d["stage"] is None,
                        names.index(d["stage"]) if d["stage"] else 0,
                    ),
                ),
            }
            for a, b in backs
        ],
        "conformance": {
            "customers_with_moves": len(fitness),
            "fitness_mean": sum(fitness) / len(fitness) if fitness else None,
            "fitness_median": quantile(fitness, 0.5),
            "bucket_customers": buckets,
            "conformant": conformant,
            "purchasers": buyers,
            "purchasers_ideal": purchasers_ideal,
            "moves": totals,
        },
        "deviations": [{**d, "customers": c, "share": _ratio(c, buyers)} for c, *_, d in deviations],
    }


def transitions(
    rows: list[dict[str, Any]], level: str, stages: list[Any] | None = None, *, collapse_repeats: bool = True
) -> dict[tuple[Any, Any], dict[str, Any]]:
    """{(from, to or None): {moves, customers, probability, median_s}} with node names."""
    names = [make_step(s).name for s in stages or []]
    moves: dict[tuple[Any, Any], list[float | None]] = defaultdict(list)
    who: dict[tuple[Any, Any], set[str]] = defaultdict(set)
    for customer, seq in sequences(rows, level, stages).items():
        runs = collapse(seq, collapse_repeats)
        for i, (t, node, _) in enumerate(runs):
            nxt = runs[i + 1] if i + 1 < len(runs) else None
            key = (node, None if nxt is None else nxt[1])
            if level == "stage":
                key = (names[node - 1], None if nxt is None else names[nxt[1] - 1])
            moves[key].append(None if nxt is None else (nxt[0] - t) / US)
            who[key].add(customer)
    visits: dict[Any, int] = defaultdict(int)
    for (a, _), ts in moves.items():
        visits[a] += len(ts)
    return {
        k: {
            "moves": len(ts),
            "customers": len(who[k]),
            "probability": len(ts) / visits[k[0]],
            "median_s": None if k[1] is None else quantile([x for x in ts if x is not None], 0.5),
        }
        for k, ts in moves.items()
    }


def paths(
    rows: list[dict[str, Any]],
    level: str,
    stages: list[Any] | None = None,
    *,
    steps: int = 5,
    top: int = 10,
    collapse_repeats: bool = True,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """``top`` ([{path, customers, continued}] in order), ``other`` and ``neighbours``."""
    names = [make_step(s).name for s in stages or []]
    anchor: Any = start if start is not None else end
    if anchor is not None and level == "stage":
        anchor = names.index(anchor) + 1
    counted: dict[tuple[Any, ...], list[int]] = {}
    neighbours: dict[Any, int] = defaultdict(int)
    for seq in sequences(rows, level, stages).values():
        nodes = [node for _, node, _ in collapse(seq, collapse_repeats)]
        if anchor is None:
            p, more = nodes[:steps], len(nodes) > steps
        elif anchor not in nodes:
            continue
        elif end is None:
            i = nodes.index(anchor)
            p, more = nodes[i : i + steps], len(nodes) > i + steps
        else:
            i = nodes.index(anchor)
            p, more = list(reversed(nodes[max(0, i - steps + 1) : i + 1])), i - steps + 1 > 0
        key = tuple(p)
        c = counted.setdefault(key, [0, 0])
        c[0] += 1
        c[1] += more
        if anchor is not None:
            neighbours[p[1] if len(p) > 1 else None] += 1

    def sort_key(item: tuple[tuple[Any, ...], list[int]]) -> tuple[Any, ...]:
        p, (n, _) = item
        return (-n, *[(1, p[i]) if i < len(p) else (0, 0 if level == "stage" else "") for i in range(steps)])

    ordered = sorted(counted.items(), key=sort_key)
    total = sum(c[0] for c in counted.values())

    def show(p: tuple[Any, ...]) -> list[str]:
        shown = [names[x - 1] if level == "stage" else x for x in p]
        return list(reversed(shown)) if end is not None else shown

    chosen = ordered[:top]
    in_top = sum(c[0] for _, c in chosen)
    out: dict[str, Any] = {
        "customers": total,
        "distinct_paths": len(counted),
        "top": [{"path": show(p), "customers": c[0], "continued": c[1]} for p, c in chosen],
        "other": {"customers": total - in_top, "paths": len(counted) - len(chosen)},
    }
    if anchor is not None:
        out["neighbours"] = {
            (None if k is None else names[k - 1] if level == "stage" else k): v for k, v in neighbours.items()
        }
    return out
