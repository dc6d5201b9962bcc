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
from hourglass.analyses.lifecycle import in_range, stage_customers, stage_summary
from hourglass.engine.load import Events
from hourglass.model.after_sale import AfterSale, Loyalty, OfferStat, Purchases, Rate, Support
from hourglass.model.errors import SpecError
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.lifecycle_result import LifecycleResult, StageStat
from hourglass.model.spec import format_window

__all__ = ["lifecycle_customers", "run_lifecycle"]


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _int(x: Any) -> int:
    v = _num(x)
    return 0 if v is None else int(v)


def _one(events: Events, expr: ir.Table) -> dict[str, Any]:
    rows = events.engine.execute(expr).to_dict("records")
    return rows[0] if rows else {}


def as_of(events: Events, spec: LifecycleSpec) -> datetime:
    """ "Now" for days-in-stage: ``as_of``, else ``until``, else the range's last event."""
    if spec.as_of is not None:
        return spec.as_of
    if spec.until is not None:
        return spec.until
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


def _after_sale(
    events: Events, spec: LifecycleSpec, t: ir.Table, customers: ir.Table, now: datetime
) -> AfterSale:
    a = spec.after_sale
    buyers = af.buyers(spec, customers)
    pc = af.purchase_customers(spec, t, buyers, now)
    ps = _one(events, af.purchase_summary(spec, pc))
    purchases = Purchases(
        purchasers=_int(ps.get("purchasers")),
        repeaters=_int(ps.get("repeaters")),
        purchases=_int(ps.get("purchases")),
        all_purchasers=_int(ps.get("all_purchasers")),
        nth_days=tuple((k, _int(ps.get(f"c{k}")), _num(ps.get(f"d{k}"))) for k in range(2, a.nth + 1)),
        repeat_within=None if a.repeat_within is None else format_window(a.repeat_within),
    )
    n_buyers = purchases.all_purchasers
    after = af.after_events(spec, t, buyers)
    out: dict[str, Any] = {"purchases": purchases}
    if a.remorse_events:
        r = _one(events, af.remorse_summary(spec, after))
        out.update(
            remorse=Rate(_int(r.get("customers")), n_buyers),
            remorse_events=_int(r.get("events")),
            remorse_within=format_window(a.remorse_within),
        )
    if a.support_events:
        s = _one(events, af.support_summary(spec, after))
        out["support"] = Support(
            contacts=_int(s.get("contacts")),
            customers=_int(s.get("customers")),
            resolved=_int(s.get("resolved")),
            median_resolve_s=_num(s.get("median_s")),
        )
    if a.negative_events:
        g = _one(events, af.gap_summary(spec, after, pc))
        negative = _int(g.get("negative"))
        out.update(
            negative=Rate(negative, n_buyers),
            recovered=Rate(_int(g.get("recovered")), negative),
            repeat_negative=Rate(_int(g.get("rep_neg")), _int(g.get("obs_neg"))),
            repeat_positive=Rate(_int(g.get("rep_pos")), _int(g.get("obs_pos"))),
        )
    if a.offer_sent_events:
        rows = events.engine.execute(af.offer_counts(spec, after)).to_dict("records")
        offers = [
            OfferStat(str(r["offer"]), _int(r["sent"]), _int(r["redeemed"]), _int(r["returned"]))
            for r in rows
        ]
        out["offers"] = tuple(sorted(offers, key=lambda o: (-o.sent, str(o.offer))))
    if a.loyalty_events:
        rows = events.engine.execute(af.loyalty_summary(spec, t, pc)).to_dict("records")
        by = {bool(r["member"]): r for r in rows}
        m, o = by.get(True, {}), by.get(False, {})
        out["loyalty"] = Loyalty(
            members=_int(m.get("n")),
            member_repeaters=_int(m.get("repeaters")),
            member_revenue=_num(m.get("rev")) or 0.0,
            member_revenue_sq=_num(m.get("rev_sq")) or 0.0,
            others=_int(o.get("n")),
            other_repeaters=_int(o.get("repeaters")),
            other_revenue=_num(o.get("rev")) or 0.0,
            other_revenue_sq=_num(o.get("rev_sq")) or 0.0,
            has_revenue="revenue" in t.columns,
        )
    return AfterSale(**out)


def run_lifecycle(
    events: Events,
    spec: LifecycleSpec,
    *,
    customers_path: str | Path | None = None,
    referrals: Any = None,
    channels: Any = None,
    meta: dict[str, Any] | None = None,
) -> LifecycleResult:
    """The lifecycle result; ``customers_path`` (.parquet or .csv) also writes the stage table."""
    now = as_of(events, spec)
    t = in_range(spec, events.table)
    if events.engine.name == "duckdb":
        t = t.cache()
    customers = stage_customers(spec, t, now)
    if events.engine.name == "duckdb":
        customers = customers.cache()  # later queries read the small table, not the n^2 expression
    if customers_path is not None:
        _write(events, customers, Path(customers_path))
    s = _one(events, stage_summary(spec, customers))
    stages = tuple(
        StageStat(
            stage=st.name,
            label=st.label,
            entered=_int(s.get(f"entered{k}")),
            furthest=_int(s.get(f"furthest{k}")),
            current=_int(s.get(f"current{k}")),
            continued=_int(s.get(f"continued{k}")),
            median_time_s=_num(s.get(f"med{k}")),
            p90_time_s=_num(s.get(f"p90{k}")),
        )
        for k, st in enumerate(spec.model.stages, start=1)
    )
    after = _after_sale(events, spec, t, customers, now) if spec.model.sale is not None else None
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
        customers=_int(s.get("customers")),
        stages=stages,
        after_sale=after,
        referrals=referrals,
        channels=channels,
        meta=info,
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
    path.parent.mkdir(parents=True, exist_ok=True)
    # DuckDB writes one file; Spark writes a directory of part files under that name
    kw: dict[str, Any] = {"mode": "overwrite"} if events.engine.name == "spark" else {}
    if suffix == ".parquet":
        events.engine.con.to_parquet(ordered, str(path), **kw)
    else:
        events.engine.con.to_csv(ordered, str(path), **kw)
