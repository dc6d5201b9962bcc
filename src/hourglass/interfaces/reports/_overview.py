"""The report's overview (the summary figures, the options' lines, the buyers' reconciling line, the
overall conversion chart's div and one tile per model) and its table of contents, from the normalised
sections (``_format.read_sections``) and what each cannot measure (``_measured.Info``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._format import ARROW, Section, fmt_count, fmt_pct, fmt_pct_short, summary_items
from ._measured import NOT_MEASURED, Info, measured_steps
from ._parts import Part, esc

__all__ = ["OVERVIEW_DIV_ID", "overview_html", "stat", "toc_html"]

OVERVIEW_DIV_ID = "hg-overview-chart"


def stat(label: str, value: str, extra_class: str = "") -> str:
    numeric = value.replace(",", "").replace(".", "").replace("%", "").strip().isdigit()
    value_class = "v" if numeric or len(value) <= 9 else "v small"
    cls = f"stat {extra_class}".strip()
    return (
        f'<div class="{cls}"><div class="k">{esc(label)}</div>'
        f'<div class="{value_class}">{esc(value)}</div></div>'
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


def _why_short(reason: str) -> str:
    """A not-measured model's reason for its tile: its first clause."""
    if reason.startswith("none of its events"):
        return "none of its events is in the source"
    return reason.split(":", 1)[0].split(";", 1)[0]


def _multiple(section: Section, info: Info) -> str:
    if info.not_measured is not None:
        return (
            f'<a class="multiple nm" href="#{section.anchor}">'
            f'<div class="name">{esc(section.label)}</div>'
            f'<div class="big">{NOT_MEASURED}</div>'
            f'<div class="sub">{esc(_why_short(info.not_measured))}</div></a>'
        )
    loss = section.largest_loss
    first = section.steps[0].customers if section.steps else None
    goal = section.last_required  # a trailing optional step is not the goal
    last = goal.customers if goal is not None else None
    noun = section.noun
    sub = f"{fmt_count(first)} {ARROW} {fmt_count(last)} {noun}"
    shown = measured_steps(section, info)
    if not info.whole and shown.steps:
        last_step = shown.steps[-1]
        sub = f"{fmt_count(first)} {ARROW} {fmt_count(last_step.customers)} {noun} to {last_step.label}"
    if loss is not None and loss.share_lost > 0:
        sub_loss = (
            f"largest loss {esc(loss.from_label)} {ARROW} {esc(loss.to_label)} "
            f"({fmt_pct_short(loss.share_lost)})"
        )
    else:
        sub_loss = "no loss between steps" if loss is not None else "&nbsp;"
    big = fmt_pct(shown.overall)
    return (
        f'<a class="multiple{"" if info.whole else " nm"}" href="#{section.anchor}">'
        f'<div class="name">{esc(section.label)}</div>'
        f'<div class="big">{big}</div>'
        f'<div class="sub">{esc(sub)}</div><div class="sub">{sub_loss}</div>'
        f"{_mini_funnel(shown)}</a>"
    )


def overview_html(
    sections: list[Section],
    infos: list[Info],
    summary: Mapping[str, Any] | None,
    counts: str | None,
    notes: Sequence[str] = (),
) -> str:
    parts = ['<section class="card" id="overview"><h2>Overview</h2>']
    items = summary_items(summary)
    if items:
        stats = "".join(stat(label, value) for label, value in items)
        parts.append(f'<h3>Summary</h3><div class="stats">{stats}</div>')
    parts.extend(f'<p class="note options">{esc(note)}</p>' for note in notes)
    if counts:
        parts.append(f'<p class="counts">{esc(counts)}</p>')
    if sections:
        if any(i.not_measured is None for i in infos):
            parts.append(
                "<h3>Overall conversion by model (last step / first step)</h3>"
                f'<div class="chart" id="{OVERVIEW_DIV_ID}"></div>'
            )
        parts.append('<h3>At a glance</h3><div class="multiples">')
        parts.extend(_multiple(s, i) for s, i in zip(sections, infos, strict=True))
        parts.append("</div>")
    else:
        parts.append('<p class="empty">No models in this report.</p>')
    parts.append("</section>")
    return "".join(parts)


def toc_html(sections: list[Section], infos: list[Info], parts: list[Part]) -> str:
    rows = ['<li><a href="#overview"><span>Overview</span></a></li>']
    for p in parts:
        rows.append(
            f'<li><a href="#{p.anchor}"><span>{esc(p.title)}</span>'
            f'<span class="toc-value">{esc(p.toc_value)}</span></a></li>'
        )
    for s, i in zip(sections, infos, strict=True):
        value = NOT_MEASURED if i.not_measured is not None else fmt_pct(measured_steps(s, i).overall)
        rows.append(
            f'<li><a href="#{s.anchor}"><span>{esc(s.label)}</span>'
            f'<span class="toc-value">{value}</span></a></li>'
        )
    return (
        '<nav class="toc" aria-label="Contents"><div class="toc-title">Contents</div>'
        f"<ol>{''.join(rows)}</ol></nav>"
    )
