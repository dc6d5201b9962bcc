"""What-if's model and draws (docs/semantics-friction.md, "What-if"): the stage-transition model
fitted from the log's aggregates (discrete-time hazards per channel and stage, with censoring), the
scenario a list of changes makes of it, and the seeded simulation of the periods ahead. Pure
computation (numpy for the draws); the fit's rows come from one plan (``analyses/transition_fit.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.whatif_spec import LMAX, REFERRED, Change, WhatIfSpec

__all__ = [
    "METRICS",
    "Fit",
    "FrictionEffect",
    "Scenario",
    "scenario_of",
    "simulate",
]


def _int(v: Any) -> int:
    return 0 if v is None else int(v)


@dataclass
class Fit:
    """A stage-transition model fitted on the full periods ``[first, T)`` (period indices).

    ``trans[(c, k)][(j, L)]``: customers of channel c whose next stage after k was j, L periods
    later; ``cens[(c, k)][A]``: those still in k at T who entered it A periods before T (in flight);
    ``entry[c][k]``: new customers' first stage; ``acq[c][t]``: new customers per period (not
    referred); ``buyers[c][s]``: customers entering the sale stage in period s; ``rev[c][a]`` /
    ``obs[c][a]``: revenue at age a (periods after the sale period) and purchasers observed at that
    age; ``ref[a]``: referred customers acquired at age a of their referrer's sale period."""

    model: JourneyModel
    period: str
    first: int
    T: int
    channels: list[str]
    trans: dict[tuple[str, int], dict[tuple[int, int], int]] = field(default_factory=dict)
    cens: dict[tuple[str, int], dict[int, int]] = field(default_factory=dict)
    entry: dict[str, dict[int, int]] = field(default_factory=dict)
    acq: dict[str, dict[int, int]] = field(default_factory=dict)
    buyers: dict[str, dict[int, int]] = field(default_factory=dict)
    rev: dict[str, dict[int, float]] = field(default_factory=dict)
    obs: dict[str, dict[int, int]] = field(default_factory=dict)
    ref: dict[int, int] = field(default_factory=dict)
    has_revenue: bool = True
    has_referrer: bool = False

    @classmethod
    def from_rows(
        cls, model: JourneyModel, period: str, first: int, T: int, rows: Mapping[str, list[dict[str, Any]]]
    ) -> Fit:
        fit = cls(model=model, period=period, first=first, T=T, channels=[])
        chans: set[str] = set()
        for r in rows.get("trans", []):
            c, k = str(r["ch"]), int(r["k"])
            chans.add(c)
            j = int(r["j"])
            if j == 0:
                fit.cens.setdefault((c, k), {})[int(r["lag"])] = _int(r["n"])
            else:
                fit.trans.setdefault((c, k), {})[(j, int(r["lag"]))] = _int(r["n"])
        for r in rows.get("entry", []):
            c = str(r["ch"])
            chans.add(c)
            fit.entry.setdefault(c, {})[int(r["k"])] = fit.entry.get(c, {}).get(int(r["k"]), 0) + _int(r["n"])
            if c != REFERRED:
                acq = fit.acq.setdefault(c, {})
                acq[int(r["p"])] = acq.get(int(r["p"]), 0) + _int(r["n"])
        for r in rows.get("buyers", []):
            fit.buyers.setdefault(str(r["ch"]), {})[int(r["p"])] = _int(r["n"])
        for r in rows.get("revenue", []):
            fit.rev.setdefault(str(r["ch"]), {})[int(r["a"])] = float(r["revenue"] or 0.0)
        for c, by_s in fit.buyers.items():
            obs = fit.obs.setdefault(c, {})
            for s, n in by_s.items():
                for a in range(0, T - s):
                    obs[a] = obs.get(a, 0) + n
        for r in rows.get("referred", []):
            fit.ref[int(r["a"])] = _int(r["n"])
        fit.channels = sorted(chans)
        return fit

    # --- hazards ------------------------------------------------------------------------------------
    def hazards(self, c: str, k: int) -> dict[int, list[float]]:
        """``{j: [h(j, L) for L in 0..LMAX]}``: the discrete-time hazard of moving on to j at lag L
        among those still in k at L (transitions at L or later, and in-flight customers observed
        past L: age A > L)."""
        trans = self.trans.get((c, k), {})
        cens = self.cens.get((c, k), {})
        out: dict[int, list[float]] = {}
        for L in range(LMAX + 1):
            at_risk = sum(n for (_j, lag), n in trans.items() if lag >= L) + sum(
                n for a, n in cens.items() if a > L
            )
            for (j, lag), n in trans.items():
                if lag == L and at_risk > 0:
                    out.setdefault(j, [0.0] * (LMAX + 1))[L] = n / at_risk
        return out

    def acquisition_mean(self, c: str, last: int = 3) -> float:
        """New (not referred) customers per period: the mean of the last ``last`` full periods."""
        per = self.acq.get(c, {})
        ps = list(range(max(self.first, self.T - last), self.T))
        return sum(per.get(p, 0) for p in ps) / len(ps) if ps else 0.0

    def revenue_curve(self, c: str) -> list[float]:
        """Revenue per purchaser at each age 0..36 (periods after the sale period): revenue at the age
        ÷ purchasers observed at it, up to the last age with 20 or more observed (or the last
        observed); beyond it, that value times ρ per period, ρ = its ratio to the age before, capped
        at 1 (1 when the age before had none): a purchaser's revenue does not grow with age."""
        return _curve(self.rev.get(c, {}), self.obs.get(c, {}))

    def referral_curve(self) -> list[float]:
        """Referred customers per purchaser at each age after the referrer's sale period (as the
        revenue curve, pooled over channels)."""
        obs: dict[int, int] = {}
        for by_s in self.buyers.values():
            for s, n in by_s.items():
                for a in range(0, self.T - s):
                    obs[a] = obs.get(a, 0) + n
        return _curve({a: float(n) for a, n in self.ref.items()}, obs)

    def summary(self) -> dict[str, Any]:
        stages = self.model.stages
        out: dict[str, Any] = {"channels": []}
        for c in self.channels:
            row: dict[str, Any] = {
                "channel": c,
                "acquisition_per_period": None if c == REFERRED else round(self.acquisition_mean(c), 3),
            }
            conv = {}
            for k in range(1, len(stages)):
                h = self.hazards(c, k)
                conv[stages[k - 1].name] = round(1 - _survival(h)[-1], 4) if h else 0.0
            row["went_on_within_horizon"] = conv
            out["channels"].append(row)
        out["referrals_per_purchaser"] = (
            round(sum(self.referral_curve()[: LMAX + 1]), 4) if self.has_referrer else None
        )
        if not self.has_referrer:
            out["referrals_per_purchaser_reason"] = (
                "no referrer column: referred customers are not modelled apart"
            )
        return out


