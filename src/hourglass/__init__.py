"""hourglass: customer-journey analytics. One event log seen through every journey model: the
sales funnel, AIDA, the marketing hourglass, flip-the-funnel, the flywheel and Solis' six levels.

The model (specs, presets, results) is imported with the package; the analyses and engines (Ibis,
DuckDB, pyarrow) on first use of a function that needs them, so that ``hourglass --help`` and
``import hourglass`` stay fast."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hourglass.model import (
    PRESETS,
    ColumnMapping,
    FunnelResult,
    FunnelSpec,
    HourglassError,
    JourneyModel,
    Step,
    preset,
)

if TYPE_CHECKING:
    from hourglass.engine import Engine, connect
    from hourglass.interfaces.api import build_spec, events, funnel, funnel_levels, funnel_sql, validate
    from hourglass.interfaces.attribution_api import attribution
    from hourglass.interfaces.clv_api import clv, clv_summary, sbg_fit
    from hourglass.interfaces.flywheel_api import flywheel
    from hourglass.interfaces.friction_api import diagnose, friction, whatif
    from hourglass.interfaces.funnel_explore_api import (
        funnel_correlation,
        funnel_dropoff_paths,
        funnel_explore_people,
    )
    from hourglass.interfaces.funnel_views_api import events_to_convert, funnel_trend, time_to_convert
    from hourglass.interfaces.journeys_api import followers, journey, journeys, paths, transitions
    from hourglass.interfaces.lifecycle_api import lifecycle, lifecycle_table
    from hourglass.interfaces.models_api import model_yaml, suggest_model, write_model
    from hourglass.interfaces.report_api import report
    from hourglass.interfaces.retention_api import retention
    from hourglass.interfaces.store_api import ingest as ingest_store

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "ColumnMapping",
    "Engine",
    "FunnelResult",
    "FunnelSpec",
    "HourglassError",
    "JourneyModel",
    "Step",
    "__version__",
    "attribution",
    "build_spec",
    "clv",
    "clv_summary",
    "connect",
    "diagnose",
    "events",
    "events_to_convert",
    "flywheel",
    "followers",
    "friction",
    "funnel",
    "funnel_correlation",
    "funnel_dropoff_paths",
    "funnel_explore_people",
    "funnel_levels",
    "funnel_sql",
    "funnel_trend",
    "ingest_store",
    "journey",
    "journeys",
    "lifecycle",
    "lifecycle_table",
    "model_yaml",
    "paths",
    "preset",
    "report",
    "retention",
    "sbg_fit",
    "suggest_model",
    "time_to_convert",
    "transitions",
    "validate",
    "whatif",
    "write_model",
]

#: public name -> (module, attribute), imported on first use
_LAZY: dict[str, tuple[str, str]] = {
    "Engine": ("hourglass.engine", "Engine"),
    "connect": ("hourglass.engine", "connect"),
    **{
        name: ("hourglass.interfaces.api", name)
        for name in ("build_spec", "events", "funnel", "funnel_levels", "funnel_sql", "validate")
    },
    **{
        name: ("hourglass.interfaces.journeys_api", name)
        for name in ("followers", "journey", "journeys", "paths", "transitions")
    },
    "lifecycle": ("hourglass.interfaces.lifecycle_api", "lifecycle"),
    "lifecycle_table": ("hourglass.interfaces.lifecycle_api", "lifecycle_table"),
    "ingest_store": ("hourglass.interfaces.store_api", "ingest"),
    "report": ("hourglass.interfaces.report_api", "report"),
    **{
        name: ("hourglass.interfaces.models_api", name)
        for name in ("suggest_model", "model_yaml", "write_model")
    },
    "flywheel": ("hourglass.interfaces.flywheel_api", "flywheel"),
    **{name: ("hourglass.interfaces.friction_api", name) for name in ("friction", "diagnose", "whatif")},
    "retention": ("hourglass.interfaces.retention_api", "retention"),
    **{name: ("hourglass.interfaces.clv_api", name) for name in ("clv", "clv_summary", "sbg_fit")},
    "attribution": ("hourglass.interfaces.attribution_api", "attribution"),
    **{
        name: ("hourglass.interfaces.funnel_explore_api", name)
        for name in ("funnel_correlation", "funnel_dropoff_paths", "funnel_explore_people")
    },
    **{
        name: ("hourglass.interfaces.funnel_views_api", name)
        for name in ("events_to_convert", "funnel_trend", "time_to_convert")
    },
}
_LAYERS = ("model", "ingest", "analyses", "engine", "interfaces")


def _watched(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run as a command's run (engine/snapshot.py ``watching``, as the CLI runs its commands):
    a damaged Parquet page an analysis meets is HG206 naming the file, not the engine's own error, and
    a source file that changed while it was read is HG209."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        from hourglass.engine.snapshot import watched, watching

        if watched():  # inside a command's run (the CLI's) or the caller's own block
            return fn(*args, **kwargs)
        with watching():
            return fn(*args, **kwargs)

    return run


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        if module.startswith("hourglass.interfaces.") and inspect.isfunction(value):
            value = _watched(value)
        globals()[name] = value
        return value
    if name in _LAYERS:
        return importlib.import_module(f"hourglass.{name}")
    raise AttributeError(f"module 'hourglass' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*__all__, *_LAYERS})
