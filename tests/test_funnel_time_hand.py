"""The funnel over time on the worked example of docs/semantics-funnel-time.md (hand-checked
numbers), on every engine (DuckDB = Spark), through the CLI, and its errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.cli import cli
from hourglass.interfaces.funnel_views_api import (
    events_to_convert,
    funnel_trend,
    time_to_convert,
    trend_and_time,
)
from hourglass.model.errors import SpecError
from journeys import journeys

LOG = journeys(
    {
        "a": [
            ("visit", "2024-01-01 10:00"),
            ("view", "2024-01-01 10:10"),
            ("signup", "2024-01-01 10:20"),
            ("view", "2024-01-01 12:00"),
            ("purchase", "2024-01-02 09:00"),
        ],
        "b": [("visit", "2024-01-03 10:00"), ("signup", "2024-01-05 10:00")],
        "c": [("visit", "2024-01-20 10:00")],
        "d": [
            ("visit", "2024-01-21 23:00"),
            ("signup", "2024-01-22 01:00"),
            ("purchase", "2024-01-22 02:00"),
        ],
    }
)
STEPS = ["visit", "signup", "purchase"]


def _hist(result: dict[str, Any], step: str, key: str, value: str) -> dict[str, Any]:
    return next(h for h in result["histograms"] if h["step"] == step and h[key] == value)


def _bins(h: dict[str, Any]) -> dict[str, int]:
    return {b["label"]: b["customers"] for b in h["bins"] if b["customers"]}


def test_trend_by_week_month_day() -> None:
    got = funnel_trend(LOG, STEPS, period="week").to_dict()
    assert got["as_of"] == "2024-01-22T02:00:00"
    weeks = {p["start"]: p for p in got["periods"]}
    assert list(weeks) == ["2024-01-01", "2024-01-08", "2024-01-15"]
    w1, w2, w3 = weeks.values()
    assert (w1["entered"], w1["converted"], w1["complete"]) == (2, 1, True)
    assert [s["customers"] for s in w1["steps"]] == [2, 2, 1]
    assert (round(w1["conversion_low"], 4), round(w1["conversion_high"], 4)) == (0.0945, 0.9055)
    assert w2["entered"] == 0 and w2["conversion"] is None
    assert w2["conversion_reason"] == "nobody entered the funnel in this period"
    assert w2["steps"][1]["conversion_from_first_reason"] == w2["conversion_reason"]
    assert (w3["entered"], w3["converted"], w3["complete"]) == (2, 1, False)
    assert "has not elapsed" in w3["incomplete_reason"]
    months = funnel_trend(LOG, STEPS, period="month").to_dict()["periods"]
    assert [(p["start"], p["entered"], p["converted"], p["complete"]) for p in months] == [
        ("2024-01-01", 4, 2, False)
    ]
    days = funnel_trend(LOG, STEPS, period="day").to_dict()["periods"]
    assert len(days) == 21 and days[1]["entered"] == 0 and days[20]["start"] == "2024-01-21"


def test_trend_cut_by_the_range() -> None:
    got = funnel_trend(LOG, STEPS, period="week", since="2024-01-03", until="2024-01-10").to_dict()
    assert [(p["start"], p["entered"]) for p in got["periods"]] == [("2024-01-01", 1), ("2024-01-08", 0)]
    assert "--since" in got["periods"][0]["incomplete_reason"]
    assert "--until" in got["periods"][1]["incomplete_reason"]


def test_time_to_convert() -> None:
    got = time_to_convert(LOG, STEPS).to_dict()
    signup = _hist(got, "signup", "from", "previous")
    assert signup["customers"] == 3 and signup["median_s"] == 7200.0
    assert signup["p90_s"] == pytest.approx(139_680.0)
    assert _bins(signup) == {"5 min – 30 min": 1, "2 h – 12 h": 1, "1 d – 3 d": 1}
    assert [b["label"] for b in signup["bins"]][-1] == "3 d – 7 d"  # the window ends the bins
    purchase = _hist(got, "purchase", "from", "previous")
    assert purchase["median_s"] == 42_600.0
    assert _bins(purchase) == {"30 min – 2 h": 1, "12 h – 1 d": 1}
    assert _hist(got, "purchase", "from", "entry")["median_s"] == 46_800.0
    hour = time_to_convert(LOG, STEPS, window="1h").to_dict()
    assert [b["label"] for b in hour["histograms"][0]["bins"]] == [
        "< 1 min",
        "1 min – 5 min",
        "5 min – 30 min",
        "30 min – 1 h",
    ]


def test_events_to_convert() -> None:
    got = events_to_convert(LOG, STEPS, session_gap="30m").to_dict()
    ev_signup = _hist(got, "signup", "what", "events")
    assert (ev_signup["customers"], ev_signup["median"], ev_signup["p90"]) == (3, 2.0, pytest.approx(2.8))
    assert _bins(ev_signup) == {"2": 2, "3": 1}
    assert _bins(_hist(got, "signup", "what", "sessions")) == {"1": 1, "2": 2}
    assert _hist(got, "purchase", "what", "events")["median"] == 4.0
    assert _bins(_hist(got, "purchase", "what", "sessions")) == {"3": 2}
    # a 2 h gap joins a's 10:20 and 12:00 (100 min apart): 2 sessions; d's 23:00 and 01:00 are
    # exactly 2 h apart, a new session (a gap of the session gap or more), then 01:00-02:00: 2
    long = events_to_convert(LOG, STEPS, session_gap="2h").to_dict()
    assert _bins(_hist(long, "purchase", "what", "sessions")) == {"2": 2}


def test_any_order_has_no_times_and_the_errors() -> None:
    got = time_to_convert(LOG, STEPS, mode="any_order").to_dict()
    assert all(h["bins"] is None and "any_order" in h["bins_reason"] for h in got["histograms"])
    with pytest.raises(SpecError) as e:
        funnel_trend(LOG, STEPS, period="quarter")
    assert e.value.code == "HG142"
    with pytest.raises(SpecError) as e:
        funnel_trend(LOG, STEPS, open=True)
    assert e.value.code == "HG145"
    with pytest.raises(SpecError) as e:
        events_to_convert(LOG, STEPS, session_gap="30")
    assert e.value.code == "HG107"


def test_cli_views(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    LOG.to_csv(path, index=False)
    runner = CliRunner()
    base = ["funnel", str(path), "--steps", ",".join(STEPS)]
    out = runner.invoke(cli, [*base, "--view", "trend", "--period", "week"])
    assert out.exit_code == 0, out.output
    assert "2024-01-08" in out.output and "incomplete*" in out.output
    out = runner.invoke(cli, [*base, "--view", "time", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["histograms"][0]["median_s"] == 7200.0
    out = runner.invoke(cli, [*base, "--view", "events", "--session-gap", "2h", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("step,what,customers,median,p90,mean,bin,bin_customers,share")
    out = runner.invoke(cli, [*base, "--view", "trend", "--by", "event"])
    assert out.exit_code == 2 and "HG145" in out.output


def test_on_every_engine(engine: hourglass.Engine, tmp_path_factory: pytest.TempPathFactory) -> None:
    """DuckDB = Spark: the report's combined plan (trend and time on one materialised chains table)
    and the events view, against the separate views on DuckDB (two runs: Spark is slow per query)."""
    path = tmp_path_factory.mktemp("ftime") / "hand.parquet"
    LOG.to_parquet(path, index=False)
    ev = hourglass.events(str(path), engine=engine, validate=False)  # the log is clean: the views are tested
    trend, times = trend_and_time(ev, STEPS, period="week")
    got = [trend.to_dict(), times.to_dict(), events_to_convert(ev, STEPS).to_dict()]
    want = [
        funnel_trend(LOG, STEPS, period="week").to_dict(),
        time_to_convert(LOG, STEPS).to_dict(),
        events_to_convert(LOG, STEPS).to_dict(),
    ]
    for g, w in zip(got, want, strict=True):
        g.pop("meta"), w.pop("meta")
        assert g == w


def test_optional_step() -> None:
    """``signup?``: counted where the funnel counts it; purchase's time "from previous" is from the
    previous required step (visit), as the funnel's own median."""
    steps = ["visit", "signup?", "purchase"]
    month = funnel_trend(LOG, steps, period="month").to_dict()["periods"][0]
    assert [(s["step"], s["customers"]) for s in month["steps"]] == [
        ("visit", 4),
        ("signup", 3),
        ("purchase", 2),
    ]
    times = time_to_convert(LOG, steps).to_dict()
    purchase = _hist(times, "purchase", "from", "previous")
    assert purchase["median_s"] == 46_800.0
    assert purchase["median_s"] == hourglass.funnel(LOG, steps).steps[2].median_time_s
    events = events_to_convert(LOG, steps).to_dict()
    assert _hist(events, "purchase", "what", "events")["median"] == 4.0
    with pytest.raises(SpecError) as e:
        funnel_trend(LOG, ["visit", "purchase"], count="totals")
    assert e.value.code == "HG145"


