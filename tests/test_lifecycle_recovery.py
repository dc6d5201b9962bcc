"""The lifecycle recovers the simulator's true after-sale rates: repeat purchases overall, with and
without friction and loyalty, the friction share, win-back redemption per offer and support
resolution (99.9% Wilson intervals on one fixed seed)."""

from __future__ import annotations

import pytest

from hourglass.engine.store import write_events
from hourglass.ingest.simulator import SimulationTruth, simulate_shop
from hourglass.interfaces.lifecycle_api import lifecycle
from hourglass.model.after_sale import AfterSale, Rate
from hourglass.model.stats import wilson

Z999 = 3.2905267314919255  # 99.9%: 11 comparisons on one fixed seed must not fail by chance


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[AfterSale, SimulationTruth]:
    table, truth = simulate_shop(30_000, seed=5)
    path = tmp_path_factory.mktemp("shop") / "events.parquet"
    write_events(table, parquet_path=path)
    # the simulator's own windows: repeat within 60 d (observed buyers only), friction within 7 d
    settings = {
        "repeat_within": f"{truth.repeat_window_days}d",
        "gap_within": f"{truth.friction_window_days}d",
        "negative_events": ["cancel", "delivery_late", "complaint", "return"],
        "offer_within": f"{truth.offer_redeem_days}d",
    }
    result = lifecycle(str(path), "hourglass", after_sale=settings, referrals=False, channels=False)
    assert result.after_sale is not None
    return result.after_sale, truth


def _contains(rate: Rate | None, p: float) -> None:
    assert rate is not None and rate.n > 100
    low, high = wilson(rate.k, rate.n, Z999)
    assert low is not None and high is not None
    assert low <= p <= high, (
        f"{rate.k}/{rate.n} = {rate.k / rate.n:.4f}; truth {p:.4f} not in [{low:.4f}, {high:.4f}]"
    )


def test_repeat_rate_recovered(measured: tuple[AfterSale, SimulationTruth]) -> None:
    a, truth = measured
    _contains(Rate(a.purchases.repeaters, a.purchases.purchasers), truth.repeat_probability())


def test_friction_share_and_its_cost_recovered(measured: tuple[AfterSale, SimulationTruth]) -> None:
    a, truth = measured
    _contains(a.negative, truth.p_friction)
    _contains(a.repeat_negative, truth.repeat_probability(friction=True))
    _contains(a.repeat_positive, truth.repeat_probability(friction=False))
    assert a.to_dict()["experience_gap"]["repeat_rate_p_value"] < 1e-6


def test_loyalty_recovered(measured: tuple[AfterSale, SimulationTruth]) -> None:
    a, truth = measured
    lo = a.loyalty
    assert lo is not None
    _contains(Rate(lo.member_repeaters, lo.members), truth.repeat_probability(loyalty=True))
    _contains(Rate(lo.other_repeaters, lo.others), truth.repeat_probability(loyalty=False))
    d = lo.to_dict()
    assert d["repeat_rate_p_value"] < 1e-6
    assert d["member_revenue_per_customer"] > d["non_member_revenue_per_customer"]


def test_win_back_recovered(measured: tuple[AfterSale, SimulationTruth]) -> None:
    a, truth = measured
    assert {o.offer for o in a.offers} == {name for name, _ in truth.offers}
    for o in a.offers:
        assert o.offer is not None
        _contains(Rate(o.redeemed, o.sent), truth.redeem_probability(o.offer))
        # a redeemed offer is followed by a purchase within 2 hours
        assert o.returned >= o.redeemed


def test_support_resolution_recovered(measured: tuple[AfterSale, SimulationTruth]) -> None:
    a, truth = measured
    s = a.support
    assert s is not None
    _contains(Rate(s.resolved, s.contacts), truth.p_support_resolved)
