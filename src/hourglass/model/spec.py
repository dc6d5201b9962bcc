"""Analysis specs: frozen, validated descriptions of what to compute. No data, no I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from hourglass.model._suggest import check_keys, did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.steps import Step

__all__ = [
    "COUNTS",
    "MAX_WINDOW",
    "MAX_WINDOW_DAYS",
    "MODES",
    "VIEWS",
    "FunnelSpec",
    "FunnelViewOptions",
    "check_period",
    "check_window",
    "format_window",
    "optional_step",
    "parse_time",
    "parse_window",
]

MODES: tuple[str, ...] = ("ordered", "strict_order", "any_order")
COUNTS: tuple[str, ...] = ("uniques", "totals")
#: ``hourglass funnel --view``: steps (the funnel itself), F2's views over time, F3's explanations
VIEWS: tuple[str, ...] = ("steps", "trend", "time", "events", "dropoff", "between", "correlation")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_WINDOW_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
US = 1_000_000
#: The longest window (any duration setting): 365000 days, about 1000 years. Event times are read in
#: 1900-2200 (HG409), so a longer window counts nothing more; and this one keeps every time plus or minus
#: a window inside the years 1-9999 of Python, DuckDB, Spark and ClickHouse and far inside int64
#: microseconds (2**63 us is 106751991 days: 106751991d overflowed an addition to a 2024 time).
MAX_WINDOW_DAYS = 365_000
MAX_WINDOW = MAX_WINDOW_DAYS * 86400 * US
_SYNTAX = "write a positive number and a unit: 30s, 15m, 12h, 7d, 2w"
_RANGE = (
    f"from 1s to {MAX_WINDOW_DAYS}d (about 1000 years; times are read in 1900-2200, so longer counts "
    "nothing more)"
)


def check_window(us: int, *, what: str = "the window", shown: object = None) -> int:
    """``us`` (integer microseconds) when it is in the allowed range (1 us to MAX_WINDOW), else HG107
    with the range. Every spec checks its durations here, once."""
    text = format_window(us) if shown is None else str(shown)
    if us <= 0:
        raise SpecError(f"{what} must be positive, got {text}", code="HG107", hint=_SYNTAX)
    if us > MAX_WINDOW:
        raise SpecError(
            f"{what} {text} is too long: windows go {_RANGE}",
            code="HG107",
            hint=f"give at most {MAX_WINDOW_DAYS}d; any window longer than the log's time span counts every "
            "later event",
        )
    return us


def parse_window(value: str | int | float, *, what: str = "the window") -> int:
    """A window as integer microseconds: ``"7d"``, ``"90m"``, or (the Python API) seconds as a number;
    1 us to MAX_WINDOW (HG107 otherwise)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SpecError(f"invalid window {value!r}", code="HG107", hint=_SYNTAX)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise SpecError(f"invalid window {value!r}", code="HG107", hint=_SYNTAX)
        if value <= 0:
            raise SpecError(f"{what} must be positive, got {value!r}", code="HG107", hint=_SYNTAX)
        if value > MAX_WINDOW / US:
            return check_window(MAX_WINDOW + 1, what=what, shown=f"{value!r} s")
        return check_window(round(value * US), what=what, shown=f"{value!r} s")
    m = _WINDOW_RE.match(value)
    if m and len(m[1]) > 12:  # more digits than any allowed window (and int() refuses 4300+ digits)
        return check_window(MAX_WINDOW + 1, what=what, shown=f"{m[1][:12]}...{m[2]}")
    if m and int(m[1]) > 0:
        return check_window(int(m[1]) * _UNITS[m[2]] * US, what=what, shown=f"{int(m[1])}{m[2]}")
    bare = re.fullmatch(r"\s*\+?(\d+(?:\.\d+)?)\s*", value)
    if bare and float(bare[1]) > 0:
        n = bare[1].lstrip("0") or "0"
        raise SpecError(
            f"{what} {value.strip()!r} has no unit",
            code="HG107",
            hint=f"write {n}d for {n} days (or {n}h, {n}w: a number and a unit, 30s, 15m, 12h, 7d, 2w)"
            if "." not in n
            else _SYNTAX + " (whole numbers: 90m, not 1.5h)",
        )
    raise SpecError(f"invalid window {value!r}", code="HG107", hint=_SYNTAX)


