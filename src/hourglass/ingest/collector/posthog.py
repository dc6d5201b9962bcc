"""PostHog's events (posthog-js, the server SDKs, the capture API) as rows of the collector's schema:
``distinct_id``, ``event`` as sent, ``uuid``, ``timestamp`` corrected by ``sent_at`` or ``offset``; the
properties without a ``$`` are the row's properties, the ``$`` ones (the library's) its context. The
write key (``token``, ``api_key``) is never stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from hourglass.ingest.collector._values import (
    Invalid,
    json_text,
    micros,
    optional_id,
    optional_mapping,
    optional_number,
    optional_text,
    parse_time,
    skew_corrected,
)

__all__ = ["posthog_row"]

#: top-level fields the mapping reads (the others go to context._top); never stored: the key
_MAPPED = frozenset(
    {"event", "properties", "uuid", "timestamp", "offset", "sent_at", "distinct_id", "$set", "$set_once"}
)
_KEYS = ("api_key", "token")


def _split(props: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    own: dict[str, Any] = {}
    library: dict[str, Any] = {}
    for key, value in props.items():
        if key in ("token", "distinct_id"):
            continue
        (library if key.startswith("$") else own)[key] = value
    return own, library


def _first_id(props: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if (value := optional_id(props, key, f"properties.{key}")) is not None:
            return value
    return None


def posthog_row(
    event: Any,
    *,
    batch_sent_at: datetime | None,
    project: str,
    received_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """One PostHog event as a row. Raises :class:`Invalid` for a bad event."""
    if not isinstance(event, dict):
        raise Invalid("not_an_object", "", "each event must be a JSON object")
    name = optional_text(event, "event")
    if name is None:
        raise Invalid(
            "missing_event", "event", "each event needs its name in 'event' ($pageview, signup, ...)"
        )
    props = optional_mapping(event, "properties")
    customer = optional_id(props, "distinct_id", "properties.distinct_id") or optional_id(
        event, "distinct_id"
    )
    if customer is None:
        raise Invalid(
            "missing_user", "distinct_id", "each event needs a distinct_id (in properties or top-level)"
        )
    own, library = _split(props)
    for key in ("$set", "$set_once"):
        if key in event:
            library[key] = event[key]
    extra = {k: v for k, v in event.items() if k not in _MAPPED and k not in _KEYS}
    if extra:
        library["_top"] = extra
    state = props.get("$user_state")  # older posthog-js; 1.449 sends $is_identified
    flag = props.get("$is_identified")
    identified = state == "identified" or flag is True or name == "$identify"
    if name == "$identify" and isinstance(traits := event.get("$set"), dict):
        own.update({k: v for k, v in traits.items() if k not in own})  # identify's traits: properties
    user_id = optional_id(props, "$user_id", "properties.$user_id")
    anonymous_id = optional_id(props, "$anon_distinct_id", "properties.$anon_distinct_id")
    if anonymous_id is None and not identified and (state == "anonymous" or flag is False):
        anonymous_id = customer
    sent_at = parse_time(event.get("sent_at"), "sent_at") or batch_sent_at
    at = skew_corrected(
        parse_time(event.get("timestamp"), "timestamp"),
        sent_at,
        event.get("offset"),
        received_at=received_at,
        now=now,
        name="timestamp",
    )
    revenue = None
    for key in ("revenue", "$revenue", "value"):
        if props.get(key) is not None:
            revenue = optional_number(props[key], f"properties.{key}")
            break
    return {
        "event_id": optional_id(event, "uuid") or str(uuid.uuid4()),
        "project": project,
        "customer": customer,
        "user_id": user_id if user_id is not None else (customer if identified else None),
        "anonymous_id": anonymous_id,
        "event": name,
        "type": "capture",
        "timestamp": micros(at),
        "received_at": micros(received_at),
        "channel": _first_id(props, ("channel", "utm_source", "$utm_source")),
        "revenue": revenue,
        "referrer": _first_id(props, ("referrer_id", "referred_by")),
        "properties": json_text(own),
        "context": json_text(library),
    }
