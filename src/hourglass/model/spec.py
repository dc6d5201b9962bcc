"""Analysis specs: frozen, validated descriptions of what to compute. No data, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from hourglass.model._suggest import check_keys, did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.steps import Step

__all__ = ["MODES", "FunnelSpec", "format_window", "parse_time", "parse_window"]

MODES: tuple[str, ...] = ("ordered", "strict_order", "any_order")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_WINDOW_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
US = 1_000_000


def parse_window(value: str | int | float) -> int:
    """A window as integer microseconds: ``"7d"``, ``"90m"``, or seconds as a number."""
    if isinstance(value, bool):
        raise SpecError(
            f"invalid window {value!r}",
            code="HG107",
            hint="write a positive number and a unit: 30s, 15m, 12h, 7d, 2w",
        )
    if isinstance(value, int | float):
        if value <= 0:
            raise SpecError(
                f"the window must be positive, got {value!r}",
                code="HG107",
                hint="write a positive number and a unit: 30s, 15m, 12h, 7d, 2w",
            )
        return round(value * US)
    m = _WINDOW_RE.match(str(value))
    if not m or int(m[1]) <= 0:
        raise SpecError(
            f"invalid window {value!r}",
            code="HG107",
            hint="write a positive number and a unit: 30s, 15m, 12h, 7d, 2w",
        )
    return int(m[1]) * _UNITS[m[2]] * US


def format_window(us: int) -> str:
    seconds = us / US
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


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
        if self.window <= 0:
            raise SpecError(
                "the window must be positive",
                code="HG107",
                hint="write a positive number and a unit: 30s, 15m, 12h, 7d, 2w",
            )
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
        if self.since and self.until and self.since >= self.until:
            raise SpecError(
                f"--since ({self.since}) must be before --until ({self.until})",
                code="HG108",
                hint="swap the two dates, or drop one of them",
            )
        for ex in self.exclude:
            for step in self.steps:
                if ex in step.events:
                    raise SpecError(
                        f"excluded event '{ex}' is also an event of step '{step.name}'",
                        code="HG109",
                        hint="an excluded event cannot be a step",
                    )

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
        return cls(steps=tuple(Step.of(s) for s in steps), **kwargs)

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
        }
