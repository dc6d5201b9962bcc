"""The referral loop ("turning the hourglass over"): its spec, who counts as a purchaser, and the
result (docs/semantics-referrals.md). Pure: the engine fills the result from small aggregates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from hourglass.model._suggest import check_keys, did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.results import format_duration, format_percent
from hourglass.model.spec import check_period, parse_time
from hourglass.model.stats import ratio, wilson
from hourglass.model.steps import Step

__all__ = [
    "PERIODS",
    "PeriodRow",
    "ReferralResult",
    "ReferralSpec",
    "Referrer",
    "SaleDefinition",
    "period_label",
    "sale_definition",
]

#: Period units for "new customers per period" (calendar periods in UTC; weeks start on Monday).
PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class SaleDefinition:
    """The events that make a customer a purchaser, and how the result describes them."""

    step: Step
    described: str


def sale_definition(model: JourneyModel, sale_stage: str | None = None) -> SaleDefinition:
    """Purchasers are the customers who entered ``sale_stage`` (if given), else the model's sale stage;
    a model without one (the flywheel) uses its purchase events; neither is HG140."""
    if sale_stage is not None:
        step = model.stage(sale_stage)
        return SaleDefinition(step, f"stage '{step.name}'")
    if model.sale is not None:
        return SaleDefinition(model.stage(model.sale), f"stage '{model.sale}'")
    if model.purchase_events:
        events = model.purchase_events
        return SaleDefinition(
            Step("purchase", events),
            f"events {', '.join(events)} (model '{model.name}' names no sale stage)",
        )
    raise SpecError(
        f"model '{model.name}' names no sale stage and no purchase events, so nobody is a purchaser",
        code="HG140",
        hint="name the stage where customers buy: --goal STAGE (stages: "
        + ", ".join(s.name for s in model.stages)
        + "), or add 'sale:' to the model file",
    )


def period_label(start: datetime, unit: str) -> str:
    """``2024-01-05`` (day), ``2024-W01`` (ISO week), ``2024-01``, ``2024-Q1``, ``2024``."""
    if unit == "day":
        return start.strftime("%Y-%m-%d")
    if unit == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return start.strftime("%Y-%m")
    if unit == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


@dataclass(frozen=True)
class ReferralSpec:
    """Options of the referral analysis. By default a customer's referrer comes from the ``referrer``
    column; with ``referral_event`` and ``referee_column``, an event named ``referral_event`` done by
    the referrer names the referee in ``referee_column``."""

    sale_stage: str | None = None
    referral_event: str | None = None
    referee_column: str | None = None
    period: str = "month"
    max_depth: int = 10
    top: int = 10
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if (self.referral_event is None) != (self.referee_column is None):
            raise SpecError(
                "a referral event needs both the event name and the column naming the referee",
                code="HG141",
                hint="give both --referral-event EVENT and --referee-col COLUMN, or neither "
                "(then the referrer column is used)",
            )
        if self.period not in PERIODS:
            raise SpecError(
                f"unknown period '{self.period}'{did_you_mean(self.period, PERIODS)}",
                code="HG142",
                hint="periods: " + ", ".join(PERIODS),
            )
        for name, value, low, high in (("max_depth", self.max_depth, 1, 50), ("top", self.top, 0, 10_000)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise SpecError(
                    f"{name} must be a whole number from {low} to {high}, got {value!r}",
                    code="HG143",
                    hint="give a whole number in that range",
                )
        check_period(self.since, self.until)

    @classmethod
    def build(cls, **options: Any) -> ReferralSpec:
        check_keys(options, [f.name for f in fields(cls)], where="the referral options")
        kwargs: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        for key in ("since", "until"):
            if key in kwargs:
                kwargs[key] = parse_time(kwargs[key], what=f"--{key}")
        return cls(**kwargs)

    @property
    def by_event(self) -> bool:
        return self.referral_event is not None

    def describe(self) -> dict[str, Any]:
        return {
            "referrer_from": (
                f"event '{self.referral_event}' (referee in column '{self.referee_column}')"
                if self.by_event
                else "column 'referrer'"
            ),
            "period": self.period,
            "max_depth": self.max_depth,
            "top": self.top,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True)
class PeriodRow:
    """New customers (first event in the period) and how many of them were referred."""

    period: str
    new_customers: int
    referred: int


@dataclass(frozen=True)
class Referrer:
    customer: str
    referees: int
    referred_purchasers: int
    referee_revenue: float | None


def _ci(k: int, n: int, name: str) -> dict[str, float | None]:
    low, high = wilson(k, n)
    return {name: ratio(k, n), f"{name}_low": low, f"{name}_high": high}


def _div(a: float | None, b: int) -> float | None:
    return None if a is None or b == 0 else a / b


@dataclass(frozen=True)
class ReferralResult:
    """Counts measured by the engine; rates are derived (docs/semantics-referrals.md)."""

    customers: int
    purchasers: int
    referees: int
    referred_purchasers: int
    referrers: int
    purchasers_referring: int
    self_referrals: int
    external_referrers: int
    in_cycles: int
    beyond_max_depth: int
    referees_distribution: tuple[tuple[int, int], ...]
    generations: tuple[tuple[int, int], ...]
    cycle_time_pairs: int
    cycle_time_negative: int
    cycle_time_median_s: float | None
    cycle_time_p90_s: float | None
    revenue_total: float | None
    revenue_referred: float | None
    periods: tuple[PeriodRow, ...]
    top_referrers: tuple[Referrer, ...]
    period_unit: str = "month"
    max_depth: int = 10
    purchasers_from: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    missing: str | None = None  #: why nobody can be seen referring (the referral event is absent)

    @property
    def k_factor(self) -> float | None:
        return ratio(self.referred_purchasers, self.purchasers)

    def warnings(self) -> list[str]:
        out = []
        if self.self_referrals:
            out.append(
                f"{self.self_referrals} customer(s) name themselves as referrer: ignored "
                "(their other referrer values still count)"
            )
        if self.external_referrers:
            out.append(
                f"{self.external_referrers} customer(s) name a referrer who is not a customer of the log "
                "(in the range): not counted as referred"
            )
        if self.beyond_max_depth:
            out.append(
                f"{self.beyond_max_depth} referee(s) reach no first-generation customer within "
                f"{self.max_depth} steps ({self.in_cycles} of them are in a referral cycle): "
                "no generation (raise max_depth if chains are deeper)"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        out = self._values()
        why = self.missing
        if why is None:
            if self.purchasers == 0:
                for key in ("k_factor", "referral_rate"):
                    out[f"{key}_reason"] = "no purchasers"
            if self.referees == 0:
                out["referral_conversion_reason"] = "nobody was referred by another customer of the log"
            if out["revenue"] is None:
                out["revenue_reason"] = "no revenue column: map one with --revenue-col COLUMN"
            return out
        for key in ("referees", "referred_purchasers", "referrers", "purchasers_referring"):
            out[key], out[f"{key}_reason"] = None, why
        for key in ("k_factor", "referral_conversion", "referral_rate"):
            out.update({key: None, f"{key}_low": None, f"{key}_high": None, f"{key}_reason": why})
        return out

    def _values(self) -> dict[str, Any]:
        others = self.customers - self.referees
        rev_other = None
        if self.revenue_total is not None and self.revenue_referred is not None:
            rev_other = self.revenue_total - self.revenue_referred
        return {
            "customers": self.customers,
            "purchasers": self.purchasers,
            "purchasers_from": self.purchasers_from,
            "referees": self.referees,
            "referred_purchasers": self.referred_purchasers,
            **_ci(self.referred_purchasers, self.purchasers, "k_factor"),
            **_ci(self.referred_purchasers, self.referees, "referral_conversion"),
            "referrers": self.referrers,
            "referees_per_customer": ratio(self.referees, self.customers),
            "referees_per_referrer": ratio(self.referees, self.referrers),
            "purchasers_referring": self.purchasers_referring,
            **_ci(self.purchasers_referring, self.purchasers, "referral_rate"),
            "referees_distribution": [{"referees": k, "customers": n} for k, n in self.referees_distribution],
            "generations": [{"generation": g, "customers": n} for g, n in self.generations],
            "deepest_generation": max((g for g, n in self.generations if n), default=None),
            "max_depth": self.max_depth,
            "self_referrals": self.self_referrals,
            "external_referrers": self.external_referrers,
            "in_cycles": self.in_cycles,
            "beyond_max_depth": self.beyond_max_depth,
            "cycle_time": {
                "pairs": self.cycle_time_pairs,
                "median_s": self.cycle_time_median_s,
                "p90_s": self.cycle_time_p90_s,
                "negative": self.cycle_time_negative,
            },
            "revenue": None
            if self.revenue_total is None
            else {
                "total": self.revenue_total,
                "referred": self.revenue_referred,
                "referred_share": (
                    None
                    if self.revenue_referred is None or not self.revenue_total
                    else self.revenue_referred / self.revenue_total
                ),
                "per_referred_customer": _div(self.revenue_referred, self.referees),
                "per_other_customer": _div(rev_other, others),
            },
            "period_unit": self.period_unit,
            "periods": [
                {
                    "period": p.period,
                    "new_customers": p.new_customers,
                    "referred": p.referred,
                    "referred_share": ratio(p.referred, p.new_customers),
                }
                for p in self.periods
            ],
            "top_referrers": [
                {
                    "customer": r.customer,
                    "referees": r.referees,
                    "referred_purchasers": r.referred_purchasers,
                    "referee_revenue": r.referee_revenue,
                }
                for r in self.top_referrers
            ],
            "warnings": self.warnings(),
            "meta": dict(self.meta),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Long rows ``section, key, value`` (CSV, pandas): every number of the result."""
        d = self.to_dict()
        out: list[dict[str, Any]] = []
        for key, value in d.items():
            if isinstance(value, int | float | str) or value is None:
                out.append({"section": "summary", "key": key, "value": value})
        for key in ("cycle_time", "revenue"):
            out.extend({"section": key, "key": k, "value": v} for k, v in (d[key] or {}).items())
        out.extend(
            {"section": "referees_distribution", "key": str(r["referees"]), "value": r["customers"]}
            for r in d["referees_distribution"]
        )
        out.extend(
            {"section": "generations", "key": str(r["generation"]), "value": r["customers"]}
            for r in d["generations"]
        )
        for p in d["periods"]:
            for k in ("new_customers", "referred", "referred_share"):
                out.append({"section": f"period {p['period']}", "key": k, "value": p[k]})
        for i, r in enumerate(d["top_referrers"], start=1):
            for k in ("customer", "referees", "referred_purchasers", "referee_revenue"):
                out.append({"section": f"top_referrer {i}", "key": k, "value": r[k]})
        return out

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        d = self.to_dict()
        if self.missing is not None:
            return f"referral loop: not measured ({self.missing})"
        ct = d["cycle_time"]
        lines = [
            f"referral loop · purchasers = customers who entered {self.purchasers_from}",
            f"customers {self.customers}, purchasers {self.purchasers}, referees {self.referees} "
            f"({format_percent(d['referees_per_customer'])} of customers), referrers {self.referrers}",
            f"referred purchasers {self.referred_purchasers}; K-factor {_k(d)}; "
            f"referral conversion {format_percent(d['referral_conversion'])}; "
            f"purchasers who referred {format_percent(d['referral_rate'])}",
            f"cycle time (referrer's first purchase -> referee's): median "
            f"{_signed_duration(ct['median_s'])}, p90 {_signed_duration(ct['p90_s'])} "
            f"over {ct['pairs']} pairs",
            "generations: " + ", ".join(f"{g['generation']}: {g['customers']}" for g in d["generations"]),
        ]
        if d["revenue"] is None:
            lines.append(f"revenue from referred customers: not measured ({d['revenue_reason']})")
        else:
            lines.append(
                f"revenue from referred customers {d['revenue']['referred']:.2f} "
                f"({format_percent(d['revenue']['referred_share'])} of {d['revenue']['total']:.2f})"
            )
        if d["periods"]:
            lines.append(
                f"new customers by {self.period_unit}: "
                + ", ".join(
                    f"{p['period']} {p['new_customers']} ({format_percent(p['referred_share'])} referred)"
                    for p in d["periods"]
                )
            )
        if d["top_referrers"]:
            lines.append(
                "top referrers: "
                + ", ".join(f"{r['customer']} ({r['referees']})" for r in d["top_referrers"])
            )
        lines.extend(f"note: {w}" for w in d["warnings"])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _k(d: Mapping[str, Any]) -> str:
    if d["k_factor"] is None:
        return f"not measured ({d.get('k_factor_reason', 'no purchasers')})"
    low, high = format_percent(d["k_factor_low"]), format_percent(d["k_factor_high"])
    return f"{format_percent(d['k_factor'])} ({low}-{high})"


def _signed_duration(s: float | None) -> str:
    if s is None or s >= 0:
        return format_duration(s)
    return "-" + format_duration(-s)
