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
    Section,
    Step,
    fmt_count,
    fmt_duration,
    fmt_interval,
    fmt_pct,
    fmt_pct_short,
    loss_sentence,
    read_sections,
)
from ._lifecycle_parts import build_parts
from ._measured import (
    NOT_MEASURED,
    Info,
    measured_steps,
    not_measured_list,
    overview_counts,
    reconcile_sentence,
    to_last_measured,
)
from ._overview import OVERVIEW_DIV_ID, overview_html, stat, toc_html
from ._parts import Part
from ._template import CSS, PAGE

__all__ = ["render_report", "write_report"]


def funnel_div_id(section_index: int) -> str:
    """The div id of the funnel chart of the section at this 0-based position."""
    return f"hg-funnel-{section_index + 1}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    js: str = plotly.offline.get_plotlyjs()
    return js.replace("</script", "<\\/script")


# --- one model ---------------------------------------------------------------------------------


def _interval_cell(value: float | None, low: float | None, high: float | None) -> str:
    text = fmt_interval(value, low, high)
    main, sep, rest = text.partition(" (")
    if not sep:
        return _e(main)
    return f'{_e(main)} <span class="interval">({_e(rest)}</span>'


def _row(step: Step, index: int, hot: bool, why: str | None = None) -> str:
    name = _e(step.label)
    if step.label != step.name:
        name += f'<code class="id">{_e(step.name)}</code>'
    if why is not None:
        return (
            f'<tr><td class="step">{name}</td><td class="nm" colspan="6">{NOT_MEASURED} ({_e(why)})</td></tr>'
        )
    if step.optional:
        name += '<span class="tag" style="background:var(--tint);color:var(--primary-dark)">optional</span>'
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


def _table(section: Section, info: Info) -> str:
    loss = section.largest_loss
    hot_index = loss.index if loss is not None and loss.share_lost > 0 else -1
    what = f'<br><span class="interval">{_e(info.count_label)}</span>' if info.count_label else ""
    head = (
        f'<thead><tr><th rowspan="2" class="step">Step</th><th rowspan="2" class="count">'
        f"{_e(section.noun.capitalize())}{what}</th>"
        '<th colspan="2" class="group">Conversion (95% interval)</th>'
        '<th rowspan="2">Dropped</th><th colspan="2" class="group">Time from previous</th></tr>'
        "<tr><th>from first</th><th>from previous</th><th>median</th><th>p90</th></tr></thead>"
    )
    body = "".join(
        _row(step, i, i == hot_index, info.unmeasured.get(step.name)) for i, step in enumerate(section.steps)
    )
    table = f'<div class="table-wrap"><table>{head}<tbody>{body}</tbody></table></div>'
    if any(step.optional for step in section.steps):
        table += (
            '<p class="note">An <em>optional</em> step counts when present and never blocks the chain '
            "(docs/semantics.md): its conversion from previous is its share of the previous required "
            "step, a required step's is of the previous required step, and skipping an optional step "
            "loses no one (no dropped, never the largest loss).</p>"
        )
    return table


def _head(section: Section) -> list[str]:
    head = [f'<div class="section-head"><h2>{_e(section.label)}</h2>']
    head.append(f'<span class="badge">{_e(section.kind)}</span>')
    if section.model not in (section.label, section.kind):
        head.append(f'<span class="badge plain"><code>{_e(section.model)}</code></span>')
    if section.window:
        head.append(f'<span class="badge plain">window {_e(section.window)}</span>')
    head.append("</div>")
    return head


def _model(section: Section, info: Info, lifecycle: Mapping[str, Any] | None) -> str:
    nm = " nm" if info.not_measured is not None else ""
    parts = [f'<section class="card model{nm}" id="{section.anchor}">', *_head(section)]
    if section.description:
        parts.append(f'<p class="description">{_e(section.description)}</p>')
    if info.not_measured is not None:
        parts.append(f'<p class="nm"><b>Not measured.</b> {_e(info.not_measured)}</p></section>')
        return "".join(parts)
    if not section.steps:
        why = "has no steps" if section.has_result else "has no funnel result"
        parts.append(f'<p class="empty">This model {why}.</p></section>')
        return "".join(parts)
    loss = section.largest_loss
    goal = section.last_required or section.steps[-1]  # a trailing optional step is not the goal
    first, last = section.steps[0].customers, goal.customers
    within = f" in order within {section.window}" if info.count_label and section.window else ""
    reach = "Reached" if section.noun == "customers" else f"{section.noun.capitalize()} that reached"
    last_step = "the last step" if goal is section.steps[-1] else "the last required step"
    reached = f"{reach} {goal.label}{within}" if within else f"{reach} {last_step}"
    stats = [
        stat(
            "Entered" if section.noun == "customers" else f"{section.noun.capitalize()} entered",
            fmt_count(first),
        )
    ]
    if info.whole:
        stats.append(stat(reached, fmt_count(last)))
        stats.append(stat("Overall conversion", fmt_pct(section.overall)))
    else:
        shown = measured_steps(section, info)
        stats.append(stat(f"{reach} the last step", NOT_MEASURED, "nm"))
        if shown.steps:
            to = shown.steps[-1]
            stats.append(stat(f"{reach} {to.label}{within}", fmt_count(to.customers)))
            stats.append(stat(f"Conversion to {to.label}", fmt_pct(shown.overall)))
    if loss is not None and loss.share_lost > 0:
        stats.append(stat("Largest loss", f"{fmt_pct_short(loss.share_lost)} lost", "loss"))
    parts.append(f'<div class="stats">{"".join(stats)}</div>')
    parts.extend(f'<p class="note options">{_e(note)}</p>' for note in info.notes)
    counts = reconcile_sentence(section, info, lifecycle)
    if counts:
        parts.append(f'<p class="counts">{_e(counts)}</p>')
    if info.unmeasured:
        names = ", ".join(info.unmeasured)
        parts.append(
            f'<p class="nm">Not measured: {_e(names)}. A stage of this model matches no event of the '
            f"source, so an ordered funnel cannot count anyone there or after it; {_e(info.hint)}.</p>"
        )
    calm = "" if loss is not None and loss.share_lost > 0 else " calm"
    parts.append(f'<p class="callout{calm}">{_e(loss_sentence(loss, section.noun))}</p>')
    parts.append("<h3>Funnel</h3>")
    parts.append(f'<div class="chart funnel" id="{funnel_div_id(section.index)}"></div>')
    parts.append("<h3>Steps</h3>")
    parts.append(_table(section, info))
    if section.meta:
        rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in section.meta)
        parts.append(f'<details class="meta"><summary>Run details</summary><dl>{rows}</dl></details>')
    parts.append("</section>")
    return "".join(parts)


