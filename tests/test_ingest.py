"""Sources and normalisation through the Python API (docs/semantics.md, "Events"): time zones, epoch
numbers, dates, customer ids, properties, event-id dedupe, row counts, and hourglass.toml."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.model import ConfigError, DataError, SchemaError

EPOCH_2024 = 1_704_103_200  # 2024-01-01 10:00:00 UTC


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def frame(source: Any, **kwargs: Any) -> pd.DataFrame:
    """The canonical events of ``source``, sorted by customer, time and event."""
    ev = hourglass.events(source, **kwargs)
    df = ev.table.execute()
    return df.sort_values(["customer", "timestamp", "event"], kind="stable").reset_index(drop=True)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory: no stray ./hourglass.toml, short file names in messages."""
    monkeypatch.chdir(tmp_path)


# --- time zones, epochs, dates -----------------------------------------------------------------------


def test_csv_offsets_are_converted_to_utc() -> None:
    write_csv(
        Path("tz.csv"),
        "customer_id,event,timestamp",
        "a,visit,2024-01-01T10:00:00+03:00",
        "b,visit,2024-01-01T10:00:00Z",
        "c,visit,2024-01-01 10:00:00",
        "d,visit,2024-01-01T10:00:00-05:30",
    )
    df = frame("tz.csv")
    assert list(df.customer) == ["a", "b", "c", "d"]
    assert list(df.timestamp) == [
        ts("2024-01-01 07:00:00"),
        ts("2024-01-01 10:00:00"),
        ts("2024-01-01 10:00:00"),  # naive text is UTC
        ts("2024-01-01 15:30:00"),
    ]
    assert df.timestamp.dt.tz is None


def test_times_are_compared_in_utc() -> None:
    # local 10:00+03:00 is 07:00 UTC, so a purchase at 08:00Z is one hour *after* the visit
    write_csv(
        Path("tz.csv"),
        "customer_id,event,timestamp",
        "a,visit,2024-01-01T10:00:00+03:00",
        "a,purchase,2024-01-01T08:00:00Z",
    )
    result = hourglass.funnel("tz.csv", ["visit", "purchase"], window="2h")
    rows = result.rows()
    assert [r["customers"] for r in rows] == [1, 1]
    assert rows[1]["median_time_from_previous_s"] == 3600.0


