"""The flywheel's momentum per period: growth accounting on customers and revenue, the loop's share
of new customers, K-factor and cycle time (docs/semantics-flywheel.md; the headline and the viral curve
are model/flywheel_summary.py's).

Pure: ``assemble_flywheel`` turns the plan's rows (analyses/growth.py) into a :class:`FlywheelResult`
and checks the growth-accounting identities on every period of every group; a failure is a bug in
hourglass (EngineError HG699), never a result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hourglass.model._text import text_table, uniform
from hourglass.model.errors import EngineError
from hourglass.model.flywheel_summary import Rows, null, viral_customers
from hourglass.model.flywheel_summary import summary as flywheel_summary
from hourglass.model.growth import GrowthSpec, label, period_bounds
from hourglass.model.results import format_duration, format_percent
from hourglass.model.stats import wilson

__all__ = ["FlywheelResult", "Momentum", "assemble_flywheel", "viral_customers"]

NO_REVENUE = "no revenue column: map one with --revenue-col COLUMN"
NO_REFERRER = (
    "no referrer column: map one with --referrer-col COLUMN, "
    "or give --referral-event EVENT --referee-col COLUMN"
)
NO_SPEND = "no spend table: give --spend FILE (a CSV of channel, period, cost) to tell paid from organic"
NO_CHANNEL = "no channel column: map one with --channel-col COLUMN to tell paid from organic"
NO_PURCHASES = "the model names no purchase events: give a model with 'purchases:' or a sale stage"
NO_SALE = "the model names no sale stage and no purchase events, so nobody is a purchaser"
NO_WOM = "the model has no word-of-mouth stage (a stage named word_of_mouth or advocacy)"
_CHURN_FIRST = "the first period has no previous one: nobody can churn"
_COMPOSITE = (
    "loop_share = (referred + word_of_mouth) / new is hourglass's own composite; quick ratio "
    "(Mark Suster, Jonathan Hsu), revenue accounting (Hsu, 'Diligence at Social Capital') and the viral "
    "curve (David Skok, Reiss) follow their published definitions"
)


def _get(index: Mapping[int, dict[str, Any]], p: int, key: str, default: Any = 0) -> Any:
    row = index.get(p)
    if row is None or row.get(key) is None:
        return default
    return row[key]


def _by_period(rows: Sequence[dict[str, Any]], g: Any) -> dict[int, dict[str, Any]]:
    return {int(r["p"]): r for r in rows if r.get("g") == g and r.get("p") is not None}


def _bug(message: str) -> EngineError:
    return EngineError(
        f"internal error: growth accounting does not add up: {message}",
        code="HG699",
        hint="this is a bug in hourglass, not in your data: please report it with the command you ran",
    )


@dataclass(frozen=True)
class Momentum:
    """The momentum of one group (all customers, or one value of the breakdown): ``periods`` (one
    dict per period, docs/semantics-flywheel.md) and ``summary`` (the headline, the whole range's
    K-factor, cycle time and the viral curve's parameters)."""

    value: Any
    customers: int
    periods: tuple[dict[str, Any], ...]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"customers": self.customers, "summary": self.summary, "periods": list(self.periods)}


