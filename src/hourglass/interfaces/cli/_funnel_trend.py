"""``hourglass funnel --view trend|time|events``: the funnel over time
(docs/semantics-funnel-time.md) as a table, JSON or CSV. Called by the funnel command's view
dispatch (``_funnel_views.render_view``) with the loaded events and the checked spec."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from hourglass.engine.load import Events
from hourglass.interfaces.cli._common import csv_text
from hourglass.interfaces.funnel_views_api import run_view
from hourglass.model.funnel_time import EventsToConvert, TimeToConvert
from hourglass.model.funnel_trend import FunnelTrend
from hourglass.model.results import format_duration
from hourglass.model.spec import FunnelSpec, FunnelViewOptions

__all__ = ["events_tables", "render", "time_tables", "trend_table"]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f" ({100 * lo:.1f}–{100 * hi:.1f})"


def trend_table(result: FunnelTrend) -> tuple[Table, list[str]]:
    """One row per period: entered, each later step's conversion from the first (95% CI), status;
    and the notes (why periods are incomplete)."""
    title = (
        f"funnel by {result.period} of entry (UTC{', weeks from Monday' if result.period == 'week' else ''})"
    )
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column(result.period, justify="left")
    table.add_column("entered", justify="right")
    for name in result.steps[1:]:
        table.add_column(f"→ {name} (95% CI)", justify="right")
    table.add_column("", justify="left")
    notes: list[str] = []
    for p in result.periods:
        d = p.to_dict()
        cells = [d["start"], f"{d['entered']:,}"]
        for s in d["steps"][1:]:
            if d["entered"] == 0:
                cells.append("-")
            else:
                low, high = s["conversion_from_first_low"], s["conversion_from_first_high"]
                cells.append(_pct(s["conversion_from_first"]) + _ci(low, high))
        flag = "no entries" if d["entered"] == 0 else ""
        if not d["complete"]:
            flag = (flag + ", " if flag else "") + "incomplete*"
            notes.append(f"* {d['start']}: {d['incomplete_reason']}")
        cells.append(flag)
        table.add_row(*cells)
    if not result.periods:
        notes.append("nobody entered the funnel: no period to show")
    return table, notes


def time_tables(result: TimeToConvert) -> list[Table]:
    """One table per step: the bins, customers and share from the previous step and from entry."""
    tables = []
    by_step: dict[str, list[Any]] = {}
    for h in result.histograms:
        by_step.setdefault(h.step, []).append(h)
    for i, (step, hists) in enumerate(by_step.items()):
        if i == 0:  # the second step: from entry is from the previous step
            hists = [h for h in hists if h.origin == "previous"]
        parts = []
        for h in hists:
            if h.reason:
                parts.append(f"from {h.origin}: not measured ({h.reason})")
            else:
                med, p90 = format_duration(h.median_s, " "), format_duration(h.p90_s, " ")
                parts.append(f"from {h.origin}: {h.customers:,} customers, median {med}, p90 {p90}")
        table = Table(
            title=f"time to {step} · " + " · ".join(parts), title_justify="left", header_style="bold"
        )
        table.add_column("time", justify="left")
        measured = [h for h in hists if not h.reason]
        for h in measured:
            table.add_column(f"from {h.origin}", justify="right")
            table.add_column("share", justify="right")
        if measured:
            for b, (label, _, _) in enumerate(result.bins):
                cells = [label]
                for h in measured:
                    total = sum(h.counts)
                    cells += [f"{h.counts[b]:,}", _pct(h.counts[b] / total if total else None)]
                table.add_row(*cells)
        tables.append(table)
    return tables


def events_tables(result: EventsToConvert) -> list[Table]:
    """One table per step: events and sessions from entry to the step, customers and share."""
    tables = []
    by_step: dict[str, list[dict[str, Any]]] = {}
    for h in result.histograms:
        by_step.setdefault(h.step, []).append(h.to_dict())
    for step, hists in by_step.items():
        parts = []
        for d in hists:
            if d["bins"] is None:
                parts.append(f"{d['what']}: not measured ({d.get('customers_reason')})")
            else:
                med = "-" if d["median"] is None else f"{d['median']:g}"
                p90 = "-" if d["p90"] is None else f"{d['p90']:g}"
                parts.append(f"{d['what']}: median {med}, p90 {p90}")
        n = next((d["customers"] for d in hists if d["customers"] is not None), None)
        head = f"events from entry to {step}" + ("" if n is None else f" ({n:,} customers)")
        table = Table(title=head + " · " + " · ".join(parts), title_justify="left", header_style="bold")
        table.add_column("how many", justify="left")
        measured = [d for d in hists if d["bins"] is not None]
        for d in measured:
            table.add_column(d["what"], justify="right")
            table.add_column("share", justify="right")
        if measured:
            for b, first in enumerate(measured[0]["bins"]):
                cells = [first["label"]]
                for d in measured:
                    cells += [f"{d['bins'][b]['customers']:,}", _pct(d["bins"][b]["share"])]
                table.add_row(*cells)
        tables.append(table)
    return tables


def render(view: str, events: Events, spec: FunnelSpec, options: FunnelViewOptions, fmt: str) -> str:
    """The view's text: ``table`` (for people), ``json`` (the whole result, nulls with reasons) or
    ``csv`` (one row per period and step, or per histogram bin)."""
    result = run_view(
        view,
        events,
        spec,
        period=getattr(options, "period", None) or "week",
        session_gap=getattr(options, "session_gap", None) or "30m",
    )
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, default=str) + "\n"
    if fmt == "csv":
        return csv_text(result.rows())
    buf = io.StringIO()
    console = Console(file=buf, width=150, highlight=False)
    notes: list[str] = []
    if isinstance(result, FunnelTrend):
        table, notes = trend_table(result)
        tables = [table]
    elif isinstance(result, TimeToConvert):
        tables = time_tables(result)
    else:
        tables = events_tables(result)
        gap = format_duration(result.session_gap_s, " ")
        notes = [
            f"events: every event of the customer from entry to the step, both included; a gap of {gap} "
            "or more starts a new session (--session-gap)"
        ]
    for table in tables:
        console.print(table.title, markup=False, soft_wrap=True)
        table.title = None
        console.print(table)
    notes += [f"note: {n}" for n in result.meta.get("notes", ())]  # a step no event matches
    for note in notes:
        console.print(note, markup=False, soft_wrap=True)
    return buf.getvalue()
