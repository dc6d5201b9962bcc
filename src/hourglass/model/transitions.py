"""The result of ``transitions``: a graph of nodes (stages or event names) and edges with counts,
probabilities (each node's outgoing probabilities, the end included, add up to 1) and median times
(docs/semantics-journeys.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model._text import pct, ratio, text_table, uniform
from hourglass.model.journeys_spec import OTHER
from hourglass.model.results import format_duration
from hourglass.model.transition_edges import EdgeColumns, Rows, graph_columns

__all__ = ["EdgeColumns", "TransitionsResult", "build_transitions_result"]


@dataclass(frozen=True)
class TransitionsResult:
    """``nodes``: [{node, visits, ends}] in order (model order, or most visited first);
    ``edges``: [{from, to (None: the sequence ended), moves, customers, probability, median_time_s,
    p90_time_s}]. With a breakdown, ``groups``: [{value, customers, nodes, edges}] per value of
    the ``breakdown`` column at the customer's first element. ``nodes`` and ``edges`` are
    read-only sequences of dicts: from the engine's columns (millions of edges on a log of 10^6
    event names) each dict is built when it is read (model/transition_edges.py)."""

    level: str
    collapse: bool
    customers: int
    nodes: Sequence[dict[str, Any]]
    edges: Sequence[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    breakdown: str | None = None
    groups: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "level": self.level,
            "collapse": self.collapse,
            "customers": self.customers,
            "nodes": list(self.nodes),
            "edges": list(self.edges),
        }
        if self.breakdown is not None:
            out["breakdown"] = self.breakdown
            out["groups"] = [dict(g) for g in self.groups]
        out["meta"] = self.meta
        return out

    def rows(self) -> Sequence[dict[str, Any]]:
        """One row per edge; with a breakdown, per group and edge (the breakdown column first)."""
        if self.breakdown is None:
            if isinstance(self.edges, Rows):
                return self.edges  # built when read: the same keys on every row
            return uniform([dict(e) for e in self.edges])
        return uniform([{self.breakdown: g["value"], **e} for g in self.groups for e in g["edges"]])

    def matrix(self) -> dict[str, Any]:
        """Dense probabilities: rows are nodes, columns nodes then ``(end)``."""
        return _matrix(self.nodes, self.edges)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        title = f"{self.level} transitions ({self.customers} customers" + (
            ", repeats collapsed)" if self.collapse else ")"
        )
        parts = [self._text(self.nodes, self.edges, title)]
        for g in self.groups:
            value = "(none)" if g["value"] is None else g["value"]
            head = f"{self.breakdown} = {value} ({g['customers']} customers)"
            parts.append(self._text(g["nodes"], g["edges"], head))
        return "\n\n".join(parts)

    def _text(self, nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]], title: str) -> str:
        if self.level == "stage":
            m = _matrix(nodes, edges)
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
            for e in edges
        ]
        return text_table(("from", "to", "moves", "probability", "median time"), lines, title=title)

    def __str__(self) -> str:
        return self.to_text()


def _matrix(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]]) -> dict[str, Any]:
    names = [n["node"] for n in nodes]
    index = {n: i for i, n in enumerate(names)}
    m = [[0.0] * (len(names) + 1) for _ in names]
    for e in edges:
        col = len(names) if e["to"] is None else index[e["to"]]
        m[index[e["from"]]][col] = e["probability"] or 0.0
    return {"rows": names, "columns": [*names, "(end)"], "probability": m}


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _graph(
    edges: Sequence[dict[str, Any]], order: Sequence[str] | None
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
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
    out: list[dict[str, Any]] = [
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
    return nodes, tuple(out)


def build_transitions_result(
    *,
    level: str,
    collapse: bool,
    customers: int | None = None,
    edges: Sequence[dict[str, Any]] | EdgeColumns,
    order: Sequence[str] | None = None,
    meta: dict[str, Any] | None = None,
    breakdown: str | None = None,
    groups: Sequence[tuple[Any, Sequence[dict[str, Any]]]] = (),
) -> TransitionsResult:
    """``edges``: {from, to, moves, customers, median_s, p90_s} with node names, or the same as
    :class:`EdgeColumns`; ``order`` the node order (stages), else most visited first, then by name.
    ``customers`` None: the moves to the end (each sequence ends once). ``groups``: (value, its
    edges) per breakdown value; sorted by customers (descending), then value, a missing value last."""
    nodes: Sequence[dict[str, Any]]
    out: Sequence[dict[str, Any]]
    if isinstance(edges, EdgeColumns):
        nodes, out, ended = graph_columns(edges, order)
    else:
        nodes, out = _graph(edges, order)
        ended = sum(int(e["moves"]) for e in edges if e["to"] is None)
    customers = ended if customers is None else customers
    out_groups = []
    for value, g_edges in groups:
        g_nodes, g_out = _graph(g_edges, order)
        n = sum(int(e["moves"]) for e in g_edges if e["to"] is None)  # each sequence ends once
        out_groups.append({"value": value, "customers": n, "nodes": list(g_nodes), "edges": list(g_out)})
    out_groups.sort(key=lambda g: (g["value"] == OTHER, -g["customers"], g["value"] is None, str(g["value"])))
    return TransitionsResult(level, collapse, customers, nodes, out, meta or {}, breakdown, tuple(out_groups))
