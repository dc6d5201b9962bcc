"""Layer 1: pure definitions (event schema, steps, journey models, specs, results). No I/O, no Ibis."""

from hourglass.model.errors import (
    ConfigError,
    DataError,
    EngineError,
    HourglassError,
    SchemaError,
    SourceError,
    SpecError,
    UnsupportedError,
)
from hourglass.model.journey import KINDS, JourneyModel
from hourglass.model.presets import PRESETS, preset, preset_names
from hourglass.model.results import FunnelGroup, FunnelResult, StepCounts
from hourglass.model.schema import COMMON_NAMES, ROLES, ColumnMapping
from hourglass.model.spec import MODES, FunnelSpec, parse_time, parse_window
from hourglass.model.steps import Filter, Step, parse_filter

__all__ = [
    "COMMON_NAMES",
    "KINDS",
    "MODES",
    "PRESETS",
    "ROLES",
    "ColumnMapping",
    "ConfigError",
    "DataError",
    "EngineError",
    "Filter",
    "FunnelGroup",
    "FunnelResult",
    "FunnelSpec",
    "HourglassError",
    "JourneyModel",
    "SchemaError",
    "SourceError",
    "SpecError",
    "Step",
    "StepCounts",
    "UnsupportedError",
    "parse_filter",
    "parse_time",
    "parse_window",
    "preset",
    "preset_names",
]
