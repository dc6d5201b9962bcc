"""The dashboard's own charts (plotly figures as JSON for ``Plotly.newPlot``): the funnel builder's
bars, whose points carry the URL of the people behind them (a click lists them)."""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go

from hourglass.interfaces.reports._charts import FONT_STACK, PALETTE, PLOTLY_CONFIG, _plotly_text, _unique

from .funnel_view import FunnelView

__all__ = ["GROUP_COLORS", "compare_figure", "figure_json", "funnel_figure"]

GROUP_COLORS = ("#4f46e5", "#0d9488", "#d97706", "#db2777", "#2563eb", "#65a30d", "#7c3aed", "#0891b2")
OTHER_COLOR = "#9ca3af"


def _pct(value: float | None) -> str:
    return "not measured" if value is None else f"{value * 100:.1f}%"


def funnel_figure(view: FunnelView, people_url: str) -> go.Figure:
    """One bar per step (one trace per breakdown group); ``customdata`` is each bar's people URL."""
    traces = []
    many = len(view.groups) > 1 or view.by is not None
    labels = _unique([_plotly_text(label) for label in view.labels])  # user text shows literally
    for i, g in enumerate(view.groups):
        color = OTHER_COLOR if g.label == "(other)" else GROUP_COLORS[i % len(GROUP_COLORS)]
        urls, texts, hovers = [], [], []
        for k, row in enumerate(g.rows, start=1):
            extra = f"&group={_quote(g.group)}" if g.group is not None else ""
            urls.append(f"{people_url}&step={k}&kind=reached{extra}")
            share = row["conversion_from_first"]
            shown = share is not None and k > 1 and not many
            n = row["customers"]
            if n is None:  # a step no event matches: not measured, never a 0 bar
                texts.append("not measured")
                hovers.append(
                    f"{labels[k - 1]}: not measured ({row.get('customers_reason') or 'no such event'})"
                )
                continue
            texts.append(f"{n:,}" + (f" · {_pct(share)}" if shown else ""))
            hovers.append(
                f"{'<b>' + _plotly_text(g.label) + '</b><br>' if many else ''}{labels[k - 1]}: "
                f"{row['customers']:,} reached (in order within {view.query.window})<br>"
                f"of first: {_pct(share)} · of previous: {_pct(row['conversion_from_previous'])}"
                "<br><i>click: who they are</i>"
            )
        traces.append(
            go.Bar(
                x=labels,
                y=[row["customers"] for row in g.rows],
                name=_plotly_text(g.label) or "customers",
                marker={"color": color},
                text=texts,
                textposition="outside",
                cliponaxis=False,
                customdata=urls,
                hovertext=hovers,
                hoverinfo="text",
            )
        )
    layout = go.Layout(
        barmode="group",
        bargap=0.25,
        height=380,
        margin={"l": 56, "r": 16, "t": 28, "b": 48},
        font={"family": FONT_STACK, "color": PALETTE["ink"], "size": 13},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=many,
        legend={"orientation": "h", "y": 1.12, "x": 0},
        yaxis={"title": "customers", "gridcolor": PALETTE["line"], "rangemode": "tozero", "fixedrange": True},
        xaxis={"fixedrange": True},
        hoverlabel={"bgcolor": "white"},
        uniformtext={"minsize": 10, "mode": "hide"},
    )
    return go.Figure(data=traces, layout=layout)


def compare_figure(comparison: Any, ytitle: str = "% of the first step") -> go.Figure:
    """Conversion from the first step in period A and in period B, side by side."""
    rows = comparison.rows
    steps = _unique([_plotly_text(str(r["step"])) for r in rows])
    traces = []
    for key, name, color in (
        ("a_conversion", "A (these dates)", GROUP_COLORS[0]),
        ("b_conversion", "B (compared)", OTHER_COLOR),
    ):
        ys = [None if r[key] is None else 100 * r[key] for r in rows]
        traces.append(
            go.Bar(
                x=steps,
                y=ys,
                name=name,
                marker={"color": color},
                text=[_pct(r[key]) for r in rows],
                textposition="outside",
                cliponaxis=False,
                hoverinfo="x+name+text",
            )
        )
    layout = go.Layout(
        barmode="group",
        height=300,
        margin={"l": 56, "r": 16, "t": 28, "b": 48},
        font={"family": FONT_STACK, "color": PALETTE["ink"], "size": 13},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend={"orientation": "h", "y": 1.15, "x": 0},
        yaxis={
            "title": ytitle,
            "gridcolor": PALETTE["line"],
            "rangemode": "tozero",
            "fixedrange": True,
        },
        xaxis={"fixedrange": True},
        uniformtext={"minsize": 10, "mode": "hide"},
    )
    return go.Figure(data=traces, layout=layout)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def figure_json(figure: go.Figure) -> str:
    """The figure and the config as JSON safe inside a ``<script type="application/json">``."""
    spec: dict[str, Any] = json.loads(figure.to_json())
    spec["config"] = PLOTLY_CONFIG
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
