"""Customer lifetime value (docs/semantics-clv.md): the pure assembly of a per-customer purchase
summary into fitted models, per-customer predictions, the hold-out check and CLV by acquisition
channel (the spec and the result are model/clv_spec.py's, re-exported here)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from hourglass.model import clv_fit as F
from hourglass.model.channels import Spend
from hourglass.model.clv_spec import (
    FITS,
    HOLDOUT_BINS,
    MAX_HORIZON_DAYS,
    PERIODS,
    ClvResult,
    ClvSpec,
    date_of,
    day_of,
)
from hourglass.model.errors import DataError, SpecError

__all__ = ["FITS", "MAX_HORIZON_DAYS", "PERIODS", "ClvResult", "ClvSpec", "assemble_clv", "day_of", "sbg_fit"]


# ---------------------------------------------------------------- assembly


def _fit_purchases(spec: ClvSpec, x: Any, t_x: Any, T: Any) -> F.Fit:
    """The purchase model's fit on the distinct (x, t_x, T) rows, each weighted by its customers:
    the same likelihood (customers with the same history have the same term), in fewer terms (a
    simulated shop's 525 buyers are 307 rows: the fit took 3,600 evaluations, now 800, on the
    ridge where its dropout parameters run to ~1e6)."""
    rows, counts = np.unique(np.column_stack([x, t_x, T]).astype(np.float64), axis=0, return_counts=True)
    ux, ut, uT = rows[:, 0], rows[:, 1], rows[:, 2]
    model, loglik = ("bgnbd", F.bgnbd_loglik) if spec.fit == "bgnbd" else ("paretonbd", F.paretonbd_loglik)
    return F.fit(model, lambda p: loglik(p, ux, ut, uT), len(x), (1.0, 1.0, 1.0, 1.0), weights=counts)


def _expected(fit: F.Fit, t: float, x: Any, t_x: Any, T: Any) -> Any:
    if fit.model == "bgnbd":
        return F.bgnbd_expected(fit.vector, t, x, t_x, T)
    return F.paretonbd_expected(fit.vector, t, x, t_x, T)


def _p_alive(fit: F.Fit, x: Any, t_x: Any, T: Any) -> Any:
    if fit.model == "bgnbd":
        return F.bgnbd_p_alive(fit.vector, x, t_x, T)
    return F.paretonbd_p_alive(fit.vector, x, t_x, T)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def discounted_purchases(fit: F.Fit, spec: ClvSpec, x: Any, t_x: Any, T: Any) -> Any:
    """Sum over the horizon's periods k of (E[Y(k)] - E[Y(k-1)]) / (1 + d)^(years at the end of k)."""
    unit = PERIODS[spec.period]
    horizon = spec.horizon_days / unit
    steps = [min(float(k), horizon) for k in range(1, math.ceil(horizon) + 1)]
    total = np.zeros(len(x))
    prev = np.zeros(len(x))
    for t in steps:
        cur = _expected(fit, t, x, t_x, T)
        total += (cur - prev) / (1 + spec.discount_rate) ** (t * unit / 365.25)
        prev = cur
    return total


