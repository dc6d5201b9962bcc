"""Segment's events (the HTTP tracking API, analytics.js, analytics-node) as rows of the collector's
schema: ``userId``/``anonymousId``, ``event`` or the call's type, ``messageId``, ``timestamp`` corrected
by ``sentAt``, ``properties`` (``traits`` for identify and group), ``context``; every other top-level
field is kept in ``context._top``, never refused (docs/collector.md, "Field mapping")."""

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

__all__ = ["SEGMENT_TYPES", "segment_row"]

SEGMENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")
#: the top-level fields the mapping reads, by type; the others go to context._top
_COMMON = (
    "type",
    "userId",
    "anonymousId",
    "messageId",
    "timestamp",
    "sentAt",
    "properties",
    "context",
    "writeKey",
)
_MAPPED = {
    "track": frozenset({*_COMMON, "event"}),
    "identify": frozenset({*_COMMON, "traits"}),
    "group": frozenset({*_COMMON, "traits", "groupId"}),
    "page": frozenset({*_COMMON, "name", "category"}),
    "screen": frozenset({*_COMMON, "name", "category"}),
    "alias": frozenset({*_COMMON, "previousId"}),
}


def _properties(event: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind in ("identify", "group"):
        props = dict(optional_mapping(event, "traits"))
        props.update({k: v for k, v in optional_mapping(event, "properties").items() if k not in props})
        if kind == "group" and (group := optional_id(event, "groupId")) is not None:
            props["groupId"] = group
        return props
    props = optional_mapping(event, "properties")  # not copied unless it changes
    if kind in ("page", "screen", "alias"):
        props = dict(props)
    if kind in ("page", "screen"):
        for key in ("name", "category"):
            if (value := optional_text(event, key)) is not None:
                props.setdefault(key, value)
    elif kind == "alias" and (previous := optional_id(event, "previousId")) is not None:
        props["previousId"] = previous
    return props


def _channel(props: dict[str, Any], context: dict[str, Any]) -> str | None:
    for key in ("channel", "utm_source"):
        if (value := optional_id(props, key, f"properties.{key}")) is not None:
            return value
    campaign = optional_mapping(context, "campaign", "context.campaign")
    return optional_id(campaign, "source", "context.campaign.source")


def segment_row(
    event: Any,
    *,
    kind: str | None,
    batch_sent_at: datetime | None,
    project: str,
    received_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """One Segment event as a row; ``kind`` is the path's type (None in a batch: the event's ``type``).
    Raises :class:`Invalid` for a bad event."""
    if not isinstance(event, dict):
        raise Invalid("not_an_object", "", "each event must be a JSON object")
    if kind is None:
        kind = optional_text(event, "type")
        if kind not in SEGMENT_TYPES:
            raise Invalid("invalid_type", "type", f"type {kind!r} is not one of {', '.join(SEGMENT_TYPES)}")
    if kind == "track":
        name = optional_text(event, "event")
        if name is None:
            raise Invalid("missing_event", "event", "a track call needs its event name in 'event'")
    else:
        name = kind
    user_id = optional_id(event, "userId")
    anonymous_id = optional_id(event, "anonymousId")
    customer = user_id if user_id is not None else anonymous_id
    if customer is None:
        raise Invalid("missing_user", "userId", "each event needs a userId or an anonymousId")
    context = optional_mapping(event, "context")
    props = _properties(event, kind)
    sent_at = parse_time(event.get("sentAt"), "sentAt") or batch_sent_at
    at = skew_corrected(
        parse_time(event.get("timestamp"), "timestamp"),
        sent_at,
        None,
        received_at=received_at,
        now=now,
        name="timestamp",
    )
    extra = {k: v for k, v in event.items() if k not in _MAPPED[kind]}
    if extra:
        context = {**context, "_top": extra}
    return {
        "event_id": optional_id(event, "messageId") or str(uuid.uuid4()),
        "project": project,
        "customer": customer,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "event": name,
        "type": kind,
        "timestamp": micros(at),
        "received_at": micros(received_at),
        "channel": _channel(props, context),
        "revenue": optional_number(props.get("revenue"), "properties.revenue"),
        "referrer": optional_id(props, "referrer_id", "properties.referrer_id")
        or optional_id(props, "referred_by", "properties.referred_by"),
        "properties": json_text(props),
        "context": json_text(context),
    }
