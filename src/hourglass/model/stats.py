"""Small, exact statistics used by results (no numpy: the model layer is pure Python)."""

from __future__ import annotations

import math

__all__ = ["Z95", "ratio", "wilson"]

Z95 = 1.959963984540054


def ratio(k: int, n: int) -> float | None:
    return None if n == 0 else k / n


def wilson(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for k successes out of n (None, None when n == 0)."""
    if n == 0:
        return (None, None)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
