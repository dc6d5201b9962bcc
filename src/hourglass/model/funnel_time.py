"""Time to convert and events needed to convert (docs/semantics-funnel-time.md): the histogram bins,
exact quantiles from a distribution, and the results. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model.results import format_duration

__all__ = [
    "COUNT_EDGES",
    "TIME_EDGES_S",
    "CountHistogram",
    "EventsToConvert",
    "TimeHistogram",
    "TimeToConvert",
    "count_bins",
    "quantile_of_counts",
    "time_bins",
]

US = 1_000_000
#: the time bins' edges in seconds (log-spaced: 1 min, 5 min, 30 min, 2 h, 12 h, 1 d, 3 d, 7 d, 30 d, 90 d,
#: 1 y); the bins are [edge, next edge), cut at the window (the last bin ends at the window, inclusive)
TIME_EDGES_S = (0, 60, 300, 1800, 7200, 43200, 86400, 259200, 604800, 2592000, 7776000, 31536000)
#: the count bins' lower bounds: 1, 2, 3, 4, 5, 6-10, 11-20, 21-50, 51-100, 101 or more
COUNT_EDGES = (1, 2, 3, 4, 5, 6, 11, 21, 51, 101)


def _short(s: float) -> str:
    return format_duration(s, " ").replace(".0 ", " ")


def time_bins(window_us: int) -> list[tuple[str, int, int | None]]:
    """(label, low µs inclusive, high µs exclusive or None for "up to the window, inclusive"): the
    edges below the window; the last bin runs to the window."""
    lows = [e * US for e in TIME_EDGES_S if e * US < window_us]
    out: list[tuple[str, int, int | None]] = []
    for i, lo in enumerate(lows):
        hi = lows[i + 1] if i + 1 < len(lows) else None
        top = hi if hi is not None else window_us
        if lo == 0:
            label = f"< {_short(top / US)}" if hi is not None else f"≤ {_short(top / US)}"
        else:
            label = f"{_short(lo / US)} – {_short(top / US)}"
        out.append((label, lo, hi))
    return out


def count_bins() -> list[tuple[str, int, int | None]]:
    """(label, low inclusive, high exclusive or None) for counts of events or sessions."""
    out: list[tuple[str, int, int | None]] = []
    for i, lo in enumerate(COUNT_EDGES):
        hi = COUNT_EDGES[i + 1] if i + 1 < len(COUNT_EDGES) else None
        label = str(lo) if hi == lo + 1 else f"{lo}+" if hi is None else f"{lo}–{hi - 1}"
        out.append((label, lo, hi))
    return out


def quantile_of_counts(dist: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (linear interpolation between order statistics, as DuckDB's quantile_cont) of
    the values of ``dist`` (value -> how many); None when empty."""
    values = sorted(dist)
    total = sum(dist[v] for v in values)
    if total == 0:
        return None
    pos = q * (total - 1)
    lo_i = int(pos)
    frac = pos - lo_i

    def nth(i: int) -> int:
        seen = 0
        for v in values:
            seen += dist[v]
            if i < seen:
                return v
        return values[-1]

    a = nth(lo_i)
    return float(a) if frac == 0 else a + (nth(lo_i + 1) - a) * frac


def _bins_dict(labels: Sequence[tuple[str, int, int | None]], counts: Sequence[int], unit: str) -> list[Any]:
    total = sum(counts)
    return [
        {
            "label": label,
            f"low{unit}": lo if unit == "" else lo / US,
            f"high{unit}": None if hi is None else hi if unit == "" else hi / US,
            "customers": c,
            "share": None if total == 0 else c / total,
        }
        for (label, lo, hi), c in zip(labels, counts, strict=True)
    ]


@dataclass(frozen=True)
class TimeHistogram:
    """Time to step ``step`` from ``origin`` (``previous``: the previous step; ``entry``: step 1)
    over the customers counted at the step; ``reason`` when not measured."""

    step: str
    origin: str
    customers: int | None
    counts: tuple[int, ...]
    median_s: float | None
    p90_s: float | None
    reason: str | None = None


