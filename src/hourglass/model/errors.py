"""Errors. Every error hourglass raises for a user's mistake subclasses :class:`HourglassError` and a
builtin, and carries a stable ``code`` (documented in docs/errors.md) and an optional ``hint``."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "HourglassError",
    "SchemaError",
    "SourceError",
    "SpecError",
    "UnsupportedError",
]


class HourglassError(Exception):
    """Base class. ``code`` is stable across releases; ``hint`` says what to do."""

    code: str = "HG000"

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.hint = hint

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class SpecError(HourglassError, ValueError):
    """An analysis spec, a model file or an option is invalid (unknown key, bad value)."""

    code = "HG100"


class ConfigError(HourglassError, ValueError):
    """A configuration file (hourglass.toml, a model file) cannot be read or is invalid."""

    code = "HG110"


class SourceError(HourglassError, FileNotFoundError):
    """A source (file, glob, database table) cannot be found or opened."""

    code = "HG200"


class SchemaError(HourglassError, KeyError):
    """A column role cannot be resolved: missing, ambiguous or of the wrong type."""

    code = "HG300"

    def __str__(self) -> str:  # KeyError would quote the message
        return HourglassError.__str__(self)


class DataError(HourglassError, ValueError):
    """The data violates the event schema (empty ids, unparseable timestamps, ...)."""

    code = "HG400"


class UnsupportedError(HourglassError, NotImplementedError):
    """A valid request this engine or backend cannot answer."""

    code = "HG500"


class EngineError(HourglassError, RuntimeError):
    """The engine could not finish a valid request (out of memory), or failed in a way hourglass
    did not foresee (a bug: the CLI reports it with HG699 instead of a traceback)."""

    code = "HG600"
