"""Plain-text tables and flat rows for the journey results (no rich: the model layer is pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["pct", "ratio", "text_table", "uniform"]


def ratio(k: int, n: int) -> float | None:
    return None if n == 0 else k / n


def pct(x: float | None) -> str:
    """A share as marketing text: ``42%``, ``4.2%`` below 10%, ``-`` when undefined."""
    if x is None:
        return "-"
    return f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.1f}%"


def text_table(header: Sequence[str], lines: Sequence[Sequence[str]], title: str = "") -> str:
    """Left-aligned first column, right-aligned others, two spaces apart."""
    widths = [max([len(h), *(len(r[i]) for r in lines)]) for i, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [title] if title else []
    return "\n".join([*out, fmt(header), *(fmt(r) for r in lines)])


def uniform(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the union of their keys (first-seen order), missing values None (CSV needs one
    header)."""
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    return [{k: r.get(k) for k in keys} for r in rows]
