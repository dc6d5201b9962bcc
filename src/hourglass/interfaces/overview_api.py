"""The dashboard's funnels, each the result :func:`hourglass.interfaces.api.funnel` gives, computed
by the store's sequential scan where api.funnel would run the joins or read the store again:
several models' funnels on the same events, window and dates (the overview; engine/funnel_batch.py:
the union of their steps' events read once), and a funnel with a breakdown whose value is one per
customer (the funnel page; engine/funnel_by_scan.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from hourglass.engine.funnel_batch import shared_scan_rows
from hourglass.engine.load import Events
from hourglass.engine.run import run_funnel
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.interfaces.api import build_spec
from hourglass.model.errors import HourglassError
from hourglass.model.journey import JourneyModel
from hourglass.model.results import FunnelResult
from hourglass.model.spec import FunnelSpec

__all__ = ["breakdown_funnel", "model_funnels"]


def model_funnels(
    ev: Events,
    models: Sequence[str],
    *,
    window: str | int | float = "7d",
    since: Any = None,
    until: Any = None,
    config: Config | str | None = None,
    wanted: Callable[[], bool] | None = None,
) -> list[FunnelResult | HourglassError]:
    """Each model's funnel (``api.funnel(ev, model=name, window=..., since=..., until=...)``) or
    the coded error it raises (a model the log cannot measure, a bad window), in ``models``' order.
    ``wanted`` (the dashboard's work ahead): asked after the store's read and before each range of
    the models' scan; once False, engine/models_scan.py ``Stopped`` is raised (not an
    HourglassError: no model is run on its own then)."""
    started = time.perf_counter()
    cfg = config if isinstance(config, Config) else load_config(config)
    out: list[FunnelResult | HourglassError | None] = [None] * len(models)
    todo: list[tuple[int, JourneyModel, FunnelSpec]] = []
    for i, name in enumerate(models):
        try:
            jm = load_model(name, cfg)
            spec = build_spec(None, model=jm, config=cfg, window=window, since=since, until=until)
        except HourglassError as e:
            out[i] = e
            continue
        todo.append((i, jm, spec))
    try:
        rows = shared_scan_rows(ev, [spec for _, _, spec in todo], wanted)
    except HourglassError:  # (a read the store refuses): each model on its own says it
        if wanted is not None and not wanted():  # no: the work ahead's read, interrupted
            from hourglass.engine.models_scan import Stopped

            raise Stopped from None
        rows = [None] * len(todo)
    shared = time.perf_counter() - started  # the models' read and scans, together
    for (i, jm, spec), row in zip(todo, rows, strict=True):
        try:  # its seconds: the shared part and its own result, not the models' before it
            own = time.perf_counter() - shared
            out[i] = _result(ev, spec, jm, models[i], None if row is None else [row], own)
        except HourglassError as e:
            out[i] = e
    return [r for r in out if r is not None]


def breakdown_funnel(ev: Events, by: str, *, config: Config | None = None, **options: Any) -> FunnelResult:
    """``api.funnel(ev, by=by, config=config, **options)`` (``options``: its steps, model, window,
    dates ...), by the scan kept per customer (engine/scan_levels.py: his best chain's entry value),
    else by the scan per group where each customer's step-1 events have one value of ``by``
    (engine/funnel_by_scan.py)."""
    from hourglass.engine.funnel_by_scan import by_scan_rows
    from hourglass.engine.scan_levels import scan_by_rows
    from hourglass.interfaces import api

    started = time.perf_counter()
    cfg = config if isinstance(config, Config) else load_config(config)
    source, spec = api.funnel_inputs(ev, by=by, config=cfg, **options)
    rows = scan_by_rows(source, spec)  # any column (a device too): the scan kept per customer
    if rows is None:
        rows = by_scan_rows(source, spec)
    if rows is None:
        return api.funnel(ev, by=by, config=cfg, **options)
    model = options.get("model")
    jm = load_model(model, cfg) if isinstance(model, str) else model
    return _result(source, spec, jm, model if isinstance(model, str) else None, rows, started)


def _result(
    ev: Events,
    spec: FunnelSpec,
    jm: JourneyModel | None,
    name: str | None,
    rows: list[dict[str, Any]] | None,
    started: float,
) -> FunnelResult:
    """``api.funnel``'s result: its notes (a step or stage no event matches), its seconds."""
    from hourglass.engine.event_names import missing_event_notes

    result = run_funnel(ev, spec, {"model": name} if name else {}, rows=rows)
    if ev.report.rows == 0:
        notes = ["the source has no events (a header and no rows)"]
    else:
        notes = missing_event_notes(ev, spec, result, model=jm)
    if notes:
        result.meta["notes"] = notes
    result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return result
