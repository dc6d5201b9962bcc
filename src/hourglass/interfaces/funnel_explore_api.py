"""The funnel explained, as a Python API (docs/semantics-funnel-explore.md):
``hourglass.funnel_dropoff_paths`` (what the customers who dropped after a step did instead, or
what those who went on did between the steps), ``hourglass.funnel_correlation`` (which events and
property values before the drop-off point go with converting or dropping) and
:func:`funnel_explore_people` (the customers behind one path or one item)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from hourglass.analyses.funnel_correlation import (
    EVENT,
    correlation_plan,
    default_columns,
    explain_plan,
    item_people,
)
from hourglass.analyses.funnel_paths import path_people, paths_plan
from hourglass.analyses.funnel_trend import SharedChains
from hourglass.engine.load import Events
from hourglass.engine.plan import execute_plan
from hourglass.ingest.config import Config, load_config
from hourglass.interfaces.api import StepLike, build_spec, by_column, checked_by_column, events
from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SchemaError, SpecError
from hourglass.model.funnel_explore import VIEWS, ExploreOptions, FunnelCorrelation, FunnelPaths
from hourglass.model.spec import FunnelSpec

__all__ = [
    "explore_properties",
    "funnel_correlation",
    "funnel_dropoff_paths",
    "funnel_explore_part_of",
    "funnel_explore_people",
    "largest_loss_at",
    "prepare",
]

_LOAD = ("columns", "engine", "table", "config")
_OPTIONS = ("at", "to", "depth", "top", "max_values", "max_events")


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    load = {k: kwargs.pop(k) for k in _LOAD if k in kwargs}
    opts = {k: kwargs.pop(k) for k in _OPTIONS if k in kwargs and kwargs[k] is not None}
    for k in _OPTIONS:
        kwargs.pop(k, None)
    return load, opts, kwargs


def prepare(
    source: Any, steps: Sequence[StepLike] | None, kwargs: dict[str, Any]
) -> tuple[Events, FunnelSpec, ExploreOptions]:
    """The loaded events, the funnel spec (the same options as ``hourglass.funnel``) and the
    explore options, checked against each other (HG151, HG152)."""
    load, opts, funnel_options = _split(dict(kwargs))
    cfg = load.get("config")
    if not isinstance(cfg, Config):
        cfg = load["config"] = load_config(cfg)
    model = funnel_options.pop("model", None)
    by = funnel_options.pop("by", None)
    ev = events(source, **load)
    if by is not None:
        by = checked_by_column(ev, by, code="HG306")
    spec = build_spec(steps, model=model, config=cfg, by=by, **funnel_options)
    options = ExploreOptions(**opts)
    options.check(spec)
    return ev, spec, options


def explore_properties(ev: Events, properties: Sequence[str] | str | None) -> tuple[str, ...]:
    """The correlation's property columns: the given ones (a source's name of a role column is
    that role's column; HG153 for a column the events do not have), else :func:`default_columns`."""
    if properties is None:
        return default_columns(ev.table)
    given = [properties] if isinstance(properties, str) else list(properties)
    out = []
    for c in given:
        role = by_column(ev, c)
        if role not in ev.table.columns or role in ("customer", "timestamp"):
            usable = [x for x in ev.table.columns if x not in ("customer", "event", "timestamp")]
            raise SchemaError(
                f"--properties: the events have no property column '{c}'{did_you_mean(c, usable)}",
                code="HG153",
                hint="property columns: " + ", ".join(usable)
                if usable
                else "the source has only customer, event and timestamp: drop --properties",
            )
        if role != "event":
            out.append(role)
    return tuple(dict.fromkeys(out))