def test_a_step_no_event_matches_is_not_measured() -> None:
    """A typo in a step: it and the steps after it are null with the funnel's reason, never 0."""
    steps = ["visit", "purchas", "purchase"]
    week = funnel_trend(LOG, steps, period="week").to_dict()["periods"][0]
    assert (
        week["steps"][1]["customers"] is None and "matches no event" in week["steps"][1]["customers_reason"]
    )
    assert (
        week["steps"][2]["customers"] is None
        and "follows step 'purchas'" in week["steps"][2]["customers_reason"]
    )
    assert week["conversion"] is None and week["conversion_reason"] == week["steps"][2]["customers_reason"]
    times = time_to_convert(LOG, steps)
    assert times.meta["notes"] == [
        "step 'purchas': no event named 'purchas' in the source (did you mean 'purchase'?)"
    ]
    assert all(h["bins"] is None and h["customers_reason"] for h in times.to_dict()["histograms"])
    events = events_to_convert(LOG, steps).to_dict()
    assert all(h["customers"] is None for h in events["histograms"])


# docs/semantics-funnel-time.md, "Worked example: optional steps and --hold"
HELD = journeys(
    {
        "kim": [
            ("visit", "2024-01-01 10:00", {"device": "desktop"}),
            ("signup", "2024-01-01 10:05", {"device": "mobile"}),
            ("purchase", "2024-01-01 10:10", {"device": "desktop"}),
            ("review", "2024-01-01 11:10", {"device": "desktop"}),
        ],
        "lou": [
            ("visit", "2024-01-02 10:00", {"device": "mobile"}),
            ("signup", "2024-01-02 10:05", {"device": "mobile"}),
            ("purchase", "2024-01-02 10:10", {"device": "mobile"}),
        ],
        "max": [
            ("visit", "2024-01-03 09:00", {"device": "mobile"}),
            ("signup", "2024-01-03 09:30", {"device": "mobile"}),
        ],
        "ned": [
            ("visit", "2024-01-09 12:00", {"device": "desktop"}),
            ("review", "2024-01-09 13:00", {"device": "desktop"}),
        ],
    }
)
HELD_STEPS = ["visit", "signup?", "purchase", "review?"]


