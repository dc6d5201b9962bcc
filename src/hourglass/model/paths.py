"""The result of ``paths``: the top paths with an "other" bucket whose numbers add up to the
totals, the next/previous node around an anchor, Sankey data of the top paths, and the same per
value of a breakdown column (docs/semantics-journeys.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from hourglass.model._text import pct, ratio, text_table, uniform
from hourglass.model.journeys_spec import OTHER

__all__ = ["ELLIPSIS", "PathsResult", "build_paths_result", "path_text", "sankey"]

ARROW = " > "
ELLIPSIS = "…"


def path_text(path: Sequence[str], continued: int, direction: str, arrow: str = ARROW) -> str:
    """The path's nodes joined by ``arrow``, with an ellipsis where the customers' sequences go on
    beyond the cut: after the last node (forward), before the first (reverse: the path ends at the
    ``--to`` node, so it was cut at its start)."""
    text = arrow.join(path)
    if not continued:
        return text
    return f"{ELLIPSIS} {text}" if direction == "reverse" else f"{text} {ELLIPSIS}"


def sankey(
    top: Sequence[dict[str, Any]], *, reverse: bool = False, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Nodes (one per step and node name) and links between consecutive steps, weighted by the
    customers of the top paths. Steps count from 1 at the path's first node (``reverse``: the
    anchor is the last step of the longest path, so paths are right-aligned). Each node has its
    ``label`` (the stage's label, else its name), its ``customers`` (top paths through it),
    ``ends``: customers whose sequence ends there (forward) or starts there (reverse), and ``cut``:
    customers whose sequence goes on beyond the path's cut there."""
    width = max((len(p["path"]) for p in top), default=0)
    nodes: dict[tuple[int, str], dict[str, int]] = {}
    links: dict[tuple[tuple[int, str], tuple[int, str]], int] = {}
    for p in top:
        n, cont = int(p["customers"]), int(p["continued"] or 0)
        offset = width - len(p["path"]) if reverse else 0
        keys = [(offset + i + 1, name) for i, name in enumerate(p["path"])]
        for key in keys:
            nodes.setdefault(key, {"customers": 0, "ends": 0, "cut": 0})["customers"] += n
        if keys:
            edge = nodes[keys[0] if reverse else keys[-1]]
            edge["ends"] += n - cont
            edge["cut"] += cont
        for a, b in pairwise(keys):
            links[(a, b)] = links.get((a, b), 0) + n
    names = labels or {}
    rank = {name: i for i, name in enumerate(names)}  # stages in model order, then by name
    order = sorted(nodes, key=lambda k: (k[0], rank.get(k[1], len(rank)), k[1]))
    ids = {k: i for i, k in enumerate(order)}
    return {
        "nodes": [
            {"id": i, "step": k[0], "name": k[1], "label": names.get(k[1], k[1]), **nodes[k]}
            for i, k in enumerate(order)
        ],
        "links": sorted(
            ({"source": ids[a], "target": ids[b], "customers": c} for (a, b), c in links.items()),
            key=lambda x: (x["source"], x["target"]),
        ),
    }


