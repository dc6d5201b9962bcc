"""``hourglass funnel --view dropoff|between|correlation``: the funnel explained
(docs/semantics-funnel-explore.md), rendered as a table, JSON or CSV. Called by the funnel
command's view dispatch (``_funnel_views.render_view``) with the loaded events and checked spec."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from hourglass.engine.load import Events
from hourglass.interfaces.cli._common import csv_text
from hourglass.interfaces.funnel_explore_api import run_correlation, run_paths
from hourglass.model.funnel_explore import (
    CorrelationItem,
    ExploreOptions,
    FunnelCorrelation,
    FunnelPaths,
    format_p,
)
from hourglass.model.spec import FunnelSpec, FunnelViewOptions

__all__ = ["correlation_table", "path_text", "paths_table", "render"]

ARROW = " \u2192 "


def _options(spec: FunnelSpec, options: FunnelViewOptions) -> ExploreOptions:
    kwargs: dict[str, Any] = {"at": options.at or 1}
    if options.top is not None:
        kwargs["top"] = options.top
    if options.depth is not None:
        kwargs["depth"] = options.depth
    to = getattr(options, "to", None)
    if to is not None:
        kwargs["to"] = to
    properties = getattr(options, "properties", None)
    if properties is not None:
        kwargs["properties"] = tuple(properties)
    return ExploreOptions(**kwargs)


def render(view: str, events: Events, spec: FunnelSpec, options: FunnelViewOptions, fmt: str) -> str:
    """The view's text: ``table`` (for people), ``json`` (the whole result) or ``csv`` (one row
    per path or item). ``--at`` defaults to the first step."""
    opts = _options(spec, options)
    result: FunnelPaths | FunnelCorrelation
    if view == "correlation":
        result = run_correlation(events, spec, opts, opts.properties)
    else:
        result = run_paths(events, spec, opts, view)
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, default=str) + "\n"
    if fmt == "csv":
        return csv_text(result.rows())
    table = paths_table(result) if isinstance(result, FunnelPaths) else correlation_table(result)
    buf = io.StringIO()
    console = Console(file=buf, width=150, highlight=False)
    console.print(table.title, markup=False, soft_wrap=True)
    table.title = None
    console.print(table)
    for note in _notes(result):
        console.print(note, markup=False, soft_wrap=True)
    return buf.getvalue()


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def path_text(result: FunnelPaths, path: tuple[str, ...], ended: bool) -> str:
    """A path for people: its events, then how it goes on (dropoff: ``(end)``, no further event;
    between: the next step's event), or ``…`` when it goes on beyond the depth."""
    if not path:
        if result.view == "dropoff":
            return f"(no event after {result.step}: left)"
        return f"(straight on to {result.next_step})"
    tail = ("(end)" if result.view == "dropoff" else result.next_step) if ended else "\u2026"
    return ARROW.join([*path, tail])


def paths_table(result: FunnelPaths) -> Table:
    if result.view == "dropoff":
        title = (
            f"drop-off paths · {result.customers:,} customers reached {result.step} (step {result.at}) "
            f"and not {result.next_step}: what they did after {result.step} · {result.depth} events deep"
        )
    else:
        title = (
            f"between-step paths · {result.customers:,} customers went on from {result.step} (step "
            f"{result.at}) to {result.next_step}: what they did between · {result.depth} events deep"
        )
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, name in enumerate(("#", "path", "customers", "share")):
        table.add_column(name, justify="left" if i == 1 else "right")
    for i, p in enumerate(result.paths, start=1):
        table.add_row(str(i), path_text(result, p.path, p.ended), f"{p.customers:,}", _pct(p.share))
    other = result.customers - sum(p.customers for p in result.paths)
    if other:
        table.add_row("", f"(other paths: {result.distinct_paths - len(result.paths):,})", f"{other:,}",
                      _pct(other / result.customers if result.customers else None))  # fmt: skip
    return table


def _item(i: CorrelationItem) -> str:
    return i.value if i.kind == "event" else f"{i.kind} = {i.value}"


def correlation_table(result: FunnelCorrelation) -> Table:
    title = (
        f"correlation · {result.converted + result.dropped:,} customers reached {result.step} (step "
        f"{result.at}): {result.converted:,} went on to {result.target_step}, {result.dropped:,} did not · "
        "events and property values before the drop-off point"
    )
    table = Table(title=title, title_justify="left", header_style="bold")
    heads = ("#", "item", "goes with", "with: converted", "without", "odds ratio", "95% CI", "p", "q (BH)")
    for c, name in enumerate(heads):
        table.add_column(name, justify="left" if c in (1, 2) else "right")
    for r, i in enumerate(result.items[: result.meta.get("explore", {}).get("top", 10)], start=1):
        with_n, without_n = i.converted_with + i.dropped_with, i.converted_without + i.dropped_without
        table.add_row(
            str(r),
            _item(i),
            i.direction,
            f"{i.converted_with:,}/{with_n:,} ({_pct(i.converted_with / with_n)})",
            f"{i.converted_without:,}/{without_n:,} ({_pct(i.converted_without / without_n)})",
            f"{i.odds_ratio:.3g}",
            f"{i.odds_ratio_low:.3g}–{i.odds_ratio_high:.3g}",
            format_p(i.p_value),
            format_p(i.q_value),
        )
    return table


def _notes(result: FunnelPaths | FunnelCorrelation) -> list[str]:
    if isinstance(result, FunnelPaths):
        if result.view == "dropoff":
            return [
                f"left: {result.none:,} of {result.customers:,} ({_pct(result.none_share)}) had no event "
                f"after {result.step}; (end): the path ends there; …: it goes on beyond --depth"
            ]
        return [
            f"straight on: {result.none:,} of {result.customers:,} ({_pct(result.none_share)}) had no event "
            f"between {result.step} and {result.next_step}; …: more events than --depth"
        ]
    shown = min(len(result.items), int(result.meta.get("explore", {}).get("top", 10)))
    return [
        f"{len(result.items):,} items tested ({shown} shown), {result.untested:,} not tested (every "
        "customer or none had them); the funnel's own step events are not items; odds ratio > 1: goes "
        "with converting; q: Benjamini-Hochberg corrected p-value; test: Fisher's exact (chi-square "
        "above 20,000 customers)"
    ]
