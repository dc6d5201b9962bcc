"""Result types. Built from the small aggregates the engine returns; they render themselves as a
dict (the JSON shape), flat rows (CSV, pandas) and plain text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model.stats import ratio, wilson

__all__ = [
    "MEASURES",
    "OPTIONAL_DROPPED",
    "FunnelGroup",
    "FunnelResult",
    "StepCounts",
    "format_duration",
    "format_percent",
    "step_rows",
]


@dataclass(frozen=True)
class StepCounts:
    """What the engine measures per step (docs/semantics.md)."""

    step: str
    customers: int
    label: str = ""
    continued: int | None = None  # open funnels only
    median_time_s: float | None = None
    p90_time_s: float | None = None
    optional: bool = False  # an optional step: counted on the chain, never blocks it


#: the per-step measures a step that is not measured has as null (docs/adr/0006)
MEASURES = (
    "customers",
    "conversion_from_first",
    "conversion_from_first_low",
    "conversion_from_first_high",
    "conversion_from_previous",
    "conversion_from_previous_low",
    "conversion_from_previous_high",
    "dropped",
    "median_time_from_previous_s",
    "p90_time_from_previous_s",
    "entered",
    "continued",
)


#: an optional step's ``dropped_reason`` (its ``dropped`` is null)
OPTIONAL_DROPPED = "an optional step: skipping it loses no one"


def step_rows(
    counts: Sequence[StepCounts],
    *,
    open_funnel: bool = False,
    unmeasured: Mapping[str, str] | Sequence[str | None] | None = None,
) -> list[dict[str, Any]]:
    """The per-step output rows: conversions with Wilson intervals, dropped, times. A step in
    ``unmeasured`` (step -> why) has every measure null and its reason as ``customers_reason``
    (docs/adr/0006): the source cannot say, which is not zero. A sequence is per position (a step
    name may repeat: visit, view, visit with view missing leaves the first visit measured)."""
    rows: list[dict[str, Any]] = []
    first = counts[0].customers if counts else 0
    has_optional = any(c.optional for c in counts)
    for i, c in enumerate(counts):
        # "previous" is the previous required step (an optional step's share of it, too)
        prev = next((p.customers for p in reversed(counts[:i]) if not p.optional), c.customers)
        through = c.customers if i == 0 or not open_funnel else (c.continued or 0)
        if open_funnel and i > 0:
            cf: float | None = None
            cf_ci: tuple[float | None, float | None] = (None, None)
        else:
            cf, cf_ci = ratio(c.customers, first), wilson(c.customers, first)
        row: dict[str, Any] = {"step": c.step}
        if c.label:
            row["label"] = c.label
        if has_optional:
            row["optional"] = c.optional
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
        if has_optional:  # skipping an optional step loses no one: not a drop
            row["dropped"] = None if c.optional else row["dropped"]
            row["dropped_reason"] = OPTIONAL_DROPPED if c.optional else None
        if open_funnel:
            row["entered"] = c.customers - (c.continued or 0) if i else c.customers
            row["continued"] = c.continued if i else None
        if isinstance(unmeasured, Mapping):
            why = unmeasured.get(c.step)
        else:
            why = unmeasured[i] if unmeasured is not None and i < len(unmeasured) else None
        if why is not None:
            row.update({k: None for k in MEASURES if k in row}, customers_reason=why)
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
    """A funnel's result; ``groups`` is set with a breakdown (``by``). ``missing``: the steps that
    match no event of the source (a typo, another shop's names): they are not measured, and in a
    funnel that is not open neither is any step after the first of them (nobody can pass it), so
    their measures are null with a reason in every format, never 0 (docs/adr/0006)."""

    steps: tuple[StepCounts, ...]
    open_funnel: bool = False
    breakdown: str | None = None
    groups: tuple[FunnelGroup, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    missing: tuple[str, ...] = ()

    def unmeasured_at(self, *, short: bool = False) -> list[str | None]:
        """Per step position, why it is not measured (None: measured): a step of :attr:`missing`,
        and in a funnel that is not open every step after the first required one of them (an
        optional step blocks nothing). ``short``: the
        table's words (``no such event``, ``after kart``) instead of the sentence of the JSON's
        ``customers_reason``."""
        out: list[str | None] = []
        first: str | None = None
        for s in self.steps:
            name = s.step
            if name in self.missing:
                first = first or (None if s.optional else name)
                out.append(
                    "no such event"
                    if short
                    else f"step '{name}' matches no event of the source (meta.notes names the closest)"
                )
            elif first is not None and not self.open_funnel:
                why = f"follows step '{first}', which matches no event of the source"
                out.append(f"after {first}" if short else why)
            else:
                out.append(None)
        return out

    def _rows(self, counts: Sequence[StepCounts]) -> list[dict[str, Any]]:
        return step_rows(counts, open_funnel=self.open_funnel, unmeasured=self.unmeasured_at())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.breakdown is not None:
            out["breakdown"] = self.breakdown
            out["groups"] = [{"value": g.value, "steps": self._rows(g.steps)} for g in self.groups]
        else:
            out["steps"] = self._rows(self.steps)
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows (one per step, or per group and step), for CSV and pandas; with a step not
        measured, every row has ``customers_reason`` (CSV: one header for all rows)."""
        if self.breakdown is None:
            flat = self._rows(self.steps)
        else:
            flat = [{self.breakdown: g.value, **row} for g in self.groups for row in self._rows(g.steps)]
        if self.missing:
            flat = [{**row, "customers_reason": row.get("customers_reason")} for row in flat]
        return flat

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        header = ("step", "customers", "from first", "from previous", "dropped", "median", "p90")
        lines: list[list[str]] = []
        unmeasured = self.unmeasured_at(short=True)
        for i, row in enumerate(self.rows()):
            name = row["step"] if self.breakdown is None else f"{row[self.breakdown]} / {row['step']}"
            why = unmeasured[i % len(unmeasured)] if unmeasured else None
            lines.append(
                [
                    name,
                    f"not measured ({why})" if why else str(row["customers"]),
                    format_percent(row["conversion_from_first"]),
                    format_percent(row["conversion_from_previous"]),
                    "-" if row["dropped"] is None else str(row["dropped"]),
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
