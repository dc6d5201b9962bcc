"""Layer 2: reading sources into Ibis tables, resolving column roles, parsing and validation."""

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