@dataclass(frozen=True)
class TimeToConvert:
    steps: tuple[str, ...]
    bins: tuple[tuple[str, int, int | None], ...]
    histograms: tuple[TimeHistogram, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = []
        for h in self.histograms:
            row: dict[str, Any] = {
                "step": h.step,
                "from": h.origin,
                "customers": h.customers,
                "median_s": h.median_s,
                "p90_s": h.p90_s,
                "bins": None if h.reason else _bins_dict(self.bins, h.counts, "_s"),
            }
            if h.reason:
                row["customers_reason"] = row["bins_reason"] = h.reason
            elif not h.customers:
                row["median_s_reason"] = row["p90_s_reason"] = "no customer reached the step"
            out.append(row)
        return {"steps": list(self.steps), "histograms": out, "meta": self.meta}

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for h in self.to_dict()["histograms"]:
            head = {k: h[k] for k in ("step", "from", "customers", "median_s", "p90_s")}
            if h["bins"] is None:
                out.append({**head, "bin": None, "bin_customers": None, "share": None})
            for b in h["bins"] or ():
                out.append({**head, "bin": b["label"], "bin_customers": b["customers"], "share": b["share"]})
        return out

    def to_text(self) -> str:
        lines = []
        for h in self.histograms:
            head = f"{h.step} (from {h.origin})"
            if h.reason:
                lines.append(f"{head}: not measured ({h.reason})")
                continue
            med, p90 = format_duration(h.median_s, " "), format_duration(h.p90_s, " ")
            lines.append(f"{head}: {h.customers} customers, median {med}, p90 {p90}")
            total = sum(h.counts)
            for (label, _, _), c in zip(self.bins, h.counts, strict=True):
                share = 0.0 if total == 0 else c / total
                lines.append(f"  {label:>14}  {c:>7}  {100 * share:5.1f}%  {'█' * round(30 * share)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class CountHistogram:
    """How many events (or sessions) customers needed from entry to step ``step``."""

    step: str
    what: str  # "events" or "sessions"
    distribution: Mapping[int, int]
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        labels = count_bins()
        counts = [
            sum(c for v, c in self.distribution.items() if lo <= v and (hi is None or v < hi))
            for _, lo, hi in labels
        ]
        n = sum(self.distribution.values())
        row: dict[str, Any] = {
            "step": self.step,
            "what": self.what,
            "customers": None if self.reason else n,
            "median": None if self.reason else quantile_of_counts(self.distribution, 0.5),
            "p90": None if self.reason else quantile_of_counts(self.distribution, 0.9),
            "mean": None if self.reason or n == 0 else sum(v * c for v, c in self.distribution.items()) / n,
            "bins": None if self.reason else _bins_dict(labels, counts, ""),
        }
        if self.reason:
            row["customers_reason"] = row["bins_reason"] = self.reason
        elif n == 0:
            row["median_reason"] = row["p90_reason"] = row["mean_reason"] = "no customer reached the step"
        return row


@dataclass(frozen=True)
class EventsToConvert:
    steps: tuple[str, ...]
    session_gap_s: float
    histograms: tuple[CountHistogram, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "session_gap_s": self.session_gap_s,
            "histograms": [h.to_dict() for h in self.histograms],
            "meta": self.meta,
        }

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for h in self.to_dict()["histograms"]:
            head = {k: h[k] for k in ("step", "what", "customers", "median", "p90", "mean")}
            if h["bins"] is None:
                out.append({**head, "bin": None, "bin_customers": None, "share": None})
            for b in h["bins"] or ():
                out.append({**head, "bin": b["label"], "bin_customers": b["customers"], "share": b["share"]})
        return out

    def to_text(self) -> str:
        gap = format_duration(self.session_gap_s, " ")
        lines = [f"events needed to convert (a session ends after a gap of {gap})"]
        for h in self.histograms:
            d = h.to_dict()
            head = f"{h.step} · {h.what}"
            if h.reason:
                lines.append(f"{head}: not measured ({h.reason})")
                continue
            med = "-" if d["median"] is None else f"{d['median']:g}"
            p90 = "-" if d["p90"] is None else f"{d['p90']:g}"
            lines.append(f"{head}: {d['customers']} customers, median {med}, p90 {p90}")
            for b in d["bins"]:
                share = b["share"] or 0.0
                lines.append(
                    f"  {b['label']:>7}  {b['customers']:>7}  {100 * share:5.1f}%  {'█' * round(30 * share)}"
                )
        return "\n".join(lines)
