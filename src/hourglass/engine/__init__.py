"""Layer 4: the only place that connects to backends and executes.

The names below are imported on first use (PEP 562), so that a submodule that needs no Ibis (the
small-file funnel of engine/quick.py, the fast path's SQL builders, the snapshot checks) is imported
without it; the first of them installs Ibis's lazy SQL compilers (engine/_lazy_ibis.py) before any
Ibis backend loads."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# (eager: ``connect`` is also a submodule's name, whose import would otherwise shadow the function)
from hourglass.engine.session import ENGINES, Engine, connect

if TYPE_CHECKING:
    from hourglass.engine.load import Events, load_events, validate_source
    from hourglass.engine.run import run_funnel, run_funnel_levels, to_sql

__all__ = [
    "ENGINES",
    "Engine",
    "Events",
    "connect",
    "load_events",
    "run_funnel",
    "run_funnel_levels",
    "to_sql",
    "validate_source",
]

_HOME = {
    **dict.fromkeys(("Events", "load_events", "validate_source"), "load"),
    **dict.fromkeys(("run_funnel", "run_funnel_levels", "to_sql"), "run"),
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        importlib.import_module("hourglass.engine._lazy_ibis")  # first: one SQL compiler, not twenty
        value = getattr(importlib.import_module(f"hourglass.engine.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hourglass.engine' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
