"""Channels across the whole hourglass (docs/semantics-referrals.md, "Channels"): a hand-checked log
with a spend table, spend validation, property tests against the reference, DuckDB = Spark, and the
simulator's true per-channel rates (P(buy), repeat, CAC) recovered."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import hourglass
from hourglass.engine.run_referrals import run_channels
from hourglass.ingest.simulator import SimulationTruth, channel_costs, simulate_shop
from hourglass.ingest.spend import read_spend
from hourglass.interfaces.lifecycle_api import lifecycle
from hourglass.model.channels import Spend, near_miss
from hourglass.model.errors import DataError, HourglassError, SchemaError, SourceError
from hourglass.model.journey import JourneyModel
from hourglass.model.presets import preset
from hourglass.model.stats import wilson
from journeys import journeys, rows
from reference import lifecycle_loop_ref as ref
from reference.funnel_ref import make_step
from test_referrals import BASE, DTYPES, Z999, acquired_before, assert_same, load, logs, random_log

MINI = JourneyModel.from_dict(
    {
        "name": "mini",
        "kind": "hourglass",
        "sale": "sale",
        "purchases": ["purchase", "repeat_purchase"],
        "stages": [
            {"name": "awareness", "events": ["visit"]},
            {"name": "interest", "events": ["signup"]},
            {"name": "sale", "events": ["purchase"]},
            {"name": "loyalty", "events": ["repeat_purchase"]},
            {"name": "advocacy", "events": ["referral_sent"]},
        ],
    }
)
REF_STAGES = [make_step(s.to_dict()) for s in MINI.stages]
REF_SALE = make_step({"name": "sale", "events": ["purchase"]})
PURCHASES = ["purchase", "repeat_purchase"]

LOG = {
    "ann": [
        ("visit", "2024-01-05 10:00", {"channel": "ads"}),
        ("purchase", "2024-01-06 10:00", {"revenue": 40.0}),
        ("repeat_purchase", "2024-02-01 10:00", {"revenue": 20.0}),
        ("referral_sent", "2024-02-02 10:00"),
    ],
    "bob": [
        ("visit", "2024-01-10 10:00", {"channel": "search"}),
        ("signup", "2024-01-10 10:00", {"channel": "ads"}),  # same time: the smallest value, ads
        ("purchase", "2024-02-15 10:00", {"revenue": 100.0}),
    ],
    "cy": [("signup", "2024-01-20 10:00"), ("visit", "2024-01-21 10:00", {"channel": "email"})],
    "dee": [
        ("visit", "2024-02-03 10:00", {"channel": "referral", "referrer": "ann"}),
        ("purchase", "2024-02-04 10:00", {"revenue": 10.0}),
        ("purchase", "2024-02-20 10:00", {"revenue": 10.0}),
    ],
    "eve": [("visit", "2024-03-01 10:00", {"channel": "ads"})],  # no ads spend in March
    "fay": [("visit", "2024-01-15 10:00")],  # no channel at all
}
SPEND_CSV = (
    "channel,period,cost\nads,2024-01,100\nsearch,2024-01,50\nemail,2024-Q1,30\n"
    "referral,2024-02,0\nsocial,2024-01,20\n"
)


@pytest.fixture(scope="module")
def log_df() -> pd.DataFrame:
    return journeys(LOG, dtypes=DTYPES)  # type: ignore[arg-type]


@pytest.fixture
def spend_csv(tmp_path: Path) -> Path:
    path = tmp_path / "spend.csv"
    path.write_text(SPEND_CSV)
    return path


def test_hand_checked_channels(
    engine: hourglass.Engine, log_df: pd.DataFrame, spend_csv: Path, tmp_path: Path
) -> None:
    d = run_channels(load(log_df, engine, tmp_path), MINI, spend=str(spend_csv)).to_dict()
    chans = {c["channel"]: c for c in d["channels"]}
    assert [c["channel"] for c in d["channels"]] == ["ads", "email", "referral", None, "search", "social"]
    ads = chans["ads"]
    assert [s["entered"] for s in ads["stages"]] == [3, 1, 2, 1, 1]
    assert (ads["customers"], ads["purchasers"], ads["repeat_purchasers"], ads["purchasers_referring"]) == (
        3,
        2,
        1,
        1,
    )
    assert ads["conversion_to_sale"] == pytest.approx(2 / 3)
    assert (ads["repeat_rate"], ads["referral_rate"]) == pytest.approx((0.5, 0.5))
    assert ads["revenue_per_customer"] == pytest.approx(160 / 3)
    assert (ads["cost"], ads["acquired_in_spend_periods"], ads["purchasers_in_spend_periods"]) == (
        100.0,
        2,
        2,
    )
    assert ads["cac"] == pytest.approx(50.0) and ads["roi"] == pytest.approx(0.6)
    assert [s["cost_per_customer"] for s in ads["cost_per_stage"]] == pytest.approx([50, 100, 50, 100, 100])
    email = chans["email"]
    assert (email["customers"], email["purchasers"], email["cac"], email["roi"]) == (1, 0, None, -1.0)
    referral = chans["referral"]
    assert (referral["repeat_purchasers"], referral["referees"], referral["cac"], referral["roi"]) == (
        1,
        1,
        0.0,
        None,
    )
    assert (chans[None]["customers"], chans[None]["cost"], chans[None]["acquired_in_spend_periods"]) == (
        1,
        None,
        0,
    )
    assert (chans["search"]["customers"], chans["search"]["cost"], chans["social"]["cost"]) == (0, 50.0, 20.0)
    assert (d["customers"], d["zero_cost_customers"], d["cost"]) == (6, 1, 200.0)
    assert d["zero_cost_share"] == pytest.approx(1 / 6)
    assert d["warnings"] == []  # search and social acquired nobody, but are close to no acquired channel
    spend = [(r.channel, r.start, r.end, r.cost) for r in read_spend(str(spend_csv)).rows]
    want = ref.channels(rows(log_df), REF_STAGES, REF_SALE, PURCHASES, spend=spend)
    assert_same(counts(d), want)


def counts(d: dict[str, Any]) -> list[dict[str, Any]]:
    """A ChannelResult dict as the reference's counts (channels that acquired nobody left out)."""
    out = []
    for c in d["channels"]:
        if not c["customers"]:
            continue
        out.append(
            {
                "channel": c["channel"],
                "customers": c["customers"],
                "stages": [s["entered"] for s in c["stages"]],
                "purchasers": c["purchasers"],
                "repeat_purchasers": c["repeat_purchasers"],
                "referees": c["referees"],
                "purchasers_referring": c["purchasers_referring"],
                "revenue": c["revenue"],
                "cost": c.get("cost"),
                "covered": c.get("acquired_in_spend_periods", 0),
                "covered_purchasers": c.get("purchasers_in_spend_periods", 0),
                "covered_stages": [s["entered"] for s in c.get("cost_per_stage", [])]
                or [0] * len(c["stages"]),
                "covered_revenue": c.get("revenue_in_spend_periods", 0.0),
                "zero_cost": c.get("zero_cost_customers", 0),
            }
        )
    return out


