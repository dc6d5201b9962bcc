"""The flywheel's momentum in the report: key figures of the latest complete period, the flywheel
drawn as a wheel (attract → engage → delight, the loop's share on the return arrow), growth
accounting per period (new, retained and resurrected up, churned down, the quick ratio line) and the
viral curve next to the observed customers. Reads ``FlywheelResult.to_dict()``
(docs/semantics-flywheel.md); self-contained, so the report and the dashboard can both use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _layout, _plotly_text
from ._format import fmt_count, fmt_duration, fmt_pct
from ._parts import (
    STAGE_COLORS,
    Part,
    esc,
    fmt_money,
    get_count,
    get_list,
    get_map,
    get_number,
    na_note,
    na_tile,
    reason_of,
    tile,
    tiles,
)

__all__ = [
    "FLYWHEEL_GROWTH_DIV_ID",
    "FLYWHEEL_VIRAL_DIV_ID",
    "FLYWHEEL_WHEEL_DIV_ID",
    "flywheel_part",
    "growth_figure",
    "viral_figure",
    "wheel_figure",
]

FLYWHEEL_WHEEL_DIV_ID = "hg-flywheel-wheel"
FLYWHEEL_GROWTH_DIV_ID = "hg-flywheel-growth"
FLYWHEEL_VIRAL_DIV_ID = "hg-flywheel-viral"
_LOOP = "#0d9488"
_RETAINED = "#c7d2fe"
_RESURRECTED = "#818cf8"


def _momentum(result: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The block to draw: the whole log's, or with a breakdown the largest group's (and a note)."""
    if "periods" in result:
        return result, ""
    groups = get_list(result, "groups")
    if not groups:
        return {}, ""
    first = groups[0]
    return first, f"{result.get('breakdown')} = {first.get('value')}"


