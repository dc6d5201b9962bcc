"""A request's bytes as JSON: plain JSON whatever the Content-Type says (analytics.js sends text/plain),
gzip (``Content-Encoding: gzip`` or gzip's magic bytes: posthog-js's gzip-js), posthog-js's base64 form
body (``data=...``). A decompressed body is held to the same size limit as a sent one. Pure."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any
from urllib.parse import parse_qs

from hourglass.ingest.collector._json import loads

__all__ = ["BodyError", "decode_body", "decode_sized"]

_GZIP_MAGIC = b"\x1f\x8b"


class BodyError(Exception):
    """A body that cannot be read: the HTTP status and the answer's code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _gunzip(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as e:
        raise BodyError(400, "invalid_json", f"the gzip body cannot be decompressed: {e}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyError(413, "payload_too_large", f"the decompressed body is larger than {limit:,} bytes")
    if not inflater.eof:
        raise BodyError(400, "invalid_json", "the gzip body is cut short")
    return out


def _parse(data: bytes | str) -> Any:
    try:
        return loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        text = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise BodyError(400, "invalid_json", f"the body is not JSON: {text}") from None


def _form(raw: bytes, compression: str | None) -> Any:
    try:
        fields = parse_qs(raw.decode("ascii"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise BodyError(400, "invalid_json", "the form body is not URL-encoded text") from None
    values = fields.get("data")
    if not values:
        raise BodyError(400, "invalid_json", "the form body has no 'data' field")
    value = values[0]
    if compression == "base64" or not value.lstrip().startswith(("{", "[")):
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise BodyError(400, "invalid_json", "the form's 'data' is neither base64 nor JSON") from None
        return _parse(decoded)
    return _parse(value)


def decode_body(raw: bytes, **options: Any) -> Any:
    """The parsed JSON of a request body (:func:`decode_sized`'s first half)."""
    return decode_sized(raw, **options)[0]


def decode_sized(
    raw: bytes,
    *,
    limit: int,
    content_encoding: str | None = None,
    content_type: str | None = None,
    compression: str | None = None,
) -> tuple[Any, int]:
    """The parsed JSON of a request body and the size of its decompressed bytes, or
    :class:`BodyError` (400 ``invalid_json``, ``unsupported_compression``; 413 ``payload_too_large``
    for a decompressed body over ``limit``)."""
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise BodyError(
            400, "unsupported_compression", f"Content-Encoding {encoding!r} is not supported (gzip or none)"
        )
    if compression == "lz64":
        raise BodyError(
            400, "unsupported_compression", "posthog-js's lz64 compression is not supported: update "
            "posthog-js (it sends gzip), or set disable_compression: true"
        )  # fmt: skip
    if encoding in ("gzip", "x-gzip") or raw[:2] == _GZIP_MAGIC:
        raw = _gunzip(raw, limit)
    if not raw.strip():
        raise BodyError(400, "invalid_json", "the body is empty")
    form = (content_type or "").lower().startswith("application/x-www-form-urlencoded")
    if raw[:5] == b"data=" or (form and raw.lstrip()[:1] not in (b"{", b"[")):
        return _form(raw, compression), len(raw)
    return _parse(raw), len(raw)
