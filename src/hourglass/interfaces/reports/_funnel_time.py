"""The report's "funnel over time" section (docs/semantics-funnel-time.md): the main model's conversion
per period of entry with its 95% intervals (incomplete periods drawn apart, empty ones as gaps,
never 0%) and the histograms of the time to each step, from the results' ``to_dict()``. The
figures are shared with the dashboard (interfaces/dashboard/funnel_trend_view.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _blend, _layout, _plotly_text, _step_label
from ._format import fmt_count, fmt_pct
from ._funnel_events import EVENTS_DIV_IDS, events_block
from ._parts import Part, esc, get_list, tile, tiles

__all__ = ["FUNNEL_TIME_DIV_IDS", "funnel_time_part", "time_figure", "trend_figure"]

FUNNEL_TIME_DIV_IDS = {"trend": "hg-funnel-trend", "time": "hg-funnel-time", **EVENTS_DIV_IDS}


def _optional(result: Mapping[str, Any]) -> list[bool]:
    """Which steps are optional, by position (the result's ``meta.spec``; none when it is missing)."""
    spec = result.get("meta", {}).get("spec", {}) if isinstance(result.get("meta"), Mapping) else {}
    steps = spec.get("steps") if isinstance(spec, Mapping) else None
    return [bool(isinstance(s, Mapping) and s.get("optional")) for s in steps or []]


def _goal_at(trend: Mapping[str, Any], sale: str | None) -> int:
    """The position of the step a tile and the accent line follow: the sale step when the funnel has
    it, else the step the periods' ``converted`` counts (the last required one: a trailing optional
    step blocks nothing, docs/semantics-funnel-time.md), else the last step (-1: no steps)."""
    names = [str(n) for n in trend.get("steps") or []]
    if sale in names:
        return names.index(sale)
    optional = _optional(trend)
    if len(optional) == len(names) and any(optional):
        last = max(i for i, o in enumerate(optional) if not o)
        return last if last > 0 else len(names) - 1
    converted = trend.get("converted_step")
    if converted in names[1:]:  # no spec in the meta: the last step of that name
        return len(names) - 1 - names[::-1].index(str(converted))
    return len(names) - 1


def _ci(s: Mapping[str, Any]) -> tuple[float | None, float | None]:
    c, lo, hi = (s.get(f"conversion_from_first{x}") for x in ("", "_low", "_high"))
    if c is None or lo is None or hi is None:
        return None, None
    return float(hi) - float(c), float(c) - float(lo)


def trend_figure(trend: Mapping[str, Any], goal: str | None = None) -> go.Figure:
    """One line per step after the first: the share of the period's entrants who reached it, with
    95% Wilson error bars; incomplete periods as hollow markers off the line; a period nobody
    entered is a gap (never 0%). ``goal`` (the sale step; default the last required step) is in the
    accent colour."""
    periods = get_list(trend, "periods")
    names = [str(n) for n in trend.get("steps") or []][1:]
    at = _goal_at(trend, goal)
    optional = _optional(trend)
    fig = go.Figure()
    for k, name in enumerate(names, start=1):
        shown = _step_label(name, k < len(optional) and optional[k])
        color = _blend(
            PALETTE["primary_dark"], "#7c83f2", (k - 1) / (len(names) - 1) if len(names) > 1 else 0.0
        )
        if k == at and len(names) > 1:
            color = PALETTE["loss"]
        for complete in (True, False):
            xs, ys, up, down, hover = [], [], [], [], []
            for p in periods:
                steps = get_list(p, "steps")
                s = steps[k] if k < len(steps) else {}
                keep = bool(p.get("complete")) == complete and s.get("conversion_from_first") is not None
                xs.append(p.get("start"))
                ys.append(s.get("conversion_from_first") if keep else None)
                u, d = _ci(s) if keep else (None, None)
                up.append(u)
                down.append(d)
                why = (
                    ""
                    if complete
                    else f"<br>incomplete: {_plotly_text(str(p.get('incomplete_reason') or ''))}"
                )
                hover.append(
                    f"{_plotly_text(shown)} · {p.get('start')}: {fmt_pct(s.get('conversion_from_first'))} of "
                    f"{fmt_count(p.get('entered'))} entered ({fmt_count(s.get('customers'))}){why}"
                )
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines+markers" if complete else "markers",
                    connectgaps=False,
                    name=_plotly_text(shown) + ("" if complete else " (incomplete)"),
                    legendgroup=name,
                    showlegend=complete,
                    line={"color": color, "width": 2},
                    marker={"color": color if complete else "#ffffff", "line": {"color": color, "width": 2}},
                    error_y={"type": "data", "array": up, "arrayminus": down, "color": color, "thickness": 1},
                    customdata=hover,
                    hovertemplate="%{customdata}<extra></extra>",
                )
            )
    fig.update_layout(
        **_layout(
            320,
            showlegend=True,
            legend={"orientation": "h", "y": -0.22},
            yaxis={"tickformat": ".1%", "rangemode": "tozero", "title": "of the period's entrants"},
            xaxis={"title": f"{trend.get('period') or 'period'} of entry (UTC)"},
        )
    )
    return fig


