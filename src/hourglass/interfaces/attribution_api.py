"""The Python API of multi-touch attribution: ``hourglass.attribution(source, conversion="sale")``
(docs/semantics-attribution.md)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from hourglass.analyses.attribution import attribution_plan, channel_touches
from hourglass.engine.event_names import top_event_names
from hourglass.engine.plan import execute_plan, rows_of
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.ingest.spend import read_spend
from hourglass.interfaces.api import events as load
from hourglass.model.attribution import CONVERSION_KINDS, OTHER, AttributionSpec, conversion_step
from hourglass.model.attribution_result import AttributionResult
from hourglass.model.journey import JourneyModel
from hourglass.model.schema import ColumnMapping

__all__ = ["attribution", "attribution_spec"]


def attribution_spec(**options: Any) -> AttributionSpec:
    """The spec from user values (``lookback="30d"``, ``position="0.4,0.2,0.4"``, ...)."""
    return AttributionSpec.build(**options)


def _costs(spend: Any, spec: AttributionSpec) -> dict[str, float] | None:
    if spend is None:
        return None
    table = read_spend(spend)
    costs: dict[str, float] = {}
    for r in table.within(spec.since, spec.until):
        costs[r.channel] = costs.get(r.channel, 0.0) + r.cost
    return costs


def attribution(
    source: Any,
    model: str | JourneyModel = "hourglass",
    *,
    conversion: str = "sale",
    touch_events: str | Sequence[str] | None = None,
    lookback: str | int | float = "30d",
    half_life: str | int | float = "7d",
    position: str | Sequence[float] | None = None,
    direct: str | Sequence[str] | None = None,
    markov_order: int = 1,
    channel_column: str | None = None,
    referral_event: str | None = None,
    max_channels: int | None = None,
    stages: bool = False,
    credit_model: str | None = None,
    spend: Any = None,
    since: Any = None,
    until: Any = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> AttributionResult:
    """Credit the conversions of ``source`` (``sale``: the model's sale stage; ``repeat``: repeat
    purchases; ``referral``: referral events; or a stage or event name) to the channel touches before
    them under every model side by side (docs/semantics-attribution.md). ``spend`` (a CSV of channel,
    period, cost) adds the cost per attributed conversion and the ROI of each channel per model.
    ``stages`` (implied by ``credit_model``) adds the hourglass stages per channel: each stage's
    customers credited to the channels that touched them before they entered it, under
    ``credit_model`` (default ``shapley``)."""
    cfg = config if isinstance(config, Config) else load_config(config)
    jm = model if isinstance(model, JourneyModel) else load_model(model, cfg)
    spec = AttributionSpec.build(
        conversion=conversion,
        touch_events=touch_events,
        lookback=lookback,
        half_life=half_life,
        position=position,
        direct=direct,
        markov_order=markov_order,
        channel_column=channel_column,
        referral_event=referral_event,
        max_channels=max_channels,
        since=since,
        until=until,
        stages=stages or None,
        credit_model=credit_model,
    )
    costs = _costs(spend, spec)  # a bad spend table fails before any query
    started = time.perf_counter()
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    names: list[str] = []
    if spec.conversion not in CONVERSION_KINDS and spec.conversion not in {s.name for s in jm.stages}:
        names = [n for n, _ in top_event_names(ev)]
    conv = conversion_step(
        spec,
        stages=jm.stages,
        sale=jm.sale,
        purchase=jm.purchase_step,
        model_name=jm.name,
        event_names=names,
    )
    counts = rows_of(ev.engine, channel_touches(spec, ev.table))
    ranked = sorted(counts, key=lambda r: (-int(r["touches"]), str(r["channel"])))
    keep: list[str] | None = None
    pooled: list[str] = []
    if len(ranked) > spec.max_channels:
        keep = [str(r["channel"]) for r in ranked[: spec.max_channels]]
        pooled = sorted(str(r["channel"]) for r in ranked[spec.max_channels :])
        if costs is not None:
            pooled_cost = sum(costs.pop(c) for c in list(costs) if c in pooled)
            if pooled_cost:
                costs[OTHER] = costs.get(OTHER, 0.0) + pooled_cost
    notes: list[str] = []
    if pooled:
        notes.append(
            f"{len(pooled)} channels with the fewest touches are pooled as {OTHER}: " + ", ".join(pooled[:10])
        )
    meta: dict[str, Any] = {"model": jm.name, "notes": notes}
    plan = attribution_plan(
        spec, ev.table, conv, keep=keep, costs=costs, pooled=pooled, meta=meta, stages=jm.stages
    )
    result = execute_plan(ev.engine, plan)
    if result.conversions == 0:
        notes.append(
            f"no conversion ({conv.name}: events {', '.join(conv.step.events)}) in the range: "
            "every credit is 0"
        )
    meta["seconds"] = round(time.perf_counter() - started, 3)
    return dataclasses.replace(result, meta=meta)
