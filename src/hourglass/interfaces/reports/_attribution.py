"""Multi-touch attribution: which channels bring the conversions under every model side by side,
as grouped bars per channel, a table of the credits, cost per attributed conversion and ROI
when a spend table was given, and the hourglass stages per channel (a heat table) when asked.
Reads the attribution result's dict (docs/semantics-attribution.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _layout, _plotly_text, _short
from ._format import fmt_count, fmt_pct
from ._parts import (
    Part,
    esc,
    fmt_money,
    get_count,
    get_list,
    get_map,
    get_number,
    heat_style,
    na_cell,
    na_note,
    na_tile,
    reason_of,
    tile,
    tiles,
)

__all__ = [
    "ATTRIBUTION_BARS_DIV_ID",
    "ATTRIBUTION_CPA_DIV_ID",
    "attribution_bars_figure",
    "attribution_part",
]

ATTRIBUTION_BARS_DIV_ID = "hg-attribution-bars"
ATTRIBUTION_CPA_DIV_ID = "hg-attribution-cpa"
_DOT = " \u00b7 "
LABELS = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "last_non_direct": "Last non-direct",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position_based": "Position-based",
    "markov": "Markov",
    "shapley": "Shapley",
    "shapley_rate": "Shapley (rate)",
}
# heuristics in greys and indigos, the data-driven models in teal and amber
MODEL_COLORS = {
    "first_touch": "#c7d2fe",
    "last_touch": "#a5b4fc",
    "last_non_direct": "#818cf8",
    "linear": "#6366f1",
    "time_decay": "#4f46e5",
    "position_based": "#312e81",
    "markov": "#0d9488",
    "shapley": "#d97706",
    "shapley_rate": "#fbbf24",
}


def _models(result: Mapping[str, Any]) -> list[str]:
    raw = result.get("models")
    return [str(m) for m in raw] if isinstance(raw, list) else list(LABELS)


def _grouped(result: Mapping[str, Any], key: str, value_fmt: str, height: int = 340) -> go.Figure:
    """One bar group per channel, one bar per model, of ``channels[i][key][model]``."""
    channels = get_list(result, "channels")
    names = [_plotly_text(_short(str(c.get("channel")))) for c in channels]
    traces = []
    for m in _models(result):
        values = [get_number(get_map(c, key), m) for c in channels]
        traces.append(
            go.Bar(
                x=names,
                y=values,
                name=LABELS.get(m, m),
                marker={"color": MODEL_COLORS.get(m, PALETTE["primary"])},
                hovertemplate=f"%{{x}} \u00b7 {LABELS.get(m, m)}: %{{y:{value_fmt}}}<extra></extra>",
            )
        )
    layout = _layout(
        height=height,
        barmode="group",
        showlegend=True,
        legend={"orientation": "h", "y": 1.15, "x": 0},
        margin={"l": 10, "r": 10, "t": 40, "b": 30, "pad": 4},
        yaxis={"gridcolor": PALETTE["line"], "automargin": True, "fixedrange": True},
        xaxis={"type": "category", "fixedrange": True},
    )
    return go.Figure(data=traces, layout=layout)


def attribution_bars_figure(result: Mapping[str, Any]) -> go.Figure:
    """Conversions credited to each channel (groups) by each model (bars)."""
    return _grouped(result, "conversions", ",.1f")


def _table(result: Mapping[str, Any]) -> str:
    models = _models(result)
    head = '<th class="step">Channel</th><th>Touches</th>' + "".join(
        f"<th>{esc(LABELS.get(m, m))}</th>" for m in models
    )
    body = []
    for c in get_list(result, "channels"):
        conv = get_map(c, "conversions")
        cells = "".join(f"<td>{get_number(conv, m) or 0:,.1f}</td>" for m in models)
        body.append(
            f'<tr><td class="step">{esc(c.get("channel"))}</td><td>{fmt_count(get_count(c, "touches"))}</td>'
            f"{cells}</tr>"
        )
    return (
        '<div class="table-wrap"><table><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )


def _spend_table(result: Mapping[str, Any]) -> str:
    """Cost per attributed conversion and ROI per channel and model; a grey cell says why one is
    not measured."""
    models = _models(result)
    head = '<th class="step">Channel</th><th>Cost</th>' + "".join(
        f"<th>{esc(LABELS.get(m, m))}</th>" for m in models
    )
    body = []
    for c in get_list(result, "channels"):
        per, roi = get_map(c, "cost_per_conversion"), get_map(c, "roi")
        reasons = get_map(c, "reasons")
        cells = []
        for m in models:
            cpa, r = get_number(per, m), get_number(roi, m)
            if cpa is None:
                why = str(reasons.get(f"cost_per_conversion.{m}") or reason_of(c, "cost") or "not measured")
                cells.append(f'<td class="na" style="color:#9ca3af" title="{esc(why)}">\u2014</td>')
            else:
                sub = "" if r is None else f'<div class="s">ROI {fmt_pct(r, 0)}</div>'
                cells.append(f"<td>{fmt_money(cpa)}{sub}</td>")
        body.append(
            f'<tr><td class="step">{esc(c.get("channel"))}</td><td>{fmt_money(get_number(c, "cost"))}</td>'
            + "".join(cells)
            + "</tr>"
        )
    return (
        "<h3>Cost per attributed conversion (and ROI)</h3>"
        '<div class="table-wrap"><table><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )


def _stages_table(block: Mapping[str, Any]) -> str:
    """The hourglass stages per channel: each stage's customers credited to the channels under the
    chosen model, heat-coloured by the share of the stage's customers with a touch; then the
    customers without a touch and all who entered. A stage without events is a grey dash."""
    stages = get_list(block, "stages")
    channels = [str(c) for c in block.get("channels") or []]
    model = str(block.get("credit_model") or "")
    head = '<th class="step">Channel</th>' + "".join(
        f'<th title="{esc(s.get("label"))}">{esc(s.get("stage"))}</th>' for s in stages
    )
    body = []
    for c in channels:
        cells = []
        for s in stages:
            credits = get_map(s, "credits")
            if s.get("credits") is None:
                cells.append(na_cell(reason_of(s, "credits") or "not measured"))
                continue
            x = get_number(credits, c) or 0.0
            touched = get_count(s, "with_touch") or 0
            share = x / touched if touched else None
            cpc = get_number(get_map(s, "cost_per_customer"), c)
            hover = [] if share is None else [f"{share * 100:.0f}% of the stage\u2019s touched customers"]
            if cpc is not None:
                hover.append(f"cost per customer {fmt_money(cpc)}")
            title = f' title="{esc(_DOT.join(hover))}"' if hover else ""
            cells.append(f"<td{heat_style(share)}{title}>{x:,.1f}</td>")
        body.append(f'<tr><td class="step">{esc(c)}</td>{"".join(cells)}</tr>')
    for label, key in (("without a touch", "without_touch"), ("entered the stage", "customers")):
        cells = []
        for s in stages:
            n = get_count(s, key)
            cells.append(
                na_cell(reason_of(s, key) or "not measured") if n is None else f"<td>{fmt_count(n)}</td>"
            )
        body.append(f'<tr class="total"><td class="step"><em>{label}</em></td>{"".join(cells)}</tr>')
    return (
        f"<h3>Hourglass stages per channel \u00b7 {esc(LABELS.get(model, model))}</h3>"
        '<p class="description">The customers who entered each stage (at any time in the range), credited '
        f"to the channels that touched them in the {esc(block.get('lookback') or '30d')} before they "
        "entered it. A customer whose entering event was his first touch has no touch before it and "
        "is counted as without a touch.</p>"
        '<div class="table-wrap"><table class="hg-attribution-stages"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )


def _tiles(result: Mapping[str, Any]) -> str:
    markov = get_map(result, "markov")
    p = get_number(markov, "conversion_probability")
    items = [
        tile(
            "Conversions attributed",
            fmt_count(get_count(result, "conversions_attributed")),
            f"of {fmt_count(get_count(result, 'conversions'))} ({result.get('conversion')}); "
            "the rest had no touch",
        ),
        tile(
            "Non-converting journeys",
            fmt_count(get_count(result, "non_converting_journeys")),
            "count for Markov and Shapley",
        ),
        tile(
            "Markov P(conversion)",
            "\u2014" if p is None else fmt_pct(p),
            f"order {get_count(markov, 'order') or 1}, {fmt_count(get_count(markov, 'states'))} states",
        ),
    ]
    if result.get("revenue") is None:
        items.append(na_tile("Revenue attributed", reason_of(result, "revenue")))
    else:
        items.append(
            tile("Revenue attributed", fmt_money(get_number(result, "revenue_attributed")), "in total")
        )
    if not result.get("has_spend"):
        items.append(na_tile("Cost per conversion", "no spend table: give --spend FILE"))
    return tiles(items)


def attribution_part(result: Mapping[str, Any]) -> Part:
    """The attribution section of an attribution result dict (``AttributionResult.to_dict()``)."""
    channels = get_list(result, "channels")
    spec = get_map(result, "spec")
    parts = [
        '<section class="card" id="attribution"><div class="section-head"><h2>Which channels bring '
        f'conversions</h2><span class="badge">multi-touch attribution \u00b7 {esc(result.get("conversion"))}'
        "</span></div>"
        '<p class="description">Each conversion is credited to the channels that touched the customer in '
        f"the {esc(spec.get('lookback') or '30d')} before it. Heuristic models (first, last, linear, time "
        "decay, position) split one conversion by rule; the Markov removal effect and the Shapley value "
        "learn from the journeys that did not convert too. Every model's credits add up to the "
        "conversions attributed.</p>",
        _tiles(result),
    ]
    charts: list[tuple[str, go.Figure]] = []
    if channels:
        parts.append(
            "<h3>Conversions credited per channel, by model</h3>"
            f'<div class="chart" id="{ATTRIBUTION_BARS_DIV_ID}"></div>'
        )
        charts.append((ATTRIBUTION_BARS_DIV_ID, attribution_bars_figure(result)))
        parts.append(_table(result))
    else:
        parts.append('<p class="empty">No channel touch in the range.</p>')
    if result.get("has_spend") and channels:
        parts.append(_spend_table(result))
        if any(get_map(c, "cost_per_conversion") for c in channels):
            parts.append(f'<div class="chart" id="{ATTRIBUTION_CPA_DIV_ID}"></div>')
            charts.append((ATTRIBUTION_CPA_DIV_ID, _grouped(result, "cost_per_conversion", ",.2f", 300)))
    elif channels:
        parts.append(na_note("Cost per attributed conversion and ROI", "no spend table: give --spend FILE"))
    block = result.get("stages")
    if isinstance(block, Mapping):
        parts.append(_stages_table(block))
    pooled = result.get("pooled") or []
    if pooled:
        parts.append(
            f'<p class="note">{len(pooled)} channels with the fewest touches are pooled as (other).</p>'
        )
    parts.append("</section>")
    attributed = get_count(result, "conversions_attributed")
    return Part(
        "attribution",
        "Attribution",
        "" if attributed is None else f"{attributed:,} conversions",
        "".join(parts),
        tuple(charts),
    )
