"""The referral loop (docs/semantics-referrals.md): hand-checked journeys, errors, property tests
against the reference on random logs with random referral graphs (cycles, self-referrals, external
referrers), DuckDB = Spark, and the simulator's true referral figures recovered."""

from __future__ import annotations

import dataclasses
import math
import os
import random
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
from hourglass.engine.load import Events
from hourglass.engine.run_referrals import run_referrals
from hourglass.ingest.simulator import SimulationTruth, simulate_shop
from hourglass.model.errors import HourglassError, SchemaError, SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.presets import preset
from hourglass.model.stats import wilson
from journeys import journeys, rows
from reference import lifecycle_loop_ref as ref
from reference.funnel_ref import make_step

DTYPES = {"revenue": "float64", "channel": "str", "referrer": "str", "invitee": "str"}
HOURGLASS = preset("hourglass")
Z999 = 3.2905267314919255


def load(df: pd.DataFrame, engine: hourglass.Engine, tmp_path: Path) -> Events:
    if engine.name == "duckdb":
        return hourglass.events(df, engine=engine)
    path = tmp_path / f"events-{random.getrandbits(32)}.parquet"
    df.to_parquet(path)
    return hourglass.events(str(path), engine=engine)


def plain(d: dict[str, Any]) -> dict[str, Any]:
    """The numbers only: no meta, warnings or the reasons of null values (checked on their own)."""
    skip = ("meta", "warnings", "purchasers_from")
    return {k: v for k, v in d.items() if k not in skip and not k.endswith("_reason")}


def assert_same(got: Any, want: Any, path: str = "") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), f"{path}: {got} != {want}"
        for k in want:
            assert_same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got} != {want}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


# ------------------------------------------------------------------------------------------------
# A hand-checked log (every figure below is worked out in docs/semantics-referrals.md)
# ------------------------------------------------------------------------------------------------

LOG = {
    "ann": [
        ("visit", "2024-01-01 10:00", {"channel": "ads"}),
        ("purchase", "2024-01-02 10:00", {"revenue": 50.0}),
    ],
    "bob": [
        ("signup", "2024-01-05 09:00", {"referrer": "ann"}),
        ("purchase", "2024-01-10 10:00", {"revenue": 30.0, "referrer": "ann"}),
        ("visit", "2024-01-11 10:00", {"referrer": "zed"}),  # later: not his referrer
    ],
    "cy": [("visit", "2024-02-01 10:00", {"referrer": "bob"})],
    "dee": [
        ("visit", "2024-02-03 10:00", {"referrer": "dee"}),  # self-referral: ignored, counted
        ("signup", "2024-02-03 10:00", {"referrer": "bob"}),
        ("purchase", "2024-02-05 10:00", {"revenue": 20.0}),
    ],
    "eve": [
        ("visit", "2024-01-03 10:00", {"referrer": "outsider"}),
        ("purchase", "2024-01-04 10:00", {"revenue": 10.0}),
    ],
    "fay": [
        ("visit", "2024-03-01 10:00", {"referrer": "gus"}),
        ("purchase", "2024-03-02 10:00", {"revenue": 5.0}),
    ],
    "gus": [("visit", "2024-03-01 11:00", {"referrer": "fay"})],  # fay <-> gus: a cycle
    "hal": [
        ("purchase", "2024-01-01 09:00"),  # bought before his referrer: a negative cycle time
        ("visit", "2024-02-10 10:00", {"referrer": "bob"}),
        ("visit", "2024-02-10 10:00", {"referrer": "ann"}),  # same time: the smallest value wins
    ],
}
DAY = 86400.0


@pytest.fixture(scope="module")
def log_df() -> pd.DataFrame:
    return journeys(LOG, dtypes=DTYPES)  # type: ignore[arg-type]


