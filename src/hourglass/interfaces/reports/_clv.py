"""The customer-lifetime-value section of the report (docs/semantics-clv.md): the fitted parameters
with standard errors and the log-likelihood, the papers' hold-out check (expected vs actual purchases
after the calibration period by number of calibration repeat purchases) as a chart and a table, and
CLV by acquisition channel next to CAC, from ``ClvResult.to_dict()``. Anything the data cannot give
is a grey "not measured" line with its reason, never a zero."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _layout, _plotly_text
from ._format import fmt_count
from ._parts import (
    Part,
    esc,
    fmt_money,
    get_count,
    get_list,
    get_map,
    get_number,
    na_note,
    na_tile,
    tile,
    tiles,
)

__all__ = ["CLV_DIV_IDS", "clv_part"]

CLV_DIV_IDS = {"holdout": "hg-clv-holdout", "channels": "hg-clv-channels"}
_NAMES = {"bgnbd": "BG/NBD", "paretonbd": "Pareto/NBD", "gammagamma": "Gamma-Gamma"}


def _f(value: float | None, spec: str = ".3f") -> str:
    return "\u2014" if value is None else format(value, spec)


def _params_table(name: str, params: Mapping[str, Any], ses: Mapping[str, Any], loglik: float | None) -> str:
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(k)}</td><td class='num'>{_f(get_number(params, k))}</td>"
        f"<td class='num'>{_f(get_number(ses, k))}</td></tr>"
        for k in params
    )
    ll = _f(loglik, ".2f")
    rows += f"<tr><td>{esc(name)}</td><td>log-likelihood</td><td class='num'>{ll}</td><td></td></tr>"
    return rows


def _holdout_chart(holdout: list[Mapping[str, Any]], period: str, length: float | None) -> go.Figure:
    x = [str(h.get("repeat_purchases")) for h in holdout]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[get_number(h, "actual") for h in holdout],
            mode="lines+markers",
            name="actual",
            line={"width": 3, "color": PALETTE["primary_dark"]},
            hovertemplate="%{x} repeat purchases: %{y:.2f} actual<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[get_number(h, "expected") for h in holdout],
            mode="lines+markers",
            name="expected (model)",
            line={"width": 3, "dash": "dash", "color": PALETTE["primary_light"]},
            hovertemplate="%{x} repeat purchases: %{y:.2f} expected<extra></extra>",
        )
    )
    span = f" in the {length:g} {period}s after calibration" if length else ""
    fig.update_layout(
        **_layout(
            300,
            showlegend=True,
            legend={"orientation": "h", "y": -0.25},
            xaxis={"title": {"text": "repeat purchases in the calibration period"}},
            yaxis={"rangemode": "tozero", "title": {"text": f"purchases per customer{span}"}},
        )
    )
    return fig


def _channels_chart(channels: list[Mapping[str, Any]]) -> go.Figure:
    names = [_plotly_text(str(c.get("channel"))) for c in channels]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=names,
            y=[get_number(c, "mean_clv") for c in channels],
            name="mean CLV",
            marker={"color": PALETTE["primary"]},
            hovertemplate="%{x}: CLV %{y:,.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[get_number(c, "cac") for c in channels],
            name="CAC",
            marker={"color": PALETTE["loss"]},
            hovertemplate="%{x}: CAC %{y:,.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        **_layout(280, barmode="group", showlegend=True, legend={"orientation": "h", "y": -0.2})
    )
    return fig


def clv_part(result: Mapping[str, Any]) -> Part:
    """The section from ``ClvResult.to_dict()``."""
    model = str(result.get("model") or "")
    cal = get_map(result, "calibration")
    totals = get_map(result, "totals")
    period = str(cal.get("period") or "week")
    html = [
        '<section class="card" id="clv"><div class="section-head"><h2>Customer lifetime value</h2>'
        f'<span class="badge">{esc(_NAMES.get(model, model))}</span></div>'
        f'<p class="description">Purchases from {esc(cal.get("first_day"))} to '
        f"{esc(cal.get('calibration_end'))} "
        f"fitted by maximum likelihood; recency and T in {esc(period)}s; same-day purchases are one "
        "transaction.</p>"
    ]
    items = [
        tile(
            "Customers",
            fmt_count(get_count(totals, "customers")),
            f"{fmt_count(get_count(totals, 'repeat_customers'))} bought again",
        )
    ]
    p_alive = get_number(totals, "mean_p_alive")
    items.append(tile("Mean P(alive)", _f(p_alive, ".1%") if p_alive is not None else "\u2014", "at the end"))
    mean_clv = get_number(totals, "mean_clv")
    spec = get_map(result, "spec")
    if mean_clv is None:
        items.append(na_tile("Mean CLV", str(totals.get("mean_clv_reason") or "")))
    else:
        items.append(
            tile(
                "Mean CLV",
                fmt_money(mean_clv),
                f"{spec.get('horizon_days')} days ahead, discounted "
                f"{get_number(spec, 'discount_rate') or 0:.0%}/year",
            )
        )
    html.append(tiles(items))
    rows = _params_table(
        _NAMES.get(model, model),
        get_map(result, "params"),
        get_map(result, "std_errors"),
        get_number(result, "loglik"),
    )
    spend = get_map(result, "spend_model")
    if spend:
        rows += _params_table(
            "Gamma-Gamma", get_map(spend, "params"), get_map(spend, "std_errors"), get_number(spend, "loglik")
        )
    html.append(
        "<h3>Parameters</h3><table class='data'><thead><tr><th>model</th><th>parameter</th><th>value</th>"
        f"<th>std. error</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    if not spend:
        html.append(na_note("Spend model (Gamma-Gamma)", str(result.get("spend_model_reason") or "")))
    charts: list[tuple[str, go.Figure]] = []
    holdout = get_list(result, "holdout")
    if holdout:
        length = get_number(cal, "holdout_periods")
        html.append(
            f'<h3>Hold-out check</h3><div class="chart" id="{CLV_DIV_IDS["holdout"]}"></div>'
            "<p class='note'>Purchases per customer after the calibration end, actual against the model's "
            "conditional expectation, by the customer's repeat purchases in the calibration period.</p>"
        )
        charts.append((CLV_DIV_IDS["holdout"], _holdout_chart(holdout, period, length)))
    else:
        html.append(na_note("Hold-out check", str(result.get("holdout_reason") or "")))
    channels = get_list(result, "channels")
    if channels:
        body = "".join(
            f"<tr><td>{esc(c.get('channel'))}</td><td class='num'>{fmt_count(get_count(c, 'customers'))}</td>"
            f"<td class='num'>{fmt_money(get_number(c, 'mean_clv'))}</td>"
            + (
                f"<td class='num'>{fmt_money(get_number(c, 'cac'))}</td>"
                f"<td class='num'>{_f(get_number(c, 'clv_to_cac'), '.2f')}</td>"
                if get_number(c, "cac") is not None
                else "<td colspan='2' class='na' style='color:#6b7280'>not measured \u2014 "
                f"{esc(c.get('cac_reason'))}</td>"
            )
            + "</tr>"
            for c in channels
        )
        html.append(
            f'<h3>CLV by acquisition channel</h3><div class="chart" id="{CLV_DIV_IDS["channels"]}"></div>'
            "<table class='data'><thead><tr><th>channel</th><th>customers</th><th>mean CLV</th><th>CAC</th>"
            f"<th>CLV/CAC</th></tr></thead><tbody>{body}</tbody></table>"
        )
        charts.append((CLV_DIV_IDS["channels"], _channels_chart(channels)))
    else:
        html.append(na_note("CLV by channel", str(result.get("channels_reason") or "")))
    html.append("</section>")
    value = fmt_money(mean_clv) if mean_clv is not None else ""
    return Part("clv", "Customer lifetime value", value, "".join(html), tuple(charts))
