"""Jinja2 rendering: pages, result fragments, number formats ("not measured" for a null, with its
``<key>_reason``; never 0) and charts with a fresh div id per response."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from hourglass.interfaces.reports._format import fmt_duration
from hourglass.interfaces.reports._parts import Part
from hourglass.model.presets import PRESETS
from hourglass.model.spec import MODES

from .charts import figure_json

__all__ = ["Chart", "clickable_journeys", "environment", "fresh_id", "not_measured", "part_fragment"]

_ids = itertools.count(1)
DEFAULT_REASONS = {
    "conversion_from_previous": "nobody reached the previous step",
    "conversion_from_first": "an open funnel counts entries at every step, not a share of the first",
    "median_time_from_previous_s": "nobody went on from the previous step in order",
    "p90_time_from_previous_s": "nobody went on from the previous step in order",
}


def fresh_id(prefix: str) -> str:
    """A div id never used before in this process: a redrawn chart is a new element."""
    return f"{prefix}-{next(_ids)}"


def not_measured(reason: Any = None) -> Markup:
    reason_text = str(reason) if reason else "the data cannot measure it"
    return Markup('<span class="hg-nm" title="{0}">not measured <small>({0})</small></span>').format(
        reason_text
    )


def _value(row: Mapping[str, Any], key: str, kind: str, first: bool = False) -> Markup:
    value = row.get(key)
    if value is None:
        if first and kind == "duration":
            return Markup('<span class="hg-muted">\u2014</span>')  # step 1 has no previous step
        return not_measured(row.get(f"{key}_reason") or DEFAULT_REASONS.get(key))
    if kind == "count":
        return Markup(f"{int(value):,}")
    if kind == "pct":
        text = f"{float(value) * 100:.1f}%"
        low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
        if low is not None and high is not None and not low == high == value:
            ci = f"{low * 100:.1f}\u2013{high * 100:.1f}"
            return Markup('{0} <small class="hg-ci">({1})</small>').format(text, ci)
        return Markup(escape(text))
    if kind == "duration":
        return Markup(escape(fmt_duration(float(value))))
    return Markup(escape(str(value)))


def reasons(groups: Iterable[Any]) -> list[str]:
    """The distinct reasons of a funnel table's "not measured" cells (said once, under the table)."""
    out: dict[str, None] = {}
    for g in groups:
        for i, row in enumerate(g.rows):
            for key in DEFAULT_REASONS:
                if row.get(key) is None and not (i == 0 and key.endswith("_s")):
                    out[str(row.get(f"{key}_reason") or DEFAULT_REASONS[key])] = None
    return list(out)


class Chart:
    """A chart of a fragment: its (fresh) div id and figure JSON."""

    def __init__(self, div_id: str, figure: go.Figure) -> None:
        self.div_id = div_id
        self.json = Markup(figure_json(figure))


def part_fragment(parts: Iterable[Part]) -> tuple[str, list[Chart]]:
    """The report's parts with fresh chart ids (HTML, charts)."""
    html: list[str] = []
    charts: list[Chart] = []
    for part in parts:
        text = part.html
        for div_id, figure in part.charts:
            new = fresh_id(div_id)
            text = text.replace(f'id="{div_id}"', f'id="{new}"')
            charts.append(Chart(new, figure))
        html.append(text)
    return "".join(html), charts


def _attrs(**values: Any) -> str:
    out = []
    for k, v in values.items():
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        out.append(f' data-{k.replace("_", "-")}="{escape(text)}"')
    return "".join(out)


def clickable_journeys(html: str, charts: Iterable[Chart], data: Mapping[str, Any], query: str) -> str:
    """The Sankey's nodes and the transition matrix's cells, made clickable: each chart div says
    where its people are (``/journeys/people`` with the page's query) and what its points are (the
    Sankey's node index -> [step, stage]; the matrix's rows and columns -> stages, null: the end),
    for hg.js to name the number clicked."""
    base = "/journeys/people?" + (query + "&" if query else "")
    nodes = [
        [int(n["step"]), str(n["name"])] for n in (data.get("paths") or {}).get("sankey", {}).get("nodes", [])
    ]
    names = [str(n.get("node")) for n in (data.get("transitions") or {}).get("nodes", [])]
    for c in charts:
        if c.div_id.startswith("hg-paths-sankey-"):
            extra = _attrs(people_target="#people", people_base=base, people_kind="node", people_nodes=nodes)
        elif c.div_id.startswith("hg-transitions-matrix-"):
            extra = _attrs(
                people_target="#people", people_base=base, people_kind="cell",
                people_rows=names, people_cols=[*names, None],
            )  # fmt: skip
        else:
            continue
        html = html.replace(f'id="{c.div_id}"', f'id="{c.div_id}"{extra}', 1)
    return html


def _count(value: Any) -> str:
    return "\u2014" if value is None else f"{int(value):,}"


def _pct(value: Any, digits: int = 1) -> str:
    return "\u2014" if value is None else f"{float(value) * 100:.{digits}f}%"


def _without_people(params: Mapping[str, str]) -> str:
    """A people view's query string without its step, kind, group and page: the funnel's."""
    people = (
        "step",
        "kind",
        "group",
        "page",
        "stage",
        "node",
        "node_step",
        "move_from",
        "move_to",
        "channel",
    )
    return urlencode({k: v for k, v in params.items() if k not in people})


def environment() -> Environment:
    root = files("hourglass.interfaces.dashboard") / "templates"
    env = Environment(
        loader=FileSystemLoader(str(root)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        value=_value, not_measured=not_measured, reasons=reasons, presets=list(PRESETS), modes=MODES
    )
    env.filters.update(count=_count, pct=_pct, reject_people=_without_people)
    return env
