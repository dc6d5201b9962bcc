"""Running the referral loop and the channel analysis: execute the plans' small aggregates and build
the result objects (docs/semantics-referrals.md)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from hourglass.analyses._match import in_period
from hourglass.analyses.channels import ChannelPlan, channel_plan
from hourglass.analyses.lifecycle import present_events
from hourglass.analyses.referrals import referral_plan
from hourglass.engine import facts_arrays
from hourglass.engine._values import count, number
from hourglass.engine.bound import Bound, Runner, bound, built
from hourglass.engine.facts_arrays import TABLE, customers_found, facts_arrow
from hourglass.engine.keyed import keyed, model_reads
from hourglass.engine.load import Events
from hourglass.engine.referral_loop_arrays import referral_rows
from hourglass.ingest.spend import read_spend
from hourglass.model.channels import ChannelResult, ChannelSpec, ChannelStats, Spend
from hourglass.model.journey import JourneyModel
from hourglass.model.referrals import (
    PeriodRow,
    ReferralResult,
    ReferralSpec,
    Referrer,
    period_label,
    sale_definition,
)
from hourglass.model.spec import check_period, parse_time
from hourglass.model.steps import Step

__all__ = ["LOOP_ON", "referrals_and_channels", "run_channels", "run_referrals", "run_referrals_and_channels"]

#: a store's referral loop from its customer table as Arrow (engine/referral_loop_arrays.py); tests
#: turn it off to compare with the plan's five queries
LOOP_ON = True


@contextlib.contextmanager
def _runner(events: Events, run: Runner | None) -> Iterator[Runner]:
    """``run`` (the caller's, whose intermediates it reads), else a run of its own on the engine:
    on DuckDB compiled once and run again on other dates (engine/bound.py)."""
    if run is not None:
        yield run
        return
    with bound(events.engine) as own:
        yield own


def _meta(events: Events, model: JourneyModel, described: dict[str, Any]) -> dict[str, Any]:
    return {
        "engine": events.engine.name,
        "source": events.report.source,
        "model": model.name,
        "duplicates_collapsed": events.report.duplicates_collapsed,
        **described,
    }


def run_referrals(
    events: Events,
    model: JourneyModel,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    sale_stage: str | None = None,
    referral_event: str | None = None,
    referee_column: str | None = None,
    period: str = "month",
    max_depth: int = 10,
    top: int = 10,
    customers: Any = None,
    run: Runner | None = None,
    arrow: pa.Table | None = None,
) -> ReferralResult:
    """The referral loop of ``events`` under ``model`` (purchasers: its sale stage, or ``sale_stage``);
    ``customers``: its customer table already computed on ``run`` (:func:`run_referrals_and_channels`),
    ``arrow``: that table as Arrow, a store's (engine/referral_loop_arrays.py: the five aggregates
    from it)."""
    spec = ReferralSpec.build(
        sale_stage=sale_stage,
        referral_event=referral_event,
        referee_column=referee_column,
        period=period,
        max_depth=max_depth,
        top=top,
        since=since,
        until=until,
    )
    sale = sale_definition(model, spec.sale_stage)
    k = keyed(events, model_reads(model, spec.referee_column))  # a store: the integer customer keys
    table, ids = (events.table, None) if k is None else (k.table, k.ids)
    with _runner(events, run) as r:  # the customer table once for the five queries
        sp = dataclasses.replace(spec, since=r.value("since", spec.since), until=r.value("until", spec.until))
        if customers is None:  # its customer table materialised on this run
            plan = referral_plan(sp, table, sale.step, r.table, ids)
        else:
            plan = built(referral_plan, sp, table, sale.step, None, ids, customers)
        missing = None
        if spec.referral_event is not None:
            t = in_period(table, sp.since, sp.until)
            if not r.rows(present_events(t, [spec.referral_event])):
                where = "in the source" if spec.since is None and spec.until is None else "in the range"
                missing = (
                    f"no '{spec.referral_event}' events {where}: name the referral event with "
                    "--referral-event EVENT, or map the referrer column with --referrer-col COLUMN"
                )
        got: dict[str, list[dict[str, Any]]] = {}
        if arrow is not None and LOOP_ON and ids is not None and ids.schema()["id"].is_string():
            got = referral_rows(arrow, spec)  # (the ids: the referrers' texts as the claims had them)

        def rows(name: str) -> list[dict[str, Any]]:
            return got[name] if got else r.rows(getattr(plan, name))

        s = rows("summary")[0]
        dist = sorted((count(x["n_referees"]), count(x["customers"])) for x in rows("distribution"))
        gens: dict[int, int] = {}
        in_cycles = beyond = 0
        for x in rows("generations"):
            g = number(x["generation"])
            if g is None:
                beyond += count(x["customers"])
                in_cycles += count(x["on_cycle"])
            else:
                gens[int(g)] = count(x["customers"])
        customers, referees = count(s["customers"]), count(s["referees"])
        generations = [(0, customers - referees)]
        deepest = max(gens, default=0)
        generations.extend((g, gens.get(g, 0)) for g in range(1, deepest + 1))
        periods = sorted(
            (x["period"].to_pydatetime() if hasattr(x["period"], "to_pydatetime") else x["period"], x)
            for x in rows("periods")
        )
        top_rows = rows("top") if spec.top else []
        top_rows.sort(
            key=lambda x: (-count(x["referees"]), -count(x["referred_purchasers"]), str(x["customer"]))
        )
    has_rev = "revenue_total" in s
    return ReferralResult(
        customers=customers,
        purchasers=count(s["purchasers"]),
        referees=referees,
        referred_purchasers=count(s["referred_purchasers"]),
        referrers=count(s["referrers"]),
        purchasers_referring=count(s["purchasers_referring"]),
        self_referrals=count(s["self_referrals"]),
        external_referrers=count(s["external_referrers"]),
        in_cycles=in_cycles,
        beyond_max_depth=beyond,
        referees_distribution=tuple(dist),
        generations=tuple(generations),
        cycle_time_pairs=count(s["cycle_pairs"]),
        cycle_time_negative=count(s["cycle_negative"]),
        cycle_time_median_s=number(s["cycle_median"]),
        cycle_time_p90_s=number(s["cycle_p90"]),
        revenue_total=(number(s["revenue_total"]) or 0.0) if has_rev else None,
        revenue_referred=(number(s["revenue_referred"]) or 0.0) if has_rev else None,
        periods=tuple(
            PeriodRow(period_label(start, spec.period), count(r["new_customers"]), count(r["referred"]))
            for start, r in periods
        ),
        top_referrers=tuple(
            Referrer(
                customer=str(r["customer"]),
                referees=count(r["referees"]),
                referred_purchasers=count(r["referred_purchasers"]),
                referee_revenue=(number(r.get("referee_revenue")) or 0.0) if has_rev else None,
            )
            for r in top_rows
        ),
        period_unit=spec.period,
        max_depth=spec.max_depth,
        purchasers_from=sale.described,
        meta=_meta(events, model, spec.describe()),
        missing=missing,
    )


def run_channels(
    events: Events,
    model: JourneyModel,
    *,
    spend: Spend | Any = None,
    channel_column: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    sale_stage: str | None = None,
    referral_event: str | None = None,
    referee_column: str | None = None,
    customers: Any = None,
    run: Runner | None = None,
) -> ChannelResult:
    """Per acquisition channel across every stage of ``model``; CAC, cost per stage and ROI when a
    spend table (a :class:`Spend`, a CSV path or a pandas/Arrow table) is given. Referees and
    referring purchasers follow the referral graph of :func:`run_referrals`: the ``referrer`` column,
    or with ``referral_event`` and ``referee_column`` the referral events. ``customers``: the
    channels' customer table already computed on ``run`` (:func:`run_referrals_and_channels`)."""
    spec, referrals, sale = _channel_spec(
        model, channel_column, since, until, sale_stage, referral_event, referee_column
    )
    start, end = spec.since, spec.until
    table = None if spend is None else read_spend(spend)
    used = None if table is None else table.within(start, end)
    n = len(model.stages)
    stats: dict[str | None, ChannelStats] = {}
    costs: dict[str, float] = {}
    for sr in used or ():
        costs[sr.channel] = costs.get(sr.channel, 0.0) + sr.cost
    with _runner(events, run) as own:
        stood = _stood(own, spec)
        facts = None if customers is not None else _facts(events, model, own, spec, sale.step)[0]
        plan = _channel_plan(events, model, stood, referrals, sale.step, used, customers, facts)
        summary = own.rows(plan.summary)
    for r in summary:
        ch = None if r["channel"] is None or r["channel"] != r["channel"] else str(r["channel"])
        stats[ch] = ChannelStats(
            channel=ch,
            customers=count(r["customers"]),
            stages=tuple(count(r[f"s{i}"]) for i in range(n)),
            purchasers=count(r["purchasers"]),
            repeat_purchasers=count(r.get("repeat")),
            referees=count(r["referees"]) if plan.has_referrals else None,
            purchasers_referring=count(r["referring"]) if plan.has_referrals else None,
            revenue=(number(r["revenue"]) or 0.0) if plan.has_revenue else None,
            cost=None if ch is None else costs.get(ch),
            covered_customers=count(r.get("covered")),
            covered_purchasers=count(r.get("covered_purchasers")),
            covered_stages=tuple(count(r.get(f"covered_s{i}")) for i in range(n)),
            covered_revenue=(number(r.get("covered_revenue")) or 0.0) if plan.has_revenue else None,
            zero_cost_customers=count(r.get("zero_cost")),
        )
    for ch, cost in costs.items():  # spend on a channel that acquired nobody is still shown
        if ch not in stats:
            stats[ch] = ChannelStats(
                ch, 0, (0,) * n, 0, 0, 0 if plan.has_referrals else None,
                0 if plan.has_referrals else None, 0.0 if plan.has_revenue else None,
                cost=cost, covered_stages=(0,) * n, covered_revenue=0.0 if plan.has_revenue else None,
            )  # fmt: skip
    ordered = sorted(stats.values(), key=lambda c: (-c.customers, c.channel is None, str(c.channel)))
    meta = _meta(events, model, spec.describe())
    if plan.has_referrals:
        meta["referrer_from"] = referrals.describe()["referrer_from"]
    if table is not None:
        meta["spend"] = {
            "source": table.source,
            "rows": len(table.rows),
            "rows_used": len(used or ()),
            "rows_outside_range": len(table.rows) - len(used or ()),
        }
    return ChannelResult(
        stages=tuple(s.name for s in model.stages),
        channels=tuple(ordered),
        channel_column=spec.channel_column,
        purchasers_from=sale.described,
        has_spend=table is not None,
        meta=meta,
    )


