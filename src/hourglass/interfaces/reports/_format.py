"""Plain data and text formatting for the HTML report (no HTML, no plotly here)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EN_DASH = "\u2013"
EM_DASH = "\u2014"
ARROW = "\u2192"


def _number(value: Any) -> float | None:
    """A finite float, or None for missing, null, NaN, infinities and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


@dataclass(frozen=True)
class Step:
    """One row of a funnel result, read defensively from its JSON shape."""

    name: str
    label: str
    customers: int | None
    conv_first: float | None
    conv_first_low: float | None
    conv_first_high: float | None
    conv_prev: float | None
    conv_prev_low: float | None
    conv_prev_high: float | None
    dropped: int | None
    median_s: float | None
    p90_s: float | None
    #: an optional step (docs/semantics.md): counted when present, never blocks the chain, loses no one
    optional: bool = False

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], index: int) -> Step:
        name = raw.get("step")
        name_text = str(name) if name is not None and str(name) != "" else f"step {index + 1}"
        label = raw.get("label")
        label_text = str(label) if label is not None and str(label).strip() else name_text
        return cls(
            name=name_text,
            label=label_text,
            customers=_count(raw.get("customers")),
            conv_first=_number(raw.get("conversion_from_first")),
            conv_first_low=_number(raw.get("conversion_from_first_low")),
            conv_first_high=_number(raw.get("conversion_from_first_high")),
            conv_prev=_number(raw.get("conversion_from_previous")),
            conv_prev_low=_number(raw.get("conversion_from_previous_low")),
            conv_prev_high=_number(raw.get("conversion_from_previous_high")),
            dropped=_count(raw.get("dropped")),
            median_s=_number(raw.get("median_time_from_previous_s")),
            p90_s=_number(raw.get("p90_time_from_previous_s")),
            optional=raw.get("optional") is True,
        )


@dataclass(frozen=True)
class Loss:
    """The transition that lost the most customers (see :attr:`Section.largest_loss`)."""

    index: int  # index of the step customers failed to reach
    from_label: str
    to_label: str
    share_lost: float
    lost: int | None
    of: int | None


@dataclass(frozen=True)
class Section:
    """One model's section of the report."""

    index: int
    anchor: str
    model: str
    label: str
    kind: str
    description: str
    window: str
    steps: tuple[Step, ...]
    meta: tuple[tuple[str, str], ...]
    has_result: bool
    #: what the counts are: customers, or chains under ``--count totals`` (the section's ``count_noun``)
    noun: str = "customers"

    @property
    def last_required(self) -> Step | None:
        """The last step a chain must reach (a trailing optional step never blocks it, so converting
        is reaching this one, as in the funnel over time's ``converted``); None without steps."""
        required = [s for s in self.steps if not s.optional] or list(self.steps)
        return required[-1] if required else None

    @property
    def overall(self) -> float | None:
        """The last required step over the first: its conversion from first when reported."""
        last = self.last_required
        if last is None:
            return None
        if (sum(not s.optional for s in self.steps) or len(self.steps)) == 1:
            return 1.0 if (self.steps[0].customers or 0) > 0 else None
        if last.conv_first is not None:
            return last.conv_first
        first_n = self.steps[0].customers
        if last.customers is None or not first_n:
            return None
        return last.customers / first_n

    def _previous(self, i: int) -> int:
        """The step before step ``i`` that it is counted from: the previous **required** step (an
        optional step is skipped: docs/semantics.md, optional steps); -1 for the first."""
        return next((j for j in range(i - 1, -1, -1) if not self.steps[j].optional), -1)

    @property
    def largest_loss(self) -> Loss | None:
        """The required step that lost the most customers: the previous required step's customers
        minus this step's (the result's ``dropped``); ties go to the earlier step. A low rate on a
        handful of customers is not the headline when thousands left at another step. Without
        counts, the lowest conversion from the previous required step. An optional step loses no one
        (skipping it blocks nothing), so it is never the largest loss."""
        lost = [self._lost(i) for i in range(len(self.steps))]
        best: int | None = None
        for i in range(1, len(self.steps)):
            n = lost[i]
            if n is not None and (best is None or n > (lost[best] or 0)):
                best = i
        if best is None:
            for i, step in enumerate(self.steps[1:], start=1):
                if step.conv_prev is None or step.optional or self._previous(i) < 0:
                    continue
                if best is None or step.conv_prev < (self.steps[best].conv_prev or 0.0):
                    best = i
        if best is None:
            return None
        step = self.steps[best]
        previous = self.steps[self._previous(best)]
        n = lost[best]
        if step.conv_prev is not None:
            share = 1.0 - step.conv_prev
        else:
            share = (n or 0) / previous.customers if previous.customers else 0.0
        return Loss(
            index=best,
            from_label=previous.label,
            to_label=step.label,
            share_lost=share if (n is None or n > 0) else 0.0,
            lost=n,
            of=previous.customers,
        )

    def _lost(self, i: int) -> int | None:
        """Customers lost at step ``i`` (from the previous required step), None when not known or
        ``i`` is optional (it loses no one)."""
        j = self._previous(i)
        if j < 0 or self.steps[i].optional:
            return None
        step, previous = self.steps[i], self.steps[j]
        if step.dropped is not None:
            return step.dropped
        if step.customers is not None and previous.customers is not None:
            return previous.customers - step.customers
        return None


def _text(value: Any, default: str = "") -> str:
    if value is None:
        return default
    text = str(value)
    return text if text.strip() else default


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40] or "model"


