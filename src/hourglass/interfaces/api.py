"""The Python API: ``hourglass.funnel(source, steps=[...])`` and friends. A thin layer that resolves
models and options, loads the source on an engine and returns result objects.

Imported without Ibis: a funnel of a small file that engine/quick.py answers never imports it
(issue 11); the engine's loading and running are imported by the functions that use them."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hourglass.engine import Engine, connect
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SchemaError, SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.results import FunnelResult
from hourglass.model.schema import ColumnMapping
from hourglass.model.spec import FunnelSpec
from hourglass.model.steps import Step

if TYPE_CHECKING:
    from hourglass.engine.load import Events
    from hourglass.ingest.validate import ValidationReport

__all__ = [
    "build_spec",
    "by_column",
    "checked_by_column",
    "events",
    "funnel",
    "funnel_inputs",
    "funnel_levels",
    "funnel_sql",
    "validate",
]

StepLike = str | Mapping[str, Any] | Step


def _mapping(columns: ColumnMapping | Mapping[str, Any] | None, config: Config | None) -> ColumnMapping:
    base = (config or Config()).columns
    if columns is None:
        return base
    given = columns if isinstance(columns, ColumnMapping) else ColumnMapping.from_dict(columns)
    return base.merged(given)


def _stage(jm: JourneyModel, name: str) -> Step:
    """A model's stage by name; ``name?`` is that stage as an optional step."""
    if len(name) > 1 and name.endswith("?"):
        return dataclasses.replace(jm.stage(name[:-1]), optional=True)
    return jm.stage(name)


def build_spec(
    steps: Sequence[StepLike] | None = None,
    *,
    model: str | JourneyModel | None = None,
    config: Config | None = None,
    **options: Any,
) -> FunnelSpec:
    """A FunnelSpec from steps (event names, dicts, Steps) or a model's stages (by name when both)."""
    if model is not None:
        jm = model if isinstance(model, JourneyModel) else load_model(model, config)
        if steps:
            chosen = [_stage(jm, s) if isinstance(s, str) else Step.of(s) for s in steps]
        else:
            chosen = list(jm.stages)
        return FunnelSpec.build(chosen, **options)
    if not steps:
        raise SpecError(
            "give the funnel's steps or a model",
            code="HG109",
            hint="give steps (--steps visit,signup / steps=[...]) or a model (--model hourglass)",
        )
    return FunnelSpec.build(list(steps), **options)


def events(
    source: Any,
    *,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
    validate: bool = True,
) -> Events:
    """Load and validate a source; reuse the result for several analyses."""
    from hourglass.engine import load_events
    from hourglass.engine.load import Events

    if isinstance(source, Events):
        return source
    cfg = config if isinstance(config, Config) else load_config(config)
    return load_events(
        connect(engine, config=cfg), source, _mapping(columns, cfg), table=table, validate=validate
    )


def by_column(ev: Events, by: str) -> str:
    """``by`` as a column of the canonical events: the source's name of a role column (``utm_source``
    read as the channel) is that role's column (``channel``)."""
    if by in ev.table.columns:
        return by
    for role, column in ev.report.roles.items():
        if column == by and role in ev.table.columns:
            return role
    return by


def checked_by_column(ev: Events, by: str, *, code: str) -> str:
    """:func:`by_column`, or the SchemaError ``code`` naming the source's columns when ``by`` is not
    one of them (nor a role column's source name)."""
    role = by_column(ev, by)
    if role not in ev.table.columns:
        raise SchemaError(
            f"--by: no column '{by}'{did_you_mean(by, ev.table.columns)}",
            code=code,
            hint="columns: " + ", ".join(ev.table.columns),
        )
    return role