def test_jsonl_offsets_and_integer_customers() -> None:
    lines = [
        {"customer_id": 7, "event": "visit", "timestamp": "2024-01-01T10:00:00+03:00"},
        {"customer_id": 8, "event": "visit", "timestamp": "2024-01-01T23:30:00-01:00"},
    ]
    Path("ev.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    df = frame("ev.jsonl")
    assert list(df.customer) == ["7", "8"]
    assert list(df.timestamp) == [ts("2024-01-01 07:00:00"), ts("2024-01-02 00:30:00")]


def test_tz_aware_arrow_and_parquet() -> None:
    msk = timezone(timedelta(hours=3))
    table = pa.table(
        {
            "customer_id": ["a", "b"],
            "event": ["visit", "visit"],
            "timestamp": pa.array(
                [datetime(2024, 1, 1, 10, tzinfo=msk), datetime(2024, 6, 1, 0, 30, tzinfo=msk)],
                pa.timestamp("us", tz="Europe/Moscow"),
            ),
        }
    )
    pq.write_table(table, "tz.parquet")
    expected = [ts("2024-01-01 07:00:00"), ts("2024-05-31 21:30:00")]
    assert list(frame("tz.parquet").timestamp) == expected
    assert list(frame(table).timestamp) == expected


def test_pandas_tz_aware_timestamps() -> None:
    df = pd.DataFrame(
        {
            "customer_id": ["a"],
            "event": ["visit"],
            "timestamp": pd.to_datetime(["2024-01-01 10:00"]).tz_localize("Asia/Tokyo"),
        }
    )
    assert list(frame(df).timestamp) == [ts("2024-01-01 01:00:00")]


def test_date_only_values_are_midnight_utc() -> None:
    write_csv(Path("d.csv"), "customer_id,event,timestamp", "a,visit,2024-01-01", "a,signup,2024-01-03")
    df = frame("d.csv")
    assert list(df.timestamp) == [ts("2024-01-01"), ts("2024-01-03")]
    pdf = pd.DataFrame(
        {"customer_id": ["a"], "event": ["visit"], "timestamp": [date(2024, 2, 29)]},
    )
    assert list(frame(pdf).timestamp) == [ts("2024-02-29")]
    result = hourglass.funnel("d.csv", ["visit", "signup"], window="2d")
    assert [r["customers"] for r in result.rows()] == [1, 1]
    assert result.rows()[1]["median_time_from_previous_s"] == 2 * 86400


@pytest.mark.parametrize(
    ("unit", "values"),
    [
        (None, [EPOCH_2024, EPOCH_2024 + 90]),
        ("s", [EPOCH_2024, EPOCH_2024 + 90]),
        ("ms", [EPOCH_2024 * 1000, EPOCH_2024 * 1000 + 90_500]),
        ("us", [EPOCH_2024 * 1_000_000, EPOCH_2024 * 1_000_000 + 90_000_001]),
    ],
)
def test_epoch_integers_with_time_unit(unit: str | None, values: list[int]) -> None:
    df = pd.DataFrame({"customer_id": ["a", "a"], "event": ["visit", "signup"], "timestamp": values})
    columns = {"time_unit": unit} if unit else None
    out = frame(df, columns=columns)
    assert out.timestamp[0] == ts("2024-01-01 10:00:00")
    assert out.timestamp[1] - out.timestamp[0] == pd.Timedelta(
        microseconds=(values[1] - values[0]) * {None: 1_000_000, "s": 1_000_000, "ms": 1000, "us": 1}[unit]
    )


def test_epoch_seconds_in_parquet() -> None:
    pq.write_table(
        pa.table({"customer_id": ["a"], "event": ["visit"], "timestamp": pa.array([EPOCH_2024], pa.int64())}),
        "ep.parquet",
    )
    assert list(frame("ep.parquet").timestamp) == [ts("2024-01-01 10:00:00")]


def test_epoch_seconds_in_csv() -> None:
    write_csv(Path("ep.csv"), "customer_id,event,timestamp", f"a,visit,{EPOCH_2024}")
    assert list(frame("ep.csv", columns={"time_unit": "s"}).timestamp) == [ts("2024-01-01 10:00:00")]


def test_time_unit_is_validated() -> None:
    write_csv(Path("e.csv"), "customer_id,event,timestamp", "a,visit,2024-01-01")
    with pytest.raises(hourglass.HourglassError) as info:
        hourglass.events("e.csv", columns={"time_unit": "ns"})
    assert info.value.code == "HG102"


def test_non_time_timestamp_column_is_a_schema_error() -> None:
    df = pd.DataFrame({"customer_id": ["a"], "event": ["visit"], "timestamp": [True]})
    with pytest.raises(SchemaError) as info:
        hourglass.events(df)
    assert info.value.code == "HG304"
    assert "'timestamp'" in info.value.message


# --- customer ids ------------------------------------------------------------------------------------


def test_integer_customer_ids() -> None:
    write_csv(
        Path("ids.csv"),
        "customer_id,event,timestamp",
        "1,visit,2024-01-01 10:00",
        "1,signup,2024-01-01 11:00",
        "2,visit,2024-01-01 10:00",
        "007,visit,2024-01-01 10:00",  # text in CSV: leading zeros are kept, 007 is not 7
        "7,signup,2024-01-01 11:00",
    )
    df = frame("ids.csv")
    assert sorted(set(df.customer)) == ["007", "1", "2", "7"]
    assert df.customer.map(type).eq(str).all()
    result = hourglass.funnel("ids.csv", ["visit", "signup"])
    assert [r["customers"] for r in result.rows()] == [3, 1]

    pdf = pd.DataFrame(
        {"user_id": [10, 10, 20], "event": ["visit", "signup", "visit"], "ts": ["2024-01-01"] * 3}
    )
    assert list(frame(pdf).customer) == ["10", "10", "20"]
    pq.write_table(pa.Table.from_pandas(pdf), "ids.parquet")
    assert list(frame("ids.parquet").customer) == ["10", "10", "20"]


def test_customer_and_event_are_trimmed() -> None:
    df = pd.DataFrame(
        {"customer_id": [" a ", "a"], "event": ["visit ", " visit"], "timestamp": ["2024-01-01"] * 2}
    )
    out = frame(df)
    assert list(out.customer) == ["a", "a"]
    assert list(out.event) == ["visit", "visit"]


# --- roles and properties ----------------------------------------------------------------------------


def test_properties_are_kept_with_their_types() -> None:
    df = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "event": ["purchase", "visit"],
            "timestamp": ["2024-01-01 10:00", "2024-01-01 11:00"],
            "revenue": [9.5, None],
            "device": ["mobile", None],
            "items": [3, 1],
        }
    )
    ev = hourglass.events(df)
    assert ev.table.columns == ("customer", "event", "timestamp", "revenue", "device", "items")
    out = frame(df)
    assert list(out.device.fillna("-")) == ["mobile", "-"]
    assert list(out["items"]) == [3, 1]
    assert out.revenue[0] == 9.5 and pd.isna(out.revenue[1])