def _curve(total: Mapping[int, float], obs: Mapping[int, int], ages: int = 3 * LMAX + 1) -> list[float]:
    """Per age: total ÷ observed, to the last well-observed age, then a geometric tail."""
    seen = [a for a in sorted(obs) if obs[a] > 0]
    if not seen:
        return [0.0] * ages
    good = [a for a in seen if obs[a] >= 20] or seen
    last = good[-1]
    out = [total.get(a, 0.0) / obs[a] if obs.get(a, 0) > 0 else 0.0 for a in range(min(ages, last + 1))]
    prev = out[last - 1] if last >= 1 else 0.0
    rho = min(1.0, max(0.0, out[last] / prev)) if prev > 0 else (1.0 if out[last] > 0 else 0.0)
    while len(out) < ages:
        out.append(out[-1] * rho)
    return out


def _survival(h: Mapping[int, list[float]]) -> list[float]:
    """S(0..LMAX+1) from the hazards."""
    s = [1.0]
    for L in range(LMAX + 1):
        total = min(1.0, sum(v[L] for v in h.values()))
        s.append(s[-1] * (1 - total))
    return s


def _move_probs(h: Mapping[int, list[float]], start: int = 0) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Outcomes (j, L) with L >= start and their probabilities given still in the stage at ``start``;
    the last probability is "never moves on"."""
    s = _survival(h)
    if s[start] <= 0:
        return [], np.array([1.0])
    keys, probs = [], []
    for L in range(start, LMAX + 1):
        total = sum(v[L] for v in h.values())
        scale = 1.0 if total <= 1 else 1 / total
        for j, v in sorted(h.items()):
            if v[L] > 0:
                keys.append((j, L))
                probs.append(s[L] / s[start] * v[L] * scale)
    rest = max(0.0, 1.0 - sum(probs))
    p = np.array([*probs, rest])
    return keys, p / p.sum()


# --- the scenario and the simulation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Multipliers: ``step[(k, j)]`` on a step's hazards (j = 0: every step out of k), ``acq[c]`` on a
    channel's acquisitions."""

    step: Mapping[tuple[int, int], float] = field(default_factory=dict)
    acq: Mapping[str, float] = field(default_factory=dict)