def funnel(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    model: str | JourneyModel | None = None,
    window: str | int | float = "7d",
    mode: str = "ordered",
    open: bool = False,
    since: Any = None,
    until: Any = None,
    exclude: Sequence[str] | str = (),
    by: str | None = None,
    hold: str | None = None,
    count: str = "uniques",
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> FunnelResult:
    """A funnel (docs/semantics.md). ``source``: a path/glob, ``db.duckdb:table``, a pandas or Arrow
    table, an Ibis table, or the result of :func:`events`. A step named ``"signup?"`` (or a dict with
    ``optional: True``) is optional; ``hold="device"``: a chain's events share that column's value;
    ``count="totals"``: chains per step instead of customers."""
    started = time.perf_counter()
    given: dict[str, Any] = {
        "model": model,
        "config": config,
        "columns": columns,
        "engine": engine,
        "table": table,
        "window": window,
        "mode": mode,
        "open": open,
        "since": since,
        "until": until,
        "exclude": exclude,
        "by": by,
        "hold": hold,
        "count": count,
    }
    quick = _small_funnel(source, steps, **given)
    if quick is not None:  # a small CSV or Parquet file on DuckDB, answered without Ibis (engine/quick.py)
        quick.meta["seconds"] = round(time.perf_counter() - started, 3)
        return quick
    from hourglass.engine import run_funnel

    ev, spec, jm = _funnel_inputs(source, steps, **given)
    meta: dict[str, Any] = {}
    if isinstance(model, str):
        meta["model"] = model
    result = run_funnel(ev, spec, meta)
    from hourglass.engine.event_names import missing_event_notes

    if ev.report.rows == 0:
        notes = ["the source has no events (a header and no rows)"]
    else:  # typos and another shop's names: a step of no customers, an --exclude never seen
        notes = missing_event_notes(ev, spec, result, model=jm)
    if notes:
        result.meta["notes"] = notes
    result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _small_funnel(
    source: Any,
    steps: Sequence[StepLike] | None,
    *,
    model: str | JourneyModel | None,
    config: Config | str | None,
    columns: ColumnMapping | Mapping[str, Any] | None,
    engine: str | Engine | None,
    table: str | None,
    **options: Any,
) -> FunnelResult | None:
    """The funnel of a small CSV or Parquet file on the in-memory DuckDB engine without Ibis
    (engine/quick.py), or None when the usual load must answer (anything it would say more than the
    counts)."""
    from hourglass.engine.quick import small_funnel

    if not isinstance(source, str) or not isinstance(engine, str | None) or table is not None:
        return None
    cfg = config if isinstance(config, Config) else load_config(config)
    jm = load_model(model, cfg) if isinstance(model, str) else model
    spec = build_spec(steps, model=jm, config=cfg, **options)
    meta = {"model": model} if isinstance(model, str) else {}
    result: FunnelResult | None = small_funnel(
        source, spec, _mapping(columns, cfg), engine=engine or cfg.engine, table=table, meta=meta
    )
    return result


def _funnel_inputs(
    source: Any,
    steps: Sequence[StepLike] | None,
    *,
    model: str | JourneyModel | None,
    config: Config | str | None,
    columns: ColumnMapping | Mapping[str, Any] | None,
    engine: str | Engine | None,
    table: str | None,
    **options: Any,
) -> tuple[Events, FunnelSpec, JourneyModel | None]:
    """The loaded events, the spec (``by`` as a column of the events) and the model of a funnel."""
    cfg = config if isinstance(config, Config) else load_config(config)
    jm = load_model(model, cfg) if isinstance(model, str) else model
    spec = build_spec(steps, model=jm, config=cfg, **options)
    ev = events(source, columns=columns, engine=engine, table=table, config=cfg)
    for flag in ("by", "hold"):  # the source's name of a role column is the role's column
        column = getattr(spec, flag)
        if column and column != (role := by_column(ev, column)):
            column = role
            spec = (
                dataclasses.replace(spec, by=role) if flag == "by" else dataclasses.replace(spec, hold=role)
            )
        if column and column not in ev.table.columns:
            raise SpecError(
                f"--{flag}: no column '{column}'{did_you_mean(column, ev.table.columns)}",
                code="HG306",
                hint="columns: " + ", ".join(ev.table.columns),
            )
    return ev, spec, jm


def funnel_inputs(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    model: str | JourneyModel | None = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
    **options: Any,
) -> tuple[Events, FunnelSpec]:
    """The loaded, validated events and the checked spec of a funnel (the options of :func:`funnel`):
    what the funnel's views (``hourglass funnel --view``) start from."""
    ev, spec, _ = _funnel_inputs(
        source, steps, model=model, config=config, columns=columns, engine=engine, table=table, **options
    )
    return ev, spec


def funnel_levels(
    source: Any, steps: Sequence[StepLike] | None = None, *, by: str | None = None, **kwargs: Any
) -> Any:
    """Per-customer levels as a pandas DataFrame (``customer``, ``level``; an open funnel: its
    ``r{j}``/``k{j}`` flags). With ``by`` (a column, or a role column's source name), also ``by``:
    the customer's value of that column, the group :func:`funnel` counts him in."""
    from hourglass.engine import run_funnel_levels

    load = {k: kwargs.pop(k) for k in ("columns", "engine", "table", "config") if k in kwargs}
    model = kwargs.pop("model", None)
    cfg = load.get("config")
    if not isinstance(cfg, Config):
        cfg = load["config"] = load_config(cfg)
    ev = events(source, **load)
    if by is not None:
        by = checked_by_column(ev, by, code="HG306")
    spec = build_spec(steps, model=model, config=cfg, by=by, **kwargs)
    if by is None:
        return run_funnel_levels(ev, spec)
    from hourglass.analyses import funnel_plan

    per = funnel_plan(spec, ev.table).customers
    columns = [c for c in per.columns if c != "by"] if spec.open else ["customer", "level"]
    return ev.engine.execute(per.select(*columns, "by"))


def funnel_sql(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    dialect: str = "duckdb",
    table_name: str | None = "events",
    **kwargs: Any,
) -> str:
    """The SQL of a funnel for a dialect (duckdb, pyspark, clickhouse, postgres, ...). It reads the
    source as a table named ``table_name`` with the source's columns (``None``: the name hourglass
    gave the source in its own session)."""
    from hourglass.analyses import funnel_plan
    from hourglass.engine import to_sql

    load = {k: kwargs.pop(k) for k in ("columns", "engine", "table", "config") if k in kwargs}
    model = kwargs.pop("model", None)
    spec = build_spec(steps, model=model, **kwargs)
    ev = events(source, validate=False, **load)
    return to_sql(funnel_plan(spec, ev.table).summary, dialect, table_name)


def validate(
    source: Any,
    *,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | Engine | None = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> ValidationReport:
    """Every problem of a source at once (never raises for bad rows; read ``report.ok``)."""
    from hourglass.engine import validate_source

    cfg = config if isinstance(config, Config) else load_config(config)
    report, _ = validate_source(connect(engine, config=cfg), source, _mapping(columns, cfg), table=table)
    return report