def format_window(us: int) -> str:
    seconds = us / US
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def check_period(since: datetime | None, until: datetime | None) -> None:
    """HG108 unless ``since`` (when given) is before ``until`` (when given): every analysis's
    ``--since``/``--until``."""
    if since and until and since >= until:
        raise SpecError(
            f"--since ({since}) must be before --until ({until})",
            code="HG108",
            hint="swap the two dates, or drop one of them",
        )


def parse_time(value: str | datetime | None, *, what: str) -> datetime | None:
    """A naive UTC datetime from ISO text (``2024-01-31``, ``2024-01-31T10:00:00+03:00``)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise SpecError(
                f"{what}: cannot read {value!r} as a date or time",
                code="HG108",
                hint="use ISO 8601, e.g. 2024-01-31 or 2024-01-31T10:00:00Z",
            ) from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def optional_step(item: str | Mapping[str, Any] | Step) -> Step:
    """A funnel step; a name ending in ``?`` (``signup?``, as in ``--steps visit,signup?,purchase``)
    is the optional step of that name (a trailing ``?`` is never a glob here: write such a pattern
    in a model file's ``events``)."""
    if isinstance(item, str) and len(item) > 1 and item.endswith("?"):
        return replace(Step.of(item[:-1]), optional=True)
    return Step.of(item)


@dataclass(frozen=True)
class FunnelSpec:
    """A funnel (docs/semantics.md). ``window`` is in microseconds."""

    steps: tuple[Step, ...]
    window: int = 7 * 86400 * US
    mode: str = "ordered"
    open: bool = False
    since: datetime | None = None
    until: datetime | None = None
    exclude: tuple[str, ...] = ()
    by: str | None = None
    #: a column whose value all of a chain's events share (NULL never matches)
    hold: str | None = None
    #: ``uniques`` (customers per step) or ``totals`` (chains per step, docs/semantics.md)
    count: str = "uniques"

    def __post_init__(self) -> None:
        if len(self.steps) < 1:
            raise SpecError(
                "a funnel needs at least one step", code="HG109", hint="give --steps a,b,c or --model NAME"
            )
        if len(self.steps) > 30:
            raise SpecError(
                f"a funnel has at most 30 steps, got {len(self.steps)}",
                code="HG109",
                hint="group events into stages (a step may list several events), or split the funnel",
            )
        if self.mode not in MODES:
            raise SpecError(
                f"unknown funnel mode '{self.mode}'{did_you_mean(self.mode, MODES)}",
                code="HG109",
                hint="modes: " + ", ".join(MODES),
            )
        check_window(self.window)
        if self.open and self.mode != "ordered":
            raise SpecError(
                "--open works with the ordered mode only", code="HG109", hint="drop --mode, or drop --open"
            )
        if self.open and self.by:
            raise SpecError(
                "--open cannot be combined with --by",
                code="HG109",
                hint="run the open funnel once per value with a filter, or drop --by",
            )
        check_period(self.since, self.until)
        self._check_optional()
        if self.count not in COUNTS:
            raise SpecError(
                f"unknown count '{self.count}'{did_you_mean(self.count, COUNTS)}",
                code="HG109",
                hint="count uniques (customers, the default) or totals (every chain)",
            )
        if self.count == "totals":
            self._check_totals()
        if self.hold is not None and (not isinstance(self.hold, str) or not self.hold.strip()):
            raise SpecError(
                f"--hold needs a column name, got {self.hold!r}",
                code="HG109",
                hint="give the column whose value a chain's events share, e.g. --hold device",
            )
        for ex in self.exclude:
            for step in self.steps:
                if ex in step.events:
                    raise SpecError(
                        f"excluded event '{ex}' is also an event of step '{step.name}'",
                        code="HG109",
                        hint="an excluded event cannot be a step",
                    )

    def _check_optional(self) -> None:
        """HG123: an optional step first (every chain starts at step 1), or with --open."""
        if not any(s.optional for s in self.steps):
            return
        if self.steps[0].optional:
            raise SpecError(
                f"the first step '{self.steps[0].name}' cannot be optional: every chain starts at it",
                code="HG123",
                hint="make the first step required (drop its ?), or drop the step: the funnel then starts "
                "at the next one",
            )
        if self.open:
            raise SpecError(
                "--open funnels have no optional steps (every step may start an open chain)",
                code="HG123",
                hint="drop --open, or drop the ? of the optional steps",
            )

    def _check_totals(self) -> None:
        """HG126: what --count totals does not count (docs/semantics.md, "Totals")."""
        clash = (
            "--open"
            if self.open
            else "--mode any_order"
            if self.mode == "any_order"
            else "--by"
            if self.by
            else "optional steps"
            if any(s.optional for s in self.steps)
            else None
        )
        if clash is not None:
            raise SpecError(
                f"--count totals cannot be combined with {clash}",
                code="HG126",
                hint="totals count the chains of an ordered or strict_order funnel of required steps, "
                f"without --by: drop {clash}, or count uniques",
            )

    @property
    def required(self) -> tuple[int, ...]:
        """The 1-based numbers of the required steps (the chain's steps)."""
        return tuple(k for k, s in enumerate(self.steps, start=1) if not s.optional)

    @property
    def optional_steps(self) -> tuple[int, ...]:
        """The 1-based numbers of the optional steps."""
        return tuple(k for k, s in enumerate(self.steps, start=1) if s.optional)

    def previous_required(self, k: int) -> int:
        """The number of the last required step before step ``k`` (0 for step 1)."""
        return max((r for r in self.required if r < k), default=0)

    def next_required(self, k: int) -> int | None:
        """The number of the first required step after step ``k`` (None: none)."""
        return min((r for r in self.required if r > k), default=None)

    @classmethod
    def build(cls, steps: Sequence[str | Mapping[str, Any] | Step], **options: Any) -> FunnelSpec:
        allowed = [f.name for f in fields(cls) if f.name != "steps"]
        check_keys(options, allowed, where="the funnel options")
        kwargs: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        if "window" in kwargs:
            kwargs["window"] = parse_window(kwargs["window"])
        for key in ("since", "until"):
            if key in kwargs:
                kwargs[key] = parse_time(kwargs[key], what=f"--{key}")
        if "exclude" in kwargs:
            ex = kwargs["exclude"]
            kwargs["exclude"] = (ex,) if isinstance(ex, str) else tuple(ex)
        if "open" in kwargs:
            kwargs["open"] = bool(kwargs["open"])
        return cls(steps=tuple(optional_step(s) for s in steps), **kwargs)

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    def describe(self) -> dict[str, Any]:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "window": format_window(self.window),
            "mode": self.mode,
            "open": self.open,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "exclude": list(self.exclude),
            "by": self.by,
            "hold": self.hold,
            "count": self.count,
        }


@dataclass(frozen=True)
class FunnelViewOptions:
    """What a funnel view (``--view``) takes besides the spec, checked and resolved by the CLI:
    ``period`` (day|week|month, the trend's period of entry), ``at`` (a 1-based step number,
    ``--at`` given as a name or a number; None when not given), ``top`` and ``depth`` (None: the
    view's default), ``session_gap`` (a duration, ``30m``; checked by the CLI) and ``format``
    (table|json|csv)."""

    period: str = "week"
    at: int | None = None
    top: int | None = None
    depth: int | None = None
    session_gap: str = "30m"
    format: str = "table"
    #: --view correlation: the property columns tested (None: the view's default)
    properties: tuple[str, ...] | None = None
    #: --view correlation: the step customers convert to (1-based; None: the one after ``at``)
    to: int | None = None