def _apply(h: dict[int, list[float]], k: int, sc: Scenario) -> dict[int, list[float]]:
    out = {}
    for j, v in h.items():
        m = sc.step.get((k, j), 1.0) * sc.step.get((k, 0), 1.0)
        out[j] = [x * m for x in v]
    # no lag may send more than everyone on: scale the lag's hazards down to a sum of 1
    for L in range(LMAX + 1):
        total = sum(v[L] for v in out.values())
        if total > 1:
            for v in out.values():
                v[L] /= total
    return out


METRICS = ("new_customers", "purchasers", "revenue", "referred")


def simulate(fit: Fit, sc: Scenario, horizon: int, runs: int, seed: int) -> dict[str, np.ndarray]:
    """``runs`` draws of the ``horizon`` periods after ``fit.T``: per metric an array (runs, horizon).
    New customers: Poisson(acquisition mean x multiplier) per channel, plus the referred ones
    (Poisson of the referral curve over the purchaser cohorts); each customer's steps drawn from the
    hazards (multinomial per stage, period and channel; stages in order, so a step within the period
    is followed in it); revenue = purchaser cohorts x the channel's revenue curve."""
    # one stream per kind of draw, so that a scenario changes only the draws it touches (common
    # random numbers: an unchanged channel's acquisitions are the same in the baseline and the scenario)
    rng = np.random.default_rng([seed, 2])
    rng_acq = np.random.default_rng([seed, 1])
    rng_ref = np.random.default_rng([seed, 3])
    n = len(fit.model.stages)
    sale = (fit.model.sale_index or 0) + 1
    H = horizon
    chans = list(fit.channels)
    hz = {(c, k): _apply(fit.hazards(c, k), k, sc) for c in chans for k in range(1, n)}
    fresh = {key: _move_probs(h) for key, h in hz.items()}
    entry = {}
    for c in chans:
        e = fit.entry.get(c, {})
        tot = sum(e.values())
        entry[c] = (sorted(e), np.array([e[k] / tot for k in sorted(e)])) if tot else ([], np.array([]))
    curves = {}
    for c in chans:
        # revenue after the sale period scales with the share who go on past the sale
        curve = fit.revenue_curve(c)
        base_on = 1 - _survival(fit.hazards(c, sale))[-1] if sale < n else 0.0
        new_on = 1 - _survival(hz[(c, sale)])[-1] if sale < n and (c, sale) in hz else base_on
        f = new_on / base_on if base_on > 0 else 1.0
        curves[c] = [curve[0], *(x * f for x in curve[1:])]
    rcurve = fit.referral_curve() if fit.has_referrer else None
    out = {m: np.zeros((runs, H)) for m in METRICS}
    for run in range(runs):
        arr = {(c, k): np.zeros(H + LMAX + 1, dtype=np.int64) for c in chans for k in range(1, n + 1)}
        # in-flight customers: still in k at T, entered A periods before
        for (c, k), by_age in sorted(fit.cens.items()):  # sorted: the draws do not depend on row order
            if k >= n or (c, k) not in hz:
                continue
            for a, cnt in sorted(by_age.items()):
                if a > LMAX or cnt == 0:
                    continue
                keys, p = _move_probs(hz[(c, k)], a)
                if not keys:
                    continue
                draws = rng.multinomial(cnt, p)
                for (j, L), d in zip(keys, draws[:-1], strict=True):
                    if d:
                        arr[(c, j)][L - a] += d
        buyers = {c: dict(fit.buyers.get(c, {})) for c in chans}
        for t in range(H):
            p_abs = fit.T + t
            new_total = 0
            referred = 0
            if rcurve is not None:
                lam = sum(
                    cnt * rcurve[p_abs - s]
                    for by_s in buyers.values()
                    for s, cnt in by_s.items()
                    if 0 <= p_abs - s < len(rcurve)
                )
                referred = int(rng_ref.poisson(lam))
            for c in chans:
                if c == REFERRED:
                    k_new = referred
                else:
                    k_new = int(rng_acq.poisson(fit.acquisition_mean(c) * sc.acq.get(c, 1.0)))
                new_total += k_new
                ks, p = entry[c]
                if k_new and ks:
                    for k, d in zip(ks, rng_acq.multinomial(k_new, p), strict=True):
                        arr[(c, k)][t] += d
            out["new_customers"][run, t] = new_total
            out["referred"][run, t] = referred
            for k in range(1, n):
                for c in chans:
                    cnt = int(arr[(c, k)][t])
                    if cnt == 0:
                        continue
                    keys, p = fresh[(c, k)]
                    if not keys:
                        continue
                    draws = rng.multinomial(cnt, p)
                    for (j, L), d in zip(keys, draws[:-1], strict=True):
                        if d:
                            arr[(c, j)][t + L] += d
            purchasers = 0
            for c in chans:
                b = int(arr[(c, sale)][t])
                purchasers += b
                if b:
                    buyers[c][p_abs] = buyers[c].get(p_abs, 0) + b
            out["purchasers"][run, t] = purchasers
            if fit.has_revenue:
                out["revenue"][run, t] = sum(
                    cnt * curves[c][p_abs - s]
                    for c in chans
                    for s, cnt in buyers[c].items()
                    if 0 <= p_abs - s < len(curves[c])
                )
    return out


