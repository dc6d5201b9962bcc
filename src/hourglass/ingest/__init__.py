"""Layer 2: reading sources into Ibis tables, resolving column roles, parsing and validation.

The names below are imported on first use (PEP 562), so that importing ``hourglass.ingest.config``
(the CLI does, for ``hourglass models``) does not import Ibis."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hourglass.ingest.config import Config, load_config, load_model
    from hourglass.ingest.normalize import Parsed, canonical, dedupe, parse
    from hourglass.ingest.roles import ResolvedRoles, resolve_roles
    from hourglass.ingest.sources import Source, open_source, resolve_source
    from hourglass.ingest.validate import Problem, ValidationReport

__all__ = [
    "Config",
    "Parsed",
    "Problem",
    "ResolvedRoles",
    "Source",
    "ValidationReport",
    "canonical",
    "dedupe",
    "load_config",
    "load_model",
    "open_source",
    "parse",
    "resolve_roles",
    "resolve_source",
]

_HOME = {
    **dict.fromkeys(("Config", "load_config", "load_model"), "config"),
    **dict.fromkeys(("Parsed", "canonical", "dedupe", "parse"), "normalize"),
    **dict.fromkeys(("ResolvedRoles", "resolve_roles"), "roles"),
    **dict.fromkeys(("Source", "open_source", "resolve_source"), "sources"),
    **dict.fromkeys(("Problem", "ValidationReport"), "validate"),
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(f"hourglass.ingest.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hourglass.ingest' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