def assemble_clv(
    spec: ClvSpec,
    summary: Sequence[Mapping[str, Any]],
    span: Mapping[str, Any],
    *,
    revenue_reason: str | None,
    channel_reason: str | None,
    spend: Spend | None = None,
) -> ClvResult:
    """The result from the engine's ``summary`` rows (analyses/clv_summary.py) and the data's span."""
    unit = PERIODS[spec.period]
    min_day, max_day = span.get("min_day"), span.get("max_day")
    if spec.calibration_end is not None and min_day is not None and max_day is not None:
        cal = day_of(spec.calibration_end)
        if not (min_day <= cal < max_day):
            raise SpecError(
                f"the calibration end {date_of(cal)} is outside the data ({date_of(int(min_day))} to "
                f"{date_of(int(max_day))})",
                code="HG183",
                hint=f"give a --calibration-end between {date_of(int(min_day))} and the day before "
                f"{date_of(int(max_day))}, or leave it out (calibrate on all the data, no hold-out)",
            )
    if min_day is None or max_day is None or not summary:
        raise DataError(
            "no purchases" + (" before the calibration end" if spec.calibration_end else ""),
            code="HG185",
            hint="check the purchase events (--purchase-events EVENT or a --model with a sale stage)"
            + (" and put --calibration-end after the first purchases" if spec.calibration_end else ""),
        )
    cal_day = day_of(spec.calibration_end) if spec.calibration_end else int(max_day)
    rows = sorted(summary, key=lambda r: str(r["customer"]))
    x = np.array([r["days"] - 1 for r in rows], dtype=float)
    t_x = np.array([(r["last_day"] - r["first_day"]) / unit for r in rows], dtype=float)
    T = np.array([(cal_day - r["first_day"]) / unit for r in rows], dtype=float)
    notes: list[str] = []
    if spec.fit == "sbg":
        return _assemble_sbg(spec, rows, t_x, T, int(min_day), cal_day, int(max_day))
    repeaters = int((x > 0).sum())
    if repeaters == 0:
        raise DataError(
            f"none of the {len(rows):,} customers bought on two different days in the calibration period: "
            "there is nothing to fit",
            code="HG185",
            hint="the models need repeat purchases: give a later --calibration-end, more data, or check that "
            "repeat purchases are purchase events (--purchase-events purchase,repeat_purchase)",
        )
    if repeaters < 10:
        notes.append(
            f"only {repeaters} customers bought more than once: the parameters are very uncertain "
            "(see their standard errors)"
        )
    fit = _fit_purchases(spec, x, t_x, T)
    notes += fit.notes
    horizon = spec.horizon_days / unit
    p_alive = _p_alive(fit, x, t_x, T)
    expected = _expected(fit, horizon, x, t_x, T)
    disc = discounted_purchases(fit, spec, x, t_x, T)

    # spend: Gamma-Gamma on customers with repeat purchases that have revenue
    spend_model: F.Fit | None = None
    spend_reason: str | None = revenue_reason
    valued = np.array([r["repeat_valued"] or 0 for r in rows], dtype=float)
    zbar = np.array(
        [(r["repeat_value"] / r["repeat_valued"]) if r["repeat_valued"] else math.nan for r in rows],
        dtype=float,
    )
    expected_spend: Any = None
    if revenue_reason is None:
        m = (valued > 0) & (zbar > 0)
        if int(m.sum()) < 3:
            spend_reason = (
                f"{int(m.sum())} customers have repeat purchases with a positive revenue; the spend model "
                "needs a few: map the revenue column (--revenue-col) or use more data"
            )
        else:
            try:
                spend_model = F.fit(
                    "gammagamma", lambda p: F.gg_loglik(p, valued[m], zbar[m]), int(m.sum()), (1.0, 1.0, 1.0)
                )
            except DataError as e:
                spend_reason = f"the spend model did not converge ({e.message}): more repeat purchases needed"
            if spend_model is not None and spend_model.params["q"] <= 1:
                spend_reason = (
                    f"the spend model's q = {spend_model.params['q']:.3f} <= 1: the mean spend is not finite "
                    "(a few huge orders): check the revenue column for outliers"
                )
                notes.append(spend_reason)
                spend_model = None
            if spend_model is not None:
                notes += spend_model.notes
                expected_spend = F.gg_expected_spend(spend_model.vector, np.where(m, valued, 0), zbar)
    clv = None if expected_spend is None else disc * expected_spend

    holdout_days = int(max_day) - cal_day
    holdout: list[dict[str, Any]] | None = None
    holdout_reason: str | None = None
    hold_exp: Any = None
    if spec.calibration_end is None:
        holdout_reason = "no hold-out period: give --calibration-end DATE before the end of the data"
    else:
        hold_exp = _expected(fit, holdout_days / unit, x, t_x, T)
        actual = np.array([r["holdout"] for r in rows], dtype=float)
        holdout = []
        for k in range(HOLDOUT_BINS):
            sel = (x >= k) if k == HOLDOUT_BINS - 1 else (x == k)
            n = int(sel.sum())
            holdout.append(
                {
                    "repeat_purchases": f"{k}+" if k == HOLDOUT_BINS - 1 else str(k),
                    "customers": n,
                    "actual": float(actual[sel].mean()) if n else None,
                    "expected": float(hold_exp[sel].mean()) if n else None,
                }
            )
    customers: list[dict[str, Any]] = []
    for i, r in enumerate(rows):
        c = {
            "customer": r["customer"],
            "first_purchase": date_of(int(r["first_day"])),
            "frequency": int(x[i]),
            "recency": float(t_x[i]),
            "T": float(T[i]),
            "monetary": _num(zbar[i]),
            "p_alive": _num(p_alive[i]),
            "expected_purchases": _num(expected[i]),
            "expected_spend": None if expected_spend is None else _num(expected_spend[i]),
            "clv": None if clv is None else _num(clv[i]),
        }
        if "channel" in r:
            c["channel"] = r["channel"]
        if hold_exp is not None:
            c["holdout_purchases"] = int(r["holdout"])
            c["holdout_expected"] = _num(hold_exp[i])
        customers.append(c)
    totals: dict[str, Any] = {
        "customers": len(rows),
        "repeat_customers": repeaters,
        "mean_p_alive": float(np.mean(p_alive)),
        "expected_purchases": float(np.sum(expected)),
        "mean_clv": None if clv is None else float(np.mean(clv)),
        "total_clv": None if clv is None else float(np.sum(clv)),
    }
    reasons: dict[str, str] = {}
    if clv is None:
        reasons["mean_clv"] = reasons["total_clv"] = spend_reason or "no spend model"
    channels, channels_reason = _channels(customers, clv is not None, spend, channel_reason, spend_reason)
    calibration = {
        "first_day": date_of(int(min_day)),
        "calibration_end": date_of(cal_day),
        "data_end": date_of(int(max_day)),
        "holdout_periods": holdout_days / unit if spec.calibration_end else None,
        "period": spec.period,
    }
    return ClvResult(
        spec,
        fit,
        calibration,
        spend_model,
        spend_reason,
        totals,
        reasons,
        holdout,
        holdout_reason,
        channels,
        channels_reason,
        customers,
        tuple(notes),
    )