def _meta_items(meta: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(meta, Mapping):
        return ()
    items: list[tuple[str, str]] = []
    for key, value in meta.items():
        if isinstance(value, Mapping | list | tuple):
            if not value:
                continue
            if isinstance(value, Mapping):
                shown = ", ".join(f"{k}: {format_value(v)}" for k, v in value.items())
            else:
                shown = ", ".join(format_value(v) for v in value)
        else:
            shown = format_value(value)
        items.append((str(key), shown))
    return tuple(items)


def read_sections(sections: Sequence[Mapping[str, Any]]) -> list[Section]:
    """Normalise the caller's plain section dicts."""
    if isinstance(sections, Mapping | str | bytes):
        raise TypeError("sections must be a sequence of section mappings")
    result: list[Section] = []
    for index, raw in enumerate(sections):
        if not isinstance(raw, Mapping):
            raise TypeError(f"section {index} is a {type(raw).__name__}, not a mapping")
        model = _text(raw.get("model"), f"model{index + 1}")
        label = _text(raw.get("label"), model)
        funnel = raw.get("funnel")
        steps: tuple[Step, ...] = ()
        meta: tuple[tuple[str, str], ...] = ()
        has_result = isinstance(funnel, Mapping)
        if isinstance(funnel, Mapping):
            raw_steps = funnel.get("steps") or []
            steps = tuple(Step.from_mapping(s, i) for i, s in enumerate(raw_steps) if isinstance(s, Mapping))
            meta = _meta_items(funnel.get("meta"))
        result.append(
            Section(
                index=index,
                anchor=f"m{index + 1}-{_slug(model)}",
                model=model,
                label=label,
                kind=_text(raw.get("kind"), "funnel"),
                description=_text(raw.get("description")),
                window=_text(raw.get("window")),
                steps=steps,
                meta=meta,
                has_result=has_result,
                noun=_text(raw.get("count_noun"), "customers"),
            )
        )
    return result


# --- numbers ---------------------------------------------------------------------------------


def fmt_count(value: int | None) -> str:
    return EM_DASH if value is None else f"{value:,}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return EM_DASH if value is None else f"{value * 100:.{digits}f}%"


def fmt_pct_short(value: float) -> str:
    """61% for shares of 10% and above (and whole numbers), 4.3% below."""
    pct = value * 100
    if round(pct) >= 10 or abs(pct - round(pct)) < 0.05:
        return f"{pct:.0f}%"
    return f"{pct:.1f}%"


def fmt_interval(value: float | None, low: float | None, high: float | None) -> str:
    """43.1% (42.6–43.6%); the interval is left out when missing or degenerate (step 1)."""
    if value is None:
        return EM_DASH
    main = fmt_pct(value)
    if low is None or high is None or (low == high == value):
        return main
    return f"{main} ({low * 100:.1f}{EN_DASH}{high * 100:.1f}%)"


_UNITS = (("s", 1.0), ("min", 60.0), ("h", 3600.0), ("d", 86400.0))


def fmt_duration(seconds: float | None) -> str:
    """Humanised time: 45 s, 3.5 s, 12.0 min, 3.2 h, 2.1 d."""
    if seconds is None:
        return EM_DASH
    if seconds < 0:
        return "-" + fmt_duration(-seconds)
    if seconds == 0:
        return "0 s"
    unit, size = _UNITS[0]
    for candidate, candidate_size in _UNITS:
        if seconds >= candidate_size:
            unit, size = candidate, candidate_size
    value = seconds / size
    if unit == "s":
        if value >= 59.5:
            return fmt_duration(60.0)
        return f"{value:.1f} s" if round(value, 1) < 10 else f"{value:.0f} s"
    shown = f"{value:.1f}"
    # 59.96 min must read 1.0 h, not 60.0 min
    limit = {"min": 60.0, "h": 24.0}.get(unit)
    if limit is not None and float(shown) >= limit:
        return fmt_duration(limit * size + 0.0)
    return f"{shown} {unit}"


def format_value(value: Any) -> str:
    """A scalar of the summary or of meta, as text."""
    if value is None:
        return EM_DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return EM_DASH
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
        return text or "0"
    return str(value)


_SUMMARY_LABELS = {
    "events": "Events",
    "customers": "Customers",
    "engine": "Engine",
    "seconds": "Run time",
    "source": "Source",
}


def summary_items(summary: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs for the headline figures, in the caller's order."""
    if not summary:
        return []
    items: list[tuple[str, str]] = []
    for key, value in summary.items():
        name = str(key)
        label = _SUMMARY_LABELS.get(name, name.replace("_", " ").strip().capitalize() or name)
        if name == "seconds" and _number(value) is not None:
            shown = f"{format_value(float(value))} s"
        else:
            shown = format_value(value)
        items.append((label, shown))
    return items


def loss_sentence(loss: Loss | None, noun: str = "customers") -> str:
    """Largest loss: trial → sale, 61% of customers lost (12,345 of 20,238); ``noun``: what the
    funnel counts (``chains`` under ``--count totals``)."""
    if loss is None:
        return "Largest loss: not defined (no step after the first has a conversion)."
    if loss.share_lost <= 0:
        return f"No {noun} were lost between steps."
    sentence = (
        f"Largest loss: {loss.from_label} {ARROW} {loss.to_label}, "
        f"{fmt_pct_short(loss.share_lost)} of {noun} lost"
    )
    if loss.lost is not None and loss.of is not None:
        sentence += f" ({loss.lost:,} of {loss.of:,})"
    return sentence + "."
