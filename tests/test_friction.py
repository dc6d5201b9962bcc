"""Friction (docs/semantics-friction.md): stalls and friction events on a hand-checked log, the
Mantel-Haenszel risk difference and Benjamini-Hochberg by hand, a plain-Python reference with a
seeded property test, the simulator's planted late-delivery effect recovered, DuckDB = Spark."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hourglass
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces.friction_api import friction
from hourglass.model.errors import SpecError
from hourglass.model.friction import StratumCounts, benjamini_hochberg, mh_risk_difference
from hourglass.model.journey import JourneyModel

D0 = datetime(2024, 1, 1, 10)
MODEL = JourneyModel.from_dict(
    {
        "name": "shop",
        "kind": "hourglass",
        "sale": "purchase",
        "stages": [
            {"name": "visit", "events": ["visit"]},
            {"name": "purchase", "events": ["purchase"]},
            {"name": "repeat", "events": ["repeat"]},
        ],
    }
)
DAY = 86400.0


def _log(spec: dict[str, tuple[str, list[tuple[str, int]]]]) -> pd.DataFrame:
    rows = []
    for cust, (channel, evs) in spec.items():
        for name, day in evs:
            rev = 10.0 if name == "purchase" else 5.0 if name == "repeat" else None
            rows.append(
                {
                    "customer": cust,
                    "event": name,
                    "timestamp": D0 + timedelta(days=day),
                    "channel": channel,
                    "revenue": rev,
                }
            )
    return pd.DataFrame(rows).astype({"revenue": "float64"})


# day numbers from Jan 1 (10:00): the exposure window of purchase is [purchase, first repeat)
HAND = {
    "x1": ("X", [("visit", 0), ("purchase", 1), ("late", 2), ("repeat", 9)]),  # exposed, converted
    "x2": ("X", [("visit", 0), ("purchase", 1), ("late", 2)]),  # exposed, not converted
    "x3": ("X", [("visit", 0), ("purchase", 1), ("repeat", 4)]),
    "x4": ("X", [("visit", 0), ("purchase", 1), ("repeat", 5)]),
    "y1": ("Y", [("visit", 0), ("purchase", 1), ("late", 2)]),  # exposed, not converted
    "y2": ("Y", [("visit", 0), ("purchase", 1), ("repeat", 7)]),
    "y3": ("Y", [("visit", 0), ("purchase", 1)]),
    "y4": ("Y", [("visit", 0), ("purchase", 1), ("repeat", 4), ("late", 6)]),  # late after: unexposed
}


def test_mantel_haenszel_by_hand() -> None:
    # X: exposed 1/2 converted, unexposed 2/2; Y: exposed 0/1, unexposed 2/3 (the hand log below)
    rd, var = mh_risk_difference([StratumCounts(2, 1, 2, 2), StratumCounts(1, 0, 3, 2)])  # type: ignore[misc]
    # sum (a1 n0 - a0 n1)/N = (2-4)/4 + (0-2)/4 = -1; sum n1 n0/N = 1 + 0.75 = 1.75
    assert rd == pytest.approx(-1 / 1.75)
    # Sato: sum P = 4/16 + 5/16 = 0.5625, sum Q = 2/8 + 2/8 = 0.5
    assert var == pytest.approx((rd * 0.5625 + 0.5) / 1.75**2)
    # one stratum: the Wald variance of a difference of two proportions
    rd1, var1 = mh_risk_difference([StratumCounts(10, 3, 20, 12)])  # type: ignore[misc]
    assert rd1 == pytest.approx(0.3 - 0.6)
    assert var1 == pytest.approx(0.3 * 0.7 / 10 + 0.6 * 0.4 / 20)
    assert mh_risk_difference([StratumCounts(3, 1, 0, 0), StratumCounts(0, 0, 4, 2)]) is None


def test_mantel_haenszel_is_not_fooled_by_the_channel_mix() -> None:
    # within each channel the friction changes nothing; the exposed come mostly from the bad channel
    good, bad = StratumCounts(10, 8, 90, 72), StratumCounts(90, 18, 10, 2)
    rd, _ = mh_risk_difference([good, bad])  # type: ignore[misc]
    assert rd == pytest.approx(0.0, abs=1e-12)
    crude = (8 + 18) / 100 - (72 + 2) / 100
    assert crude == pytest.approx(-0.48)


def test_benjamini_hochberg_by_hand() -> None:
    # m = 4: sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, 0.04, 0.04, 0.5 (step-up minimum from the top)
    got = benjamini_hochberg([0.03, None, 0.5, 0.01, 0.02])
    assert got[1] is None
    assert got == pytest.approx([0.04, None, 0.5, 0.04, 0.04])
    assert benjamini_hochberg([0.9, 0.8]) == pytest.approx([0.9, 0.9])
    assert benjamini_hochberg([]) == []


def test_hand_log() -> None:
    r = friction(_log(HAND), MODEL, frictions="late,nope", strata="channel,cohort", min_group=1).to_dict()
    rows = {(f["friction"], f["stage"]): f for f in r["frictions"]}
    row = rows[("late", "purchase")]
    assert (row["exposed"], row["converted_exposed"], row["unexposed"], row["converted_unexposed"]) == (
        3,
        1,
        5,
        4,
    )
    assert row["crude_difference"] == pytest.approx(1 / 3 - 4 / 5)
    rd = -1 / 1.75
    se = math.sqrt((rd * 0.5625 + 0.5) / 1.75**2)
    assert row["difference"] == pytest.approx(rd)
    assert rd - 1.959963984540054 * se < -1 and row["difference_low"] == -1.0  # clipped
    assert row["difference_high"] == pytest.approx(rd + 1.959963984540054 * se)
    assert row["strata"] == 2 and row["strata_used"] == 2
    # revenue after the conversion of the 5 converters: one repeat of 5.0 each
    assert row["revenue_per_conversion"] == pytest.approx(5.0)
    assert row["customers_lost"] == pytest.approx(-rd * 3)
    assert row["revenue_lost"] == pytest.approx(-rd * 3 * 5.0)
    assert ("late", "visit") not in rows  # nobody had it while in visit
    # by default fewer than 10 with (or without) the friction: no normal interval, with the reason
    small = friction(_log(HAND), MODEL, frictions="late").frictions[0]
    assert small["difference"] == pytest.approx(rd) and small["difference_low"] is None
    assert small["p_value"] is None and "3 customers with the friction" in small["p_value_reason"]
    nope = rows[("nope", None)]
    assert nope["difference"] is None and "no 'nope' event" in nope["difference_reason"]
    assert [f["rank"] for f in r["frictions"]] == [1, 2]
    stalls = {s["stage"]: s for s in r["stalls"]}
    assert stalls["visit"]["p50_s"] == pytest.approx(DAY) and stalls["visit"]["over_threshold"] == 0
    p = stalls["purchase"]  # times 8, 3, 4, 6, 3 days; p90 = 6 + 0.6 * 2 = 7.2 d
    assert p["left"] == 5 and p["p50_s"] == pytest.approx(4 * DAY) and p["p90_s"] == pytest.approx(7.2 * DAY)
    assert p["over_threshold"] == 1 and p["over_share"] == pytest.approx(0.2)
    # as of the last event (x1's repeat, day 9): x2, y1, y3 in purchase for 8 days > 7.2
    assert (p["current"], p["stalled_now"]) == (3, 3)
    rep = stalls["repeat"]
    assert rep["p90_s"] is None and rep["stalled_now"] is None and "--target" in rep["stalled_now_reason"]
    assert r["meta"]["as_of"].startswith("2024-01-10T10:00")


def test_targets_within_and_the_stalled_customers(tmp_path: Path) -> None:
    out = tmp_path / "stalled.csv"
    r = friction(
        _log(HAND), MODEL, frictions=["late"], targets="purchase=9d,repeat=1d", customers=out
    ).to_dict()
    stalls = {s["stage"]: s for s in r["stalls"]}
    assert stalls["purchase"]["threshold"] == "target" and stalls["purchase"]["stalled_now"] == 0
    assert stalls["purchase"]["over_threshold"] == 0
    # repeat as of day 9: x1 entered day 9 (0 d), x3 day 4 (5 d), x4 day 5 (4 d), y2 day 7 (2 d),
    # y4 day 4 (5 d) -> 4 past 1 day
    assert stalls["repeat"]["stalled_now"] == 4 and stalls["repeat"]["current"] == 5
    listed = pd.read_csv(out)
    assert sorted(listed.customer) == ["x3", "x4", "y2", "y4"] and set(listed.stage) == {"repeat"}
    # within 5 days of the purchase, observed only if purchase + 5 d <= as_of (all are):
    # x1's repeat (8 d) no longer converts and his window ends at day 6
    r = friction(_log(HAND), MODEL, frictions=["late"], within="5d", strata="none").to_dict()
    row = next(f for f in r["frictions"] if f["stage"] == "purchase")
    assert (row["exposed"], row["converted_exposed"], row["unexposed"], row["converted_unexposed"]) == (
        3,
        0,
        5,
        3,
    )
    assert row["difference"] == pytest.approx(0 - 3 / 5)


def test_spec_errors() -> None:
    with pytest.raises(SpecError) as e:
        friction(_log(HAND), MODEL, targets="purchse=3d")
    assert e.value.code == "HG166" and "purchase" in str(e.value)
    with pytest.raises(SpecError) as e:
        friction(_log(HAND), MODEL, targets="purchase")
    assert e.value.code == "HG165"
    with pytest.raises(SpecError) as e:
        friction(_log(HAND), MODEL, period="fortnight")
    assert e.value.code == "HG167"
    with pytest.raises(SpecError) as e:
        friction(_log(HAND), MODEL, customers="x.txt")
    assert e.value.code == "HG168"


def test_without_revenue_or_frictions_it_says_why() -> None:
    log = _log(HAND).drop(columns=["revenue"])
    r = friction(log, MODEL, frictions="late").to_dict()
    row = r["frictions"][0]
    assert row["revenue_lost"] is None and "--revenue-col" in row["revenue_lost_reason"]
    assert row["customers_lost"] is not None
    r = friction(log, MODEL).to_dict()
    assert r["frictions"] == [] and "--friction" in r["frictions_reason"]


# --- a plain-Python reference and a property test ---------------------------------------------------


def reference(log: pd.DataFrame, friction_name: str, within_days: float | None) -> dict[str, Any]:
    """Per stage with a later stage: the strata (channel x month of entry) of exposed/converted."""
    stages = ["visit", "purchase", "repeat"]
    out: dict[str, Any] = {}
    last = log.timestamp.max()
    for k, stage in enumerate(stages[:-1]):
        strata: dict[tuple[str, str], list[int]] = {}
        for _cust, g in log.groupby("customer"):
            first = {s: g.timestamp[g.event == s].min() for s in stages}
            a = first[stage]
            if pd.isna(a):
                continue
            later = [first[s] for s in stages[k + 1 :] if not pd.isna(first[s]) and first[s] > a]
            c = min(later) if later else None
            end = c
            if within_days is not None:
                w = timedelta(days=within_days)
                if a + w > last:
                    continue
                if c is not None and c > a + w:
                    c = None
                end = a + w if c is None else c
            conv = c is not None
            fts = g.timestamp[g.event == friction_name]
            exposed = any(t >= a and (end is None or t < end) for t in fts)
            chan = g.sort_values("timestamp").channel.iloc[0]
            key = (chan, f"{a.year}-{a.month:02d}")
            s = strata.setdefault(key, [0, 0, 0, 0])
            if exposed:
                s[0] += 1
                s[1] += conv
            else:
                s[2] += 1
                s[3] += conv
        if any(s[0] for s in strata.values()):
            out[stage] = [StratumCounts(*v) for v in strata.values()]
    return out


EVENTS = ["visit", "purchase", "repeat", "late"]


@st.composite
def logs(draw: Any) -> pd.DataFrame:
    rows = []
    for i in range(draw(st.integers(1, 8))):
        chan = draw(st.sampled_from(["ads", "mail"]))
        t = D0 + timedelta(days=draw(st.integers(0, 45)))
        for _ in range(draw(st.integers(1, 6))):
            t += timedelta(hours=draw(st.sampled_from([0, 1, 30, 24 * 6])))
            rows.append(
                {"customer": f"c{i}", "event": draw(st.sampled_from(EVENTS)), "timestamp": t, "channel": chan}
            )
    return pd.DataFrame(rows)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(log=logs(), within=st.sampled_from([None, 2.0]))
def test_engine_matches_the_reference(log: pd.DataFrame, within: float | None) -> None:
    got = friction(log, MODEL, frictions="late", within=None if within is None else f"{int(within)}d")
    ref = reference(log, "late", within)
    rows = {r["stage"]: r for r in got.frictions if r.get("stage") is not None}
    assert set(rows) == set(ref)
    for stage, strata in ref.items():
        row = rows[stage]
        assert row["exposed"] == sum(s.n1 for s in strata)
        assert row["converted_exposed"] == sum(s.a1 for s in strata)
        assert row["unexposed"] == sum(s.n0 for s in strata)
        assert row["converted_unexposed"] == sum(s.a0 for s in strata)
        mh = mh_risk_difference(strata)
        if mh is None:
            assert row["difference"] is None
        else:
            assert row["difference"] == pytest.approx(mh[0], abs=1e-9)


# --- recovery of a planted effect, and Spark ------------------------------------------------------------

BUY = JourneyModel.from_dict(
    {
        "name": "buy",
        "kind": "hourglass",
        "sale": "purchase",
        "stages": [
            {"name": "visit", "events": ["visit"]},
            {"name": "signup", "events": ["signup"]},
            {"name": "purchase", "events": ["purchase"]},
            {"name": "repeat", "events": ["repeat_purchase"]},
        ],
    }
)


def test_the_planted_late_delivery_effect_is_recovered(tmp_path: Path) -> None:
    table, truth = simulate_shop(15_000, seed=11, repeat_late_multiplier=0.3)
    path = tmp_path / "sim.parquet"
    pq.write_table(table, path)
    r = friction(str(path), BUY, frictions="delivery_late", within="60d")
    row = next(f for f in r.frictions if f["stage"] == "purchase")
    true_rd = truth.repeat_probability_late(True) - truth.repeat_probability_late(False)
    assert true_rd == pytest.approx(-0.2916, abs=1e-3)
    assert row["difference_low"] <= true_rd <= row["difference_high"]
    assert row["p_value"] < 0.001 and row["rank"] == 1


@pytest.mark.spark
def test_spark_equals_duckdb(tmp_path: Path, spark_engine: hourglass.Engine) -> None:
    path = tmp_path / "hand.parquet"
    _log(HAND).to_parquet(path)
    kw: dict[str, Any] = dict(frictions="late,nope", targets="purchase=9d,repeat=1d")
    a = friction(str(path), MODEL, **kw).to_dict()
    b = friction(str(path), MODEL, engine=spark_engine, **kw).to_dict()
    for d in (a, b):
        d.pop("meta")
    assert a == b
