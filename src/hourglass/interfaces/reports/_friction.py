"""Friction and the weak stages, as a report section: the friction ranking (a chart of the
Mantel-Haenszel differences with their intervals, the customers and revenue lost), the stalls, and
the diagnosis sentences (docs/semantics-friction.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _layout
from ._format import fmt_count, fmt_duration, fmt_pct
from ._parts import Part, esc, fmt_money, fmt_p, get_list, get_map, get_number, na_cell, na_note, reason_of

__all__ = [
    "FRICTION_CHART_DIV_ID",
    "WHATIF_CHART_DIV_ID",
    "friction_figure",
    "friction_part",
    "whatif_figure",
]

FRICTION_CHART_DIV_ID = "friction-ranking"
WHATIF_CHART_DIV_ID = "friction-whatif"


def _label(row: Mapping[str, Any]) -> str:
    return f"{row.get('friction')} · while in {row.get('stage')}"


def friction_figure(rows: list[Mapping[str, Any]]) -> go.Figure:
    """One bar per measured friction x stage, in the ranking's order (top first): the difference in
    points (with vs without, Mantel-Haenszel) with its 95% interval; losses red, gains indigo."""
    rows = [r for r in rows if get_number(r, "difference") is not None]
    labels = [_label(r) for r in rows]
    diff = [100 * (get_number(r, "difference") or 0.0) for r in rows]
    # no interval (too few customers): no error bar
    low = [
        100 * v if (v := get_number(r, "difference_low")) is not None else d
        for r, d in zip(rows, diff, strict=True)
    ]
    high = [
        100 * v if (v := get_number(r, "difference_high")) is not None else d
        for r, d in zip(rows, diff, strict=True)
    ]
    lost = [get_number(r, "revenue_lost") for r in rows]
    custom = [
        f"{fmt_count(round(get_number(r, 'customers_lost') or 0))} customers"
        + ("" if v is None else f", {fmt_money(v)} revenue")
        for r, v in zip(rows, lost, strict=True)
    ]
    trace = go.Bar(
        y=labels,
        x=diff,
        orientation="h",
        marker={
            "color": [PALETTE["loss"] if d < 0 else PALETTE["primary"] for d in diff],
            "line": {"width": 0},
        },
        error_x={
            "type": "data",
            "symmetric": False,
            "array": [h - d for h, d in zip(high, diff, strict=True)],
            "arrayminus": [d - lo for d, lo in zip(diff, low, strict=True)],
            "color": PALETTE["muted"],
        },
        customdata=custom,
        hovertemplate="%{y}: %{x:+.1f} points · lost %{customdata}<extra></extra>",
    )
    layout = _layout(
        max(160, 44 * len(rows) + 60),
        margin={"l": 10, "r": 24, "t": 8, "b": 40, "pad": 4},
        xaxis={
            "title": "points: went on with the friction minus without (95% CI)",
            "gridcolor": PALETTE["line"],
            "zerolinecolor": PALETTE["ink"],
        },
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
    )
    return go.Figure(data=[trace], layout=layout)


def whatif_figure(result: Mapping[str, Any], metric: str) -> go.Figure:
    """Baseline and scenario per period: the median of the runs as lines, their 90% bands shaded."""
    periods = [str(p) for p in (result.get("periods") or [])]
    traces: list[Any] = []
    for key, name, color in (
        ("baseline", "baseline", PALETTE["muted"]),
        ("scenario", "scenario", PALETTE["primary"]),
    ):
        band = get_map(get_map(result, key), metric)
        low, high, med = band.get("low") or [], band.get("high") or [], band.get("median") or []
        traces.append(
            go.Scatter(
                x=periods + periods[::-1],
                y=list(high) + list(low)[::-1],
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                name=f"{name} 90% band",
            )
        )
        traces.append(
            go.Scatter(
                x=periods,
                y=list(med),
                mode="lines+markers",
                name=name,
                line={"color": color, "width": 2},
                hovertemplate=f"%{{x}} · {name}: %{{y:,.0f}}<extra></extra>",
            )
        )
    layout = _layout(
        320,
        margin={"l": 56, "r": 24, "t": 8, "b": 8, "pad": 4},
        showlegend=True,
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": metric.replace("_", " "), "gridcolor": PALETTE["line"], "rangemode": "tozero"},
        xaxis={"type": "category"},
    )
    return go.Figure(data=traces, layout=layout)


def _whatif_html(wi: Mapping[str, Any]) -> tuple[str, str]:
    """The what-if block and the metric it draws (revenue, else purchasers)."""
    metric = "revenue" if "revenue" in get_map(wi, "baseline") else "purchasers"
    tot = get_map(get_map(wi, "totals"), metric)
    changes = "; ".join(str(c) for c in (wi.get("changes") or [])) or "no change"
    diff, lo, hi = (
        get_number(tot, "difference"),
        get_number(tot, "difference_low"),
        get_number(tot, "difference_high"),
    )
    line = ""
    if diff is not None and lo is not None and hi is not None:
        line = (
            f"{esc(changes)}: {esc(metric)} over the horizon {diff:+,.0f} "
            f"(90% of runs between {lo:+,.0f} and {hi:+,.0f})."
        )
    bt = get_map(wi, "backtest")
    errs = []
    for m, v in get_map(bt, "metrics").items():
        e = get_number(v, "total_error") if isinstance(v, Mapping) else None
        if e is not None:
            errs.append(f"{m.replace('_', ' ')} {100 * e:+.1f}%")
    bt_line = (
        f'<p class="note">Back-test (fit until {esc(str(bt.get("fit_until", ""))[:10])}, forecast '
        f"{esc(', '.join(str(p) for p in bt.get('periods') or []))}): error of the total "
        f"{esc(', '.join(errs))}.</p>"
        if errs
        else na_note("Back-test", reason_of(wi, "backtest") or "not run")
    )
    ranking = get_list(wi, "ranking")
    rank_html = ""
    if ranking:
        items = "".join(
            f"<li>{esc(r.get('change'))}: "
            + (
                "not measured"
                if get_number(r, "difference") is None
                else f"{get_number(r, 'difference'):+,.0f}"
            )
            + "</li>"
            for r in ranking
        )
        rank_html = f"<h4>Changes of the same size, ranked</h4><ol>{items}</ol>"
    html = (
        f'<h3>What if</h3><div class="chart" id="{WHATIF_CHART_DIV_ID}"></div>'
        f'<p class="note">{line} Seeded simulation of the fitted stage-transition model; the lines are '
        "medians of the runs.</p>" + bt_line + rank_html
    )
    return html, metric


def _num(row: Mapping[str, Any], key: str, fmt: Any) -> str:
    value = row.get(key)
    if value is None:
        return na_cell(reason_of(row, key) or "not measured")
    return f"<td>{esc(fmt(value))}</td>"


def _friction_table(rows: list[Mapping[str, Any]]) -> str:
    head = (
        "<tr><th>#</th><th>friction</th><th>while in</th><th>with it</th><th>went on with</th>"
        "<th>without</th><th>difference (MH)</th><th>95% CI</th><th>p</th><th>customers lost</th>"
        "<th>revenue lost</th></tr>"
    )
    body = []
    for r in rows:
        lo, hi = get_number(r, "difference_low"), get_number(r, "difference_high")
        ci = "" if lo is None or hi is None else f"{100 * lo:+.1f} to {100 * hi:+.1f}"
        body.append(
            f"<tr><td>{esc(r.get('rank'))}</td><td>{esc(r.get('friction'))}</td>"
            f"<td>{esc(r.get('stage') or '—')}</td>"
            + _num(r, "exposed", fmt_count)
            + _num(r, "conversion_exposed", fmt_pct)
            + _num(r, "conversion_unexposed", fmt_pct)
            + _num(r, "difference", lambda v: f"{100 * v:+.1f} pt")
            + f"<td>{esc(ci)}</td>"
            + _num(r, "p_value", fmt_p)
            + _num(r, "customers_lost", lambda v: f"{v:,.1f}")
            + _num(r, "revenue_lost", fmt_money)
            + "</tr>"
        )
    return f'<table class="data"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def _stalls_table(rows: list[Mapping[str, Any]]) -> str:
    head = (
        "<tr><th>stage</th><th>p50 in stage</th><th>p90</th><th>stalled after</th>"
        "<th>in it now</th><th>stalled now</th><th>share</th></tr>"
    )
    body = [
        f"<tr><td>{esc(r.get('label') or r.get('stage'))}</td>"
        + _num(r, "p50_s", fmt_duration)
        + _num(r, "p90_s", fmt_duration)
        + _num(r, "threshold_s", fmt_duration)
        + _num(r, "current", fmt_count)
        + _num(r, "stalled_now", fmt_count)
        + _num(r, "stalled_share", fmt_pct)
        + "</tr>"
        for r in rows
    ]
    return f'<table class="data"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def friction_part(result: Mapping[str, Any]) -> Part:
    """The section from ``{"friction": FrictionResult.to_dict(), "diagnose": DiagnoseResult.to_dict(),
    "whatif": WhatIfResult.to_dict()}`` (friction or diagnose missing: a "not measured" note with the
    reason, from ``friction_reason`` / ``diagnose_reason``; no what-if: no what-if block)."""
    fr, dg = get_map(result, "friction"), get_map(result, "diagnose")
    parts = [
        '<section class="card" id="friction"><div class="section-head"><h2>Friction and the weak stages</h2>'
        '<span class="badge">Mantel-Haenszel · Benjamini-Hochberg</span></div>'
        '<p class="description">Where customers are lost and what the friction events cost: for each '
        "friction event and stage, the share who went on with vs without the event while in the stage, "
        "stratified by channel and cohort so that a channel mix cannot fake an effect.</p>"
    ]
    charts: list[tuple[str, go.Figure]] = []
    findings = [str(f) for f in (dg.get("findings") or [])] if dg else []
    if dg:
        items = "".join(f"<li>{esc(f)}</li>" for f in findings)
        parts.append(f'<h3>Diagnosis</h3><ul class="findings">{items}</ul>' if items else "")
        if dg.get("comparisons_reason"):
            parts.append(na_note("Comparison", str(dg["comparisons_reason"])))
    else:
        parts.append(na_note("Diagnosis", reason_of(result, "diagnose") or "not run"))
    rows = get_list(fr, "frictions") if fr else []
    measured = [r for r in rows if get_number(r, "difference") is not None]
    if fr:
        if measured:
            parts.append(
                f'<h3>Friction ranking</h3><div class="chart" id="{FRICTION_CHART_DIV_ID}"></div>'
                '<p class="note">Ranked by revenue lost (customers lost where there is no revenue): the '
                "difference x the customers with the friction x the revenue per customer who went on.</p>"
            )
            charts.append((FRICTION_CHART_DIV_ID, friction_figure(measured)))
        elif fr.get("frictions_reason"):
            parts.append(na_note("Friction events", str(fr["frictions_reason"])))
        if rows:
            parts.append(_friction_table(rows))
        stalls = get_list(fr, "stalls")
        if stalls:
            parts.append("<h3>Stalls</h3>" + _stalls_table(stalls))
    else:
        parts.append(na_note("Friction", reason_of(result, "friction") or "not run"))
    wi = get_map(result, "whatif")
    if wi and wi.get("periods"):
        html, metric = _whatif_html(wi)
        parts.append(html)
        charts.append((WHATIF_CHART_DIV_ID, whatif_figure(wi, metric)))
    parts.append("</section>")
    top = measured[0] if measured else None
    toc = "" if top is None else f"{top.get('friction')} first"
    return Part("friction", "Friction", toc, "".join(parts), tuple(charts))