@dataclass(frozen=True)
class FrictionEffect:
    """A friction's measured effect at stage k: ``difference`` (MH) and the share exposed."""

    friction: str
    k: int
    difference: float
    share: float
    conversion: float


def scenario_of(
    spec: WhatIfSpec, changes: Sequence[Change], fit: Fit, effects: Sequence[FrictionEffect]
) -> tuple[Scenario, list[str]]:
    """The multipliers of ``changes`` (and notes on what could not be applied)."""
    names = [s.name for s in spec.model.stages]
    step: dict[tuple[int, int], float] = {}
    acq: dict[str, float] = {}
    notes: list[str] = []
    for c in changes:
        if c.kind == "step":
            k = names.index(c.target) + 1
            if k > (spec.model.sale_index or 0) + 1:
                notes.append(
                    f"{c.text}: a step after the sale's changes the stage counts, not the forecast revenue "
                    "or referrals (fitted per purchaser)"
                )
            j = 0 if c.to == "*" else names.index(str(c.to)) + 1
            step[(k, j)] = step.get((k, j), 1.0) * (1 + c.rel)
        elif c.kind == "spend":
            paid = [x for x in fit.channels if x != REFERRED]
            if c.target not in paid:
                raise SpecError(
                    f"--change {c.text!r}: no channel '{c.target}'{did_you_mean(c.target, paid)}",
                    code="HG173",
                    hint="channels: " + ", ".join(paid),
                )
            acq[c.target] = acq.get(c.target, 1.0) * (1 + c.rel)
        else:
            mine = [e for e in effects if e.friction == c.target]
            if not mine:
                notes.append(f"{c.text}: no measured effect of '{c.target}' (friction table): not applied")
            for e in mine:
                if e.conversion <= 0:
                    continue
                new = e.conversion + e.difference * e.share * c.rel
                step[(e.k, 0)] = step.get((e.k, 0), 1.0) * max(0.0, new) / e.conversion
    return Scenario(step=step, acq=acq), notes
