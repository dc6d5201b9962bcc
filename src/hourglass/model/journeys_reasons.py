"""Not measured is not zero in the journey results (docs/adr/0006-not-measured.md): a metric the
data cannot give is ``None`` with a sibling ``<key>_reason`` that says why and how to fix it; the
reasons the journey analyses give, and their short form for tables."""

from __future__ import annotations

from typing import Any

from hourglass.model.journey import JourneyModel

__all__ = ["NO_CUSTOMERS", "NO_MOVES", "goal_reason", "measured", "not_measured", "with_share"]


def measured(d: dict[str, Any], key: str, value: Any, reason: str) -> None:
    """``d[key] = value``; a None value also gets ``d[key + "_reason"]`` (not measured is not zero:
    docs/adr/0006-not-measured.md)."""
    d[key] = value
    if value is None:
        d[f"{key}_reason"] = reason


def with_share(d: dict[str, Any], k: int, n: int, reason: str) -> dict[str, Any]:
    """``d`` with ``share`` = k / n, or null with ``share_reason`` when n is 0."""
    measured(d, "share", None if n == 0 else k / n, reason)
    return d


def not_measured(d: Any, key: str, short: bool = True) -> str:
    """``not measured (<reason>)`` for a null ``d[key]`` with its ``<key>_reason``; "" otherwise."""
    if not isinstance(d, dict) or d.get(key) is not None:
        return ""
    reason = str(d.get(f"{key}_reason") or "no data")
    if short:
        reason = reason.split(":", 1)[0]
    return f"not measured ({reason})"


def goal_reason(model: JourneyModel, goal: int) -> str:
    """Why a purchasers' figure is not measured: nobody reached the goal (its events, the fix)."""
    stage = model.stages[goal - 1]
    return (
        f"nobody reached {stage.name}: no customer has an event of it ({', '.join(stage.events)}) in the "
        f"period; map the events that mean {stage.name} to it in the model file "
        "(hourglass models suggest SOURCE), or pick another stage with --goal"
    )


NO_CUSTOMERS = (
    "no customer has an event of the model's stages: map your event names to the stages in a model "
    "file (hourglass models suggest SOURCE) and pass it with --model"
)
NO_MOVES = (
    "no customer moved between two stages (every staged customer has a single stage): map more of "
    "your events to the model's stages (hourglass models suggest SOURCE)"
)
