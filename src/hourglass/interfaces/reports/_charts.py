"""Plotly figures for the HTML report, serialised for ``Plotly.newPlot`` calls."""

from __future__ import annotations

import html
import json
from typing import Any

import plotly.graph_objects as go

from ._format import Section, fmt_count, fmt_interval, fmt_pct

FONT_STACK = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', 'Noto Sans', "
    "'Liberation Sans', Arial, sans-serif"
)

# The one colour palette of the report; the CSS reads the same values.
PALETTE = {
    "ink": "#1d2033",
    "muted": "#646a80",
    "line": "#e4e6f0",
    "bg": "#f5f6fb",
    "card": "#ffffff",
    "primary": "#4f46e5",
    "primary_dark": "#312e81",
    "primary_light": "#a5b4fc",
    "tint": "#eef0ff",
    "loss": "#e11d48",
    "loss_tint": "#fff1f3",
}

PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "displayModeBar": "hover",
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
}

_ZWSP = "\u200b"


def _blend(start: str, end: str, t: float) -> str:
    a = [int(start[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(end[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(x + (y - x) * t) for x, y in zip(a, b, strict=True)]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _plotly_text(text: str) -> str:
    """Plotly renders pseudo-HTML in labels; escape user text so it shows literally."""
    return html.escape(text, quote=False)


def _short(text: str, limit: int = 26) -> str:
    """Axis labels stay short so that the bars keep their room; hovers show the full name."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _unique(labels: list[str]) -> list[str]:
    """Plotly merges equal category names; keep repeated steps apart with zero-width spaces."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for label in labels:
        count = seen.get(label, 0)
        seen[label] = count + 1
        out.append(label + _ZWSP * count)
    return out


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": go.layout.Template(),  # independent of the user's plotly default template
        "height": height,
        "autosize": True,
        "margin": {"l": 10, "r": 24, "t": 8, "b": 8, "pad": 4},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT_STACK, "size": 13, "color": PALETTE["ink"]},
        "hoverlabel": {
            "bgcolor": PALETTE["ink"],
            "bordercolor": PALETTE["ink"],
            "font": {"family": FONT_STACK, "size": 12, "color": "#ffffff"},
        },
        "showlegend": False,
    }
    layout.update(extra)
    for axis in ("xaxis", "yaxis"):  # tick labels and titles get the room they need (small margins)
        given = layout.get(axis)
        layout[axis] = {"automargin": True, **(given if isinstance(given, dict) else {})}
    return layout


def _step_label(label: str, optional: bool) -> str:
    """A step's name on a funnel chart: an optional step says so (its bar is its own count)."""
    return f"{label} (optional)" if optional else label


def funnel_figure(section: Section) -> go.Figure:
    """Horizontal funnel: one bar per step, the largest-loss step in the accent colour; an optional
    step labelled "(optional)"; the tooltips name what is counted (customers, or chains under
    ``--count totals``)."""
    steps = section.steps
    loss = section.largest_loss
    first = steps[0].customers if steps else None
    n = len(steps)
    labels = _unique([_plotly_text(_step_label(_short(step.label), step.optional)) for step in steps])
    values = [step.customers or 0 for step in steps]
    texts: list[str] = []
    colors: list[str] = []
    hover: list[list[str]] = []
    for i, step in enumerate(steps):
        share = step.conv_first
        if share is None and first and step.customers is not None:
            share = step.customers / first
        texts.append(f"{fmt_count(step.customers)} \u00b7 {fmt_pct(share)}")
        t = i / (n - 1) if n > 1 else 0.0
        is_loss = loss is not None and loss.share_lost > 0 and loss.index == i
        colors.append(PALETTE["loss"] if is_loss else _blend(PALETTE["primary_dark"], "#7c83f2", t))
        hover.append(
            [
                fmt_interval(share, step.conv_first_low, step.conv_first_high),
                fmt_interval(step.conv_prev, step.conv_prev_low, step.conv_prev_high) if i > 0 else "\u2014",
                _plotly_text(_step_label(step.label, step.optional)),
            ]
        )
    trace = go.Funnel(
        y=labels,
        x=values,
        text=texts,
        textinfo="text",
        textposition="auto",
        insidetextfont={"color": "#ffffff", "size": 13},
        outsidetextfont={"color": PALETTE["ink"], "size": 13},
        constraintext="none",
        customdata=hover,
        hovertemplate=(
            f"<b>%{{customdata[2]}}</b><br>%{{x:,}} {_plotly_text(section.noun)}<br>of first: "
            "%{customdata[0]}<br>of previous: %{customdata[1]}<extra></extra>"
        ),
        marker={"color": colors, "line": {"width": 0}},
        connector={"fillcolor": PALETTE["tint"], "line": {"width": 0}},
        cliponaxis=False,
    )
    layout = _layout(
        height=max(180, 28 + 52 * n),
        margin={"l": 10, "r": 88, "t": 8, "b": 8, "pad": 4},
        yaxis={"automargin": True, "ticks": "", "ticklabelstandoff": 6},
        xaxis={"visible": False},
        funnelgap=0.18,
    )
    return go.Figure(data=[trace], layout=layout)


def overview_figure(sections: list[Section]) -> go.Figure:
    """One horizontal bar per model: overall conversion (last step / first step)."""
    labels = _unique([_plotly_text(_short(s.label)) for s in sections])
    names = [_plotly_text(s.label) for s in sections]
    values = [s.overall if s.overall is not None else 0.0 for s in sections]
    texts = [fmt_pct(s.overall) if s.overall is not None else "n/a" for s in sections]
    top = max([v for v in values if v > 0], default=1.0)
    trace = go.Bar(
        y=labels,
        x=values,
        orientation="h",
        text=texts,
        textposition="outside",
        cliponaxis=False,
        textfont={"color": PALETTE["ink"], "size": 13},
        marker={"color": PALETTE["primary"], "line": {"width": 0}},
        customdata=names,
        hovertemplate="<b>%{customdata}</b><br>overall conversion %{text}<extra></extra>",
        width=0.62,
    )
    layout = _layout(
        height=max(160, 56 + 44 * len(sections)),
        yaxis={"automargin": True, "autorange": "reversed", "ticks": "", "ticklabelstandoff": 8},
        xaxis={
            "range": [0, top * 1.18],
            "tickformat": ".0%",
            "nticks": 6,
            "gridcolor": PALETTE["line"],
            "zeroline": True,
            "zerolinecolor": PALETTE["line"],
            "ticks": "",
            "fixedrange": True,
            "tickfont": {"color": PALETTE["muted"], "size": 12},
        },
        margin={"l": 10, "r": 40, "t": 8, "b": 28, "pad": 4},
        bargap=0.3,
    )
    figure = go.Figure(data=[trace], layout=layout)
    figure.update_yaxes(fixedrange=True)
    return figure


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no '</script>', '<!--' or line separators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def new_plot_call(div_id: str, figure: go.Figure) -> str:
    """A ``Plotly.newPlot`` statement for one chart div."""
    spec = json.loads(figure.to_json())
    spec["config"] = PLOTLY_CONFIG
    return f"Plotly.newPlot({_script_json(div_id)}, {_script_json(spec)});"