def test_property_named_like_a_role_gets_suffix() -> None:
    write_csv(
        Path("p.csv"),
        "user_id,event_name,event_time,customer,channel",
        "1,visit,2024-01-01,zz,ads",
    )
    # 'customer' would make the customer role ambiguous; name the role's column explicitly
    with pytest.raises(SchemaError) as info:
        hourglass.events("p.csv")
    assert info.value.code == "HG303"
    ev = hourglass.events("p.csv", columns={"customer": "user_id", "channel": ""})
    assert ev.table.columns == ("customer", "event", "timestamp", "customer_property", "channel_property")
    row = ev.table.execute().iloc[0]
    assert (row.customer, row.customer_property, row.channel_property) == ("1", "zz", "ads")
    assert ev.report.roles == {"customer": "user_id", "event": "event_name", "timestamp": "event_time"}


def test_common_names_and_optional_roles() -> None:
    write_csv(
        Path("c.csv"),
        "distinct_id,event_type,time,uuid,utm_source,amount,referred_by,amount_2",
        "a,purchase,2024-01-01,u1,ads,12.5,b,1",
    )
    ev = hourglass.events("c.csv")
    assert ev.report.roles == {
        "customer": "distinct_id",
        "event": "event_type",
        "timestamp": "time",
        "event_id": "uuid",
        "channel": "utm_source",
        "revenue": "amount",
        "referrer": "referred_by",
    }
    assert ev.table.columns == (
        "customer",
        "event",
        "timestamp",
        "event_id",
        "channel",
        "revenue",
        "referrer",
        "amount_2",
    )
    row = ev.table.execute().iloc[0]
    assert row.revenue == 12.5 and row.referrer == "b" and row.event_id == "u1"


def test_role_names_are_case_insensitive() -> None:
    write_csv(Path("u.csv"), "Customer_ID,EVENT,TimeStamp", "a,visit,2024-01-01")
    ev = hourglass.events("u.csv")
    assert ev.report.roles == {"customer": "Customer_ID", "event": "EVENT", "timestamp": "TimeStamp"}
    ev = hourglass.events("u.csv", columns={"customer": "customer_id"})
    assert ev.report.roles["customer"] == "Customer_ID"


# --- dedupe and row counts ---------------------------------------------------------------------------


def test_event_id_dedupe_keeps_earliest_then_smallest_name() -> None:
    write_csv(
        Path("dup.csv"),
        "customer_id,event,timestamp,event_id",
        "a,visit,2024-01-02 10:00,e1",
        "a,visit,2024-01-01 10:00,e1",  # earliest copy of e1: kept
        "a,visit,2024-01-03 10:00,e1",
        "b,signup,2024-01-01 10:00,e2",
        "b,purchase,2024-01-01 10:00,e2",  # same time: smallest event name kept
        "c,visit,2024-01-01 10:00,e3",
    )
    ev = hourglass.events("dup.csv")
    assert ev.report.rows == 6
    assert ev.report.duplicates_collapsed == 3
    df = frame("dup.csv")
    assert list(zip(df.customer, df.event, df.timestamp, df.event_id, strict=True)) == [
        ("a", "visit", ts("2024-01-01 10:00"), "e1"),
        ("b", "purchase", ts("2024-01-01 10:00"), "e2"),
        ("c", "visit", ts("2024-01-01 10:00"), "e3"),
    ]
    result = hourglass.funnel("dup.csv", ["visit"])
    assert result.meta["duplicates_collapsed"] == 3
    assert hourglass.validate("dup.csv").duplicates_collapsed == 3


