"""The funnel recovers the simulator's true conversion rates: the demo shop is generated from known
probabilities per acquisition channel, and the funnel measured on its log must contain them."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

import hourglass
from hourglass.ingest.simulator import SimulationTruth, simulate_shop
from hourglass.model.stats import wilson

Z999 = 3.2905267314919255  # 99.9%: 8 comparisons on one fixed seed must not fail by chance


@pytest.fixture(scope="module")
def shop() -> tuple[pa.Table, SimulationTruth]:
    return simulate_shop(30_000, seed=3)


def test_channel_conversions_recovered(shop: tuple[pa.Table, SimulationTruth]) -> None:
    table, truth = shop
    until = truth.end_datetime - timedelta(days=truth.funnel_window_days)
    result = hourglass.funnel(
        table,
        ["visit", "signup", "purchase"],
        window=f"{truth.funnel_window_days}d",
        until=until,
        by="channel",
    )
    groups = {g["value"]: g["steps"] for g in result.to_dict()["groups"]}
    checked = 0
    for channel in ("ads", "search", "social", "email"):
        steps = groups[channel]
        _, p_signup, p_purchase = truth.expected_funnel(channel)
        for k, p in ((1, p_signup), (2, p_purchase)):
            n, hit = steps[k - 1]["customers"], steps[k]["customers"]
            low, high = wilson(hit, n, Z999)
            assert low is not None and high is not None
            assert low <= p <= high, f"{channel} step {k + 1}: true {p:.4f} outside [{low:.4f}, {high:.4f}]"
            # and the reported 95% interval is the Wilson interval of the same counts
            assert steps[k]["conversion_from_previous_low"] == pytest.approx(wilson(hit, n)[0])
            checked += 1
    assert checked == 8


def test_referred_customers_enter_mid_funnel(shop: tuple[pa.Table, SimulationTruth]) -> None:
    # referees start at signup or trial: an open funnel shows them entering after the first step
    table, _ = shop
    result = hourglass.funnel(table, ["visit", "signup", "purchase"], window="30d", open=True)
    signup = result.to_dict()["steps"][1]
    assert signup["entered"] > 0
    assert signup["customers"] == signup["entered"] + signup["continued"]
