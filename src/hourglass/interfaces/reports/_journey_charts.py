"""Figures of the journeys section: a Sankey of the top paths, the stage transition matrix and the
skip matrix (docs/semantics-journeys.md); one customer's journey map is _journey_map_chart.py's,
re-exported here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _layout, _plotly_text, _short
from ._format import fmt_pct
from ._journey_map_chart import describe_journey, journey_map_figure, pick_journey
from ._parts import get_count, get_list, get_map, get_number

__all__ = [
    "describe_journey",
    "journey_map_figure",
    "matrix_figure",
    "pick_journey",
    "sankey_figure",
    "skip_matrix",
    "transition_matrix",
]


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


_END_COLOR = "#9aa0b4"
_CUT_COLOR = "#c7cad6"
_PAD_PX = 34  # between two nodes of a column: more than a two-line label (12 px font)
_EDGE_PX = 24  # margin above and below the nodes: room for a thin edge node's two-line label
_CHART_PX = 700  # the chart's usual width in the report (it is responsive)
_CHAR_PX = 6.6  # one character of a 12 px label, on average


def _flows(nodes: Sequence[Mapping[str, Any]], links: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The links as index lists (source, target, value) and each node's step."""
    index = {get_count(n, "id"): i for i, n in enumerate(nodes)}
    src: list[int] = []
    tgt: list[int] = []
    val: list[int] = []
    for link in links:
        s, t = index.get(get_count(link, "source")), index.get(get_count(link, "target"))
        v = get_count(link, "customers") or 0
        if s is not None and t is not None and v > 0:
            src.append(s)
            tgt.append(t)
            val.append(v)
    return {"src": src, "tgt": tgt, "val": val, "steps": [get_count(n, "step") or 0 for n in nodes]}


def _d3_columns(count: int, src: Sequence[int], tgt: Sequence[int]) -> list[int]:
    """The columns plotly's layout (d3-sankey, ``align="left"``) computes for its scale: the
    longest distance from a source (a sink stays there, it is not pushed to the last column)."""
    depth = [0] * count
    for _ in range(count):
        changed = False
        for s, t in zip(src, tgt, strict=True):
            if depth[t] < depth[s] + 1:
                depth[t], changed = depth[s] + 1, True
        if not changed:
            break
    return depth


def _label_chars(columns: int) -> int:
    """How many characters of a label fit between two of ``columns`` columns (10 to 18)."""
    gap = _CHART_PX / max(columns - 1, 1) - 24  # the node's thickness and some air
    return max(10, min(18, int(gap / _CHAR_PX)))


def _wrapped(label: str, customers: int, chars: int) -> str:
    """A node's label (at most ``chars`` characters; the hover has it whole) over its customers:
    two lines, user text escaped."""
    return f"{_plotly_text(_short(label, chars))}<br>{customers:,}"


