"""The customer-base models of docs/semantics-clv.md as pure math (numpy/scipy, no I/O): their
log-likelihoods, maximum-likelihood fits in log-parameter space with standard errors from the
Hessian, and the per-customer expressions (P(alive), expected purchases, expected spend).

- BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", eq. (6), (10), (13).
- Pareto/NBD: Schmittlein, Morrison & Colombo (1987), in the stable form of Fader & Hardie (2005),
  "A Note on Deriving the Pareto/NBD Model and Related Expressions", eq. (18)-(22).
- Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV", eq. (1)-(5).
- shifted-beta-geometric: Fader & Hardie (2007), "How to Project Customer Retention", eq. (1)-(3),
  with right-censored lifetimes (customers still alive at the end of observation)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special  # type: ignore[import-untyped]

from hourglass.model.errors import DataError

__all__ = [
    "MODEL_PARAMS",
    "Fit",
    "bgnbd_expected",
    "bgnbd_loglik",
    "bgnbd_p_alive",
    "fit",
    "gg_expected_spend",
    "gg_loglik",
    "paretonbd_expected",
    "paretonbd_loglik",
    "paretonbd_p_alive",
    "sbg_from_survivors",
    "sbg_loglik",
    "sbg_survival",
]

Arr = np.ndarray[Any, np.dtype[np.float64]]

#: parameter names in the order of each model's parameter vector
MODEL_PARAMS: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "paretonbd": ("r", "alpha", "s", "beta"),
    "gammagamma": ("p", "q", "gamma"),
    "sbg": ("alpha", "beta"),
}


def _arr(v: Any) -> Arr:
    return np.asarray(v, dtype=np.float64)


# ---------------------------------------------------------------- BG/NBD


def bgnbd_loglik(params: Sequence[float], x: Any, t_x: Any, T: Any) -> Arr:
    """Per-customer log-likelihood of BG/NBD (FHL 2005 eq. 6), ``x`` repeat transactions, the last
    at ``t_x``, observed for ``T`` since the first."""
    r, alpha, a, b = params
    x, t_x, T = _arr(x), _arr(t_x), _arr(T)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            math.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return _arr(a1 + a2 + np.logaddexp(a3, a4))


def bgnbd_p_alive(params: Sequence[float], x: Any, t_x: Any, T: Any) -> Arr:
    """P(alive | x, t_x, T) (FHL 2005 eq. 11 and its note): 1 for x = 0 (no repeat: never seen to drop)."""
    r, alpha, a, b = params
    x, t_x, T = _arr(x), _arr(t_x), _arr(T)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(
            x > 0,
            a / np.maximum(b + x - 1, 1e-300) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x))),
            0.0,
        )
    return _arr(1.0 / (1.0 + odds))


def bgnbd_expected(params: Sequence[float], t: float, x: Any, t_x: Any, T: Any) -> Arr:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` (FHL 2005 eq. 10)."""
    r, alpha, a, b = params
    x, t_x, T = _arr(x), _arr(t_x), _arr(T)
    if t <= 0:
        return np.zeros_like(x)
    z = t / (alpha + T + t)
    h = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    bracket = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * h
    lead = (a + b + x - 1) / (a - 1) if abs(a - 1) > 1e-9 else None
    if lead is None:  # a = 1: the limit of (1 - ...)/(a - 1) is not needed in practice; nudge a
        return bgnbd_expected((r, alpha, a + 1e-7, b), t, x, t_x, T)
    return _arr(lead * bracket * bgnbd_p_alive(params, x, t_x, T))


# ---------------------------------------------------------------- Pareto/NBD


def _log_a0(r: float, alpha: float, s: float, beta: float, x: Arr, t_x: Arr, T: Arr) -> Arr:
    """log of A0 of Fader & Hardie (2005) eq. (19)/(20), the integral over the death time in (t_x, T]."""
    rsx = r + s + x
    b2: Any
    if alpha >= beta:
        b2, big = s + 1.0, alpha
        small = beta
    else:
        b2, big = r + x, beta
        small = alpha
    d = big - small
    z1, z2 = d / (big + t_x), d / (big + T)
    l1 = np.log(special.hyp2f1(rsx, b2, rsx + 1, z1)) - rsx * np.log(big + t_x)
    l2 = np.log(special.hyp2f1(rsx, b2, rsx + 1, z2)) - rsx * np.log(big + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = l1 + np.log(-np.expm1(np.minimum(l2 - l1, 0.0)))
    return _arr(np.where(t_x < T, out, -np.inf))


def paretonbd_loglik(params: Sequence[float], x: Any, t_x: Any, T: Any) -> Arr:
    """Per-customer log-likelihood of Pareto/NBD (Fader & Hardie 2005 note, eq. 22)."""
    r, alpha, s, beta = params
    x, t_x, T = _arr(x), _arr(t_x), _arr(T)
    head = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha) + s * math.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dead = np.log(s / (r + s + x)) + _log_a0(r, alpha, s, beta, x, t_x, T)
    return _arr(head + np.logaddexp(alive, dead))


