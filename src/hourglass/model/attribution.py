"""Multi-touch attribution: the spec (docs/semantics-attribution.md). Pure: no data, no I/O.

A conversion (a sale, a repeat purchase, a referral, or any stage or event) is credited to the
channel touchpoints before it under several models side by side; the pure models are in
``model/attribution_models.py``, the result in ``model/attribution_result.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from hourglass.model._suggest import check_keys, did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.spec import US, check_period, format_window, parse_time, parse_window
from hourglass.model.steps import Step

__all__ = [
    "CONVERSION_KINDS",
    "CREDIT_MODEL",
    "MODELS",
    "OTHER",
    "AttributionSpec",
    "ConversionStep",
]

#: the models, in the order of the result's columns
MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "shapley",
    "shapley_rate",
)
#: the model that credits the hourglass stages to channels by default (``--credit-model``): the
#: simplified Shapley value splits each customer equally among the distinct channels that touched
#: him before the stage, whatever their order or repeats (docs/semantics-attribution.md, "Stages")
CREDIT_MODEL = "shapley"
#: ``--conversion`` keywords; anything else is a stage of the model or an event name
CONVERSION_KINDS: tuple[str, ...] = ("sale", "repeat", "referral")
#: the pooled channel when there are more than ``max_channels``
OTHER = "(other)"
_DAY = 86400 * US


@dataclass(frozen=True)
class ConversionStep:
    """What converts: ``step`` matches the conversion events; ``count`` is ``first`` (a customer's
    first matching event is his one conversion), ``after_first`` (every matching event but the
    customer's first: repeat purchases) or ``every`` (every matching event: referrals)."""

    name: str
    step: Step
    count: str = "first"

    def __post_init__(self) -> None:
        if self.count not in ("first", "after_first", "every"):
            raise SpecError(
                f"unknown conversion count '{self.count}'",
                code="HG190",
                hint="first, after_first or every",
            )


def _err(message: str, hint: str, code: str = "HG191") -> SpecError:
    return SpecError(message, code=code, hint=hint)


@dataclass(frozen=True)
class AttributionSpec:
    """``conversion``: sale (default), repeat, referral, or a stage of the model or an event name;
    ``touch_events``: only these events are touches (default: every event with a channel);
    ``lookback``, ``half_life`` in microseconds; ``position``: the first/middle/last shares of the
    position-based model; ``direct``: channel values that are not a marketing touch for the last
    non-direct model (compared case-insensitively); ``markov_order`` 1..3; ``max_channels``: more
    channels are pooled as ``(other)`` (the most touched are kept)."""

    conversion: str = "sale"
    touch_events: tuple[str, ...] = ()
    lookback: int = 30 * _DAY
    half_life: int = 7 * _DAY
    position: tuple[float, float, float] = (0.4, 0.2, 0.4)
    direct: tuple[str, ...] = ("direct", "none", "(none)")
    markov_order: int = 1
    channel_column: str = "channel"
    referral_event: str = "referral_sent"
    max_channels: int = 15
    since: datetime | None = None
    until: datetime | None = None
    stages: bool = False
    credit_model: str = CREDIT_MODEL

    def __post_init__(self) -> None:
        if self.credit_model not in MODELS:
            raise _err(
                f"--credit-model: no model '{self.credit_model}'{did_you_mean(self.credit_model, MODELS)}",
                "give one of " + ", ".join(MODELS),
                code="HG198",
            )
        if not self.conversion or not self.conversion.strip():
            raise _err("--conversion is empty", "give sale, repeat, referral, a stage or an event name")
        if self.lookback <= 0 or self.half_life <= 0:
            raise _err(
                "--lookback and --half-life must be positive",
                "write a positive number and a unit: 12h, 7d, 30d",
                code="HG107",
            )
        if len(self.position) != 3 or any(not 0 <= x <= 1 for x in self.position):
            raise _err(
                f"--position needs three shares in [0, 1], got {self.position!r}",
                "e.g. --position 0.4,0.2,0.4 (first, middle, last; they add up to 1)",
                code="HG192",
            )
        if abs(sum(self.position) - 1) > 1e-9:
            raise _err(
                f"--position shares add up to {sum(self.position):g}, not 1",
                "e.g. --position 0.4,0.2,0.4 (first, middle, last)",
                code="HG192",
            )
        if self.position[0] + self.position[2] == 0:
            raise _err(
                "--position gives nothing to the first and the last touch",
                "a two-touch journey is split first:last in their ratio; give them a share",
                code="HG192",
            )
        if self.markov_order not in (1, 2, 3):
            raise _err(
                f"--markov-order must be 1, 2 or 3, got {self.markov_order!r}",
                "states are the last 1 to 3 channels of a journey",
                code="HG193",
            )
        if not 2 <= self.max_channels <= 30:
            raise _err(
                f"max_channels must be in 2..30, got {self.max_channels}",
                "the most touched channels are kept, the rest pooled as (other)",
                code="HG194",
            )
        check_period(self.since, self.until)
        if any(not e or not e.strip() for e in self.touch_events):
            raise _err(
                "--touch-events holds an empty name", "e.g. --touch-events visit,ad_click", code="HG195"
            )

    @classmethod
    def build(cls, **options: Any) -> AttributionSpec:
        """From user values: windows as text (``30d``), lists as ``a,b`` text or sequences, the
        position as ``0.4,0.2,0.4``. Unknown keys are HG101 with 'did you mean'."""
        check_keys(options, [f.name for f in fields(cls)], where="the attribution options")
        kw: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        for key in ("lookback", "half_life"):
            if key in kw:
                kw[key] = parse_window(kw[key])
        for key in ("since", "until"):
            if key in kw:
                kw[key] = parse_time(kw[key], what=f"--{key}")
        for key in ("touch_events", "direct"):
            if key in kw:
                kw[key] = _names(kw[key])
        if "position" in kw:
            kw["position"] = _position(kw["position"])
        if "markov_order" in kw:
            try:
                kw["markov_order"] = int(kw["markov_order"])
            except (TypeError, ValueError):
                raise _err(
                    f"--markov-order must be 1, 2 or 3, got {kw['markov_order']!r}",
                    "states are the last 1 to 3 channels of a journey",
                    code="HG193",
                ) from None
        if "conversion" in kw:
            kw["conversion"] = str(kw["conversion"]).strip()
        if "credit_model" in kw:
            name = str(kw["credit_model"]).strip().lower().replace("-", "_")
            kw["credit_model"] = "position_based" if name == "position" else name
            kw["stages"] = True  # a credit model is only for the stages table
        if "stages" in kw:
            kw["stages"] = bool(kw["stages"])
        return cls(**kw)

    def with_range(self, since: datetime | None, until: datetime | None) -> AttributionSpec:
        return replace(self, since=since, until=until)

    def describe(self) -> dict[str, Any]:
        return {
            "conversion": self.conversion,
            "touch_events": list(self.touch_events) or None,
            "lookback": format_window(self.lookback),
            "half_life": format_window(self.half_life),
            "position": list(self.position),
            "direct": list(self.direct),
            "markov_order": self.markov_order,
            "channel_column": self.channel_column,
            "max_channels": self.max_channels,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "stages": self.stages,
            "credit_model": self.credit_model if self.stages else None,
        }


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(x).strip() for x in items)


