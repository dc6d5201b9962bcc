"""The journeys section: how customers really move (entry stages, skipped stages, back-steps,
conformance to the ideal order), the stage transition graph as a matrix, a Sankey of the top paths
and one customer's journey map. Reads the dicts of ``journeys``, ``transitions``, ``paths`` and
``journey`` (docs/semantics-journeys.md); any of them may be missing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._format import ARROW, fmt_count, fmt_pct
from ._journey_charts import (
    describe_journey,
    journey_map_figure,
    matrix_figure,
    pick_journey,
    sankey_figure,
    skip_matrix,
    transition_matrix,
)
from ._parts import (
    STAGE_COLORS,
    Part,
    esc,
    get_count,
    get_list,
    get_map,
    get_number,
    stage_colors,
    tile,
    tiles,
)

__all__ = ["JOURNEY_DIV_IDS", "journeys_part"]

NOT_MEASURED = "not measured"

JOURNEY_DIV_IDS = {
    "sankey": "hg-paths-sankey",
    "transitions": "hg-transitions-matrix",
    "skips": "hg-skip-matrix",
    "journey": "hg-journey-map",
}


def _reason(d: Mapping[str, Any], key: str) -> str:
    return str(d.get(f"{key}_reason") or "no data")


def _share_tile(label: str, d: Mapping[str, Any], key: str, sub: str, value: float | None = None) -> str:
    """A share tile, or a grey "not measured" tile with the reason (and the fix) when the result
    has no value for it (docs/adr/0006-not-measured.md)."""
    v = get_number(d, key) if value is None else value
    if v is None:
        return tile(label, NOT_MEASURED, _reason(d, key), "nm")
    return tile(label, fmt_pct(v), sub)


def _conformance(j: Mapping[str, Any]) -> str:
    c = get_map(j, "conformance")
    entry = get_list(j, "entry")
    first = entry[0] if entry else {}
    first_share = get_number(first, "share")
    items = [
        _share_tile(
            "Followed the ideal order",
            c,
            "purchasers_ideal_share",
            f"{fmt_count(get_count(c, 'purchasers_ideal'))} of {fmt_count(get_count(c, 'purchasers'))} "
            f"who reached {j.get('goal')}",
        ),
        _share_tile(
            "Entered mid-way",
            first,
            "share",
            f"did not start at {first.get('stage')}" if first else "",
            None if first_share is None else 1 - first_share,
        ),
        _share_tile("Mean fitness", c, "fitness_mean", "share of a customer's moves in the ideal order"),
    ]
    moves = get_map(c, "moves")
    if moves:
        items.append(
            tile(
                "Back-steps",
                fmt_count(get_count(moves, "back")),
                f"of {fmt_count(get_count(moves, 'total'))} stage moves",
                "warn",
            )
        )
    return tiles(items)


def _deviations(j: Mapping[str, Any], limit: int = 6) -> str:
    if j.get("deviations") is None and j.get("deviations_reason"):
        why = str(j.get("deviations_reason"))
        return (
            f'<h3>In words</h3><p class="nm">Deviations from the ideal order: {NOT_MEASURED} ({esc(why)})</p>'
        )
    items = [str(d.get("text")) for d in get_list(j, "deviations")[:limit] if d.get("text")]
    if not items:
        return ""
    lis = "".join(f"<li>{esc(t[0].upper() + t[1:])}</li>" for t in items)
    return f'<h3>In words</h3><ul class="findings">{lis}</ul>'


def _entry_table(j: Mapping[str, Any]) -> str:
    stages = [str(s) for s in j.get("stages") or []]
    groups = get_list(j, "entry_by")
    entry = {str(e.get("stage")): e for e in get_list(j, "entry")}
    used = [s for s in stages if (get_count(entry.get(s, {}), "customers") or 0) > 0]
    if not used:
        return ""
    head = "".join(f"<th>{esc(s)}</th>" for s in used)
    rows = [
        '<tr class="total"><td class="step">all customers</td>'
        + "".join(f"<td>{fmt_pct(get_number(entry[s], 'share'))}</td>" for s in used)
        + "</tr>"
    ]
    for g in groups:
        shares = {str(x.get("stage")): get_number(x, "share") for x in get_list(g, "stages")}
        name = g.get("value") if g.get("value") is not None else "(none)"
        rows.append(
            f'<tr><td class="step">{esc(name)}</td>'
            + "".join(f"<td>{fmt_pct(shares.get(s))}</td>" for s in used)
            + "</tr>"
        )
    return (
        "<h3>Where customers enter</h3>"
        f'<div class="table-wrap"><table><thead><tr><th class="step">First stage</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _backsteps(j: Mapping[str, Any], limit: int = 5) -> str:
    rows = get_list(j, "backsteps")[:limit]
    if not rows:
        return ""
    body = []
    for b in rows:
        nxt = ", ".join(
            f"{n.get('stage') or '(left)'} {fmt_pct(get_number(n, 'share'), 0)}"
            for n in get_list(b, "next")[:3]
        )
        body.append(
            f'<tr><td class="step">{esc(b.get("from"))} {ARROW} {esc(b.get("to"))}</td>'
            f"<td>{fmt_count(get_count(b, 'moves'))}</td><td>{fmt_count(get_count(b, 'customers'))}</td>"
            f'<td class="step">{esc(nxt)}</td></tr>'
        )
    head = (
        '<thead><tr><th class="step">Back-step</th><th>Moves</th><th>Customers</th>'
        '<th class="step">Then</th></tr></thead>'
    )
    table = f"<table>{head}<tbody>{''.join(body)}</tbody></table>"
    return f'<h3>Going back</h3><div class="table-wrap">{table}</div>'


def _paths_note(p: Mapping[str, Any]) -> str:
    top = get_list(p, "top")
    other = get_map(p, "other")
    in_top = sum(get_count(x, "customers") or 0 for x in top)
    customers = get_count(p, "customers")
    depth = p.get("depth", p.get("steps"))
    anchor = p.get("anchor")
    if p.get("direction") == "reverse":
        where = f"the last {depth} stages of each customer's path up to his first {anchor}"
    elif anchor:
        where = f"each customer's path from his first {anchor}, up to {depth} stages"
    else:
        where = f"each customer's path from his first stage, up to {depth} stages"
    text = f"The {len(top)} most common paths ({where}): {fmt_count(in_top)} customers"
    if customers:
        text += f" ({fmt_pct(in_top / customers)})"
    if other and get_count(other, "customers"):
        text += (
            f"; the other {fmt_count(get_count(other, 'customers'))} took "
            f"{fmt_count(get_count(other, 'paths'))} other paths"
        )
    nodes = get_list(get_map(p, "sankey"), "nodes")
    if any("ends" in n for n in nodes):
        start = p.get("direction") == "reverse"
        text += (
            ". Columns are steps; grey bars: journeys that "
            + ("start at the next step" if start else "end at the step before")
            + "; light bars: journeys that go on beyond the last column"
        )
    else:
        alone = sum(get_count(x, "customers") or 0 for x in top if len(x.get("path") or []) == 1)
        if alone:
            text += f". Not drawn: {fmt_count(alone)} customers whose path has a single stage"
    return f'<p class="note">{esc(text)}. Repeats of a stage are collapsed.</p>'


def journeys_part(
    journeys: Mapping[str, Any] | None = None,
    transitions: Mapping[str, Any] | None = None,
    paths: Mapping[str, Any] | None = None,
    journey: Mapping[str, Any] | None = None,
    *,
    sale: str | None = None,
) -> Part:
    """The journeys section from whichever of the four result dicts are given."""
    j, tr, p, jm = journeys or {}, transitions or {}, paths or {}, journey or {}
    stages = [str(s) for s in j.get("stages") or []] or [str(n.get("node")) for n in get_list(tr, "nodes")]
    colors = stage_colors(stages, sale)
    charts: list[tuple[str, go.Figure]] = []
    parts = [
        '<section class="card" id="journeys"><div class="section-head"><h2>Real journeys</h2>'
        '<span class="badge">entry, skips, loops, paths</span></div>'
        '<p class="description">Customers do not walk the funnel in order: they enter in the middle, '
        "skip stages and go back. The model's stage order is the ideal; this is what happened.</p>"
    ]
    if j:
        parts.append(_conformance(j) + _deviations(j))
    if get_list(p, "top"):
        parts.append(f'<h3>Top paths</h3><div class="chart sankey" id="{JOURNEY_DIV_IDS["sankey"]}"></div>')
        parts.append(_paths_note(p))
        charts.append((JOURNEY_DIV_IDS["sankey"], sankey_figure(p, colors)))
    grid = []
    rows, cols, matrix = transition_matrix(tr)
    if rows:
        grid.append(
            f'<div><h3>Stage transitions</h3><div class="chart" id="{JOURNEY_DIV_IDS["transitions"]}"></div>'
            '<p class="note">Row: the stage a customer is at; column: the stage he goes to next '
            "(rows add up to 100%; (end): it was his last stage).</p></div>"
        )
        fig = matrix_figure(
            rows,
            cols,
            matrix,
            color=STAGE_COLORS["pre"],
            hover="%{y} \u2192 %{x}: %{text}",
        )
        charts.append((JOURNEY_DIV_IDS["transitions"], fig))
    srows, scols, smatrix = skip_matrix(j)
    if srows:
        grid.append(
            f'<div><h3>Skipped stages</h3><div class="chart" id="{JOURNEY_DIV_IDS["skips"]}"></div>'
            '<p class="note">Row: a stage customers reached; column: an earlier stage; cell: the share '
            "of them who never entered it.</p></div>"
        )
        fig = matrix_figure(
            srows,
            scols,
            smatrix,
            color=STAGE_COLORS["sale"],
            hover="reached %{y}, skipped %{x}: %{text}",
        )
        charts.append((JOURNEY_DIV_IDS["skips"], fig))
    if grid:
        parts.append(f'<div class="two">{"".join(grid)}</div>')
    if j:
        parts.append(_entry_table(j) + _backsteps(j))
    chosen = pick_journey(jm) if jm else None
    if chosen and get_list(chosen, "timeline"):
        parts.append(
            "<h3>One customer's journey</h3>"
            f'<p class="note">{esc(describe_journey(chosen))}</p>'
            f'<div class="chart" id="{JOURNEY_DIV_IDS["journey"]}"></div>'
        )
        charts.append((JOURNEY_DIV_IDS["journey"], journey_map_figure(chosen, stages)))
    parts.append("</section>")
    ideal = get_number(get_map(j, "conformance"), "purchasers_ideal_share")
    value = ("" if ideal is None else fmt_pct(ideal, 0)) if j else ""
    return Part("journeys", "Real journeys", value, "".join(parts), tuple(charts))
