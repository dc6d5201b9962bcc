"""The event store: ``hourglass ingest SOURCE --into store.duckdb`` and reading it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.cli.ingest import ingest_cmd
from hourglass.interfaces.store_api import ingest
from hourglass.model.errors import DataError, HourglassError, SourceError
from journeys import journeys
from test_funnel_properties import assert_same, forced_plan

LOG = {
    "ann": [
        ("visit", "2024-01-01 10:00", {"channel": "ads", "revenue": None}),
        ("signup", "2024-01-01 11:00"),
        ("purchase", "2024-01-02 09:00", {"revenue": 20.0}),
    ],
    "bob": [
        ("visit", "2024-01-01 10:00", {"channel": "search"}),
        ("visit", "2024-01-03 10:00", {"channel": "ads"}),
        ("signup", "2024-01-03 10:00"),
    ],
    " cy ": [("signup", "2024-01-01 09:00"), ("visit", "2024-01-01 10:00", {"channel": "email"})],
}


@pytest.fixture
def log() -> pd.DataFrame:
    return journeys(LOG, dtypes={"revenue": "float64", "channel": "str"})


@pytest.fixture
def store(tmp_path: Path, log: pd.DataFrame) -> str:
    path = tmp_path / "store.duckdb"
    info = ingest(log, path)
    assert (info.rows, info.customers, info.event_names) == (8, 3, 3)
    return str(path)


CASES: list[dict[str, Any]] = [
    {"steps": ["visit", "signup", "purchase"], "window": "1d"},
    {"steps": ["visit", "signup"], "window": "1d", "by": "channel"},
    {"steps": ["visit", "signup"], "window": "1d", "by": "customer"},
    {"steps": ["visit", {"name": "paid", "events": ["purchase"], "where": ["revenue > 0"]}], "window": "2d"},
    {"steps": ["visit", "signup"], "window": "1d", "since": "2024-01-02"},
    {"steps": ["visit", "signup"], "window": "1d", "mode": "strict_order"},
    {"steps": ["visit", "signup"], "window": "1d", "mode": "any_order"},
    {"steps": ["visit", "signup", "purchase"], "window": "1d", "open": True},
    {"steps": ["visit", "visit"], "window": "3d"},
    # names the store does not have, alone and beside one it has; a first step of two names with --by
    {"steps": ["visit", "nosuch"], "window": "1d"},
    {"steps": ["visit", {"name": "joined", "events": ["signup", "nosuch"]}], "window": "1d"},
    {"steps": [{"name": "any", "events": ["signup", "visit"]}, "purchase"], "window": "2d", "by": "channel"},
    {"steps": ["visit", "signup"], "window": "1d", "since": "2024-01-01 10:00", "until": "2024-01-03"},
    {"steps": ["visit", "signup", "purchase"], "window": "1d", "open": True, "since": "2024-01-01 10:30"},
    # columns the store keeps in its own types (integer µs timestamps) still read as the user's
    {"steps": ["visit", "signup"], "window": "1d", "by": "timestamp"},
    {"steps": [{"name": "v", "events": ["visit"], "where": ["timestamp > 2024-01-01T09:30:00"]}, "signup"]},
]


@pytest.mark.parametrize("plan", ["auto", "portable"])
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_a_store_gives_the_sources_results(
    store: str, log: pd.DataFrame, case: dict[str, Any], plan: str
) -> None:
    with forced_plan(plan):
        got = hourglass.funnel(store, **case).to_dict()
        want = hourglass.funnel(log, **case).to_dict()
    assert got["meta"]["plan"] == want["meta"]["plan"]
    for d in (got, want):
        d.pop("meta")
    assert_same(got, want)


def test_original_ids_and_names_come_back(store: str) -> None:
    res = hourglass.funnel(store + ":events", ["visit", "signup"], window="1d", by="customer")
    assert sorted(str(g.value) for g in res.groups) == ["ann", "bob", "cy"]
    ev = hourglass.events(store)
    assert ev.report.kind == "store" and ev.report.rows == 8
    df = ev.engine.execute(ev.table.order_by(["customer", "timestamp", "event"]))
    assert df["customer"].tolist()[:3] == ["ann", "ann", "ann"]
    assert set(df["event"]) == {"visit", "signup", "purchase"}
    assert str(df["timestamp"].iloc[0]) == "2024-01-01 10:00:00"
    assert set(df.columns) == {"customer", "event", "timestamp", "channel", "revenue"}


def test_layout_is_clustered_and_compact(store: str) -> None:
    con = duckdb.connect(store, read_only=True)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'hg_events'"
        ).fetchall()
    )
    assert types["customer"] == "INTEGER" and types["timestamp"] == "BIGINT"
    assert types["event"].startswith("ENUM(")
    rows = con.execute('SELECT enum_code(event), customer, "timestamp" FROM hg_events').fetchall()
    assert rows == sorted(rows)  # each event's rows together, clustered by customer, then time
    ids = con.execute("SELECT id FROM hg_customers ORDER BY key").fetchall()
    assert [i[0] for i in ids] == ["ann", "bob", "cy"]  # trimmed canonical ids, keys in id order
    # any DuckDB client reads the canonical view
    assert con.execute("SELECT count(*), count(DISTINCT customer) FROM events").fetchone() == (8, 3)
    con.close()


def test_integer_ids_round_trip(tmp_path: Path) -> None:
    df = journeys({"1": [("visit", "2024-01-01")], "20": [("visit", "2024-01-01"), ("pay", "2024-01-02")]})
    df["customer"] = df["customer"].astype("int64")
    path = tmp_path / "ints.duckdb"
    ingest(df, path)
    res = hourglass.funnel(str(path), ["visit", "pay"], window="2d", by="customer")
    assert {g.value: g.steps[1].customers for g in res.groups} == {"1": 0, "20": 1}


def test_bad_rows_stop_the_ingest(tmp_path: Path, log: pd.DataFrame) -> None:
    log.loc[1, "event"] = "  "
    path = tmp_path / "bad.duckdb"
    with pytest.raises(DataError) as err:
        ingest(log, path)
    assert err.value.code == "HG402"
    assert not path.exists() and not list(tmp_path.iterdir())


def test_existing_store_and_bad_names(tmp_path: Path, log: pd.DataFrame, store: str) -> None:
    with pytest.raises(SourceError) as err:
        ingest(log, store)
    assert err.value.code == "HG420"
    info = ingest(log.iloc[:3], store, overwrite=True)
    assert info.rows == 3 and hourglass.events(store).report.rows == 3
    with pytest.raises(SourceError) as err:
        ingest(log, tmp_path / "store.parquet")
    assert err.value.code == "HG421"
    with pytest.raises(SourceError) as err:
        ingest(store, store, overwrite=True)
    assert err.value.code == "HG422"


def test_huge_stores_count_customers_without_a_bitstring(tmp_path: Path, store: str) -> None:
    # bitstring_agg refuses ranges over 10^9 (and costs key_count / 8 bytes per thread): a store
    # that large counts step-1 customers with count(DISTINCT); simulated by editing the count
    want = hourglass.funnel(store, ["visit", "signup"], window="1d").to_dict()["steps"]
    con = duckdb.connect(store)
    con.execute("UPDATE hg_store SET customers = 1000000001")
    con.close()
    with forced_plan("fast"):
        got = hourglass.funnel(store, ["visit", "signup"], window="1d").to_dict()["steps"]
    assert got == want


def test_damaged_or_foreign_stores_give_coded_errors(tmp_path: Path, store: str) -> None:
    damaged = tmp_path / "damaged.duckdb"
    data = Path(store).read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    with pytest.raises(HourglassError) as err:
        hourglass.funnel(str(damaged), ["visit", "signup"], window="1d")
    assert err.value.code == "HG206" and "damaged.duckdb" in str(err.value)
    newer = tmp_path / "newer.duckdb"
    newer.write_bytes(data)
    con = duckdb.connect(str(newer))
    con.execute("UPDATE hg_store SET version = 99")
    con.close()
    engine = hourglass.connect()
    with pytest.raises(SourceError) as err:
        hourglass.funnel(str(newer), ["visit"], engine=engine)
    assert err.value.code == "HG423"
    attached = engine.con.con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    assert not [d for (d,) in attached if d.startswith("hg_store_")]  # not left attached


def test_paths_with_quotes(tmp_path: Path, log: pd.DataFrame) -> None:
    # both a store and a plain DuckDB file whose path has a quote (SQL string literals are escaped)
    quoted = tmp_path / "it's a store.duckdb"
    ingest(log, quoted)
    assert (
        hourglass.funnel(str(quoted), ["visit", "signup"], window="1d").to_dict()["steps"][1]["customers"]
        == 2
    )
    plain = tmp_path / "it's plain.duckdb"
    con = duckdb.connect(str(plain))
    con.execute("CREATE TABLE events AS SELECT * FROM log")
    con.close()
    assert (
        hourglass.funnel(f"{plain}:events", ["visit", "signup"], window="1d").to_dict()["steps"][1][
            "customers"
        ]
        == 2
    )


def test_a_store_of_a_store(tmp_path: Path, store: str) -> None:
    info = ingest(store, tmp_path / "copy.duckdb")
    assert info.rows == 8
    a = hourglass.funnel(store, ["visit", "signup"], window="1d").to_dict()["steps"]
    b = hourglass.funnel(str(tmp_path / "copy.duckdb"), ["visit", "signup"], window="1d").to_dict()["steps"]
    assert a == b


def test_validate_reads_a_store(store: str) -> None:
    report = hourglass.validate(store)
    assert report.ok and report.rows == 8


def test_cli(tmp_path: Path, log: pd.DataFrame) -> None:
    src = tmp_path / "ev.csv"
    log.to_csv(src, index=False)
    out = tmp_path / "s.duckdb"
    runner = CliRunner()
    res = runner.invoke(ingest_cmd, [str(src), "--into", str(out)])
    assert res.exit_code == 0, res.output
    assert "8 events of 3 customers (3 event names)" in res.output
    res = runner.invoke(ingest_cmd, [str(src), "--into", str(out)])
    assert res.exit_code == 2 and "HG420" in res.output
    res = runner.invoke(ingest_cmd, [str(src), "--into", str(out), "--force", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["customers"] == 3
    res = runner.invoke(ingest_cmd, [str(src), "--into", str(out), "--engine", "spark"])
    assert res.exit_code == 2 and "HG521" in res.output
    res = runner.invoke(ingest_cmd, [str(tmp_path / "missing.csv"), "--into", str(out), "--force"])
    assert res.exit_code == 2 and "HG203" in res.output


def test_progress_is_reported(tmp_path: Path, log: pd.DataFrame) -> None:
    seen: list[tuple[str, float | None]] = []
    ingest(log, tmp_path / "p.duckdb", progress=lambda phase, done: seen.append((phase, done)))
    phases = [p for p, _ in seen]
    assert phases[0] == "validating" and "events" in phases
    assert seen[-1] == ("events", 1.0)
