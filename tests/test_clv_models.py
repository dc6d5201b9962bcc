"""CLV models at the likelihood level (docs/semantics-clv.md): the papers' published numbers on the
CDNOW 1/10 sample and the sBG cohorts, and each likelihood against a brute-force numerical
integration over the latent rates for single customers."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats  # type: ignore[import-untyped]

from hourglass.model import clv_fit as F
from hourglass.model.clv import sbg_fit
from hourglass.model.errors import DataError, SpecError

CDNOW = Path(__file__).parent / "data" / "cdnow_sample.txt"


def cdnow_summary() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, t_x, T (weeks) and the mean repeat spend, from the raw transactions in plain Python:
    same-day purchases are one transaction, the calibration ends on 1997-09-30."""
    end = date(1997, 9, 30)
    days: dict[str, dict[date, float]] = {}
    for line in CDNOW.read_text().splitlines():
        _, cid, ymd, _qty, amount = line.split()
        d = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
        if d <= end:
            days.setdefault(cid, {}).setdefault(d, 0.0)
            days[cid][d] += float(amount)
    x, tx, T, z = [], [], [], []
    for per_day in days.values():
        ds = sorted(per_day)
        x.append(len(ds) - 1)
        tx.append((ds[-1] - ds[0]).days / 7)
        T.append((end - ds[0]).days / 7)
        z.append(sum(per_day[d] for d in ds[1:]) / (len(ds) - 1) if len(ds) > 1 else math.nan)
    return np.array(x, float), np.array(tx), np.array(T), np.array(z)


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return cdnow_summary()


def test_cdnow_sample_is_the_papers(cdnow: tuple[np.ndarray, ...]) -> None:
    x, _, _, _ = cdnow
    assert len(x) == 2357
    assert int((x > 0).sum()) == 946  # FHL 2005: 1,411 of 2,357 made no repeat purchase
    assert int(x.sum()) == 2457


def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow: tuple[np.ndarray, ...]) -> None:
    x, tx, T, _ = cdnow
    fit = F.fit("bgnbd", lambda p: F.bgnbd_loglik(p, x, tx, T), len(x), (1, 1, 1, 1))
    got = {k: round(v, 3) for k, v in fit.params.items()}
    assert got == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert round(fit.loglik, 2) == -9582.43
    assert fit.converged and all(v is not None and v > 0 for v in fit.std_errors.values())


def test_paretonbd_reproduces_the_published_fit(cdnow: tuple[np.ndarray, ...]) -> None:
    # FHL 2005 (BG/NBD paper), Table 1: r 0.553, alpha 10.578, s 0.606, beta 11.669, LL -9595.0
    x, tx, T, _ = cdnow
    fit = F.fit("paretonbd", lambda p: F.paretonbd_loglik(p, x, tx, T), len(x), (1, 1, 1, 1))
    p = fit.params
    assert (round(p["r"], 3), round(p["alpha"], 2), round(p["s"], 3)) == (0.553, 10.58, 0.606)
    assert abs(p["beta"] - 11.669) < 0.01  # beta is flat in the likelihood (s.e. ~6)
    assert round(fit.loglik, 1) == -9595.0


def test_gamma_gamma_reproduces_fader_hardie(cdnow: tuple[np.ndarray, ...]) -> None:
    # Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013): p 6.25, q 3.74, gamma 15.44
    x, _, _, z = cdnow
    m = x > 0
    fit = F.fit("gammagamma", lambda p: F.gg_loglik(p, x[m], z[m]), int(m.sum()), (1, 1, 1))
    assert (round(fit.params["p"], 2), round(fit.params["q"], 2)) == (6.25, 3.74)
    assert abs(fit.params["gamma"] - 15.44) < 0.01


@pytest.mark.parametrize(
    ("alive", "alpha", "beta"),
    [
        ([1000, 631, 468, 382, 326, 289, 262, 241], 0.704, 1.182),  # "regular"
        ([1000, 869, 743, 653, 593, 551, 517, 491], 0.668, 3.806),  # "high end"
    ],
)
def test_sbg_reproduces_fader_hardie_2007(alive: list[int], alpha: float, beta: float) -> None:
    out = sbg_fit(alive)
    assert round(out["params"]["alpha"], 3) == alpha
    assert round(out["params"]["beta"], 3) == beta
    assert out["survival"][0] == 1.0 and len(out["survival"]) == 13


# ---------------------------------------------------------------- brute force