def _channel_spec(
    model: JourneyModel,
    channel_column: str | None,
    since: str | datetime | None,
    until: str | datetime | None,
    sale_stage: str | None,
    referral_event: str | None,
    referee_column: str | None,
) -> tuple[ChannelSpec, ReferralSpec, Any]:
    start, end = parse_time(since, what="--since"), parse_time(until, what="--until")
    check_period(start, end)
    spec = ChannelSpec(channel_column or "channel", sale_stage, start, end)
    referrals = ReferralSpec(referral_event=referral_event, referee_column=referee_column)  # HG141
    return spec, referrals, sale_definition(model, sale_stage)


def _channel_plan(
    events: Events,
    model: JourneyModel,
    spec: ChannelSpec,
    referrals: ReferralSpec,
    sale: Step,
    used: Any,
    customers: Any = None,
    facts: Any = None,
) -> ChannelPlan:
    # a store: the integer customer keys (engine/keyed.py)
    k = keyed(events, model_reads(model, spec.channel_column, referrals.referee_column))
    ev, ids = (events.table, None) if k is None else (k.table, k.ids)
    # DuckDB: the channel in the customer facts' pass (an ordered aggregate) instead of a window
    one_pass = events.engine.name == "duckdb"
    used_rows = None if used is None else tuple(used)
    return built(channel_plan, spec, ev, model, sale, used_rows, referrals, ids, one_pass, customers, facts)


