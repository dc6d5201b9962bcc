"""``hourglass clv`` end to end (docs/semantics-clv.md): CDNOW through the CLI, the engine's summary
against a plain-Python reference (hand-checked and property-tested), DuckDB = Spark, bad input."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import hourglass
from hourglass.interfaces.cli.clv import clv_cmd
from hourglass.interfaces.clv_api import clv, clv_summary
from hourglass.model.errors import HourglassError

CDNOW = Path(__file__).parent / "data" / "cdnow_sample.txt"


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDNOW transactions as an event log: one 'purchase' per line, revenue = amount, and a
    channel (the customer id's parity, to have two channels)."""
    rows = []
    for line in CDNOW.read_text().splitlines():
        _, cid, ymd, _qty, amount = line.split()
        rows.append((cid, "purchase", f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}", float(amount), "ab"[int(cid) % 2]))
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    pd.DataFrame(rows, columns=["customer", "event", "timestamp", "revenue", "channel"]).to_csv(
        path, index=False
    )
    return path


def test_cdnow_through_the_cli(cdnow_csv: Path, tmp_path: Path) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,period,cost\na,1997-Q1,11700\nb,1997-Q1,5900\n")
    customers = tmp_path / "clv.csv"
    args = [str(cdnow_csv), "--purchase-events", "purchase", "--calibration-end", "1997-09-30"]
    r = CliRunner().invoke(
        clv_cmd, [*args, "--format", "json", "--customers", str(customers), "--spend", str(spend)]
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["model"] == "bgnbd"
    assert {k: round(v, 3) for k, v in d["params"].items()} == {
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
    }
    assert round(d["loglik"], 2) == -9582.43
    assert set(d["std_errors"]) == {"r", "alpha", "a", "b"}
    assert d["calibration"] == {
        "first_day": "1997-01-01",
        "calibration_end": "1997-09-30",
        "data_end": "1998-06-30",
        "holdout_periods": 39.0,
        "period": "week",
    }
    assert d["totals"]["customers"] == 2357 and d["totals"]["repeat_customers"] == 946
    assert round(d["spend_model"]["params"]["p"], 2) == 6.25
    # the hold-out check of FHL 2005 Figure 4: 1,411 customers without repeats bought 0.237 on average
    h = d["holdout"]
    assert [b["repeat_purchases"] for b in h] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert h[0]["customers"] == 1411 and round(h[0]["actual"], 3) == 0.237
    assert sum(b["customers"] for b in h) == 2357
    assert abs(h[0]["expected"] - h[0]["actual"]) < 0.02
    # CLV by channel next to CAC: every CDNOW customer first bought in 1997-Q1
    ch = {c["channel"]: c for c in d["channels"]}
    assert ch["a"]["customers"] + ch["b"]["customers"] == 2357
    assert ch["a"]["cac"] == pytest.approx(11700 / ch["a"]["customers"])
    assert ch["a"]["clv_to_cac"] == pytest.approx(ch["a"]["mean_clv"] / ch["a"]["cac"])
    per = pd.read_csv(customers)
    assert len(per) == 2357
    assert per["clv"].mean() == pytest.approx(d["totals"]["mean_clv"])
    assert per["p_alive"].between(0, 1).all() and (per.loc[per.frequency == 0, "p_alive"] == 1).all()
    holdout_days = {
        (line.split()[1], line.split()[2])
        for line in CDNOW.read_text().splitlines()
        if line.split()[2] > "19970930"
    }
    assert (per.holdout_purchases.sum(), per.frequency.sum()) == (len(holdout_days), 2457)
    table = CliRunner().invoke(clv_cmd, args)
    assert table.exit_code == 0 and "0.243" in table.stdout and "hold-out" in table.stdout


def test_paretonbd_through_the_api(cdnow_csv: Path) -> None:
    r = clv(cdnow_csv, "paretonbd", purchase_events=["purchase"], calibration_end="1997-09-30")
    assert round(r.fit.params["r"], 3) == 0.553 and round(r.fit.loglik, 1) == -9595.0
    assert r.to_dict()["model"] == "paretonbd"


# ---------------------------------------------------------------- the summary


def reference_summary(
    events: list[tuple[str, str, datetime, float | None]], cal_end: date | None
) -> dict[str, Any]:
    """Plain Python: per customer with a purchase on or before ``cal_end``, the purchase days."""
    days: dict[str, dict[date, list[float | None]]] = {}
    for cust, ev, ts, rev in events:
        if ev == "purchase":
            days.setdefault(cust, {}).setdefault(ts.date(), []).append(rev)
    out = {}
    for cust, per in days.items():
        cal = sorted(d for d in per if cal_end is None or d <= cal_end)
        if not cal:
            continue
        repeat = [d for d in cal[1:] if any(v is not None for v in per[d])]
        out[cust] = {
            "first_day": cal[0],
            "last_day": cal[-1],
            "days": len(cal),
            "repeat_valued": len(repeat),
            "repeat_value": sum(sum(v for v in per[d] if v is not None) for d in repeat) if repeat else None,
            "holdout": sum(1 for d in per if cal_end is not None and d > cal_end),
        }
    return out


def engine_summary(df: pd.DataFrame, cal_end: date | None, engine: Any = None) -> dict[str, Any]:
    got = clv_summary(
        df, purchase_events=["purchase"], calibration_end=cal_end and cal_end.isoformat(), engine=engine
    )
    epoch = date(1970, 1, 1)
    out = {}
    for r in got["summary"]:
        out[r["customer"]] = {
            "first_day": epoch + timedelta(days=r["first_day"]),
            "last_day": epoch + timedelta(days=r["last_day"]),
            "days": r["days"],
            "repeat_valued": r["repeat_valued"],
            "repeat_value": r["repeat_value"] if r["repeat_valued"] else None,
            "holdout": r["holdout"],
        }
    return out


T0 = datetime(2024, 1, 1)
HAND = [
    ("a", "purchase", T0, 10.0),
    ("a", "purchase", T0 + timedelta(hours=5), 5.0),  # same day: one transaction of 15
    ("a", "visit", T0 + timedelta(days=1), None),
    ("a", "purchase", T0 + timedelta(days=3), 20.0),
    ("a", "purchase", T0 + timedelta(days=10), 7.0),  # after the calibration end: hold-out
    ("b", "purchase", T0 + timedelta(days=2), 9.0),
    ("c", "purchase", T0 + timedelta(days=8), 1.0),  # first purchase after the end: not a customer
]


def _df(events: Sequence[tuple[str, str, datetime, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(events, columns=["customer", "event", "timestamp", "revenue"])


def test_hand_checked_summary() -> None:
    got = engine_summary(_df(HAND), date(2024, 1, 7))
    assert got == {
        "a": {
            "first_day": date(2024, 1, 1),
            "last_day": date(2024, 1, 4),
            "days": 2,
            "repeat_valued": 1,
            "repeat_value": 20.0,
            "holdout": 1,
        },
        "b": {
            "first_day": date(2024, 1, 3),
            "last_day": date(2024, 1, 3),
            "days": 1,
            "repeat_valued": 0,
            "repeat_value": None,
            "holdout": 0,
        },
    }
    assert got == reference_summary(HAND, date(2024, 1, 7))


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[tuple[str, str, datetime, float | None]], date | None]:
    n = draw(st.integers(1, 25))
    events = []
    for _ in range(n):
        cust = draw(st.sampled_from("abcdef"))
        ev = draw(st.sampled_from(["purchase", "purchase", "visit"]))
        ts = T0 + timedelta(minutes=draw(st.integers(0, 20 * 24 * 60)))
        rev = draw(st.one_of(st.none(), st.floats(0.5, 100).map(lambda v: round(v, 2))))
        events.append((cust, ev, ts, rev))
    # the end is at least the data's first day (the API refuses ends outside the data)
    cal = draw(st.one_of(st.none(), st.integers(0, 20).map(lambda d: date(2024, 1, 1) + timedelta(days=d))))
    return events, cal


@settings(max_examples=40, deadline=None, derandomize=True)
@given(logs())
def test_summary_matches_the_reference(
    case: tuple[list[tuple[str, str, datetime, float | None]], date | None],
) -> None:
    events, cal = case
    got = engine_summary(_df(events), cal)
    want = reference_summary(events, cal)
    assert got.keys() == want.keys()
    for k in want:
        g, w = got[k], want[k]
        if w["repeat_value"] is not None:
            assert g.pop("repeat_value") == pytest.approx(w.pop("repeat_value"))
        assert g == w


@pytest.mark.spark
def test_summary_duckdb_equals_spark(spark_engine: hourglass.Engine, tmp_path: Path) -> None:
    path = tmp_path / "hand.parquet"
    _df(HAND).to_parquet(path)
    spark = engine_summary(str(path), date(2024, 1, 7), spark_engine)  # type: ignore[arg-type]
    assert spark == engine_summary(_df(HAND), date(2024, 1, 7)) == reference_summary(HAND, date(2024, 1, 7))


# ---------------------------------------------------------------- bad input


def _repeat_log(revenue: bool = True) -> pd.DataFrame:
    """120 customers buying every ~8 days from a first day in the first 30 and dropping out with
    probability 0.3 after each purchase; 120 days observed."""
    import random

    rnd = random.Random(3)
    rows = []
    for i in range(120):
        t = rnd.uniform(0, 30)
        while t < 120:
            rows.append((f"c{i}", "purchase", T0 + timedelta(days=t), round(rnd.uniform(5, 50), 2)))
            if rnd.random() < 0.3:
                break
            t += rnd.expovariate(1 / 8)
    df = _df(rows)
    return df if revenue else df.drop(columns="revenue")


def test_no_revenue_column_fits_purchases_and_says_why_spend_is_null() -> None:
    r = clv(_repeat_log(revenue=False), purchase_events=["purchase"])
    d = r.to_dict()
    assert d["params"]["r"] > 0 and math.isfinite(d["loglik"])
    assert d["spend_model"] is None and "--revenue-col" in d["spend_model_reason"]
    assert d["totals"]["mean_clv"] is None and "--revenue-col" in d["totals"]["mean_clv_reason"]
    assert d["holdout"] is None and "--calibration-end" in d["holdout_reason"]
    assert all(c["clv"] is None and c["p_alive"] is not None for c in r.customers)


def test_customers_with_one_purchase_only_is_hg185() -> None:
    df = _df([(f"c{i}", "purchase", T0 + timedelta(days=i), 5.0) for i in range(20)])
    with pytest.raises(HourglassError) as e:
        clv(df, purchase_events=["purchase"])
    assert e.value.code == "HG185" and "--calibration-end" in (e.value.hint or "")


@pytest.mark.parametrize("end", ["2023-12-01", "2030-01-01"])
def test_calibration_end_outside_the_data_is_hg183(end: str) -> None:
    r = CliRunner().invoke(clv_cmd, ["x.csv", "--help"])  # the command exists and documents the flag
    assert "--calibration-end" in r.stdout
    with pytest.raises(HourglassError) as e:
        clv(_repeat_log(), purchase_events=["purchase"], calibration_end=end)
    assert e.value.code == "HG183" and e.value.hint


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"fit": "bgndb"}, "HG180"),
        ({"period": "month"}, "HG181"),
        ({"horizon": "12h"}, "HG182"),
        ({"discount_rate": -1}, "HG182"),
        ({"customers": "out.txt"}, "HG187"),
    ],
)
def test_bad_options_are_coded(kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(HourglassError) as e:
        clv(_repeat_log(), purchase_events=["purchase"], **kwargs)
    assert e.value.code == code and e.value.hint


def test_a_model_without_purchases_is_hg184() -> None:
    from hourglass.model.journey import JourneyModel
    from hourglass.model.steps import Step

    jm = JourneyModel("m", "funnel", (Step("seen", ("visit",)),))
    with pytest.raises(HourglassError) as e:
        clv(_repeat_log(), model=jm)
    assert e.value.code == "HG184"


def test_the_cli_reports_a_code_not_a_traceback(tmp_path: Path) -> None:
    ev = tmp_path / "ev.csv"
    _repeat_log().to_csv(ev, index=False)
    r = CliRunner().invoke(
        clv_cmd, [str(ev), "--purchase-events", "purchase", "--calibration-end", "2031-01-01"]
    )
    assert r.exit_code == 2 and "HG183" in r.output


def _cohort_log(alive: list[int]) -> pd.DataFrame:
    """Fader & Hardie's cohort as weekly renewals: everyone buys on day 0; a customer lost in period t
    renews at weeks 1 .. t-1; the survivors renew every week to week 7, the calibration end."""
    rows: list[tuple[str, str, datetime, float | None]] = []
    i = 0
    lost = [alive[k - 1] - alive[k] for k in range(1, len(alive))]
    for t, n in enumerate(lost, start=1):
        for _ in range(n):
            rows += [(f"c{i}", "purchase", T0 + timedelta(weeks=w), 10.0) for w in range(t)]
            i += 1
    for _ in range(alive[-1]):
        rows += [(f"c{i}", "purchase", T0 + timedelta(weeks=w), 10.0) for w in range(len(alive))]
        i += 1
    rows.append(("z", "visit", T0 + timedelta(weeks=10), None))  # the data go on after the calibration end
    return _df(rows)


def test_sbg_from_an_event_log_reproduces_the_cohort(tmp_path: Path) -> None:
    path = tmp_path / "cohort.parquet"
    _cohort_log([1000, 631, 468, 382, 326, 289, 262, 241]).to_parquet(path)
    end = (T0 + timedelta(weeks=7)).date().isoformat()
    r = CliRunner().invoke(
        clv_cmd,
        [
            str(path),
            "--fit",
            "sbg",
            "--purchase-events",
            "purchase",
            "--calibration-end",
            end,
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["model"] == "sbg"
    assert {k: round(v, 3) for k, v in d["params"].items()} == {"alpha": 0.704, "beta": 1.182}
    assert d["totals"]["lost"] == 759 and d["totals"]["alive"] == 241
    assert [round(v, 3) for v in d["retention"]["observed"]] == [
        1.0,
        0.631,
        0.468,
        0.382,
        0.326,
        0.289,
        0.262,
        0.241,
    ]
    assert d["spend_model"] is None and "--fit bgnbd" in d["spend_model_reason"]
    table = CliRunner().invoke(
        clv_cmd, [str(path), "--fit", "sbg", "--purchase-events", "purchase", "--calibration-end", end]
    )
    assert table.exit_code == 0 and "759 lost" in table.stdout


@pytest.mark.parametrize("dialect", ["postgres", "clickhouse"])
def test_the_summary_compiles_for_other_engines(dialect: str) -> None:
    import ibis

    from hourglass.analyses.clv_summary import summary_plan
    from hourglass.model.steps import Step

    schema = {
        "customer": "string",
        "event": "string",
        "timestamp": "timestamp",
        "revenue": "float64",
        "channel": "string",
    }
    t = ibis.table(schema, name="events")
    plan = summary_plan(
        t, Step("p", ("purchase",)), calibration_end_day=10_000, revenue=True, channel="channel"
    )
    for expr in plan.expressions().values():
        assert "SELECT" in ibis.to_sql(expr, dialect=dialect).upper()
