"""The event schema: canonical column roles and how a source's columns map to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from hourglass.model._suggest import check_keys
from hourglass.model.errors import SpecError

__all__ = [
    "COMMON_NAMES",
    "OPTIONAL_ROLES",
    "REQUIRED_ROLES",
    "ROLES",
    "TIME_UNITS",
    "ColumnMapping",
]

REQUIRED_ROLES: tuple[str, ...] = ("customer", "event", "timestamp")
OPTIONAL_ROLES: tuple[str, ...] = ("event_id", "channel", "revenue", "referrer")
ROLES: tuple[str, ...] = REQUIRED_ROLES + OPTIONAL_ROLES

#: Column names recognised without a flag, per role, in order of preference (case-insensitive).
COMMON_NAMES: Mapping[str, tuple[str, ...]] = {
    "customer": ("customer_id", "user_id", "distinct_id", "person_id", "customer", "client_id"),
    "event": ("event", "event_name", "event_type"),
    "timestamp": ("timestamp", "ts", "time", "event_time"),
    "event_id": ("event_id", "uuid", "message_id", "insert_id"),
    "channel": ("channel", "utm_source", "source_channel"),
    "revenue": ("revenue", "amount", "order_value"),
    "referrer": ("referrer", "referrer_id", "referred_by"),
}

#: Units for integer (epoch) timestamps.
TIME_UNITS: Mapping[str, int] = {"s": 1_000_000, "ms": 1_000, "us": 1}


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column plays each role. ``None`` means: recognise it by its common names
    (required roles) or: absent unless recognised (optional roles). ``""`` for an optional role
    means: do not use it even if a column with a common name exists."""

    customer: str | None = None
    event: str | None = None
    timestamp: str | None = None
    event_id: str | None = None
    channel: str | None = None
    revenue: str | None = None
    referrer: str | None = None
    time_unit: str = "s"

    def __post_init__(self) -> None:
        if self.time_unit not in TIME_UNITS:
            raise SpecError(
                f"unknown time unit '{self.time_unit}'",
                code="HG102",
                hint="use one of: " + ", ".join(TIME_UNITS),
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnMapping:
        names = [f.name for f in fields(cls)]
        check_keys(data, names, where="the column mapping")
        values: dict[str, Any] = {k: (None if v is None else str(v)) for k, v in data.items()}
        return cls(**values)

    def explicit(self) -> dict[str, str]:
        """The roles given explicitly (non-empty)."""
        return {r: v for r in ROLES if (v := getattr(self, r))}

    def merged(self, other: ColumnMapping) -> ColumnMapping:
        """``other``'s explicit values override this mapping's."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for f in fields(other):
            value = getattr(other, f.name)
            if f.name == "time_unit":
                if value != "s":
                    data[f.name] = value
            elif value is not None:
                data[f.name] = value
        return ColumnMapping(**data)
