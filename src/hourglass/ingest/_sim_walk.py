"""One simulated customer population's walk through the hourglass (simulator.py ``simulate_shop``):
the events of every customer, stage by stage, drawn with the probabilities, skips, loops and delays
of :class:`SimulationTruth` (``_sim_params.py``), as numpy arrays."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from ._sim_params import CHANNELS, EVENTS, PROMOS, ChannelTruth, SimulationTruth

__all__ = ["DAY", "F64", "HOUR", "I64", "MINUTE", "REFERRAL", "Mask", "Sim"]

I64: TypeAlias = npt.NDArray[np.int64]
F64: TypeAlias = npt.NDArray[np.float64]
Mask: TypeAlias = npt.NDArray[np.bool_]

MINUTE = 60_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
_EV = {name: i for i, name in enumerate(EVENTS)}
_ADS, _SOCIAL, REFERRAL = CHANNELS.index("ads"), CHANNELS.index("social"), CHANNELS.index("referral")


class Sim:
    """One simulation run: the random generator, the parameters as arrays, and the growing log."""

    def __init__(self, truth: SimulationTruth, rng: np.random.Generator, end_us: int) -> None:
        self.t, self.rng, self.end = truth, rng, end_us
        self.weak_from = end_us - (truth.days - truth.weak_close_from_day) * DAY
        ch: tuple[ChannelTruth, ...] = truth.channels
        if tuple(c.name for c in ch) != CHANNELS:
            raise ValueError(f"channels must be {CHANNELS}")

        def arr(field: str) -> F64:
            return np.nan_to_num(np.array([getattr(c, field) for c in ch], dtype=np.float64))

        self.p_signup, self.p_direct, self.p_qualified = arr("p_signup"), arr("p_direct"), arr("p_qualified")
        self.p_trust, self.p_trial, self.p_cart = arr("p_trust"), arr("p_trial"), arr("p_cart")
        self.p_close, self.revisit, self.basket = arr("p_close"), arr("revisit_rate"), arr("basket")
        self.p_redeem = np.array([p for _, p in truth.offers], dtype=np.float64)
        self.offer_names = tuple(o for o, _ in truth.offers) + PROMOS
        self.cust: list[I64] = []
        self.code: list[I64] = []
        self.time: list[I64] = []
        self.rev: list[F64] = []
        self.offer: list[I64] = []

    # --- primitives ------------------------------------------------------------------------------
    def emit(
        self, ids: I64, code: int | I64, t: I64, revenue: F64 | None = None, offer: I64 | None = None
    ) -> None:
        n = ids.size
        self.cust.append(ids)
        self.code.append(np.broadcast_to(np.asarray(code, dtype=np.int64), (n,)))
        self.time.append(t)
        self.rev.append(np.full(n, np.nan) if revenue is None else revenue)
        self.offer.append(np.full(n, -1, dtype=np.int64) if offer is None else offer)

    def bern(self, p: float | F64, n: int) -> Mask:
        return self.rng.random(n) < p

    def delay(self, n: int, median_h: float, sigma: float, lo_h: float, hi_h: float) -> I64:
        """Lognormal delay (median ``median_h`` hours) truncated to [lo_h, hi_h] by redrawing; in µs."""
        x = median_h * np.exp(sigma * self.rng.standard_normal(n))
        bad = (x < lo_h) | (x > hi_h)
        for _ in range(50):
            k = int(bad.sum())
            if k == 0:
                break
            x[bad] = median_h * np.exp(sigma * self.rng.standard_normal(k))
            bad = (x < lo_h) | (x > hi_h)
        return (np.clip(x, lo_h, hi_h) * HOUR).astype(np.int64)

    def pick(self, options: list[int], p: list[float], n: int) -> I64:
        return np.asarray(self.rng.choice(np.array(options), size=n, p=p), dtype=np.int64)

    def promo(self, n: int) -> I64:
        return len(self.t.offers) + self.rng.integers(0, len(PROMOS), n)

    # --- the journey up to the first purchase -------------------------------------------------------
    def journey(self, ids: I64, chan: I64, t0: I64, entry: I64) -> tuple[I64, I64, I64]:
        """Pre-sale events of one generation; entry 0 = visit, 1 = signup, 2 = trial_start (referees).
        Returns the buyers' ids, first-purchase times and channels."""
        n, tr, d, ev = ids.size, self.t, self.delay, _EV
        org = entry == 0
        paid = org & ((chan == _ADS) | (chan == _SOCIAL))
        self.emit(ids[paid], ev["ad_click"], t0[paid])
        t_visit = t0 + np.where(paid, d(n, 0.05, 1.0, 1 / 60, 0.75), 0)
        self.emit(ids[org], ev["visit"], t_visit[org])
        r = np.repeat(np.arange(n), np.where(paid, self.rng.poisson(0.4, n), 0))
        self.emit(ids[r], ev["ad_click"], t_visit[r] + d(r.size, 96, 1.0, 1, 60 * 24))
        # interest
        signup = (org & self.bern(self.p_signup[chan], n)) | (entry == 1)
        t_s = np.where(entry == 1, t0, t_visit + d(n, 8, 1.2, 5 / 60, 5 * 24))
        self.emit(ids[signup], ev["signup"], t_s[signup])
        for name, p, med in (("subscribe", 0.30, 2.0), ("callback_request", 0.12, 1.0)):
            m = signup & self.bern(p, n)
            self.emit(ids[m], ev[name], t_s[m] + d(int(m.sum()), med, 1.0, 1 / 60, 72))
        direct = org & ~signup & self.bern(self.p_direct[chan], n)
        # lead qualification
        qual = signup & self.bern(self.p_qualified[chan], n)
        t_q = t_s + d(n, 4, 1.0, 1 / 6, 48)
        self.emit(ids[qual], ev["lead_qualified"], t_q[qual])
        # trust: 1-3 events, the last at t_t; a share skips the stage
        trust = qual & self.bern(self.p_trust[chan], n)
        has_t = trust & ~self.bern(tr.skip_trust, n)
        d_t = d(n, 36, 0.8, 0.5, 120)
        t_t = np.where(has_t, t_q + d_t, t_q)
        r = np.repeat(np.arange(n), np.where(has_t, 1 + self.rng.binomial(2, 0.35, n), 0))
        first = np.ones(r.size, dtype=bool)
        first[1:] = r[1:] != r[:-1]
        frac = np.where(first, 1.0, self.rng.uniform(0.05, 1.0, r.size))
        trust_codes = [ev["case_study_view"], ev["consultation"], ev["webinar"]]
        codes = self.pick(trust_codes, [0.5, 0.3, 0.2], r.size)
        self.emit(ids[r], codes, t_q[r] + (frac * d_t[r]).astype(np.int64))
        # trial (referees entering at trial_start are here at t0)
        trial_org = trust & self.bern(self.p_trial[chan], n)
        has_r = trial_org & ~self.bern(tr.skip_trial, n)
        t_r = np.where(entry == 2, t0, np.where(has_r, t_t + d(n, 48, 0.8, 1, 144), t_t))
        trial = trial_org | (entry == 2)
        codes = self.pick([ev["trial_start"], ev["sample_request"], ev["demo"]], [0.5, 0.2, 0.3], n)
        codes[entry == 2] = ev["trial_start"]
        m = has_r | (entry == 2)
        self.emit(ids[m], codes[m], t_r[m])
        loop = m & self.bern(0.12, n)  # loop back to the trust stage after the trial
        codes = self.pick(trust_codes[:2], [0.6, 0.4], int(loop.sum()))
        self.emit(ids[loop], codes, t_r[loop] + d(int(loop.sum()), 12, 1.0, 1 / 6, 72))
        # desire, with the hook (promo_view) before add_to_cart
        cart = (trial & self.bern(self.p_cart[chan], n)) | direct
        t_prev = np.where(direct, t_visit, t_r)
        t_c = t_prev + np.where(direct, d(n, 0.5, 1.2, 1 / 60, 48), d(n, 24, 1.0, 1 / 6, 120))
        hook = cart & self.bern(np.where(direct, 0.5, 0.3), n)
        frac = self.rng.uniform(0.1, 0.9, n)
        t_h = t_prev + (frac * (t_c - t_prev)).astype(np.int64)
        self.emit(ids[hook], ev["promo_view"], t_h[hook], offer=self.promo(int(hook.sum())))
        self.emit(ids[cart], ev["add_to_cart"], t_c[cart])
        # sale
        weak = np.where(t0 >= self.weak_from, tr.weak_close_multiplier, 1.0)  # planted weak sale
        buy = direct | (cart & self.bern(self.p_close[chan] * weak, n))
        t_p = t_c + d(n, 0.3, 1.5, 1 / 60, 72)
        again = cart & ~buy & self.bern(0.35, n)  # abandoned carts come back
        self.emit(ids[again], ev["add_to_cart"], t_c[again] + d(int(again.sum()), 72, 1.0, 1, 480))
        # noise: revisits (loops back to awareness) and promotions seen
        base = np.where(org, t_visit, t0)
        r = np.repeat(np.arange(n), self.rng.poisson(self.revisit[chan]))
        self.emit(ids[r], ev["visit"], base[r] + d(r.size, 96, 1.2, 1 / 6, 90 * 24))
        r = np.repeat(np.arange(n), self.rng.poisson(0.25, n))
        self.emit(
            ids[r], ev["promo_view"], base[r] + d(r.size, 144, 1.2, 1, 90 * 24), offer=self.promo(r.size)
        )
        return ids[buy], t_p[buy], chan[buy]

    # --- after the sale -----------------------------------------------------------------------------
    def after_sale(self, ids: I64, t1: I64, chan: I64) -> tuple[I64, I64]:
        """Post-sale events of the buyers; returns (referrer id, first-event time) of new referees."""
        n, tr, d, ev = ids.size, self.t, self.delay, _EV
        basket = self.basket[chan] * self.rng.lognormal(0.0, 0.35, n)
        rev = np.maximum(1.0, np.round(basket * self.rng.lognormal(0.0, 0.45, n), 2))
        self.emit(ids, ev["purchase"], t1, revenue=rev)
        # friction, all within friction_window_days (7) of the purchase
        cancel = self.bern(tr.p_cancel, n)
        ok = ~cancel
        late = ok & self.bern(tr.p_late, n)
        t_late = t1 + d(n, 80, 0.25, 48, 120)
        comp = ok & self.bern(np.where(late, tr.p_complaint_given_late, tr.p_complaint), n)
        t_comp = np.where(late, t_late + d(n, 8, 1.0, 1 / 6, 36), t1 + d(n, 60, 0.6, 24, 144))
        ret = ok & self.bern(tr.p_return, n)
        for m, name, t in (
            (cancel, "cancel", t1 + d(n, 4, 1.0, 1 / 6, 23)),
            (late, "delivery_late", t_late),
            (comp, "complaint", t_comp),
            (ret, "return", t1 + d(n, 96, 0.3, 48, 160)),
        ):
            self.emit(ids[m], ev[name], t[m])
        fric = cancel | late | comp | ret
        # support: 1-2 contacts, most resolved
        sup = self.bern(np.where(fric, tr.p_support_given_friction, tr.p_support), n)
        r = np.repeat(np.arange(n), np.where(sup, 1 + self.bern(0.3, n), 0))
        t_sup = t1[r] + d(r.size, 48, 1.0, 1 / 6, 480)
        self.emit(ids[r], ev["support_contact"], t_sup)
        res = self.bern(tr.p_support_resolved, r.size)
        self.emit(ids[r][res], ev["support_resolved"], t_sup[res] + d(int(res.sum()), 20, 1.0, 0.5, 120))
        # loyalty program, then relationship management (crm_contact about monthly)
        loyal = self.bern(tr.p_loyalty * np.where(fric, tr.loyalty_friction_multiplier, 1.0), n)
        t_loy = t1 + d(n, 72, 1.0, 1, 480)
        self.emit(ids[loyal], ev["loyalty_join"], t_loy[loyal])
        every = tr.crm_every_days * DAY
        k = np.where(loyal, np.maximum(0, (self.end - t_loy) // every), 0)
        r = np.repeat(np.arange(n), k)
        j = np.arange(r.size) - np.repeat(np.cumsum(k) - k, k)
        jitter = self.rng.integers(-3 * DAY, 3 * DAY, r.size)
        self.emit(ids[r], ev["crm_contact"], t_loy[r] + (j + 1) * every + jitter)
        rv = self.bern(np.where(fric, tr.p_review_given_friction, tr.p_review), n)
        self.emit(ids[rv], ev["review"], t1[rv] + d(int(rv.sum()), 168, 0.6, 72, 600))
        # first repeat purchase, within repeat_window_days
        p_rep = tr.p_repeat * np.where(fric, tr.repeat_friction_multiplier, 1.0)
        p_rep = p_rep * np.where(late, tr.repeat_late_multiplier, 1.0)  # planted late-delivery effect
        rep = self.bern(np.minimum(0.95, p_rep * np.where(loyal, tr.repeat_loyalty_multiplier, 1.0)), n)
        t_rep = t1 + d(n, 25 * 24, 0.6, 8 * 24, tr.repeat_window_days * 24)
        # win-back: lapsed buyers get an offer after the repeat window; some redeem and buy again
        wb = ~rep & self.bern(tr.p_offer, n)
        which = self.rng.integers(0, len(tr.offers), n)
        t_off = t1 + tr.repeat_window_days * DAY + d(n, 48, 1.0, 1, 168)
        red = wb & self.bern(self.p_redeem[which], n)
        t_red = t_off + d(n, 48, 1.0, 0.5, tr.offer_redeem_days * 24)
        self.emit(ids[wb], ev["offer_sent"], t_off[wb], offer=which[wb])
        self.emit(ids[red], ev["offer_redeemed"], t_red[red], offer=which[red])
        t_wb = t_red + d(n, 0.3, 1.0, 1 / 60, 2)
        self.repeats(
            np.concatenate([ids[rep], ids[red]]),
            np.concatenate([t_rep[rep], t_wb[red]]),
            np.concatenate([loyal[rep], loyal[red]]),
            np.concatenate([basket[rep], basket[red]]),
        )
        # word of mouth
        p_ref = tr.p_referral * np.where(fric, tr.referral_friction_multiplier, 1.0)
        refer = self.bern(np.minimum(0.95, p_ref * np.where(loyal, tr.referral_loyalty_multiplier, 1.0)), n)
        extra_n, extra_p = tr.referral_extra_invites
        r = np.repeat(np.arange(n), np.where(refer, 1 + self.rng.binomial(extra_n, extra_p, n), 0))
        t_inv = t1[r] + d(r.size, 12 * 24, 0.8, 48, tr.referral_window_days * 24)
        self.emit(ids[r], ev["referral_sent"], t_inv)
        conv = self.bern(tr.p_referral_conversion, r.size)
        t_new = t_inv[conv] + d(int(conv.sum()), 20, 1.0, 1, tr.referral_delay_days * 24)
        return ids[r][conv], t_new

    def repeats(self, ids: I64, t: I64, loyal: Mask, basket: F64) -> None:
        """Chains of repeat purchases (each with a little friction of its own)."""
        ev, d = _EV, self.delay
        while ids.size:
            n = ids.size
            rev = np.maximum(1.0, np.round(basket * self.rng.lognormal(-0.15, 0.45, n), 2))
            self.emit(ids, ev["repeat_purchase"], t, revenue=rev)
            late = self.bern(0.06, n)
            t_late = t + d(n, 80, 0.25, 48, 120)
            self.emit(ids[late], ev["delivery_late"], t_late[late])
            comp = late & self.bern(0.3, n)
            self.emit(ids[comp], ev["complaint"], t_late[comp] + d(int(comp.sum()), 8, 1.0, 1 / 6, 36))
            t_next = t + d(n, 30 * 24, 0.5, 10 * 24, 90 * 24)
            go = self.bern(np.where(loyal, self.t.p_repeat_again_loyal, self.t.p_repeat_again), n)
            go &= t_next < self.end
            ids, t, loyal, basket = ids[go], t_next[go], loyal[go], basket[go]