def _position(value: str | Sequence[float]) -> tuple[float, float, float]:
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        shares = tuple(float(x) for x in items)
    except (TypeError, ValueError):
        raise _err(
            f"--position: cannot read {value!r} as three numbers",
            "e.g. --position 0.4,0.2,0.4 (first, middle, last)",
            code="HG192",
        ) from None
    if len(shares) != 3:
        raise _err(
            f"--position needs three shares (first, middle, last), got {len(shares)}",
            "e.g. --position 0.4,0.2,0.4",
            code="HG192",
        )
    return (shares[0], shares[1], shares[2])


def conversion_step(
    spec: AttributionSpec,
    *,
    stages: Sequence[Step],
    sale: str | None,
    purchase: Step | None,
    model_name: str,
    event_names: Sequence[str] = (),
) -> ConversionStep:
    """The conversion of ``spec``: ``sale`` is the model's sale stage (first per customer),
    ``repeat`` every purchase event after a customer's first, ``referral`` every
    ``referral_event``; a stage name is that stage (first per customer), any other name an event
    (first per customer). ``event_names`` (the source's, when known) make a typo an error with 'did
    you mean'."""
    name = spec.conversion
    by_name = {s.name: s for s in stages}
    if name == "sale":
        if sale is None:
            raise _err(
                f"model '{model_name}' names no sale stage to attribute",
                "give --conversion STAGE or EVENT (stages: " + ", ".join(by_name) + ")",
                code="HG196",
            )
        return ConversionStep("sale", by_name[sale], "first")
    if name == "repeat":
        if purchase is None:
            raise _err(
                f"model '{model_name}' has no purchase events for repeat purchases",
                "give --model with a sale stage or purchases, or --conversion EVENT",
                code="HG196",
            )
        return ConversionStep("repeat", purchase, "after_first")
    if name == "referral":
        return ConversionStep("referral", Step("referral", (spec.referral_event,)), "every")
    if name in by_name:
        return ConversionStep(name, by_name[name], "first")
    if event_names and name not in event_names and not any(c in name for c in "*?"):
        raise _err(
            f"--conversion '{name}' is no stage of model '{model_name}' and no event of the source"
            f"{did_you_mean(name, [*CONVERSION_KINDS, *by_name, *event_names])}",
            "give sale, repeat, referral, a stage (" + ", ".join(by_name) + ") or an event name",
            code="HG197",
        )
    return ConversionStep(name, Step(name, (name,)), "first")


def spec_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``options`` that are spec fields (the API passes the rest elsewhere)."""
    names = {f.name for f in fields(AttributionSpec)}
    return {k: v for k, v in options.items() if k in names}
