"""Small, exact statistics used by results (no numpy: the model layer is pure Python)."""

from __future__ import annotations

import math

__all__ = ["Z95", "mean_sd", "ratio", "two_proportion_p", "welch_p", "wilson"]

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


def _two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test (None when it is undefined)."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    return _two_sided_p((k1 / n1 - k2 / n2) / se)


def mean_sd(n: int, total: float, total_sq: float) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation from n, sum and sum of squares."""
    if n == 0:
        return (None, None)
    mean = total / n
    if n < 2:
        return (mean, None)
    var = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    return (mean, math.sqrt(var))


def welch_p(
    n1: int, m1: float | None, s1: float | None, n2: int, m2: float | None, s2: float | None
) -> float | None:
    """Two-sided p-value for a difference of means (Welch's statistic, normal approximation: meant
    for groups of 30 or more; None when undefined)."""
    if m1 is None or m2 is None or s1 is None or s2 is None:
        return None
    se = math.sqrt(s1 * s1 / n1 + s2 * s2 / n2)
    if se == 0:
        return None
    return _two_sided_p((m1 - m2) / se)
