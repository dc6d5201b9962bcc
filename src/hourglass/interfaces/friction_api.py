"""The Python API of friction and diagnose: ``hourglass.friction(source, frictions=[...])`` and
``hourglass.diagnose(source, baseline=...)`` (docs/semantics-friction.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hourglass.analyses.diagnose import diagnose_plan
from hourglass.analyses.friction import friction_plan
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.analyses.transition_fit import fit_plan, observed_plan
from hourglass.engine.event_names import check_model_events
from hourglass.engine.load import Events
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
from hourglass.model.whatif import (
    FrictionEffect,
    Scenario,
    WhatIfResult,
    WhatIfSpec,
    backtest_errors,
    forecast,
    period_index,
    period_label,
    period_start,
    simulate,
)

__all__ = ["diagnose", "friction", "friction_and_diagnose", "friction_spec", "whatif"]


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

    from hourglass.ingest.outputs import atomic_open

    cols = ["customer", "stage", "since", "days_in_stage", "threshold_days"]
    table = (
        pa.table({c: [r.get(c) for r in rows] for c in cols})
        if rows
        else pa.table(
            {c: pa.array([], pa.string() if c in ("customer", "stage") else pa.float64()) for c in cols}
        )
    )
    with atomic_open(path, "wb", option="--customers") as out:  # whole or not at all (HG425)
        if path.suffix.lower() == ".csv":
            pacsv.write_csv(table, out)
        else:
            pq.write_table(table, out)


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


def friction_and_diagnose(
    ev: Events,
    model: JourneyModel,
    *,
    frictions: Sequence[str] | None = None,
    since: Any = None,
    until: Any = None,
) -> tuple[FrictionResult, DiagnoseResult] | None:
    """:func:`friction` (of ``frictions``) and :func:`diagnose` of ``model`` in ``[since, until)`` on
    loaded events, their other options at the defaults, in one plan: the model's check, the log's
    last time and the stage table computed once for both (the report's friction section; each alone
    computes them again). None when the two would not read the same stage table (then call each)."""
    fspec = friction_spec(model, frictions=frictions, since=since, until=until)
    dspec = DiagnoseSpec.build(model, since=since, until=until)
    period = LifecycleSpec(model=fspec.model, since=fspec.since, until=fspec.until, as_of=fspec.as_of)
    if period != LifecycleSpec(model=dspec.model, since=dspec.since, until=dspec.until):
        return None
    started = time.perf_counter()
    notes = check_model_events(ev, fspec.model)
    now = last_time(ev, period)
    fplan = friction_plan(fspec, ev.table, now, meta={"notes": notes} if notes else {})
    dplan = diagnose_plan(dspec, ev.table, now, meta={"notes": notes} if notes else {})

    def build(materialize: Materialize) -> dict[str, Any]:
        # the two plans' stage tables are one expression: the backend materialises it once
        return {f"f:{k}": v for k, v in fplan.build(materialize).items()} | {
            f"d:{k}": v for k, v in dplan.build(materialize).items()
        }

    def assemble(rows: Rows) -> tuple[FrictionResult, DiagnoseResult]:
        def part(prefix: str) -> Rows:
            return {k.removeprefix(prefix): v for k, v in rows.items() if k.startswith(prefix)}

        return fplan.assemble(part("f:")), dplan.assemble(part("d:"))

    found, diagnosed = execute_plan(ev.engine, Plan(build, assemble))
    for result in (found, diagnosed):
        result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return found, diagnosed


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


def _bounds(ev: Any, since: Any, until: Any) -> tuple[Any, Any]:
    """The first and last event times of the range (naive datetimes; None without events)."""
    from hourglass.analyses._match import in_period

    t = in_period(ev.table, since, until)
    row = execute_plan(
        ev.engine,
        Plan.of({"b": t.aggregate(lo=t.timestamp.min(), hi=t.timestamp.max())}, lambda r: r["b"][0]),
    )

    def plain(v: Any) -> Any:
        if v is None:
            return None
        if hasattr(v, "to_pydatetime"):
            v = v.to_pydatetime()
        return v.replace(tzinfo=None)

    return plain(row.get("lo")), plain(row.get("hi"))


def whatif(
    source: Any,
    model: str | JourneyModel = "hourglass",
    *,
    changes: Sequence[str] = (),
    horizon: Any = 12,
    period: str = "month",
    runs: int = 200,
    seed: int = 0,
    rank: bool = False,
    rank_size: float = 10.0,
    frictions: Sequence[str] | str | None = None,
    since: Any = None,
    until: Any = None,
    goal: str | None = None,
    backtest: bool = True,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> WhatIfResult:
    """Fit the stage-transition model on the full periods of the log, back-test it (fit on the first
    two thirds, forecast the rest), and forecast ``horizon`` periods of new customers, purchasers,
    revenue and referred customers, baseline vs the scenario of ``changes`` ("trial->sale +10%",
    "friction late_delivery -50%", "spend ads +20%"), with seeded 90% simulation bands; ``rank``
    tries every stage's steps and every friction at ``rank_size`` percent (docs/semantics-friction.md,
    "What-if")."""
    cfg = config if isinstance(config, Config) else load_config(config)
    jm = model if isinstance(model, JourneyModel) else load_model(model, cfg)
    if goal is not None:
        import dataclasses

        jm.stage(goal)
        jm = dataclasses.replace(jm, sale=goal)
    spec = WhatIfSpec.build(
        jm,
        changes=changes,
        horizon=horizon,
        period=period,
        runs=runs,
        seed=seed,
        rank=rank,
        rank_size=rank_size,
        frictions=frictions,
        since=since,
        until=until,
        backtest=backtest,
    )
    started = time.perf_counter()
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    notes = check_model_events(ev, spec.model)
    lo, hi = _bounds(ev, spec.since, spec.until)
    if lo is None or hi is None:
        raise SpecError("what-if: no events in the range", code="HG174", hint="widen --since/--until")
    from datetime import timedelta

    start = spec.since or lo
    end = spec.until or hi + timedelta(microseconds=1)
    first, T = period_index(start, spec.period), period_index(end, spec.period)
    if T - first < 2:
        raise SpecError(
            f"what-if needs two or more full {spec.period}s of events; the range has {max(0, T - first)}",
            code="HG174",
            hint="give a longer log, or --period week",
        )
    cut = period_start(T, spec.period)

    def fitted(t_end: int) -> Any:
        return execute_plan(
            ev.engine,
            fit_plan(
                spec.model,
                ev.table,
                since=spec.since,
                until=period_start(t_end, spec.period),
                period=spec.period,
                first=first,
                T=t_end,
            ),
        )

    fit = fitted(T)
    effects: list[FrictionEffect] = []
    reasons: dict[str, str] = {}
    if spec.frictions:
        fspec = FrictionSpec.build(spec.model, frictions=spec.frictions, since=spec.since, until=cut)
        fres = execute_plan(ev.engine, friction_plan(fspec, ev.table, cut))
        names = [s.name for s in spec.model.stages]
        for r in fres.frictions:
            d, n1, n0 = r.get("difference"), r.get("exposed"), r.get("unexposed")
            if d is None or not r.get("stage") or not n1 or n0 is None:
                continue
            conv = (r["converted_exposed"] + r["converted_unexposed"]) / (n1 + n0)
            effects.append(
                FrictionEffect(r["friction"], names.index(r["stage"]) + 1, d, n1 / (n1 + n0), conv)
            )
    bt: dict[str, Any] | None = None
    if spec.backtest and T - first >= 3:
        hb = max(1, (T - first) // 3)
        tb = T - hb
        fit_b = fitted(tb)
        sim = simulate(fit_b, Scenario(), hb, spec.runs, spec.seed)
        observed = execute_plan(
            ev.engine, observed_plan(spec.model, ev.table, since=spec.since, until=cut, period=spec.period)
        )
        periods = [period_label(p, spec.period) for p in range(tb, T)]
        obs = {m: [observed[m].get(p, 0.0) for p in range(tb, T)] for m in observed}
        bt = backtest_errors(sim, obs, periods, fit.has_revenue)
        bt["fit_until"] = period_start(tb, spec.period).isoformat()
    elif spec.backtest:
        reasons["backtest"] = f"a back-test needs three or more full {spec.period}s (fit on two thirds)"
    meta: dict[str, Any] = {"notes": notes} if notes else {}
    meta["fit_range"] = [period_start(first, spec.period).isoformat(), cut.isoformat()]
    meta["effects"] = [e.__dict__ for e in effects]
    result = forecast(spec, fit, effects, backtest=bt, reasons=reasons, meta=meta)
    result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return result