@dataclass(frozen=True)
class PathsResult:
    """``top`` ([{path, customers, share, continued}]), ``other`` ({customers, share, paths}),
    ``customers`` (total), ``neighbours`` (next/previous node distribution, anchored only);
    ``labels``: stage name -> label (stage level); with a breakdown, ``groups``: [{value,
    customers, distinct_paths, top, other, next/previous}] per value of the ``breakdown`` column."""

    level: str
    direction: str
    anchor: str | None
    depth: int
    customers: int
    distinct_paths: int
    top: tuple[dict[str, Any], ...]
    other: dict[str, Any]
    neighbours: tuple[dict[str, Any], ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    labels: Mapping[str, str] = field(default_factory=dict)
    breakdown: str | None = None
    groups: tuple[dict[str, Any], ...] = ()

    @property
    def steps(self) -> int:
        """The old name of :attr:`depth`."""
        return self.depth

    @property
    def neighbours_key(self) -> str:
        return "previous" if self.direction == "reverse" else "next"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "level": self.level,
            "direction": self.direction,
            "anchor": self.anchor,
            "depth": self.depth,
            "customers": self.customers,
            "distinct_paths": self.distinct_paths,
            "top": [dict(p, path=list(p["path"])) for p in self.top],
            "other": self.other,
        }
        if self.neighbours is not None:
            out[self.neighbours_key] = list(self.neighbours)
        out["sankey"] = sankey(self.top, reverse=self.direction == "reverse", labels=self.labels)
        if self.breakdown is not None:
            out["breakdown"] = self.breakdown
            out["groups"] = [
                {**g, "top": [dict(p, path=list(p["path"])) for p in g["top"]]} for g in self.groups
            ]
        out["meta"] = self.meta
        return out

    def _rows(self, top: Sequence[dict[str, Any]], other: Mapping[str, Any]) -> list[dict[str, Any]]:
        flat: list[dict[str, Any]] = [
            {
                "rank": i,
                "path": ARROW.join(p["path"]),
                "steps": len(p["path"]),
                "customers": p["customers"],
                "share": p["share"],
                "continued": p["continued"],
            }
            for i, p in enumerate(top, start=1)
        ]
        flat.append(
            {
                "rank": None,
                "path": "(other)",
                "steps": None,
                "customers": other["customers"],
                "share": other["share"],
                "continued": None,
            }
        )
        return flat

    def rows(self) -> list[dict[str, Any]]:
        """One row per top path, then the "other" row (``path`` is ``(other)``); with a breakdown,
        those of every group with the breakdown column first."""
        if self.breakdown is None:
            return uniform(self._rows(self.top, self.other))
        return uniform(
            [{self.breakdown: g["value"], **r} for g in self.groups for r in self._rows(g["top"], g["other"])]
        )

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def _table(self, top: Sequence[dict[str, Any]], other: Mapping[str, Any], title: str) -> str:
        lines = [
            (
                r["path"] if r["rank"] is None else path_text(p["path"], r["continued"], self.direction),
                str(r["customers"]),
                pct(r["share"]),
            )
            for r, p in zip(self._rows(top, other), [*top, {}], strict=True)
        ]
        return text_table(("path", "customers", "share"), lines, title=title)

    def to_text(self) -> str:
        where = {"forward": "from the start", "reverse": "up to"}[self.direction]
        if self.anchor is not None and self.direction == "forward":
            where = "from"
        title = (
            f"top paths ({self.level}s, up to {self.depth} steps) {where}"
            + (f" {self.anchor}" if self.anchor else "")
            + f": {self.customers} customers, {self.distinct_paths} distinct paths"
        )
        text = self._table(self.top, self.other, title)
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
        for g in self.groups:
            value = "(none)" if g["value"] is None else g["value"]
            head = f"{self.breakdown} = {value}: {g['customers']} customers, {g['distinct_paths']} paths"
            text += "\n\n" + self._table(g["top"], g["other"], head)
        return text

    def __str__(self) -> str:
        return self.to_text()


def _assemble(
    direction: str,
    top: Sequence[Sequence[str | None]],
    counts: Sequence[tuple[int, int]],
    customers: int,
    distinct: int,
    neighbours: Sequence[tuple[str | None, int]] | None,
) -> tuple[tuple[dict[str, Any], ...], dict[str, Any], tuple[dict[str, Any], ...] | None]:
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
    return tuple(rows), other, nb


def build_paths_result(
    *,
    level: str,
    direction: str,
    anchor: str | None,
    depth: int,
    top: Sequence[Sequence[str | None]],
    counts: Sequence[tuple[int, int]],
    customers: int,
    distinct: int,
    neighbours: Sequence[tuple[str | None, int]] | None,
    meta: dict[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    breakdown: str | None = None,
    groups: Sequence[dict[str, Any]] = (),
) -> PathsResult:
    """``top``: node names p0.. per path, in the engine's order; ``counts``: (customers, continued)
    per path; ``neighbours``: (node or None, customers), any order. ``groups``: per breakdown value
    a dict of ``value`` and the same ``top``, ``counts``, ``customers``, ``distinct`` and
    ``neighbours``; sorted by customers (descending), then value, a missing value last."""
    rows, other, nb = _assemble(direction, top, counts, customers, distinct, neighbours)
    out_groups = []
    for g in groups:
        g_rows, g_other, g_nb = _assemble(
            direction, g["top"], g["counts"], g["customers"], g["distinct"], g["neighbours"]
        )
        item: dict[str, Any] = {
            "value": g["value"],
            "customers": g["customers"],
            "distinct_paths": g["distinct"],
            "top": g_rows,
            "other": g_other,
        }
        if g_nb is not None:
            item["previous" if direction == "reverse" else "next"] = list(g_nb)
        out_groups.append(item)
    out_groups.sort(key=lambda g: (g["value"] == OTHER, -g["customers"], g["value"] is None, str(g["value"])))
    return PathsResult(
        level,
        direction,
        anchor,
        depth,
        customers,
        distinct,
        rows,
        other,
        nb,
        meta or {},
        dict(labels or {}),
        breakdown,
        tuple(out_groups),
    )
