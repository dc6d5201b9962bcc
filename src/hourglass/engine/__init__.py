"""Layer 4: the only place that connects to backends and executes."""

# first: Ibis's SQL compilers one by one, as they are used (engine/_lazy_ibis.py)
from hourglass.engine import _lazy_ibis  # noqa: F401
from hourglass.engine.load import Events, load_events, validate_source
from hourglass.engine.run import run_funnel, run_funnel_levels, to_sql
from hourglass.engine.session import ENGINES, Engine, connect

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
