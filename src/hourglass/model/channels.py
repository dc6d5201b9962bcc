"""Channels across the whole hourglass: the spend table, the spec and the result
(docs/semantics-referrals.md, "Channels"). Pure: the engine fills the result from aggregates."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hourglass.model.results import format_percent
from hourglass.model.stats import ratio, wilson

__all__ = [
    "NEED_PURCHASERS",
    "ChannelResult",
    "ChannelSpec",
    "ChannelStats",
    "Spend",
    "SpendRow",
    "near_miss",
    "parse_period",
]

#: the channel metrics that need purchasers (not measured when the sale stage has no events)
NEED_PURCHASERS = (
    "purchasers",
    "conversion_to_sale",
    "repeat_purchasers",
    "repeat_rate",
    "purchasers_referring",
    "referral_rate",
    "revenue_per_purchaser",
    "purchasers_in_spend_periods",
    "cac",
    "roi",
)
_NO_REVENUE = "no revenue column: map one with --revenue-col COLUMN"
_NO_REFERRER = (
    "no referrer column: map one with --referrer-col COLUMN, "
    "or give --referral-event EVENT --referee-col COLUMN"
)
_NO_SPEND = "no spend table: give --spend FILE (a CSV of channel, period, cost)"
_PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|(\d{2})(?:-(\d{2}))?))?$")


def parse_period(text: str) -> tuple[datetime, datetime] | None:
    """``[start, end)`` of ``2024`` (year), ``2024-Q1`` (quarter), ``2024-01`` (month) or
    ``2024-01-31`` (day); None if the text is none of these."""
    m = _PERIOD_RE.match(text.strip())
    if not m:
        return None
    year = int(m[1])
    try:
        if m[2]:
            q = int(m[2])
            start = datetime(year, 3 * q - 2, 1)
            end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
        elif m[4]:
            start = datetime(year, int(m[3]), int(m[4]))
            end = datetime.fromordinal(start.toordinal() + 1)
        elif m[3]:
            month = int(m[3])
            start = datetime(year, month, 1)
            end = datetime(year + (month == 12), 1 if month == 12 else month + 1, 1)
        else:
            start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
    except ValueError:
        return None
    return start, end


@dataclass(frozen=True)
class SpendRow:
    """Spend on ``channel`` during ``[start, end)`` (the period ``period``); ``line`` in the file."""

    channel: str
    period: str
    start: datetime
    end: datetime
    cost: float
    line: int = 0


@dataclass(frozen=True)
class Spend:
    """A validated spend table (ingest/spend.py): no two rows of a channel overlap in time."""

    rows: tuple[SpendRow, ...]
    source: str = "the spend table"

    def within(self, since: datetime | None, until: datetime | None) -> tuple[SpendRow, ...]:
        """The rows whose whole period lies in ``[since, until)``."""
        return tuple(
            r for r in self.rows if (since is None or r.start >= since) and (until is None or r.end <= until)
        )


@dataclass(frozen=True)
class ChannelSpec:
    """``channel_column``: the column whose first non-null value is a customer's channel (default the
    ``channel`` role); ``since``/``until``: the events analysed."""

    channel_column: str = "channel"
    sale_stage: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "channel_column": self.channel_column,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True)
class ChannelStats:
    """Counts of one acquisition channel. ``stages`` are entered counts per model stage; the
    ``covered_*`` counts are over the customers acquired in a period the spend table covers."""

    channel: str | None
    customers: int
    stages: tuple[int, ...]
    purchasers: int
    repeat_purchasers: int
    referees: int | None
    purchasers_referring: int | None
    revenue: float | None
    cost: float | None = None
    covered_customers: int = 0
    covered_purchasers: int = 0
    covered_stages: tuple[int, ...] = ()
    covered_revenue: float | None = None
    zero_cost_customers: int = 0


def _ci(k: int, n: int, name: str) -> dict[str, float | None]:
    low, high = wilson(k, n)
    return {name: ratio(k, n), f"{name}_low": low, f"{name}_high": high}


def _per(a: float | None, n: int) -> float | None:
    return None if a is None or n == 0 else a / n


def near_miss(name: str, channels: Iterable[str]) -> str | None:
    """The channel ``name`` was probably meant to be: one equal to it but for case (the smallest,
    as text), else the closest by ``difflib`` (the "did you mean" rule of model/_suggest.py); None
    if none is close."""
    choices = sorted(set(channels) - {name})
    same = [c for c in choices if c.casefold() == name.casefold()]
    if same:
        return same[0]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return close[0] if close else None


@dataclass(frozen=True)
class ChannelResult:
    """Per acquisition channel, across every stage of the model; spend metrics when a spend table was
    given (``has_spend``)."""

    stages: tuple[str, ...]
    channels: tuple[ChannelStats, ...]
    channel_column: str = "channel"
    purchasers_from: str = ""
    has_spend: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    unmeasured: Mapping[str, str] = field(default_factory=dict)  #: metric -> why, for every channel
    missing_stages: Mapping[str, str] = field(default_factory=dict)  #: stage -> why (no event of it)

    def _row(self, c: ChannelStats) -> dict[str, Any]:
        row = self._values(c)
        for key in ("stages", "cost_per_stage"):
            for st in row.get(key, []):
                if st["stage"] in self.missing_stages:
                    st.update({k: None for k in st if k != "stage"}, reason=self.missing_stages[st["stage"]])
        for key, why in self.unmeasured.items():
            if key in row:
                row[key] = None
                row.update({f"{key}_{end}": None for end in ("low", "high") if f"{key}_{end}" in row})
                row[f"{key}_reason"] = why
        return row

    def _values(self, c: ChannelStats) -> dict[str, Any]:
        row: dict[str, Any] = {
            "channel": c.channel,
            "customers": c.customers,
            "stages": [{"stage": s, "entered": n} for s, n in zip(self.stages, c.stages, strict=True)],
            "purchasers": c.purchasers,
            **_ci(c.purchasers, c.customers, "conversion_to_sale"),
            "repeat_purchasers": c.repeat_purchasers,
            **_ci(c.repeat_purchasers, c.purchasers, "repeat_rate"),
            "referees": c.referees,
            "purchasers_referring": c.purchasers_referring,
        }
        if c.purchasers_referring is None:
            row.update(referral_rate=None, referral_rate_low=None, referral_rate_high=None)
            row.update(referees_reason=_NO_REFERRER, purchasers_referring_reason=_NO_REFERRER)
            row["referral_rate_reason"] = _NO_REFERRER
        else:
            row.update(_ci(c.purchasers_referring, c.purchasers, "referral_rate"))
        row.update(
            revenue=c.revenue,
            revenue_per_customer=_per(c.revenue, c.customers),
            revenue_per_purchaser=_per(c.revenue, c.purchasers),
        )
        if c.revenue is None:
            row.update(
                {
                    f"{k}_reason": _NO_REVENUE
                    for k in ("revenue", "revenue_per_customer", "revenue_per_purchaser")
                }
            )
        for key, n, who in (
            ("conversion_to_sale", c.customers, "no customers"),
            ("repeat_rate", c.purchasers, "no purchasers"),
            ("referral_rate", c.purchasers, "no purchasers"),
            ("revenue_per_customer", c.customers, "no customers"),
            ("revenue_per_purchaser", c.purchasers, "no purchasers"),
        ):
            if row.get(key) is None and f"{key}_reason" not in row and n == 0:
                row[f"{key}_reason"] = who
        if not self.has_spend:
            row.update(cac=None, cac_reason=_NO_SPEND, roi=None, roi_reason=_NO_SPEND)
            return row
        cost = c.cost
        row.update(
            cost=cost,
            acquired_in_spend_periods=c.covered_customers,
            purchasers_in_spend_periods=c.covered_purchasers,
            cost_per_customer=_per(cost, c.covered_customers),
            cac=_per(cost, c.covered_purchasers),
            cost_per_stage=[
                {"stage": s, "entered": n, "cost_per_customer": _per(cost, n)}
                for s, n in zip(self.stages, c.covered_stages, strict=True)
            ],
            revenue_in_spend_periods=c.covered_revenue,
            roi=(
                None
                if cost is None or cost == 0 or c.covered_revenue is None
                else (c.covered_revenue - cost) / cost
            ),
            zero_cost_customers=c.zero_cost_customers,
        )
        no_cost = f"the spend table has no cost for channel '{c.channel}' in the range"
        if cost is None:
            for key in ("cost", "cost_per_customer", "cac", "roi"):
                row[f"{key}_reason"] = no_cost
            return row
        if row["cac"] is None:
            row["cac_reason"] = "no purchaser was acquired in the periods the spend table covers"
        if row["cost_per_customer"] is None:
            row["cost_per_customer_reason"] = "no customer was acquired in the periods the spend table covers"
        if c.covered_revenue is None:
            row["roi_reason"] = row["revenue_in_spend_periods_reason"] = _NO_REVENUE
        elif cost == 0:
            row["roi_reason"] = "the cost is 0: no return on nothing"
        return row

    def warnings(self) -> list[str]:
        """Notes on the data: a spend channel that matched no customer's channel but is a near miss
        of one that did (``Ads`` for ``ads``). Its cost stays on it: channels match exactly."""
        acquired = [c.channel for c in self.channels if c.customers and c.channel is not None]
        out = []
        for c in self.channels:
            if c.cost is None or c.customers or c.channel is None:
                continue
            meant = near_miss(c.channel, acquired)
            if meant is not None:
                out.append(
                    f"spend channel '{c.channel}' matched no customer's channel; did you mean '{meant}'? "
                    f"(channels match exactly: its cost is not counted for '{meant}')"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        customers = sum(c.customers for c in self.channels)
        out: dict[str, Any] = {
            "channel_column": self.channel_column,
            "purchasers_from": self.purchasers_from,
            "stages": list(self.stages),
            "channels": [self._row(c) for c in self.channels],
            "customers": customers,
        }
        if self.has_spend:
            zero = sum(c.zero_cost_customers for c in self.channels)
            out["zero_cost_customers"] = zero
            out["zero_cost_share"] = ratio(zero, customers)
            costs = [c.cost for c in self.channels if c.cost is not None]
            out["cost"] = sum(costs) if costs else None
        out["warnings"] = self.warnings()
        out["meta"] = dict(self.meta)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per channel (stage counts as ``entered_<stage>``); the reasons of its empty
        cells in one ``note`` column."""
        flat = []
        for row in self.to_dict()["channels"]:
            skip = ("stages", "cost_per_stage")
            r = {k: v for k, v in row.items() if k not in skip and not k.endswith("_reason")}
            reasons = dict.fromkeys(str(v) for k, v in row.items() if k.endswith("_reason"))
            reasons.update(dict.fromkeys(str(s["reason"]) for s in row["stages"] if "reason" in s))
            r["note"] = "; ".join(reasons) or None
            for s in row["stages"]:
                r[f"entered_{s['stage']}"] = s["entered"]
            for s in row.get("cost_per_stage", []):
                r[f"cost_per_{s['stage']}"] = s["cost_per_customer"]
            flat.append(r)
        return flat

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        header = ["channel", "customers", *self.stages, "to sale", "repeat", "referral", "rev/cust"]
        if self.has_spend:
            header += ["cost", "CAC", "ROI"]
        lines = []
        for r in self.rows():
            cells = [
                "null" if r["channel"] is None else str(r["channel"]),
                str(r["customers"]),
                *("-" if r[f"entered_{s}"] is None else str(r[f"entered_{s}"]) for s in self.stages),
                format_percent(r["conversion_to_sale"]),
                format_percent(r["repeat_rate"]),
                format_percent(r["referral_rate"]),
                "-" if r["revenue_per_customer"] is None else f"{r['revenue_per_customer']:.2f}",
            ]
            if self.has_spend:
                cells += [
                    "-" if r["cost"] is None else f"{r['cost']:.2f}",
                    "-" if r["cac"] is None else f"{r['cac']:.2f}",
                    "-" if r["roi"] is None else format_percent(r["roi"]),
                ]
            lines.append(cells)
        widths = [max(len(h), *(len(x[i]) for x in lines)) if lines else len(h) for i, h in enumerate(header)]

        def fmt(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        text = [fmt(header), *(fmt(x) for x in lines)]
        reasons = dict.fromkeys(n for r in self.rows() if r["note"] for n in str(r["note"]).split("; "))
        text.extend(f"-: not measured ({why})" for why in reasons)
        d = self.to_dict()
        if self.has_spend:
            text.append(f"acquired at zero cost: {format_percent(d['zero_cost_share'])} of customers")
        text.extend(f"note: {w}" for w in d["warnings"])
        return "\n".join(text)

    def __str__(self) -> str:
        return self.to_text()
