"""The funnel per period of entry (docs/semantics-funnel-time.md, "Conversion over time"): periods,
their completeness, and the result. Pure Python: the engine hands over counts per day of entry and
this module folds them into days, weeks (Monday first) or months, all in UTC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hourglass.model.errors import SpecError
from hourglass.model.results import StepCounts, format_percent, step_rows
from hourglass.model.spec import FunnelSpec, format_window
from hourglass.model.stats import ratio, wilson

__all__ = [
    "PERIODS",
    "FunnelTrend",
    "TrendPeriod",
    "auto_period",
    "check_period",
    "check_view_spec",
    "day_of_us",
    "period_start",
    "periods_covering",
    "trend_from_days",
]

PERIODS = ("day", "week", "month")
US = 1_000_000
DAY_US = 86_400 * US
_EPOCH = date(1970, 1, 1)


def check_period(period: str) -> str:
    """``period`` when it is day, week, month or auto (chosen from the span of the entries:
    :func:`auto_period`); HG142 otherwise."""
    if period not in (*PERIODS, "auto"):
        raise SpecError(
            f"unknown period '{period}' for the funnel over time",
            code="HG142",
            hint="give day, week or month (weeks start on Monday, UTC), or auto",
        )
    return period


def auto_period(first: date, last: date) -> str:
    """The period that shows a span of entries in at most about 60 points: days up to 9 weeks,
    weeks up to about 14 months, months beyond."""
    span = (last - first).days
    return "day" if span < 63 else "week" if span < 420 else "month"


def check_view_spec(spec: FunnelSpec, view: str) -> None:
    """HG145 for a funnel the views over time do not draw: an open funnel (no common entry) or one
    broken down with ``by`` (run one funnel per value instead)."""
    if spec.open:
        raise SpecError(
            f"the funnel's {view} view needs a closed funnel: --open has no common entry step",
            code="HG145",
            hint="drop --open (the trend, time and events views follow the chain from step 1)",
        )
    if spec.count != "uniques":
        raise SpecError(
            f"the funnel's {view} view follows customers (their best chain): --count {spec.count} is the "
            "steps view's",
            code="HG145",
            hint="drop --count (the trend, time and events views count unique customers)",
        )
    if spec.by:
        raise SpecError(
            f"the funnel's {view} view is drawn for one funnel, not per value of --by {spec.by}",
            code="HG145",
            hint=f"drop --by, or filter the first step per value (a step filter '{spec.by} == VALUE')",
        )


def day_of_us(us: int) -> date:
    """The UTC calendar day of a time in microseconds since 1970-01-01."""
    return _EPOCH + timedelta(days=us // DAY_US)


def period_start(day: date, period: str) -> date:
    """The first day of the period holding ``day`` (weeks start on Monday)."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(start: date, period: str) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def periods_covering(first: date, last: date, period: str) -> list[tuple[date, date]]:
    """Every period (start, end exclusive) from the one holding ``first`` to the one holding ``last``."""
    out: list[tuple[date, date]] = []
    start = period_start(first, period)
    while start <= last:
        end = _next(start, period)
        out.append((start, end))
        start = end
    return out


def _us(d: date) -> int:
    return (d - _EPOCH).days * DAY_US


@dataclass(frozen=True)
class TrendPeriod:
    """One period of entry: ``counts`` per step (customers whose best chain entered in it),
    ``incomplete`` the reasons its numbers may still change or cover part of it (empty: complete)."""

    start: date
    end: date
    counts: tuple[StepCounts, ...]
    incomplete: tuple[str, ...] = ()

    def to_dict(self, unmeasured: Sequence[str | None] = ()) -> dict[str, Any]:
        """``unmeasured``: per step, why the source cannot measure it (None: measured). ``converted``
        is the last *required* step's customers: an optional step after it never blocks the chain,
        so whoever reached it went through the funnel (docs/semantics-funnel-time.md)."""
        entered = self.counts[0].customers if self.counts else 0
        goal = max((i for i, c in enumerate(self.counts) if not c.optional), default=0)
        last = self.counts[goal].customers if self.counts else 0
        low, high = wilson(last, entered)
        row: dict[str, Any] = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "complete": not self.incomplete,
            "incomplete_reason": "; ".join(self.incomplete) or None,
            "entered": entered,
            "converted": last,
            "conversion": ratio(last, entered),
            "conversion_low": low,
            "conversion_high": high,
        }
        steps = step_rows(self.counts, unmeasured=list(unmeasured) or None)
        last_why = unmeasured[goal] if goal < len(unmeasured) else None
        if last_why is not None:  # the last required step cannot be measured: nor the conversion
            row.update(converted=None, conversion=None, conversion_low=None, conversion_high=None)
            row["converted_reason"] = row["conversion_reason"] = last_why
        for s in steps:  # the trend does not measure times (the time view does): no key, not a null
            del s["median_time_from_previous_s"], s["p90_time_from_previous_s"]
        if entered == 0 and not (unmeasured and unmeasured[0]):
            why = "nobody entered the funnel in this period"
            row.setdefault("conversion_reason", why)
            for s in steps:
                if "customers_reason" not in s:
                    s["conversion_from_first_reason"] = s["conversion_from_previous_reason"] = why
        row["steps"] = steps
        return row


