"""Building blocks of the report's hourglass and journey sections: a section ("part") with its
charts, stat tiles, heat colours, and defensive readers of the result dicts (to_dict() shapes)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from ._charts import PALETTE, _blend
from ._format import EM_DASH, _count, _number, fmt_pct

__all__ = [
    "STAGE_COLORS",
    "Part",
    "esc",
    "fmt_money",
    "fmt_p",
    "get_count",
    "get_list",
    "get_map",
    "get_number",
    "heat_style",
    "na_cell",
    "na_note",
    "na_tile",
    "reason_of",
    "share_text",
    "stage_colors",
    "tile",
    "tiles",
]

# Before the sale: indigo; the sale (the waist): amber; after the sale: teal.
STAGE_COLORS = {"pre": "#4f46e5", "pre_light": "#a5b4fc", "sale": "#d97706", "post": "#0d9488"}


@dataclass(frozen=True)
class Part:
    """One section of the report: its anchor, heading, the value shown in the contents, its HTML
    and the charts (div id, figure) the page draws into it."""

    anchor: str
    title: str
    toc_value: str
    html: str
    charts: tuple[tuple[str, go.Figure], ...] = ()


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def get_map(raw: Any, key: str) -> Mapping[str, Any]:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def get_list(raw: Any, key: str) -> list[Mapping[str, Any]]:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    return [v for v in value if isinstance(v, Mapping)]


def get_number(raw: Any, key: str) -> float | None:
    return _number(raw.get(key)) if isinstance(raw, Mapping) else None


def get_count(raw: Any, key: str) -> int | None:
    return _count(raw.get(key)) if isinstance(raw, Mapping) else None


def fmt_money(value: float | None) -> str:
    """1,234.50 below 10,000; 12,345 above (no currency: the log's revenue unit)."""
    if value is None:
        return EM_DASH
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def fmt_p(value: float | None) -> str:
    """A p-value with two significant digits: p < 0.001, p = 0.0012, p = 0.034, p = 0.34; a dash
    when not computed."""
    if value is None:
        return "p " + EM_DASH
    if value < 0.001:
        return "p < 0.001"
    return f"p = {value:.2g}"


def tile(label: str, value: str, sub: str = "", extra_class: str = "") -> str:
    """A stat tile: a small caption, a big value and an optional line under it."""
    cls = f"stat {extra_class}".strip()
    small = "" if len(value) <= 10 else " small"
    under = f'<div class="s">{esc(sub)}</div>' if sub else ""
    return (
        f'<div class="{cls}"><div class="k">{esc(label)}</div>'
        f'<div class="v{small}">{esc(value)}</div>{under}</div>'
    )


_NA_STYLE = "background:#f3f4f6;color:#6b7280"


def reason_of(raw: Any, key: str) -> str:
    """The ``<key>_reason`` of a null value in a result dict ("" when there is none)."""
    value = raw.get(f"{key}_reason") if isinstance(raw, Mapping) else None
    return str(value) if value else ""


def na_tile(label: str, reason: str) -> str:
    """A grey "not measured" tile: the metric has no value, the line under it says why and how to
    map it (docs/adr/0006-not-measured.md). Never a zero."""
    under = f'<div class="s">{esc(reason)}</div>' if reason else ""
    return (
        f'<div class="stat na" style="{_NA_STYLE}"><div class="k">{esc(label)}</div>'
        f'<div class="v small" style="color:#6b7280">not measured</div>{under}</div>'
    )


def na_note(what: str, reason: str) -> str:
    """A grey "not measured" line for a whole block."""
    return f'<p class="note na" style="color:#6b7280">{esc(what)}: not measured \u2014 {esc(reason)}</p>'


def na_cell(reason: str) -> str:
    """A table cell for a value that is not measured (the reason on hover)."""
    return f'<td class="na" style="color:#9ca3af" title="{esc(reason)}">not measured</td>'


def tiles(items: Sequence[str]) -> str:
    return f'<div class="stats">{"".join(items)}</div>' if items else ""


def heat_style(share: float | None, *, color: str = PALETTE["primary"]) -> str:
    """Inline background for a heat-coloured cell: white at 0, ``color`` at 1 (capped so the text
    stays readable)."""
    if share is None:
        return ""
    t = max(0.0, min(1.0, share))
    background = _blend("#ffffff", color, 0.08 + 0.62 * t)
    ink = "#ffffff" if t > 0.6 else PALETTE["ink"]
    return f' style="background:{background};color:{ink}"'


def stage_colors(stages: Sequence[str], sale: str | None) -> dict[str, str]:
    """One colour per stage: shades of indigo up to the sale, amber at the sale, teal after it
    (all indigo when the model has no sale stage)."""
    names = list(stages)
    waist = names.index(sale) if sale in names else len(names)
    out: dict[str, str] = {}
    for i, name in enumerate(names):
        if i < waist:
            t = i / max(waist - 1, 1)
            out[name] = _blend("#312e81", "#818cf8", t)
        elif i == waist:
            out[name] = STAGE_COLORS["sale"]
        else:
            t = (i - waist - 1) / max(len(names) - waist - 2, 1)
            out[name] = _blend("#0f766e", "#2dd4bf", t)
    return out


def share_text(value: float | None) -> str:
    return fmt_pct(value, 0) if value is not None and value >= 0.1 else fmt_pct(value)
