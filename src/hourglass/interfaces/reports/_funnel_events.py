"""The events needed to convert, in the report's "funnel over time" section and the dashboard's tab
(docs/semantics-funnel-time.md): per step after the first, how many events and sessions each
customer counted at it had from his entry to it, from ``EventsToConvert.to_dict()``. A step not
measured says so with its reason, never 0 (docs/adr/0006)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _blend, _layout, _plotly_text
from ._format import fmt_count
from ._parts import esc, get_list, na_cell

__all__ = ["EVENTS_DIV_IDS", "events_block", "events_figure"]

EVENTS_DIV_IDS = {"events": "hg-funnel-events", "sessions": "hg-funnel-sessions"}


def _gap(events: Mapping[str, Any]) -> str:
    """The session gap as given (``30m``), else from its seconds."""
    meta = events.get("meta")
    gap = meta.get("session_gap") if isinstance(meta, Mapping) else None
    if gap:
        return str(gap)
    from hourglass.model.results import format_duration

    return format_duration(events.get("session_gap_s"), " ")


def events_figure(events: Mapping[str, Any], what: str = "events", gap: str | None = None) -> go.Figure:
    """Grouped bars: per count bin, the share of each step's customers who needed that many events
    (or sessions, a new one after ``gap`` without an event) from entry."""
    hists = [h for h in get_list(events, "histograms") if h.get("what") == what and h.get("bins")]
    fig = go.Figure()
    n = len(hists)
    for i, h in enumerate(hists):
        bins = get_list(h, "bins")
        fig.add_trace(
            go.Bar(
                x=[str(b.get("label")) for b in bins],
                y=[b.get("share") for b in bins],
                customdata=[b.get("customers") for b in bins],
                name=_plotly_text(str(h.get("step"))),
                marker={"color": _blend(PALETTE["primary_dark"], "#7c83f2", i / (n - 1) if n > 1 else 0.0)},
                hovertemplate=f"to {_plotly_text(str(h.get('step')))}: %{{x}} {what}: %{{customdata:,}} "
                "customers (%{y:.1%})<extra></extra>",
            )
        )
    title = f"{what} from entry to the step (both included)"
    if gap and what == "sessions":
        title += f"; a gap of {_plotly_text(gap)} starts a session"
    fig.update_layout(
        **_layout(
            260,
            barmode="group",
            showlegend=n > 1,
            legend={"orientation": "h", "y": -0.25},
            xaxis={"title": title, "type": "category"},
            yaxis={"tickformat": ".0%", "title": "share"},
        )
    )
    return fig


def _value(h: Mapping[str, Any], key: str) -> str:
    v = h.get(key)
    if v is None:
        return na_cell(str(h.get(f"{key}_reason") or "not measured"))
    return f"<td>{float(v):g}</td>"


def _row(step: str, pair: list[Mapping[str, Any]]) -> str:
    """A step's row: customers, the events' and the sessions' median and p90."""
    why = next((h.get("bins_reason") for h in pair if h.get("bins") is None), None)
    if why is not None:
        return (
            f"<tr><td>{esc(step)}</td><td colspan='5' class='na' style='color:#6b7280'>not measured "
            f"\u2014 {esc(why)}</td></tr>"
        )
    cells = "".join(_value(h, key) for h in pair for key in ("median", "p90"))
    return f"<tr><td>{esc(step)}</td><td>{fmt_count(pair[0].get('customers'))}</td>{cells}</tr>"


def events_block(events: Mapping[str, Any], shown: list[str]) -> tuple[str, list[tuple[str, go.Figure]]]:
    """The block's HTML and charts: the events and the sessions per step, and a table of their
    median and p90. ``shown``: the steps' names as drawn (after the first), in order."""
    hists = get_list(events, "histograms")
    if not hists:
        return "", []
    gap = _gap(events)
    pairs = [hists[i : i + 2] for i in range(0, len(hists), 2)]  # events, sessions per step 2..n
    html = [
        "<h3>Events needed to convert</h3>"
        '<p class="note legend">Per step, over the customers the funnel counts at it (their best '
        "chain): how many events they had from their entry to the step, both included (any event, "
        f"matched or not), and in how many sessions (a gap of {esc(gap)} or more between two events "
        "starts a new session).</p>"
    ]
    charts: list[tuple[str, go.Figure]] = []
    for what in ("events", "sessions"):
        if any(h.get("bins") for h in hists if h.get("what") == what):
            div = EVENTS_DIV_IDS[what]
            html.append(f'<div class="chart" id="{div}"></div>')
            charts.append((div, events_figure(events, what, gap)))
    rows = "".join(_row(name, pair) for name, pair in zip(shown, pairs, strict=False))
    html.append(
        "<table><thead><tr><th>step</th><th>customers</th><th>events median</th><th>events p90</th>"
        f"<th>sessions median</th><th>sessions p90</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return "".join(html), charts
