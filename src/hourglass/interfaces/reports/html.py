"""Self-contained, offline HTML report of journey-model funnels.

The page inlines plotly.js (once) from the installed plotly package, draws every chart with a
``Plotly.newPlot`` call on a fixed div id, and contains no timestamps or random ids: the same input
gives the same bytes.
"""

from __future__ import annotations

import functools
import html
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.offline

from hourglass import __version__

from ._charts import funnel_figure, new_plot_call, overview_figure
from ._format import (
    ARROW,
    Section,
    Step,
    fmt_count,
    fmt_duration,
    fmt_interval,
    fmt_pct,
    fmt_pct_short,
    loss_sentence,
    read_sections,
    summary_items,
)
from ._lifecycle_parts import build_parts
from ._parts import Part
from ._template import CSS, PAGE

__all__ = ["render_report", "write_report"]

OVERVIEW_DIV_ID = "hg-overview-chart"


def funnel_div_id(section_index: int) -> str:
    """The div id of the funnel chart of the section at this 0-based position."""
    return f"hg-funnel-{section_index + 1}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    js: str = plotly.offline.get_plotlyjs()
    return js.replace("</script", "<\\/script")


# --- overview ----------------------------------------------------------------------------------


def _stat(label: str, value: str, extra_class: str = "") -> str:
    numeric = value.replace(",", "").replace(".", "").replace("%", "").strip().isdigit()
    value_class = "v" if numeric or len(value) <= 9 else "v small"
    cls = f"stat {extra_class}".strip()
    return (
        f'<div class="{cls}"><div class="k">{_e(label)}</div>'
        f'<div class="{value_class}">{_e(value)}</div></div>'
    )


def _mini_funnel(section: Section) -> str:
    first = section.steps[0].customers if section.steps else None
    loss = section.largest_loss
    bars: list[str] = []
    for i, step in enumerate(section.steps):
        share = step.customers / first if first and step.customers is not None else 0.0
        hot = ' class="hot"' if loss is not None and loss.share_lost > 0 and loss.index == i else ""
        bars.append(f'<span{hot} style="width:{min(share, 1.0) * 100:.1f}%"></span>')
    return f'<div class="mini" aria-hidden="true">{"".join(bars)}</div>'


def _multiple(section: Section) -> str:
    loss = section.largest_loss
    first = section.steps[0].customers if section.steps else None
    last = section.steps[-1].customers if section.steps else None
    sub = f"{fmt_count(first)} {ARROW} {fmt_count(last)} customers"
    if loss is not None and loss.share_lost > 0:
        sub_loss = (
            f"largest loss {_e(loss.from_label)} {ARROW} {_e(loss.to_label)} "
            f"({fmt_pct_short(loss.share_lost)})"
        )
    else:
        sub_loss = "no loss between steps" if loss is not None else "&nbsp;"
    return (
        f'<a class="multiple" href="#{section.anchor}">'
        f'<div class="name">{_e(section.label)}</div>'
        f'<div class="big">{fmt_pct(section.overall)}</div>'
        f'<div class="sub">{sub}</div><div class="sub">{sub_loss}</div>'
        f"{_mini_funnel(section)}</a>"
    )


def _overview(sections: list[Section], summary: Mapping[str, Any] | None) -> str:
    parts = ['<section class="card" id="overview"><h2>Overview</h2>']
    items = summary_items(summary)
    if items:
        stats = "".join(_stat(label, value) for label, value in items)
        parts.append(f'<h3>Summary</h3><div class="stats">{stats}</div>')
    if sections:
        parts.append(
            "<h3>Overall conversion by model (last step / first step)</h3>"
            f'<div class="chart" id="{OVERVIEW_DIV_ID}"></div>'
        )
        parts.append('<h3>At a glance</h3><div class="multiples">')
        parts.extend(_multiple(s) for s in sections)
        parts.append("</div>")
    else:
        parts.append('<p class="empty">No models in this report.</p>')
    parts.append("</section>")
    return "".join(parts)


def _toc(sections: list[Section], parts: list[Part]) -> str:
    rows = ['<li><a href="#overview"><span>Overview</span></a></li>']
    for p in parts:
        rows.append(
            f'<li><a href="#{p.anchor}"><span>{_e(p.title)}</span>'
            f'<span class="toc-value">{_e(p.toc_value)}</span></a></li>'
        )
    for s in sections:
        rows.append(
            f'<li><a href="#{s.anchor}"><span>{_e(s.label)}</span>'
            f'<span class="toc-value">{fmt_pct(s.overall)}</span></a></li>'
        )
    return (
        '<nav class="toc" aria-label="Contents"><div class="toc-title">Contents</div>'
        f"<ol>{''.join(rows)}</ol></nav>"
    )


# --- one model ---------------------------------------------------------------------------------


def _interval_cell(value: float | None, low: float | None, high: float | None) -> str:
    text = fmt_interval(value, low, high)
    main, sep, rest = text.partition(" (")
    if not sep:
        return _e(main)
    return f'{_e(main)} <span class="interval">({_e(rest)}</span>'


def _row(step: Step, index: int, hot: bool) -> str:
    name = _e(step.label)
    if step.label != step.name:
        name += f'<code class="id">{_e(step.name)}</code>'
    if hot:
        name += '<span class="tag">largest loss</span>'
    prev = _interval_cell(step.conv_prev, step.conv_prev_low, step.conv_prev_high) if index > 0 else "\u2014"
    cells = [
        f'<td class="step">{name}</td>',
        f"<td>{fmt_count(step.customers)}</td>",
        f"<td>{_interval_cell(step.conv_first, step.conv_first_low, step.conv_first_high)}</td>",
        f'<td class="prev">{prev}</td>',
        f"<td>{fmt_count(step.dropped) if index > 0 else chr(0x2014)}</td>",
        f"<td>{fmt_duration(step.median_s)}</td>",
        f"<td>{fmt_duration(step.p90_s)}</td>",
    ]
    row_open = '<tr class="hot">' if hot else "<tr>"
    return f"{row_open}{''.join(cells)}</tr>"


