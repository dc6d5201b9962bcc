"""What-if (docs/semantics-friction.md, "What-if"): a stage-transition model of the business fitted
from the log's aggregates (discrete-time hazards per channel and stage, with censoring), a seeded
simulation of the periods ahead, scenario changes (a stage step, a friction, a channel's spend), a
back-test, and a ranking of changes of the same size.

Pure computation (numpy for the draws): the fit arrives as the rows of one plan
(``analyses/transition_fit.py``)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.spec import parse_time

__all__ = [
    "REFERRED",
    "Change",
    "Fit",
    "WhatIfResult",
    "WhatIfSpec",
    "forecast",
    "parse_change",
    "period_index",
    "period_label",
    "period_start",
]

REFERRED = "(referred)"  #: the pseudo-channel of customers with a referrer
LMAX = 12  #: transitions later than this many periods after entering a stage are not modelled
_WEEK0 = datetime(1969, 12, 29)  # a Monday: weeks start on Mondays
_UNITS = {"month": ("m", "mo", "month", "months"), "week": ("w", "week", "weeks")}


def period_index(ts: datetime, period: str) -> int:
    if period == "month":
        return ts.year * 12 + ts.month - 1
    return (ts - _WEEK0) // timedelta(days=7)


def period_start(idx: int, period: str) -> datetime:
    if period == "month":
        return datetime(idx // 12, idx % 12 + 1, 1)
    return _WEEK0 + timedelta(days=7 * idx)


def period_label(idx: int, period: str) -> str:
    d = period_start(idx, period)
    return f"{d:%Y-%m}" if period == "month" else f"{d:%Y-%m-%d}"


@dataclass(frozen=True)
class Change:
    """``kind`` is ``step`` (``stage`` -> ``to``: the hazards of that step times 1 + ``rel``; ``to``
    ``*``: every step out of the stage), ``friction`` (the event's incidence times 1 + ``rel``) or
    ``spend`` (the channel's acquisitions times 1 + ``rel``)."""

    kind: str
    target: str
    to: str | None
    rel: float
    text: str


_STEP = re.compile(r"^\s*([\w.-]+)\s*->\s*([\w.*-]+)\s+([+-]\d+(?:\.\d+)?)\s*%\s*$")
_OTHER = re.compile(r"^\s*(friction|spend)\s+(\S+)\s+([+-]\d+(?:\.\d+)?)\s*%\s*$")


def parse_change(text: str) -> Change:
    m = _STEP.match(text)
    if m:
        return Change("step", m[1], m[2], float(m[3]) / 100, text.strip())
    m = _OTHER.match(text)
    if m:
        rel = float(m[3]) / 100
        if rel < -1:
            raise SpecError(
                f"--change {text!r}: cannot go below -100%",
                code="HG172",
                hint="e.g. friction late_delivery -50%",
            )
        return Change(m[1], m[2], None, rel, text.strip())
    raise SpecError(
        f"--change: cannot read {text!r}",
        code="HG172",
        hint='write "trial->sale +10%", "trial->* +10%", "friction late_delivery -50%" or "spend ads +20%"',
    )


def parse_horizon(value: Any, period: str) -> int:
    """Periods ahead: ``12`` (periods), ``12m``/``12mo`` (months), ``8w`` (weeks) in the period's
    unit (a horizon is never minutes)."""
    text = str(value).strip().lower()
    m = re.match(r"^(\d+)\s*([a-z]*)$", text)
    if m and int(m[1]) > 0 and (not m[2] or m[2] in _UNITS[period]):
        return min(int(m[1]), 120)
    unit = "12m (months)" if period == "month" else "8w (weeks)"
    raise SpecError(
        f"--horizon: cannot read {value!r} as {period}s",
        code="HG172",
        hint=f"write a number of {period}s, e.g. {unit}, or change --period",
    )


@dataclass(frozen=True)
class WhatIfSpec:
    model: JourneyModel
    changes: tuple[Change, ...] = ()
    horizon: int = 12
    period: str = "month"
    runs: int = 200
    seed: int = 0
    rank: bool = False
    rank_size: float = 0.10
    frictions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    backtest: bool = True

    @classmethod
    def build(
        cls,
        model: JourneyModel,
        *,
        changes: Sequence[str] = (),
        horizon: Any = 12,
        period: str = "month",
        runs: int = 200,
        seed: int = 0,
        rank: bool = False,
        rank_size: float = 10.0,
        frictions: Sequence[str] | str | None = None,
        since: Any = None,
        until: Any = None,
        backtest: bool = True,
    ) -> WhatIfSpec:
        if period not in _UNITS:
            raise SpecError(
                f"--period: what-if works per month or week, not '{period}'{did_you_mean(period, _UNITS)}",
                code="HG172",
                hint="--period month or --period week",
            )
        if model.sale is None:
            raise SpecError(
                f"what-if forecasts purchasers and revenue, and model '{model.name}' names no sale stage",
                code="HG173",
                hint="give --goal STAGE (stages: " + ", ".join(s.name for s in model.stages) + ")",
            )
        if runs < 10 or runs > 10_000:
            raise SpecError(f"--runs must be 10..10000, got {runs}", code="HG172", hint="e.g. --runs 200")
        parsed = tuple(parse_change(c) for c in changes)
        names = [s.name for s in model.stages]
        for c in parsed:
            if c.kind != "step":
                continue
            for stage in (c.target, c.to):
                if stage != "*" and stage not in names:
                    raise SpecError(
                        f"--change {c.text!r}: model '{model.name}' has no stage '{stage}'"
                        f"{did_you_mean(str(stage), names)}",
                        code="HG173",
                        hint="its stages: " + ", ".join(names),
                    )
            if c.to != "*" and names.index(str(c.to)) <= names.index(c.target):
                raise SpecError(
                    f"--change {c.text!r}: a step goes to a later stage",
                    code="HG173",
                    hint=f"stages in order: {', '.join(names)}",
                )
        if isinstance(frictions, str):
            frictions = [f.strip() for f in frictions.split(",")]
        fr = tuple(
            dict.fromkeys(
                [*(f for f in (frictions or ()) if f), *(c.target for c in parsed if c.kind == "friction")]
            )
        )
        s0, s1 = parse_time(since, what="since"), parse_time(until, what="until")
        if s0 and s1 and s0 >= s1:
            raise SpecError("since must be before until", code="HG108", hint="swap the two dates")
        return cls(
            model=model,
            changes=parsed,
            horizon=parse_horizon(horizon, period),
            period=period,
            runs=int(runs),
            seed=int(seed),
            rank=rank,
            rank_size=float(rank_size) / 100,
            frictions=fr,
            since=s0,
            until=s1,
            backtest=backtest,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "changes": [c.text for c in self.changes],
            "horizon": self.horizon,
            "period": self.period,
            "runs": self.runs,
            "seed": self.seed,
            "rank": self.rank,
            "rank_size": self.rank_size,
            "frictions": list(self.frictions),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


# --- the fitted model -----------------------------------------------------------------------------------


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


def _bands(a: np.ndarray) -> dict[str, list[float]]:
    return {
        "median": [float(x) for x in np.median(a, axis=0)],
        "low": [float(x) for x in np.quantile(a, 0.05, axis=0)],
        "high": [float(x) for x in np.quantile(a, 0.95, axis=0)],
    }


def _totals(base: np.ndarray, scen: np.ndarray) -> dict[str, float]:
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
            t = _totals(base_r[key], sim[key])
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
        baseline={m: _bands(base[m]) for m in metrics},
        scenario={m: _bands(scen[m]) for m in metrics},
        totals={m: _totals(base[m], scen[m]) for m in metrics},
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
