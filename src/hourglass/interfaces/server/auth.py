"""Which project a request writes into: the write key it carries (Segment ``writeKey`` in the body or
HTTP Basic with the key as user; PostHog ``api_key``/``token`` in the body or each event's
``properties.token``), looked up in keys.json. No key, an unknown or revoked key: 401; two different
keys in one request: 400 (docs/collector.md, "Keys")."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from hourglass.ingest.collector import keys_in
from hourglass.interfaces.server.keys import KeyRecord, KeyStore

__all__ = ["Denied", "authenticate", "basic_key"]


@dataclass(frozen=True)
class Denied:
    status: int
    code: str
    message: str


def basic_key(header: str | None) -> str | None:
    """The user of ``Authorization: Basic base64(user:password)`` (the password is ignored), or None."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, _, password = decoded.partition(":")
    return user or password or None


def authenticate(route: str, body: Any, authorization: str | None, keys: KeyStore) -> KeyRecord | Denied:
    """The valid key of the request, or why it is refused."""
    found = keys_in(route, body)
    if (basic := basic_key(authorization)) is not None:
        found.add(basic)
    if not found:
        where = (
            "writeKey in the body or HTTP Basic auth"
            if route.startswith("segment:")
            else "api_key or token in the body"
        )
        return Denied(401, "unauthorized", f"no write key: send one ({where})")
    if len(found) > 1:
        return Denied(400, "mixed_keys", "the request carries more than one write key: send one per request")
    record = keys.lookup(found.pop())
    if record is None:
        return Denied(401, "unauthorized", "the write key is unknown or revoked")
    return record
