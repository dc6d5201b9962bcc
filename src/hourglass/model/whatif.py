"""What-if (docs/semantics-friction.md, "What-if"): a stage-transition model of the business fitted
from the log's aggregates, a seeded simulation of the periods ahead, scenario changes (a stage step, a
friction, a channel's spend), a back-test, and a ranking of changes of the same size.

This module holds the result, the back-test and the forecast; the request is in
``model/whatif_spec.py``, the fitted model and its draws in ``model/whatif_sim.py`` (both re-exported
here). Pure computation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hourglass.model.whatif_sim import METRICS, Fit, FrictionEffect, Scenario, scenario_of, simulate
from hourglass.model.whatif_spec import (
    REFERRED,
    Change,
    WhatIfSpec,
    parse_change,
    period_index,
    period_label,
    period_start,
)

__all__ = [
    "REFERRED",
    "Change",
    "Fit",
    "FrictionEffect",
    "Scenario",
    "WhatIfResult",
    "WhatIfSpec",
    "backtest_errors",
    "forecast",
    "parse_change",
    "period_index",
    "period_label",
    "period_start",
    "scenario_of",
    "simulate",
    "with_horizon",
]


def bands(a: np.ndarray) -> dict[str, list[float]]:
    """Per period: the median of the runs and the 90% band (5% and 95% quantiles)."""
    return {
        "median": [float(x) for x in np.median(a, axis=0)],
        "low": [float(x) for x in np.quantile(a, 0.05, axis=0)],
        "high": [float(x) for x in np.quantile(a, 0.95, axis=0)],
    }


def sim_totals(base: np.ndarray, scen: np.ndarray) -> dict[str, float]:
    """Over the horizon: the mean baseline and scenario totals of the runs (the same draws for both)
    and their difference with its 90% band."""
    b, s = base.sum(axis=1), scen.sum(axis=1)
    d = s - b
    return {
        "baseline": float(np.mean(b)),
        "scenario": float(np.mean(s)),
        "difference": float(np.mean(d)),
        "difference_low": float(np.quantile(d, 0.05)),
        "difference_high": float(np.quantile(d, 0.95)),
    }


@dataclass(frozen=True)
class WhatIfResult:
    model: str
    period: str
    periods: list[str]
    baseline: dict[str, dict[str, list[float]]]
    scenario: dict[str, dict[str, list[float]]]
    totals: dict[str, dict[str, float]]
    changes: list[str]
    fit: dict[str, Any]
    backtest: dict[str, Any] | None
    ranking: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "period": self.period,
            "periods": self.periods,
            "changes": self.changes,
            "baseline": self.baseline,
            "scenario": self.scenario,
            "totals": self.totals,
            "fit": self.fit,
            "backtest": self.backtest,
            "ranking": self.ranking,
            "notes": self.notes,
        }
        out.update({f"{k}_reason": v for k, v in self.reasons.items()})
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """CSV: one row per period and metric: baseline and scenario median and 90% band."""
        out = []
        for i, p in enumerate(self.periods):
            for m in METRICS:
                if m not in self.baseline:
                    continue
                b, s = self.baseline[m], self.scenario[m]
                out.append(
                    {
                        "period": p,
                        "metric": m,
                        "baseline": b["median"][i],
                        "baseline_low": b["low"][i],
                        "baseline_high": b["high"][i],
                        "scenario": s["median"][i],
                        "scenario_low": s["low"][i],
                        "scenario_high": s["high"][i],
                    }
                )
        return out


def backtest_errors(
    forecast_: Mapping[str, np.ndarray],
    observed: Mapping[str, list[float]],
    periods: list[str],
    has_revenue: bool,
) -> dict[str, Any]:
    """Observed vs the median forecast per held-out period, the mean absolute percentage error and
    the error of the total, per metric."""
    out: dict[str, Any] = {"periods": periods, "metrics": {}}
    for m in ("new_customers", "purchasers", "revenue"):
        if m == "revenue" and not has_revenue:
            out["metrics"][m] = None
            out["metrics"][f"{m}_reason"] = "no revenue column"
            continue
        med = [float(x) for x in np.median(forecast_[m], axis=0)]
        obs = list(observed[m])
        ape = [abs(f - o) / o for f, o in zip(med, obs, strict=True) if o > 0]
        tot_o, tot_f = sum(obs), sum(med)
        out["metrics"][m] = {
            "observed": obs,
            "forecast": med,
            "mape": None if not ape else sum(ape) / len(ape),
            "total_error": None if tot_o == 0 else (tot_f - tot_o) / tot_o,
        }
    return out


def forecast(
    spec: WhatIfSpec,
    fit: Fit,
    effects: Sequence[FrictionEffect],
    *,
    backtest: Mapping[str, Any] | None = None,
    reasons: Mapping[str, str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> WhatIfResult:
    """Baseline vs the scenario of ``spec.changes`` over the horizon (common random numbers: the same
    seed for both), and with ``rank`` every stage's steps and every friction at ``rank_size``."""
    base = simulate(fit, Scenario(), spec.horizon, spec.runs, spec.seed)
    sc, notes = scenario_of(spec, spec.changes, fit, effects)
    scen = simulate(fit, sc, spec.horizon, spec.runs, spec.seed) if spec.changes else base
    metrics = [m for m in METRICS if fit.has_revenue or m != "revenue"]
    if not fit.has_referrer:
        metrics = [m for m in metrics if m != "referred"]
    ranking: list[dict[str, Any]] = []
    if spec.rank:
        size = spec.rank_size
        names = [s.name for s in spec.model.stages]
        # steps up to the sale's own (changes further on move stage counts, not the forecast revenue)
        last = min(len(names) - 1, (spec.model.sale_index or 0) + 1)
        trials = [Change("step", names[k], "*", size, f"{names[k]}->* {100 * size:+g}%") for k in range(last)]
        trials += [
            Change("friction", f, None, -size, f"friction {f} {-100 * size:+g}%") for f in spec.frictions
        ]
        key = "revenue" if fit.has_revenue else "purchasers"
        rank_runs = max(50, spec.runs // 4)
        base_r = simulate(fit, Scenario(), spec.horizon, rank_runs, spec.seed)
        for ch in trials:
            s2, n2 = scenario_of(spec, [ch], fit, effects)
            if n2:
                ranking.append({"change": ch.text, key: None, f"{key}_reason": n2[0]})
                continue
            sim = simulate(fit, s2, spec.horizon, rank_runs, spec.seed)
            t = sim_totals(base_r[key], sim[key])
            ranking.append({"change": ch.text, "metric": key, **t})

        def order(r: Mapping[str, Any]) -> float:
            d = r.get("difference")
            return -float(d) if d is not None else math.inf

        ranking.sort(key=order)
        for i, r in enumerate(ranking, start=1):
            r["rank"] = i
    periods = [period_label(fit.T + t, spec.period) for t in range(spec.horizon)]
    rs = dict(reasons or {})
    if not fit.has_revenue:
        rs["revenue"] = "no revenue column: map one with --revenue-col COLUMN"
    if not fit.has_referrer:
        rs["referred"] = "no referrer column: map one with --referrer-col COLUMN"
    return WhatIfResult(
        model=spec.model.name,
        period=spec.period,
        periods=periods,
        baseline={m: bands(base[m]) for m in metrics},
        scenario={m: bands(scen[m]) for m in metrics},
        totals={m: sim_totals(base[m], scen[m]) for m in metrics},
        changes=[c.text for c in spec.changes],
        fit=fit.summary(),
        backtest=dict(backtest) if backtest is not None else None,
        ranking=ranking,
        notes=notes,
        reasons=rs,
        meta=dict(meta or {}) | {"spec": spec.describe()},
    )


def with_horizon(spec: WhatIfSpec, horizon: int) -> WhatIfSpec:
    return replace(spec, horizon=horizon, changes=(), rank=False)
