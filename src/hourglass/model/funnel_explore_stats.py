"""The exact statistics of the funnel's correlation (docs/semantics-funnel-explore.md) on a 2x2
table: the odds ratio with Haldane's correction and Woolf's interval, Fisher's exact test, the
chi-square test, Benjamini-Hochberg; and how a p-value is shown. Pure Python."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hourglass.model.stats import Z95

__all__ = ["FISHER_MAX", "benjamini_hochberg", "chi2_p", "fisher_p", "format_p", "odds_ratio", "significant"]

#: tables of at most this many customers get Fisher's exact test; larger ones the chi-square test
FISHER_MAX = 20_000


def format_p(p: float) -> str:
    """A p- or q-value for people: 2 significant digits; below 1e-300 (0.0 in JSON: past the range
    of a float) ``<1e-300``."""
    return "<1e-300" if p < 1e-300 else f"{p:.2g}"


def significant(x: float) -> float:
    """``x`` to 10 significant digits: equal statistics rank as equal, whatever the rounding of
    the arithmetic that gave them (the order is then the item's kind and value)."""
    return float(f"{x:.10g}")


def odds_ratio(a: int, b: int, c: int, d: int) -> tuple[float, float, float]:
    """The odds ratio of converting with vs without the item, ``(a d) / (b c)``, and its 95%
    (Woolf) interval; with a zero cell 0.5 is added to every cell (Haldane-Anscombe)."""
    fa, fb, fc, fd = (float(x) for x in (a, b, c, d))
    if 0 in (a, b, c, d):
        fa, fb, fc, fd = fa + 0.5, fb + 0.5, fc + 0.5, fd + 0.5
    log_or = math.log(fa * fd / (fb * fc))
    se = math.sqrt(1 / fa + 1 / fb + 1 / fc + 1 / fd)
    return math.exp(log_or), math.exp(log_or - Z95 * se), math.exp(log_or + Z95 * se)


def _log_hyper(x: int, row1: int, col1: int, total: int) -> float:
    """log P(X = x) for the top-left cell of a 2x2 table with fixed margins."""
    return (
        math.lgamma(col1 + 1) - math.lgamma(x + 1) - math.lgamma(col1 - x + 1)
        + math.lgamma(total - col1 + 1) - math.lgamma(row1 - x + 1) - math.lgamma(total - col1 - row1 + x + 1)
        - (math.lgamma(total + 1) - math.lgamma(row1 + 1) - math.lgamma(total - row1 + 1))
    )  # fmt: skip


def fisher_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher's exact p-value: the probability of every table with the same margins that
    is at most as likely as the observed one (relative tolerance 1e-7, as R and SciPy)."""
    row1, col1, total = a + b, a + c, a + b + c + d
    lo, hi = max(0, row1 + col1 - total), min(row1, col1)
    observed = _log_hyper(a, row1, col1, total)
    p = 0.0
    for x in range(lo, hi + 1):
        lp = _log_hyper(x, row1, col1, total)
        if lp <= observed + 1e-7:
            p += math.exp(lp)
    return min(1.0, p)


def chi2_p(a: int, b: int, c: int, d: int) -> float:
    """Pearson's chi-square test of the 2x2 table (1 degree of freedom, no continuity correction)."""
    n = a + b + c + d
    den = (a + b) * (c + d) * (a + c) * (b + d)
    if den == 0:
        return 1.0
    chi2 = n * (a * d - b * c) ** 2 / den
    return math.erfc(math.sqrt(chi2 / 2))


def benjamini_hochberg(p: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input's order."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q