def test_trend_with_optional_steps_and_hold() -> None:
    """``converted`` is the last *required* step (purchase: 2 of 3), not the trailing optional review
    (1 of 3); each step's share is of the previous required step; kim's mobile signup is off her
    desktop chain, ned's review has no purchase before it."""
    got = funnel_trend(HELD, HELD_STEPS, window="1d", hold="device", period="week").to_dict()
    assert got["converted_step"] == "purchase"
    w1, w2 = got["periods"]
    assert (w1["start"], w1["entered"], w1["converted"], w1["complete"]) == ("2024-01-01", 3, 2, True)
    assert w1["conversion"] == pytest.approx(2 / 3)
    assert (round(w1["conversion_low"], 4), round(w1["conversion_high"], 4)) == (0.2077, 0.9385)
    rows = [(s["customers"], s["conversion_from_previous"], s["dropped"], s["optional"]) for s in w1["steps"]]
    assert rows == [(3, 1.0, 0, False), (2, 2 / 3, None, True), (2, 2 / 3, 1, False), (1, 0.5, None, True)]
    assert (w2["entered"], w2["converted"], w2["conversion"], w2["complete"]) == (1, 0, 0.0, False)
    assert [s["customers"] for s in w2["steps"]] == [1, 0, 0, 0]
    # the periods add up to the funnel's own counts
    funnel = hourglass.funnel(HELD, HELD_STEPS, window="1d", hold="device").rows()
    assert [r["customers"] for r in funnel] == [4, 2, 2, 1]


