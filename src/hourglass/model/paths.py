"""The result of ``paths``: the top paths with an "other" bucket whose numbers add up to the
totals, the next/previous node around an anchor, and Sankey data of the top paths
(docs/semantics-journeys.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from hourglass.model._text import pct, ratio, text_table, uniform

__all__ = ["PathsResult", "build_paths_result", "sankey"]

ARROW = " > "


def sankey(top: Sequence[dict[str, Any]], *, reverse: bool = False) -> dict[str, Any]:
    """Nodes (one per step and node name) and links between consecutive steps, weighted by the
    customers of the top paths. Steps count from 1 at the path's first node (``reverse``: the
    anchor is the last step of the longest path, so paths are right-aligned)."""
    width = max((len(p["path"]) for p in top), default=0)
    nodes: dict[tuple[int, str], int] = {}
    links: dict[tuple[int, int], int] = {}
    for p in top:
        offset = width - len(p["path"]) if reverse else 0
        ids = []
        for i, name in enumerate(p["path"]):
            key = (offset + i + 1, name)
            if key not in nodes:
                nodes[key] = len(nodes)
            ids.append(nodes[key])
        for a, b in pairwise(ids):
            links[(a, b)] = links.get((a, b), 0) + p["customers"]
    order = sorted(nodes, key=lambda k: (k[0], k[1]))
    renum = {nodes[k]: i for i, k in enumerate(order)}
    return {
        "nodes": [{"id": i, "step": k[0], "name": k[1]} for i, k in enumerate(order)],
        "links": sorted(
            ({"source": renum[a], "target": renum[b], "customers": c} for (a, b), c in links.items()),
            key=lambda x: (x["source"], x["target"]),
        ),
    }


@dataclass(frozen=True)
class PathsResult:
    """``top`` ([{path, customers, share, continued}]), ``other`` ({customers, share, paths}),
    ``customers`` (total), ``neighbours`` (next/previous node distribution, anchored only)."""

    level: str
    direction: str
    anchor: str | None
    steps: int
    customers: int
    distinct_paths: int
    top: tuple[dict[str, Any], ...]
    other: dict[str, Any]
    neighbours: tuple[dict[str, Any], ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def neighbours_key(self) -> str:
        return "previous" if self.direction == "reverse" else "next"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "level": self.level,
            "direction": self.direction,
            "anchor": self.anchor,
            "steps": self.steps,
            "customers": self.customers,
            "distinct_paths": self.distinct_paths,
            "top": [dict(p, path=list(p["path"])) for p in self.top],
            "other": self.other,
        }
        if self.neighbours is not None:
            out[self.neighbours_key] = list(self.neighbours)
        out["sankey"] = sankey(self.top, reverse=self.direction == "reverse")
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per top path, then the "other" row (``path`` is ``(other)``)."""
        flat: list[dict[str, Any]] = [
            {
                "rank": i,
                "path": ARROW.join(p["path"]),
                "steps": len(p["path"]),
                "customers": p["customers"],
                "share": p["share"],
                "continued": p["continued"],
            }
            for i, p in enumerate(self.top, start=1)
        ]
        flat.append(
            {
                "rank": None,
                "path": "(other)",
                "steps": None,
                "customers": self.other["customers"],
                "share": self.other["share"],
                "continued": None,
            }
        )
        return uniform(flat)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        where = {"forward": "from the start", "reverse": "up to"}[self.direction]
        if self.anchor is not None and self.direction == "forward":
            where = "from"
        title = (
            f"top paths ({self.level}s, up to {self.steps} steps) {where}"
            + (f" {self.anchor}" if self.anchor else "")
            + f": {self.customers} customers, {self.distinct_paths} distinct paths"
        )
        lines = [
            (r["path"] + (" ..." if r["continued"] else ""), str(r["customers"]), pct(r["share"]))
            for r in self.rows()
        ]
        text = text_table(("path", "customers", "share"), lines, title=title)
        if self.neighbours is not None:
            text += "\n\n" + text_table(
                (f"{self.neighbours_key} step", "customers", "share"),
                [
                    (
                        n["node"] or ("(end)" if self.direction == "forward" else "(start)"),
                        str(n["customers"]),
                        pct(n["share"]),
                    )
                    for n in self.neighbours
                ],
            )
        return text

    def __str__(self) -> str:
        return self.to_text()


def build_paths_result(
    *,
    level: str,
    direction: str,
    anchor: str | None,
    steps: int,
    top: Sequence[Sequence[str | None]],
    counts: Sequence[tuple[int, int]],
    customers: int,
    distinct: int,
    neighbours: Sequence[tuple[str | None, int]] | None,
    meta: dict[str, Any] | None = None,
) -> PathsResult:
    """``top``: node names p0.. per path, in the engine's order; ``counts``: (customers, continued)
    per path; ``neighbours``: (node or None, customers), any order."""
    rows: list[dict[str, Any]] = []
    for nodes, (n, cont) in zip(top, counts, strict=True):
        present = [x for x in nodes if x is not None]
        path = list(reversed(present)) if direction == "reverse" else present
        rows.append({"path": tuple(path), "customers": n, "share": ratio(n, customers), "continued": cont})
    in_top = sum(r["customers"] for r in rows)
    other = {
        "customers": customers - in_top,
        "share": ratio(customers - in_top, customers),
        "paths": distinct - len(rows),
    }
    nb = None
    if neighbours is not None:
        ordered = sorted(neighbours, key=lambda x: (-x[1], x[0] is None, x[0] or ""))
        nb = tuple({"node": k, "customers": c, "share": ratio(c, customers)} for k, c in ordered)
    return PathsResult(
        level, direction, anchor, steps, customers, distinct, tuple(rows), other, nb, meta or {}
    )
