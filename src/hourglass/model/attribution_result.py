"""Multi-touch attribution's result (docs/semantics-attribution.md): the credits of every model, per
channel and per hourglass stage, with the costs and the reasons for what is not measured. Pure; the
assembly from the engine's small tables is model/attribution_assemble.py's."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model.attribution import MODELS
from hourglass.model.errors import EngineError

__all__ = ["LABELS", "AttributionResult", "StageCredits", "parse_path"]

_ITEM = re.compile(r"\|(?=\d{9}:)")
_NO_REVENUE = "no revenue column: map one with --revenue-col COLUMN"
_BUG = "this is a bug in hourglass, not in your data: please report it with the command you ran"
_NO_SPEND = "no spend table: give --spend FILE (a CSV of channel, period, cost)"
_NO_STAGES = "not asked: give --stages (or --credit-model MODEL) for the hourglass stages per channel"
LABELS = {
    "first_touch": "first touch",
    "last_touch": "last touch",
    "last_non_direct": "last non-direct",
    "linear": "linear",
    "time_decay": "time decay",
    "position_based": "position",
    "markov": "Markov",
    "shapley": "Shapley",
    "shapley_rate": "Shapley (rate)",
}


def parse_path(key: str | None) -> tuple[str, ...]:
    """The channels of an engine path key ``000000001:ads|000000002:email`` (positions zero-padded
    to nine digits, so that sorting the items as text sorts them by position)."""
    if not key:
        return ()
    return tuple(item[10:] for item in _ITEM.split(key))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@dataclass(frozen=True)
class StageCredits:
    """One stage of the stages table: ``customers`` entered it in the range (None: no event of the
    stage in the range, not measured), ``with_touch`` of them had a touch in the lookback before
    their entry; ``credits`` splits those among the channels under the chosen model."""

    stage: str
    label: str
    events: tuple[str, ...]
    customers: int | None
    with_touch: int | None
    credits: Mapping[str, float] | None

    def __post_init__(self) -> None:
        if self.customers is None or self.with_touch is None or self.credits is None:
            return
        got = sum(self.credits.values())
        if (
            not 0 <= self.with_touch <= self.customers
            or not _close(got, self.with_touch)
            or any(x < -1e-9 for x in self.credits.values())
        ):
            raise EngineError(
                f"attribution: stage '{self.stage}' credits {got!r} customers to channels, "
                f"not the {self.with_touch} of {self.customers} with a touch",
                code="HG383",
                hint=_BUG,
            )

    def to_dict(self, channels: Sequence[str], costs: Mapping[str, float] | None = None) -> dict[str, Any]:
        """The stage's JSON; with ``costs`` (the spend table's cost per channel in the range) the
        cost per customer credited to each channel (null with why: no cost, no credit)."""
        out: dict[str, Any] = {"stage": self.stage, "label": self.label or self.stage}
        if self.customers is None or self.credits is None:
            why = (
                f"no event of stage '{self.stage}' ({', '.join(self.events)}) in the range: map the stage "
                "to your events in a model file (hourglass models suggest SOURCE) or pick another --model"
            )
            out.update(measured=False, customers=None, with_touch=None, without_touch=None, credits=None)
            out["customers_reason"] = out["with_touch_reason"] = out["without_touch_reason"] = why
            out["credits_reason"] = out["cost_per_customer_reason"] = why
            out["cost_per_customer"] = None
            return out
        out.update(
            measured=True,
            customers=self.customers,
            with_touch=self.with_touch,
            without_touch=self.customers - (self.with_touch or 0),
            credits={c: self.credits.get(c, 0.0) for c in channels},
        )
        if costs is None:
            out["cost_per_customer"] = None
            out["cost_per_customer_reason"] = _NO_SPEND
            return out
        per: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        for c in channels:
            k = self.credits.get(c, 0.0)
            cost = costs.get(c)
            per[c] = None if cost is None or k <= 1e-12 else cost / k
            if cost is None:
                reasons[c] = f"the spend table has no cost for channel '{c}' in the range"
            elif k <= 1e-12:
                reasons[c] = "no customer of the stage credited to the channel"
        out["cost_per_customer"] = per
        if reasons:
            out["cost_per_customer_reasons"] = reasons
        return out


@dataclass(frozen=True)
class AttributionResult:
    """Credits per model and channel (``credits[model][channel]``, conversions; ``revenue_credits``
    likewise, None without a revenue column); ``costs`` per channel with a spend table."""

    spec: Mapping[str, Any]
    conversion: str
    channels: tuple[str, ...]
    credits: Mapping[str, Mapping[str, float]]
    revenue_credits: Mapping[str, Mapping[str, float]] | None
    conversions: int
    conversions_attributed: int
    non_converting_journeys: int
    revenue: float | None
    revenue_attributed: float | None
    touches: Mapping[str, int]
    markov: Mapping[str, Any]
    paths: int = 0
    costs: Mapping[str, float] | None = None
    pooled: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    stages: tuple[StageCredits, ...] | None = None

    def __post_init__(self) -> None:
        check_totals(self.credits, self.conversions_attributed, "conversions")
        if self.revenue_credits is not None and self.revenue_attributed is not None:
            check_totals(self.revenue_credits, self.revenue_attributed, "revenue")

    def _channel_row(self, c: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "channel": c,
            "touches": self.touches.get(c, 0),
            "conversions": {m: self.credits[m].get(c, 0.0) for m in MODELS},
        }
        if self.revenue_credits is None:
            row["revenue"] = None
            row["revenue_reason"] = _NO_REVENUE
        else:
            row["revenue"] = {m: self.revenue_credits[m].get(c, 0.0) for m in MODELS}
        row["removal_effect"] = self.markov["removal_effects"].get(c)
        if self.costs is None:
            row.update(cost=None, cost_reason=_NO_SPEND, cost_per_conversion=None, roi=None)
            row["cost_per_conversion_reason"] = row["roi_reason"] = _NO_SPEND
            return row
        cost = self.costs.get(c)
        row["cost"] = cost
        if cost is None:
            why = f"the spend table has no cost for channel '{c}' in the range"
            row.update(cost_reason=why, cost_per_conversion=None, roi=None)
            row["cost_per_conversion_reason"] = row["roi_reason"] = why
            return row
        per: dict[str, float | None] = {}
        roi: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        for m in MODELS:
            k = self.credits[m].get(c, 0.0)
            per[m] = cost / k if k > 1e-12 else None
            if per[m] is None:
                reasons[f"cost_per_conversion.{m}"] = "no conversion credited to the channel"
            if self.revenue_credits is None:
                roi[m] = None
            elif cost == 0:
                roi[m] = None
                reasons[f"roi.{m}"] = "the cost is 0: no return on nothing"
            else:
                roi[m] = (self.revenue_credits[m].get(c, 0.0) - cost) / cost
        row["cost_per_conversion"] = per
        row["roi"] = roi
        if self.revenue_credits is None:
            row["roi"] = None
            row["roi_reason"] = _NO_REVENUE
        if reasons:
            row["reasons"] = reasons
        return row

    def to_dict(self) -> dict[str, Any]:
        totals = {
            m: {
                "conversions": sum(self.credits[m].values()),
                "revenue": None if self.revenue_credits is None else sum(self.revenue_credits[m].values()),
            }
            for m in MODELS
        }
        out: dict[str, Any] = {
            "conversion": self.conversion,
            "models": list(MODELS),
            "conversions": self.conversions,
            "conversions_attributed": self.conversions_attributed,
            "conversions_without_touches": self.conversions - self.conversions_attributed,
            "non_converting_journeys": self.non_converting_journeys,
            "paths": self.paths,
            "revenue": self.revenue,
            "revenue_attributed": self.revenue_attributed,
            "channels": [self._channel_row(c) for c in self.channels],
            "totals": totals,
            "markov": dict(self.markov),
            "pooled": list(self.pooled),
            "has_spend": self.costs is not None,
        }
        if self.revenue is None:
            out["revenue_reason"] = out["revenue_attributed_reason"] = _NO_REVENUE
        if self.costs is not None:
            out["cost"] = sum(self.costs.values())
        out["stages"] = self.stages_dict()
        if self.stages is None:
            out["stages_reason"] = _NO_STAGES
        out["spec"] = dict(self.spec)
        out["meta"] = dict(self.meta)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per channel: ``<model>`` conversions, ``revenue_<model>``, with a spend
        table ``cost``, ``cpa_<model>`` and ``roi_<model>``, with the stages ``stage_<stage>`` (the
        stage's customers credited to the channel); empty cells' reasons in ``note``."""
        flat = []
        for r in self.to_dict()["channels"]:
            row: dict[str, Any] = {"channel": r["channel"], "touches": r["touches"]}
            notes: dict[str, None] = {}
            for m in MODELS:
                row[m] = r["conversions"][m]
            for m in MODELS:
                row[f"revenue_{m}"] = None if r["revenue"] is None else r["revenue"][m]
            row["removal_effect"] = r["removal_effect"]
            if self.costs is not None:
                row["cost"] = r["cost"]
                for m in MODELS:
                    per = r["cost_per_conversion"]
                    row[f"cpa_{m}"] = None if per is None else per[m]
                for m in MODELS:
                    roi = r["roi"]
                    row[f"roi_{m}"] = None if roi is None else roi[m]
                notes.update(dict.fromkeys(r.get("reasons", {}).values()))
            for k, v in r.items():
                if k.endswith("_reason"):
                    notes[str(v)] = None
            if self.stages is not None:
                for s in self.stages:
                    row[f"stage_{s.stage}"] = None if s.credits is None else s.credits.get(r["channel"], 0.0)
                    if s.credits is None:
                        notes[f"stage {s.stage} not measured (no event of it in the range)"] = None
            row["note"] = "; ".join(notes) or None
            flat.append(row)
        return flat

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def stages_dict(self) -> dict[str, Any] | None:
        """The ``stages`` block: the chosen model, the lookback, and per stage (in the model's
        order) its customers, those with and without a touch, the credits per channel (every
        channel of the result, in its order) and, with a spend table, the cost per credited
        customer."""
        if self.stages is None:
            return None
        return {
            "credit_model": self.spec.get("credit_model"),
            "lookback": self.spec.get("lookback"),
            "channels": list(self.channels),
            "stages": [s.to_dict(self.channels, self.costs) for s in self.stages],
        }

    def stage_rows(self) -> list[dict[str, Any]]:
        """The stages table flat: one row per channel (customers credited per stage), then the row
        ``(no touch)`` (customers without a touch) and ``(entered)`` (the stage's customers); an
        unmeasured stage is empty (None) in every row."""
        block = self.stages_dict()
        if block is None:
            return []
        out: list[dict[str, Any]] = []
        for c in self.channels:
            row: dict[str, Any] = {"channel": c}
            for s in block["stages"]:
                row[s["stage"]] = None if s["credits"] is None else s["credits"][c]
            out.append(row)
        for name, key in (("(no touch)", "without_touch"), ("(entered)", "customers")):
            out.append({"channel": name, **{s["stage"]: s[key] for s in block["stages"]}})
        return out


def check_totals(credits: Mapping[str, Mapping[str, float]], expected: float, what: str) -> None:
    """Every model's credits add up to ``expected``: else a bug (EngineError HG381)."""
    for m in MODELS:
        got = sum(credits[m].values())
        if not _close(got, expected) or any(x < -1e-9 for x in credits[m].values()):
            raise EngineError(
                f"attribution: the {m} credits of {what} add up to {got!r}, not {expected!r}",
                code="HG381",
                hint=_BUG,
            )
