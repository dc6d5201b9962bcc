"""The hourglass section: the model's stages drawn as an hourglass (narrowing to the sale, widening
after it), with the customers and the conversion on every stage, and the stage table. Reads the
lifecycle result's dict (docs/semantics-lifecycle.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from ._after_sale import after_sale_html
from ._charts import PALETTE, _layout, _plotly_text
from ._format import ARROW, EM_DASH, fmt_count, fmt_duration, fmt_interval, fmt_pct
from ._parts import (
    STAGE_COLORS,
    Part,
    esc,
    get_count,
    get_list,
    get_map,
    get_number,
    na_cell,
    na_note,
    na_tile,
    reason_of,
    share_text,
    stage_colors,
    tile,
    tiles,
)

__all__ = ["HOURGLASS_DIV_ID", "StageRow", "hourglass_figure", "lifecycle_part", "read_stages"]

HOURGLASS_DIV_ID = "hg-hourglass-chart"
WAIST = 0.07  # half-width of the outline at the sale, as a share of the full width
MIN_BAR = 0.004  # the narrowest bar drawn, so that a stage with a few customers stays visible


@dataclass(frozen=True)
class StageRow:
    stage: str
    label: str
    entered: int | None
    conversion: float | None
    conversion_low: float | None
    conversion_high: float | None
    lost: int | None
    median_s: float | None
    current: int | None
    reason: str = ""  #: why the stage is not measured (no event of it), "" when it is
    onward_reason: str = ""  #: why "went on" and "lost" are not measured (no later stage is)


def read_stages(lifecycle: Mapping[str, Any]) -> list[StageRow]:
    rows = []
    for i, raw in enumerate(get_list(lifecycle, "stages")):
        name = str(raw.get("stage") or f"stage {i + 1}")
        rows.append(
            StageRow(
                stage=name,
                label=str(raw.get("label") or name),
                entered=get_count(raw, "entered"),
                conversion=get_number(raw, "conversion"),
                conversion_low=get_number(raw, "conversion_low"),
                conversion_high=get_number(raw, "conversion_high"),
                lost=get_count(raw, "lost"),
                median_s=get_number(raw, "median_time_in_stage_s"),
                current=get_count(raw, "current"),
                reason=reason_of(raw, "entered") if raw.get("entered") is None else "",
                onward_reason=reason_of(raw, "lost") if raw.get("lost") is None else "",
            )
        )
    return rows


def _waist(stages: list[StageRow], sale: str | None) -> int:
    """Index of the sale stage; a model without one narrows to its last stage."""
    names = [s.stage for s in stages]
    return names.index(sale) if sale in names else len(names) - 1


def _outline(n: int, waist: int, bars: list[float]) -> tuple[list[float], list[float]]:
    """The hourglass outline (x, y) as one closed polygon: half-width 0.5 at the ends, WAIST at
    the sale, never narrower than a bar (``bars``: half-widths) plus a margin; y is the stage
    position (0 at the top), with half a stage of room at both ends."""
    half: list[float] = []
    for i in range(n):
        if i <= waist:
            t = i / waist if waist else 1.0
        else:
            t = 1.0 - (i - waist) / max(n - 1 - waist, 1)
        half.append(max(0.5 - (0.5 - WAIST) * t, bars[i] + 0.025))
    ys = [-0.5, *range(n), n - 0.5]
    right = [half[0], *half, half[-1]]
    xs = right + [-x for x in reversed(right)] + [right[0]]
    yy = [float(y) for y in ys] + [float(y) for y in reversed(ys)] + [float(ys[0])]
    return xs, yy


def _label(row: StageRow, index: int, last: int) -> str:
    if row.reason:
        return "<i>not measured</i>"
    count = f"<b>{fmt_count(row.entered)}</b>"
    if index == last or row.conversion is None:
        return count
    return f"{count} \u00b7 {share_text(row.conversion)} go on"


def hourglass_figure(lifecycle: Mapping[str, Any]) -> go.Figure:
    """Centred bars, one per stage (width = customers who entered it, on one scale for the whole
    chart), inside the model's hourglass outline; the sale is the waist."""
    stages = read_stages(lifecycle)
    n = len(stages)
    sale = lifecycle.get("sale_stage")
    waist = _waist(stages, sale if isinstance(sale, str) else None)
    top = max([s.entered or 0 for s in stages], default=0) or 1
    colors = stage_colors([s.stage for s in stages], stages[waist].stage if sale is not None else None)
    widths = [max((s.entered or 0) / top, MIN_BAR if s.entered else 0.0) for s in stages]
    xs, ys = _outline(n, waist, [w / 2 for w in widths])
    outline = go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        fill="toself",
        fillcolor="rgba(79,70,229,0.06)",
        line={"color": "rgba(79,70,229,0.35)", "width": 1.5, "shape": "spline", "smoothing": 0.6},
        hoverinfo="skip",
        name="the model's hourglass",
    )
    hover = [
        [
            _plotly_text(s.label),
            fmt_interval(s.conversion, s.conversion_low, s.conversion_high) if i < n - 1 else EM_DASH,
            fmt_duration(s.median_s),
            fmt_count(s.lost),
        ]
        for i, s in enumerate(stages)
    ]
    bars = go.Bar(
        y=list(range(n)),
        x=widths,
        base=[-w / 2 for w in widths],
        orientation="h",
        width=0.62,
        marker={"color": [colors[s.stage] for s in stages], "line": {"width": 0}},
        customdata=hover,
        hovertext=[fmt_count(s.entered) for s in stages],
        hovertemplate=(
            "<b>%{customdata[0]}</b><br>%{hovertext} customers entered<br>went on: %{customdata[1]}"
            "<br>lost here: %{customdata[3]}<br>median time in stage: %{customdata[2]}<extra></extra>"
        ),
        name="customers",
    )
    annotations = [
        {
            "x": max(widths[i] / 2, 0.0) + 0.045,
            "y": i,
            "xref": "x",
            "yref": "y",
            "text": _label(s, i, n - 1),
            "showarrow": False,
            "xanchor": "left",
            "font": {"size": 13, "color": PALETTE["ink"]},
        }
        for i, s in enumerate(stages)
    ]
    if sale is not None:
        annotations.append(
            {
                "x": -max(widths[waist] / 2 + 0.025, WAIST) - 0.03,
                "y": waist,
                "text": "the sale \u25b8",
                "showarrow": False,
                "xanchor": "right",
                "font": {"size": 12, "color": STAGE_COLORS["sale"]},
            }
        )
    layout = _layout(
        height=max(260, 70 + 58 * n),
        margin={"l": 10, "r": 10, "t": 8, "b": 8, "pad": 4},
        xaxis={"visible": False, "range": [-0.62, 0.95], "fixedrange": True},
        yaxis={
            "tickvals": list(range(n)),
            "ticktext": [_plotly_text(s.label) for s in stages],
            "autorange": False,
            "range": [n - 0.4, -0.6],
            "ticks": "",
            "showgrid": False,
            "zeroline": False,
            "automargin": True,
            "fixedrange": True,
            "tickfont": {"size": 13},
        },
        annotations=annotations,
        bargap=0.0,
    )
    return go.Figure(data=[outline, bars], layout=layout)