def _channels(
    customers: Sequence[Mapping[str, Any]],
    has_clv: bool,
    spend: Spend | None,
    channel_reason: str | None,
    spend_reason: str | None,
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Per acquisition channel: customers, mean CLV; with a spend table the cost of the channel's
    periods that contain first purchases of its customers, CAC = that cost / those customers, and
    CLV/CAC. None with a reason when there is no channel column or no CLV."""
    if channel_reason is not None:
        return None, channel_reason
    if not has_clv:
        return None, spend_reason or "no CLV"
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for c in customers:
        groups.setdefault(c.get("channel") or "(none)", []).append(c)
    out: list[dict[str, Any]] = []
    for ch, cs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        row: dict[str, Any] = {
            "channel": ch,
            "customers": len(cs),
            "mean_clv": float(np.mean([c["clv"] for c in cs])),
            "cac": None,
            "clv_to_cac": None,
        }
        if spend is None:
            row["cac_reason"] = "give the spend table: --spend FILE (channel, period, cost)"
        else:
            periods = [r for r in spend.rows if r.channel == ch]
            firsts = [datetime.fromisoformat(c["first_purchase"]) for c in cs]
            used = [p for p in periods if any(p.start <= f < p.end for f in firsts)]
            acquired = sum(1 for f in firsts if any(p.start <= f < p.end for p in used))
            if not used or not acquired:
                row["cac_reason"] = f"the spend table has no period of channel '{ch}' with first purchases"
            else:
                cost = sum(p.cost for p in used)
                row["cac"] = cost / acquired
                row["cac_customers"] = acquired
                row["clv_to_cac"] = row["mean_clv"] / row["cac"] if row["cac"] > 0 else None
                if row["clv_to_cac"] is None:
                    row["clv_to_cac_reason"] = "the channel cost nothing"
        out.append(row)
    return out, None


def _assemble_sbg(
    spec: ClvSpec,
    rows: Sequence[Mapping[str, Any]],
    t_x: Any,
    T: Any,
    min_day: int,
    cal_day: int,
    max_day: int,
) -> ClvResult:
    """Contractual retention from purchases: a customer renews in period k (k periods after the first
    purchase) when they buy in it; the last renewal period is L = floor(t_x). When period L + 1 has
    started by the calibration end (L + 1 <= T) and had no purchase, they were lost in period L + 1;
    otherwise they are alive after L periods (censored)."""
    last = np.floor(t_x + 1e-9)
    seen = np.floor(T + 1e-9)
    churned = last + 1 <= seen
    t = np.where(churned, last + 1, last)
    cens = ~churned
    if int(churned.sum()) == 0:
        raise DataError(
            f"sBG needs customers who were lost: none of the {len(rows):,} customers missed a renewal",
            code="HG185",
            hint="give a later --calibration-end or a shorter --period, so that missed renewals are seen",
        )
    counts: dict[tuple[float, bool], int] = {}
    for tk, ck in zip(t, cens, strict=True):
        counts[(float(tk), bool(ck))] = counts.get((float(tk), bool(ck)), 0) + 1
    keys = sorted(counts)
    fit = F.fit(
        "sbg",
        lambda p: F.sbg_loglik(p, [k[0] for k in keys], [k[1] for k in keys]),
        len(rows),
        (1.0, 1.0),
        weights=[counts[k] for k in keys],
    )
    unit = PERIODS[spec.period]
    horizon = max(1, math.ceil(spec.horizon_days / unit))
    survival = F.sbg_survival(fit.vector, horizon)
    observed: list[float | None] = []
    for k in range(int(np.max(seen)) + 1):
        at_risk = seen >= k
        n = int(at_risk.sum())
        observed.append(float(((last >= k) & at_risk).sum()) / n if n else None)
    retention = {
        "survival": survival,
        "retention": [survival[k] / survival[k - 1] for k in range(1, len(survival))],
        "observed": observed,
    }
    customers = [
        {
            "customer": r["customer"],
            "first_purchase": date_of(int(r["first_day"])),
            "renewals": int(last[i]),
            "lost": bool(churned[i]),
            "lost_in_period": int(t[i]) if churned[i] else None,
        }
        for i, r in enumerate(rows)
    ]
    why = "--fit sbg models retention only: use --fit bgnbd or --fit paretonbd for spend and CLV"
    return ClvResult(
        spec,
        fit,
        {
            "first_day": date_of(min_day),
            "calibration_end": date_of(cal_day),
            "data_end": date_of(max_day),
            "holdout_periods": None,
            "period": spec.period,
        },
        None,
        why,
        {"customers": len(rows), "lost": int(churned.sum()), "alive": int(cens.sum()), "mean_clv": None},
        {"mean_clv": why},
        None,
        why,
        None,
        why,
        customers,
        fit.notes,
        retention,
    )


def sbg_fit(alive: Sequence[int], *, periods: int = 12) -> dict[str, Any]:
    """The shifted-beta-geometric fitted to one cohort's alive counts at periods 0..n (Fader &
    Hardie 2007), with the projected survival S(0..periods) and retention rates."""
    counts = [int(a) for a in alive]
    if len(counts) < 2 or counts[0] <= 0 or any(b > a or b < 0 for a, b in itertools.pairwise(counts)):
        raise SpecError(
            f"survivors must start positive and never grow, got {list(alive)}",
            code="HG186",
            hint="give the cohort's alive counts at periods 0, 1, 2, ...: e.g. 1000,631,468,382",
        )
    t, cens, w = F.sbg_from_survivors(counts)
    fit = F.fit("sbg", lambda p: F.sbg_loglik(p, t, cens), counts[0], (1.0, 1.0), weights=w)
    s = F.sbg_survival(fit.vector, max(periods, len(counts) - 1))
    return {
        **fit.to_dict(),
        "survival": s,
        "retention": [s[k] / s[k - 1] for k in range(1, len(s))],
        "observed": [c / counts[0] for c in counts],
    }