def time_figure(times: Mapping[str, Any], origin: str = "previous") -> go.Figure:
    """Grouped bars: per time bin, the share of each step's customers (from ``origin``)."""
    optional = _optional(times)
    every = [h for h in get_list(times, "histograms") if h.get("from") == origin]  # steps 2..n in order
    hists = [
        (h, _step_label(str(h.get("step")), k + 1 < len(optional) and optional[k + 1]))
        for k, h in enumerate(every)
        if h.get("bins")
    ]
    fig = go.Figure()
    n = len(hists)
    for i, (h, shown) in enumerate(hists):
        bins = get_list(h, "bins")
        fig.add_trace(
            go.Bar(
                x=[_plotly_text(str(b.get("label"))) for b in bins],
                y=[b.get("share") for b in bins],
                customdata=[fmt_count(b.get("customers")) for b in bins],
                name=_plotly_text(shown),
                marker={"color": _blend(PALETTE["primary_dark"], "#7c83f2", i / (n - 1) if n > 1 else 0.0)},
                hovertemplate=f"{_plotly_text(shown)}: %{{x}}: %{{customdata}} customers "
                "(%{y:.1%})<extra></extra>",
            )
        )
    fig.update_layout(
        **_layout(
            280,
            barmode="group",
            showlegend=n > 1,
            legend={"orientation": "h", "y": -0.25},
            yaxis={"tickformat": ".0%", "title": "share"},
        )
    )
    return fig


def _notes(optional: list[bool], hold: str | None) -> str:
    """What the section's funnel holds, and how its optional steps are counted."""
    out = []
    if hold:
        out.append(
            f"Held: events of one chain share the same {esc(hold)} (--hold {esc(hold)}); the counts are "
            "customers, each on his best held chain."
        )
    if any(optional):
        out.append(
            "An optional step's line is its own conversion: the share of the period's entrants whose "
            "chain counted it; it blocks no later step. Times are from the previous required step."
        )
    return "".join(f'<p class="note">{text}</p>' for text in out)


