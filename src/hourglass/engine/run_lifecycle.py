"""Running the lifecycle: stages, the stage report and the after-sale metrics on one engine.

The range's events are cached once on the engine (a temp table), then every metric is a small
aggregate over them; only those aggregates come back to Python."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from hourglass.analyses import after_sale as af
from hourglass.analyses.lifecycle import (
    BY,
    OTHER,
    by_groups,
    in_range,
    present_events,
    stage_customers,
    stage_summary,
)
from hourglass.engine._values import count, number, records
from hourglass.engine.load import Events
from hourglass.ingest.outputs import cannot_write, check_output, source_files
from hourglass.model.after_sale import (
    AfterSale,
    Loyalty,
    OfferStat,
    Purchases,
    Rate,
    Support,
    after_sale_names,
    missing_blocks,
)
from hourglass.model.errors import SpecError
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.lifecycle_result import LifecycleGroup, LifecycleResult, StageStat, stage_reason
from hourglass.model.spec import format_window

__all__ = ["lifecycle_customers", "run_lifecycle"]


def _one(events: Events, expr: ir.Table) -> dict[str, Any]:
    rows = records(events.engine, expr)
    return rows[0] if rows else {}


def as_of(events: Events, spec: LifecycleSpec, t: ir.Table | None = None) -> datetime:
    """ "Now" for days-in-stage: ``as_of``, else ``until``, else the last event of the range's
    events ``t`` (default: computed from ``events``)."""
    if spec.as_of is not None:
        return spec.as_of
    if spec.until is not None:
        return spec.until
    if t is None:
        t = in_range(spec, events.table)
    value = _one(events, t.aggregate(last=t.timestamp.max())).get("last")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return datetime(1970, 1, 1)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    assert isinstance(value, datetime)
    return value.replace(tzinfo=None)


def lifecycle_customers(events: Events, spec: LifecycleSpec) -> ir.Table:
    """The stage table per customer (an Ibis expression on the events' engine)."""
    return stage_customers(spec, events.table, as_of(events, spec))


def _present(events: Events, t: ir.Table, names: tuple[str, ...]) -> frozenset[str]:
    """Which of ``names`` the range's events have (one small GROUP BY)."""
    if not names:
        return frozenset()
    return frozenset(str(r["event"]) for r in records(events.engine, present_events(t, names)))


def _after_sale(
    events: Events,
    spec: LifecycleSpec,
    t: ir.Table,
    customers: ir.Table,
    now: datetime,
    missing: dict[str, str],
) -> AfterSale:
    """The after-sale metrics; a block in ``missing`` (its events are absent) is not computed."""
    a = spec.after_sale
    buyers = af.buyers(spec, customers)
    pc = af.purchase_customers(spec, t, buyers, now)
    ps = _one(events, af.purchase_summary(spec, pc))
    purchases = Purchases(
        purchasers=count(ps.get("purchasers")),
        repeaters=count(ps.get("repeaters")),
        purchases=count(ps.get("purchases")),
        all_purchasers=count(ps.get("all_purchasers")),
        nth_days=tuple((k, count(ps.get(f"c{k}")), number(ps.get(f"d{k}"))) for k in range(2, a.nth + 1)),
        repeat_within=None if a.repeat_within is None else format_window(a.repeat_within),
    )
    n_buyers = purchases.all_purchasers
    after = af.after_events(spec, t, buyers)
    out: dict[str, Any] = {"purchases": purchases, "missing": missing}
    if "remorse" not in missing:
        r = _one(events, af.remorse_summary(spec, after))
        out.update(
            remorse=Rate(count(r.get("customers")), n_buyers, "no purchasers"),
            remorse_events=count(r.get("events")),
            remorse_within=format_window(a.remorse_within),
        )
    if "support" not in missing:
        s = _one(events, af.support_summary(spec, after))
        out["support"] = Support(
            contacts=count(s.get("contacts")),
            customers=count(s.get("customers")),
            resolved=count(s.get("resolved")),
            median_resolve_s=number(s.get("median_s")),
            resolved_missing=missing.get("support.resolved"),
        )
    if "experience_gap" not in missing:
        g = _one(events, af.gap_summary(spec, after, pc))
        negative = count(g.get("negative"))
        out.update(
            negative=Rate(negative, n_buyers, "no purchasers"),
            recovered=Rate(count(g.get("recovered")), negative, "no purchaser had a negative experience"),
            repeat_negative=Rate(
                count(g.get("rep_neg")),
                count(g.get("obs_neg")),
                "no observed purchaser had a negative experience",
            ),
            repeat_positive=Rate(
                count(g.get("rep_pos")),
                count(g.get("obs_pos")),
                "every observed purchaser had a negative experience",
            ),
        )
    if "win_back" not in missing:
        rows = records(events.engine, af.offer_counts(spec, after))
        offers = [
            OfferStat(
                str(r["offer"]),
                count(r["sent"]),
                count(r["redeemed"]),
                count(r["returned"]),
                missing.get("win_back.redeemed"),
            )
            for r in rows
        ]
        out["offers"] = tuple(sorted(offers, key=lambda o: (-o.sent, str(o.offer))))
    if "loyalty" not in missing:
        rows = records(events.engine, af.loyalty_summary(spec, t, pc))
        by = {bool(r["member"]): r for r in rows}
        m, o = by.get(True, {}), by.get(False, {})
        out["loyalty"] = Loyalty(
            members=count(m.get("n")),
            member_repeaters=count(m.get("repeaters")),
            member_revenue=number(m.get("rev")) or 0.0,
            member_revenue_sq=number(m.get("rev_sq")) or 0.0,
            others=count(o.get("n")),
            other_repeaters=count(o.get("repeaters")),
            other_revenue=number(o.get("rev")) or 0.0,
            other_revenue_sq=number(o.get("rev_sq")) or 0.0,
            has_revenue="revenue" in t.columns,
        )
    return AfterSale(**out)


def _stages(spec: LifecycleSpec, s: dict[str, Any]) -> tuple[StageStat, ...]:
    return tuple(
        StageStat(
            stage=st.name,
            label=st.label,
            entered=count(s.get(f"entered{k}")),
            furthest=count(s.get(f"furthest{k}")),
            current=count(s.get(f"current{k}")),
            continued=count(s.get(f"continued{k}")),
            median_time_s=number(s.get(f"med{k}")),
            p90_time_s=number(s.get(f"p90{k}")),
            events=st.events,
        )
        for k, st in enumerate(spec.model.stages, start=1)
    )


def _groups(
    events: Events, spec: LifecycleSpec, t: ir.Table, customers: ir.Table, by: str
) -> tuple[LifecycleGroup, ...]:
    grouped = by_groups(t, customers, by)
    rows = records(events.engine, stage_summary(spec, grouped, by=BY))
    groups = []
    for r in rows:
        value = r[BY]
        value = None if value is None or value != value else str(value)  # NaN: no value
        groups.append(LifecycleGroup(value, count(r.get("customers")), _stages(spec, r)))
    return tuple(
        sorted(groups, key=lambda g: (g.value is None, g.value == OTHER, -g.customers, str(g.value)))
    )


def _where(spec: LifecycleSpec) -> str:
    return (
        "in the source"
        if spec.since is None and spec.until is None and spec.as_of is None
        else "in the range"
    )


def run_lifecycle(
    events: Events,
    spec: LifecycleSpec,
    *,
    customers_path: str | Path | None = None,
    referrals: Any = None,
    channels: Any = None,
    meta: dict[str, Any] | None = None,
    reasons: dict[str, str] | None = None,
    by: str | None = None,
) -> LifecycleResult:
    """The lifecycle result; ``customers_path`` (.parquet or .csv) also writes the stage table;
    ``by``: the stage table per value of that column at the customer's first event; ``reasons``:
    why a part given as None (referrals, channels) is not measured."""
    t = in_range(spec, events.table)
    if events.engine.name == "duckdb":
        t = t.cache()
    now = as_of(events, spec, t)  # from the cached events: one scan of the source, not two
    customers = stage_customers(spec, t, now)
    if events.engine.name == "duckdb":
        customers = customers.cache()  # later queries read the small table, not the n^2 expression
    if customers_path is not None:
        _write(events, customers, Path(customers_path))
    s = _one(events, stage_summary(spec, customers))
    stages = _stages(spec, s)
    where = _where(spec)
    why = dict(reasons or {})
    after = None
    sale = spec.model.sale
    entered = {st.stage: st.entered for st in stages}
    if sale is None:
        why["after_sale"] = (
            f"model '{spec.model.name}' names no sale stage, so nobody is a purchaser: give --goal STAGE"
        )
    elif entered.get(sale, 0) == 0:
        st = next(x for x in stages if x.stage == sale)
        why["after_sale"] = "no purchasers: " + stage_reason(st, where) + ", or give --goal STAGE"
    else:
        present = _present(events, t, after_sale_names(spec.after_sale))
        missing = missing_blocks(spec.after_sale, present, where=where)
        after = _after_sale(events, spec, t, customers, now, missing)
    groups = _groups(events, spec, t, customers, by) if by is not None else ()
    info = {
        "engine": events.engine.name,
        "spec": spec.describe(),
        "as_of": now.isoformat(),
        "source": events.report.source,
        "duplicates_collapsed": events.report.duplicates_collapsed,
        **(meta or {}),
    }
    return LifecycleResult(
        model=spec.model.name,
        kind=spec.model.kind,
        sale=spec.model.sale,
        customers=count(s.get("customers")),
        stages=stages,
        after_sale=after,
        referrals=referrals,
        channels=channels,
        meta=info,
        reasons=why,
        where=where,
        breakdown=by,
        groups=groups,
    )


def _write(events: Events, customers: ir.Table, path: Path) -> None:
    ordered = customers.order_by(["furthest_index", "customer"])
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise SpecError(
            f"--customers: write a .parquet or .csv file, not '{path.name}'",
            code="HG121",
            hint="e.g. --customers stages.parquet",
        )
    check_output(
        path, option="--customers", sources=source_files(events.report.source, kind=events.report.kind)
    )
    # DuckDB writes one file; Spark writes a directory of part files under that name
    kw: dict[str, Any] = {"mode": "overwrite"} if events.engine.name == "spark" else {}
    try:
        if suffix == ".parquet":
            events.engine.con.to_parquet(ordered, str(path), **kw)
        else:
            events.engine.con.to_csv(ordered, str(path), **kw)
    except Exception as e:
        if not isinstance(e, OSError) and type(e).__name__ != "IOException":  # DuckDB's
            raise
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].removeprefix("IO Error: ")
        raise cannot_write(path, reason, "--customers") from None
