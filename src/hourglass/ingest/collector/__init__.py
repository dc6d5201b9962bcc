"""The collector's payload normaliser (issue 13): a Segment or PostHog request body as rows of the
collector's event schema (docs/collector.md, "Field mapping"), or a coded error per bad event. Pure:
no I/O, no clock; the HTTP service (interfaces/server/app.py) reads, authenticates and stores."""

from __future__ import annotations

from hourglass.ingest.collector._values import FUTURE_LIMIT, Batch, EventError
from hourglass.ingest.collector.body import BodyError, decode_body, decode_sized
from hourglass.ingest.collector.normalise import ROUTES, events_of, keys_in, normalise
from hourglass.ingest.collector.segment import SEGMENT_TYPES

__all__ = [
    "FUTURE_LIMIT",
    "ROUTES",
    "SEGMENT_TYPES",
    "Batch",
    "BodyError",
    "EventError",
    "decode_body",
    "decode_sized",
    "events_of",
    "keys_in",
    "normalise",
]
