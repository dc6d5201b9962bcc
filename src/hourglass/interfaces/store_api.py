"""The store's Python API: ``ingest(source, into)`` writes a source's validated events as a store
(engine/event_store.py) that every analysis reads as a source (``store.duckdb``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hourglass.engine.event_store import StoreInfo, write_store
from hourglass.engine.load import load_events
from hourglass.engine.session import connect
from hourglass.ingest.config import Config, load_config
from hourglass.model.schema import ColumnMapping

__all__ = ["StoreInfo", "ingest"]


def ingest(
    source: Any,
    into: str | Path,
    *,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    config: Config | str | None = None,
    table: str | None = None,
    overwrite: bool = False,
    progress: Callable[[str, float | None], None] | None = None,
) -> StoreInfo:
    """Validate ``source`` (any source :func:`hourglass.funnel` reads) and write its canonical events
    to the DuckDB file ``into``, each event name's rows together and clustered by customer and time
    (a funnel reads only its steps' rows), with integer customer keys, ENUM
    event names and integer microsecond timestamps. Raises the validation's DataError (nothing is
    written) and HG420 when ``into`` exists (``overwrite=True`` replaces it). ``progress(phase,
    fraction)`` is called while it works."""
    cfg = config if isinstance(config, Config) else load_config(config)
    mapping = cfg.columns
    if columns is not None:
        given = columns if isinstance(columns, ColumnMapping) else ColumnMapping.from_dict(columns)
        mapping = mapping.merged(given)
    if progress is not None:
        progress("validating", None)
    events = load_events(connect("duckdb"), source, mapping, table=table)
    return write_store(events, into, overwrite=overwrite, progress=progress)
