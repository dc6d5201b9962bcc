"""Wrong values that were read silently (issue 19, items 1, 3, 6 and the silent ones): YYYYMMDD
integers are dates, ids written as 1.0 are the integer's, offsets out of range are bad values, naive
times after a zone-named one are not read in that zone, and times after today or skipped by a
clock change are noted."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import hourglass
from test_cli import fails, flat, invoke, ok

HEADER = "customer_id,event,timestamp\n"


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


def _steps(*args: str) -> list[dict[str, object]]:
    steps: list[dict[str, object]] = json.loads(ok(*args, "--format", "json").stdout)["steps"]
    return steps


# --- item 1: integers that look like dates are dates --------------------------------------------------

DATES = HEADER + "c1,visit,20240101\nc1,signup,20240102\nc2,visit,20240105\n"


def _same_in_every_format() -> list[str]:
    Path("d.csv").write_text(DATES, encoding="utf-8")
    duckdb.sql("COPY (SELECT * FROM 'd.csv') TO 'd.parquet' (FORMAT parquet)")
    rows = [("c1", "visit", 20240101), ("c1", "signup", 20240102), ("c2", "visit", 20240105)]
    Path("d.jsonl").write_text(
        "".join(json.dumps({"customer_id": c, "event": e, "timestamp": t}) + "\n" for c, e, t in rows),
        encoding="utf-8",
    )
    return ["d.csv", "d.parquet", "d.jsonl"]


@pytest.mark.parametrize("fmt", [0, 1, 2])
def test_yyyymmdd_integers_are_dates_in_csv_json_and_parquet(fmt: int) -> None:
    source = _same_in_every_format()[fmt]
    steps = _steps("funnel", source, "--steps", "visit,signup")
    assert steps[1]["customers"] == 1
    assert steps[1]["median_time_from_previous_s"] == 86_400  # a day, not 1 s
    report = hourglass.validate(source)
    assert report.ok and "read as YYYYMMDD dates" in report.describe()
    if source.endswith(".csv"):
        journey = ok("journey", source, "--customer", "c1").stdout
        assert "2024-01-01" in journey and "1970" not in journey


def test_a_yyyymmdd_value_that_is_no_date_is_listed() -> None:
    Path("d.csv").write_text(DATES + "c3,visit,20241301\n", encoding="utf-8")
    err = fails("funnel", "d.csv", "--steps", "visit", code="HG404")
    assert "line 5 ('20241301')" in err


def test_epoch_seconds_stay_epoch_seconds() -> None:
    rows = "c1,visit,1704103200\nc1,buy,1704106800\nc1,signup,20240102\n"
    Path("e.csv").write_text(HEADER + rows, encoding="utf-8")
    steps = _steps("funnel", "e.csv", "--steps", "visit,signup", "--window", "50000w")
    assert steps[1]["customers"] == 0  # 20240102 s is in 1970, before the visit: one column, one rule


def test_a_typo_in_a_column_of_yyyymmdd_dates_is_listed_not_read_as_1970() -> None:
    Path("t.csv").write_text(DATES + "c3,visit,2024013\n", encoding="utf-8")
    result = invoke("validate", "t.csv")
    assert result.exit_code == 1
    out = flat(result.stdout)
    assert "[HG404] column 'timestamp' cannot be read as a timestamp in 1 row: line 5 ('2024013')" in out
    assert "written as YYYYMMDD (20240131)" in out


def test_a_pandas_float_column_of_dates_with_a_missing_value() -> None:
    df = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "event": ["visit", "signup", "visit"],
            "timestamp": [20240101.0, 20240103.0, float("nan")],
        }
    )
    report = hourglass.validate(df)
    assert [p.code for p in report.problems] == ["HG403"]  # a missing time (NaN is NULL in Arrow)
    r = hourglass.funnel(df.iloc[:2], ["visit", "signup"])
    assert r.to_dict()["steps"][1]["median_time_from_previous_s"] == 2 * 86_400


# --- item 3: ids written as 1.0 are the integer's -------------------------------------------------------


def test_json_ids_written_as_floats_and_integers_are_one_customer() -> None:
    Path("ids.jsonl").write_text(
        '{"customer_id":1.0,"event":"visit","timestamp":"2024-01-01 10:00:00"}\n'
        '{"customer_id":1,"event":"signup","timestamp":"2024-01-01 11:00:00"}\n'
        '{"customer_id":"2","event":"visit","timestamp":"2024-01-01 10:00:00"}\n'
        '{"customer_id":2.5,"event":"signup","timestamp":"2024-01-01 11:00:00"}\n',
        encoding="utf-8",
    )
    assert [s["customers"] for s in _steps("funnel", "ids.jsonl", "--steps", "visit,signup")] == [2, 1]


def test_pandas_to_json_with_a_missing_referrer_matches_integer_customers() -> None:
    df = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event": ["visit", "signup", "visit"],
            "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 10:00"]),
            "referrer": [None, None, 1],
        }
    )
    df.to_json("p.jsonl", orient="records", lines=True, date_format="iso")
    text = Path("p.jsonl").read_text(encoding="utf-8")
    assert '"referrer":1.0' in text  # the float column pandas writes
    df.to_csv("p.csv", index=False)
    for source in ("p.jsonl", "p.csv"):
        events = hourglass.events(source).table.to_pandas()
        assert sorted(set(events["customer"])) == ["1", "2"]
        assert set(events["referrer"].dropna()) == {"1"}


# --- item 6: UTC offsets out of range ------------------------------------------------------------------


def test_offsets_out_of_range_are_bad_values_with_their_lines() -> None:
    Path("o.csv").write_text(
        HEADER
        + "c1,visit,2024-01-01 10:00:00+03:00\n"
        + "c1,signup,2024-01-01 10:00:00+99:99\n"
        + "c2,visit,2024-01-01 10:00:00+25:00\n"
        + "c2,visit,2024-01-01 10:00:00-05:75\n"
        + "c3,visit,2024-01-01T10:00:00-0800\n"
        + "c3,visit,2024-12-31\n",
        encoding="utf-8",
    )
    result = invoke("validate", "o.csv")
    assert result.exit_code == 1
    err = flat(result.stdout)
    assert "[HG404]" in err and "in 3 rows: line 3" in err and "line 4" in err and "line 5" in err
    assert "line 2" not in err and "line 6" not in err and "line 7" not in err


# --- zone names: a naive time after one is still UTC; a skipped local time is noted ----------------------


def test_naive_times_after_a_zone_named_time_are_utc() -> None:
    Path("z.csv").write_text(
        HEADER
        + "c1,visit,2024-06-01 10:00:00\n"
        + "c1,signup,2024-06-01 10:00:00 Europe/Berlin\n"
        + "c1,buy,2024-06-01 10:00:00\n",
        encoding="utf-8",
    )
    times = hourglass.events("z.csv").table.order_by("event").to_pandas()
    got = dict(zip(times["event"], times["timestamp"].astype(str), strict=True))
    assert got == {
        "buy": "2024-06-01 10:00:00",
        "signup": "2024-06-01 08:00:00",
        "visit": "2024-06-01 10:00:00",
    }


def test_a_skipped_local_time_and_a_time_after_today_are_noted() -> None:
    Path("n.csv").write_text(
        HEADER
        + "c1,visit,2024-03-31 02:30:00 Europe/Berlin\n"
        + "c1,signup,2024-03-31 04:30:00 Europe/Berlin\n"
        + "c2,visit,2199-01-01 00:00:00\n"
        + "c2,visit,2024-01-01 00:00:00\n",
        encoding="utf-8",
    )
    result = invoke("validate", "n.csv")
    assert result.exit_code == 0
    out = flat(result.stdout)
    assert "note: column 'timestamp' is after today in 1 row: line 4 ('2199-01-01 00:00:00')" in out
    assert "the last event's time: 2199-01-01 00:00:00; give --as-of" in out
    assert "does not exist in its time zone" in out and "in 1 row: line 2 (" in out
    assert "ok: no problems found" in out


# --- the step-typo note past 10,000 event names --------------------------------------------------------


def test_the_typo_note_finds_a_rare_name_past_the_ten_thousand_most_common(tmp_path: Path) -> None:
    # 10,050 names of one customer each, sorted before 'signup': the 10,000 most common leave it out
    rows = [f"c{i % 2},n{i:05d},2024-01-01 10:00:00\n" for i in range(10_050)]
    rows += ["c0,visit,2024-01-01 09:00:00\n", "c9,signup,2024-01-02 10:00:00\n"]
    Path("many.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    notes = hourglass.funnel("many.csv", ["visit", "sigup"]).to_dict()["meta"]["notes"]
    assert any("step 'sigup'" in n and "(did you mean 'signup'?)" in n for n in notes), notes
    ingested = hourglass.ingest_store("many.csv", "many.duckdb")
    assert ingested.rows == len(rows)
    notes = hourglass.funnel("many.duckdb", ["visit", "sigup"]).to_dict()["meta"]["notes"]
    assert any("(did you mean 'signup'?)" in n for n in notes), notes
