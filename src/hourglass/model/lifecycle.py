"""The lifecycle spec: a journey model seen as stages a customer enters, plus the after-sale events.

Defaults name the demo shop's events; map them to yours in ``hourglass.toml`` ([lifecycle]) or with the
Python API (``after_sale={"remorse_events": ["refund"]}``). Definitions: docs/semantics-lifecycle.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from hourglass.model._suggest import check_keys
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.spec import MAX_WINDOW_DAYS, check_window, format_window, parse_time, parse_window

__all__ = ["AfterSaleSpec", "LifecycleSpec"]


def _names(value: Any, *, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise SpecError(
            f"after_sale.{key}: give a list of event names", code="HG120", hint="e.g. [refund, chargeback]"
        )
    names = tuple(v.strip() for v in value if v.strip())
    return names


def _unit_example(value: float) -> str:
    """``7d`` for a bare 7 (the hint of a window written without its unit)."""
    if isinstance(value, int) and 0 < value <= MAX_WINDOW_DAYS:
        return f"{value}d"
    return "7d"


@dataclass(frozen=True)
class AfterSaleSpec:
    """Which events mean what after the sale (every list may be empty: that metric is then absent).

    Windows are integer microseconds; ``repeat_within`` None counts every later purchase."""

    remorse_events: tuple[str, ...] = ("return", "cancel")
    remorse_within: int = parse_window("14d")
    support_events: tuple[str, ...] = ("support_contact",)
    resolved_events: tuple[str, ...] = ("support_resolved",)
    negative_events: tuple[str, ...] = ("delivery_late", "complaint", "return", "cancel")
    offer_sent_events: tuple[str, ...] = ("offer_sent",)
    offer_redeemed_events: tuple[str, ...] = ("offer_redeemed",)
    offer_column: str = "offer"
    offer_within: int = parse_window("30d")
    loyalty_events: tuple[str, ...] = ("loyalty_join",)
    repeat_within: int | None = None
    gap_within: int | None = None
    nth: int = 3

    _LISTS = (
        "remorse_events",
        "support_events",
        "resolved_events",
        "negative_events",
        "offer_sent_events",
        "offer_redeemed_events",
        "loyalty_events",
    )
    _WINDOWS = ("remorse_within", "offer_within", "repeat_within", "gap_within")

    def __post_init__(self) -> None:
        for key in self._WINDOWS:
            value = getattr(self, key)
            if value is not None:
                check_window(value, what=f"after_sale.{key}")
        if not 2 <= self.nth <= 20:
            raise SpecError(
                f"after_sale.nth must be 2..20, got {self.nth}",
                code="HG120",
                hint="nth=3 reports the median days from the first to the 2nd and 3rd purchase",
            )

    @classmethod
    def build(cls, data: Mapping[str, Any] | AfterSaleSpec | None = None) -> AfterSaleSpec:
        if isinstance(data, AfterSaleSpec):
            return data
        data = dict(data or {})
        allowed = [f.name for f in fields(cls)]
        check_keys(data, allowed, where="after_sale")
        kw: dict[str, Any] = {}
        for key, value in data.items():
            if key in cls._LISTS:
                kw[key] = _names(value, key=key)
            elif key in cls._WINDOWS:
                if value in (None, "", "none") and key in ("repeat_within", "gap_within"):
                    kw[key] = None  # these two may be unbounded
                elif value in (None, "", "none"):
                    raise SpecError(
                        f"after_sale.{key} needs a window, not {value!r}",
                        code="HG107",
                        hint="a positive number and a unit: 12h, 14d, 2w",
                    )
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    raise SpecError(
                        f"after_sale.{key}: the number {value!r} has no unit (7 what?)",
                        code="HG107",
                        hint=f"write {_unit_example(value)} for {_unit_example(value)[:-1]} days, or another "
                        f'unit (30m, 12h, 2w); in hourglass.toml in quotes: {key} = "{_unit_example(value)}"',
                    )
                else:
                    kw[key] = parse_window(str(value), what=f"after_sale.{key}")
            elif key == "nth":
                text = str(value).strip()
                if isinstance(value, bool) or not (isinstance(value, int) or text.isdigit()) or len(text) > 6:
                    raise SpecError(
                        f"after_sale.nth: not a whole number: {value!r}",
                        code="HG120",
                        hint="give a whole number such as 3",
                    )
                kw[key] = int(value)
            else:
                kw[key] = str(value)
        return cls(**kw)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in self._WINDOWS:
                v = None if v is None else format_window(v)
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out


@dataclass(frozen=True)
class LifecycleSpec:
    """A model's stages over ``[since, until)`` (event times; None is open) and the after-sale events.

    ``as_of`` (default: ``until``, else the log's last event) is "now" for days-in-current-stage."""

    model: JourneyModel
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    after_sale: AfterSaleSpec = field(default_factory=AfterSaleSpec)

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise SpecError(
                f"since ({self.since:%Y-%m-%d %H:%M}) must be before until ({self.until:%Y-%m-%d %H:%M})",
                code="HG108",
                hint="swap the two dates, or drop one of them",
            )

    @classmethod
    def build(
        cls,
        model: JourneyModel,
        *,
        since: Any = None,
        until: Any = None,
        as_of: Any = None,
        after_sale: Mapping[str, Any] | AfterSaleSpec | None = None,
    ) -> LifecycleSpec:
        return cls(
            model=model,
            since=parse_time(since, what="since"),
            until=parse_time(until, what="until"),
            as_of=parse_time(as_of, what="as_of"),
            after_sale=AfterSaleSpec.build(after_sale),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "stages": [s.name for s in self.model.stages],
            "sale": self.model.sale,
            "purchase_events": list(self.model.purchase_events),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "after_sale": self.after_sale.describe(),
        }