def test_hand_checked_log(engine: hourglass.Engine, log_df: pd.DataFrame, tmp_path: Path) -> None:
    d = run_referrals(load(log_df, engine, tmp_path), HOURGLASS, top=3).to_dict()
    assert (d["customers"], d["purchasers"], d["referees"], d["referred_purchasers"]) == (8, 6, 6, 4)
    assert d["k_factor"] == pytest.approx(4 / 6)
    assert (d["k_factor_low"], d["k_factor_high"]) == pytest.approx(wilson(4, 6))
    assert d["referral_conversion"] == pytest.approx(4 / 6)
    assert (d["referrers"], d["purchasers_referring"]) == (4, 3)
    assert d["referral_rate"] == pytest.approx(0.5)
    assert d["referees_per_customer"] == pytest.approx(6 / 8)
    assert d["referees_per_referrer"] == pytest.approx(6 / 4)
    assert d["referees_distribution"] == [
        {"referees": 0, "customers": 4},
        {"referees": 1, "customers": 2},
        {"referees": 2, "customers": 2},
    ]
    assert d["generations"] == [
        {"generation": 0, "customers": 2},
        {"generation": 1, "customers": 2},
        {"generation": 2, "customers": 2},
    ]
    assert d["deepest_generation"] == 2
    assert (d["self_referrals"], d["external_referrers"], d["in_cycles"], d["beyond_max_depth"]) == (
        1,
        1,
        2,
        2,
    )
    ct = d["cycle_time"]
    assert (ct["pairs"], ct["negative"]) == (3, 1)
    assert ct["median_s"] == pytest.approx(8 * DAY)
    assert ct["p90_s"] == pytest.approx(8 * DAY + 0.8 * 18 * DAY)
    rev = d["revenue"]
    assert (rev["total"], rev["referred"]) == pytest.approx((115.0, 55.0))
    assert rev["per_referred_customer"] == pytest.approx(55 / 6)
    assert rev["per_other_customer"] == pytest.approx(30.0)
    assert d["periods"] == [
        {"period": "2024-01", "new_customers": 4, "referred": 2, "referred_share": 0.5},
        {"period": "2024-02", "new_customers": 2, "referred": 2, "referred_share": 1.0},
        {"period": "2024-03", "new_customers": 2, "referred": 2, "referred_share": 1.0},
    ]
    assert d["top_referrers"] == [
        {"customer": "ann", "referees": 2, "referred_purchasers": 2, "referee_revenue": 30.0},
        {"customer": "bob", "referees": 2, "referred_purchasers": 1, "referee_revenue": 20.0},
        {"customer": "gus", "referees": 1, "referred_purchasers": 1, "referee_revenue": 5.0},
    ]
    assert len(d["warnings"]) == 3 and "cycle" in d["warnings"][2]
    assert_same(
        plain(d), ref.referrals(rows(log_df), make_step({"name": "sale", "events": ["purchase"]}), top=3)
    )


def test_range_makes_referrers_outside_it_external(log_df: pd.DataFrame) -> None:
    ev = hourglass.events(log_df)
    d = run_referrals(ev, HOURGLASS, since="2024-02-01").to_dict()
    # in range: cy, dee, fay, gus, hal; bob and ann have no event from February on
    assert (d["customers"], d["referees"], d["external_referrers"]) == (5, 2, 3)
    assert d["purchasers"] == 2 and d["referred_purchasers"] == 1  # dee (external referrer), fay


def test_depth_bound_and_period_units() -> None:
    log = {
        "a": [("purchase", "2024-01-01 10:00")],
        "b": [("purchase", "2024-01-08 10:00", {"referrer": "a"})],
        "c": [("visit", "2024-04-02 10:00", {"referrer": "b"})],
        "d": [("visit", "2024-12-31 23:59", {"referrer": "c"})],
    }
    ev = hourglass.events(journeys(log, dtypes=DTYPES))  # type: ignore[arg-type]
    d = run_referrals(ev, HOURGLASS, max_depth=2, period="week").to_dict()
    assert d["generations"] == [
        {"generation": 0, "customers": 1},
        {"generation": 1, "customers": 1},
        {"generation": 2, "customers": 1},
    ]
    assert (d["beyond_max_depth"], d["in_cycles"]) == (1, 0)
    assert [p["period"] for p in d["periods"]] == ["2024-W01", "2024-W02", "2024-W14", "2025-W01"]
    d3 = run_referrals(ev, HOURGLASS, max_depth=3, period="quarter").to_dict()
    assert d3["generations"][-1] == {"generation": 3, "customers": 1} and d3["beyond_max_depth"] == 0
    assert [p["period"] for p in d3["periods"]] == ["2024-Q1", "2024-Q2", "2024-Q4"]
    assert d3["cycle_time"]["median_s"] == pytest.approx(7 * DAY)


