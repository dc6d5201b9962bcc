"""The journeys section's journey map (docs/semantics-journeys.md): one customer's touchpoints over
time, a row per stage, coloured by channel, and the sentence that describes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _layout, _plotly_text
from ._format import fmt_count, fmt_pct
from ._parts import get_count, get_list, get_map, get_number

__all__ = ["describe_journey", "journey_map_figure", "pick_journey"]

_CHANNEL_COLORS = ("#4f46e5", "#0d9488", "#d97706", "#db2777", "#0284c7", "#65a30d", "#7c3aed", "#dc2626")
_NO_STAGE = "(no stage)"


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


def journey_map_figure(
    journey: Mapping[str, Any], stages: Sequence[str], labels: Mapping[str, str] | None = None
) -> go.Figure:
    """Touchpoints over time: one row per stage (model order, named by ``labels`` where given), one
    colour per channel (no legend when the source has no channel), a grey line through them in
    time order."""
    timeline = get_list(journey, "timeline")
    label = dict(labels or {})

    def row_of(e: Mapping[str, Any]) -> str:
        stage = str((e.get("stages") or [_NO_STAGE])[0])
        return label.get(stage, stage)

    rows = [*(label.get(s, s) for s in stages), _NO_STAGE]
    y = [row_of(e) for e in timeline]
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
                y=[row_of(e) for e in picked],
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
        showlegend=channels != ["(none)"],
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "title": {"text": "channel "}},
        margin={"l": 10, "r": 16, "t": 40 if channels != ["(none)"] else 16, "b": 10, "pad": 4},
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