def test_time_and_events_with_optional_steps_and_hold() -> None:
    """purchase "from previous" is from visit (the previous required step), as the funnel's median;
    review's is from purchase; kim's mobile signup is among her events to purchase."""
    kw: dict[str, Any] = {"window": "1d", "hold": "device"}
    times = time_to_convert(HELD, HELD_STEPS, **kw).to_dict()
    signup = _hist(times, "signup", "from", "previous")
    assert (signup["customers"], signup["median_s"], signup["p90_s"]) == (2, 1050.0, pytest.approx(1650.0))
    assert _bins(signup) == {"5 min – 30 min": 1, "30 min – 2 h": 1}
    purchase = _hist(times, "purchase", "from", "previous")
    assert (purchase["customers"], purchase["median_s"]) == (2, 600.0)
    assert purchase["median_s"] == hourglass.funnel(HELD, HELD_STEPS, **kw).steps[2].median_time_s
    review = [_hist(times, "review", "from", o)["median_s"] for o in ("previous", "entry")]
    assert review == [3600.0, 4200.0]
    events = events_to_convert(HELD, HELD_STEPS, session_gap="30m", **kw).to_dict()
    assert _bins(_hist(events, "signup", "what", "events")) == {"2": 2}
    assert _bins(_hist(events, "signup", "what", "sessions")) == {"1": 1, "2": 1}  # max: 30 min apart
    assert _bins(_hist(events, "purchase", "what", "events")) == {"3": 2}
    assert _bins(_hist(events, "review", "what", "events")) == {"4": 1}
    assert _bins(_hist(events, "review", "what", "sessions")) == {"2": 1}  # kim: 10:10 to 11:10


# two Spark runs (about 30 s at load 7 on 2 cores; DuckDB's numbers are the hand-checked tests above)
@pytest.mark.spark
def test_optional_steps_and_hold_on_spark(
    spark_engine: hourglass.Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """DuckDB = Spark with optional steps (one trailing) and --hold: the combined plan and the
    events view (the optional steps' own times, o{k} flags and the held chains)."""
    path = tmp_path_factory.mktemp("ftime") / "held.parquet"
    HELD.to_parquet(path, index=False)
    ev = hourglass.events(str(path), engine=spark_engine, validate=False)
    kw: dict[str, Any] = {"window": "1d", "hold": "device"}
    trend, times = trend_and_time(ev, HELD_STEPS, period="week", **kw)
    got = [trend.to_dict(), times.to_dict(), events_to_convert(ev, HELD_STEPS, **kw).to_dict()]
    want = [
        funnel_trend(HELD, HELD_STEPS, period="week", **kw).to_dict(),
        time_to_convert(HELD, HELD_STEPS, **kw).to_dict(),
        events_to_convert(HELD, HELD_STEPS, **kw).to_dict(),
    ]
    for g, w in zip(got, want, strict=True):
        g.pop("meta"), w.pop("meta")
        assert g == w
    assert got[0]["periods"][0]["converted"] == 2