def _gamma(shape: float, rate: float) -> stats.rv_continuous:
    return stats.gamma(shape, scale=1 / rate)


def _quad(f: object, lo: float, hi: float) -> float:
    value, _ = integrate.quad(f, lo, hi, epsabs=1e-14, epsrel=1e-11, limit=200)
    return float(value)


@pytest.mark.parametrize(("x", "tx", "T"), [(0, 0.0, 20.0), (1, 5.0, 20.0), (4, 17.5, 30.0)])
def test_bgnbd_likelihood_is_the_integral_over_lambda_and_p(x: int, tx: float, T: float) -> None:
    """The individual likelihood (FHL 2005 eq. 3) averaged over the independent gamma (lambda) and
    beta (p) mixing distributions by quadrature: each term is a product of two 1-D integrals."""
    r, alpha, a, b = 1.7, 3.0, 2.2, 3.5
    g, f = _gamma(r, alpha), stats.beta(a, b)
    lam_T = _quad(lambda lam: lam**x * math.exp(-lam * T) * g.pdf(lam), 0, np.inf)
    p_alive_part = _quad(lambda p: (1 - p) ** x * f.pdf(p), 0, 1)
    la = lam_T * p_alive_part
    ld = 0.0
    if x > 0:
        lam_tx = _quad(lambda lam: lam**x * math.exp(-lam * tx) * g.pdf(lam), 0, np.inf)
        ld = lam_tx * _quad(lambda p: p * (1 - p) ** (x - 1) * f.pdf(p), 0, 1)
    got = F.bgnbd_loglik((r, alpha, a, b), [x], [tx], [T])[0]
    assert got == pytest.approx(math.log(la + ld), abs=1e-7)
    p_alive = F.bgnbd_p_alive((r, alpha, a, b), [x], [tx], [T])[0]
    assert p_alive == pytest.approx(la / (la + ld), abs=1e-7)


def _gl(n: int, hi: float) -> tuple[np.ndarray, np.ndarray]:
    u, w = np.polynomial.legendre.leggauss(n)
    return (u + 1) * hi / 2, w * hi / 2


@pytest.mark.parametrize(("x", "tx", "T"), [(0, 0.0, 20.0), (2, 6.0, 20.0), (5, 25.0, 30.0)])
@pytest.mark.parametrize(("alpha", "beta"), [(4.0, 6.0), (7.0, 2.5)])  # both branches of A0
def test_paretonbd_likelihood_is_the_integral_over_lambda_and_mu(
    x: int, tx: float, T: float, alpha: float, beta: float
) -> None:
    """The individual likelihood (Fader & Hardie 2005 note, eq. 5) on a 2-D Gauss-Legendre grid over
    (lambda, mu), weighted by their gamma densities (integer shapes: smooth integrands)."""
    r, s = 2.0, 3.0
    lam, wl = _gl(400, 30.0)
    mu, wm = _gl(400, 30.0)
    L, M = np.meshgrid(lam, mu, indexing="ij")
    k = L + M
    alive = L**x * np.exp(-k * T)
    lik = alive + L**x * M / k * (np.exp(-k * tx) - np.exp(-k * T))
    dens = np.outer(_gamma(r, alpha).pdf(lam) * wl, _gamma(s, beta).pdf(mu) * wm)
    total, la = float(np.sum(lik * dens)), float(np.sum(alive * dens))
    got = F.paretonbd_loglik((r, alpha, s, beta), [x], [tx], [T])[0]
    assert got == pytest.approx(math.log(total), abs=1e-6)
    p_alive = F.paretonbd_p_alive((r, alpha, s, beta), [x], [tx], [T])[0]
    assert p_alive == pytest.approx(la / total, abs=1e-6)


def test_bgnbd_expected_purchases_is_the_simulated_mean() -> None:
    """E[Y(t) | x, t_x, T] against a Monte Carlo over the posterior of (lambda, p) (importance
    weights = the customer's likelihood), with transactions in (T, T + t] simulated exactly."""
    r, alpha, a, b = 1.7, 3.0, 2.2, 3.5
    x, tx, T, t = 3, 12.0, 20.0, 10.0
    rng = np.random.default_rng(7)
    n = 400_000
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    w_alive = (1 - p) ** x * lam**x * np.exp(-lam * T)
    w_dead = p * (1 - p) ** (x - 1) * lam**x * np.exp(-lam * tx)
    # alive at T: the purchases in the next t are geometric-thinned Poisson; E = sum over the
    # survival of each future purchase: (1 - p)^(k-1) survival -> E[count] = (1 - e^{-lam p t}) / p
    expected_alive = (1 - np.exp(-lam * p * t)) / p
    mc = float(np.sum(w_alive * expected_alive) / np.sum(w_alive + w_dead))
    got = F.bgnbd_expected((r, alpha, a, b), t, [x], [tx], [T])[0]
    assert got == pytest.approx(mc, rel=0.01)