def funnel_time_part(
    trend: Mapping[str, Any],
    times: Mapping[str, Any],
    label: str,
    sale: str | None = None,
    *,
    hold: str | None = None,
    events: Mapping[str, Any] | None = None,
) -> Part:
    """The section: tiles (periods, the last complete period's conversion to the sale step, else
    the last required step), the trend chart, the time histograms (from the previous step) and each step's
    median and p90, then ``events`` (the events needed to convert, when given: their distributions
    per step and medians); ``hold``: the column the funnel held (said in the section)."""
    periods = get_list(trend, "periods")
    names = [str(n) for n in trend.get("steps") or []]
    optional = _optional(trend)
    goal = _goal_at(trend, sale)
    period = str(trend.get("period") or "period")
    done = [p for p in periods if p.get("complete") and p.get("entered")]
    empty = sum(1 for p in periods if not p.get("entered"))
    html = [
        '<section class="card" id="funnel-time"><div class="section-head"><h2>Funnel over time</h2>'
        f'<span class="badge">{esc(label)}</span><span class="badge plain">by {esc(period)}</span></div>'
        f'<p class="description">The {esc(label)} funnel per {esc(period)} in which customers entered it '
        "(UTC; weeks start on Monday): the share of its entrants who reached each step, with 95% "
        f"intervals. A {esc(period)} whose entrants' window had not elapsed by the log's last event is "
        "drawn hollow (its conversion may still rise); a period nobody entered is a gap, not 0%.</p>",
        _notes(optional, hold),
    ]
    items = [tile("Periods", fmt_count(len(periods)), f"{empty} with no entries" if empty else "")]
    if done:
        last = done[-1]
        steps = get_list(last, "steps")
        at = steps[goal] if goal < len(steps) else {}
        lo, hi = at.get("conversion_from_first_low"), at.get("conversion_from_first_high")
        ci = "" if lo is None or hi is None else f"95%: {100 * lo:.1f}\u2013{100 * hi:.1f}%"
        what = f"To {names[goal]}, last complete {period} ({last.get('start')})"
        items.append(tile(what, fmt_pct(at.get("conversion_from_first")), ci))
    html.append(tiles(items))
    charts: list[tuple[str, go.Figure]] = []
    if periods:
        div = FUNNEL_TIME_DIV_IDS["trend"]
        html.append(f'<h3>Conversion by {esc(period)} of entry</h3><div class="chart" id="{div}"></div>')
        charts.append((FUNNEL_TIME_DIV_IDS["trend"], trend_figure(trend, sale)))
    hists = get_list(times, "histograms")
    measured = [h for h in hists if h.get("bins")]
    if measured:
        html.append(
            f'<h3>Time to each step</h3><div class="chart" id="{FUNNEL_TIME_DIV_IDS["time"]}"></div>'
            '<p class="note legend">Time from the previous step on each customer\'s best chain; bins end '
            "at the funnel's window.</p>"
        )
        charts.append((FUNNEL_TIME_DIV_IDS["time"], time_figure(times)))
        from hourglass.model.results import format_duration

        # two histograms per step 2..n, in step order (by position: a step name may repeat)
        flags = [k // 2 + 1 < len(optional) and optional[k // 2 + 1] for k in range(len(hists))]
        rows = "".join(
            f"<tr><td>{esc(_step_label(str(h.get('step')), flag))}</td><td>from {esc(h.get('from'))}</td>"
            f"<td>{fmt_count(h.get('customers'))}</td><td>{esc(format_duration(h.get('median_s'), ' '))}</td>"
            f"<td>{esc(format_duration(h.get('p90_s'), ' '))}</td></tr>"
            for h, flag in zip(hists, flags, strict=True)
            if h.get("bins")
        )
        html.append(
            "<table><thead><tr><th>step</th><th>time</th><th>customers</th><th>median</th><th>p90</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    elif hists:
        why = hists[0].get("bins_reason") or "not measured"
        html.append(
            f'<p class="note na" style="color:#6b7280">Time to each step: not measured \u2014 {esc(why)}</p>'
        )
    if events is not None:
        shown = [_step_label(name, k < len(optional) and optional[k]) for k, name in enumerate(names)][1:]
        block, more = events_block(events, shown)
        html.append(block)
        charts.extend(more)
    html.append("</section>")
    return Part(
        "funnel-time",
        "Funnel over time",
        fmt_count(len(periods)) + f" {period}s",
        "".join(html),
        tuple(charts),
    )