def _stage_table(stages: list[StageRow], lifecycle: Mapping[str, Any]) -> str:
    big = get_map(get_map(lifecycle, "biggest_loss"), "absolute").get("stage")
    rows = []
    for i, s in enumerate(stages):
        hot = s.stage == big
        name = esc(s.label) + (f'<code class="id">{esc(s.stage)}</code>' if s.label != s.stage else "")
        if hot:
            name += '<span class="tag">most lost</span>'
        row_open = '<tr class="hot">' if hot else "<tr>"
        if s.reason:
            rows.append(f'{row_open}<td class="step">{name}</td>{na_cell(s.reason) * 5}</tr>')
            continue
        conv = (
            fmt_interval(s.conversion, s.conversion_low, s.conversion_high)
            if i < len(stages) - 1 and s.conversion is not None
            else EM_DASH
        )
        onward = (
            na_cell(s.onward_reason) * 2
            if s.onward_reason
            else f"<td>{esc(conv)}</td><td>{fmt_count(s.lost)}</td>"
        )
        rows.append(
            f'{row_open}<td class="step">{name}</td><td>{fmt_count(s.entered)}</td>{onward}'
            f"<td>{fmt_count(s.current)}</td><td>{fmt_duration(s.median_s)}</td></tr>"
        )
    head = (
        '<thead><tr><th class="step">Stage</th><th>Ever entered</th><th>Went on (95% interval)</th>'
        "<th>Lost</th><th>Now here</th><th>Median time in stage</th></tr></thead>"
    )
    table = f'<div class="table-wrap"><table>{head}<tbody>{"".join(rows)}</tbody></table></div>'
    missing = [s for s in stages if s.reason]
    notes = "".join(na_note(s.label, s.reason) for s in missing)
    return table + notes


