"""What a source's event names say about its journeys (``hourglass models suggest``): per event name,
how many events and customers, for how many customers it is the first event, and where in the
journey it typically comes. Computed by analyses/event_profile.py (docs/models.md, "The evidence")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["EventProfile", "EventStat"]


@dataclass(frozen=True)
class EventStat:
    """One event name. ``first_customers``: customers whose journey starts with it; ``position``:
    the median over its customers of where it first occurs among the distinct events of the
    customer's journey in the order of their first occurrence (0 = the first, 1 = the last); None
    when each of its customers has no other event (a one-event journey has no order)."""

    event: str
    events: int
    customers: int
    first_customers: int
    position: float | None

    def share(self, total: int) -> float | None:
        """Its customers as a share of ``total`` customers."""
        return self.customers / total if total else None

    def first_share(self, total: int) -> float | None:
        """The share of all ``total`` customers whose first event it is."""
        return self.first_customers / total if total else None

    @property
    def order_key(self) -> float:
        """``position`` for ordering; an event only ever seen alone is an entry (0)."""
        return 0.0 if self.position is None else self.position


@dataclass(frozen=True)
class EventProfile:
    """The ``top`` event names by customers, and the source's totals. ``names`` counts every
    distinct event name of the source, so ``left_out`` says how many were not listed."""

    stats: tuple[EventStat, ...]
    customers: int
    events: int
    names: int
    source: str = ""

    @property
    def left_out(self) -> int:
        return max(self.names - len(self.stats), 0)

    def rows(self) -> list[dict[str, Any]]:
        """One row per listed event name (for tables, CSV and JSON)."""
        out = []
        for s in self.stats:
            first, share = s.first_share(self.customers), s.share(self.customers)
            out.append(
                {
                    "event": s.event,
                    "events": s.events,
                    "customers": s.customers,
                    "customer_share": None if share is None else round(share, 4),
                    "first_seen_share": None if first is None else round(first, 4),
                    "typical_position": None if s.position is None else round(s.position, 4),
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        events = self.rows()
        for row, s in zip(events, self.stats, strict=True):
            if s.position is None:
                row["typical_position_reason"] = (
                    "each of its customers has no other event: a one-event journey has no order"
                )
        return {
            "source": self.source,
            "customers": self.customers,
            "events": self.events,
            "event_names": self.names,
            "listed": len(self.stats),
            "left_out": self.left_out,
            "event_stats": events,
        }