def _facts(
    events: Events, model: JourneyModel, run: Runner, spec: ChannelSpec, sale: Step
) -> tuple[Any, Any]:
    """The channels' customer facts of a store's range from numpy arrays (engine/facts_arrays.py)
    as a table of ``run`` and as Arrow, or (None, None) (the plan's GROUP BY); ``spec``: its real
    dates."""
    k = keyed(events, model_reads(model, spec.channel_column))
    if k is None or not facts_arrays.FACTS_ON or not isinstance(run, Bound):
        return None, None
    purchase, col = model.purchase_step or sale, spec.channel_column
    con, stages, owner = events.engine.con, model.stages, events.report  # owner: kept for the clicks
    found = facts_arrow(con, k, k.table, sale, purchase, stages, col, spec.since, spec.until, owner)
    return (None, None) if found is None else (run.frame(TABLE, *found), found[0])


def run_referrals_and_channels(
    events: Events,
    model: JourneyModel,
    *,
    since: datetime | None,
    until: datetime | None,
    spend: Spend | Any = None,
    channel_column: str | None = None,
    referral_options: dict[str, Any] | None = None,
) -> tuple[ReferralResult, ChannelResult]:
    """:func:`run_referrals` and :func:`run_channels` of the same events, range and referral graph
    from one customer table (the channels' holds every column the referral loop reads), computed
    once: the referral loop computed its own again (a second pass over the events)."""
    with bound(events.engine) as run:
        return referrals_and_channels(
            events,
            model,
            run,
            since=since,
            until=until,
            spend=spend,
            channel_column=channel_column,
            referral_options=referral_options,
        )


