"""The result of ``transitions``: a graph of nodes (stages or event names) and edges with counts,
probabilities (each node's outgoing probabilities, the end included, add up to 1) and median times
(docs/semantics-journeys.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model._text import pct, ratio, text_table, uniform
from hourglass.model.results import format_duration

__all__ = ["TransitionsResult", "build_transitions_result"]


@dataclass(frozen=True)
class TransitionsResult:
    """``nodes``: [{node, visits, ends}] in order (model order, or most visited first);
    ``edges``: [{from, to (None: the sequence ended), moves, customers, probability, median_time_s,
    p90_time_s}]."""

    level: str
    collapse: bool
    customers: int
    nodes: tuple[dict[str, Any], ...]
    edges: tuple[dict[str, Any], ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "collapse": self.collapse,
            "customers": self.customers,
            "nodes": list(self.nodes),
            "edges": list(self.edges),
            "meta": self.meta,
        }

    def rows(self) -> list[dict[str, Any]]:
        return uniform([dict(e) for e in self.edges])

    def matrix(self) -> dict[str, Any]:
        """Dense probabilities: rows are nodes, columns nodes then ``(end)``."""
        names = [n["node"] for n in self.nodes]
        index = {n: i for i, n in enumerate(names)}
        m = [[0.0] * (len(names) + 1) for _ in names]
        for e in self.edges:
            col = len(names) if e["to"] is None else index[e["to"]]
            m[index[e["from"]]][col] = e["probability"] or 0.0
        return {"rows": names, "columns": [*names, "(end)"], "probability": m}

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        title = f"{self.level} transitions ({self.customers} customers" + (
            ", repeats collapsed)" if self.collapse else ")"
        )
        if self.level == "stage":
            m = self.matrix()
            return text_table(
                ("from \\ to", *m["columns"]),
                [
                    (r, *(pct(p) if p else "." for p in row))
                    for r, row in zip(m["rows"], m["probability"], strict=True)
                ],
                title=title,
            )
        lines = [
            (
                e["from"],
                e["to"] or "(end)",
                str(e["moves"]),
                pct(e["probability"]),
                format_duration(e["median_time_s"]),
            )
            for e in self.edges
        ]
        return text_table(("from", "to", "moves", "probability", "median time"), lines, title=title)

    def __str__(self) -> str:
        return self.to_text()


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def build_transitions_result(
    *,
    level: str,
    collapse: bool,
    customers: int,
    edges: Sequence[dict[str, Any]],
    order: Sequence[str] | None = None,
    meta: dict[str, Any] | None = None,
) -> TransitionsResult:
    """``edges``: {from, to, moves, customers, median_s, p90_s} with node names; ``order`` the
    node order (stages), else most visited first, then by name."""
    visits: dict[str, int] = {}
    ends: dict[str, int] = {}
    for e in edges:
        visits[e["from"]] = visits.get(e["from"], 0) + int(e["moves"])
        if e["to"] is None:
            ends[e["from"]] = int(e["moves"])
    names = (
        [n for n in order if n in visits]
        if order is not None
        else sorted(visits, key=lambda n: (-visits[n], n))
    )
    rank = {n: i for i, n in enumerate(names)}
    out = [
        {
            "from": e["from"],
            "to": e["to"],
            "moves": int(e["moves"]),
            "customers": int(e["customers"]),
            "probability": ratio(int(e["moves"]), visits[e["from"]]),
            "median_time_s": None if e["to"] is None else _num(e["median_s"]),
            "p90_time_s": None if e["to"] is None else _num(e["p90_s"]),
        }
        for e in edges
    ]
    out.sort(key=lambda e: (rank[e["from"]], -e["moves"], e["to"] is None, rank.get(e["to"], len(rank))))
    nodes = tuple({"node": n, "visits": visits[n], "ends": ends.get(n, 0)} for n in names)
    return TransitionsResult(level, collapse, customers, nodes, tuple(out), meta or {})