def test_referral_event_carries_the_referee(engine: hourglass.Engine, tmp_path: Path) -> None:
    log = {
        "ann": [
            ("purchase", "2023-12-31 10:00"),
            ("referral_sent", "2024-01-01 10:00", {"invitee": "bob"}),
            ("referral_sent", "2024-01-02 10:00", {"invitee": "zoe"}),  # zoe never came
        ],
        "bob": [("visit", "2024-01-03 10:00"), ("purchase", "2024-01-04 10:00")],
        "cy": [
            ("referral_sent", "2024-01-01 10:00", {"invitee": "bob"}),  # tie with ann: 'ann' < 'cy'
            ("referral_sent", "2024-01-05 10:00", {"invitee": "cy"}),  # self
        ],
    }
    df = journeys(log, dtypes=DTYPES)  # type: ignore[arg-type]
    ev = load(df, engine, tmp_path)
    d = run_referrals(ev, HOURGLASS, referral_event="referral_sent", referee_column="invitee").to_dict()
    assert (d["referees"], d["referred_purchasers"], d["purchasers"], d["self_referrals"]) == (1, 1, 2, 1)
    assert d["top_referrers"][0]["customer"] == "ann"
    assert d["cycle_time"]["median_s"] == pytest.approx(4 * DAY)
    want = ref.referrals(
        rows(df), make_step({"name": "sale", "events": ["purchase"]}), referral_event="referral_sent",
        referee_column="invitee",
    )  # fmt: skip
    assert_same(plain(d), want)