def sankey_figure(
    paths: Mapping[str, Any], colors: Mapping[str, str], labels: Mapping[str, str] | None = None
) -> go.Figure:
    """The paths result's ``sankey``: one column per step (x fixed by the step, never snapped to
    the right edge), nodes labelled with the stage's label and customers, links weighted by
    customers, and the ends of paths drawn: grey "end" nodes in the next column for customers
    whose sequence ends there (with ``--to``: "start" nodes in the previous column), light "goes
    on" nodes for paths cut by the depth (both explained on hover and in the note under the
    chart). The nodes of a column are stacked in stage order, each with room for its label, so
    labels never overlap; every labelled node has an outgoing link, so plotly writes every label
    to the right of its node, into the gap before the next column."""
    sankey = get_map(paths, "sankey")
    nodes = get_list(sankey, "nodes")
    flows = _flows(nodes, get_list(sankey, "links"))
    src, tgt, val, steps = flows["src"], flows["tgt"], flows["val"], flows["steps"]
    reverse = paths.get("direction") == "reverse"
    names = [str(n.get("name")) for n in nodes]
    label_of = dict(labels or {})
    texts = [str(n.get("label") or label_of.get(name, name)) for n, name in zip(nodes, names, strict=True)]
    node_colors = [colors.get(name, PALETTE["muted"]) for name in names]
    cols = list(steps)
    kinds = ["stage"] * len(nodes)
    extra: dict[tuple[int, str], int] = {}  # (column, kind) -> node index
    for i, n in enumerate(nodes):
        for kind, key in (("end", "ends"), ("cut", "cut")):
            v = get_count(n, key) or 0
            if v <= 0:
                continue
            col = steps[i] - 1 if reverse else steps[i] + 1
            if (col, kind) not in extra:
                extra[(col, kind)] = len(texts)
                texts.append(kind)
                kinds.append(kind)
                node_colors.append(_END_COLOR if kind == "end" else _CUT_COLOR)
                cols.append(col)
            j = extra[(col, kind)]
            src.append(j if reverse else i)
            tgt.append(i if reverse else j)
            val.append(v)
    if reverse:
        # the anchor ends every path: an invisible tail after it makes it no sink, so plotly writes
        # its label to its right like every other label, not into the previous column's labels
        into: dict[int, int] = {}
        for b, v in zip(tgt, val, strict=True):
            into[b] = into.get(b, 0) + v
        for i in [i for i in range(len(nodes)) if i not in set(src) and i in into]:
            texts.append(texts[i])
            kinds.append("tail")
            node_colors.append("rgba(0,0,0,0)")
            cols.append(cols[i] + 1)
            src.append(i)
            tgt.append(len(texts) - 1)
            val.append(into[i])
    count = len(texts)
    inflow, outflow = [0] * count, [0] * count
    for a, b, v in zip(src, tgt, val, strict=True):
        outflow[a] += v
        inflow[b] += v
    shown = [max(a, b) for a, b in zip(inflow, outflow, strict=True)]
    first = min(cols, default=0)
    step_of = [c - first + (0 if reverse and extra else 1) for c in cols]
    chars = _label_chars(len(set(cols)))
    node_text, hover = [], []
    for i in range(count):
        if kinds[i] == "stage":
            text = _wrapped(texts[i], shown[i], chars)
            where = f"{shown[i]:,} customers at step {step_of[i]}"
            hover.append(f"{_plotly_text(texts[i])}<br>{where}")
        else:
            text = ""
            if kinds[i] == "tail":
                hover.append(f"{shown[i]:,} customers reached {_plotly_text(texts[i])}")
            elif kinds[i] == "cut":
                hover.append(f"{shown[i]:,} customers whose journey goes on beyond the cut")
            elif reverse:
                hover.append(f"{shown[i]:,} customers whose journey starts at the next step")
            else:
                hover.append(f"{shown[i]:,} customers whose journey ends at the step before")
        node_text.append(text)
    x, y, height = _positions(cols, shown, _d3_columns(count, src, tgt))
    link_colors = [
        "rgba(0,0,0,0)"
        if kinds[b] == "tail"
        else _rgba(node_colors[b] if kinds[a] != "stage" else node_colors[a], 0.28)
        for a, b in zip(src, tgt, strict=True)
    ]
    link_hover = []
    for a, b, v in zip(src, tgt, val, strict=True):
        if kinds[b] == "tail":
            link_hover.append(f"{v:,} customers reached {_plotly_text(texts[a])}")
        elif kinds[b] == "end":
            link_hover.append(f"{_plotly_text(texts[a])}, then the journey ends<br>{v:,} customers")
        elif kinds[b] == "cut":
            link_hover.append(f"{_plotly_text(texts[a])}, then beyond the cut<br>{v:,} customers")
        elif kinds[a] == "end":
            link_hover.append(f"starts at {_plotly_text(texts[b])}<br>{v:,} customers")
        elif kinds[a] == "cut":
            link_hover.append(f"earlier steps, then {_plotly_text(texts[b])}<br>{v:,} customers")
        else:
            link_hover.append(f"{_plotly_text(texts[a])} \u2192 {_plotly_text(texts[b])}<br>{v:,} customers")
    trace = go.Sankey(
        arrangement="fixed",
        valueformat=",d",
        node={
            "align": "left",  # sinks stay in their column: the scale is the one of our columns
            "label": node_text,
            "color": node_colors,
            "pad": _PAD_PX,
            "thickness": 14,
            "line": {"color": "#ffffff", "width": 0.5},
            "x": x,
            "y": y,
            "customdata": hover,
            "hovertemplate": "%{customdata}<extra></extra>",
        },
        link={
            "source": src,
            "target": tgt,
            "value": val,
            "color": link_colors,
            "customdata": link_hover,
            "hovertemplate": "%{customdata}<extra></extra>",
        },
    )
    layout = _layout(height=height)
    layout["margin"] = {"l": 8, "r": 8, "t": _EDGE_PX, "b": _EDGE_PX}
    layout["font"] = {**layout["font"], "size": 12}
    return go.Figure(data=[trace], layout=layout)