def test_null_event_ids_are_never_collapsed() -> None:
    write_csv(
        Path("n.csv"),
        "customer_id,event,timestamp,event_id",
        "a,visit,2024-01-01 10:00,",
        "a,visit,2024-01-01 10:00,",
        "a,visit,2024-01-01 10:00,  ",
        "a,visit,2024-01-01 10:00,x",
        "a,visit,2024-01-01 10:00,x",
    )
    ev = hourglass.events("n.csv")
    assert ev.report.duplicates_collapsed == 1
    assert len(ev.table.execute()) == 4
    table = pa.table(
        {
            "customer_id": ["a"] * 3,
            "event": ["v"] * 3,
            "timestamp": ["2024-01-01"] * 3,
            "event_id": pa.array([None, None, None], pa.string()),
        }
    )
    assert hourglass.events(table).report.duplicates_collapsed == 0
    assert len(frame(table)) == 3


def test_all_null_column_in_pandas() -> None:
    df = pd.DataFrame(
        {
            "customer_id": ["a"] * 3,
            "event": ["v"] * 3,
            "timestamp": ["2024-01-01"] * 3,
            "event_id": [None] * 3,
        }
    )
    assert hourglass.events(df).report.duplicates_collapsed == 0


def test_event_id_is_a_customers_id() -> None:
    # docs: rows of one customer with the same event_id are one event delivered more than once; the
    # same id on two customers' rows (ids unique per customer only, or an event-type code in a column
    # called event_id) is two events: dedupe never merges customers
    write_csv(
        Path("g.csv"),
        "customer_id,event,timestamp,event_id",
        "a,visit,2024-01-01 10:00,1",
        "a,signup,2024-01-01 11:00,2",
        "b,visit,2024-01-01 10:00,1",
        "b,signup,2024-01-01 11:00,2",
        "c,visit,2024-01-02 10:00,1",
        "c,visit,2024-01-02 10:05,1",  # c's event 1 delivered twice: one kept
    )
    assert sorted(zip(frame("g.csv").customer, frame("g.csv").event, strict=True)) == [
        ("a", "signup"),
        ("a", "visit"),
        ("b", "signup"),
        ("b", "visit"),
        ("c", "visit"),
    ]
    assert hourglass.validate("g.csv").duplicates_collapsed == 1
    counts = [s.customers for s in hourglass.funnel("g.csv", ["visit", "signup"]).steps]
    assert counts == [3, 2]


def test_nothing_is_silently_dropped() -> None:
    rows = [
        f"c{i % 7},{['visit', 'signup', 'other'][i % 3]},2024-01-{1 + i % 28:02d} 10:00:00" for i in range(50)
    ]
    write_csv(Path("many.csv"), "customer_id,event,timestamp", *rows)
    ev = hourglass.events("many.csv")
    assert ev.report.rows == 50
    assert ev.report.ok
    assert len(ev.table.execute()) == 50


@pytest.mark.parametrize(
    ("row", "code"),
    [
        (",visit,2024-01-01", "HG401"),
        ("  ,visit,2024-01-01", "HG401"),
        ("a,,2024-01-01", "HG402"),
        ("a,visit,", "HG403"),
        ("a,visit,tomorrow", "HG404"),
    ],
)
def test_a_bad_row_fails_the_whole_source(row: str, code: str) -> None:
    write_csv(Path("bad.csv"), "customer_id,event,timestamp", "b,visit,2024-01-01", row)
    with pytest.raises(DataError) as info:
        hourglass.funnel("bad.csv", ["visit"])
    assert info.value.code == code
    assert "line 3" in info.value.message
    report = hourglass.validate("bad.csv")
    assert not report.ok
    assert report.rows == 2
    assert [(p.code, p.count, [r for r, _ in p.samples]) for p in report.problems] == [(code, 1, [2])]


def test_bad_rows_in_memory_are_reported_by_row() -> None:
    df = pd.DataFrame(
        {
            "customer_id": ["a", "b", None],
            "event": ["v", "v", "v"],
            "timestamp": ["2024-01-01", "x", "2024-01-01"],
        }
    )
    report = hourglass.validate(df)
    assert [(p.code, p.count) for p in report.problems] == [("HG401", 1), ("HG404", 1)]
    assert "row 3" in report.describe() and "row 2 ('x')" in report.describe()