def paretonbd_p_alive(params: Sequence[float], x: Any, t_x: Any, T: Any) -> Arr:
    """P(alive | x, t_x, T) (Fader & Hardie 2005 note, eq. 24)."""
    r, alpha, s, beta = params
    x, t_x, T = _arr(x), _arr(t_x), _arr(T)
    log_odds = (
        np.log(s / (r + s + x))
        + (r + x) * np.log(alpha + T)
        + s * np.log(beta + T)
        + _log_a0(r, alpha, s, beta, x, t_x, T)
    )
    return _arr(special.expit(-log_odds))


def paretonbd_expected(params: Sequence[float], t: float, x: Any, t_x: Any, T: Any) -> Arr:
    """E[Y(t) | x, t_x, T] (Fader & Hardie 2005 note, eq. 26; the s = 1 limit is a logarithm)."""
    r, alpha, s, beta = params
    x, t_x, T = _arr(x), _arr(t_x), _arr(T)
    if t <= 0:
        return np.zeros_like(x)
    if abs(s - 1) < 1e-9:
        part = (r + x) * (beta + T) / (alpha + T) * np.log((beta + T + t) / (beta + T))
    else:
        part = (r + x) * (beta + T) / ((alpha + T) * (s - 1)) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
    return _arr(part * paretonbd_p_alive(params, x, t_x, T))


# ---------------------------------------------------------------- Gamma-Gamma


def gg_loglik(params: Sequence[float], x: Any, zbar: Any) -> Arr:
    """Per-customer log-density of the mean spend ``zbar`` of ``x`` >= 1 repeat transactions (FHL
    2005 "RFM and CLV", eq. 3)."""
    p, q, gamma = params
    x, zbar = _arr(x), _arr(zbar)
    px = p * x
    return _arr(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(gamma)
        + (px - 1) * np.log(zbar)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * zbar)
    )


def gg_expected_spend(params: Sequence[float], x: Any, zbar: Any) -> Arr:
    """E[Z | x, zbar] (FHL 2005 "RFM and CLV", eq. 5): the population mean p*gamma/(q-1) for x = 0,
    moving towards the customer's own mean with more transactions. Needs q > 1."""
    p, q, gamma = params
    x, zbar = _arr(x), _arr(np.nan_to_num(zbar, nan=0.0))
    return _arr((p * (gamma + x * zbar)) / (p * x + q - 1))


# ---------------------------------------------------------------- shifted-beta-geometric


def sbg_loglik(params: Sequence[float], churn_period: Any, censored: Any) -> Arr:
    """Per-customer log-likelihood of sBG (Fader & Hardie 2007): a customer lost in period ``t``
    (>= 1) contributes log P(T = t); one still alive after ``t`` periods (``censored``) log S(t)."""
    alpha, beta = params
    t, cens = _arr(churn_period), np.asarray(censored, dtype=bool)
    log_p = special.betaln(alpha + 1, beta + t - 1) - special.betaln(alpha, beta)
    log_s = special.betaln(alpha, beta + t) - special.betaln(alpha, beta)
    return _arr(np.where(cens, log_s, log_p))


def sbg_survival(params: Sequence[float], periods: int) -> list[float]:
    """S(0..periods): the expected share alive after each period (S(0) = 1)."""
    alpha, beta = params
    out = [1.0]
    for t in range(1, periods + 1):
        out.append(out[-1] * (beta + t - 1) / (alpha + beta + t - 1))
    return out


def sbg_from_survivors(alive: Sequence[int]) -> tuple[list[float], list[bool], list[float]]:
    """A cohort's alive counts at periods 0..n as (churn period, censored, weight) rows: the
    ``alive[t-1] - alive[t]`` lost in period t, and ``alive[n]`` still alive after n periods."""
    t: list[float] = []
    cens: list[bool] = []
    w: list[float] = []
    for k in range(1, len(alive)):
        t.append(float(k))
        cens.append(False)
        w.append(float(alive[k - 1] - alive[k]))
    t.append(float(len(alive) - 1))
    cens.append(True)
    w.append(float(alive[-1]))
    return t, cens, w


# ---------------------------------------------------------------- fitting


@dataclass(frozen=True)
class Fit:
    """A maximum-likelihood fit: ``params`` and ``std_errors`` by name, the total ``loglik``; the
    optimiser's ``converged`` and ``message``; ``notes`` say what in the result to distrust."""

    model: str
    params: dict[str, float]
    std_errors: dict[str, float | None]
    loglik: float
    n: int
    converged: bool
    message: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def vector(self) -> tuple[float, ...]:
        return tuple(self.params[k] for k in MODEL_PARAMS[self.model])

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": dict(self.params),
            "std_errors": dict(self.std_errors),
            "loglik": self.loglik,
            "n": self.n,
            "converged": self.converged,
        }


