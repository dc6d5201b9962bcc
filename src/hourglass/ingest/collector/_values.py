"""The normaliser's building blocks: the coded error of one event, the result of a request, and the
checks of one value (text, ids, times, numbers) that every SDK's mapping shares. Pure: no I/O, no
clock (``now`` and ``received_at`` are passed in)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hourglass.ingest.collector._json import dumps_object

__all__ = [
    "EPOCH",
    "FUTURE_LIMIT",
    "Batch",
    "EventError",
    "Invalid",
    "json_text",
    "micros",
    "optional_id",
    "optional_mapping",
    "optional_number",
    "optional_text",
    "parse_time",
    "skew_corrected",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: a time later than this after the collector's clock (after the skew correction) is refused
FUTURE_LIMIT = timedelta(days=1)
#: a client whose clock is this close to the collector's (``sent_at`` against ``received_at``) keeps
#: its timestamps: correcting them would add each request's own network latency, and two requests'
#: events a few milliseconds apart could swap (a purchase before the view that led to it)
SKEW_TOLERANCE = timedelta(seconds=5)
_OLDEST = datetime(1900, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class EventError:
    """One bad event of a request: its index in the request, a stable code, the field and what to do."""

    index: int
    code: str
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "field": self.field, "message": self.message}


@dataclass
class Batch:
    """What one request gives: rows of the collector's schema, or the errors of its bad events (a
    request with any error stores nothing: all or nothing)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[EventError] = field(default_factory=list)
    #: a request-level error code (``invalid_body``) when the body is not events at all
    code: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None and not self.errors


class Invalid(Exception):
    """A bad value of one event (caught by the mapping and turned into an :class:`EventError`)."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


def _valid_unicode(value: str, name: str) -> str:
    if "\x00" in value:  # a NUL cuts SQL text and C strings downstream (the store's event names)
        raise Invalid("invalid_text", name, f"{name} holds a NUL character (\\u0000): remove it")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(
            "invalid_text", name, f"{name} holds a lone surrogate (\\ud800-\\udfff): send valid Unicode text"
        ) from None
    return value


def optional_text(obj: dict[str, Any], key: str, name: str | None = None) -> str | None:
    """A string field, or None when absent, null or empty; any other JSON type is ``wrong_type``."""
    value = obj.get(key)
    if type(value) is str and value.isascii() and "\x00" not in value:  # the usual case, first
        return value or None
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid("wrong_type", name or key, f"{name or key} must be a string, not {_kind(value)}")
    return _valid_unicode(value, name or key)


def optional_id(obj: dict[str, Any], key: str, name: str | None = None) -> str | None:
    """An id: a string or a whole number (sent as text), None when absent, null or empty."""
    value = obj.get(key)
    if type(value) is str and value.isascii() and "\x00" not in value:
        return value or None
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return optional_text(obj, key, name)


def optional_mapping(obj: dict[str, Any], key: str, name: str | None = None) -> dict[str, Any]:
    """A JSON object field, ``{}`` when absent or null."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("wrong_type", name or key, f"{name or key} must be a JSON object, not {_kind(value)}")
    return value


def optional_number(value: Any, name: str) -> float | None:
    """A revenue: a finite number, or a string that reads as one; None when absent or null."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Invalid("invalid_revenue", name, f"{name} must be a number, not a boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise Invalid("invalid_revenue", name, f"{name} {value[:40]!r} is not a number") from None
    else:
        raise Invalid("invalid_revenue", name, f"{name} must be a number, not {_kind(value)}")
    if not math.isfinite(number):
        raise Invalid("invalid_revenue", name, f"{name} must be a finite number")
    return number


def parse_time(value: Any, name: str) -> datetime | None:
    """An ISO 8601 time (``2024-05-01T10:00:00.123Z``; without an offset: UTC), None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(
            "invalid_timestamp", name, f"{name} must be an ISO 8601 string (2024-05-01T10:00:00Z), not "
            f"{_kind(value)}"
        )  # fmt: skip
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(
            "invalid_timestamp", name, f"{name} {value[:40]!r} is not an ISO 8601 time (2024-05-01T10:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise Invalid("invalid_timestamp", name, f"{name} {value[:40]!r} is out of range") from None


def skew_corrected(
    timestamp: datetime | None,
    sent_at: datetime | None,
    offset_ms: Any,
    *,
    received_at: datetime,
    now: datetime,
    name: str,
) -> datetime:
    """The event's time on the collector's clock: ``received_at - offset`` (PostHog's milliseconds
    before sending), else ``received_at - (sent_at - timestamp)`` when the client's clock is more
    than :data:`SKEW_TOLERANCE` off (``sent_at`` against ``received_at``); the timestamp as sent
    otherwise or without either; ``received_at`` without a time. Later than ``now`` + 1 day, or before 1900:
    ``timestamp_in_future`` / ``invalid_timestamp``."""
    try:
        if offset_ms is not None:
            if isinstance(offset_ms, bool) or not isinstance(offset_ms, int | float):
                raise Invalid(
                    "wrong_type", "offset", f"offset must be a number of milliseconds, not {_kind(offset_ms)}"
                )
            if not math.isfinite(offset_ms):
                raise Invalid("wrong_type", "offset", "offset must be a finite number of milliseconds")
            at = received_at - timedelta(milliseconds=abs(offset_ms))
        elif timestamp is None:
            at = received_at
        elif sent_at is not None and abs(received_at - sent_at) > SKEW_TOLERANCE:
            at = received_at - (sent_at - timestamp)
        else:
            at = timestamp
    except OverflowError:
        raise Invalid(
            "invalid_timestamp", name, f"{name} is out of range after the clock-skew correction"
        ) from None
    if at > now + FUTURE_LIMIT:
        raise Invalid(
            "timestamp_in_future", name, f"{name} is {at.isoformat()}, more than 1 day after the collector's "
            f"clock ({now.isoformat()}): send the event's real time, and sentAt/sent_at with it"
        )  # fmt: skip
    if at < _OLDEST:
        raise Invalid("invalid_timestamp", name, f"{name} is {at.isoformat()}, before 1900")
    return at


def micros(at: datetime) -> int:
    """Microseconds since the epoch (UTC)."""
    return (at - EPOCH) // _ONE_US


def json_text(value: dict[str, Any]) -> str:
    """Compact JSON object text; a lone surrogate inside is kept as its ``\\u`` escape."""
    return dumps_object(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__
