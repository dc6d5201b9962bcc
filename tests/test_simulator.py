"""The demo shop simulator: schema, determinism, journey rules, and recovery of its true rates.

Observed rates are computed here directly with numpy/pyarrow (not through hourglass) and must lie in
the 99 % binomial interval of the truth. There are about 26 such checks on one fixed seed; the
estimates were checked unbiased over 60 seeds at 50 000 customers (z-scores mean ~0, sd ~1), and at
20 000 customers about 9 seeds in 10 pass every check. A change that alters the random streams can
therefore fail one check by chance: look at the size of the miss before suspecting the simulator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from hourglass.ingest.simulator import (
    CHANNELS,
    EVENTS,
    FRICTION_EVENTS,
    SimulationTruth,
    channel_costs,
    simulate_shop,
)

pytestmark = pytest.mark.filterwarnings("error")

N = 20_000
SEED = 7
DAY = 86_400_000_000
NONE = np.iinfo(np.int64).max  # "no such event" in first-time arrays
Z99 = 2.5758293035489004

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


@dataclass
class Log:
    """The simulated table as per-row numpy arrays with integer customer codes."""

    table: pa.Table
    truth: SimulationTruth
    cust: I64  # customer code per row
    names: list[str]  # customer_id per code
    event: npt.NDArray[np.object_]
    t: I64
    channel: npt.NDArray[np.object_]  # per customer
    referrer: npt.NDArray[np.object_]  # per customer (None if not referred)
    end: int

    @property
    def n(self) -> int:
        return len(self.names)

    def first(self, *events: str, after: I64 | None = None) -> I64:
        """Per customer, the earliest time of one of ``events`` (strictly after ``after``), else NONE."""
        m = np.isin(self.event, events)
        if after is not None:
            m &= self.t > after[self.cust]
        out = np.full(self.n, NONE, dtype=np.int64)
        np.minimum.at(out, self.cust[m], self.t[m])
        return out

    def count(self, event: str) -> I64:
        return np.bincount(self.cust[self.event == event], minlength=self.n).astype(np.int64)


def _load(table: pa.Table, truth: SimulationTruth) -> Log:
    enc = pc.dictionary_encode(table["customer_id"]).combine_chunks()
    cust = enc.indices.to_numpy().astype(np.int64)
    names = enc.dictionary.to_pylist()
    t = table["timestamp"].combine_chunks().to_numpy().astype("datetime64[us]").view(np.int64)
    end = int(np.datetime64(truth.end_datetime, "us").view(np.int64))
    channel = np.empty(len(names), dtype=object)
    channel[cust] = table["channel"].to_numpy(zero_copy_only=False)
    referrer = np.empty(len(names), dtype=object)
    referrer[cust] = table["referrer"].to_numpy(zero_copy_only=False)
    event = table["event"].to_numpy(zero_copy_only=False)
    return Log(table, truth, cust, names, event, t, channel, referrer, end)


@pytest.fixture(scope="module")
def log() -> Log:
    return _load(*simulate_shop(N, seed=SEED))


def _within_99(k: int, n: int, p: float) -> bool:
    """k successes of n within the 99 % binomial (normal approximation) interval of p."""
    assert n >= 100, n
    half = Z99 * math.sqrt(p * (1 - p) / n) + 0.5 / n
    return abs(k / n - p) <= half


def _check(k: int, n: int, p: float, what: str) -> None:
    assert _within_99(k, n, p), f"{what}: observed {k}/{n} = {k / n:.4f}, truth {p:.4f}"


# --- basics -----------------------------------------------------------------------------------------


def test_deterministic_for_a_seed() -> None:
    a, ta = simulate_shop(3_000, seed=5)
    b, tb = simulate_shop(3_000, seed=5)
    c, _ = simulate_shop(3_000, seed=6)
    assert a.equals(b)
    assert ta == tb
    assert not a.equals(c)


def test_schema(log: Log) -> None:
    expected = pa.schema(
        [
            ("customer_id", pa.string()),
            ("event", pa.string()),
            ("timestamp", pa.timestamp("us")),
            ("event_id", pa.string()),
            ("channel", pa.string()),
            ("revenue", pa.float64()),
            ("referrer", pa.string()),
            ("device", pa.string()),
            ("country", pa.string()),
            ("offer", pa.string()),
        ]
    )
    assert log.table.schema.equals(expected)


def test_no_nulls_and_unique_event_ids(log: Log) -> None:
    tab = log.table
    for col in ("customer_id", "event", "timestamp", "event_id", "channel", "device", "country"):
        assert tab[col].null_count == 0, col
    assert pc.count_distinct(tab["event_id"]).as_py() == tab.num_rows
    assert set(pc.unique(tab["device"]).to_pylist()) == {"mobile", "desktop", "tablet"}
    assert set(pc.unique(tab["channel"]).to_pylist()) == set(CHANNELS)


def test_vocabulary_and_period(log: Log) -> None:
    assert set(log.event) == set(EVENTS)  # every event of the vocabulary occurs
    start = int(np.datetime64(log.truth.start_datetime, "us").view(np.int64))
    assert log.t.min() >= start
    assert log.t.max() < log.end
    assert log.end - start == log.truth.days * DAY


def test_exact_customer_count_and_realised_truth(log: Log) -> None:
    truth = log.truth
    assert log.n == N == truth.n_customers
    referred = int((log.channel == "referral").sum())
    assert truth.n_referred == referred > 0
    assert truth.n_organic + truth.n_referred == N
    assert truth.referral_generations >= 2
    assert sum(k for _, _, k in truth.acquired) == N


def test_small_sizes_are_exact() -> None:
    for n in (1, 7, 300):
        tab, truth = simulate_shop(n, seed=3)
        assert pc.count_distinct(tab["customer_id"]).as_py() == n
        assert truth.n_organic + truth.n_referred == n


def test_rows_are_shuffled(log: Log) -> None:
    assert not bool(np.all(np.diff(log.t) >= 0))


def test_revenue_only_on_purchases_and_positive(log: Log) -> None:
    rev = log.table["revenue"].to_numpy(zero_copy_only=False)
    buying = np.isin(log.event, ["purchase", "repeat_purchase"])
    assert not np.isnan(rev[buying]).any()
    assert (rev[buying] > 0).all()
    assert np.isnan(rev[~buying]).all()


def test_offer_only_on_offer_events(log: Log) -> None:
    offer = log.table["offer"].to_numpy(zero_copy_only=False)
    carrying = np.isin(log.event, ["offer_sent", "offer_redeemed", "promo_view"])
    assert all(o is not None for o in offer[carrying])
    assert all(o is None for o in offer[~carrying])
    winback = {o for o, _ in log.truth.offers}
    assert set(offer[np.isin(log.event, ["offer_sent", "offer_redeemed"])]) == winback


def test_one_first_purchase_and_repeats_after_it(log: Log) -> None:
    assert log.count("purchase").max() == 1
    first = log.first("purchase")
    rep = log.event == "repeat_purchase"
    assert (log.t[rep] > first[log.cust[rep]]).all()


def test_channel_is_constant_per_customer(log: Log) -> None:
    pairs = {(c, ch) for c, ch in zip(log.cust.tolist(), log.table["channel"].to_pylist(), strict=True)}
    assert len(pairs) == log.n


# --- referrals --------------------------------------------------------------------------------------


def test_referrer_is_existing_customer_who_referred_before(log: Log) -> None:
    referred = log.referrer != None  # noqa: E711 (elementwise)
    assert (referred == (log.channel == "referral")).all()
    index = {name: i for i, name in enumerate(log.names)}
    first_event = log.first(*EVENTS)
    sent = log.event == "referral_sent"
    for c in np.flatnonzero(referred):
        r = index[log.referrer[c]]  # KeyError if the referrer is not a customer of the log
        times = log.t[sent & (log.cust == r)]
        assert times.size and times.min() < first_event[c], log.names[c]
    # referrer null on every event of the non-referred, set on every event of the referred
    row_ref = log.table["referrer"].is_null().to_numpy(zero_copy_only=False)
    assert (row_ref == ~referred[log.cust]).all()
    # generations: some referees were referred by referees
    assert any(log.channel[index[log.referrer[c]]] == "referral" for c in np.flatnonzero(referred))


def test_referees_enter_mid_journey(log: Log) -> None:
    referred = np.flatnonzero(log.channel == "referral")
    first_event = log.first(*EVENTS)
    at_first = log.t == first_event[log.cust]
    entry = {c: e for c, e in zip(log.cust[at_first].tolist(), log.event[at_first].tolist(), strict=True)}
    kinds = [entry[c] for c in referred.tolist()]
    assert set(kinds) == {"signup", "trial_start"}
    share = kinds.count("signup")
    _check(share, len(kinds), log.truth.referral_entry_signup, "referees entering at signup")
    # organic customers always start at the top (ad_click or visit)
    organic = np.flatnonzero(log.channel != "referral")
    assert {entry[c] for c in organic.tolist()} == {"ad_click", "visit"}


def test_referral_rates(log: Log) -> None:
    truth = log.truth
    fp = log.first("purchase")
    window = truth.referral_window_days * DAY
    observed = (fp != NONE) & (fp <= log.end - window)
    fr = log.first("referral_sent", after=fp - 1)
    k = int((observed & (fr - fp <= window)).sum())
    _check(k, int(observed.sum()), truth.referral_probability(), "P(referral_sent | buyer)")
    # conversion of a referral_sent into a new customer, for referrers whose referrals are all observed
    sent = log.event == "referral_sent"
    last = np.zeros(log.n, dtype=np.int64)
    np.maximum.at(last, log.cust[sent], log.t[sent])
    done = (last > 0) & (last <= log.end - truth.referral_delay_days * DAY)
    index = {name: i for i, name in enumerate(log.names)}
    referees = np.bincount([index[r] for r in log.referrer[log.channel == "referral"]], minlength=log.n)
    invites = int(log.count("referral_sent")[done].sum())
    _check(int(referees[done].sum()), invites, truth.p_referral_conversion, "P(customer | referral_sent)")


def test_friction_lowers_referral(log: Log) -> None:
    truth = log.truth
    assert truth.referral_probability(friction=True) < truth.referral_probability(friction=False)
    fp, fric = _first_purchase_friction(log)
    window = truth.referral_window_days * DAY
    observed = (fp != NONE) & (fp <= log.end - window)
    fr = log.first("referral_sent", after=fp - 1)
    referred = fr - fp <= window
    rates = {}
    for f in (True, False):
        group = observed & (fric == f)
        k, n = int((group & referred).sum()), int(group.sum())
        _check(k, n, truth.referral_probability(friction=f), f"P(referral | friction={f})")
        rates[f] = k / n
    assert rates[True] < rates[False]


# --- the acquisition funnel -------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["ads", "search", "social", "email"])
def test_funnel_truth_per_channel(log: Log, channel: str) -> None:
    """Ordered funnel [visit, signup, purchase] with a 30-day window over the non-referred customers of
    a channel whose first visit is at least 30 days before the end."""
    truth = log.truth
    window = truth.funnel_window_days * DAY
    fv, fs, fp = log.first("visit"), log.first("signup"), log.first("purchase")
    group = (log.channel == channel) & (fv <= log.end - window)
    level2 = group & (fs >= fv) & (fs - fv <= window)
    level3 = level2 & (fp >= fs) & (fp - fv <= window)
    _, p_signup, p_purchase = truth.expected_funnel(channel)
    n1, n2, n3 = int(group.sum()), int(level2.sum()), int(level3.sum())
    _check(n2, n1, p_signup, f"{channel} P(signup | visit)")
    _check(n3, n2, p_purchase, f"{channel} P(purchase | signup)")
    bought = group & (fp != NONE) & (fp - fv <= window)
    _check(int(bought.sum()), n1, truth.p_buy(channel), f"{channel} P(purchase | visit)")
    # skipping: some buy without signing up (visit -> purchase), none of them signs up later
    skip = bought & (fs == NONE)
    assert skip.sum() > 0


def test_channels_differ_in_quality() -> None:
    truth = simulate_shop(10, seed=1)[1]
    by_buy = sorted(("ads", "search", "social", "email"), key=truth.p_buy)
    assert set(by_buy[:2]) == {"ads", "social"}  # paid channels convert worst
    assert truth.p_buy("referral") > max(truth.p_buy(c) for c in by_buy)
    assert truth.channel("referral").cost_per_customer == 0
    assert truth.true_cac("search") < truth.true_cac("ads")


# --- after the sale ---------------------------------------------------------------------------------


def _first_purchase_friction(log: Log) -> tuple[I64, Mask]:
    """First-purchase time and whether a friction event followed within friction_window_days."""
    fp = log.first("purchase")
    ff = log.first(*FRICTION_EVENTS, after=fp - 1)
    return fp, (fp != NONE) & (ff - fp <= log.truth.friction_window_days * DAY)


def test_friction_rate(log: Log) -> None:
    fp, fric = _first_purchase_friction(log)
    observed = (fp != NONE) & (fp <= log.end - log.truth.friction_window_days * DAY)
    _check(int((observed & fric).sum()), int(observed.sum()), log.truth.p_friction, "P(friction)")


def test_friction_lowers_repeat_rate(log: Log) -> None:
    truth = log.truth
    fp, fric = _first_purchase_friction(log)
    window = truth.repeat_window_days * DAY
    observed = (fp != NONE) & (fp <= log.end - window)
    repeated = log.first("repeat_purchase", after=fp) - fp <= window
    rates = {}
    for f in (True, False):
        group = observed & (fric == f)
        k, n = int((group & repeated).sum()), int(group.sum())
        _check(k, n, truth.repeat_probability(friction=f), f"P(repeat | friction={f})")
        rates[f] = k / n
    assert rates[True] < rates[False]
    assert truth.repeat_probability(friction=True) < truth.repeat_probability(friction=False)
    k, n = int((observed & repeated).sum()), int(observed.sum())
    _check(k, n, truth.repeat_probability(), "P(repeat)")


def test_loyalty_members_repeat_more(log: Log) -> None:
    truth = log.truth
    fp = log.first("purchase")
    window = truth.repeat_window_days * DAY
    observed = (fp != NONE) & (fp <= log.end - window)
    loyal = log.count("loyalty_join") > 0
    repeated = log.first("repeat_purchase", after=fp) - fp <= window
    for lo in (True, False):
        group = observed & (loyal == lo)
        k, n = int((group & repeated).sum()), int(group.sum())
        _check(k, n, truth.repeat_probability(loyalty=lo), f"P(repeat | loyalty={lo})")
    assert truth.repeat_probability(loyalty=True) > truth.repeat_probability(loyalty=False)
    _check(int((observed & loyal).sum()), int(observed.sum()), truth.loyalty_probability(), "P(loyal)")


def test_winback_offers(log: Log) -> None:
    truth = log.truth
    fp = log.first("purchase")
    sent = log.event == "offer_sent"
    assert log.count("offer_sent").max() == 1
    # offers go to lapsed buyers only: after the repeat window, with no repeat purchase before
    assert (log.t[sent] - fp[log.cust[sent]] > truth.repeat_window_days * DAY).all()
    first_rep = log.first("repeat_purchase")
    assert (first_rep[log.cust[sent]] > log.t[sent]).all()
    offer = log.table["offer"].to_numpy(zero_copy_only=False)
    red_rows = log.event == "offer_redeemed"
    redeemed_by = dict(zip(log.cust[red_rows].tolist(), offer[red_rows].tolist(), strict=True))
    cutoff = log.end - truth.offer_redeem_days * DAY
    for code, p in truth.offers:
        who = log.cust[sent & (offer == code) & (log.t <= cutoff)].tolist()
        k = sum(redeemed_by.get(c) == code for c in who)
        _check(k, len(who), p, f"P(redeem {code})")
    # every redemption is followed by a repeat purchase (within 2 hours unless cut by the end)
    red = log.first("offer_redeemed")
    has = red != NONE
    after = log.first("repeat_purchase", after=red)
    ok = (after[has] - red[has] <= 2 * 3_600_000_000) | (red[has] > log.end - 2 * 3_600_000_000)
    assert ok.all()


def test_support_mostly_resolved(log: Log) -> None:
    contacts, resolved = int(log.count("support_contact").sum()), int(log.count("support_resolved").sum())
    assert 0.7 * contacts < resolved <= contacts


# --- spend ------------------------------------------------------------------------------------------


def test_channel_costs(log: Log) -> None:
    costs = channel_costs(log.truth)
    assert costs.schema.equals(
        pa.schema([("channel", pa.string()), ("period", pa.string()), ("cost", pa.float64())])
    )
    assert set(costs["channel"].to_pylist()) == set(CHANNELS)
    for period in costs["period"].to_pylist():
        datetime.strptime(period, "%Y-%m")
    # spend per acquired customer is the channel's cost per customer; acquired = first event's month
    first_event = log.first(*EVENTS)
    month = first_event.astype("datetime64[us]").astype("datetime64[M]").astype(str)
    for row in costs.to_pylist():
        k = int(((log.channel == row["channel"]) & (month == row["period"])).sum())
        assert row["cost"] == pytest.approx(k * log.truth.channel(row["channel"]).cost_per_customer)
    referral = pc.equal(costs["channel"], "referral")
    assert pc.all(pc.equal(costs.filter(referral)["cost"], 0.0)).as_py()
