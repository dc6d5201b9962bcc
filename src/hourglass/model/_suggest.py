"""'Did you mean' suggestions for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from hourglass.model.errors import SpecError

__all__ = ["check_keys", "did_you_mean"]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_keys(data: Mapping[str, Any], allowed: Iterable[str], *, where: str) -> None:
    """Raise :class:`SpecError` naming the first unknown key of ``data``."""
    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            raise SpecError(
                f"unknown key '{key}' in {where}{did_you_mean(str(key), allowed)}",
                code="HG101",
                hint="allowed keys: " + ", ".join(allowed),
            )