def _momentum(
    rows: Rows,
    g: Any,
    spec: GrowthSpec,
    p_min: int,
    p_max: int,
    covered: tuple[datetime, datetime],
    reasons: Mapping[str, str],
) -> Momentum:
    unit = spec.period
    idx = {name: _by_period(rows.get(name, []), g) for name in rows if name not in ("grid", "customers")}
    customers = next((int(r["customers"]) for r in rows["customers"] if r.get("g") == g), 0)
    has_rev = "revenue" not in reasons
    periods: list[dict[str, Any]] = []
    cumulative = 0
    prev_active = 0
    prev_revenue = 0.0
    for p in range(p_min, p_max + 1):
        start, end = period_bounds(p, unit)
        row: dict[str, Any] = {
            "period": label(p, unit),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "complete": covered[0] <= start and end <= covered[1],
        }
        active = int(_get(idx["active"], p, "active"))
        new = int(_get(idx["states"], p, "new"))
        retained = int(_get(idx["states"], p, "retained"))
        resurrected = int(_get(idx["states"], p, "resurrected"))
        churned = int(_get(idx["churn"], p, "churned"))
        if new + retained + resurrected != active or int(_get(idx["states"], p, "states_active")) != active:
            raise _bug(f"period {row['period']}: new + retained + resurrected != active ({active})")
        if active - prev_active != new + resurrected - churned or retained + churned != prev_active:
            raise _bug(f"period {row['period']}: active(t) - active(t-1) != new + resurrected - churned")
        row.update(active=active, new=new, retained=retained, resurrected=resurrected, churned=churned)
        if churned:
            row["quick_ratio"] = (new + resurrected) / churned
        else:
            null(row, "quick_ratio", _CHURN_FIRST if p == p_min else "no customer churned in this period")
        prev_active = active
        # revenue accounting
        rkeys = ("new", "retained", "expansion", "contraction", "resurrected", "churned")
        if has_rev:
            revenue = float(_get(idx["revenue"], p, "revenue", 0.0))
            parts = {k: float(_get(idx["rev_states"], p, f"{k}_revenue", 0.0)) for k in rkeys[:-1]}
            parts["churned"] = float(_get(idx["rev_churn"], p, "churned_revenue", 0.0))
            now = parts["new"] + parts["retained"] + parts["expansion"] + parts["resurrected"]
            before = parts["retained"] + parts["contraction"] + parts["churned"]
            tol = 1e-6 * max(1.0, abs(revenue), abs(prev_revenue))
            if abs(now - revenue) > tol or abs(before - prev_revenue) > tol:
                raise _bug(f"period {row['period']}: revenue(t) - revenue(t-1) != its parts")
            row["revenue"] = revenue
            row.update({f"{k}_revenue": v for k, v in parts.items()})
            down = parts["churned"] + parts["contraction"]
            if down:
                row["revenue_quick_ratio"] = (parts["new"] + parts["resurrected"] + parts["expansion"]) / down
            else:
                null(row, "revenue_quick_ratio", "no revenue churned or contracted in this period")
            if prev_revenue:
                row["net_revenue_retention"] = (parts["retained"] + parts["expansion"]) / prev_revenue
            else:
                null(row, "net_revenue_retention", "no revenue in the previous period")
            prev_revenue = revenue
        else:
            for k in (
                "revenue",
                *(f"{k}_revenue" for k in rkeys),
                "revenue_quick_ratio",
                "net_revenue_retention",
            ):
                null(row, k, reasons["revenue"])
        for k in ("first_purchase_revenue", "repeat_revenue"):
            why = reasons.get("revenue") or reasons.get("purchases")
            if why:
                null(row, k, why)
            else:
                row[k] = float(_get(idx["purchase_revenue"], p, k, 0.0))
        # the loop's share of new customers
        src = idx["sources"]
        if int(_get(src, p, "new")) != new:
            raise _bug(f"period {row['period']}: the sources of new customers do not add up to new ({new})")
        referred = int(_get(src, p, "referred"))
        wom = int(_get(src, p, "word_of_mouth"))
        paid = int(_get(src, p, "paid"))
        loop = 0
        for key, value in (("new_referred", referred), ("new_word_of_mouth", wom)):
            why = reasons.get("referrals" if key == "new_referred" else "word_of_mouth")
            if why:
                null(row, key, why)
            else:
                row[key] = value
                loop += value
        row["new_paid_or_organic"] = new - referred - wom
        if reasons.get("paid"):
            null(row, "new_paid", reasons["paid"])
            null(row, "new_organic", reasons["paid"])
        else:
            row["new_paid"] = paid
            row["new_organic"] = new - referred - wom - paid
        if reasons.get("referrals") and reasons.get("word_of_mouth"):
            null(row, "loop_share", reasons["referrals"])
        elif new:
            row["loop_share"] = loop / new
        else:
            null(row, "loop_share", "no new customers in this period")
        # K-factor and cycle time
        if reasons.get("sale"):
            for k in ("purchasers", "referred_purchasers", "k_factor", "cycle_pairs", "cycle_time_median_s"):
                null(row, k, reasons["sale"])
        else:
            buyers = int(_get(idx["purchasers"], p, "purchasers"))
            ref_buyers = int(_get(idx["purchasers"], p, "referred_purchasers"))
            row["purchasers"] = buyers
            if reasons.get("referrals"):
                for k in ("referred_purchasers", "k_factor", "cycle_pairs", "cycle_time_median_s"):
                    null(row, k, reasons["referrals"])
            else:
                row["referred_purchasers"] = ref_buyers
                if buyers:
                    row["k_factor"] = ref_buyers / buyers
                    row["k_factor_low"], row["k_factor_high"] = wilson(ref_buyers, buyers)
                else:
                    null(row, "k_factor", "no first purchase in this period")
                row["cycle_pairs"] = int(_get(idx["cycle"], p, "pairs"))
                median = _get(idx["cycle"], p, "cycle_median_s", None)
                if median is None:
                    null(
                        row,
                        "cycle_time_median_s",
                        "no referee arrived in this period from a purchasing referrer",
                    )
                else:
                    row["cycle_time_median_s"] = float(median)
        cumulative += new
        row["cumulative_customers"] = cumulative
        periods.append(row)
    summary = flywheel_summary(rows, g, periods, reasons, unit, p_min)
    return Momentum(g, customers, tuple(periods), summary)


