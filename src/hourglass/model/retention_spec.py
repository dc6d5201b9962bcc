"""What a retention analysis asks (docs/semantics-retention.md): the cohort and return targets,
the calendar period, the mode and the range, checked where they are given; and the calendar periods
(their starts, ends, labels and the index of a time)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.spec import check_period, parse_time
from hourglass.model.steps import Step

__all__ = [
    "COHORT_KINDS",
    "EPOCH",
    "MAX_PERIODS",
    "MODES",
    "PERIODS",
    "US_PER_DAY",
    "RetentionSpec",
    "Target",
    "period_end",
    "period_label",
    "period_of",
    "period_start",
    "resolve_target",
]

PERIODS = ("day", "week", "month")
MODES = ("nth", "unbounded")
COHORT_KINDS = ("first", "recurring")
MAX_PERIODS = 400
EPOCH = datetime(1970, 1, 1)
US_PER_DAY = 86_400_000_000


def _choice(value: str, allowed: Sequence[str], what: str) -> str:
    v = str(value).strip().lower()
    if v not in allowed:
        raise SpecError(
            f"{what}: unknown value '{value}'{did_you_mean(v, allowed)}",
            code="HG175",
            hint=f"{what} is one of: " + ", ".join(allowed),
        )
    return v


# --- calendar periods: an integer index per period, the same arithmetic as the Ibis expression ---


def period_start(period: str, index: int) -> datetime:
    """The first instant of period ``index`` (days since 1970-01-01; weeks from Monday, the week
    of 1970-01-01 being 0; months ``year * 12 + month - 1``)."""
    if period == "day":
        return EPOCH + timedelta(days=index)
    if period == "week":
        return EPOCH + timedelta(days=7 * index - 3)  # 1969-12-29 was a Monday
    year, month0 = divmod(index, 12)
    return datetime(year, month0 + 1, 1)


def period_end(period: str, index: int) -> datetime:
    """The first instant after period ``index`` (exclusive end)."""
    return period_start(period, index + 1)


def period_label(period: str, index: int) -> str:
    """``2024-01-15`` for a day, the Monday ``2024-01-15`` for a week, ``2024-01`` for a month."""
    start = period_start(period, index)
    return start.strftime("%Y-%m") if period == "month" else start.date().isoformat()


def period_of(period: str, when: datetime) -> int:
    """The index of the period holding ``when`` (the reference and tests use it)."""
    if period == "month":
        return when.year * 12 + when.month - 1
    days = (when.date() - date(1970, 1, 1)).days
    return days if period == "day" else (days + 3) // 7


# --- what starts a cohort and what is a return ---


@dataclass(frozen=True)
class Target:
    """A start or return event: ``step`` None is any event. ``kind`` is ``any``, ``first``,
    ``purchase``, ``stage`` or ``event``; ``label`` names it in words."""

    kind: str
    label: str
    step: Step | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "label": self.label}
        if self.step is not None:
            out["events"] = list(self.step.events)
            if self.step.where:
                out["where"] = [f"{f.column} {f.op} {f.value}" for f in self.step.where]
        return out


@dataclass(frozen=True)
class RetentionSpec:
    """``period`` day|week|month; ``start``/``back`` the start and return events; ``mode`` nth
    (returned in exactly period N) or unbounded (in period N or any later one); ``cohorts`` first
    (each customer once, at his first start event) or recurring (one membership per period with a
    start event); ``periods`` the last period shown (0..N); ``since``/``until`` select the cohorts'
    start events (``until`` also ends the returns)."""

    start: Target
    back: Target
    period: str = "week"
    mode: str = "nth"
    cohorts: str = "first"
    periods: int = 10
    since: datetime | None = None
    until: datetime | None = None
    by: str | None = None

    @classmethod
    def build(
        cls,
        start: Target,
        back: Target,
        *,
        period: str = "week",
        mode: str = "nth",
        cohorts: str = "first",
        periods: int | str = 10,
        since: Any = None,
        until: Any = None,
        by: str | None = None,
    ) -> RetentionSpec:
        per = _choice(period, PERIODS, "--period")
        md = _choice(mode, MODES, "--mode")
        kind = _choice(cohorts, COHORT_KINDS, "--cohorts")
        try:
            n = int(periods)
        except (TypeError, ValueError):
            n = -1
        if isinstance(periods, bool) or not 1 <= n <= MAX_PERIODS:
            raise SpecError(
                f"--periods: {periods!r} is not a number of periods from 1 to {MAX_PERIODS}",
                code="HG176",
                hint="e.g. --periods 12 (the matrix shows periods 0 to 12 after the start period)",
            )
        s, u = parse_time(since, what="--since"), parse_time(until, what="--until")
        check_period(s, u)
        return cls(start, back, per, md, kind, n, s, u, by or None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "start": self.start.to_dict(),
            "return": self.back.to_dict(),
            "mode": self.mode,
            "cohorts": self.cohorts,
            "periods": self.periods,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
        }


def resolve_target(
    name: str,
    *,
    role: str,
    stages: Mapping[str, Step],
    purchases: Step | None,
    model: str,
) -> Target:
    """``any``/``first`` (any event), ``purchase`` (the model's purchase events), a stage of the
    model, or an event name or glob (``event:NAME`` forces the event when a stage has its name).
    ``role`` is ``start`` or ``return``."""
    flag = f"--{role}"
    text = str(name).strip()
    if not text:
        raise SpecError(f"{flag} is empty", code="HG177", hint=f"e.g. {flag} purchase")
    low = text.lower()
    if (role == "start" and low == "first") or (role == "return" and low == "any"):
        return Target("any", "first event" if role == "start" else "any event")
    if low == "purchase":
        if purchases is None:
            raise SpecError(
                f"{flag} purchase: model '{model}' names no sale stage and no purchase events",
                code="HG177",
                hint="give --model with a sale stage, or the purchase event's name "
                f"({flag} event:order_completed)",
            )
        return Target("purchase", "purchase", purchases)
    if low.startswith("event:"):
        event = text[len("event:") :].strip()
        if not event:
            raise SpecError(f"{flag} event: names no event", code="HG177", hint=f"e.g. {flag} event:purchase")
        return Target("event", event, Step(name=role, events=(event,)))
    if text in stages:
        return Target(
            "stage", f"stage {text}", Step(name=role, events=stages[text].events, where=stages[text].where)
        )
    return Target("event", text, Step(name=role, events=(text,)))
