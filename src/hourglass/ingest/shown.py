"""Values quoted in messages: a bad value is shown, never dumped (a 2 MB field in an error message
buries the message and fills a terminal)."""

from __future__ import annotations

__all__ = ["SHOWN_CHARS", "cut", "quoted"]

#: How much of a value a message quotes.
SHOWN_CHARS = 80


def cut(text: str, length: int | None = None, *, limit: int = SHOWN_CHARS) -> str:
    """``text`` as a message quotes it: whole up to ``limit`` characters, else its first ``limit``
    characters, an ellipsis and the whole value's length (``length`` when ``text`` is already a
    prefix of a longer value, as read back from the engine)."""
    n = len(text) if length is None else max(int(length), len(text))
    if n <= limit:
        return text
    return f"{text[:limit]}…({n:,} chars)"


def quoted(text: str, length: int | None = None, *, limit: int = SHOWN_CHARS) -> str:
    """:func:`cut` in quotes, as ``repr`` would quote the whole value: ``'abc'``, ``'abc…'(N chars)``."""
    n = len(text) if length is None else max(int(length), len(text))
    if n <= limit:
        return repr(text)
    return f"{text[:limit]!r}…({n:,} chars)"