@dataclass(frozen=True)
class FlywheelResult:
    """Momentum per period: ``total`` (all customers) or, with a breakdown, ``groups`` (one per value
    of the column at the customer's first event: the top 10 and "(other)")."""

    period_unit: str
    total: Momentum | None
    breakdown: str | None = None
    groups: tuple[Momentum, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"period_unit": self.period_unit}
        if self.breakdown is not None:
            out["breakdown"] = self.breakdown
            out["groups"] = [{"value": g.value, **g.to_dict()} for g in self.groups]
        elif self.total is not None:
            out.update(self.total.to_dict())
        out["meta"] = self.meta
        return out

    def _flat(self, m: Momentum) -> list[dict[str, Any]]:
        out = []
        for r in m.periods:
            notes = sorted({str(v) for k, v in r.items() if k.endswith("_reason")})
            row = {k: v for k, v in r.items() if not k.endswith("_reason")}
            row["note"] = "; ".join(notes)
            out.append(row)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per period (per group and period with a breakdown); reasons in ``note``."""
        if self.breakdown is None:
            return uniform(self._flat(self.total)) if self.total else []
        flat: list[dict[str, Any]] = []
        for g in self.groups:
            flat.extend({self.breakdown: g.value, **r} for r in self._flat(g))
        return uniform(flat)

    def headline(self, m: Momentum | None = None) -> str:
        """One line: the latest complete period's quick ratio and NRR, the loop's share of new customers."""
        m = m or self.total or (self.groups[0] if self.groups else None)
        if m is None:
            return "no events"
        s = m.summary

        def num(key: str) -> str:
            v = s.get(key)
            return f"not measured ({s.get(f'{key}_reason')})" if v is None else f"{v:.2f}"

        nrr = s.get("net_revenue_retention")
        share = s.get("loop_share")
        return (
            f"{s.get('latest_period')}: quick ratio {num('quick_ratio')}, net revenue retention "
            f"{'not measured' if nrr is None else format_percent(nrr)}; the loop brought "
            f"{'not measured' if share is None else format_percent(share)} of "
            f"{s.get('new_customers', 0):,} new customers (hourglass's loop share)"
        )

    def to_text(self) -> str:
        parts = []
        for m in [self.total] if self.total else list(self.groups):
            title = f"flywheel · {self.period_unit}" + (
                f" · {self.breakdown} = {m.value}" if self.breakdown else ""
            )
            lines = [
                [
                    r["period"] + ("" if r["complete"] else "*"),
                    str(r["active"]),
                    str(r["new"]),
                    str(r["retained"]),
                    str(r["resurrected"]),
                    f"-{r['churned']}",
                    "-" if r.get("quick_ratio") is None else f"{r['quick_ratio']:.2f}",
                    "-" if r.get("revenue") is None else f"{r['revenue']:,.0f}",
                    format_percent(r.get("net_revenue_retention")),
                    format_percent(r.get("loop_share")),
                    "-" if r.get("k_factor") is None else f"{r['k_factor']:.3f}",
                    format_duration(r.get("cycle_time_median_s"), " "),
                ]
                for r in m.periods
            ]
            header = (
                "period",
                "active",
                "new",
                "retained",
                "resurrected",
                "churned",
                "quick ratio",
                "revenue",
                "NRR",
                "loop share",
                "K",
                "cycle time",
            )
            parts.append(text_table(header, lines, title=title) + "\n" + self.headline(m))
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return self.to_text()


def assemble_flywheel(
    rows: Rows, spec: GrowthSpec, reasons: Mapping[str, str], meta: Mapping[str, Any]
) -> FlywheelResult:
    """The result from the plan's rows; ``reasons``: why a part is not measured (keys ``revenue``,
    ``referrals``, ``word_of_mouth``, ``paid``, ``sale``, ``purchases``)."""
    grid = rows["grid"][0] if rows["grid"] else {}
    meta = dict(meta)
    meta["composite"] = _COMPOSITE
    if grid.get("p_min") is None:
        empty = Momentum(None, 0, (), {"latest_period": None, "new_customers": 0})
        return FlywheelResult(spec.period, None if spec.by else empty, spec.by, (), meta)
    p_min, p_max = int(grid["p_min"]), int(grid["p_max"])
    epoch = datetime(1970, 1, 1)
    first = epoch + timedelta(microseconds=int(grid["t_min"]))
    last = epoch + timedelta(microseconds=int(grid["t_max"]))
    covered = (spec.since or first, spec.until or last)
    if spec.by is None:
        return FlywheelResult(
            spec.period, _momentum(rows, "", spec, p_min, p_max, covered, reasons), None, (), meta
        )
    from hourglass.model.journeys_spec import OTHER

    def order(r: Mapping[str, Any]) -> tuple[int, int, str]:
        g = r["g"]
        return (2 if g is None else 1 if g == OTHER else 0, -int(r["customers"]), str(g))

    values = sorted(rows["customers"], key=order)  # by customers, then "(other)", a missing value last
    groups = tuple(_momentum(rows, r["g"], spec, p_min, p_max, covered, reasons) for r in values)
    return FlywheelResult(spec.period, None, spec.by, groups, meta)