# --- page --------------------------------------------------------------------------------------


def _with_counts(section_html: str, counts: str | None) -> str:
    """The lifecycle section with the buyers' reconciling line after its description (else at its
    end): the lifecycle's "ever entered" next to the funnel's "reached in order"."""
    if not counts:
        return section_html
    line = f'<p class="counts">{_e(counts)}</p>'
    start = section_html.find('class="description"')
    end = section_html.find("</p>", start) if start >= 0 else -1
    if end >= 0:
        return section_html[: end + 4] + line + section_html[end + 4 :]
    return section_html.removesuffix("</section>") + line + "</section>"


def render_report(
    sections: Sequence[Mapping[str, Any]],
    *,
    title: str = "hourglass report",
    summary: Mapping[str, Any] | None = None,
    lifecycle: Mapping[str, Any] | None = None,
    journeys: Mapping[str, Any] | None = None,
    not_measured: Mapping[str, str] | None = None,
    extra_parts: Sequence[Part] = (),
    notes: Sequence[str] = (),
) -> str:
    """The report as one self-contained HTML document (plotly.js inlined once, no network).

    ``sections``: one dict per model (``model``, ``label``, ``kind``, ``description``, ``window``,
    ``funnel``: a funnel result's ``to_dict()``; a model the source cannot measure has
    ``not_measured``: the reason, and no funnel; docs/report.md). ``lifecycle``: a lifecycle
    result's ``to_dict()`` (the hourglass, after-sale figures, the referral loop and the channel
    table); ``journeys``: ``{"journeys": ..., "transitions": ..., "paths": ..., "journey": ...}``,
    each a result's ``to_dict()`` (any may be left out); ``not_measured``: other sections the
    source cannot measure (name -> reason), listed in a "Not measured" card; ``extra_parts``: the
    sections of the later analyses (interfaces/report_extras.py), drawn after the journeys;
    ``notes``: lines for the overview (the funnels' --hold and --count, and that the other sections
    do not take them)."""
    models = read_sections(sections)
    infos = [Info.of(raw) for raw in sections]
    parts = [*build_parts(lifecycle, journeys), *extra_parts]
    nm_html, nm_count = not_measured_list(models, infos, not_measured or {})
    count = len(models)
    lede = f"{count} journey model{'' if count == 1 else 's'} on one event log"
    header = (
        '<header class="top"><div class="eyebrow">hourglass \u00b7 customer journeys</div>'
        f'<h1>{_e(title)}</h1><p class="lede">{_e(lede)}</p></header>'
    )
    counts = overview_counts(models, infos, lifecycle)
    main = [overview_html(models, infos, summary, counts, notes)]
    toc_parts = list(parts)
    if nm_html:
        main.append(nm_html)
        toc_parts.insert(0, Part("not-measured", "Not measured", nm_count, nm_html))
    main += [_with_counts(p.html, counts) if p.anchor == "hourglass" else p.html for p in parts]
    main += [_model(s, i, lifecycle) for s, i in zip(models, infos, strict=True)]
    body = (
        f'{header}<div class="layout">{toc_html(models, infos, toc_parts)}<main>{"".join(main)}'
        f"<footer>Made with hourglass {_e(__version__)}. "
        "Works offline: everything this page needs is inside it.</footer></main></div>"
    )
    calls: list[str] = []
    measured = [to_last_measured(s, i) for s, i in zip(models, infos, strict=True) if i.not_measured is None]
    if measured:
        calls.append(new_plot_call(OVERVIEW_DIV_ID, overview_figure(measured)))
    calls.extend(new_plot_call(div_id, figure) for p in parts for div_id, figure in p.charts)
    for s, i in zip(models, infos, strict=True):
        shown = measured_steps(s, i)
        if shown.steps and i.not_measured is None:
            calls.append(new_plot_call(funnel_div_id(s.index), funnel_figure(shown)))
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
    not_measured: Mapping[str, str] | None = None,
    extra_parts: Sequence[Part] = (),
    notes: Sequence[str] = (),
) -> pathlib.Path:
    """Render the report and write it (UTF-8) to ``path``; returns the path written."""
    target = pathlib.Path(path)
    text = render_report(
        sections,
        title=title,
        summary=summary,
        lifecycle=lifecycle,
        journeys=journeys,
        not_measured=not_measured,
        extra_parts=extra_parts,
        notes=notes,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    from hourglass.ingest.outputs import write_text_atomically  # whole or not at all (HG425)

    write_text_atomically(target, text, newline="\n")
    return target