def _hessian(f: Callable[[Arr], float], x0: Arr) -> Arr:
    """Central-difference Hessian of ``f`` at ``x0`` (steps relative to each coordinate)."""
    k = len(x0)
    h = 1e-4 * np.maximum(np.abs(x0), 1e-2)
    out = np.zeros((k, k))
    f0 = f(x0)
    for i in range(k):
        for j in range(i, k):
            if i == j:
                e = np.zeros(k)
                e[i] = h[i]
                out[i, i] = (f(x0 + e) - 2 * f0 + f(x0 - e)) / h[i] ** 2
            else:
                ei, ej = np.zeros(k), np.zeros(k)
                ei[i], ej[j] = h[i], h[j]
                v = f(x0 + ei + ej) - f(x0 + ei - ej) - f(x0 - ei + ej) + f(x0 - ei - ej)
                out[i, j] = out[j, i] = v / (4 * h[i] * h[j])
    return out


def fit(
    model: str,
    loglik: Callable[[Sequence[float]], Arr],
    n: int,
    start: Sequence[float],
    weights: Any = None,
) -> Fit:
    """Maximise ``sum(weights * loglik(params))`` over positive parameters (optimised as their
    logarithms: BFGS, then Nelder-Mead from there to polish). Standard errors: the square roots of the
    diagonal of the inverse Hessian of the negative log-likelihood in the natural parameters.

    Raises DataError HG189 when the optimum is not finite or lies at the edge (a parameter running to
    0 or infinity: the data cannot identify the model)."""
    names = MODEL_PARAMS[model]
    w = None if weights is None else _arr(weights)

    def nll_nat(theta: Arr) -> float:
        if np.any(theta <= 0):
            return math.inf
        with np.errstate(all="ignore"):
            ll = loglik(tuple(float(v) for v in theta))
        total = float(np.sum(ll if w is None else w * ll))
        return -total if math.isfinite(total) else math.inf

    def nll(logs: Arr) -> float:
        if np.any(np.abs(logs) > 30):
            return math.inf
        return nll_nat(np.exp(logs))

    x0 = np.log(_arr(start))
    with np.errstate(all="ignore"):  # inf - inf in the numerical gradient at the edge: a rejected step
        res = optimize.minimize(nll, x0, method="BFGS", options={"gtol": 1e-8, "maxiter": 2000})
        # the polish stops at a change of the log-likelihood 1e-10 of its size (CDNOW: 1e-6): the
        # papers' three decimals hold, and a large log does not pay thousands of evaluations for
        # digits nobody reads
        fatol = max(1e-7, 1e-10 * abs(res.fun)) if math.isfinite(res.fun) else 1e-7
        polish = {"xatol": 1e-6, "fatol": fatol, "maxiter": 200 * len(x0)}  # scipy's own budget
        res2 = optimize.minimize(nll, res.x, method="Nelder-Mead", options=polish)
    best = res2 if res2.fun <= res.fun else res
    theta = np.exp(best.x)
    edge = [nm for nm, v in zip(names, best.x, strict=True) if abs(v) > 18]
    if not math.isfinite(best.fun) or edge:
        raise DataError(
            f"the {model} fit did not converge"
            + (f": {', '.join(edge)} ran to {'0 or ' if edge else ''}infinity" if edge else ""),
            code="HG189",
            hint="the data cannot identify this model: give more customers or a longer calibration period "
            "(--calibration-end later), or try the other model (--fit paretonbd / --fit bgnbd)",
        )
    notes: list[str] = []
    ses: dict[str, float | None] = dict.fromkeys(names)
    with np.errstate(all="ignore"):
        hess = _hessian(nll_nat, theta)
    try:
        cov = np.linalg.inv(hess)
        diag = np.diag(cov)
        if np.all(np.isfinite(diag)) and np.all(diag > 0):
            ses = {nm: float(math.sqrt(d)) for nm, d in zip(names, diag, strict=True)}
        else:
            notes.append("the Hessian is not positive definite at the optimum: standard errors not measured")
    except np.linalg.LinAlgError:
        notes.append("the Hessian is singular at the optimum: standard errors not measured")
    converged = bool(res.success or res2.success)
    if not converged:
        notes.append(f"the optimiser stopped early ({best.message}); the parameters may be imprecise")
    return Fit(
        model=model,
        params={nm: float(v) for nm, v in zip(names, theta, strict=True)},
        std_errors=ses,
        loglik=-float(best.fun),
        n=n,
        converged=converged,
        message=str(best.message),
        notes=tuple(notes),
    )
