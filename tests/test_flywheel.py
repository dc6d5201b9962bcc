"""The flywheel's momentum (docs/semantics-flywheel.md): a hand-checked log (every number in a
comment), the loop's split, first-seen, not measured, errors, the identities on random logs against
the plain-Python reference (tests/reference/growth_ref.py), the CLI's formats, DuckDB = Spark."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, note, settings
from hypothesis import strategies as st

import hourglass
from hourglass.interfaces.cli.flywheel import flywheel_cmd
from hourglass.interfaces.flywheel_api import flywheel
from hourglass.model.errors import EngineError, SpecError
from hourglass.model.flywheel_result import assemble_flywheel, viral_customers
from hourglass.model.growth import GrowthSpec, period_bounds, period_index
from journeys import journeys, rows
from reference import growth_ref as ref
from reference.funnel_ref import make_step

DTYPES = {"revenue": "float64", "channel": "str", "referrer": "str"}

# Four months, seven customers (model hourglass: purchases = purchase, repeat_purchase; sale =
# purchase; word of mouth = review, referral_sent). Spend on "ads" only.
LOG = {
    "ann": [  # active Jan Feb Mar, churned in Apr; revenue 100 -> 150 (expansion 50) -> 80 (contraction 70)
        ("visit", "2024-01-05", {"channel": "ads"}),
        ("purchase", "2024-01-10", {"revenue": 100.0, "channel": "ads"}),
        ("purchase", "2024-02-10", {"revenue": 150.0}),
        ("purchase", "2024-03-10", {"revenue": 80.0}),
    ],
    "bob": [  # Jan, churned Feb, resurrected Mar, retained Apr; first revenue Mar (new revenue 40)
        ("visit", "2024-01-20", {"channel": "search"}),
        ("visit", "2024-03-02"),
        ("purchase", "2024-03-03", {"revenue": 40.0}),
        ("purchase", "2024-04-03", {"revenue": 40.0}),
    ],
    "cy": [  # referred by ann: new Feb, churned Mar, resurrected Apr (resurrected revenue 30)
        ("signup", "2024-02-03", {"referrer": "ann"}),
        ("purchase", "2024-02-05", {"revenue": 60.0}),
        ("purchase", "2024-04-07", {"revenue": 30.0}),
    ],
    "dee": [  # first event a review: word of mouth; new Feb, retained Mar and Apr; no revenue
        ("review", "2024-02-12"),
        ("visit", "2024-03-12"),
        ("visit", "2024-04-12"),
    ],
    "eve": [  # ads (paid): new Mar, retained Apr; revenue 50 -> 70 (expansion 20)
        ("visit", "2024-03-15", {"channel": "ads"}),
        ("purchase", "2024-03-16", {"revenue": 50.0}),
        ("purchase", "2024-04-16", {"revenue": 70.0}),
    ],
    "fay": [("visit", "2024-03-20", {"channel": "search"})],  # organic: new Mar, churned Apr
    "gus": [("visit", "2024-04-05", {"referrer": "cy"})],  # referred by cy: new Apr
}
SPEND = pd.DataFrame(
    {"channel": ["ads"] * 4, "period": ["2024-01", "2024-02", "2024-03", "2024-04"], "cost": [100.0] * 4}
)

# period: active, new, retained, resurrected, churned, quick ratio
CUSTOMERS = {
    "2024-01": (2, 2, 0, 0, 0, None),  # ann, bob new; nobody to churn
    "2024-02": (3, 2, 1, 0, 1, 2.0),  # cy, dee new; ann retained; bob churned: (2 + 0) / 1
    "2024-03": (5, 2, 2, 1, 1, 3.0),  # eve, fay new; ann, dee retained; bob back; cy churned: 3 / 1
    "2024-04": (5, 1, 3, 1, 2, 1.0),  # gus new; bob, dee, eve retained; cy back; ann, fay churned: 2 / 2
}
# period: revenue, new, retained, expansion, contraction, resurrected, churned, revenue QR, NRR
REVENUE = {
    "2024-01": (100.0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, None),  # ann's first revenue
    # ann 150 (retained 100, expansion 50), cy new 60; nothing lost; NRR (100 + 50) / 100
    "2024-02": (210.0, 60.0, 100.0, 50.0, 0.0, 0.0, 0.0, None, 1.5),
    # ann 80 (retained 80, contraction 70), bob and eve new 40 + 50, cy churned 60
    # QR (90 + 0 + 0) / (60 + 70); NRR (80 + 0) / 210
    "2024-03": (170.0, 90.0, 80.0, 0.0, 70.0, 0.0, 60.0, 90 / 130, 80 / 210),
    # bob 40 retained, eve 70 (retained 50, expansion 20), cy back 30, ann churned 80
    # QR (0 + 30 + 20) / 80; NRR (90 + 20) / 170
    "2024-04": (140.0, 0.0, 90.0, 20.0, 0.0, 30.0, 80.0, 50 / 80, 110 / 170),
}
# period: referred, word of mouth, paid, organic, loop share; first-purchase and repeat revenue
LOOP = {
    "2024-01": (0, 0, 1, 1, 0.0, 100.0, 0.0),  # ann (ads) paid, bob (search) organic; ann's first purchase
    "2024-02": (
        1,
        1,
        0,
        0,
        1.0,
        60.0,
        150.0,
    ),  # cy referred, dee's first event a review; cy first, ann repeat
    "2024-03": (0, 0, 1, 1, 0.0, 90.0, 80.0),  # eve paid, fay organic; bob, eve first; ann repeat
    "2024-04": (1, 0, 0, 0, 1.0, 0.0, 140.0),  # gus referred; only repeats
}
# first purchases: ann Jan, cy Feb (referred), bob and eve Mar: K = referred purchasers / purchasers
K = {"2024-01": (1, 0, 0.0), "2024-02": (1, 1, 1.0), "2024-03": (2, 0, 0.0), "2024-04": (0, 0, None)}
# cycle time: cy's first event (Feb 3) - ann's first purchase (Jan 10) = 24 d; gus (Apr 5) - cy (Feb 5)
# = 60 d (2024 is a leap year); median 42 d
DAY = 86400.0


def frame() -> pd.DataFrame:
    return journeys(LOG, dtypes=DTYPES)


def by_period(result: Any) -> dict[str, dict[str, Any]]:
    return {r["period"]: r for r in result.to_dict()["periods"]}


def test_growth_accounting_by_hand() -> None:
    got = by_period(flywheel(frame(), spend=SPEND))
    assert list(got) == list(CUSTOMERS)
    for period, (active, new, retained, resurrected, churned, qr) in CUSTOMERS.items():
        r = got[period]
        assert (r["active"], r["new"], r["retained"], r["resurrected"], r["churned"]) == (
            active,
            new,
            retained,
            resurrected,
            churned,
        ), period
        assert r["quick_ratio"] == qr
    assert got["2024-01"]["quick_ratio_reason"] == "the first period has no previous one: nobody can churn"


def test_revenue_accounting_by_hand() -> None:
    got = by_period(flywheel(frame()))
    keys = ("revenue", "new_revenue", "retained_revenue", "expansion_revenue", "contraction_revenue")
    keys += ("resurrected_revenue", "churned_revenue", "revenue_quick_ratio", "net_revenue_retention")
    for period, want in REVENUE.items():
        r = got[period]
        for key, value in zip(keys, want, strict=True):
            assert r[key] == (None if value is None else pytest.approx(value)), (period, key)
    assert got["2024-02"]["revenue_quick_ratio_reason"] == "no revenue churned or contracted in this period"
    assert got["2024-01"]["net_revenue_retention_reason"] == "no revenue in the previous period"


def test_the_loops_split_k_factor_and_cycle_time_by_hand() -> None:
    result = flywheel(frame(), spend=SPEND)
    got = by_period(result)
    for period, (referred, wom, paid, organic, share, first, repeat) in LOOP.items():
        r = got[period]
        assert (r["new_referred"], r["new_word_of_mouth"], r["new_paid"], r["new_organic"]) == (
            referred,
            wom,
            paid,
            organic,
        ), period
        assert r["new_paid_or_organic"] == paid + organic
        assert r["loop_share"] == share
        assert (r["first_purchase_revenue"], r["repeat_revenue"]) == (first, repeat)
    for period, (buyers, referred, k) in K.items():
        assert (got[period]["purchasers"], got[period]["referred_purchasers"]) == (buyers, referred)
        assert got[period]["k_factor"] == k
    assert got["2024-04"]["k_factor_reason"] == "no first purchase in this period"
    assert got["2024-02"]["cycle_time_median_s"] == 24 * DAY
    assert got["2024-04"]["cycle_time_median_s"] == 60 * DAY
    s = result.to_dict()["summary"]
    assert s["k_factor"] == 0.25  # 1 referred purchaser (cy) of 4
    assert s["cycle_time_median_s"] == 42 * DAY and s["cycle_pairs"] == 2
    assert s["loop_share"] == pytest.approx(3 / 7)  # cy, dee, gus of 7 new customers
    assert s["latest_period"] == "2024-03"  # April ends after the last event: not complete
    assert s["quick_ratio"] == 3.0 and s["net_revenue_retention"] == pytest.approx(80 / 210)


def test_the_viral_curve_by_hand() -> None:
    got = by_period(flywheel(frame()))
    # C0 = 2 (January's new customers), K = 0.25, ct = 42 d; t from the end of January
    for period, t_days in (("2024-01", 0), ("2024-02", 29), ("2024-03", 29 + 31), ("2024-04", 29 + 31 + 30)):
        want = 2 * (0.25 ** (t_days / 42 + 1) - 1) / (0.25 - 1)
        assert got[period]["viral_customers"] == pytest.approx(want)
    assert got["2024-01"]["viral_customers"] == pytest.approx(2.0)
    assert [got[p]["cumulative_customers"] for p in CUSTOMERS] == [2, 4, 6, 7]
    assert viral_customers(3, 1.0, 84, 42) == 9.0  # K = 1: C0 (t/ct + 1)
    assert viral_customers(3, 1.0 + 1e-9, 84, 42) == pytest.approx(9.0)  # the limit is continuous
    assert viral_customers(1, 50.0, 10_000, 1) is None  # beyond the float range


def test_first_seen_counts_new_in_the_first_period_with_any_event() -> None:
    log = {
        # seen (visit) in Jan, first purchase in Mar: first-activity says new in Mar; first-seen says
        # resurrected in Mar (not active in Jan, the period he was first seen)
        "a": [("visit", "2024-01-05"), ("purchase", "2024-03-05", {"revenue": 5.0})],
        "b": [("purchase", "2024-01-06", {"revenue": 5.0})],  # new in Jan either way
    }
    df = journeys(log, dtypes=DTYPES)
    default = by_period(flywheel(df, activity="purchases"))
    seen = by_period(flywheel(df, activity="purchases", new="first-seen"))
    # Jan: b active (new); Feb: b churned; Mar: a active
    assert [default[p]["new"] for p in ("2024-01", "2024-02", "2024-03")] == [1, 0, 1]
    assert [seen[p]["new"] for p in ("2024-01", "2024-02", "2024-03")] == [1, 0, 0]
    assert seen["2024-03"]["resurrected"] == 1 and default["2024-03"]["resurrected"] == 0
    assert seen["2024-02"]["churned"] == 1 and seen["2024-03"]["quick_ratio_reason"]


def test_activity_events_and_weeks() -> None:
    got = flywheel(frame(), activity_events="purchase", period="week").to_dict()["periods"]
    assert got[0]["period"] == "2024-W01" and got[-1]["period"] == "2024-W16"
    assert sum(r["new"] for r in got) == 4  # the purchasers: ann, bob, cy, eve
    assert len(got) == 16  # every week from the first to the last, empty ones included


def test_not_measured_is_null_with_a_reason() -> None:
    df = frame().drop(columns=["revenue", "referrer"])
    r = flywheel(df).to_dict()
    p = r["periods"][1]
    assert p["revenue"] is None and p["revenue_reason"].startswith("no revenue column")
    assert p["net_revenue_retention"] is None and "--revenue-col" in p["net_revenue_retention_reason"]
    assert p["new_referred"] is None and "--referrer-col" in p["new_referred_reason"]
    assert p["new_paid"] is None and "--spend" in p["new_paid_reason"]
    # February: cy (first event a signup, not referred now) and dee (a review): only dee is the loop's
    assert p["new_word_of_mouth"] == 1 and p["new_paid_or_organic"] == 1
    assert p["loop_share"] == 0.5
    assert r["summary"]["k_factor"] is None and "--referrer-col" in r["summary"]["k_factor_reason"]
    assert r["summary"]["viral"]["reason"]
    funnel = flywheel(frame(), "funnel4").to_dict()  # no word-of-mouth stage
    assert "word_of_mouth" in funnel["periods"][1]["new_word_of_mouth_reason"]


def test_errors_have_codes() -> None:
    with pytest.raises(SpecError) as e:
        GrowthSpec.build(activity="buys")
    assert e.value.code == "HG161" and "purchases" in (e.value.hint or "")
    with pytest.raises(SpecError) as e:
        GrowthSpec.build(new="first")
    assert e.value.code == "HG161" and "did you mean 'first-seen'" in e.value.message
    with pytest.raises(SpecError) as e:
        GrowthSpec.build(activity="purchases", activity_events="a")
    assert e.value.code == "HG162"
    with pytest.raises(SpecError) as e:
        GrowthSpec.build(activity_events="a,,b")
    assert e.value.code == "HG162"
    with pytest.raises(SpecError) as e:
        GrowthSpec.build(periode="month")
    assert e.value.code == "HG101"
    with pytest.raises(SpecError) as e:
        GrowthSpec.build(period="fortnight")
    assert e.value.code == "HG142"
    model = hourglass.JourneyModel.from_dict({"name": "m", "stages": [{"name": "s", "events": ["x"]}]})
    with pytest.raises(SpecError) as e:
        flywheel(frame(), model, activity="purchases")
    assert e.value.code == "HG160"
    with pytest.raises(hourglass.HourglassError) as e2:
        flywheel(frame(), by="chanel")
    assert e2.value.code == "HG306" and "channel" in e2.value.message


def test_assemble_refuses_rows_that_do_not_add_up() -> None:
    spec = GrowthSpec()
    p = period_index(datetime(2024, 1, 1).date(), "month")
    rows: dict[str, list[dict[str, Any]]] = {
        "grid": [{"p_min": p, "p_max": p + 1, "t_min": 0, "t_max": 0}],
        "customers": [{"g": "", "customers": 3}],
        "active": [{"g": "", "p": p, "active": 2}, {"g": "", "p": p + 1, "active": 2}],
        "states": [
            {"g": "", "p": p, "states_active": 2, "new": 2, "retained": 0, "resurrected": 0},
            {"g": "", "p": p + 1, "states_active": 2, "new": 1, "retained": 1, "resurrected": 0},
        ],
        "churn": [],  # one customer left in the second period, but nobody churned: a bug
        "sources": [{"g": "", "p": p, "new": 2}, {"g": "", "p": p + 1, "new": 1}],
    }
    reasons = {k: "x" for k in ("revenue", "referrals", "word_of_mouth", "paid", "sale", "purchases")}
    with pytest.raises(EngineError) as e:
        assemble_flywheel(rows, spec, reasons, {})
    assert e.value.code == "HG699" and "new + resurrected - churned" in e.value.message
    rows["churn"] = [{"g": "", "p": p + 1, "churned": 1}]
    assert assemble_flywheel(rows, spec, reasons, {}).total is not None


def test_period_index_and_bounds_agree() -> None:
    for unit in ("day", "week", "month", "quarter", "year"):
        for day in (
            datetime(2024, 1, 1),
            datetime(2023, 12, 31),
            datetime(2024, 2, 29),
            datetime(2024, 10, 7),
        ):
            i = period_index(day.date(), unit)
            start, end = period_bounds(i, unit)
            assert start <= day < end, (unit, day)
            assert period_index(end.date(), unit) == i + 1


def test_by_gives_groups_like_the_funnel() -> None:
    r = flywheel(frame(), by="channel").to_dict()
    assert r["breakdown"] == "channel" and "periods" not in r
    values = [g["value"] for g in r["groups"]]
    assert values == ["ads", "search", None]  # 2, 2 and 3 customers: the missing value last
    ads = {p["period"]: p for p in r["groups"][0]["periods"]}
    assert [ads[p]["active"] for p in CUSTOMERS] == [1, 1, 2, 1]  # ann; ann; ann, eve; eve
    assert sum(g["customers"] for g in r["groups"]) == 7
    flat = flywheel(frame(), by="channel").rows()
    assert flat[0]["channel"] == "ads" and len(flat) == 12


# ---- random logs against the reference -------------------------------------------------------------

EVENTS = ["visit", "signup", "purchase", "repeat_purchase", "review"]
START = datetime(2024, 1, 1)


@st.composite
def logs(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 7))
    names = [f"c{i}" for i in range(n)]
    log: dict[str, list[Any]] = {}
    for c in names:
        k = draw(st.integers(1, 6))
        evs = []
        for _ in range(k):
            props: dict[str, Any] = {}
            if draw(st.booleans()):
                props["revenue"] = draw(st.sampled_from([5.0, 10.0, 20.0, -5.0]))
            if draw(st.integers(0, 3)) == 0:
                props["referrer"] = draw(st.sampled_from([*names, "outsider"]))
            if draw(st.integers(0, 2)) == 0:
                props["channel"] = draw(st.sampled_from(["ads", "seo"]))
            day = draw(st.integers(0, 150))
            evs.append(
                (
                    draw(st.sampled_from(EVENTS)),
                    START + timedelta(days=day, hours=draw(st.integers(0, 3))),
                    props,
                )
            )
        log[c] = evs
    return journeys(log, dtypes=DTYPES)


NUMBERS = [
    *("active", "new", "retained", "resurrected", "churned", "quick_ratio", "revenue", "new_revenue"),
    *("retained_revenue", "expansion_revenue", "contraction_revenue", "resurrected_revenue"),
    *("churned_revenue", "net_revenue_retention", "first_purchase_revenue", "repeat_revenue"),
    *("new_referred", "new_word_of_mouth", "new_paid_or_organic", "new_paid", "new_organic"),
    *("purchasers", "referred_purchasers", "cycle_pairs", "cycle_time_median_s"),
]


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@given(
    df=logs(),
    unit=st.sampled_from(["day", "week", "month", "quarter"]),
    activity=st.sampled_from(["all", "purchases"]),
    new=st.sampled_from(["first-activity", "first-seen"]),
)
@settings(max_examples=25, deadline=None, derandomize=True)
def test_identities_and_the_reference_on_random_logs(
    df: pd.DataFrame, unit: str, activity: str, new: str
) -> None:
    spend = pd.DataFrame({"channel": ["ads"], "period": ["2024"], "cost": [1.0]})
    got = flywheel(df, period=unit, activity=activity, new=new, spend=spend).to_dict()["periods"]
    want = ref.growth(
        rows(df),
        unit=unit,
        activity=make_step({"name": "p", "events": ["purchase", "repeat_purchase"]})
        if activity == "purchases"
        else None,
        new=new,
        sale=make_step({"name": "sale", "events": ["purchase"]}),
        purchase=make_step({"name": "p", "events": ["purchase", "repeat_purchase"]}),
        word_of_mouth=make_step({"name": "w", "events": ["review", "referral_sent"]}),
        paid_channels={"ads"},
    )
    note(f"got {got}\nwant {want}")
    assert [r["period"] for r in got] == [r["period"] for r in want]
    prev_active, prev_rev = 0, 0.0
    for g, w in zip(got, want, strict=True):
        assert g["active"] - prev_active == g["new"] + g["resurrected"] - g["churned"]
        rev = g["new_revenue"] + g["resurrected_revenue"] + g["expansion_revenue"]
        rev -= g["contraction_revenue"] + g["churned_revenue"]
        assert math.isclose(g["revenue"] - prev_rev, rev, abs_tol=1e-9)
        prev_active, prev_rev = g["active"], g["revenue"]
        for key in NUMBERS:
            assert _close(g.get(key), w.get(key)), (g["period"], key, g.get(key), w.get(key))


# ---- the command line -----------------------------------------------------------------------------


@pytest.fixture
def hand_files(tmp_path: Path) -> tuple[Path, Path]:
    events = tmp_path / "events.csv"
    frame().to_csv(events, index=False)
    spend = tmp_path / "spend.csv"
    SPEND.to_csv(spend, index=False)
    return events, spend


def test_cli_formats(hand_files: tuple[Path, Path], tmp_path: Path) -> None:
    events, spend = hand_files
    run = CliRunner().invoke
    table = run(flywheel_cmd, [str(events), "--spend", str(spend)])
    assert table.exit_code == 0, table.output
    assert "2024-03" in table.output and "−2" in table.output and "quick ratio 3.00" in table.output
    assert "hourglass's own" in table.output
    data = json.loads(run(flywheel_cmd, [str(events), "--format", "json"]).output)
    assert [p["new"] for p in data["periods"]] == [2, 2, 2, 1]
    assert data["meta"]["activity_from"] == "all events"
    text = run(flywheel_cmd, [str(events), "--format", "csv", "--period", "quarter"]).output
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [r["period"] for r in lines] == ["2024-Q1", "2024-Q2"] and "note" in lines[0]
    out = tmp_path / "m.json"
    res = run(flywheel_cmd, [str(events), "--format", "json", "--out", str(out), "--by", "channel"])
    assert res.exit_code == 0 and json.loads(out.read_text())["breakdown"] == "channel"
    bad = run(flywheel_cmd, [str(events), "--activity", "purchases", "--activity-events", "x"])
    assert bad.exit_code == 2 and "HG162" in bad.output


# ---- DuckDB = Spark -------------------------------------------------------------------------------


def test_duckdb_equals_spark_on_the_hand_log(engine: hourglass.Engine, tmp_path: Path) -> None:
    path = tmp_path / f"events-{random.getrandbits(32)}.parquet"
    frame().to_parquet(path)
    got = flywheel(str(path), spend=SPEND, engine=engine, by=None).to_dict()
    want = flywheel(frame(), spend=SPEND).to_dict()
    got.pop("meta"), want.pop("meta")
    assert got == want
    grouped = flywheel(str(path), engine=engine, by="channel", period="quarter").to_dict()
    assert [g["value"] for g in grouped["groups"]] == ["ads", "search", None]


# ---- the simulator: the loop's figures agree with the lifecycle's referral loop ---------------------


def test_the_simulated_shop_agrees_with_the_referral_loop(demo_parquet: Path) -> None:
    from hourglass.engine.run_referrals import run_referrals
    from hourglass.model.presets import preset

    ev = hourglass.events(str(demo_parquet))
    result = flywheel(ev)
    loop = run_referrals(ev, preset("hourglass")).to_dict()
    s = result.to_dict()["summary"]
    periods = result.to_dict()["periods"]
    # with every event counting as activity, every customer is new exactly once
    assert sum(p["new"] for p in periods) == loop["customers"] == result.to_dict()["customers"]
    assert sum(p["new_referred"] for p in periods) == loop["referees"]
    assert (s["purchasers"], s["referred_purchasers"]) == (loop["purchasers"], loop["referred_purchasers"])
    assert s["k_factor"] == pytest.approx(loop["k_factor"])
    assert s["viral"]["c0"] == periods[0]["new"] and s["viral"]["k"] == s["k_factor"]
    assert 0 < s["loop_share"] < 0.2 and s["cycle_time_median_s"] > 0


@pytest.mark.parametrize("dialect", ["clickhouse", "postgres"])
def test_the_plan_compiles_for_other_sql_engines(dialect: str) -> None:
    import ibis

    from hourglass.ingest.spend import read_spend
    from hourglass.interfaces.flywheel_api import flywheel_plan
    from hourglass.model.presets import preset

    ev = hourglass.events(frame())
    plan = flywheel_plan(ev, GrowthSpec(), preset("hourglass"), spend=read_spend(SPEND))
    queries = plan.expressions()
    assert {"active", "states", "churn", "rev_states", "sources", "purchasers", "cycle"} <= set(queries)
    for expr in queries.values():
        assert "SELECT" in ibis.to_sql(expr, dialect=dialect)
