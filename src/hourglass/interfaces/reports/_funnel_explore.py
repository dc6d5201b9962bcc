"""The report's "funnel explained" section (docs/semantics-funnel-explore.md): at the main model's
step with the largest loss, what the customers who dropped did instead (the drop-off paths) and
which events and property values went with converting or dropping (the correlation), from the
results' ``to_dict()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hourglass.model.funnel_explore import format_p

from ._format import fmt_count, fmt_pct
from ._parts import Part, esc, get_list, tile, tiles

__all__ = ["funnel_explore_part", "path_label"]

ARROW = " \u2192 "


def path_label(paths: Mapping[str, Any], path: list[str], ended: bool) -> str:
    """A path as the CLI and the dashboard write it."""
    step, nxt = str(paths.get("step")), str(paths.get("next_step"))
    if not path:
        return (
            f"(no event after {step}: left)" if paths.get("view") == "dropoff" else f"(straight on to {nxt})"
        )
    tail = ("(end)" if paths.get("view") == "dropoff" else nxt) if ended else "\u2026"
    return ARROW.join([*path, tail])


def _paths_table(paths: Mapping[str, Any]) -> str:
    rows = []
    for i, p in enumerate(get_list(paths, "paths"), start=1):
        text = path_label(paths, list(p.get("path") or []), bool(p.get("ended")))
        rows.append(
            f'<tr><td>{i}</td><td class="step">{esc(text)}</td><td>{fmt_count(p.get("customers"))}</td>'
            f"<td>{fmt_pct(p.get('share'))}</td></tr>"
        )
    other = paths.get("other_customers") or 0
    if other:
        rows.append(
            f'<tr><td></td><td class="step">(other paths)</td><td>{fmt_count(other)}</td>'
            f"<td>{fmt_pct(other / paths['customers'] if paths.get('customers') else None)}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="hg-table"><thead><tr><th>#</th><th class="step">path</th>'
        f"<th>customers</th><th>share</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _items_table(corr: Mapping[str, Any], top: int) -> str:
    rows = []
    for i, it in enumerate(get_list(corr, "items")[:top], start=1):
        label = it.get("value") if it.get("kind") == "event" else f"{it.get('kind')} = {it.get('value')}"
        hot = ' class="hot"' if (it.get("q_value") or 1) < 0.05 else ""
        with_n = (it.get("converted_with") or 0) + (it.get("dropped_with") or 0)
        lo, hi = it.get("odds_ratio_low", 0), it.get("odds_ratio_high", 0)
        ratio = f"{it.get('odds_ratio', 0):.3g} ({lo:.3g}\u2013{hi:.3g})"
        rows.append(
            f'<tr{hot}><td>{i}</td><td class="step">{esc(label)}</td><td>{esc(it.get("direction"))}</td>'
            f"<td>{fmt_pct(it.get('conversion_with'))} of {fmt_count(with_n)}</td>"
            f"<td>{fmt_pct(it.get('conversion_without'))}</td>"
            f"<td>{ratio}</td>"
            f"<td>{format_p(float(it.get('q_value', 1)))}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="hg-table"><thead><tr><th>#</th><th class="step">item</th>'
        "<th>goes with</th><th>converted with it</th><th>without</th><th>odds ratio (95% CI)</th>"
        f"<th>q (BH)</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def funnel_explore_part(
    dropoff: Mapping[str, Any],
    correlation: Mapping[str, Any],
    label: str,
    top: int = 10,
    *,
    hold: str | None = None,
) -> Part:
    """The section: tiles (the step, its droppers, those who left), the top drop-off paths and
    the top correlation items (highlighted: q < 0.05); ``hold``: the column the funnel held (else
    the one in the result's ``meta.spec``), said in the section."""
    step, nxt = str(dropoff.get("step")), str(dropoff.get("next_step"))
    meta = dropoff.get("meta")
    spec = meta.get("spec") if isinstance(meta, Mapping) else None
    hold = hold or (spec.get("hold") if isinstance(spec, Mapping) else None)
    held = (
        f'<p class="note">Held: events of one chain share the same {esc(hold)} (--hold {esc(hold)}): '
        f"the customers are those the held funnel counts at {esc(step)} and not at {esc(nxt)}; their "
        "paths and items are every event after the step, whatever its value.</p>"
        if hold
        else ""
    )
    html = [
        '<section class="card" id="funnel-explained"><div class="section-head"><h2>Why customers drop</h2>'
        f'<span class="badge">{esc(label)}</span>'
        f'<span class="badge plain">{esc(step)} \u2192 {esc(nxt)}</span></div>'
        f'<p class="description">At the step that lost the most customers ({esc(step)} to {esc(nxt)}): what '
        f"those who reached {esc(step)} and not {esc(nxt)} did after it, and which events and property "
        "values before the drop-off point went with converting or dropping (odds ratio with a 95% "
        "interval, Fisher's exact test, Benjamini-Hochberg corrected; the funnel's own step events are "
        "not items). On the dashboard, each path and item lists its customers.</p>",
        held,
        tiles(
            [
                tile(f"Dropped after {step}", fmt_count(dropoff.get("customers"))),
                tile(
                    "Left (no event after it)",
                    fmt_count(dropoff.get("none")),
                    fmt_pct(dropoff.get("none_share")),
                ),
                tile(
                    "Items tested",
                    fmt_count(correlation.get("tested")),
                    f"{fmt_count(correlation.get('converted'))} went on, "
                    f"{fmt_count(correlation.get('dropped'))} did not",
                ),
            ]
        ),
        f"<h3>What they did after {esc(step)} ({dropoff.get('depth')} events deep)</h3>",
        _paths_table(dropoff),
    ]
    if get_list(correlation, "items"):
        html += [f"<h3>What goes with going on to {esc(nxt)}</h3>", _items_table(correlation, top)]
    else:
        html.append(
            '<p class="note">No event or property value that some customers had and others did not.</p>'
        )
    html.append("</section>")
    return Part("funnel-explained", "Why customers drop", f"{esc(step)} \u2192 {esc(nxt)}", "".join(html))
