"""JSON on the collector's hot path: orjson when it is installed (several times faster than the
standard library on a request's body and on each row's properties and context), else the standard
library. Both make the same decisions: what orjson refuses (UTF-16 text, a lone surrogate, NaN) or
would change (an integer beyond 64 bits, which it reads as a float) is handed to the standard library,
which reads it exactly or says why not."""

from __future__ import annotations

import importlib
import json
from typing import Any

__all__ = ["FAST", "dumps_object", "loads"]

try:
    _orjson: Any = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

#: whether orjson is used
FAST = _orjson is not None
#: 19 digits in a row may be an integer beyond 64 bits, which orjson reads as a float (a lossy change):
#: such a body is read by the standard library (exact integers)
_DIGITS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))  # digits -> "0", the rest " "
_NINETEEN = b"0" * 19
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_ENCODE_ASCII = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _long_digits(data: bytes | str) -> bool:
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    return _NINETEEN in raw.translate(_DIGITS)  # a C scan (a regex took 14 us per KB)


def loads(data: bytes | str) -> Any:
    """Parsed JSON; NaN and Infinity are refused (ValueError, RecursionError for too deep)."""
    if _orjson is not None and not _long_digits(data):
        try:
            return _orjson.loads(data)
        except _orjson.JSONDecodeError:
            pass  # the standard library decides, and says why
    return json.loads(data, parse_constant=_no_constant)


def dumps_object(value: dict[str, Any]) -> str:
    """Compact JSON text of an object; a lone surrogate inside is kept as its ``\\u`` escape."""
    if not value:
        return "{}"
    if _orjson is not None:
        try:
            return str(_orjson.dumps(value).decode())
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate, an integer beyond 64 bits
            pass
    text: str = _ENCODE(value)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return str(_ENCODE_ASCII(value))
    return text
