"""The Python API of friction and diagnose: ``hourglass.friction(source, frictions=[...])`` and
``hourglass.diagnose(source, baseline=...)`` (docs/semantics-friction.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hourglass.analyses.diagnose import diagnose_plan
from hourglass.analyses.friction import friction_plan
from hourglass.engine.event_names import check_model_events
from hourglass.engine.plan import execute_plan
from hourglass.engine.run_lifecycle import as_of as last_time
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.interfaces.api import by_column as resolve_by
from hourglass.interfaces.api import events as load
from hourglass.model._suggest import did_you_mean
from hourglass.model.diagnose import DiagnoseResult, DiagnoseSpec
from hourglass.model.errors import SchemaError, SpecError
from hourglass.model.friction import FrictionResult, FrictionSpec
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.schema import ColumnMapping

__all__ = ["diagnose", "friction", "friction_spec"]


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
    min_group: int = 10,
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
        min_group=min_group,
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
    min_group: int = 10,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> FrictionResult:
    """Stalls per stage and the effect of each friction event on the step out of each stage
    (docs/semantics-friction.md). ``customers`` writes the customers stalled now (.csv/.parquet);
    with fewer than ``min_group`` customers with (or without) a friction, its interval and p-value
    are null with the reason."""
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
        min_group=min_group,
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


def diagnose(
    source: Any,
    model: str | JourneyModel = "hourglass",
    *,
    since: Any = None,
    until: Any = None,
    baseline: str | Sequence[Any] | None = None,
    by: str | None = None,
    goal: str | None = None,
    alpha: float = 0.05,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> DiagnoseResult:
    """The weak stages of ``model`` in ``[since, until)``, ranked by customers and revenue lost,
    compared with the ``baseline`` period (``"SINCE..UNTIL"``) or across the values of ``by``
    (two-proportion tests, Benjamini-Hochberg at ``alpha``); findings as sentences with the seeds'
    remedies (docs/semantics-friction.md, "Diagnose")."""
    cfg = config if isinstance(config, Config) else load_config(config)
    jm = model if isinstance(model, JourneyModel) else load_model(model, cfg)
    if goal is not None:
        import dataclasses

        jm.stage(goal)
        jm = dataclasses.replace(jm, sale=goal)
    spec = DiagnoseSpec.build(jm, since=since, until=until, baseline=baseline, by=by, alpha=alpha)
    started = time.perf_counter()
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    notes = check_model_events(ev, spec.model)
    column = None
    if by is not None:
        column = resolve_by(ev, by)
        if column not in ev.table.columns:
            raise SchemaError(
                f"--by: no column '{by}'{did_you_mean(by, ev.table.columns)}",
                code="HG306",
                hint="columns: " + ", ".join(ev.table.columns),
            )
    now = last_time(ev, LifecycleSpec(model=spec.model, since=spec.since, until=spec.until))
    meta: dict[str, Any] = {"notes": notes} if notes else {}
    result = execute_plan(ev.engine, diagnose_plan(spec, ev.table, now, by_column=column, meta=meta))
    result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return result
