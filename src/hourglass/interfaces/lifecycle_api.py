"""The Python API of the hourglass lifecycle: ``hourglass.lifecycle(source, model="hourglass")``."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from hourglass.engine.bound import bound
from hourglass.engine.event_names import check_model_events
from hourglass.engine.range_frames import stage_frame
from hourglass.engine.run_lifecycle import lifecycle_customers, run_lifecycle
from hourglass.engine.run_referrals import referrals_and_channels, run_channels, run_referrals
from hourglass.engine.second_connection import beside
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.interfaces.api import by_column
from hourglass.interfaces.api import events as load
from hourglass.model._suggest import did_you_mean
from hourglass.model.channels import NEED_PURCHASERS, ChannelResult
from hourglass.model.errors import SchemaError, SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle import AfterSaleSpec, LifecycleSpec
from hourglass.model.lifecycle_result import LifecycleResult
from hourglass.model.schema import ColumnMapping

__all__ = ["lifecycle", "lifecycle_frame", "lifecycle_spec", "lifecycle_table"]


def lifecycle_spec(
    model: str | JourneyModel = "hourglass",
    *,
    since: Any = None,
    until: Any = None,
    as_of: Any = None,
    after_sale: Mapping[str, Any] | AfterSaleSpec | None = None,
    sale_stage: str | None = None,
    config: Config | None = None,
    goal: str | None = None,
) -> LifecycleSpec:
    """The spec: a model (preset name, model file or JourneyModel), the range and the after-sale
    events (the config's ``[lifecycle]`` settings, overridden by ``after_sale``); ``goal`` (or its
    older name ``sale_stage``) is the stage that makes a purchaser."""
    cfg = config or Config()
    sale_stage = goal if goal is not None else sale_stage
    jm = model if isinstance(model, JourneyModel) else load_model(model, cfg)
    if sale_stage is not None:
        jm.stage(sale_stage)  # "no stage 'x' (did you mean ...)"
        from dataclasses import replace

        jm = replace(jm, sale=sale_stage)
    settings: dict[str, Any] = dict(cfg.lifecycle)
    if isinstance(after_sale, AfterSaleSpec):
        spec_after: AfterSaleSpec | dict[str, Any] = after_sale
    else:
        settings.update(after_sale or {})
        spec_after = settings
    return LifecycleSpec.build(jm, since=since, until=until, as_of=as_of, after_sale=spec_after)


def lifecycle(
    source: Any,
    model: str | JourneyModel = "hourglass",
    *,
    since: Any = None,
    until: Any = None,
    as_of: Any = None,
    after_sale: Mapping[str, Any] | AfterSaleSpec | None = None,
    sale_stage: str | None = None,
    goal: str | None = None,
    by: str | None = None,
    customers: str | Path | None = None,
    referrals: bool = True,
    channels: bool = True,
    stages_only: bool = False,
    spend: Any = None,
    channel_column: str | None = None,
    referral_options: Mapping[str, Any] | None = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> LifecycleResult:
    """The whole hourglass of ``source`` (docs/semantics-lifecycle.md): stages, where customers are
    lost, after-sale metrics, the referral loop and channels. ``customers`` writes the stage table per
    customer (.parquet or .csv); ``spend`` is a CSV of channel, period, cost (CAC, ROI);
    ``referral_options``: ``referral_event``, ``referee_column``, ``period``, ``max_depth``, ``top``
    (docs/semantics-referrals.md). ``goal`` (or ``sale_stage``) is the stage that makes a purchaser;
    ``by`` breaks the stage table down by a column's value at the customer's first event (top 10
    values and "(other)"). A part the data cannot give is null with a reason (``<part>_reason``).
    ``stages_only``: the stages alone, without the after-sale metrics, the referral loop and the
    channels (each null with the reason "skipped (the stages alone)"; a ``spend`` table is not read;
    a comparison's other period reads the stages)."""
    cfg = config if isinstance(config, Config) else load_config(config)
    spec = lifecycle_spec(
        model,
        since=since,
        until=until,
        as_of=as_of,
        after_sale=after_sale,
        sale_stage=sale_stage,
        goal=goal,
        config=cfg,
    )
    if customers is not None and Path(customers).suffix.lower() not in (".parquet", ".csv"):
        raise SpecError(
            f"--customers: write a .parquet or .csv file, not '{Path(customers).name}'",
            code="HG121",
            hint="e.g. --customers stages.parquet",
        )
    has_sale = spec.model.sale is not None
    if stages_only:  # no channel table reads a spend table: it is not read, nor checked
        referrals = channels = False
        spend = None
    if spend is not None and not has_sale:
        raise SpecError(
            f"a spend table needs purchasers, and model '{spec.model.name}' names no sale stage",
            code="HG140",
            hint="give --goal STAGE (stages: " + ", ".join(s.name for s in spec.model.stages) + ")",
        )
    if spend is not None and not channels:
        raise SpecError(
            "a spend table is read by the channel table: drop --no-channels",
            code="HG122",
            hint="drop --no-channels, or drop --spend",
        )
    started = time.perf_counter()
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    offer = spec.after_sale.offer_column
    if offer != "offer" and offer not in ev.table.columns:
        raise SchemaError(
            f"after_sale.offer_column: the events have no column '{offer}'"
            f"{did_you_mean(offer, ev.table.columns)}",
            code="HG306",
            hint="columns: " + ", ".join(ev.table.columns),
        )
    # stages that match no event are notes with the closest names; no match at all is HG117
    notes = check_model_events(ev, spec.model)
    if by is not None:
        by = by_column(ev, by)
        if by not in ev.table.columns:
            raise SchemaError(
                f"--by: no column '{by}'{did_you_mean(by, ev.table.columns)}",
                code="HG306",
                hint="columns: " + ", ".join(ev.table.columns),
            )
    # the referral loop and channels see the same events: [since, until) and nothing after as_of
    until_ = spec.until
    if spec.as_of is not None and (until_ is None or spec.as_of < until_):
        until_ = spec.as_of + timedelta(microseconds=1)
    ropts = dict(referral_options or {})
    reasons = _reasons(
        spec, ev.table.columns, referrals=referrals, channels=channels, ropts=ropts, column=channel_column
    )
    if stages_only:
        reasons |= {"referrals": "skipped (the stages alone)", "channels": "skipped (the stages alone)"}
    both = "referrals" not in reasons and "channels" not in reasons and "sale_stage" not in ropts
    if "channels" in reasons and spend is not None:  # (no sale, --no-channels: said above)
        raise SpecError(
            "a spend table needs channels: the events have no channel column",
            code="HG122",
            hint="map one with --channel-col or --acquisition-col ([columns] channel = ...)",
        )
    allowed = spec.as_of is None and customers is None
    spec_since = spec.since

    def parts(on: Any) -> tuple[Any, Any]:
        """The referral loop and the channels (None: not measured) of the events ``on``."""
        ref = chan = None
        # on DuckDB compiled once and run again on other dates (engine/bound.py)
        with bound(on.engine, allowed=allowed) as run:
            if both:  # one customer table for both
                return referrals_and_channels(
                    on,
                    spec.model,
                    run,
                    since=spec_since,
                    until=until_,
                    spend=spend,
                    channel_column=channel_column,
                    referral_options=ropts,
                )
            if "referrals" not in reasons:
                ref = run_referrals(on, spec.model, since=spec_since, until=until_, run=run, **ropts)
            if "channels" not in reasons:
                chan = run_channels(
                    on,
                    spec.model,
                    spend=spend,
                    channel_column=channel_column,
                    since=spec_since,
                    until=until_,
                    referral_event=ropts.get("referral_event"),
                    referee_column=ropts.get("referee_column"),
                    run=run,
                )
        return ref, chan

    meta: dict[str, Any] = {"notes": notes} if notes else {}
    if isinstance(model, str):
        meta["model_source"] = model
    if not has_sale:
        meta["note"] = (
            f"model '{spec.model.name}' names no sale stage: no purchasers, after-sale metrics, "
            "referral loop or channels; give --goal STAGE"
        )
    wanted = "referrals" not in reasons or "channels" not in reasons
    # the referral loop and the channels on a second connection while the stages are computed on
    # the first (engine/second_connection.py): at 1M events most of their queries keep one core busy
    with beside(ev, parts) if wanted else contextlib.nullcontext(lambda: (None, None)) as answer:
        try:
            # the compiled queries run again on other dates (engine/bound.py)
            with bound(ev.engine, allowed=allowed) as run:
                result = run_lifecycle(
                    ev,
                    spec,
                    customers_path=customers,
                    meta=meta,
                    reasons=reasons,
                    by=by,
                    run=run,
                    after_sale=not stages_only,
                    # the channels' column: on a store the range's events read once for both sides
                    channel=(channel_column or "channel") if "channels" not in reasons else None,
                )
        except BaseException:
            answer()  # the referral loop's error first, as when it ran first
            raise
        ref, chan = answer()
    result = dataclasses.replace(result, referrals=ref, channels=chan)
    result = _not_measured(result)
    result.meta["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _reasons(
    spec: LifecycleSpec,
    columns: Sequence[str],
    *,
    referrals: bool,
    channels: bool,
    ropts: Mapping[str, Any],
    column: str | None,
) -> dict[str, str]:
    """Why the referral loop or the channel table is not measured (absent from the result)."""
    out: dict[str, str] = {}
    no_sale = f"model '{spec.model.name}' names no sale stage, so nobody is a purchaser: give --goal STAGE"
    if not referrals:
        out["referrals"] = "skipped (--no-referrals)"
    elif spec.model.sale is None:
        out["referrals"] = no_sale
    elif "referrer" not in columns and not ropts.get("referral_event"):
        out["referrals"] = (
            "no referrer column: map the column naming who brought each customer with --referrer-col "
            "COLUMN, or give --referral-event EVENT --referee-col COLUMN"
        )
    if not channels:
        out["channels"] = "skipped (--no-channels)"
    elif spec.model.sale is None:
        out["channels"] = no_sale
    elif not column and "channel" not in columns:
        out["channels"] = "no channel column: map one with --channel-col COLUMN (or --acquisition-col COLUMN)"
    return out


def _not_measured(result: LifecycleResult) -> LifecycleResult:
    """The channel table's stages that are not measured (no event of them), and without purchasers
    the referral loop and the channels' rates after the sale: null with why, not zeros."""
    chan = result.channels
    if isinstance(chan, ChannelResult):
        missing = {r["stage"]: r["entered_reason"] for r in result.stage_dicts() if r["entered"] is None}
        chan = dataclasses.replace(chan, missing_stages=missing)
        result = dataclasses.replace(result, channels=chan)
    why = result.reasons.get("after_sale")
    if result.sale is None or why is None:
        return result
    reasons = dict(result.reasons)
    ref = result.referrals
    if ref is not None:
        reasons["referrals"] = why
        ref = None
    chan = result.channels
    if isinstance(chan, ChannelResult):
        chan = dataclasses.replace(chan, unmeasured={k: why for k in NEED_PURCHASERS})
    return dataclasses.replace(result, referrals=ref, channels=chan, reasons=reasons)


def lifecycle_table(
    source: Any,
    model: str | JourneyModel = "hourglass",
    *,
    since: Any = None,
    until: Any = None,
    as_of: Any = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> Any:
    """The stage table per customer as an Ibis expression on the engine (filter it, then
    ``.to_pandas()`` / ``.to_parquet()``): e.g. everyone whose current stage is trial for 14 days."""
    cfg = config if isinstance(config, Config) else load_config(config)
    spec = lifecycle_spec(model, since=since, until=until, as_of=as_of, config=cfg)
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    return lifecycle_customers(ev, spec)


def lifecycle_frame(
    source: Any,
    model: str | JourneyModel = "hourglass",
    *,
    since: Any = None,
    until: Any = None,
    as_of: Any = None,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: Any = None,
    table: str | None = None,
    config: Config | str | None = None,
) -> Any:
    """:func:`lifecycle_table` executed (pandas): on a store from the range's numpy arrays
    (engine/range_frames.py: the ids decoded by key, no GROUP BY and join again), else the
    expression run by the engine. The dashboard's stages' people."""
    cfg = config if isinstance(config, Config) else load_config(config)
    spec = lifecycle_spec(model, since=since, until=until, as_of=as_of, config=cfg)
    ev = load(source, columns=columns, engine=engine, table=table, config=cfg)
    found = stage_frame(ev, spec)
    return ev.engine.execute(lifecycle_customers(ev, spec)) if found is None else found