def _meta(ev: Events, spec: FunnelSpec, options: ExploreOptions, started: float) -> dict[str, Any]:
    return {
        "engine": ev.engine.name,
        "spec": spec.describe(),
        "explore": options.describe(),
        "source": ev.report.source,
        "duplicates_collapsed": ev.report.duplicates_collapsed,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _view(view: str) -> str:
    if view not in VIEWS[:2]:
        raise SpecError(
            f"view '{view}' is not a paths view{did_you_mean(view, VIEWS[:2])}",
            code="HG154",
            hint="give view='dropoff' (what the customers who dropped did instead) or view='between'",
        )
    return view


def funnel_dropoff_paths(
    source: Any, steps: Sequence[StepLike] | None = None, *, view: str = "dropoff", **kwargs: Any
) -> FunnelPaths:
    """The top paths of the customers who reached step ``at`` and not the next one, from their
    step-``at`` event on (``view="dropoff"``), or of those who went on, between the two steps
    (``view="between"``): ``depth`` events deep, the ``top`` most common. Takes ``hourglass.funnel``'s
    options (``model``, ``window``, ``mode``, ``since``, ``until``, ``exclude``, ``hold``, ``by``
    with ``group``: one group's customers) and ``at``, ``depth``, ``top``."""
    started = time.perf_counter()
    group = kwargs.pop("group", ...)
    _view(view)
    ev, spec, options = prepare(source, steps, kwargs)
    return run_paths(ev, spec, options, view, group, started=started)


def run_paths(
    ev: Events,
    spec: FunnelSpec,
    options: ExploreOptions,
    view: str,
    group: object = ...,
    *,
    started: float | None = None,
) -> FunnelPaths:
    """:func:`funnel_dropoff_paths` on loaded events and a checked spec (the CLI's and the
    dashboard's entry)."""
    started = time.perf_counter() if started is None else started
    _view(view)
    options = options.resolved(spec)
    if group is not ... and spec.by is None:
        raise SpecError("group: the funnel has no breakdown", code="HG154", hint="give by=COLUMN with group")
    result = execute_plan(ev.engine, paths_plan(spec, ev.table, options, view, group))
    result.meta.update(_meta(ev, spec, options, started))
    return result


def funnel_correlation(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    properties: Sequence[str] | str | None = None,
    **kwargs: Any,
) -> FunnelCorrelation:
    """The events and property values (``properties``; default: every text or true/false property
    column, ``channel`` among them) whose presence before the drop-off point goes with converting
    from step ``at`` to step ``to`` (default the next; ``at=1, to=n``: the whole funnel), with
    their 2x2 tables, odds ratios with 95% intervals and Benjamini-Hochberg corrected p-values,
    ranked. Takes ``hourglass.funnel``'s options and ``max_values``, ``max_events``."""
    started = time.perf_counter()
    ev, spec, options = prepare(source, steps, kwargs)
    return run_correlation(ev, spec, options, properties, started=started)


def run_correlation(
    ev: Events,
    spec: FunnelSpec,
    options: ExploreOptions,
    properties: Sequence[str] | str | None = None,
    *,
    started: float | None = None,
) -> FunnelCorrelation:
    """:func:`funnel_correlation` on loaded events and a checked spec."""
    started = time.perf_counter() if started is None else started
    options = options.resolved(spec)
    cols = explore_properties(ev, properties)
    result = execute_plan(ev.engine, correlation_plan(spec, ev.table, options, cols))
    result.meta.update(_meta(ev, spec, options, started))
    return result


def funnel_explore_people(
    source: Any,
    steps: Sequence[StepLike] | None = None,
    *,
    view: str,
    path: Sequence[str] | None = None,
    ended: bool = True,
    item: tuple[str, str] | Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    """The customers behind one number, as a pandas DataFrame by customer: a path of the
    ``dropoff`` or ``between`` view (``path``: its events, ``ended``: whether it ends there;
    columns ``customer``, ``events``), or an item of the ``correlation`` view (``item``:
    ``(kind, value)``, kind ``event`` or a column; columns ``customer``, ``converted``)."""
    group = kwargs.pop("group", ...)
    ev, spec, options = prepare(source, steps, kwargs)
    if view == "correlation":
        if item is None:
            raise SpecError(
                "item: say which item", code="HG154", hint="give item=('event', NAME) or (COLUMN, VALUE)"
            )
        kind, value = (item["kind"], item["value"]) if isinstance(item, Mapping) else item
        cols = () if kind == EVENT else explore_properties(ev, [kind])
        expr = item_people(spec, ev.table, options, cols, cols[0] if cols else EVENT, str(value))
        return ev.engine.execute(expr)
    _view(view)
    if path is None:
        raise SpecError("path: say which path", code="HG154", hint="give path=[EVENT, ...] ([] for no event)")
    if len(path) > options.depth:
        raise SpecError(
            f"path: {len(path)} events, more than --depth {options.depth}",
            code="HG154",
            hint="give at most depth events, or a larger depth",
        )
    return ev.engine.execute(path_people(spec, ev.table, options, view, list(path), ended, group))


def largest_loss_at(result: Any, optional: Sequence[bool] = ()) -> int | None:
    """The required step K (1-based) after which the funnel lost the most customers by the next
    required step L (``customers(K) - customers(L)``, ties: the earlier step; the report's "largest
    loss"; ``optional``: which steps are optional), None when no step has a next one or nobody was
    lost."""
    counts = [s.customers for s in result.steps]
    req = [k for k in range(len(counts)) if not (k < len(optional) and optional[k])]
    losses = [(counts[a] - counts[b], -a) for a, b in pairwise(req)]
    if not losses or max(losses)[0] <= 0:
        return None
    return -max(losses)[1] + 1


def funnel_explore_part_of(
    ev: Events,
    key: str,
    jm: Any,
    result: Any,
    window: str,
    since: Any,
    until: Any,
    cfg: Config,
    chain: SharedChains | None = None,
    **funnel_options: Any,
) -> Any:
    """The report's "why customers drop" part (``reports/_funnel_explore.py``) of the main model's
    funnel ``result``: at its largest loss, the drop-off paths and the correlation. None when no
    step lost anyone; the views' HourglassError (HG152) when the model cannot be explored.
    ``funnel_options``: the funnel's other options (``hold``, ``count``, ...), as it was run;
    ``chain``: its best chains when the report's funnel over time computes them too."""
    from hourglass.interfaces.reports._funnel_explore import funnel_explore_part

    at = largest_loss_at(result, [bool(getattr(s, "optional", False)) for s in jm.stages])
    if at is None:
        return None
    spec = build_spec(None, model=jm, config=cfg, window=window, since=since, until=until, **funnel_options)
    options = ExploreOptions(at=at, depth=3, top=8)
    dropoff, correlation = execute_plan(
        ev.engine, explain_plan(spec, ev.table, options, explore_properties(ev, None), best=chain)
    )
    return funnel_explore_part(
        dropoff.to_dict(), correlation.to_dict(), jm.label or jm.name or key, hold=spec.hold
    )
