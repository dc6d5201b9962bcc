"""The collector's limits (docs/collector.md, "Limits"): the size of an event and of a request per
SDK (Segment's 32 KB and 500 KB, PostHog's 2 MB and 20 MB), and a per-key rate limit, a token bucket
of events per second with a burst of two seconds' worth."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from hourglass.model.errors import SpecError

__all__ = ["KB", "MB", "Limits", "RateLimiter", "parse_rate"]

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Limits:
    segment_event: int = 32 * KB
    segment_batch: int = 500 * KB
    posthog_event: int = 2 * MB
    posthog_batch: int = 20 * MB
    #: events per second per key; 0: no limit
    rate: float = 10_000.0
    burst_s: float = 2.0

    def request_limit(self, route: str) -> int:
        if route == "posthog":
            return self.posthog_batch
        return self.segment_batch if route == "segment:batch" else self.segment_event

    def event_limit(self, route: str) -> int:
        return self.posthog_event if route == "posthog" else self.segment_event


_RATE_RE = re.compile(r"\s*(\d{1,9}(?:\.\d{1,6})?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*")


def parse_rate(value: str) -> float:
    """``--rate``: ``500/s``, ``30000/m``, ``0`` (no limit) as events per second (HG464 otherwise)."""
    m = _RATE_RE.fullmatch(value)
    if m is None:
        raise SpecError(
            f"invalid rate {value!r}",
            code="HG464",
            hint="write events per second or per minute: --rate 10000/s, --rate 60000/m, or 0 for no limit",
        )
    per_second = float(m[1]) / (60.0 if (m[2] or "s").startswith("m") else 1.0)
    if float(m[1]) > 0 and m[2] is None:
        raise SpecError(
            f"the rate {value!r} has no unit",
            code="HG464",
            hint=f"write {m[1]}/s for {m[1]} events per second (or /m per minute); 0 turns the limit off",
        )
    return per_second


class RateLimiter:
    """One token bucket per key. A request of ``cost`` events passes when the bucket holds them (or is
    full: a batch larger than the burst passes alone, and the bucket goes into debt); otherwise
    :meth:`take` gives the seconds to wait."""

    def __init__(
        self, rate: float, burst_s: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = rate * burst_s
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, cost: int) -> float | None:
        """None when the request may pass (its cost is taken), else the seconds until it may."""
        if self.rate <= 0:
            return None
        now = self._clock()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= min(cost, self.capacity):
            self._buckets[key] = (tokens - cost, now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1.0, math.ceil((min(cost, self.capacity) - tokens) / self.rate))
