"""Demo data: a simulated shop's event log whose true parameters are known.

``simulate_shop`` returns ``(table, truth)``. Every customer walks the hourglass: awareness (``ad_click``,
``visit``) -> interest (``signup``; extra ``subscribe`` / ``callback_request``) -> ``lead_qualified`` ->
trust (``case_study_view``, ``consultation``, ``webinar``) -> trial (``trial_start``, ``sample_request``,
``demo``) -> desire (``add_to_cart``, hooked by ``promo_view``) -> ``purchase`` -> after the sale (friction,
support, loyalty, repeat purchases, win-back offers, reviews, CRM) -> word of mouth (``referral_sent``,
whose converted referrals are new customers of channel ``referral`` who enter at ``signup`` or
``trial_start``, and can refer in turn). Stage probabilities per channel, skips, loops and delays are in
:class:`SimulationTruth` (``_sim_params.py``).

Columns (rows are shuffled, as in a real log):

- ``customer_id`` string ``c000123`` (numbered in order of acquisition), ``event`` string,
  ``timestamp`` timestamp[us] (naive UTC), ``event_id`` string (unique);
- ``channel``: the customer's acquisition channel, on **every** event of the customer (first-touch
  attribution carried along; never null);
- ``revenue`` float64: > 0 on ``purchase`` / ``repeat_purchase``, null elsewhere;
- ``referrer``: on **every** event of a referred customer, the ``customer_id`` of the customer whose
  ``referral_sent`` brought him (that event precedes the referee's first event); null otherwise;
- properties ``device`` (mobile/desktop/tablet: the customer's usual device on 85 % of his events),
  ``country`` (per customer; referees mostly share their referrer's), ``offer`` (the offer code on
  ``offer_sent`` / ``offer_redeemed`` (win-back) and ``promo_view`` (promotion); null elsewhere).

``n_customers`` counts every customer id in the log, referees included: organic customers are drawn
in a random order together with their whole referral trees (all generations acquired before ``end``)
and taken until the count is reached; the last tree is cut to its earliest members.
Events at or after ``end = start + days`` are not in the log.

Known truth (``SimulationTruth``), exact for customers observed long enough before ``end``:

- the ordered funnel [visit, signup, purchase] of the non-referred customers of a channel, with any
  window >= ``funnel_window_days`` (30) and first visit >= 30 days before ``end``, converts as
  ``truth.expected_funnel(channel)`` (all pre-sale delays sum to <= 26 days; direct buyers skip
  signup and never sign up); ``truth.p_buy(channel)`` is P(purchase | visit);
- friction = a ``FRICTION_EVENTS`` event within 7 days of the first purchase (``truth.p_friction``);
  P(repeat_purchase within 60 days of it) = ``truth.repeat_probability(friction, loyalty)``; win-back
  offers come only after those 60 days;
- P(referral_sent within 45 days of the first purchase) = ``truth.referral_probability(friction,
  loyalty)``; each ``referral_sent`` becomes a customer with ``p_referral_conversion`` within 5 days;
- ``offer_sent`` is redeemed within 10 days with ``truth.redeem_probability(offer)``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from ._sim_arrow import _arrow, _fixed_strings, _labels, _strings
from ._sim_params import (
    CHANNELS,
    COUNTRIES,
    COUNTRY_SHARES,
    DEVICE_SHARES,
    DEVICES,
    EVENTS,
    FRICTION_EVENTS,
    ChannelTruth,
    SimulationTruth,
)
from ._sim_walk import DAY, HOUR, I64, REFERRAL, Sim

__all__ = [
    "CHANNELS",
    "EVENTS",
    "FRICTION_EVENTS",
    "ChannelTruth",
    "SimulationTruth",
    "channel_costs",
    "simulate_shop",
]

_EPOCH = datetime(1970, 1, 1)
# Share of acquisitions by hour of day (night low, lunch and evening peaks).
_HOURLY = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 6, 7, 8, 9, 9, 8, 5, 3], float)


def _to_us(dt: datetime) -> int:
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _acquisition_times(rng: np.random.Generator, n: int, start: datetime, start_us: int, days: int) -> I64:
    """Organic acquisition times: growing over the period, quieter at weekends and at night."""
    d = np.arange(days)
    w = (1.0 + 0.6 * d / days) * np.where((start.weekday() + d) % 7 >= 5, 0.8, 1.0)
    day = rng.choice(days, size=n, p=w / w.sum())
    hour = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    return start_us + day * DAY + hour * HOUR + rng.integers(0, HOUR, n)


def simulate_shop(
    n_customers: int = 50_000,
    seed: int = 7,
    start: str = "2024-01-01",
    days: int = 180,
    **planted: float,
) -> tuple[pa.Table, SimulationTruth]:
    """Simulate a shop's event log over ``[start, start + days)``; see the module docstring.
    ``planted``: effects off by default (``repeat_late_multiplier``, ``weak_close_multiplier``,
    ``weak_close_from_day``: fields of :class:`SimulationTruth`); without them the log is the
    default one, event for event."""
    if n_customers < 1 or days < 1:
        raise ValueError("n_customers and days must be positive")
    start_dt = datetime.fromisoformat(start)
    start_us = _to_us(start_dt)
    end_us = start_us + days * DAY
    known = {"repeat_late_multiplier", "weak_close_multiplier", "weak_close_from_day"}
    unknown = sorted(set(planted) - known)
    if unknown:
        raise ValueError(f"unknown planted effects {unknown}; known: {sorted(known)}")
    truth = SimulationTruth(seed=seed, n_customers=n_customers, start=start, days=days, **planted)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    sim = Sim(truth, rng, end_us)
    n = n_customers
    shares = np.array([c.share for c in truth.channels[:REFERRAL]])

    # generation 0: a pool of n organic roots (each root plus its referral tree is >= 1 customer)
    chan = np.asarray(rng.choice(REFERRAL, size=n, p=shares / shares.sum()), dtype=np.int64)
    t0 = _acquisition_times(rng, n, start_dt, start_us, days)
    entry = np.zeros(n, dtype=np.int64)
    ids = np.arange(n, dtype=np.int64)
    country = np.asarray(rng.choice(len(COUNTRIES), size=n, p=COUNTRY_SHARES), dtype=np.int64)
    cols = {"chan": [chan], "t0": [t0], "referrer": [np.full(n, -1)], "gen": [np.zeros(n, dtype=np.int64)]}
    root_all, country_all, gen = ids, country, 0
    while ids.size:
        b_ids, b_t, b_chan = sim.journey(ids, chan, t0, entry)
        ref, t0 = sim.after_sale(b_ids, b_t, b_chan)
        keep = t0 < end_us
        ref, t0 = ref[keep], t0[keep]
        m, gen = ref.size, gen + 1
        ids = np.arange(root_all.size, root_all.size + m, dtype=np.int64)
        chan = np.full(m, REFERRAL, dtype=np.int64)
        entry = np.where(sim.bern(truth.referral_entry_signup, m), 1, 2)
        own = np.asarray(rng.choice(len(COUNTRIES), size=m, p=COUNTRY_SHARES), dtype=np.int64)
        country = np.where(sim.bern(0.7, m), country_all[ref], own)
        root_all = np.concatenate([root_all, root_all[ref]])
        country_all = np.concatenate([country_all, country])
        for key, val in (("chan", chan), ("t0", t0), ("referrer", ref), ("gen", np.full(m, gen))):
            cols[key].append(val)
    chan_all, t0_all = np.concatenate(cols["chan"]), np.concatenate(cols["t0"])
    ref_all, gen_all = np.concatenate(cols["referrer"]), np.concatenate(cols["gen"])
    total = root_all.size

    # select whole referral trees in pool order until n_customers; cut the last tree to its earliest
    # members (a customer's referees are acquired after him, so the cut keeps referrers)
    cs = np.cumsum(np.bincount(root_all, minlength=n))
    k = int(np.searchsorted(cs, n))
    sel = root_all < k
    members = np.flatnonzero(root_all == k)
    order = np.lexsort((members, t0_all[members]))
    sel[members[order[: n - int(sel.sum())]]] = True

    # customer ids in order of acquisition
    chosen = np.flatnonzero(sel)
    chosen = chosen[np.lexsort((chosen, t0_all[chosen]))]
    rank = np.full(total, -1, dtype=np.int64)
    rank[chosen] = np.arange(n)

    cust = np.concatenate(sim.cust)
    t = np.concatenate(sim.time)
    keep = sel[cust] & (t < end_us)
    perm = rng.permutation(int(keep.sum()))
    cust, t = cust[keep][perm], t[keep][perm]
    code = np.concatenate(sim.code)[keep][perm]
    rev = np.concatenate(sim.rev)[keep][perm]
    offer = np.concatenate(sim.offer)[keep][perm]
    e = cust.size

    primary = np.asarray(rng.choice(len(DEVICES), size=total, p=DEVICE_SHARES), dtype=np.int64)
    other = np.asarray(rng.choice(len(DEVICES), size=e, p=DEVICE_SHARES), dtype=np.int64)
    device = np.where(sim.bern(0.85, e), primary[cust], other)
    names = _fixed_strings("c", np.arange(1, n + 1, dtype=np.uint64), max(6, len(str(n))), 10)
    salt = np.uint64(rng.integers(0, 2**47))
    scrambled = (np.arange(e, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + salt) & np.uint64(2**48 - 1)
    ref_rank = np.where(ref_all[cust] >= 0, rank[np.maximum(ref_all[cust], 0)], -1)
    table = pa.table(
        {
            "customer_id": names.take(_arrow(rank[cust])),
            "event": _labels(EVENTS, code),
            "timestamp": _arrow(t, pa.timestamp("us")),
            "event_id": _fixed_strings("e", scrambled, 12, 16),
            "channel": _labels(CHANNELS, chan_all[cust]),
            "revenue": _arrow(rev, pa.float64(), np.isnan(rev)),
            "referrer": names.take(_arrow(ref_rank, mask=ref_rank < 0)),
            "device": _labels(DEVICES, device),
            "country": _labels(COUNTRIES, country_all[cust]),
            "offer": _labels(sim.offer_names, offer),
        }
    )

    # acquisitions per (month of the first event, channel), for channel_costs
    month = t0_all[chosen].astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    keys, counts = np.unique(month * len(CHANNELS) + chan_all[chosen], return_counts=True)
    acquired = [
        (CHANNELS[int(key % len(CHANNELS))], str(np.datetime64(int(key // len(CHANNELS)), "M")), int(count))
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True)
    ]
    referred = int((chan_all[chosen] == REFERRAL).sum())
    truth = dataclasses.replace(
        truth,
        n_organic=n - referred,
        n_referred=referred,
        referral_generations=int(gen_all[chosen].max()),
        acquired=tuple(acquired),
    )
    return table, truth


def channel_costs(truth: SimulationTruth) -> pa.Table:
    """Monthly spend per channel: customers acquired (first event) in the month x cost per customer.

    Columns ``channel``, ``period`` (``YYYY-MM``), ``cost`` (float64; 0 for referral). Spend divided by
    the customers acquired is exactly ``cost_per_customer``; CAC per buyer is spend / buyers.
    """
    rows = [(c, p, round(k * truth.channel(c).cost_per_customer, 2)) for c, p, k in truth.acquired]
    return pa.table(
        {
            "channel": _strings([r[0] for r in rows]),
            "period": _strings([r[1] for r in rows]),
            "cost": _arrow(np.array([r[2] for r in rows], dtype=np.float64), pa.float64()),
        }
    )
