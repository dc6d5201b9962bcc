"""The Python API of the flywheel's momentum: ``hourglass.flywheel(source, period="month")``
(docs/semantics-flywheel.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from hourglass.analyses.growth import growth_queries
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.engine.plan import execute_plan
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.ingest.spend import read_spend
from hourglass.interfaces.api import by_column
from hourglass.interfaces.api import events as load
from hourglass.model._suggest import did_you_mean
from hourglass.model.channels import Spend
from hourglass.model.errors import SchemaError, SpecError
from hourglass.model.flywheel_result import (
    NO_CHANNEL,
    NO_PURCHASES,
    NO_REFERRER,
    NO_REVENUE,
    NO_SALE,
    NO_SPEND,
    NO_WOM,
    FlywheelResult,
    assemble_flywheel,
)
from hourglass.model.growth import GrowthSpec, word_of_mouth_stage
from hourglass.model.journey import JourneyModel
from hourglass.model.referrals import sale_definition
from hourglass.model.schema import ColumnMapping

__all__ = ["flywheel", "flywheel_plan"]


def flywheel_plan(
    ev: Any,
    spec: GrowthSpec,
    model: JourneyModel,
    *,
    spend: Spend | None = None,
    channel_column: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Plan[FlywheelResult]:
    """The plan (named Ibis expressions and the pure assemble) on loaded events ``ev``."""
    t = ev.table
    cols = t.columns
    if spec.by is not None and spec.by not in cols:
        raise SchemaError(
            f"--by: no column '{spec.by}'{did_you_mean(spec.by, cols)}",
            code="HG306",
            hint="columns: " + ", ".join(cols),
        )
    if spec.referee_column is not None and spec.referee_column not in cols:
        raise SchemaError(
            f"the referee column '{spec.referee_column}' is not a column of the events"
            f"{did_you_mean(spec.referee_column, cols)}",
            code="HG341",
            hint="columns: " + ", ".join(cols),
        )
    channel = channel_column or "channel"
    if channel_column is not None and channel_column not in cols:
        raise SchemaError(
            f"the channel column '{channel_column}' is not a column of the events"
            f"{did_you_mean(channel_column, cols)}",
            code="HG342",
            hint="columns: " + ", ".join(cols),
        )
    activity = spec.activity_step(model)
    reasons: dict[str, str] = {}
    if "revenue" not in cols:
        reasons["revenue"] = NO_REVENUE
    if "referrer" not in cols and spec.referral_event is None:
        reasons["referrals"] = NO_REFERRER
    wom = word_of_mouth_stage(model, spec.word_of_mouth_stage)
    if wom is None:
        reasons["word_of_mouth"] = NO_WOM
    paid: tuple[str, ...] | None = None
    if spend is None:
        reasons["paid"] = NO_SPEND
    elif channel not in cols:
        reasons["paid"] = NO_CHANNEL
    else:
        paid = tuple(sorted({r.channel for r in spend.within(spec.since, spec.until)}))
    purchase = model.purchase_step
    if purchase is None:
        reasons["purchases"] = NO_PURCHASES
    try:
        sale = sale_definition(model)
    except SpecError:  # HG140: no purchasers; the K-factor is not measured, the rest is
        sale = None
        reasons["sale"] = NO_SALE
    info = dict(meta or {})
    info.update(spec.describe())
    info.update(
        model=model.name,
        activity_from=spec.activity_described(model),
        purchasers_from=sale.described if sale else None,
        word_of_mouth_stage=wom.name if wom else None,
        paid_channels=list(paid) if paid is not None else None,
        engine=getattr(getattr(ev, "engine", None), "name", None),
    )

    def build(materialize: Materialize) -> Mapping[str, Any]:
        return growth_queries(
            spec,
            t,
            materialize,
            activity=activity,
            sale=sale.step if sale else None,
            purchase=purchase,
            word_of_mouth=wom,
            paid_channels=paid,
            channel_column=channel if paid is not None else None,
            referrals="referrals" not in reasons,
        )

    def assemble(rows: Rows) -> FlywheelResult:
        return assemble_flywheel(rows, spec, reasons, info)

    return Plan(build, assemble)


def flywheel(
    source: Any,
    model: str | JourneyModel = "hourglass",
    *,
    period: str = "month",
    activity: str = "all",
    activity_events: Sequence[str] | str | None = None,
    new: str = "first-activity",
    since: Any = None,
    until: Any = None,
    by: str | None = None,
    spend: Any = None,
    channel_column: str | None = None,
    referral_event: str | None = None,
    referee_column: str | None = None,
    word_of_mouth_stage: str | None = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> FlywheelResult:
    """The flywheel's momentum per period (docs/semantics-flywheel.md): growth accounting on customers
    (new, retained, resurrected, churned, quick ratio) and revenue (new, retained, expansion,
    contraction, resurrected, churned, revenue quick ratio, net revenue retention), the loop's share
    of new customers (referred, word of mouth, paid with ``spend``, organic), first-purchase vs repeat
    revenue, K-factor, cycle time and the viral curve they imply. ``activity``: ``all`` or
    ``purchases``, or ``activity_events`` (names or globs); ``new``: ``first-activity`` or
    ``first-seen``; ``by``: a column, per value at the customer's first event (top 10 and
    "(other)"). A part the data cannot give is null with a ``<key>_reason``."""
    cfg = config if isinstance(config, Config) else load_config(config)
    spec = GrowthSpec.build(
        period=period,
        activity=activity,
        activity_events=activity_events,
        new=new,
        since=since,
        until=until,
        referral_event=referral_event,
        referee_column=referee_column,
        word_of_mouth_stage=word_of_mouth_stage,
    )
    jm = model if isinstance(model, JourneyModel) else load_model(model, cfg)
    spend_table = None if spend is None else (spend if isinstance(spend, Spend) else read_spend(spend))
    started = time.perf_counter()
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    if by is not None:
        from dataclasses import replace

        spec = replace(spec, by=by_column(ev, by))
    meta: dict[str, Any] = {"source": source if isinstance(source, str) else type(source).__name__}
    if isinstance(model, str):
        meta["model_source"] = model
    if spend_table is not None:
        meta["spend"] = spend_table.source
    result = execute_plan(
        ev.engine, flywheel_plan(ev, spec, jm, spend=spend_table, channel_column=channel_column, meta=meta)
    )
    result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return result