def _sum(periods: list[Mapping[str, Any]], key: str) -> float | None:
    values = [get_number(p, key) for p in periods]
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _lines(text: str, width: int = 12) -> list[str]:
    """Words on lines of about ``width`` characters (labels inside the wheel's arcs)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def wheel_figure(block: Mapping[str, Any]) -> go.Figure:
    """Three arcs (attract, engage, delight) around a hub with the latest quick ratio; an inner teal
    arc whose length is the loop's share of new customers: the return arrow from delight to attract."""
    periods = get_list(block, "periods")
    summary = get_map(block, "summary")
    new = _sum(periods, "new")
    buyers = _sum(periods, "purchasers")
    first, repeat = _sum(periods, "first_purchase_revenue"), _sum(periods, "repeat_revenue")
    repeat_share = (
        repeat / (first + repeat) if first is not None and repeat is not None and first + repeat else None
    )
    share = get_number(summary, "loop_share")
    qr = get_number(summary, "quick_ratio")
    stages = [
        ("Attract", f"{fmt_count(None if new is None else int(new))} new", STAGE_COLORS["pre"], 60.0),
        (
            "Engage",
            f"{fmt_count(None if buyers is None else int(buyers))} buyers",
            STAGE_COLORS["sale"],
            180.0,
        ),
        (
            "Delight",
            (
                "repeat revenue not measured"
                if repeat_share is None
                else f"{fmt_pct(repeat_share, 0)} repeat revenue"
            ),
            STAGE_COLORS["post"],
            300.0,
        ),
    ]
    traces: list[Any] = [
        go.Barpolar(
            r=[0.42] * 3,
            base=[0.55] * 3,
            theta=[s[3] for s in stages],
            width=[112] * 3,
            marker={"color": [s[2] for s in stages], "line": {"color": "#ffffff", "width": 3}},
            text=[_plotly_text(f"{s[0]}: {s[1]}") for s in stages],
            hovertemplate="%{text}<extra></extra>",
        )
    ]
    # the return arrow: an inner arc at the top, between delight and attract, as long as the loop's share
    span = 360.0 * (share or 0.0)
    if share:
        traces.append(
            go.Barpolar(
                r=[0.1],
                base=[0.38],
                theta=[0.0],
                width=[min(span, 359.0)],
                marker={"color": _LOOP, "line": {"width": 0}},
                text=[_plotly_text(f"the loop brought {fmt_pct(share)} of new customers")],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    traces.append(
        go.Scatterpolar(
            r=[0.765] * 3,
            theta=[s[3] for s in stages],
            mode="text",
            text=[
                f"<b>{_plotly_text(s[0])}</b><br>{'<br>'.join(_plotly_text(w) for w in _lines(s[1]))}"
                for s in stages
            ],
            textfont={"color": "#ffffff", "size": 13},
            hoverinfo="skip",
        )
    )
    loop_text = "loop share not measured" if share is None else f"loop: {fmt_pct(share, 0)} of new"
    hub = "quick ratio —" if qr is None else f"quick ratio {qr:.2f}"
    layout = _layout(
        380,
        polar={
            "radialaxis": {"visible": False, "range": [0, 1]},
            "angularaxis": {"visible": False, "direction": "clockwise", "rotation": 90},
            "bgcolor": "rgba(0,0,0,0)",
            "hole": 0.0,
        },
        annotations=[
            {
                "text": f"<b>{_plotly_text(hub)}</b><br>"
                f"<span style='color:{_LOOP}'>{_plotly_text(loop_text)}</span>",
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {"size": 13, "color": PALETTE["ink"]},
            }
        ],
    )
    return go.Figure(data=traces, layout=layout)


def growth_figure(block: Mapping[str, Any]) -> go.Figure:
    """Per period: retained, new and resurrected customers stacked up, churned ones down (negative),
    and the quick ratio as a line on its own axis (gaps where it is not measured)."""
    periods = get_list(block, "periods")
    x = [str(p.get("period")) for p in periods]

    def series(key: str, sign: int = 1) -> list[int]:
        return [sign * (get_count(p, key) or 0) for p in periods]

    bars = [
        ("retained", "retained", _RETAINED, 1),
        ("new", "new", PALETTE["primary"], 1),
        ("resurrected", "resurrected", _RESURRECTED, 1),
        ("churned", "churned", PALETTE["loss"], -1),
    ]
    traces: list[Any] = [
        go.Bar(
            x=x,
            y=series(key, sign),
            name=label,
            marker={"color": color, "line": {"width": 0}},
            hovertemplate=f"%{{x}} · {label}: %{{customdata:,}}<extra></extra>",
            customdata=series(key),
        )
        for key, label, color, sign in bars
    ]
    traces.append(
        go.Scatter(
            x=x,
            y=[get_number(p, "quick_ratio") for p in periods],
            name="quick ratio",
            yaxis="y2",
            mode="lines+markers",
            line={"color": PALETTE["ink"], "width": 2},
            connectgaps=False,
            hovertemplate="%{x} · quick ratio %{y:.2f}<extra></extra>",
        )
    )
    layout = _layout(
        340,
        margin={"l": 56, "r": 56, "t": 8, "b": 8, "pad": 4},
        barmode="relative",
        showlegend=True,
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": "customers", "gridcolor": PALETTE["line"], "zerolinecolor": PALETTE["muted"]},
        yaxis2={
            "title": "quick ratio",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
        },
        xaxis={"type": "category"},
    )
    return go.Figure(data=traces, layout=layout)


def viral_figure(block: Mapping[str, Any]) -> go.Figure:
    """Observed cumulative new customers and the viral curve C0 (K^(t/ct+1) - 1)/(K - 1)."""
    periods = get_list(block, "periods")
    x = [str(p.get("period")) for p in periods]
    traces = [
        go.Scatter(
            x=x,
            y=[get_count(p, "cumulative_customers") for p in periods],
            name="observed",
            mode="lines+markers",
            line={"color": PALETTE["primary"], "width": 3},
            hovertemplate="%{x} · observed %{y:,}<extra></extra>",
        ),
        go.Scatter(
            x=x,
            y=[get_number(p, "viral_customers") for p in periods],
            name="viral curve (the loop alone)",
            mode="lines",
            line={"color": _LOOP, "width": 2, "dash": "dash"},
            hovertemplate="%{x} · viral curve %{y:,.1f}<extra></extra>",
        ),
    ]
    layout = _layout(
        300,
        margin={"l": 56, "r": 24, "t": 8, "b": 8, "pad": 4},
        showlegend=True,
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": "customers (cumulative)", "gridcolor": PALETTE["line"], "rangemode": "tozero"},
        xaxis={"type": "category"},
    )
    return go.Figure(data=traces, layout=layout)


def _ratio_tile(raw: Mapping[str, Any], key: str, label: str, sub: str) -> str:
    value = get_number(raw, key)
    if value is None:
        return na_tile(label, reason_of(raw, key) or "nothing to divide by")
    return tile(label, f"{value:.2f}", sub)


def _tiles(block: Mapping[str, Any]) -> str:
    s = get_map(block, "summary")
    latest = str(s.get("latest_period") or "")
    items = [
        _ratio_tile(s, "quick_ratio", "Quick ratio", f"{latest}: (new + resurrected) / churned"),
        _ratio_tile(s, "revenue_quick_ratio", "Revenue quick ratio", f"{latest}: gained / lost revenue"),
    ]
    nrr = get_number(s, "net_revenue_retention")
    items.append(
        na_tile("Net revenue retention", reason_of(s, "net_revenue_retention"))
        if nrr is None
        else tile("Net revenue retention", fmt_pct(nrr), f"{latest}: of the previous period's revenue")
    )
    share = get_number(s, "loop_share")
    items.append(
        na_tile("Loop share", reason_of(s, "loop_share"))
        if share is None
        else tile(
            "Loop share",
            fmt_pct(share),
            f"of {fmt_count(get_count(s, 'new_customers'))} new customers: referred or word of mouth",
        )
    )
    k = get_number(s, "k_factor")
    items.append(
        na_tile("K-factor", reason_of(s, "k_factor"))
        if k is None
        else tile("K-factor", f"{k:.3f}", "referred purchasers per purchaser")
    )
    ct = get_number(s, "cycle_time_median_s")
    items.append(
        na_tile("Cycle time", reason_of(s, "cycle_time_median_s"))
        if ct is None
        else tile("Cycle time", fmt_duration(ct), "median: referrer's first purchase → referee's first event")
    )
    return tiles(items)


def flywheel_part(result: Mapping[str, Any]) -> Part:
    """The flywheel section of a flywheel result dict."""
    block, which = _momentum(result)
    unit = esc(result.get("period_unit") or "period")
    parts = [
        '<section class="card" id="flywheel"><div class="section-head"><h2>The flywheel\'s momentum</h2>'
        '<span class="badge">growth accounting</span></div>'
        '<p class="description">Active customers per period split into new, retained and resurrected; '
        "churned customers are the ones active in the previous period and not in this one. Quick ratio "
        "= (new + resurrected) / churned (above 1: the base grows). The loop's share (referred or word "
        "of mouth, of all new customers) is hourglass's own composite.</p>",
    ]
    if which:
        parts.append(f'<p class="note">Drawn for {esc(which)} (the largest group of the breakdown).</p>')
    charts: list[tuple[str, go.Figure]] = []
    periods = get_list(block, "periods")
    if not periods:
        parts.append('<p class="empty">No events in the range.</p></section>')
        return Part("flywheel", "Flywheel", "", "".join(parts), ())
    parts.append(_tiles(block))
    parts.append(
        '<div class="two">'
        f'<div><h3>The wheel</h3><div class="chart" id="{FLYWHEEL_WHEEL_DIV_ID}"></div>'
        '<p class="note">Attract: new customers; engage: first purchases; delight: the share of purchase '
        "revenue from repeat purchases. The inner teal arc is the return arrow: its length is the share "
        "of new customers the loop brought.</p></div>"
        f"<div><h3>Growth accounting per {unit}</h3>"
        f'<div class="chart" id="{FLYWHEEL_GROWTH_DIV_ID}"></div>'
        '<p class="note">Churned customers below the line; the last and first periods may be cut by '
        "the range.</p></div></div>"
    )
    charts += [(FLYWHEEL_WHEEL_DIV_ID, wheel_figure(block)), (FLYWHEEL_GROWTH_DIV_ID, growth_figure(block))]
    viral = get_map(get_map(block, "summary"), "viral")
    if viral.get("reason"):
        parts.append(na_note("The viral curve", str(viral["reason"])))
    else:
        c0, k, ct = get_count(viral, "c0"), get_number(viral, "k"), get_number(viral, "cycle_time_days")
        k_text = "—" if k is None else f"{k:.3f}"
        ct_text = "—" if ct is None else f"{ct:.1f}"
        parts.append(
            "<h3>The viral curve next to the observed customers</h3>"
            f'<div class="chart" id="{FLYWHEEL_VIRAL_DIV_ID}"></div>'
            f'<p class="note">Skok/Reiss: Customers(t) = C0 (K<sup>t/ct+1</sup> − 1)/(K − 1) with C0 = '
            f"{fmt_count(c0)} (the first {unit}'s new customers), K = {k_text}, "
            f"ct = {ct_text} days; t from the end of the first {unit}. "
            "The gap to the observed curve is what paid and organic acquisition bring.</p>"
        )
        charts.append((FLYWHEEL_VIRAL_DIV_ID, viral_figure(block)))
    revenue = _sum(periods, "revenue")
    if revenue is not None:
        parts.append(
            f'<p class="note">Revenue in the range: {esc(fmt_money(revenue))}; first purchases '
            f"{esc(fmt_money(_sum(periods, 'first_purchase_revenue')))}, repeat purchases "
            f"{esc(fmt_money(_sum(periods, 'repeat_revenue')))}.</p>"
        )
    parts.append("</section>")
    qr = get_number(get_map(block, "summary"), "quick_ratio")
    return Part("flywheel", "Flywheel", "" if qr is None else f"QR {qr:.2f}", "".join(parts), tuple(charts))
