"""Reading the engine's small aggregates back into Python: numbers, counts, records."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["count", "number", "records"]


def number(x: Any) -> float | None:
    """A float, with NULL and NaN as None."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def count(x: Any) -> int:
    """An integer count, with NULL and NaN as 0 (a sum over no rows)."""
    v = number(x)
    return 0 if v is None else int(v)


def records(engine: Any, expr: Any) -> list[dict[str, Any]]:
    """Execute ``expr`` (a small result) and return its rows as dicts."""
    out: list[dict[str, Any]] = engine.execute(expr).to_dict("records")
    return out