def test_other_channel_column_and_no_spend(log_df: pd.DataFrame) -> None:
    df = log_df.assign(source=["web"] * len(log_df))
    r = run_channels(hourglass.events(df), MINI, channel_column="source")
    d = r.to_dict()
    assert [c["channel"] for c in d["channels"]] == ["web"] and d["channels"][0]["cac"] is None
    assert "--spend" in d["channels"][0]["cac_reason"]  # no spend table: not measured, not 0
    assert "zero_cost_share" not in d
    assert r.rows()[0]["entered_awareness"] == 6 and "web" in r.to_text()
    with pytest.raises(SchemaError) as e:
        run_channels(hourglass.events(df), MINI, channel_column="sorce")
    assert e.value.code == "HG342" and "did you mean 'source'" in str(e.value)


def test_range_restricts_events_and_spend(log_df: pd.DataFrame, spend_csv: Path) -> None:
    r = run_channels(
        hourglass.events(log_df), MINI, spend=str(spend_csv), since="2024-02-01", until="2024-03-01"
    )
    d = r.to_dict()
    # only referral 2024-02 lies inside the range; the other rows are left out
    assert d["meta"]["spend"] == {
        "source": str(spend_csv),
        "rows": 5,
        "rows_used": 1,
        "rows_outside_range": 4,
    }
    assert {c["channel"]: c["customers"] for c in d["channels"]} == {
        None: 2,
        "referral": 1,
    }  # ann, bob: no channel in February