def test_flywheel_uses_its_purchase_events(log_df: pd.DataFrame) -> None:
    r = run_referrals(hourglass.events(log_df), preset("flywheel"))
    assert r.purchasers == 6 and "names no sale stage" in r.purchasers_from
    assert run_referrals(hourglass.events(log_df), preset("flywheel"), sale_stage="engage").purchasers == 6


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"referral_event": "referral_sent"}, "HG141"),
        ({"period": "montly"}, "HG142"),
        ({"max_depth": 0}, "HG143"),
        ({"top": -1}, "HG143"),
        ({"since": "2024-03-01", "until": "2024-02-01"}, "HG108"),
        ({"sale_stage": "nope"}, "HG106"),
        ({"referral_event": "referral_sent", "referee_column": "invite"}, "HG341"),
    ],
)
def test_bad_options_are_coded_errors(log_df: pd.DataFrame, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(HourglassError) as e:
        run_referrals(hourglass.events(log_df), HOURGLASS, **kwargs)
    assert e.value.code == code


def test_no_sale_and_no_referrer_column() -> None:
    df = journeys({"a": [("visit", "2024-01-01 10:00")]})
    bare = JourneyModel("bare", "custom", (HOURGLASS.stages[0],))
    with pytest.raises(SpecError) as e:
        run_referrals(hourglass.events(df), bare)
    assert e.value.code == "HG140" and "--goal" in str(e.value)
    with pytest.raises(SchemaError) as s:
        run_referrals(hourglass.events(df), HOURGLASS)
    assert s.value.code == "HG340" and "--referrer-col" in str(s.value)


def test_text_rows_and_pandas(log_df: pd.DataFrame) -> None:
    r = run_referrals(hourglass.events(log_df), HOURGLASS)
    text = r.to_text()
    assert "K-factor 66.7%" in text and "median 8.0d" in text and "note:" in text
    frame = r.to_pandas()
    k = frame[(frame.section == "summary") & (frame.key == "k_factor")].value.iloc[0]
    assert k == pytest.approx(4 / 6)


# ------------------------------------------------------------------------------------------------
# Property tests: engine vs reference on random logs and random referral graphs
# ------------------------------------------------------------------------------------------------

NAMES = ["a", "b", "c", "d", "e", "f"]
EVENTS = ["visit", "signup", "purchase", "repeat_purchase", "referral_sent"]
BASE = datetime(2024, 1, 30)
SETTINGS = settings(
    max_examples=int(os.environ.get("HOURGLASS_PROPERTY_EXAMPLES", "60")), deadline=None, print_blob=True
)


@st.composite
def logs(draw: st.DrawFn) -> dict[str, list[tuple[str, datetime, dict[str, Any]]]]:
    """Up to 6 customers with 1-4 events over ~4 months (ties common); referrers drawn from the
    customers (self-referrals and cycles included), an outsider, or none."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    referrers = [None, None, *NAMES, "outsider"]
    out: dict[str, list[tuple[str, datetime, dict[str, Any]]]] = {}
    for name in names:
        n = draw(st.integers(1, 4))
        evs = []
        for _ in range(n):
            day = draw(st.sampled_from([0, 0, 1, 2, 35, 70]))
            hour = draw(st.sampled_from([0, 0, 5]))
            props = {
                "referrer": draw(st.sampled_from(referrers)),
                "revenue": draw(st.sampled_from([None, 5.0, 12.5])),
                "channel": draw(st.sampled_from([None, "ads", "search"])),
                "invitee": draw(st.sampled_from([None, *NAMES, "zoe"])),
            }
            evs.append((draw(st.sampled_from(EVENTS)), BASE + timedelta(days=day, hours=hour), props))
        out[name] = evs
    return out


@SETTINGS
@given(
    log=logs(),
    max_depth=st.integers(1, 4),
    period=st.sampled_from(["day", "week", "month", "quarter", "year"]),
    top=st.integers(0, 4),
    by_event=st.booleans(),
    since=st.sampled_from([None, BASE + timedelta(days=1)]),
    until=st.sampled_from([None, BASE + timedelta(days=36)]),
)
def test_engine_equals_reference(
    log: dict[str, Any],
    max_depth: int,
    period: str,
    top: int,
    by_event: bool,
    since: datetime | None,
    until: datetime | None,
) -> None:
    df = journeys(log, dtypes=DTYPES)
    note(repr(log))
    options: dict[str, Any] = {
        "period": period,
        "max_depth": max_depth,
        "top": top,
        "since": since,
        "until": until,
    }
    if by_event:
        options.update(referral_event="referral_sent", referee_column="invitee")
    result = run_referrals(hourglass.events(df), HOURGLASS, **options)
    got = result.to_dict()
    want = ref.referrals(rows(df), make_step({"name": "sale", "events": ["purchase"]}), **options)
    if result.missing is not None:  # no referral event in the range: not measured, not 0
        assert by_event and "referral_sent" in result.missing
        assert want["referees"] == 0 and got["referees"] is None and got["k_factor"] is None
        got = dataclasses.replace(result, missing=None).to_dict()
    assert_same(plain(got), want)


def random_log(seed: int) -> pd.DataFrame:
    rnd = random.Random(seed)
    log: dict[str, list[Any]] = {}
    for i in range(40):
        evs = []
        for _ in range(rnd.randint(1, 5)):
            props = {
                "referrer": rnd.choice([None, None, None, f"u{rnd.randrange(40)}", "outsider"]),
                "revenue": rnd.choice([None, 3.0, 10.0]),
                "channel": rnd.choice([None, "ads", "search", "email"]),
            }
            ts = BASE + timedelta(days=rnd.choice([0, 1, 20, 40, 80]), hours=rnd.choice([0, 3]))
            evs.append((rnd.choice(EVENTS), ts, props))
        log[f"u{i}"] = evs
    return journeys(log, dtypes=DTYPES)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_graphs_on_every_engine(engine: hourglass.Engine, tmp_path: Path, seed: int) -> None:
    df = random_log(seed)
    got = run_referrals(load(df, engine, tmp_path), HOURGLASS, max_depth=4, period="week").to_dict()
    want = ref.referrals(
        rows(df), make_step({"name": "sale", "events": ["purchase"]}), max_depth=4, period="week"
    )
    assert_same(plain(got), want)


# ------------------------------------------------------------------------------------------------
# Recovery: the simulator's true referral figures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop() -> tuple[pa.Table, SimulationTruth]:
    return simulate_shop(30_000, seed=3)


def acquired_before(table: pa.Table, cutoff: datetime) -> pa.Table:
    """The whole histories of the customers whose first event is before ``cutoff`` (a referrer is
    acquired before his referees, so the referral graph stays closed upwards)."""
    first = table.group_by("customer_id").aggregate([("timestamp", "min")])
    keep = first.filter(pc.less(first["timestamp_min"], pa.scalar(cutoff, pa.timestamp("us"))))
    return table.filter(pc.is_in(table["customer_id"], keep["customer_id"]))


def test_simulated_graph_recovered_exactly(shop: tuple[pa.Table, SimulationTruth]) -> None:
    table, truth = shop
    d = run_referrals(hourglass.events(table), HOURGLASS).to_dict()
    assert d["referees"] == truth.n_referred
    assert d["deepest_generation"] == truth.referral_generations
    assert sum(g["customers"] for g in d["generations"]) == truth.n_customers
    assert (d["self_referrals"], d["external_referrers"], d["beyond_max_depth"]) == (0, 0, 0)
    # every referee's first event follows his referrer's first purchase
    assert d["cycle_time"]["negative"] == 0


def test_referral_conversion_recovered(shop: tuple[pa.Table, SimulationTruth]) -> None:
    table, truth = shop
    # referees acquired >= 30 days before the end have had their whole pre-sale journey
    cohort = acquired_before(table, truth.end_datetime - timedelta(days=truth.funnel_window_days))
    d = run_referrals(hourglass.events(cohort), HOURGLASS).to_dict()
    low, high = wilson(d["referred_purchasers"], d["referees"], Z999)
    assert low is not None and high is not None and d["referees"] > 200
    assert low <= truth.p_buy("referral") <= high


def p_refers_someone(truth: SimulationTruth) -> float:
    """P(a buyer brings at least one customer): he sends 1 + Binomial(k, p) invitations with the
    referral probability, and each one converts independently."""
    k, p = truth.referral_extra_invites
    q = 1 - truth.p_referral_conversion
    return truth.referral_probability() * (1 - q * (1 - p + p * q) ** k)


def test_share_of_buyers_who_refer_recovered(shop: tuple[pa.Table, SimulationTruth]) -> None:
    table, truth = shop
    # organic buyers acquired >= 80 days before the end: purchase (<= 26 d), referral window (45 d)
    # and the referee's first event (<= 5 d) all fall inside the log; their referees are kept
    cutoff = truth.end_datetime - timedelta(days=80)
    early = acquired_before(table, cutoff)
    keep = pc.is_in(table["referrer"], pa.array(early["customer_id"].unique()))
    log = pa.concat_tables([early, table.filter(pc.fill_null(keep, False))]).combine_chunks()
    d = run_referrals(hourglass.events(log), HOURGLASS, sale_stage="sale").to_dict()
    # purchasers acquired early = all purchasers minus the late referees who bought
    early_ids = set(early["customer_id"].to_pylist())
    bought = log.filter(pc.equal(log["event"], "purchase"))["customer_id"].to_pylist()
    n_late = len(set(bought) - early_ids)
    buyers, referring = d["purchasers"] - n_late, d["purchasers_referring"]
    low, high = wilson(referring, buyers, Z999)
    assert low is not None and high is not None and buyers > 500
    assert low <= p_refers_someone(truth) <= high
    assert not math.isnan(d["k_factor"])