def referrals_and_channels(
    events: Events,
    model: JourneyModel,
    run: Runner,
    *,
    since: datetime | None,
    until: datetime | None,
    spend: Spend | Any = None,
    channel_column: str | None = None,
    referral_options: dict[str, Any] | None = None,
) -> tuple[ReferralResult, ChannelResult]:
    """:func:`run_referrals_and_channels` on ``run`` (their one customer table a table of ``run``)."""
    ropts = dict(referral_options or {})
    event, column = ropts.get("referral_event"), ropts.get("referee_column")
    spec, referrals, sale = _channel_spec(model, channel_column, since, until, None, event, column)
    facts, arrays = _facts(events, model, run, spec, sale.step)
    plan = _channel_plan(events, model, _stood(run, spec), referrals, sale.step, None, None, facts)
    shared, arrow = None, None
    if arrays is not None:  # the referrers from numpy arrays too (engine/referrers_arrays.py)
        k = keyed(events, model_reads(model, spec.channel_column, referrals.referee_column))
        by_event, owner = referrals.by_event, events.report  # (owner: its referrers' keys kept)
        got = customers_found(run, k, arrays, plan.customers, by_event, spec.since, spec.until, owner)
        if got is not None:
            shared, arrow = got
    if shared is None:
        shared = run.table(plan.customers)
    ref = run_referrals(
        events, model, since=since, until=until, customers=shared, run=run, arrow=arrow, **ropts
    )
    chan = run_channels(
        events,
        model,
        spend=spend,
        channel_column=channel_column,
        since=since,
        until=until,
        referral_event=event,
        referee_column=column,
        customers=shared,
        run=run,
    )
    return ref, chan


def _stood(run: Runner, spec: ChannelSpec) -> ChannelSpec:
    """``spec`` with its dates as the expressions hold them on ``run`` (engine/bound.py)."""
    return dataclasses.replace(
        spec, since=run.value("since", spec.since), until=run.value("until", spec.until)
    )
