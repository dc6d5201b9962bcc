"""The most common deviations from a model's ideal order in marketing words ("42% of buyers skipped
trial"), from the journeys analysis' rows (docs/semantics-journeys.md, "Deviations")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hourglass.model._text import pct, ratio
from hourglass.model.journey import JourneyModel

__all__ = ["deviations_in_words"]


def _int(row: dict[str, Any], key: str) -> int:
    return int(row.get(key) or 0)


def deviations_in_words(
    model: JourneyModel,
    goal: int,
    summary: dict[str, Any],
    entry: Sequence[dict[str, Any]],
    backs: Sequence[dict[str, Any]],
    top: int,
) -> list[dict[str, Any]]:
    """Skipped stages, entries after stage 1 and back-steps before the goal, each as a share of
    the purchasers, those with at least one purchaser, the ``top`` most common."""
    names = [s.name for s in model.stages]
    buyers = "buyers" if model.sale == names[goal - 1] else f"customers who reached {names[goal - 1]}"
    p = _int(summary, f"r{goal}")
    found: list[tuple[int, int, int, int, dict[str, Any]]] = []
    for k in range(1, goal):
        n = _int(summary, f"s{k}_{goal}")
        found.append(
            (
                n,
                0,
                k,
                0,
                {
                    "kind": "skipped",
                    "stage": names[k - 1],
                    "customers": n,
                    "text": f"{{}} of {buyers} skipped {names[k - 1]}",
                },
            )
        )
    by_entry: dict[int, int] = {}
    for e in entry:
        by_entry[int(e["entry"])] = by_entry.get(int(e["entry"]), 0) + _int(e, "purchasers")
    for k, n in by_entry.items():
        if k != 1:
            found.append(
                (
                    n,
                    1,
                    k,
                    0,
                    {
                        "kind": "entered",
                        "stage": names[k - 1],
                        "customers": n,
                        "text": f"{{}} of {buyers} entered at {names[k - 1]}",
                    },
                )
            )
    for b in backs:
        a, z, n = int(b["from_stage"]), int(b["to_stage"]), _int(b, "purchasers")
        found.append(
            (
                n,
                2,
                a,
                z,
                {
                    "kind": "back",
                    "stage": names[a - 1],
                    "to": names[z - 1],
                    "customers": n,
                    "text": f"{{}} of {buyers} went back from {names[a - 1]} to {names[z - 1]}",
                },
            )
        )
    found = [f for f in found if f[0] > 0]
    found.sort(key=lambda f: (-f[0], f[1], f[2], f[3]))
    out = []
    for n, *_, d in found[:top]:
        share = ratio(n, p)
        out.append({**d, "share": share, "text": d["text"].format(pct(share))})
    return out