def test_no_referrer_column_gives_null_referral_rates() -> None:
    df = journeys(
        {"a": [("visit", "2024-01-01 10:00", {"channel": "ads"}), ("purchase", "2024-01-02 10:00")]}
    )
    row = run_channels(hourglass.events(df), MINI).to_dict()["channels"][0]
    assert (row["referral_rate"], row["referees"], row["revenue"], row["purchasers"]) == (None, None, None, 1)


# ------------------------------------------------------------------------------------------------
# The spend table: every problem with its file, line and column
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        ("channel,period,costs\nads,2024-01,1\n", "HG343", "did you mean 'costs'"),
        ("channel,period,cost\n,2024-01,1\n", "HG440", "line 2, column 'channel'"),
        ("channel,period,cost\nads,2024-13,1\n", "HG441", "line 2, column 'period'"),
        ("channel,period,cost\nads,January,1\n", "HG441", "'January'"),
        ("channel,period,cost\nads,2024-01,-5\n", "HG442", "line 2, column 'cost'"),
        ("channel,period,cost\nads,2024-01,1_000\n", "HG442", "'1_000'"),
        ("channel,period,cost\nads,2024-01,nan\n", "HG442", "line 2"),
        ("channel,period,cost\nads,2024-Q1,1\n\nads,2024-02,2\n", "HG443", "line 4, column 'period'"),
        ("channel,period,cost\nads,2024-01,1\nads,2024-01,2\n", "HG443", "overlaps 2024-01 (line 2)"),
        ("channel,period,cost\n", "HG444", "no rows"),
    ],
)
def test_spend_problems(tmp_path: Path, text: str, code: str, where: str) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(text)
    with pytest.raises(HourglassError) as e:
        read_spend(str(path))
    assert e.value.code == code
    assert str(path) in str(e.value) and where in str(e.value)


