"""hourglass: customer-journey analytics. One event log seen through every journey model: the
sales funnel, AIDA, the marketing hourglass, flip-the-funnel, the flywheel and Solis' six levels."""

from hourglass.engine import Engine, connect
from hourglass.interfaces.api import build_spec, events, funnel, funnel_levels, funnel_sql, validate
from hourglass.interfaces.journeys_api import followers, journey, journeys, paths, transitions
from hourglass.interfaces.lifecycle_api import lifecycle, lifecycle_table
from hourglass.interfaces.store_api import ingest as ingest_store
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
    "build_spec",
    "connect",
    "events",
    "followers",
    "funnel",
    "funnel_levels",
    "funnel_sql",
    "ingest_store",
    "journey",
    "journeys",
    "lifecycle",
    "lifecycle_table",
    "paths",
    "preset",
    "transitions",
    "validate",
]