def _table(section: Section) -> str:
    loss = section.largest_loss
    hot_index = loss.index if loss is not None and loss.share_lost > 0 else -1
    head = (
        '<thead><tr><th rowspan="2" class="step">Step</th><th rowspan="2">Customers</th>'
        '<th colspan="2" class="group">Conversion (95% interval)</th>'
        '<th rowspan="2">Dropped</th><th colspan="2" class="group">Time from previous</th></tr>'
        "<tr><th>from first</th><th>from previous</th><th>median</th><th>p90</th></tr></thead>"
    )
    body = "".join(_row(step, i, i == hot_index) for i, step in enumerate(section.steps))
    return f'<div class="table-wrap"><table>{head}<tbody>{body}</tbody></table></div>'


def _model(section: Section) -> str:
    head = [f'<div class="section-head"><h2>{_e(section.label)}</h2>']
    head.append(f'<span class="badge">{_e(section.kind)}</span>')
    if section.model not in (section.label, section.kind):
        head.append(f'<span class="badge plain"><code>{_e(section.model)}</code></span>')
    if section.window:
        head.append(f'<span class="badge plain">window {_e(section.window)}</span>')
    head.append("</div>")
    parts = [f'<section class="card model" id="{section.anchor}">', *head]
    if section.description:
        parts.append(f'<p class="description">{_e(section.description)}</p>')
    if not section.steps:
        why = "has no steps" if section.has_result else "has no funnel result"
        parts.append(f'<p class="empty">This model {why}.</p></section>')
        return "".join(parts)
    loss = section.largest_loss
    first, last = section.steps[0].customers, section.steps[-1].customers
    stats = [
        _stat("Entered", fmt_count(first)),
        _stat("Reached the last step", fmt_count(last)),
        _stat("Overall conversion", fmt_pct(section.overall)),
    ]
    if loss is not None and loss.share_lost > 0:
        stats.append(_stat("Largest loss", f"{fmt_pct_short(loss.share_lost)} lost", "loss"))
    parts.append(f'<div class="stats">{"".join(stats)}</div>')
    calm = "" if loss is not None and loss.share_lost > 0 else " calm"
    parts.append(f'<p class="callout{calm}">{_e(loss_sentence(loss))}</p>')
    parts.append("<h3>Funnel</h3>")
    parts.append(f'<div class="chart funnel" id="{funnel_div_id(section.index)}"></div>')
    parts.append("<h3>Steps</h3>")
    parts.append(_table(section))
    if section.meta:
        rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in section.meta)
        parts.append(f'<details class="meta"><summary>Run details</summary><dl>{rows}</dl></details>')
    parts.append("</section>")
    return "".join(parts)


# --- page --------------------------------------------------------------------------------------


def render_report(
    sections: Sequence[Mapping[str, Any]],
    *,
    title: str = "hourglass report",
    summary: Mapping[str, Any] | None = None,
    lifecycle: Mapping[str, Any] | None = None,
    journeys: Mapping[str, Any] | None = None,
) -> str:
    """The report as one self-contained HTML document (plotly.js inlined once, no network).

    ``lifecycle``: a lifecycle result's ``to_dict()`` (the hourglass, after-sale figures, the
    referral loop and the channel table); ``journeys``: ``{"journeys": ..., "transitions": ...,
    "paths": ..., "journey": ...}``, each a result's ``to_dict()`` (any may be left out)."""
    models = read_sections(sections)
    parts = build_parts(lifecycle, journeys)
    count = len(models)
    lede = f"{count} journey model{'' if count == 1 else 's'} on one event log"
    header = (
        '<header class="top"><div class="eyebrow">hourglass \u00b7 customer journeys</div>'
        f'<h1>{_e(title)}</h1><p class="lede">{_e(lede)}</p></header>'
    )
    main = [_overview(models, summary), *(p.html for p in parts), *(_model(s) for s in models)]
    body = (
        f'{header}<div class="layout">{_toc(models, parts)}<main>{"".join(main)}'
        f"<footer>Made with hourglass {_e(__version__)}. "
        "Works offline: everything this page needs is inside it.</footer></main></div>"
    )
    calls: list[str] = []
    if models:
        calls.append(new_plot_call(OVERVIEW_DIV_ID, overview_figure(models)))
    calls.extend(new_plot_call(div_id, figure) for p in parts for div_id, figure in p.charts)
    calls.extend(new_plot_call(funnel_div_id(s.index), funnel_figure(s)) for s in models if s.steps)
    return PAGE.format(
        generator=_e(f"hourglass {__version__}"),
        title=_e(title),
        css=CSS,
        body=body,
        plotlyjs=_plotly_js(),
        calls="\n".join(calls),
    )


def write_report(
    path: str | os.PathLike[str],
    sections: Sequence[Mapping[str, Any]],
    *,
    title: str = "hourglass report",
    summary: Mapping[str, Any] | None = None,
    lifecycle: Mapping[str, Any] | None = None,
    journeys: Mapping[str, Any] | None = None,
) -> pathlib.Path:
    """Render the report and write it (UTF-8) to ``path``; returns the path written."""
    target = pathlib.Path(path)
    text = render_report(sections, title=title, summary=summary, lifecycle=lifecycle, journeys=journeys)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", newline="\n")
    return target
