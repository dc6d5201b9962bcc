"""Customer lifetime value's spec and result (docs/semantics-clv.md): the model, period, horizon,
calibration end and discount rate a user asks for, checked where they are given, and the fitted
models, totals, hold-out check and channels the assembly (model/clv.py) returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hourglass.model import clv_fit as F
from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.spec import US, parse_time, parse_window

__all__ = [
    "EPOCH",
    "FITS",
    "HOLDOUT_BINS",
    "MAX_HORIZON_DAYS",
    "PERIODS",
    "ClvResult",
    "ClvSpec",
    "date_of",
    "day_of",
]

FITS = ("bgnbd", "paretonbd", "sbg")
#: the longest horizon (days): CLV looks at most 10 years ahead
MAX_HORIZON_DAYS = 3650
PERIODS = {"day": 1, "week": 7}
EPOCH = datetime(1970, 1, 1)
HOLDOUT_BINS = 8  # 0 .. 6 and "7+"


def day_of(dt: datetime) -> int:
    return (dt - EPOCH).days


def date_of(day: int) -> str:
    return (EPOCH + timedelta(days=day)).date().isoformat()


@dataclass(frozen=True)
class ClvSpec:
    """``fit``: bgnbd or paretonbd; ``period``: the time unit of recency, T and the horizon (day or
    week); ``calibration_end``: the last day of the calibration period (purchases on that day are in
    it; None: the last day of the data, no hold-out); ``horizon_days``: how far CLV looks ahead;
    ``discount_rate``: per year."""

    fit: str = "bgnbd"
    period: str = "week"
    calibration_end: datetime | None = None
    horizon_days: int = 364
    discount_rate: float = 0.1

    @classmethod
    def build(
        cls,
        fit: str = "bgnbd",
        *,
        period: str = "week",
        calibration_end: Any = None,
        horizon: Any = "52w",
        discount_rate: Any = 0.1,
    ) -> ClvSpec:
        if fit not in FITS:
            raise SpecError(
                f"unknown CLV model '{fit}'{did_you_mean(str(fit), FITS)}",
                code="HG180",
                hint="--fit bgnbd (BG/NBD), --fit paretonbd (Pareto/NBD) or --fit sbg (retention)",
            )
        if period not in PERIODS:
            raise SpecError(
                f"unknown period '{period}'{did_you_mean(str(period), PERIODS)}",
                code="HG181",
                hint="--period day or --period week",
            )
        try:
            us = parse_window(horizon)
        except SpecError:
            us = 0
        if us <= 0 or us % (86400 * US):
            raise SpecError(
                f"invalid horizon {horizon!r}",
                code="HG182",
                hint="write whole days or weeks: --horizon 52w, --horizon 365d",
            )
        if us > MAX_HORIZON_DAYS * 86400 * US:  # one step per period: 100 years of days took minutes
            raise SpecError(
                f"--horizon {horizon!r} is longer than 10 years",
                code="HG182",
                hint="write at most 3650d or 521w (CLV looks at most 10 years ahead)",
            )
        try:
            rate = float(discount_rate)
        except (TypeError, ValueError):
            rate = math.nan
        if not (0 <= rate < 10):
            raise SpecError(
                f"invalid discount rate {discount_rate!r}",
                code="HG182",
                hint="a yearly rate as a fraction: --discount-rate 0.1 for 10% a year (0 for none)",
            )
        cal = parse_time(calibration_end, what="calibration end")
        return cls(fit, period, cal, us // (86400 * US), rate)

    def describe(self) -> dict[str, Any]:
        return {
            "fit": self.fit,
            "period": self.period,
            "calibration_end": self.calibration_end.date().isoformat() if self.calibration_end else None,
            "horizon_days": self.horizon_days,
            "discount_rate": self.discount_rate,
        }


@dataclass(frozen=True)
class ClvResult:
    """See docs/semantics-clv.md for every key. ``customers`` are the per-customer predictions (for
    ``--customers``; not in ``to_dict``)."""

    spec: ClvSpec
    fit: F.Fit
    calibration: dict[str, Any]
    spend_model: F.Fit | None
    spend_reason: str | None
    totals: dict[str, Any]
    totals_reasons: dict[str, str]
    holdout: list[dict[str, Any]] | None
    holdout_reason: str | None
    channels: list[dict[str, Any]] | None
    channels_reason: str | None
    customers: list[dict[str, Any]] = field(repr=False, default_factory=list)
    notes: tuple[str, ...] = ()
    #: ``--fit sbg`` only: ``survival`` S(0..horizon), ``retention`` S(k)/S(k-1), ``observed``
    retention: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.spec.fit,
            "params": dict(self.fit.params),
            "std_errors": dict(self.fit.std_errors),
            "loglik": self.fit.loglik,
            "converged": self.fit.converged,
            "spec": self.spec.describe(),
            "calibration": dict(self.calibration),
            "spend_model": None,
            "totals": {**self.totals, **{f"{k}_reason": v for k, v in self.totals_reasons.items()}},
            "holdout": self.holdout,
            "channels": self.channels,
            "notes": list(self.notes),
        }
        if self.retention is not None:
            out["retention"] = self.retention
        if self.spend_model is not None:
            out["spend_model"] = {
                "model": "gammagamma",
                "params": dict(self.spend_model.params),
                "std_errors": dict(self.spend_model.std_errors),
                "loglik": self.spend_model.loglik,
                "n": self.spend_model.n,
            }
        else:
            out["spend_model_reason"] = self.spend_reason
        if self.holdout is None:
            out["holdout_reason"] = self.holdout_reason
        if self.channels is None:
            out["channels_reason"] = self.channels_reason
        return out

    def rows(self) -> list[dict[str, Any]]:
        """CSV: one row per parameter (the purchase model's, then the spend model's)."""
        out = [
            {"model": self.spec.fit, "parameter": k, "value": v, "std_error": self.fit.std_errors[k]}
            for k, v in self.fit.params.items()
        ]
        out.append(
            {"model": self.spec.fit, "parameter": "loglik", "value": self.fit.loglik, "std_error": None}
        )
        if self.spend_model is not None:
            out += [
                {
                    "model": "gammagamma",
                    "parameter": k,
                    "value": v,
                    "std_error": self.spend_model.std_errors[k],
                }
                for k, v in self.spend_model.params.items()
            ]
        return out