def _positions(
    cols: Sequence[int], shown: Sequence[int], d3_cols: Sequence[int]
) -> tuple[list[float], list[float], int]:
    """x per column (evenly spaced, the first column at the left edge, the last at the right);
    y: the centre of each node, stacked in the given order within its column at the size plotly
    draws it (one scale for all columns, computed on plotly's own columns) and :data:`_PAD_PX`
    apart, which is more than a two-line label: labels never overlap. The figure is tall enough
    for the column with the most nodes."""
    if not cols:
        return [], [], 320
    lo, hi = min(cols), max(cols)
    x = [0.001 + 0.998 * (c - lo) / max(hi - lo, 1) for c in cols]

    def groups(keys: Sequence[int]) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i, k in enumerate(keys):
            out.setdefault(k, []).append(i)
        return list(out.values())

    mine, theirs = groups(cols), groups(d3_cols)
    most = max(len(m) for m in [*mine, *theirs])
    height = max(320, 2 * _EDGE_PX + 220 + _PAD_PX * (most - 1))
    ky = 0.0
    for _ in range(30):
        plot = height - 2 * _EDGE_PX  # top and bottom margins
        ky = min((plot - _PAD_PX * (len(m) - 1)) / max(sum(shown[i] for i in m), 1) for m in theirs)
        need = max(sum(shown[i] * ky for i in m) + _PAD_PX * (len(m) - 1) for m in mine)
        if need <= plot + 0.5 or height >= 1600:
            break
        height = min(1600, int(height + need - plot + 1))
    plot = height - 2 * _EDGE_PX
    y = [0.5] * len(cols)
    for m in mine:
        cursor = 0.0
        for i in m:
            size = shown[i] * ky
            y[i] = min(0.999, max(0.001, (cursor + size / 2) / plot))
            cursor += size + _PAD_PX
    return x, y, int(height)


def transition_matrix(
    transitions: Mapping[str, Any],
) -> tuple[list[str], list[str], list[list[float | None]]]:
    """Rows: nodes in the result's order; columns: the nodes, then ``(end)``; cells: the
    probability of the move (each row adds up to 1)."""
    rows = [str(n.get("node")) for n in get_list(transitions, "nodes")]
    cols = [*rows, "(end)"]
    at = {name: i for i, name in enumerate(rows)}
    matrix: list[list[float | None]] = [[None] * len(cols) for _ in rows]
    for e in get_list(transitions, "edges"):
        a = at.get(str(e.get("from")))
        to = e.get("to")
        b = len(rows) if to is None else at.get(str(to))
        if a is not None and b is not None:
            matrix[a][b] = get_number(e, "probability")
    return rows, cols, matrix


def skip_matrix(journeys: Mapping[str, Any]) -> tuple[list[str], list[str], list[list[float | None]]]:
    """Rows: stages reached (from the 2nd; a stage nobody reached is not measured and has no
    row); columns: earlier stages; cells: the share of the customers who reached the row's stage
    without ever entering the column's stage."""
    stages = [str(s) for s in journeys.get("stages") or []]
    rows, matrix = [], []
    for s in get_list(journeys, "skips"):
        skipped = {str(k.get("stage")): get_number(k, "share") for k in get_list(s, "skipped")}
        if not skipped or all(v is None for v in skipped.values()):
            continue  # the first stage, or nobody reached it: nothing measured
        rows.append(str(s.get("stage")))
        matrix.append([skipped.get(c) for c in stages[:-1]])
    return rows, stages[:-1], matrix


def matrix_figure(
    rows: Sequence[str],
    cols: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    *,
    color: str,
    hover: str,
) -> go.Figure:
    """A heatmap of shares with the percentage in every cell (blank: not applicable)."""
    text = [
        ["" if v is None else ("\u00b7" if v == 0 else fmt_pct(v, 0 if v >= 0.1 else 1)) for v in r]
        for r in matrix
    ]
    trace = go.Heatmap(
        z=[[None if v is None else v for v in r] for r in matrix],
        x=[_plotly_text(c) for c in cols],
        y=[_plotly_text(r) for r in rows],
        text=text,
        texttemplate="%{text}",
        textfont={"size": 12},
        colorscale=[[0.0, "#ffffff"], [0.15, _rgba(color, 0.25)], [1.0, color]],
        zmin=0.0,
        zmax=1.0,
        xgap=2,
        ygap=2,
        showscale=False,
        hovertemplate=hover + "<extra></extra>",
        hoverongaps=False,
    )
    layout = _layout(
        height=max(220, 90 + 38 * len(rows)),
        margin={"l": 10, "r": 10, "t": 10, "b": 10, "pad": 2},
        xaxis={"side": "top", "fixedrange": True, "automargin": True, "tickangle": -35},
        yaxis={"autorange": "reversed", "fixedrange": True, "automargin": True},
    )
    return go.Figure(data=[trace], layout=layout)