@dataclass(frozen=True)
class FunnelTrend:
    """The funnel per period of entry (``periods`` in time order, empty ones included)."""

    period: str
    steps: tuple[str, ...]
    periods: tuple[TrendPeriod, ...]
    as_of: datetime | None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    #: per step, why the source cannot measure it (a step matching no event of it; None: measured)
    unmeasured: tuple[str | None, ...] = ()

    #: per step, whether it is optional (empty: none is)
    optional: tuple[bool, ...] = ()

    @property
    def converted_step(self) -> str | None:
        """The step a period's ``converted`` counts: the last required one (an optional step after
        it never blocks the chain). None: no steps."""
        flags = self.optional or (False,) * len(self.steps)
        return next((s for s, o in zip(reversed(self.steps), reversed(flags), strict=True) if not o), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "steps": list(self.steps),
            "converted_step": self.converted_step,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "periods": [p.to_dict(self.unmeasured) for p in self.periods],
            "meta": self.meta,
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per period and step (CSV, pandas)."""
        out = []
        for p in self.periods:
            d = p.to_dict(self.unmeasured)
            head = {k: d[k] for k in ("start", "end", "complete", "incomplete_reason", "entered")}
            for s in d["steps"]:
                out.append({**head, **s})
        return out

    def to_text(self) -> str:
        lines = [f"funnel by {self.period} of entry · {' → '.join(self.steps)}"]
        if self.steps and self.converted_step != self.steps[-1]:  # a trailing optional step
            lines[0] += f" · converted: reached {self.converted_step}"
        for p in self.periods:
            d = p.to_dict(self.unmeasured)
            conv = "-" if d["conversion"] is None else format_percent(d["conversion"])
            ci = (
                ""
                if d["conversion_low"] is None
                else f" ({100 * d['conversion_low']:.1f}–{100 * d['conversion_high']:.1f})"
            )
            flag = "" if d["complete"] else "  incomplete"
            lines.append(f"{d['start']}  entered {d['entered']:>6}  converted {conv}{ci}{flag}")
        return "\n".join(lines)


def _incomplete(
    start: date, end: date, window: int, as_of: int | None, since: int | None, until: int | None
) -> tuple[str, ...]:
    why = []
    if since is not None and _us(start) < since:
        why.append("starts before --since: entries from --since only")
    if until is not None and _us(end) > until:
        why.append("ends after --until: entries before --until only")
    if as_of is not None and _us(end) - 1 + window > as_of:
        last = datetime(1970, 1, 1) + timedelta(microseconds=as_of)
        why.append(
            f"the window ({format_window(window)}) of its last entries has not elapsed by the log's last "
            f"event ({last.isoformat(sep=' ', timespec='seconds')}): some of its customers may still convert"
        )
    return tuple(why)


def trend_from_days(
    steps: Sequence[tuple[str, str]],
    day_rows: Sequence[Mapping[str, Any]],
    *,
    period: str,
    window: int,
    as_of: int | None,
    since: int | None = None,
    until: int | None = None,
    optional: Sequence[bool] = (),
) -> FunnelTrend:
    """Fold ``day_rows`` (``day``: days since 1970-01-01, ``c{k}``: customers at step k whose best
    chain entered that UTC day) into periods. The periods run from the first entry's (or
    ``since``'s) to the last entry's (or the one before ``until``'s); periods nobody entered are
    kept. ``steps``: (name, label) per step; ``optional``: which steps are optional (their share is
    of the previous required step, their ``dropped`` null, as in the funnel); times are µs since
    1970-01-01."""
    n = len(steps)
    by_day: dict[date, list[int]] = {}
    for r in day_rows:
        day = _EPOCH + timedelta(days=int(r["day"]))
        got = by_day.setdefault(day, [0] * n)
        for k in range(n):
            got[k] += int(r.get(f"c{k + 1}") or 0)
    days = sorted(by_day)
    first = day_of_us(since) if since is not None else (days[0] if days else None)
    last = day_of_us(until - 1) if until is not None else (days[-1] if days else None)
    periods: list[TrendPeriod] = []
    if period == "auto":
        period = auto_period(first, last) if first is not None and last is not None else "week"
    if first is not None and last is not None and first <= last:
        per_period: dict[date, list[int]] = {}
        for day in days:
            got = per_period.setdefault(period_start(day, period), [0] * n)
            per_period[period_start(day, period)] = [a + b for a, b in zip(got, by_day[day], strict=True)]
        for start, end in periods_covering(first, last, period):
            totals = per_period.get(start, [0] * n)
            flags = list(optional) or [False] * n
            counts = tuple(
                StepCounts(step=name, label=label, customers=c, optional=o)
                for (name, label), c, o in zip(steps, totals, flags, strict=True)
            )
            why = _incomplete(start, end, window, as_of, since, until)
            periods.append(TrendPeriod(start, end, counts, why))
    as_of_dt = None if as_of is None else datetime(1970, 1, 1) + timedelta(microseconds=as_of)
    names = tuple(name for name, _ in steps)
    return FunnelTrend(period, names, tuple(periods), as_of_dt, optional=tuple(optional))
