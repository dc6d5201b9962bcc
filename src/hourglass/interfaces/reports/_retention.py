"""The retention section of the report (docs/semantics-retention.md): the cohort matrix as a heatmap,
the curve of every cohort and the size-weighted average curve in bold, from the result's
``to_dict()``. A cell whose period has not ended is blank (never 0), and the legend says so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _blend, _layout, _plotly_text
from ._format import fmt_count, fmt_pct
from ._parts import Part, esc, get_count, get_list, get_map, get_number, na_tile, reason_of, tile, tiles

__all__ = ["RETENTION_DIV_IDS", "retention_part"]

RETENTION_DIV_IDS = {"heatmap": "hg-retention-heatmap", "curves": "hg-retention-curves"}
_INCOMPLETE = "blank: period not complete (it ends after the data's last event)"


def _words(spec: Mapping[str, Any]) -> tuple[str, str, str]:
    """The period's word, what starts a cohort and what counts as a return, in words."""
    period = str(spec.get("period") or "period")
    start = str(get_map(spec, "start").get("label") or "first event")
    back = str(get_map(spec, "return").get("label") or "any event")
    kind = "first-time" if spec.get("cohorts") != "recurring" else "recurring"
    how = "in exactly that" if spec.get("mode") != "unbounded" else "in that or any later"
    return period, f"{kind} cohorts by the {period} of their {start}", f"came back ({back}) {how} {period}"


def _heatmap(cohorts: list[Mapping[str, Any]], periods: list[int], period: str) -> go.Figure:
    y = [f"{c.get('cohort')} ({fmt_count(get_count(c, 'size'))})" for c in cohorts]
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    shown: list[list[str]] = []  # the cell's share; its counts are in the hover
    for c in cohorts:
        cells = {int(x.get("period", -1)): x for x in get_list(c, "cells")}
        row_z: list[float | None] = []
        row_t: list[str] = []
        row_s: list[str] = []
        for n in periods:
            cell = cells.get(n, {})
            share = get_number(cell, "share")
            row_z.append(share)
            k = get_count(cell, "customers")
            row_t.append(
                ""
                if share is None
                else f"{fmt_pct(share)} ({fmt_count(k)} of {fmt_count(get_count(c, 'size'))})"
            )
            row_s.append("" if share is None else fmt_pct(share))
        z.append(row_z)
        text.append(row_t)
        shown.append(row_s)
    x = [f"{period} {n}" for n in periods]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=[_plotly_text(v) for v in y],
            text=shown,
            customdata=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            hovertemplate="cohort %{y}, %{x}: %{customdata}<extra></extra>",
            colorscale=[[0.0, "#ffffff"], [1.0, PALETTE["primary"]]],
            zmin=0.0,
            zmax=1.0,
            showscale=False,
            xgap=2,
            ygap=2,
            hoverongaps=False,
        )
    )
    fig.update_layout(
        **_layout(
            max(160, 34 * len(cohorts) + 70),
            xaxis={
                "side": "top",
                "automargin": True,
                "title": {"text": f"{period}s after the cohort's {period}"},
            },
            yaxis={"autorange": "reversed", "automargin": True, "title": {"text": "cohort (customers)"}},
        )
    )
    return fig


def _curves(
    cohorts: list[Mapping[str, Any]], average: list[Mapping[str, Any]], periods: list[int], period: str
) -> go.Figure:
    fig = go.Figure()
    x = [f"{period} {n}" for n in periods]
    for i, c in enumerate(cohorts):
        cells = {int(x.get("period", -1)): x for x in get_list(c, "cells")}
        y = [get_number(cells.get(n, {}), "share") for n in periods]
        label = _plotly_text(str(c.get("cohort")))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=label,
                line={
                    "width": 1.2,
                    "color": _blend(PALETTE["primary_light"], PALETTE["muted"], i / max(len(cohorts), 1)),
                },
                hovertemplate=f"cohort {label}, %{{x}}: %{{y:.1%}}<extra></extra>",
            )
        )
    avg = {int(a.get("period", -1)): a for a in average}
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[get_number(avg.get(n, {}), "share") for n in periods],
            mode="lines+markers",
            name="average (weighted by cohort size)",
            line={"width": 4, "color": PALETTE["primary_dark"]},
            hovertemplate="average, %{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        **_layout(
            300,
            showlegend=True,
            legend={"orientation": "h", "y": -0.2},
            yaxis={
                "tickformat": ".0%",
                "rangemode": "tozero",
                "automargin": True,
                "title": {"text": "share who came back"},
            },
        )
    )
    return fig


def retention_part(result: Mapping[str, Any]) -> Part:
    """The section from ``RetentionResult.to_dict()``."""
    spec = get_map(result, "spec")
    period, cohort_words, back_words = _words(spec)
    cohorts = get_list(result, "cohorts")
    average = get_list(result, "average")
    periods = [int(n) for n in result.get("periods") or [] if isinstance(n, int)]
    html = [
        '<section class="card" id="retention"><div class="section-head"><h2>Retention cohorts</h2>'
        f'<span class="badge">{esc(period)}ly cohorts</span></div>'
        f'<p class="description">Customers in {esc(cohort_words)}; each cell is the share who '
        f"{esc(back_words)}. The average is weighted by cohort size over the cohorts whose period has "
        "ended.</p>"
    ]
    items = [tile("Customers in cohorts", fmt_count(get_count(result, "members")), f"{len(cohorts)} cohorts")]
    for n in (1, 4):
        a = next((x for x in average if x.get("period") == n), None)
        if a is None:
            continue
        share = get_number(a, "share")
        label = f"Came back in {period} {n}"
        if share is None:
            items.append(na_tile(label, reason_of(a, "share")))
        else:
            low, high = get_number(a, "share_low"), get_number(a, "share_high")
            ci = "" if low is None or high is None else f"; 95%: {low * 100:.1f}\u2013{high * 100:.1f}%"
            items.append(tile(label, fmt_pct(share), f"average of {get_count(a, 'cohorts')} cohorts{ci}"))
    a1 = next((x for x in average if x.get("period") == 1), None)
    if a1 is not None:
        rr = get_number(a1, "revenue_retention")
        label = f"Revenue in {period} 1"
        if rr is None:
            items.append(na_tile(label, reason_of(a1, "revenue_retention")))
        else:
            items.append(tile(label, fmt_pct(rr), f"of the cohorts' revenue in {period} 0"))
    html.append(tiles(items))
    charts: list[tuple[str, go.Figure]] = []
    if cohorts and periods:
        html.append(
            f'<h3>Cohort matrix</h3><div class="chart" id="{RETENTION_DIV_IDS["heatmap"]}"></div>'
            f'<p class="note legend">{esc(_INCOMPLETE)}. Rows: cohorts (customers); columns: '
            f"{esc(period)}s after the cohort's {esc(period)}.</p>"
        )
        charts.append((RETENTION_DIV_IDS["heatmap"], _heatmap(cohorts, periods, period)))
        html.append(
            f'<h3>Retention curves</h3><div class="chart" id="{RETENTION_DIV_IDS["curves"]}"></div>'
            '<p class="note">One thin line per cohort, the average in bold; a line stops where its '
            "periods have not ended.</p>"
        )
        charts.append((RETENTION_DIV_IDS["curves"], _curves(cohorts, average, periods, period)))
    else:
        html.append('<p class="note">No customer started a cohort in the data.</p>')
    html.append("</section>")
    value = ""
    if a1 is not None and get_number(a1, "share") is not None:
        value = fmt_pct(get_number(a1, "share"))
    return Part("retention", "Retention cohorts", value, "".join(html), tuple(charts))
