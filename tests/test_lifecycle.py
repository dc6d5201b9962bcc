"""The lifecycle (stages, stage report, after the sale): hand-checked journeys on every backend, the
reference on random logs, and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import hourglass
from hourglass.interfaces.lifecycle_api import lifecycle, lifecycle_table
from hourglass.model.errors import HourglassError, SpecError
from journeys import journeys

SHOP = {
    "alice": [
        ("visit", "2024-01-01 10:00"),
        ("signup", "2024-01-02 10:00"),
        ("purchase", "2024-01-05 10:00", {"revenue": 10.0}),
        ("return", "2024-01-06 10:00"),
        ("support_contact", "2024-01-06 11:00"),
        ("support_resolved", "2024-01-06 13:00"),
        ("repeat_purchase", "2024-01-20 10:00", {"revenue": 5.0}),
        ("loyalty_join", "2024-01-21 10:00"),
    ],
    "bob": [("visit", "2024-01-01 10:00"), ("trial_start", "2024-01-03 10:00")],
    "carol": [
        ("signup", "2024-01-04 10:00"),
        ("purchase", "2024-01-04 12:00", {"revenue": 20.0}),
        ("offer_sent", "2024-03-01 10:00", {"offer": "W10"}),
        ("offer_redeemed", "2024-03-02 10:00", {"offer": "W10"}),
        ("repeat_purchase", "2024-03-02 11:00", {"revenue": 3.0}),
    ],
}
DAY = 86400.0


def _source(frame: pd.DataFrame, tmp_path: Path) -> str:
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    return str(path)


@pytest.fixture
def shop(tmp_path: Path) -> str:
    return _source(journeys(SHOP), tmp_path)


def _stage(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in d["stages"] if s["stage"] == name)


def test_stages_hand_checked(shop: str, engine: hourglass.Engine) -> None:
    d = lifecycle(shop, "hourglass", engine=engine, referrals=False, channels=False).to_dict()
    assert (d["customers"], d["purchasers"], d["sale_stage"]) == (3, 2, "sale")
    got = {
        s["stage"]: (s["entered"], s["furthest"], s["current"], s["continued"], s["lost"])
        for s in d["stages"]
    }
    assert got == {
        "awareness": (2, 0, 0, 2, 0),
        "interest": (2, 0, 0, 2, 0),
        # no event of trust or word of mouth in the log: not measured (null with a reason), not 0
        "trust": (None, None, None, None, None),
        "trial": (1, 1, 1, 0, 1),
        "sale": (2, 0, 0, 2, 0),
        # alice's first repeat-stage event is support_resolved (Jan 6, 13:00); with no later stage
        # in the log, nobody can be seen going further: not "lost"
        "repeat": (2, 2, 2, None, None),
        "word_of_mouth": (None, None, None, None, None),
    }
    assert "no event of stage 'trust'" in _stage(d, "trust")["entered_reason"]
    assert "no later stage" in _stage(d, "repeat")["conversion_reason"]
    # time in stage: entry to the next stage entered
    assert _stage(d, "awareness")["median_time_in_stage_s"] == pytest.approx(1.5 * DAY)  # 1 d, 2 d
    assert _stage(d, "interest")["median_time_in_stage_s"] == pytest.approx((3 * DAY + 7200) / 2)
    # alice 27 h to support_resolved; carol 58 d - 1 h (2024 is a leap year)
    assert _stage(d, "sale")["median_time_in_stage_s"] == pytest.approx((27 * 3600 + 58 * DAY - 3600) / 2)
    assert _stage(d, "trial")["median_time_in_stage_s"] is None
    assert _stage(d, "trial")["conversion"] == 0.0
    assert d["biggest_loss"]["absolute"]["stage"] == "trial"
    assert d["biggest_loss"]["relative"] == {"stage": "trial", "lost": 1, "lost_share": 1.0}


def test_after_sale_hand_checked(shop: str, engine: hourglass.Engine) -> None:
    d = lifecycle(shop, "hourglass", engine=engine, referrals=False, channels=False).to_dict()
    a = d["after_sale"]
    p = a["purchases"]
    assert (p["purchasers"], p["repeaters"], p["purchases"], d["repeat_rate"]) == (2, 2, 4, 1.0)
    assert p["purchases_per_purchaser"] == 2.0
    nth = {x["n"]: (x["customers"], x["median_days"]) for x in p["days_to_nth_purchase"]}
    assert nth[2][0] == 2 and nth[2][1] == pytest.approx((15 + 58 - 1 / 24) / 2)
    assert nth[3] == (0, None)
    assert (a["remorse"]["purchasers"], a["remorse"]["events"], a["remorse"]["rate"]) == (1, 1, 0.5)
    s = a["support"]
    assert (s["contacts"], s["customers"], s["resolved"], s["median_time_to_resolve_s"]) == (1, 1, 1, 7200.0)
    g = a["experience_gap"]
    assert (g["purchasers"], g["share"], g["recovered"], g["recovery_rate"]) == (1, 0.5, 1, 1.0)
    assert (g["repeat_rate_with_negative"], g["repeat_rate_without_negative"]) == (1.0, 1.0)
    assert [(o["offer"], o["sent"], o["redeemed"], o["returned"]) for o in a["win_back"]] == [
        ("W10", 1, 1, 1)
    ]
    lo = a["loyalty"]
    assert (lo["members"], lo["non_members"]) == (1, 1)
    assert (lo["member_revenue_per_customer"], lo["non_member_revenue_per_customer"]) == (15.0, 23.0)


def test_range_and_repeat_window(tmp_path: Path) -> None:
    src = _source(journeys(SHOP), tmp_path)
    # from Jan 3: alice enters at the sale, bob at trial, carol at interest
    d = lifecycle(src, "hourglass", since="2024-01-03", referrals=False, channels=False).to_dict()
    assert _stage(d, "awareness")["entered"] is None  # no visit in the range: not measured
    assert "in the range" in _stage(d, "awareness")["entered_reason"]
    assert (_stage(d, "interest")["entered"], _stage(d, "trial")["entered"]) == (1, 1)
    # a repeat within 30 days: alice (15 d) yes, carol (58 d) no; both observed for 30 days by Mar 2
    d = lifecycle(src, after_sale={"repeat_within": "30d"}, referrals=False, channels=False).to_dict()
    p = d["after_sale"]["purchases"]
    assert (p["purchasers"], p["repeaters"], p["repeat_within"]) == (2, 1, "30d")
    # until Jan 25: carol's last purchase is out of range, and the window of 30 days is not observed
    d = lifecycle(
        src, until="2024-01-25", after_sale={"repeat_within": "30d"}, referrals=False, channels=False
    ).to_dict()
    assert d["after_sale"]["purchases"]["purchasers"] == 0
    assert d["after_sale"]["purchases"]["repeat_rate"] is None


def test_customers_table(tmp_path: Path) -> None:
    src = _source(journeys(SHOP), tmp_path)
    out = tmp_path / "stages.parquet"
    lifecycle(src, customers=out, referrals=False, channels=False)
    df = pd.read_parquet(out).set_index("customer")
    assert list(df.index) == ["bob", "alice", "carol"]  # by furthest stage, then id
    assert df.loc["bob", "current"] == "trial"
    assert df.loc["bob", "days_in_current"] == pytest.approx(59 + 1 / 24)  # to the log's last event
    assert df.loc["alice", "furthest"] == "repeat"
    assert df.loc["alice", "awareness_time_s"] == DAY
    assert str(df.loc["carol", "sale_at"]) == "2024-01-04 12:00:00"
    stuck = lifecycle_table(src, as_of="2024-01-20")
    rows = stuck.filter((stuck.current == "trial") & (stuck.days_in_current >= 14)).to_pandas()
    assert list(rows.customer) == ["bob"]


def test_model_without_sale_stage_has_no_after_sale(shop: str) -> None:
    d = lifecycle(shop, "flywheel", referrals=False, channels=False).to_dict()
    assert d["sale_stage"] is None and d["after_sale"] is None and d["purchasers"] is None
    assert "--goal" in d["after_sale_reason"] and d["repeat_rate_reason"] == d["after_sale_reason"]
    d = lifecycle(shop, "flywheel", sale_stage="engage", referrals=False, channels=False).to_dict()
    assert (
        d["purchasers"] == _stage(d, "engage")["entered"] == 3
    )  # alice, carol (purchase), bob (trial_start)


def test_errors(shop: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"unknown key 'remorse_event'.*did you mean 'remorse_events'") as e:
        lifecycle(shop, after_sale={"remorse_event": ["refund"]})
    assert e.value.code == "HG101"
    with pytest.raises(SpecError, match="no stage 'sales'") as e:
        lifecycle(shop, sale_stage="sales")
    assert e.value.code == "HG106"
    with pytest.raises(HourglassError, match=r"\.parquet or \.csv") as e:
        lifecycle(shop, customers=tmp_path / "x.xlsx", referrals=False, channels=False)
    assert e.value.code == "HG121"
    with pytest.raises(HourglassError, match="no column 'ofer'") as e:
        lifecycle(shop, after_sale={"offer_column": "ofer"}, referrals=False, channels=False)
    assert e.value.code == "HG306"
    with pytest.raises(SpecError, match="names no sale stage") as e:
        lifecycle(shop, "flywheel", spend=tmp_path / "spend.csv")
    assert e.value.code == "HG140"
    with pytest.raises(SpecError, match="since") as e:
        lifecycle(shop, since="2024-02-01", until="2024-01-01")
    assert e.value.code == "HG108"


def test_purchases_follow_the_sale_stage_globs_and_filters(tmp_path: Path) -> None:
    """Without ``purchases`` the sale stage itself (its glob and its filter) says what a purchase is,
    for the lifecycle's repeat rate and the channels' alike."""
    log = journeys(
        {
            "a": [
                ("purchase_web", "2024-01-01 10:00", {"revenue": 0.0, "channel": "ads"}),
                ("purchase_app", "2024-01-02 10:00", {"revenue": 5.0, "channel": "ads"}),
                ("purchase_app", "2024-01-03 10:00", {"revenue": 7.0, "channel": "ads"}),
            ],
            "b": [("purchase_web", "2024-01-01 11:00", {"revenue": 3.0, "channel": "ads"})],
        }
    )
    model = hourglass.JourneyModel.from_dict(
        {
            "name": "shop",
            "kind": "funnel",
            "sale": "buy",
            "stages": [
                {"name": "look", "events": ["visit"]},
                {"name": "buy", "events": ["purchase_*"], "where": ["revenue > 0"]},
            ],
        }
    )
    d = lifecycle(_source(log, tmp_path), model).to_dict()
    p = d["after_sale"]["purchases"]
    # a: two purchases with revenue > 0 (the 0.0 one is not a purchase), b: one
    assert (p["purchasers"], p["repeaters"], p["purchases"]) == (2, 1, 3)
    assert d["channels"][0]["repeat_rate"] == d["repeat_rate"] == 0.5
    assert d["referred_purchasers"] is None and d["k_factor"] is None  # no referrer column: keys stay


def test_as_of_is_the_state_then(tmp_path: Path) -> None:
    src = _source(journeys(SHOP), tmp_path)
    d = lifecycle(src, as_of="2024-01-05 11:00", referrals=False, channels=False).to_dict()
    # alice bought at 10:00 and nothing later counts; carol has bought, bob is at trial
    assert (d["purchasers"], _stage(d, "repeat")["entered"]) == (2, None)  # no repeat event by then
    t = lifecycle_table(src, as_of="2024-01-05 11:00").to_pandas().set_index("customer")
    assert t.loc["alice", "current"] == "sale"
    assert t.loc["alice", "days_in_current"] == pytest.approx(1 / 24)
    assert (t["days_in_current"] >= 0).all()


def test_float_referrer_ids_match_integer_customers(tmp_path: Path) -> None:
    log = journeys(
        {
            1: [("purchase", "2024-01-01 10:00")],
            2: [("purchase", "2024-01-05 10:00", {"referrer": 1.0})],
            3: [("visit", "2024-01-06 10:00")],
        },
        dtypes={"referrer": "float64"},
    )
    d = lifecycle(_source(log, tmp_path), "hourglass", channels=False).to_dict()
    assert (d["purchasers"], d["referred_purchasers"], d["k_factor"]) == (2, 1, 0.5)


def test_unbounded_windows_only_where_allowed(shop: str) -> None:
    with pytest.raises(SpecError, match="remorse_within needs a window") as e:
        lifecycle(shop, after_sale={"remorse_within": "none"})
    assert e.value.code == "HG107"
    d = lifecycle(shop, after_sale={"repeat_within": "none"}, referrals=False, channels=False).to_dict()
    assert d["after_sale"]["purchases"]["repeat_within"] is None


@pytest.mark.spark
def test_spark_equals_duckdb_on_the_demo_shop(demo_parquet: Path, spark_engine: hourglass.Engine) -> None:
    settings = {"repeat_within": "60d", "gap_within": "7d"}
    kw: dict[str, Any] = dict(since="2024-02-01", after_sale=settings, referrals=False, channels=False)
    want = lifecycle(str(demo_parquet), "hourglass", engine="duckdb", **kw).to_dict()
    got = lifecycle(str(demo_parquet), "hourglass", engine=spark_engine, **kw).to_dict()
    for d in (want, got):
        d.pop("meta")
    assert want["purchasers"] > 50 and want["after_sale"]["win_back"]
    assert _rounded(got) == _rounded(want)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