# --- hourglass.toml ----------------------------------------------------------------------------------

ODD = (
    "uid,action,at,pay\na,visit,2024-01-01 10:00,\na,purchase,2024-01-01 12:00,5\nb,visit,2024-01-02 10:00,\n"
)


def test_config_in_working_directory_is_picked_up() -> None:
    Path("odd.csv").write_text(ODD)
    with pytest.raises(SchemaError):
        hourglass.events("odd.csv")
    Path("hourglass.toml").write_text(
        '[columns]\ncustomer = "uid"\nevent = "action"\ntimestamp = "at"\nrevenue = "pay"\n'
    )
    ev = hourglass.events("odd.csv")
    assert ev.report.roles == {"customer": "uid", "event": "action", "timestamp": "at", "revenue": "pay"}
    result = hourglass.funnel("odd.csv", ["visit", "purchase"])
    assert [r["customers"] for r in result.rows()] == [2, 1]
    assert hourglass.validate("odd.csv").ok


def test_config_from_a_subdirectory_is_not_searched_upwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("hourglass.toml").write_text('[columns]\ncustomer = "uid"\nevent = "action"\ntimestamp = "at"\n')
    Path("odd.csv").write_text(ODD)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(SchemaError):
        hourglass.events("../odd.csv")
    assert hourglass.events("../odd.csv", config="../hourglass.toml").report.roles["customer"] == "uid"


def test_explicit_config_path() -> None:
    Path("odd.csv").write_text(ODD)
    Path("cfg").mkdir()
    Path("cfg/my.toml").write_text('[columns]\ncustomer = "uid"\nevent = "action"\ntimestamp = "at"\n')
    ev = hourglass.events("odd.csv", config="cfg/my.toml")
    assert ev.report.roles == {"customer": "uid", "event": "action", "timestamp": "at"}
    assert [r["customers"] for r in hourglass.funnel("odd.csv", ["visit"], config="cfg/my.toml").rows()] == [
        2
    ]


def test_explicit_columns_override_config() -> None:
    Path("odd.csv").write_text("uid,action,at,account\na,visit,2024-01-01,x\nb,visit,2024-01-01,x\n")
    Path("hourglass.toml").write_text('[columns]\ncustomer = "uid"\nevent = "action"\ntimestamp = "at"\n')
    assert hourglass.events("odd.csv").report.roles["customer"] == "uid"
    ev = hourglass.events("odd.csv", columns={"customer": "account"})
    assert ev.report.roles["customer"] == "account"
    assert [r["customers"] for r in hourglass.funnel(ev, ["visit"]).rows()] == [1]


def test_config_models_section() -> None:
    Path("odd.csv").write_text(ODD)
    Path("m.yaml").write_text("name: mine\nstages:\n  - name: seen\n    events: [visit]\n  - purchase\n")
    Path("hourglass.toml").write_text(
        '[columns]\ncustomer = "uid"\nevent = "action"\ntimestamp = "at"\n\n[models]\nmine = "m.yaml"\n'
    )
    result = hourglass.funnel("odd.csv", model="mine")
    assert [(r["step"], r["customers"]) for r in result.rows()] == [("seen", 2), ("purchase", 1)]


@pytest.mark.parametrize(
    ("text", "code", "needle"),
    [
        ('[columns]\ncustomr = "uid"\n', "HG101", "did you mean 'customer'?"),
        ('[column]\ncustomer = "uid"\n', "HG101", "did you mean 'columns'?"),
        ('[columns]\ntime_unit = "ns"\n', "HG102", "unknown time unit 'ns'"),
        ("[columns\n", "HG112", "not valid TOML"),
    ],
)
def test_bad_config(text: str, code: str, needle: str) -> None:
    Path("odd.csv").write_text(ODD)
    Path("hourglass.toml").write_text(text)
    with pytest.raises(hourglass.HourglassError) as info:
        hourglass.events("odd.csv")
    assert info.value.code == code
    assert needle in info.value.message
    assert "hourglass.toml" in info.value.message


def test_missing_explicit_config() -> None:
    with pytest.raises(ConfigError) as info:
        hourglass.events("odd.csv", config="nope.toml")
    assert info.value.code == "HG111"
    assert "nope.toml" in info.value.message