def _headline(lifecycle: Mapping[str, Any], stages: list[StageRow]) -> str:
    customers = get_count(lifecycle, "customers")
    purchasers = get_count(lifecycle, "purchasers")
    items = [tile("Customers", fmt_count(customers), "ever entered a stage")]
    if purchasers is None:
        items.append(na_tile("Purchasers", reason_of(lifecycle, "purchasers")))
    else:
        items.append(tile("Purchasers", fmt_count(purchasers), "ever entered the sale stage"))
    if customers and purchasers is not None:
        items.append(tile("Bought", fmt_pct(purchasers / customers), "of all customers"))
    repeat = get_number(lifecycle, "repeat_rate")
    if repeat is not None:
        items.append(tile("Repeat rate", fmt_pct(repeat), "of purchasers bought again"))
    elif "repeat_rate_reason" in lifecycle:
        items.append(na_tile("Repeat rate", reason_of(lifecycle, "repeat_rate")))
    k = get_number(lifecycle, "k_factor")
    if k is not None:
        items.append(tile("K-factor", f"{k:.3f}", "referred purchasers per purchaser"))
    elif "k_factor_reason" in lifecycle:
        items.append(na_tile("K-factor", reason_of(lifecycle, "k_factor")))
    return tiles(items)


def _loss_sentence(lifecycle: Mapping[str, Any], stages: list[StageRow]) -> str:
    big = get_map(lifecycle, "biggest_loss")
    labels = {s.stage: s.label for s in stages}
    parts = []
    a, r = get_map(big, "absolute"), get_map(big, "relative")
    if a:
        parts.append(
            f"Most customers are lost at {labels.get(str(a.get('stage')), a.get('stage'))} "
            f"({fmt_count(get_count(a, 'lost'))}, "
            f"{fmt_pct(get_number(a, 'lost_share'))} of those who got there)"
        )
    if r and r.get("stage") != a.get("stage"):
        parts.append(
            f"the highest loss rate is at {labels.get(str(r.get('stage')), r.get('stage'))} "
            f"({fmt_pct(get_number(r, 'lost_share'))})"
        )
    return ("; ".join(parts) + ".") if parts else ""


def lifecycle_part(lifecycle: Mapping[str, Any]) -> Part:
    """The hourglass section of a lifecycle result dict."""
    stages = read_stages(lifecycle)
    model, kind = str(lifecycle.get("model") or ""), str(lifecycle.get("kind") or "model")
    badge = f'<span class="badge plain"><code>{esc(model)}</code></span>' if model and model != kind else ""
    head = (
        '<div class="section-head"><h2>The hourglass</h2>'
        f'<span class="badge">{esc(kind)}</span>{badge}</div>'
        '<p class="description">Every stage of the model, before and after the sale. A customer '
        "<em>ever entered</em> a stage if he has at least one of its events, in any order and with no "
        "window; <em>went on</em> is the share who also entered a later stage. (A funnel counts who "
        "reached its steps in order within its window, so its counts are lower.) A stage with no event "
        "in the data is <em>not measured</em>, not zero.</p>"
    )
    parts = [f'<section class="card hourglass" id="hourglass">{head}', _headline(lifecycle, stages)]
    charts: list[tuple[str, go.Figure]] = []
    if stages:
        sentence = _loss_sentence(lifecycle, stages)
        if sentence:
            parts.append(f'<p class="callout">{esc(sentence)}</p>')
        parts.append(
            "<h3>Customers through the hourglass</h3>"
            f'<div class="chart hourglass-chart" id="{HOURGLASS_DIV_ID}"></div>'
            '<p class="note">Bar width: customers who entered the stage (one scale for the whole '
            "chart). The outline is the shape the model hopes for: narrowing to the sale "
            f"{ARROW} widening again as buyers come back and bring others. The room between the bars "
            "and the outline after the sale is the room to grow.</p>"
        )
        charts.append((HOURGLASS_DIV_ID, hourglass_figure(lifecycle)))
        parts.append("<h3>Stages</h3>" + _stage_table(stages, lifecycle))
    else:
        parts.append('<p class="empty">The lifecycle result has no stages.</p>')
    after = get_map(lifecycle, "after_sale")
    if after:
        parts.append(after_sale_html(after))
    elif "after_sale_reason" in lifecycle:
        parts.append(
            "<h3>After the sale</h3>" + na_note("After the sale", reason_of(lifecycle, "after_sale"))
        )
    parts.append("</section>")
    repeat = get_number(lifecycle, "repeat_rate")
    value = "" if repeat is None else fmt_pct(repeat)
    return Part("hourglass", "The hourglass", value, "".join(parts), tuple(charts))
