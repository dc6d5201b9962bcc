"""The Python API of friction and diagnose: ``hourglass.friction(source, frictions=[...])`` and
``hourglass.diagnose(source, baseline=...)`` (docs/semantics-friction.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hourglass.analyses.friction import friction_plan
from hourglass.engine.event_names import check_model_events
from hourglass.engine.plan import execute_plan
from hourglass.engine.run_lifecycle import as_of as last_time
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.interfaces.api import events as load
from hourglass.model.errors import SpecError
from hourglass.model.friction import FrictionResult, FrictionSpec
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.schema import ColumnMapping

__all__ = ["friction", "friction_spec"]


def friction_spec(
    model: str | JourneyModel = "hourglass",
    *,
    frictions: Sequence[str] | str | None = None,
    targets: Mapping[str, Any] | Sequence[str] | str | None = None,
    within: Any = None,
    period: str = "month",
    strata: Sequence[str] | str | None = ("channel", "cohort"),
    since: Any = None,
    until: Any = None,
    as_of: Any = None,
    config: Config | None = None,
) -> FrictionSpec:
    jm = model if isinstance(model, JourneyModel) else load_model(model, config or Config())
    return FrictionSpec.build(
        jm,
        frictions=frictions,
        targets=targets,
        within=within,
        period=period,
        strata=strata,
        since=since,
        until=until,
        as_of=as_of,
    )


def _check_customers_path(customers: str | Path | None) -> None:
    if customers is not None and Path(customers).suffix.lower() not in (".parquet", ".csv"):
        raise SpecError(
            f"--customers: write a .parquet or .csv file, not '{Path(customers).name}'",
            code="HG168",
            hint="e.g. --customers stalled.csv",
        )


def _write(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from hourglass.ingest.outputs import cannot_write

    cols = ["customer", "stage", "since", "days_in_stage", "threshold_days"]
    table = (
        pa.table({c: [r.get(c) for r in rows] for c in cols})
        if rows
        else pa.table(
            {c: pa.array([], pa.string() if c in ("customer", "stage") else pa.float64()) for c in cols}
        )
    )
    try:
        if path.suffix.lower() == ".csv":
            pacsv.write_csv(table, path)
        else:
            pq.write_table(table, path)
    except OSError as e:
        raise cannot_write(path, e.strerror or str(e), "--customers") from e


def friction(
    source: Any,
    model: str | JourneyModel = "hourglass",
    *,
    frictions: Sequence[str] | str | None = None,
    targets: Mapping[str, Any] | Sequence[str] | str | None = None,
    within: Any = None,
    period: str = "month",
    strata: Sequence[str] | str | None = ("channel", "cohort"),
    since: Any = None,
    until: Any = None,
    as_of: Any = None,
    customers: str | Path | None = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> FrictionResult:
    """Stalls per stage and the effect of each friction event on the step out of each stage
    (docs/semantics-friction.md). ``customers`` writes the customers stalled now (.csv/.parquet)."""
    cfg = config if isinstance(config, Config) else load_config(config)
    spec = friction_spec(
        model,
        frictions=frictions,
        targets=targets,
        within=within,
        period=period,
        strata=strata,
        since=since,
        until=until,
        as_of=as_of,
        config=cfg,
    )
    _check_customers_path(customers)
    started = time.perf_counter()
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    notes = check_model_events(ev, spec.model)
    now = last_time(ev, LifecycleSpec(model=spec.model, since=spec.since, until=spec.until, as_of=spec.as_of))
    meta: dict[str, Any] = {"notes": notes} if notes else {}
    plan = friction_plan(spec, ev.table, now, customers=customers is not None, meta=meta)
    result = execute_plan(ev.engine, plan)
    if customers is not None:
        _write(result.stalled, Path(customers))
        result.meta["customers_file"] = str(customers)
    result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return result