def test_spend_lists_every_problem_and_reads_tables(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text("Channel,Period,Cost,note\n,2024-01,x,\nads,2024-02-30,3,\nads,2024,4,ok\n")
    with pytest.raises(DataError) as e:
        read_spend(str(path))
    assert "3 problem(s)" in str(e.value) and "line 3, column 'period'" in str(e.value)
    with pytest.raises(SourceError):
        read_spend(str(tmp_path / "missing.csv"))
    spend = read_spend(pd.DataFrame({"channel": ["ads"], "period": ["2024-02-29"], "cost": [2]}))
    assert spend.rows[0].end == datetime(2024, 3, 1) and spend.rows[0].line == 1
    with pytest.raises(DataError) as e2:
        read_spend(pa.table({"channel": ["ads"], "period": ["2024-01"], "cost": [None]}), name="costs")
    assert "costs: 1 problem(s)" in str(e2.value) and "row 1, column 'cost'" in str(e2.value)


# ------------------------------------------------------------------------------------------------
# Property tests against the reference; DuckDB = Spark
# ------------------------------------------------------------------------------------------------

SPEND_CHOICES = [
    ("ads", "2024-01", 10.0),
    ("ads", "2024-02-29", 0.0),
    ("ads", "2024-03", 4.0),
    ("search", "2024-Q1", 7.0),
    ("search", "2024-Q2", 0.0),
    ("email", "2024", 3.0),
]
SETTINGS = settings(
    max_examples=int(os.environ.get("HOURGLASS_PROPERTY_EXAMPLES", "40")), deadline=None, print_blob=True
)


def spend_of(picked: list[tuple[str, str, float]]) -> Spend:
    frame = pd.DataFrame(picked, columns=["channel", "period", "cost"])
    return read_spend(frame)


def ref_spend(spend: Spend, since: datetime | None, until: datetime | None) -> list[Any]:
    return [(r.channel, r.start, r.end, r.cost) for r in spend.within(since, until)]


@SETTINGS
@given(
    log=logs(),
    picked=st.lists(st.sampled_from(SPEND_CHOICES), unique=True, max_size=6),
    since=st.sampled_from([None, BASE + timedelta(days=1), datetime(2024, 1, 1)]),
    until=st.sampled_from([None, BASE + timedelta(days=36), datetime(2024, 4, 1)]),
    column=st.sampled_from(["channel", "invitee"]),
    by_event=st.booleans(),
)
def test_engine_equals_reference(
    log: dict[str, Any],
    picked: list[Any],
    since: datetime | None,
    until: datetime | None,
    column: str,
    by_event: bool,
) -> None:
    # the referral graph: the referrer column, or the referral events naming their referee (invitee)
    df = journeys(log, dtypes=DTYPES)
    note(repr(log))
    spend = spend_of(picked) if picked else None
    mode = {"referral_event": "referral_sent", "referee_column": "invitee"} if by_event else {}
    got = run_channels(
        hourglass.events(df), MINI, spend=spend, since=since, until=until, channel_column=column, **mode
    ).to_dict()
    want = ref.channels(
        rows(df), REF_STAGES, REF_SALE, PURCHASES, channel_column=column,
        spend=None if spend is None else ref_spend(spend, since, until), since=since, until=until, **mode,
    )  # fmt: skip
    assert_same(counts(got), want)


@pytest.mark.parametrize("seed", [3, 4])
def test_random_logs_on_every_engine(engine: hourglass.Engine, tmp_path: Path, seed: int) -> None:
    df = random_log(seed)
    spend = spend_of(SPEND_CHOICES)
    got = run_channels(load(df, engine, tmp_path), MINI, spend=spend).to_dict()
    want = ref.channels(rows(df), REF_STAGES, REF_SALE, PURCHASES, spend=ref_spend(spend, None, None))
    assert_same(counts(got), want)


# ------------------------------------------------------------------------------------------------
# Recovery: the simulator's true per-channel rates
# ------------------------------------------------------------------------------------------------

HOURGLASS = preset("hourglass")
CHANNELS = ("ads", "search", "social", "email", "referral")


@pytest.fixture(scope="module")
def shop() -> tuple[pa.Table, SimulationTruth]:
    return simulate_shop(30_000, seed=3)


def inside(k: int, n: int, p: float) -> None:
    low, high = wilson(k, n, Z999)
    assert low is not None and high is not None
    assert low <= p <= high, f"true {p:.4f} outside [{low:.4f}, {high:.4f}] ({k}/{n})"


def test_p_buy_recovered(shop: tuple[pa.Table, SimulationTruth]) -> None:
    table, truth = shop
    cohort = acquired_before(table, truth.end_datetime - timedelta(days=truth.funnel_window_days))
    chans = {c["channel"]: c for c in run_channels(hourglass.events(cohort), HOURGLASS).to_dict()["channels"]}
    for ch in CHANNELS:
        inside(chans[ch]["purchasers"], chans[ch]["customers"], truth.p_buy(ch))


def test_repeat_rate_recovered(shop: tuple[pa.Table, SimulationTruth]) -> None:
    table, truth = shop
    # acquisition -> purchase <= 26 d, repeat <= 60 d or win-back offer <= 67 d, redeemed <= 77.1 d
    cohort = acquired_before(table, truth.end_datetime - timedelta(days=106))
    r = truth.repeat_probability()
    redeem = sum(p for _, p in truth.offers) / len(truth.offers)
    p_two = r + (1 - r) * truth.p_offer * redeem
    d = run_channels(hourglass.events(cohort), HOURGLASS).to_dict()
    for c in d["channels"]:
        inside(c["repeat_purchasers"], c["purchasers"], p_two)
    inside(
        sum(c["repeat_purchasers"] for c in d["channels"]), sum(c["purchasers"] for c in d["channels"]), p_two
    )


def test_cac_recovered(shop: tuple[pa.Table, SimulationTruth]) -> None:
    table, truth = shop
    costs = channel_costs(truth)
    # spend of the months that end >= 30 days before the end: their customers had time to buy
    last = truth.end_datetime - timedelta(days=truth.funnel_window_days)
    months = [
        p
        for p in set(costs["period"].to_pylist())
        if datetime.fromisoformat(p + "-01") + timedelta(days=31) <= last
    ]
    spend = costs.filter(pc.is_in(costs["period"], pa.array(months)))
    d = run_channels(hourglass.events(table), HOURGLASS, spend=spend).to_dict()
    chans = {c["channel"]: c for c in d["channels"]}
    for ch in CHANNELS:
        c, unit = chans[ch], truth.channel(ch).cost_per_customer
        assert c["cost_per_customer"] == pytest.approx(unit, abs=0.005)
        if ch == "referral":
            assert c["cac"] == 0.0 and c["roi"] is None
            continue
        low, high = wilson(c["purchasers_in_spend_periods"], c["acquired_in_spend_periods"], Z999)
        assert low is not None and high is not None
        assert unit / high <= truth.true_cac(ch) <= unit / low
    full = run_channels(hourglass.events(table), HOURGLASS, spend=costs).to_dict()
    assert full["zero_cost_customers"] == truth.n_referred
    assert full["zero_cost_share"] == pytest.approx(truth.n_referred / truth.n_customers)


# ------------------------------------------------------------------------------------------------
# A referral event instead of the referrer column: the channel table follows the same graph
# ------------------------------------------------------------------------------------------------

# referrals only as events: the referrer does 'referral_sent' naming the referee in 'invitee'
EVENT_LOG = {
    "ann": [
        ("visit", "2024-01-05 10:00", {"channel": "ads"}),
        ("purchase", "2024-01-06 10:00", {"revenue": 40.0}),
        ("referral_sent", "2024-01-07 10:00", {"invitee": "bob"}),
        ("referral_sent", "2024-01-08 10:00", {"invitee": "cy"}),
    ],
    "bob": [
        ("visit", "2024-01-10 10:00", {"channel": "referral"}),
        ("purchase", "2024-01-12 10:00", {"revenue": 20.0}),
        ("referral_sent", "2024-01-20 10:00", {"invitee": "dee"}),
        ("referral_sent", "2024-01-21 10:00", {"invitee": "bob"}),  # himself: ignored
    ],
    "cy": [("visit", "2024-01-09 10:00", {"channel": "search"})],
    "dee": [
        ("visit", "2024-02-03 10:00", {"channel": "referral"}),
        ("purchase", "2024-02-05 10:00", {"revenue": 10.0}),
        ("referral_sent", "2024-02-06 10:00", {"invitee": "zed"}),  # zed never came: ignored
    ],
    "eve": [
        ("visit", "2024-01-15 10:00", {"channel": "ads"}),
        ("referral_sent", "2024-02-10 10:00", {"invitee": "dee"}),  # later than bob's: not dee's referrer
    ],
    "gus": [("visit", "2024-01-25 10:00", {"channel": "referral"})],  # free January, not referred
}
EVENT_SPEND = "channel,period,cost\nads,2024-01,100\nreferral,2024-01,0\nsearch,2024-01,30\n"
BY_EVENT = {"referral_event": "referral_sent", "referee_column": "invitee"}


def event_log() -> pd.DataFrame:
    df = journeys(EVENT_LOG, dtypes=DTYPES)  # type: ignore[arg-type]
    return df.drop(columns="referrer")  # no referrer column at all


def test_referral_event_channels_hand_checked(engine: hourglass.Engine, tmp_path: Path) -> None:
    """ann refers bob and cy, bob refers dee: referees bob, dee (referral) and cy (search); referring
    purchasers ann (ads) and bob (referral); zero cost: the referees plus gus (free referral January)."""
    df = event_log()
    (tmp_path / "spend.csv").write_text(EVENT_SPEND)
    spend = read_spend(str(tmp_path / "spend.csv"))
    d = run_channels(load(df, engine, tmp_path), MINI, spend=spend, **BY_EVENT).to_dict()
    keys = ("customers", "purchasers", "referees", "purchasers_referring", "zero_cost_customers")
    got = {c["channel"]: tuple(c[k] for k in keys) for c in d["channels"]}
    assert [c["channel"] for c in d["channels"]] == ["referral", "ads", "search"]
    assert got == {"referral": (3, 2, 2, 1, 3), "ads": (2, 1, 0, 1, 0), "search": (1, 0, 1, 0, 1)}
    chans = {c["channel"]: c for c in d["channels"]}
    assert chans["referral"]["referral_rate"] == pytest.approx(0.5)
    assert chans["ads"]["referral_rate"] == pytest.approx(1.0)
    assert (d["customers"], d["zero_cost_customers"], d["cost"]) == (6, 4, 130.0)
    assert d["zero_cost_share"] == pytest.approx(4 / 6)
    assert d["meta"]["referrer_from"] == "event 'referral_sent' (referee in column 'invitee')"
    # without the event options there is no referral graph (no referrer column): nulls, as before
    plain_ = run_channels(load(df, engine, tmp_path), MINI, spend=spend).to_dict()
    assert {c["channel"]: c["referees"] for c in plain_["channels"]} == {
        "referral": None,
        "ads": None,
        "search": None,
    }
    assert plain_["zero_cost_customers"] == 2  # bob and gus: free January only
    assert "referrer_from" not in plain_["meta"]


def test_referral_event_wins_over_the_referrer_column(tmp_path: Path) -> None:
    df = event_log()
    df["referrer"] = (df.customer == "eve") & (df.event == "visit")  # eve's visit names ann
    df["referrer"] = df["referrer"].map({True: "ann", False: None})
    by_event = run_channels(hourglass.events(df), MINI, **BY_EVENT).to_dict()
    by_column = run_channels(hourglass.events(df), MINI).to_dict()
    assert {c["channel"]: c["referees"] for c in by_event["channels"]} == {
        "referral": 2,
        "ads": 0,
        "search": 1,
    }
    assert {c["channel"]: c["referees"] for c in by_column["channels"]} == {
        "referral": 0,
        "ads": 1,
        "search": 0,
    }
    assert by_column["meta"]["referrer_from"] == "column 'referrer'"
    with pytest.raises(HourglassError) as e:
        run_channels(hourglass.events(df), MINI, referral_event="referral_sent")
    assert e.value.code == "HG141"
    with pytest.raises(SchemaError) as e2:
        run_channels(hourglass.events(df), MINI, referral_event="referral_sent", referee_column="invite")
    assert e2.value.code == "HG341" and "did you mean 'invitee'" in str(e2.value)


def test_lifecycle_channels_agree_with_its_referral_loop(engine: hourglass.Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    event_log().to_parquet(path)
    spend = tmp_path / "spend.csv"
    spend.write_text(EVENT_SPEND)
    d = lifecycle(str(path), MINI, engine=engine, spend=str(spend), referral_options=BY_EVENT).to_dict()
    ref_ = d["referrals"]
    assert (ref_["referees"], ref_["purchasers_referring"], ref_["self_referrals"]) == (3, 2, 1)
    assert sum(c["referees"] for c in d["channels"]) == ref_["referees"]
    assert sum(c["purchasers_referring"] for c in d["channels"]) == ref_["purchasers_referring"]
    assert sum(c["purchasers"] for c in d["channels"]) == ref_["purchasers"] == 3
    assert (d["channels_zero_cost_customers"], d["channels_cost"]) == (4, 130.0)


# ------------------------------------------------------------------------------------------------
# A spend channel that matches nobody but is a near miss of an acquired channel: a note
# ------------------------------------------------------------------------------------------------


def test_near_miss_spend_channel_is_noted(tmp_path: Path) -> None:
    df = journeys(
        {
            "a": [("visit", "2024-01-02 10:00", {"channel": "ads"}), ("purchase", "2024-01-03 10:00")],
            "b": [("visit", "2024-01-04 10:00", {"channel": "adwords"})],
            "c": [("visit", "2024-01-05 10:00", {"channel": "email"})],
        }
    )
    path = tmp_path / "spend.csv"
    path.write_text(
        "channel,period,cost\nAds,2024-01,10\nads,2024-01,5\nadword,2024-01,7\nsocial,2024-01,3\nEMAIL,2024-02,1\n"
    )
    r = run_channels(hourglass.events(df), MINI, spend=str(path))
    d = r.to_dict()
    assert d["warnings"] == [
        "spend channel 'Ads' matched no customer's channel; did you mean 'ads'? "
        "(channels match exactly: its cost is not counted for 'ads')",
        "spend channel 'EMAIL' matched no customer's channel; did you mean 'email'? "
        "(channels match exactly: its cost is not counted for 'email')",
        "spend channel 'adword' matched no customer's channel; did you mean 'adwords'? "
        "(channels match exactly: its cost is not counted for 'adwords')",
    ]  # in the order of the table; 'social' is far from every acquired channel: no note
    # costs and matching unchanged: exact match only
    got = {c["channel"]: (c["customers"], c["cost"], c["acquired_in_spend_periods"]) for c in d["channels"]}
    assert got == {
        "ads": (1, 5.0, 1),
        "adwords": (1, None, 0),
        "email": (1, None, 0),
        "Ads": (0, 10.0, 0),
        "adword": (0, 7.0, 0),
        "EMAIL": (0, 1.0, 0),
        "social": (0, 3.0, 0),
    }
    assert d["cost"] == 26.0
    text = r.to_text().splitlines()
    assert text[-3:] == [f"note: {w}" for w in d["warnings"]]
    # exact names (and no spend at all) give no notes
    exact = tmp_path / "exact.csv"
    exact.write_text("channel,period,cost\nads,2024-01,5\nsocial,2024-01,3\n")
    assert run_channels(hourglass.events(df), MINI, spend=str(exact)).to_dict()["warnings"] == []
    plain_ = run_channels(hourglass.events(df), MINI)
    assert plain_.to_dict()["warnings"] == [] and "note:" not in plain_.to_text()
    # the lifecycle, which carries the channel table, carries its notes too (JSON and text)
    lc = hourglass.lifecycle(df, "hourglass", spend=str(path))
    assert lc.to_dict()["channels_warnings"] == d["warnings"]
    assert all(f"note: {w}" in lc.to_text() for w in d["warnings"])


@pytest.mark.parametrize(
    ("name", "channels", "want"),
    [
        ("Ads", ["ads", "adwords"], "ads"),
        ("ADS", ["ads"], "ads"),  # difflib alone would not find it
        ("adword", ["ads", "adwords"], "adwords"),
        ("Email", ["EMAIL", "email"], "EMAIL"),  # case-insensitive ties: the smallest as text
        ("social", ["ads", "email", "referral"], None),
        ("ads", ["ads"], None),  # itself is no near miss
    ],
)
def test_near_miss(name: str, channels: list[str], want: str | None) -> None:
    assert near_miss(name, channels) == want
