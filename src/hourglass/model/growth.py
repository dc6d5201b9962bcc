"""The flywheel's momentum: the spec of growth accounting per period (docs/semantics-flywheel.md).
Pure: which events count as activity, what "new" means, the period unit, the range and the options
of the loop's split. The engine fills a :class:`~hourglass.model.flywheel_result.FlywheelResult`."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from hourglass.model._suggest import check_keys, did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.referrals import PERIODS, period_label
from hourglass.model.spec import check_period, parse_time
from hourglass.model.steps import Step

__all__ = [
    "ACTIVITY",
    "NEW",
    "WOM_STAGES",
    "GrowthSpec",
    "period_bounds",
    "period_index",
    "word_of_mouth_stage",
]

#: which events count as activity: every event, or the model's purchase events
ACTIVITY: tuple[str, ...] = ("all", "purchases")
#: "new": first counted activity (Hsu, Amplitude) or first event of any kind (PostHog's "first seen")
NEW: tuple[str, ...] = ("first-activity", "first-seen")
#: stage names taken as the model's word-of-mouth stage (the presets' names), in this order
WOM_STAGES: tuple[str, ...] = ("word_of_mouth", "advocacy")

_EPOCH = date(1970, 1, 1)


def period_index(day: date, unit: str) -> int:
    """The integer index of the calendar period holding ``day`` (consecutive periods differ by 1):
    days and ISO weeks (Monday start) since 1970, ``12 * year + month - 1``, ``4 * year + quarter
    - 1``, the year. The engine computes the same numbers (analyses/growth.py)."""
    days = (day - _EPOCH).days
    if unit == "day":
        return days
    if unit == "week":
        return (days + 3) // 7  # 1970-01-01 is a Thursday: Monday 1969-12-29 starts week 0
    if unit == "month":
        return 12 * day.year + day.month - 1
    if unit == "quarter":
        return 4 * day.year + (day.month - 1) // 3
    return day.year


def period_bounds(index: int, unit: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of the period ``index`` (naive UTC)."""
    if unit in ("day", "week"):
        length = 1 if unit == "day" else 7
        start = _EPOCH + timedelta(days=index if unit == "day" else 7 * index - 3)
        end = start + timedelta(days=length)
    elif unit == "month":
        start = date(index // 12, index % 12 + 1, 1)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    elif unit == "quarter":
        start = date(index // 4, 3 * (index % 4) + 1, 1)
        end = date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    else:
        start, end = date(index, 1, 1), date(index + 1, 1, 1)
    return datetime(start.year, start.month, start.day), datetime(end.year, end.month, end.day)


def label(index: int, unit: str) -> str:
    return period_label(period_bounds(index, unit)[0], unit)


def word_of_mouth_stage(model: JourneyModel, name: str | None = None) -> Step | None:
    """The model's word-of-mouth stage: ``name`` if given, else the first stage named one of
    :data:`WOM_STAGES`; None when the model has none."""
    if name is not None:
        return model.stage(name)
    for wanted in WOM_STAGES:
        for s in model.stages:
            if s.name == wanted:
                return s
    return None


@dataclass(frozen=True)
class GrowthSpec:
    """Options of ``hourglass flywheel``. ``activity``: ``all`` events count (default) or the model's
    ``purchases``; ``activity_events`` (names or globs) overrides both. ``new``: ``first-activity``
    (default) or ``first-seen``. ``period``: day, week, month (default), quarter, year. ``by``: a
    column for the breakdown. ``referral_event``/``referee_column``: the referral graph's event mode
    (docs/semantics-referrals.md); ``word_of_mouth_stage``: the stage whose events mark word of mouth
    (default: a stage named word_of_mouth or advocacy)."""

    period: str = "month"
    activity: str = "all"
    activity_events: tuple[str, ...] = ()
    new: str = "first-activity"
    since: datetime | None = None
    until: datetime | None = None
    by: str | None = None
    referral_event: str | None = None
    referee_column: str | None = None
    word_of_mouth_stage: str | None = None

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise SpecError(
                f"unknown period '{self.period}'{did_you_mean(self.period, PERIODS)}",
                code="HG142",
                hint="periods: " + ", ".join(PERIODS),
            )
        if self.activity not in ACTIVITY:
            raise SpecError(
                f"unknown --activity '{self.activity}'{did_you_mean(self.activity, ACTIVITY)}",
                code="HG161",
                hint="--activity all (every event counts) or purchases (the model's purchase events); "
                "or list events with --activity-events a,b",
            )
        if self.new not in NEW:
            raise SpecError(
                f"unknown --new '{self.new}'{did_you_mean(self.new, NEW)}",
                code="HG161",
                hint="--new first-activity (first counted event) or first-seen (first event of any kind)",
            )
        if self.activity_events and self.activity != "all":
            raise SpecError(
                "--activity-events lists the events that count; it cannot be combined with "
                f"--activity {self.activity}",
                code="HG162",
                hint="drop --activity, or drop --activity-events",
            )
        if any(not e.strip() for e in self.activity_events):
            raise SpecError(
                "--activity-events has an empty event name",
                code="HG162",
                hint="write event names or globs separated by commas: --activity-events purchase,review",
            )
        if (self.referral_event is None) != (self.referee_column is None):
            raise SpecError(
                "a referral event needs both the event name and the column naming the referee",
                code="HG141",
                hint="give both --referral-event EVENT and --referee-col COLUMN, or neither "
                "(then the referrer column is used)",
            )
        check_period(self.since, self.until)

    @classmethod
    def build(cls, **options: Any) -> GrowthSpec:
        """From keyword options (unknown keys: HG101 with "did you mean"); ``since``/``until`` as ISO
        text; ``activity_events`` as a list or comma-separated text."""
        check_keys(options, [f.name for f in fields(cls)], where="the flywheel options")
        kwargs: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        for key in ("since", "until"):
            if key in kwargs:
                kwargs[key] = parse_time(kwargs[key], what=f"--{key}")
        ev = kwargs.get("activity_events")
        if isinstance(ev, str):
            kwargs["activity_events"] = tuple(e.strip() for e in ev.split(","))
        elif ev is not None:
            kwargs["activity_events"] = tuple(str(e).strip() for e in ev)
        return cls(**kwargs)

    def activity_step(self, model: JourneyModel) -> Step | None:
        """The step an event must match to count as activity; None: every event counts. Purchases
        without purchase events in the model is HG160."""
        if self.activity_events:
            return Step("activity", self.activity_events)
        if self.activity == "all":
            return None
        step = model.purchase_step
        if step is None:
            raise SpecError(
                f"--activity purchases: model '{model.name}' names no purchase events and no sale stage",
                code="HG160",
                hint="list the events that count with --activity-events purchase,repeat_purchase, or use "
                "a model with purchases (hourglass models show hourglass)",
            )
        return step

    def activity_described(self, model: JourneyModel) -> str:
        if self.activity_events:
            return "events " + ", ".join(self.activity_events)
        if self.activity == "all":
            return "all events"
        return "purchase events " + ", ".join(model.purchase_events or ("(sale stage)",))

    def describe(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "activity": self.activity,
            "activity_events": list(self.activity_events),
            "new": self.new,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
            "referral_event": self.referral_event,
            "referee_column": self.referee_column,
        }