def test_gamma_gamma_density_integrates_to_one() -> None:
    p, q, gamma = 6.0, 3.5, 15.0
    for x in (1, 3):
        total, _ = integrate.quad(lambda z, x=x: math.exp(F.gg_loglik((p, q, gamma), [x], [z])[0]), 0, np.inf)
        assert total == pytest.approx(1.0, abs=1e-7)
    # no purchases: the population mean p * gamma / (q - 1)
    assert F.gg_expected_spend((p, q, gamma), [0], [math.nan])[0] == pytest.approx(p * gamma / (q - 1))


def test_sbg_likelihood_is_the_integral_over_theta() -> None:
    alpha, beta = 0.7, 1.2
    f = stats.beta(alpha, beta)
    for t in (1, 3, 6):
        pt, _ = integrate.quad(lambda th, t=t: th * (1 - th) ** (t - 1) * f.pdf(th), 0, 1)
        st, _ = integrate.quad(lambda th, t=t: (1 - th) ** t * f.pdf(th), 0, 1)
        got = F.sbg_loglik((alpha, beta), [t, t], [False, True])
        assert got[0] == pytest.approx(math.log(pt), abs=1e-7)
        assert got[1] == pytest.approx(math.log(st), abs=1e-7)
    assert F.sbg_survival((alpha, beta), 2)[2] == pytest.approx(
        integrate.quad(lambda th: (1 - th) ** 2 * f.pdf(th), 0, 1)[0]
    )


def test_a_fit_that_cannot_converge_is_hg189() -> None:
    # every customer with a single purchase: the BG/NBD likelihood grows as r -> 0
    x, tx, T = np.zeros(50), np.zeros(50), np.linspace(5, 30, 50)
    with pytest.raises(DataError) as e:
        F.fit("bgnbd", lambda p: F.bgnbd_loglik(p, x, tx, T), 50, (1, 1, 1, 1))
    assert e.value.code == "HG189" and e.value.hint


def test_bad_survivors_are_hg186() -> None:
    with pytest.raises(SpecError) as e:
        sbg_fit([1000, 1100, 900])
    assert e.value.code == "HG186"


@pytest.mark.parametrize("model", ["bgnbd", "paretonbd"])
def test_the_fit_runs_on_distinct_histories(cdnow: tuple[np.ndarray, ...], model: str) -> None:
    """The CLV analysis fits the purchase model on the distinct (x, t_x, T) rows weighted by their
    customers (CDNOW: 1,016 rows for 2,357 customers; issue 11's report speed): the papers' numbers
    and the customer count are those of the per-customer fit."""
    from hourglass.model.clv import ClvSpec, _fit_purchases

    x, tx, T, _ = cdnow
    sizes: list[int] = []
    real = F.bgnbd_loglik if model == "bgnbd" else F.paretonbd_loglik

    def counted(p: Any, *a: Any) -> Any:
        sizes.append(len(a[0]))
        return real(p, *a)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(F, f"{model}_loglik", counted)
        fit = _fit_purchases(ClvSpec.build(fit=model), x, tx, T)
    assert set(sizes) == {1016} and fit.n == 2357
    want = F.fit(model, lambda p: real(p, x, tx, T), len(x), (1, 1, 1, 1))
    assert {k: round(v, 3) for k, v in fit.params.items()} == {k: round(v, 3) for k, v in want.params.items()}
    assert round(fit.loglik, 2) == round(want.loglik, 2)


def test_a_horizon_past_ten_years_is_hg182() -> None:
    """`clv --horizon 36500d --period day` ran for minutes (one step per day of the horizon)."""
    from hourglass.model.clv import ClvSpec

    assert ClvSpec.build(horizon="3650d").horizon_days == 3650
    with pytest.raises(SpecError) as e:
        ClvSpec.build(horizon="36500d", period="day")
    assert e.value.code == "HG182" and "10 years" in e.value.message
