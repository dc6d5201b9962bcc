"""Result types. Built from the small aggregates the engine returns; they render themselves as a
dict (the JSON shape), flat rows (CSV, pandas) and plain text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model.stats import ratio, wilson

__all__ = ["FunnelGroup", "FunnelResult", "StepCounts", "format_duration", "format_percent", "step_rows"]


@dataclass(frozen=True)
class StepCounts:
    """What the engine measures per step (docs/semantics.md)."""

    step: str
    customers: int
    label: str = ""
    continued: int | None = None  # open funnels only
    median_time_s: float | None = None
    p90_time_s: float | None = None


def step_rows(counts: Sequence[StepCounts], *, open_funnel: bool = False) -> list[dict[str, Any]]:
    """The per-step output rows: conversions with Wilson intervals, dropped, times."""
    rows: list[dict[str, Any]] = []
    first = counts[0].customers if counts else 0
    for i, c in enumerate(counts):
        prev = counts[i - 1].customers if i else c.customers
        through = c.customers if i == 0 or not open_funnel else (c.continued or 0)
        if open_funnel and i > 0:
            cf: float | None = None
            cf_ci: tuple[float | None, float | None] = (None, None)
        else:
            cf, cf_ci = ratio(c.customers, first), wilson(c.customers, first)
        row: dict[str, Any] = {"step": c.step}
        if c.label:
            row["label"] = c.label
        row.update(
            customers=c.customers,
            conversion_from_first=cf,
            conversion_from_first_low=cf_ci[0],
            conversion_from_first_high=cf_ci[1],
            conversion_from_previous=ratio(through, prev),
            conversion_from_previous_low=wilson(through, prev)[0],
            conversion_from_previous_high=wilson(through, prev)[1],
            dropped=prev - through,
            median_time_from_previous_s=c.median_time_s,
            p90_time_from_previous_s=c.p90_time_s,
        )
        if open_funnel:
            row["entered"] = c.customers - (c.continued or 0) if i else c.customers
            row["continued"] = c.continued if i else None
        rows.append(row)
    return rows


@dataclass(frozen=True)
class FunnelGroup:
    value: Any
    steps: tuple[StepCounts, ...]


def format_percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def format_duration(s: float | None, sep: str = "") -> str:
    """Seconds as ``45s``, ``12.0min``, ``3.2h``, ``2.1d`` (``sep`` between number and unit): the
    units s, min, h, d, never a bare ``m`` (minutes or months?). A value that rounds up to the next
    unit is shown in it (59.97 minutes: ``1.0h``)."""
    if s is None:
        return "-"
    if s < 0:
        return "-" + format_duration(-s, sep)
    for unit, size, below in (("d", 86400, None), ("h", 3600, 24.0), ("min", 60, 60.0)):
        if s >= size:
            shown = f"{s / size:.1f}"
            if below is not None and float(shown) >= below:
                return format_duration(below * size, sep)
            return f"{shown}{sep}{unit}"
    if round(s) >= 60:
        return format_duration(60.0, sep)
    return f"{s:.0f}{sep}s"


@dataclass(frozen=True)
class FunnelResult:
    """A funnel's result; ``groups`` is set with a breakdown (``by``)."""

    steps: tuple[StepCounts, ...]
    open_funnel: bool = False
    breakdown: str | None = None
    groups: tuple[FunnelGroup, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.breakdown is not None:
            out["breakdown"] = self.breakdown
            out["groups"] = [
                {"value": g.value, "steps": step_rows(g.steps, open_funnel=self.open_funnel)}
                for g in self.groups
            ]
        else:
            out["steps"] = step_rows(self.steps, open_funnel=self.open_funnel)
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows (one per step, or per group and step), for CSV and pandas."""
        if self.breakdown is None:
            return step_rows(self.steps, open_funnel=self.open_funnel)
        flat: list[dict[str, Any]] = []
        for g in self.groups:
            for row in step_rows(g.steps, open_funnel=self.open_funnel):
                flat.append({self.breakdown: g.value, **row})
        return flat

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        header = ("step", "customers", "from first", "from previous", "dropped", "median", "p90")
        lines: list[list[str]] = []
        for row in self.rows():
            name = row["step"] if self.breakdown is None else f"{row[self.breakdown]} / {row['step']}"
            lines.append(
                [
                    name,
                    str(row["customers"]),
                    format_percent(row["conversion_from_first"]),
                    format_percent(row["conversion_from_previous"]),
                    str(row["dropped"]),
                    format_duration(row["median_time_from_previous_s"]),
                    format_duration(row["p90_time_from_previous_s"]),
                ]
            )
        widths = [max(len(h), *(len(r[i]) for r in lines)) if lines else len(h) for i, h in enumerate(header)]

        def fmt(cells: Sequence[str]) -> str:
            pairs = zip(cells, widths, strict=True)
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(pairs))

        return "\n".join([fmt(header), *(fmt(r) for r in lines)])

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"FunnelResult(\n{self.to_text()}\n)"
