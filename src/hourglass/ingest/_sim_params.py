"""The true parameters of the demo shop simulator (``simulator.py``).

Every probability the simulator draws from is a field here, so that tests and demos can compare what an
analysis measures with what was put in. Windows (``*_window_days``) say under which observation window a
probability is exactly the observable rate: every delay involved is drawn inside that window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: The acquisition channels, in the order of their integer codes inside the simulator.
CHANNELS: tuple[str, ...] = ("ads", "search", "social", "email", "referral")

#: The event vocabulary (the journey-model presets map these names).
EVENTS: tuple[str, ...] = (
    "ad_click",
    "visit",
    "signup",
    "subscribe",
    "callback_request",
    "lead_qualified",
    "case_study_view",
    "consultation",
    "webinar",
    "trial_start",
    "sample_request",
    "demo",
    "add_to_cart",
    "purchase",
    "repeat_purchase",
    "support_contact",
    "support_resolved",
    "return",
    "cancel",
    "delivery_late",
    "complaint",
    "loyalty_join",
    "review",
    "referral_sent",
    "offer_sent",
    "offer_redeemed",
    "crm_contact",
    "promo_view",
)

#: Events that make a first purchase a *friction* purchase (when within ``friction_window_days``).
FRICTION_EVENTS: tuple[str, ...] = ("delivery_late", "complaint", "return", "cancel")

#: Codes of the promotions shown by ``promo_view`` (the "hook": a reason to buy now).
PROMOS: tuple[str, ...] = ("SPRING10", "SUMMER15", "FREESHIP")

DEVICES: tuple[str, ...] = ("mobile", "desktop", "tablet")
DEVICE_SHARES: tuple[float, ...] = (0.55, 0.38, 0.07)
COUNTRIES: tuple[str, ...] = ("US", "DE", "GB", "FR", "ES", "IT", "NL", "PL", "BR", "IN")
COUNTRY_SHARES: tuple[float, ...] = (0.30, 0.15, 0.12, 0.10, 0.08, 0.07, 0.05, 0.05, 0.05, 0.03)


@dataclass(frozen=True)
class ChannelTruth:
    """True behaviour of the customers acquired through one channel.

    Stage probabilities are conditional on reaching the previous stage: a visitor signs up with
    ``p_signup``; a signed-up lead is qualified with ``p_qualified``, passes the trust stage with
    ``p_trust`` (a share ``SimulationTruth.skip_trust`` of those who pass skip its events), the trial
    stage with ``p_trial`` (``skip_trial`` skip), adds to cart with ``p_cart`` and buys with ``p_close``.
    A visitor who does not sign up buys directly (visit -> add_to_cart -> purchase, skipping interest,
    trust and trial) with ``p_direct`` and never signs up.
    """

    name: str
    #: Spend per acquired customer (every customer id in the log, buyer or not); referral: 0.
    cost_per_customer: float
    #: Share of the non-referred acquisitions (referral: 0, its customers come from referrals).
    share: float
    #: P(signup | visit) for non-referred customers (NaN for referral: referees do not start with a visit).
    p_signup: float
    #: P(direct purchase | visit, no signup).
    p_direct: float
    p_qualified: float
    p_trust: float
    p_trial: float
    p_cart: float
    p_close: float
    #: Mean number of extra (noise / loop-back) visits per customer.
    revisit_rate: float
    #: Median revenue of a first purchase.
    basket: float

    @property
    def p_purchase_given_signup(self) -> float:
        """P(first purchase | signup): the product of the stage probabilities after signup."""
        return self.p_qualified * self.p_trust * self.p_trial * self.p_cart * self.p_close

    @property
    def p_purchase_given_trial(self) -> float:
        """P(first purchase | trial stage reached)."""
        return self.p_cart * self.p_close


DEFAULT_CHANNELS: tuple[ChannelTruth, ...] = (
    ChannelTruth("ads", 2.5, 0.35, 0.14, 0.020, 0.60, 0.70, 0.65, 0.70, 0.70, 1.2, 45.0),
    ChannelTruth("search", 3.5, 0.25, 0.30, 0.040, 0.75, 0.80, 0.75, 0.80, 0.80, 1.0, 60.0),
    ChannelTruth("social", 1.8, 0.25, 0.12, 0.015, 0.50, 0.65, 0.60, 0.65, 0.65, 1.4, 40.0),
    ChannelTruth("email", 0.6, 0.15, 0.35, 0.050, 0.80, 0.80, 0.80, 0.80, 0.80, 0.8, 55.0),
    ChannelTruth("referral", 0.0, 0.0, math.nan, 0.0, 0.90, 0.90, 0.85, 0.85, 0.85, 0.8, 65.0),
)

Weighted = Callable[[bool, bool], float]


@dataclass(frozen=True)
class SimulationTruth:
    """All true parameters of one simulated shop, plus the realised counts.

    Times: the log covers ``[start, end)``; every event at or after ``end`` is cut (censored), so the
    rates below are exact only for customers observed long enough (see the ``*_window_days``).
    """

    seed: int
    n_customers: int
    start: str
    days: int
    channels: tuple[ChannelTruth, ...] = DEFAULT_CHANNELS

    # --- realised by the run -----------------------------------------------------------------------
    n_organic: int = 0  #: customers acquired by a paid/owned channel (not referral)
    n_referred: int = 0  #: customers acquired by referral (channel "referral", referrer set)
    referral_generations: int = 0  #: deepest referral generation (1: referee of an organic customer)
    #: (channel, period "YYYY-MM", customers acquired): acquisition = the customer's first event.
    acquired: tuple[tuple[str, str, int], ...] = ()

    # --- acquisition journey -----------------------------------------------------------------------
    #: Every step of [visit, signup, purchase] (and of the whole pre-sale path) lies within this many
    #: days of the customer's first visit (the drawn delays sum to at most ``funnel_max_days``).
    funnel_window_days: int = 30
    funnel_max_days: int = 26
    skip_trust: float = 0.25  #: of those passing the trust stage, share with no trust event
    skip_trial: float = 0.30  #: of those passing the trial stage, share with no trial event
    #: A referee enters at ``signup`` with this probability, else at ``trial_start``.
    referral_entry_signup: float = 0.6

    # --- friction on the first purchase (all within friction_window_days of it) --------------------
    friction_window_days: int = 7
    p_cancel: float = 0.03
    p_late: float = 0.12  #: delivery_late, if not cancelled
    p_complaint: float = 0.04  #: complaint without late delivery, if not cancelled
    p_complaint_given_late: float = 0.35
    p_return: float = 0.06  #: if not cancelled
    p_support: float = 0.06  #: support_contact after a purchase without friction
    p_support_given_friction: float = 0.70
    p_support_resolved: float = 0.85  #: per contact; resolved within 5 days
    p_review: float = 0.10
    p_review_given_friction: float = 0.25

    # --- loyalty, repeat purchases, win-back -------------------------------------------------------
    p_loyalty: float = 0.25  #: loyalty_join within 20 days of the first purchase
    loyalty_friction_multiplier: float = 0.4
    #: P(a repeat_purchase within repeat_window_days of the first purchase) = p_repeat times the
    #: multipliers that apply (capped at 0.95).
    p_repeat: float = 0.30
    repeat_friction_multiplier: float = 0.4
    repeat_loyalty_multiplier: float = 1.8
    repeat_window_days: int = 60
    p_repeat_again: float = 0.40  #: after a repeat purchase, another one (10-90 days later)
    p_repeat_again_loyal: float = 0.60
    #: Buyers with no repeat within repeat_window_days get offer_sent (within 7 more days) with p_offer;
    #: redemption (offer_redeemed within 10 days, then repeat_purchase within 2 hours) per offer code.
    p_offer: float = 0.70
    offers: tuple[tuple[str, float], ...] = (("WINBACK10", 0.12), ("WINBACK20", 0.22))
    offer_redeem_days: int = 10
    crm_every_days: int = 30  #: loyalty members get a crm_contact about every 30 days

    # --- word of mouth ------------------------------------------------------------------------------
    #: P(referral_sent within referral_window_days of the first purchase) = p_referral times the
    #: multipliers that apply (capped at 0.95); a referrer sends 1 + Binomial(2, 0.3) referrals.
    p_referral: float = 0.25
    referral_friction_multiplier: float = 0.3
    referral_loyalty_multiplier: float = 1.6
    referral_window_days: int = 45
    referral_extra_invites: tuple[int, float] = (2, 0.3)
    #: Each referral_sent becomes a new customer with this probability, whose first event follows
    #: within referral_delay_days.
    p_referral_conversion: float = 0.5
    referral_delay_days: int = 5

    # --- planted effects (off by default: the default log is unchanged) ----------------------------
    #: a late delivery of the first purchase multiplies P(repeat within repeat_window_days) once more
    #: (on top of repeat_friction_multiplier); see repeat_probability_late
    repeat_late_multiplier: float = 1.0
    #: a weak sale stage: P(purchase | add_to_cart) (p_close) times this for customers whose journey
    #: starts at or after ``start + weak_close_from_day`` days
    weak_close_multiplier: float = 1.0
    weak_close_from_day: int = 0

    # --- helpers ------------------------------------------------------------------------------------
    @property
    def start_datetime(self) -> datetime:
        return datetime.fromisoformat(self.start)

    @property
    def end_datetime(self) -> datetime:
        """First instant after the simulated period (exclusive)."""
        return self.start_datetime + timedelta(days=self.days)

    def channel(self, name: str) -> ChannelTruth:
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(name)

    def expected_funnel(self, channel: str) -> tuple[float, float, float]:
        """True conversion from the previous step of [visit, signup, purchase] for the non-referred
        customers of ``channel``, under any window of at least ``funnel_window_days`` (ordered funnel),
        for customers whose first visit is at least that long before ``end``."""
        c = self.channel(channel)
        if c.name == "referral":
            raise ValueError("referees do not start with a visit")
        return (1.0, c.p_signup, c.p_purchase_given_signup)

    def p_buy(self, channel: str) -> float:
        """P(the customer ever makes a first purchase | acquired through ``channel``)."""
        c = self.channel(channel)
        if c.name == "referral":
            e = self.referral_entry_signup
            return e * c.p_purchase_given_signup + (1 - e) * c.p_purchase_given_trial
        return c.p_signup * c.p_purchase_given_signup + (1 - c.p_signup) * c.p_direct

    def true_cac(self, channel: str) -> float:
        """Expected spend per buyer: cost per acquired customer / P(buy)."""
        return self.channel(channel).cost_per_customer / self.p_buy(channel)

    @property
    def p_friction(self) -> float:
        """P(the first purchase has a friction event: cancel, delivery_late, complaint or return)."""
        ok = (1 - self.p_cancel) * (1 - self.p_late) * (1 - self.p_complaint) * (1 - self.p_return)
        return 1.0 - ok

    def loyalty_probability(self, friction: bool | None = None) -> float:
        """P(loyalty_join within 20 days of the first purchase | friction)."""
        return self._expect(lambda f, lo: float(lo), friction, None)

    def repeat_probability(self, friction: bool | None = None, loyalty: bool | None = None) -> float:
        """P(repeat_purchase within repeat_window_days of the first purchase | friction, loyalty);
        None marginalises over that variable."""
        return self._expect(self._p_repeat, friction, loyalty)

    def referral_probability(self, friction: bool | None = None, loyalty: bool | None = None) -> float:
        """P(referral_sent within referral_window_days of the first purchase | friction, loyalty)."""
        return self._expect(self._p_referral, friction, loyalty)

    @property
    def mean_referrals_per_referrer(self) -> float:
        k, p = self.referral_extra_invites
        return 1.0 + k * p

    def redeem_probability(self, offer: str) -> float:
        return dict(self.offers)[offer]

    def repeat_probability_late(self, late: bool) -> float:
        """P(repeat_purchase within repeat_window_days of the first purchase | its delivery was late
        or not), with the planted ``repeat_late_multiplier``: exact, summed over cancel, complaint,
        return and loyalty."""
        pc, pl = self.p_cancel, self.p_late
        if late:
            weights = {True: 1.0}  # late is a friction
        else:
            not_late = pc + (1 - pc) * (1 - pl)
            clean = (1 - pc) * (1 - pl) * (1 - self.p_complaint) * (1 - self.p_return) / not_late
            weights = {True: 1 - clean, False: clean}
        total = 0.0
        for f, w in weights.items():
            pl_f = self._p_loyal(f)
            for lo, wl in ((True, pl_f), (False, 1 - pl_f)):
                p = self.p_repeat * (self.repeat_friction_multiplier if f else 1.0)
                p *= self.repeat_late_multiplier if late else 1.0
                total += w * wl * min(0.95, p * (self.repeat_loyalty_multiplier if lo else 1.0))
        return total

    def _p_loyal(self, friction: bool) -> float:
        return self.p_loyalty * (self.loyalty_friction_multiplier if friction else 1.0)

    def _p_repeat(self, friction: bool, loyalty: bool) -> float:
        p = self.p_repeat * (self.repeat_friction_multiplier if friction else 1.0)
        return min(0.95, p * (self.repeat_loyalty_multiplier if loyalty else 1.0))

    def _p_referral(self, friction: bool, loyalty: bool) -> float:
        p = self.p_referral * (self.referral_friction_multiplier if friction else 1.0)
        return min(0.95, p * (self.referral_loyalty_multiplier if loyalty else 1.0))

    def _expect(self, fn: Weighted, friction: bool | None, loyalty: bool | None) -> float:
        """E[fn(friction, loyalty)] over the buyers matching the given (non-None) conditions."""
        num = den = 0.0
        pf = self.p_friction
        for f in (True, False):
            if friction is not None and f != friction:
                continue
            for lo in (True, False):
                if loyalty is not None and lo != loyalty:
                    continue
                pl = self._p_loyal(f)
                w = (pf if f else 1 - pf) * (pl if lo else 1 - pl)
                num += w * fn(f, lo)
                den += w
        return num / den
