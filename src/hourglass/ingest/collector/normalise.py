"""One request's body as rows: which events it holds (one event, a list, a batch object), which write
keys it carries, and each event mapped by its SDK's rules. All or nothing: one bad event and the
:class:`Batch` holds only errors. Pure: no I/O, no clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hourglass.ingest.collector._values import Batch, EventError, Invalid, parse_time
from hourglass.ingest.collector.posthog import posthog_row
from hourglass.ingest.collector.segment import SEGMENT_TYPES, segment_row

__all__ = ["ROUTES", "events_of", "keys_in", "normalise"]

#: every route the normaliser knows: Segment's six calls and its batch, and PostHog's capture
ROUTES = (*(f"segment:{t}" for t in SEGMENT_TYPES), "segment:batch", "posthog")


def _bad(code: str, message: str) -> tuple[list[Any], Any, str, str]:
    return [], None, code, message


def events_of(route: str, body: Any) -> tuple[list[Any], Any, str | None, str]:
    """``(events, batch_sent_at_value, error_code, message)`` of a parsed body."""
    if route.startswith("segment:") and route != "segment:batch":
        if not isinstance(body, dict):
            return _bad("invalid_body", "the body must be one event, a JSON object")
        return [body], None, None, ""
    if route == "segment:batch":
        batch = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch, list):
            return _bad("invalid_body", 'the body must be {"batch": [events...]}')
        if not batch:
            return _bad("invalid_body", "the batch is empty")
        return batch, body.get("sentAt"), None, ""
    if route != "posthog":
        return _bad("invalid_body", f"unknown route {route!r}")
    if isinstance(body, list):
        events, sent_at = body, None
    elif isinstance(body, dict) and "batch" in body:
        events, sent_at = body["batch"], body.get("sent_at")
        if not isinstance(events, list):
            return _bad("invalid_body", "'batch' must be a list of events")
    elif isinstance(body, dict):
        events, sent_at = [body], None
    else:
        return _bad("invalid_body", 'the body must be an event, a list of events or {"batch": [...]}')
    if not events:
        return _bad("invalid_body", "the batch is empty")
    return events, sent_at, None, ""


def _text_keys(obj: Any, names: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict):
        return []
    return [v for n in names if isinstance(v := obj.get(n), str) and v]


def keys_in(route: str, body: Any) -> set[str]:
    """Every write key the body carries (Segment ``writeKey``; PostHog ``api_key``, ``token`` and each
    event's ``properties.token``). Never raises."""
    events, _, code, _ = events_of(route, body)
    found = set(_text_keys(body, ("writeKey",) if route.startswith("segment:") else ("api_key", "token")))
    if code is not None:
        return found
    for event in events:
        if route.startswith("segment:"):
            found.update(_text_keys(event, ("writeKey",)))
        else:
            found.update(_text_keys(event, ("api_key", "token")))
            if isinstance(event, dict):
                found.update(_text_keys(event.get("properties"), ("token",)))
    return found


def _with_batch_context(event: Any, context: Any) -> Any:
    """Segment's batch-level ``context`` applies to each event (the event's own keys win)."""
    if not isinstance(context, dict) or not context or not isinstance(event, dict):
        return event
    own = event.get("context")
    if own is not None and not isinstance(own, dict):
        return event  # the event's wrong type is reported by the mapping
    return {**event, "context": {**context, **(own or {})}}


def normalise(route: str, body: Any, *, project: str, received_at: datetime, now: datetime) -> Batch:
    """The rows of one request, or the errors of every bad event (then no rows: all or nothing).
    ``route`` is one of :data:`ROUTES`; ``body`` the parsed JSON."""
    events, sent_value, code, message = events_of(route, body)
    if code is not None:
        return Batch(code=code, message=message)
    name = "sentAt" if route.startswith("segment:") else "sent_at"
    try:
        batch_sent_at = parse_time(sent_value, name)
    except Invalid as e:
        return Batch(code="invalid_body", message=e.message)
    batch_context = body.get("context") if route == "segment:batch" else None
    kind = route.split(":", 1)[1] if route.startswith("segment:") and route != "segment:batch" else None
    result = Batch()
    for index, event in enumerate(events):
        try:
            if route.startswith("segment:"):
                row = segment_row(
                    _with_batch_context(event, batch_context),
                    kind=kind,
                    batch_sent_at=batch_sent_at,
                    project=project,
                    received_at=received_at,
                    now=now,
                )
            else:
                row = posthog_row(
                    event, batch_sent_at=batch_sent_at, project=project, received_at=received_at, now=now
                )
        except Invalid as e:
            result.errors.append(EventError(index, e.code, e.field, e.message))
            continue
        except (ValueError, RecursionError) as e:  # json_text: a value JSON cannot hold, or too deep
            result.errors.append(
                EventError(index, "wrong_type", "", f"the event cannot be stored as JSON: {e}")
            )
            continue
        if not result.errors:
            result.rows.append(row)
    if result.errors:
        result.rows = []
    return result
