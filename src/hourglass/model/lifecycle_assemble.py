"""Assembling the lifecycle's result objects from the rows of its plan (pure: no engine, no Ibis).

The engine executes the named expressions of ``analyses.lifecycle_plan`` and hands their rows here
(each a list of dicts of plain values); everything the result says is decided here and in the result
classes (docs/semantics-lifecycle.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hourglass.model.after_sale import AfterSale, Loyalty, OfferStat, Purchases, Rate, Support
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.lifecycle_result import LifecycleGroup, StageStat
from hourglass.model.spec import format_window

__all__ = ["Rows", "as_count", "as_number", "assemble_after_sale", "assemble_groups", "assemble_stages"]

Rows = Sequence[Mapping[str, Any]]
#: the group of the values after the top ones (analyses.lifecycle.OTHER)
_OTHER = "(other)"


def as_number(x: Any) -> float | None:
    """A float, with NULL and NaN as None."""
    if x is None:
        return None
    value = float(x)
    return None if math.isnan(value) else value


def as_count(x: Any) -> int:
    """An integer count, with NULL and NaN as 0 (a sum over no rows)."""
    value = as_number(x)
    return 0 if value is None else int(value)


def _one(rows: Mapping[str, Rows], name: str) -> Mapping[str, Any]:
    got = rows.get(name) or ()
    return got[0] if got else {}


def assemble_stages(spec: LifecycleSpec, s: Mapping[str, Any]) -> tuple[StageStat, ...]:
    """The stage counts of one ``stage_summary`` row."""
    return tuple(
        StageStat(
            stage=st.name,
            label=st.label,
            entered=as_count(s.get(f"entered{k}")),
            furthest=as_count(s.get(f"furthest{k}")),
            current=as_count(s.get(f"current{k}")),
            continued=as_count(s.get(f"continued{k}")),
            median_time_s=as_number(s.get(f"med{k}")),
            p90_time_s=as_number(s.get(f"p90{k}")),
            events=st.events,
        )
        for k, st in enumerate(spec.model.stages, start=1)
    )


def assemble_groups(spec: LifecycleSpec, rows: Rows, by: str) -> tuple[LifecycleGroup, ...]:
    """One group per row of the grouped ``stage_summary`` (``by``: the group column), by customers,
    then ``(other)``, then no value."""
    groups = []
    for r in rows:
        value = r.get(by)
        value = None if value is None or value != value else str(value)  # NaN: no value
        groups.append(LifecycleGroup(value, as_count(r.get("customers")), assemble_stages(spec, r)))
    return tuple(
        sorted(groups, key=lambda g: (g.value is None, g.value == _OTHER, -g.customers, str(g.value)))
    )


def _purchases(spec: LifecycleSpec, ps: Mapping[str, Any]) -> Purchases:
    a = spec.after_sale
    return Purchases(
        purchasers=as_count(ps.get("purchasers")),
        repeaters=as_count(ps.get("repeaters")),
        purchases=as_count(ps.get("purchases")),
        all_purchasers=as_count(ps.get("all_purchasers")),
        nth_days=tuple(
            (k, as_count(ps.get(f"c{k}")), as_number(ps.get(f"d{k}"))) for k in range(2, a.nth + 1)
        ),
        repeat_within=None if a.repeat_within is None else format_window(a.repeat_within),
    )


def _loyalty(rows: Rows, has_revenue: bool) -> Loyalty:
    by = {bool(r["member"]): r for r in rows}
    m, o = by.get(True, {}), by.get(False, {})
    return Loyalty(
        members=as_count(m.get("n")),
        member_repeaters=as_count(m.get("repeaters")),
        member_revenue=as_number(m.get("rev")) or 0.0,
        member_revenue_sq=as_number(m.get("rev_sq")) or 0.0,
        others=as_count(o.get("n")),
        other_repeaters=as_count(o.get("repeaters")),
        other_revenue=as_number(o.get("rev")) or 0.0,
        other_revenue_sq=as_number(o.get("rev_sq")) or 0.0,
        has_revenue=has_revenue,
    )


def assemble_after_sale(
    spec: LifecycleSpec, rows: Mapping[str, Rows], missing: Mapping[str, str], *, has_revenue: bool
) -> AfterSale:
    """The after-sale metrics from the rows of ``after_sale_plan`` (a block in ``missing`` has no
    rows: it is not measured)."""
    purchases = _purchases(spec, _one(rows, "purchases"))
    n_buyers = purchases.all_purchasers
    out: dict[str, Any] = {"purchases": purchases, "missing": dict(missing)}
    if "remorse" in rows:
        r = _one(rows, "remorse")
        out.update(
            remorse=Rate(as_count(r.get("customers")), n_buyers, "no purchasers"),
            remorse_events=as_count(r.get("events")),
            remorse_within=format_window(spec.after_sale.remorse_within),
        )
    if "support" in rows:
        s = _one(rows, "support")
        out["support"] = Support(
            contacts=as_count(s.get("contacts")),
            customers=as_count(s.get("customers")),
            resolved=as_count(s.get("resolved")),
            median_resolve_s=as_number(s.get("median_s")),
            resolved_missing=missing.get("support.resolved"),
        )
    if "experience_gap" in rows:
        g = _one(rows, "experience_gap")
        negative = as_count(g.get("negative"))
        out.update(
            negative=Rate(negative, n_buyers, "no purchasers"),
            recovered=Rate(as_count(g.get("recovered")), negative, "no purchaser had a negative experience"),
            repeat_negative=Rate(
                as_count(g.get("rep_neg")),
                as_count(g.get("obs_neg")),
                "no observed purchaser had a negative experience",
            ),
            repeat_positive=Rate(
                as_count(g.get("rep_pos")),
                as_count(g.get("obs_pos")),
                "every observed purchaser had a negative experience",
            ),
        )
    if "win_back" in rows:
        offers = [
            OfferStat(
                str(r["offer"]),
                as_count(r["sent"]),
                as_count(r["redeemed"]),
                as_count(r["returned"]),
                missing.get("win_back.redeemed"),
            )
            for r in rows["win_back"]
        ]
        out["offers"] = tuple(sorted(offers, key=lambda o: (-o.sent, str(o.offer))))
    if "loyalty" in rows:
        out["loyalty"] = _loyalty(rows["loyalty"], has_revenue)
    return AfterSale(**out)
