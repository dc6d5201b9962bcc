"""Figures of the journeys section: a Sankey of the top paths, the stage transition matrix, the
skip matrix and one customer's journey map (docs/semantics-journeys.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _layout, _plotly_text
from ._format import fmt_count, fmt_pct
from ._parts import get_count, get_list, get_map, get_number

__all__ = ["journey_map_figure", "matrix_figure", "sankey_figure", "skip_matrix", "transition_matrix"]

_CHANNEL_COLORS = ("#4f46e5", "#0d9488", "#d97706", "#db2777", "#0284c7", "#65a30d", "#7c3aed", "#dc2626")
_NO_STAGE = "(no stage)"


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def sankey_figure(paths: Mapping[str, Any], colors: Mapping[str, str]) -> go.Figure:
    """The paths result's ``sankey`` (nodes per step, links weighted by customers)."""
    sankey = get_map(paths, "sankey")
    nodes = get_list(sankey, "nodes")
    links = get_list(sankey, "links")
    index = {get_count(n, "id"): i for i, n in enumerate(nodes)}
    names = [str(n.get("name")) for n in nodes]
    node_colors = [colors.get(name, PALETTE["muted"]) for name in names]
    sources, targets, values, link_colors = [], [], [], []
    inflow = [0] * len(nodes)
    outflow = [0] * len(nodes)
    for link in links:
        s, t = index.get(get_count(link, "source")), index.get(get_count(link, "target"))
        v = get_count(link, "customers") or 0
        if s is None or t is None or v <= 0:
            continue
        sources.append(s)
        targets.append(t)
        values.append(v)
        link_colors.append(_rgba(node_colors[s], 0.28))
        inflow[t] += v
        outflow[s] += v
    shown = [max(a, b) for a, b in zip(inflow, outflow, strict=True)]
    labels = [f"{_plotly_text(name)} \u00b7 {shown[i]:,}" for i, name in enumerate(names)]
    steps = [get_count(n, "step") or 0 for n in nodes]
    trace = go.Sankey(
        arrangement="snap",
        valueformat=",d",
        node={
            "label": labels,
            "color": node_colors,
            "pad": 14,
            "thickness": 16,
            "line": {"color": "#ffffff", "width": 0.5},
            "customdata": steps,
            "hovertemplate": "%{label}<br>step %{customdata}<extra></extra>",
        },
        link={
            "source": sources,
            "target": targets,
            "value": values,
            "color": link_colors,
            "hovertemplate": "%{source.label} \u2192 %{target.label}<br>%{value:,} customers<extra></extra>",
        },
    )
    depth = max(steps, default=1)
    layout = _layout(height=max(320, min(560, 90 + 38 * max(1, len(nodes) // max(depth, 1)) * 2)))
    layout["margin"] = {"l": 8, "r": 8, "t": 8, "b": 8}
    layout["font"] = {**layout["font"], "size": 12}
    return go.Figure(data=[trace], layout=layout)


def transition_matrix(
    transitions: Mapping[str, Any],
) -> tuple[list[str], list[str], list[list[float | None]]]:
    """Rows: nodes in the result's order; columns: the nodes, then ``(end)``; cells: the
    probability of the move (each row adds up to 1)."""
    rows = [str(n.get("node")) for n in get_list(transitions, "nodes")]
    cols = [*rows, "(end)"]
    at = {name: i for i, name in enumerate(rows)}
    matrix: list[list[float | None]] = [[None] * len(cols) for _ in rows]
    for e in get_list(transitions, "edges"):
        a = at.get(str(e.get("from")))
        to = e.get("to")
        b = len(rows) if to is None else at.get(str(to))
        if a is not None and b is not None:
            matrix[a][b] = get_number(e, "probability")
    return rows, cols, matrix


def skip_matrix(journeys: Mapping[str, Any]) -> tuple[list[str], list[str], list[list[float | None]]]:
    """Rows: stages reached (from the 2nd); columns: earlier stages; cells: the share of the
    customers who reached the row's stage without ever entering the column's stage."""
    stages = [str(s) for s in journeys.get("stages") or []]
    rows, matrix = [], []
    for s in get_list(journeys, "skips"):
        skipped = {str(k.get("stage")): get_number(k, "share") for k in get_list(s, "skipped")}
        if not skipped:
            continue
        rows.append(str(s.get("stage")))
        matrix.append([skipped.get(c) for c in stages[:-1]])
    return rows, stages[:-1], matrix


def matrix_figure(
    rows: Sequence[str],
    cols: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    *,
    color: str,
    hover: str,
) -> go.Figure:
    """A heatmap of shares with the percentage in every cell (blank: not applicable)."""
    text = [
        ["" if v is None else ("\u00b7" if v == 0 else fmt_pct(v, 0 if v >= 0.1 else 1)) for v in r]
        for r in matrix
    ]
    trace = go.Heatmap(
        z=[[None if v is None else v for v in r] for r in matrix],
        x=[_plotly_text(c) for c in cols],
        y=[_plotly_text(r) for r in rows],
        text=text,
        texttemplate="%{text}",
        textfont={"size": 12},
        colorscale=[[0.0, "#ffffff"], [0.15, _rgba(color, 0.25)], [1.0, color]],
        zmin=0.0,
        zmax=1.0,
        xgap=2,
        ygap=2,
        showscale=False,
        hovertemplate=hover + "<extra></extra>",
        hoverongaps=False,
    )
    layout = _layout(
        height=max(220, 90 + 38 * len(rows)),
        margin={"l": 10, "r": 10, "t": 10, "b": 10, "pad": 2},
        xaxis={"side": "top", "fixedrange": True, "automargin": True, "tickangle": -35},
        yaxis={"autorange": "reversed", "fixedrange": True, "automargin": True},
    )
    return go.Figure(data=[trace], layout=layout)


def pick_journey(journey_map: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The customer's journey, or of the sampled ones the one through the most distinct stages
    (ties: the first)."""
    single = get_map(journey_map, "customer")
    if single:
        return single
    best: Mapping[str, Any] | None = None
    for cluster in get_list(journey_map, "clusters"):
        for sample in get_list(cluster, "samples"):
            if best is None or len(set(sample.get("path") or [])) > len(set(best.get("path") or [])):
                best = sample
    return best


def journey_map_figure(journey: Mapping[str, Any], stages: Sequence[str]) -> go.Figure:
    """Touchpoints over time: one row per stage (model order), one colour per channel, a grey line
    through them in time order."""
    timeline = get_list(journey, "timeline")
    rows = [*stages, _NO_STAGE]
    y = [str((e.get("stages") or [_NO_STAGE])[0]) for e in timeline]
    x = [str(e.get("timestamp")) for e in timeline]
    path = go.Scatter(
        x=x,
        y=y,
        mode="lines",
        line={"color": "#cbd5e1", "width": 1.5, "shape": "hv"},
        hoverinfo="skip",
        showlegend=False,
    )
    channels: list[str] = []
    for e in timeline:
        c = str(e.get("channel") if e.get("channel") is not None else "(none)")
        if c not in channels:
            channels.append(c)
    traces: list[go.Scatter] = [path]
    for i, channel in enumerate(channels):
        picked = [
            e
            for e in timeline
            if str(e.get("channel") if e.get("channel") is not None else "(none)") == channel
        ]
        traces.append(
            go.Scatter(
                x=[str(e.get("timestamp")) for e in picked],
                y=[str((e.get("stages") or [_NO_STAGE])[0]) for e in picked],
                mode="markers",
                name=_plotly_text(channel),
                marker={
                    "size": 12,
                    "color": _CHANNEL_COLORS[i % len(_CHANNEL_COLORS)],
                    "line": {"color": "#ffffff", "width": 1.5},
                },
                customdata=[
                    [
                        _plotly_text(str(e.get("event"))),
                        "" if e.get("revenue") is None else f"revenue {e['revenue']}",
                    ]
                    for e in picked
                ],
                hovertemplate="<b>%{customdata[0]}</b> · "
                + _plotly_text(channel)
                + "<br>%{x}<br>%{customdata[1]}<extra></extra>",
            )
        )
    used = [r for r in rows if r in set(y)] or rows
    layout = _layout(
        height=max(240, 80 + 40 * len(used)),
        showlegend=True,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "title": {"text": "channel "}},
        margin={"l": 10, "r": 16, "t": 40, "b": 10, "pad": 4},
        xaxis={"type": "date", "gridcolor": PALETTE["line"], "automargin": True},
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(reversed(used)),
            "automargin": True,
            "gridcolor": PALETTE["line"],
            "fixedrange": True,
        },
    )
    return go.Figure(data=traces, layout=layout)


def describe_journey(journey: Mapping[str, Any]) -> str:
    """customer c000075: 6 touchpoints, path awareness > interest > awareness, fitness 50%."""
    events = (
        get_count(journey, "events")
        or get_count(journey, "stage_events")
        or len(get_list(journey, "timeline"))
    )
    text = f"Customer {journey.get('customer')}: {fmt_count(events)} touchpoints"
    path = journey.get("path") or []
    if path:
        text += ", path " + " \u2192 ".join(str(p) for p in path)
    fitness = get_number(journey, "fitness")
    if fitness is not None:
        text += f", fitness {fmt_pct(fitness, 0)}"
    return text + "."
