"""Output files of the command line: --out, lifecycle's --customers and demo's --out-dir never
overwrite the source (HG424), a path that cannot be written is a clean error (HG425) and not a crash,
demo's options are checked before anything is made, and a time beyond Python's years 1-9999 is a
listed placeholder (HG412)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from test_cli import fails, invoke, ok

CSV = (
    "customer_id,event,timestamp\n"
    "a,visit,2024-01-01 10:00:00\n"
    "a,signup,2024-01-01 11:00:00\n"
    "a,purchase,2024-01-02 10:00:00\n"
    "b,visit,2024-01-02 10:00:00\n"
)
TOO_LONG = "x" * 300  # longer than a file name may be (NAME_MAX 255): the OS refuses to create it


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    Path("ev.csv").write_text(CSV, encoding="utf-8")


# every command with --out, with the arguments it needs besides SOURCE
COMMANDS = {
    "funnel": ["--steps", "visit,purchase"],
    "journeys": ["--model", "hourglass"],
    "paths": ["--model", "hourglass"],
    "transitions": ["--model", "hourglass"],
    "journey": ["--model", "hourglass", "--customer", "a"],
    "followers": ["--model", "hourglass"],
    "lifecycle": ["--model", "hourglass"],
}


# --- HG424: never over the source ----------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_out_over_the_source_is_refused(command: str) -> None:
    err = fails(command, "ev.csv", *COMMANDS[command], "--out", "ev.csv", code="HG424")
    assert "ev.csv" in err and "hint:" in err
    assert Path("ev.csv").read_text(encoding="utf-8") == CSV


def test_lifecycle_customers_over_the_source_is_refused() -> None:
    err = fails("lifecycle", "ev.csv", "--customers", "ev.csv", code="HG424")
    assert "ev.csv" in err and "--customers" in err
    assert Path("ev.csv").read_text(encoding="utf-8") == CSV


def test_out_over_a_file_of_a_glob_or_another_spelling_is_refused() -> None:
    Path("parts").mkdir()
    Path("parts/1.csv").write_text(CSV, encoding="utf-8")
    Path("parts/2.csv").write_text(CSV.replace("a,", "c,"), encoding="utf-8")
    before = Path("parts/2.csv").read_text(encoding="utf-8")
    fails("funnel", "parts/*.csv", "--steps", "visit", "--out", "./parts/../parts/2.csv", code="HG424")
    fails("lifecycle", "parts/*.csv", "--customers", Path("parts/2.csv").resolve(), code="HG424")
    Path("link.csv").symlink_to("ev.csv")
    fails("funnel", "ev.csv", "--steps", "visit", "--out", "link.csv", code="HG424")
    assert Path("parts/2.csv").read_text(encoding="utf-8") == before
    assert Path("ev.csv").read_text(encoding="utf-8") == CSV


def test_out_over_a_duckdb_database_or_store_is_refused() -> None:
    with duckdb.connect("shop.duckdb") as con:
        con.execute("CREATE TABLE events AS SELECT * FROM read_csv('ev.csv')")
    size = Path("shop.duckdb").stat().st_size
    fails("funnel", "shop.duckdb:events", "--steps", "visit", "--out", "shop.duckdb", code="HG424")
    fails(
        "funnel", "shop.duckdb", "--table", "events", "--steps", "visit", "--out", "shop.duckdb", code="HG424"
    )
    ok("ingest", "ev.csv", "--into", "store.duckdb", "--quiet")
    fails("paths", "store.duckdb", "--model", "hourglass", "--out", "store.duckdb", code="HG424")
    fails("lifecycle", "store.duckdb", "--customers", "store.duckdb", code="HG424")
    assert Path("shop.duckdb").stat().st_size == size
    ok("funnel", "store.duckdb", "--steps", "visit")  # the store is still readable


def test_the_refusal_comes_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from hourglass.interfaces import api

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the analysis ran")

    monkeypatch.setattr(api, "funnel", boom)
    fails("funnel", "ev.csv", "--steps", "visit", "--out", "ev.csv", code="HG424")
    fails("funnel", "ev.csv", "--steps", "visit", "--out", "nodir/x.json", code="HG425")


# --- HG425: a path that cannot be written --------------------------------------------------------------


@pytest.mark.parametrize("command", ["funnel", "paths", "lifecycle"])
def test_out_in_a_missing_directory(command: str) -> None:
    err = fails(command, "ev.csv", *COMMANDS[command], "--out", "nodir/res.txt", code="HG425")
    assert "nodir/res.txt" in err and "hint:" in err
    assert not Path("nodir").exists()  # not made silently


def test_customers_in_a_missing_directory() -> None:
    err = fails("lifecycle", "ev.csv", "--customers", "nodir/stages.parquet", code="HG425")
    assert "nodir/stages.parquet" in err
    assert not Path("nodir").exists()


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_out_the_os_refuses(fmt: str) -> None:
    err = fails(
        "funnel", "ev.csv", "--steps", "visit", "--format", fmt, "--out", TOO_LONG + ".txt", code="HG425"
    )
    assert "cannot write" in err


def test_out_under_a_file() -> None:
    fails("funnel", "ev.csv", "--steps", "visit", "--out", "ev.csv/res.json", code="HG425")


def test_customers_the_os_refuses() -> None:
    err = fails("lifecycle", "ev.csv", "--customers", TOO_LONG + ".csv", code="HG425")
    assert "cannot write" in err


def test_demo_out_that_cannot_be_made() -> None:
    Path("afile").write_text("x", encoding="utf-8")
    fails("demo", "--size", "10", "--out-dir", "afile/demo", code="HG425")
    fails("demo", "--size", "10", "--out-dir", TOO_LONG, code="HG425")
    assert sorted(p.name for p in Path().iterdir()) == ["afile", "ev.csv"]


# --- correct uses still work ---------------------------------------------------------------------------


def test_out_to_a_new_file_and_over_another_file() -> None:
    Path("sub").mkdir()
    ok("funnel", "ev.csv", "--steps", "visit,purchase", "--format", "json", "--out", "sub/res.json")
    assert json.loads(Path("sub/res.json").read_text(encoding="utf-8"))["steps"][0]["customers"] == 2
    Path("old.txt").write_text("old", encoding="utf-8")
    ok("funnel", "ev.csv", "--steps", "visit,purchase", "--out", "old.txt")
    text = Path("old.txt").read_text(encoding="utf-8")
    assert "old" not in text and "visit" in text and "purchase" in text
    ok("lifecycle", "ev.csv", "--customers", "sub/stages.csv", "--out", "sub/life.csv", "--format", "csv")
    assert Path("sub/stages.csv").read_text(encoding="utf-8").startswith("customer,")
    assert Path("sub/life.csv").read_text(encoding="utf-8").startswith("stage,")


# --- demo's options --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-3"])
def test_demo_size_below_one(value: str) -> None:
    result = invoke("demo", "--size", value, "--out-dir", "d")
    assert result.exit_code == 2 and "Traceback" not in result.output and "HG699" not in result.output
    assert "--size" in result.stderr
    assert not Path("d").exists()


def test_demo_negative_seed() -> None:
    result = invoke("demo", "--size", "10", "--seed", "-1", "--out-dir", "d")
    assert result.exit_code == 2 and "HG699" not in result.output and "--seed" in result.stderr
    assert not Path("d").exists()


# --- times beyond Python's datetime ------------------------------------------------------------------------


def test_a_time_beyond_year_9999_is_a_listed_placeholder() -> None:
    # a far-future placeholder: 9999-12-31 23:00 at UTC-5 is 10000-01-01 04:00 UTC; hourglass reads
    # times in 1900-2200 (HG412), so it is listed with its line rather than shown as a real time
    Path("far.csv").write_text(
        "customer_id,event,timestamp\n"
        "a,visit,2024-01-01T10:00:00-05:00\n"
        "a,purchase,9999-12-31T23:00:00-05:00\n"
        "b,visit,2024-01-02T10:00:00-05:00\n",
        encoding="utf-8",
    )
    err = fails("journey", "far.csv", "--model", "hourglass", "--customer", "a", code="HG412")
    assert "line 3" in err and "9999-12-31T23:00:00-05:00" in err
    fails("followers", "far.csv", "--model", "hourglass", code="HG412")


def test_times_on_the_proleptic_calendar() -> None:
    from datetime import datetime, timedelta

    from hourglass.model.iso_time import iso_of_micros as _iso
    from hourglass.model.iso_time import proleptic_iso as _proleptic_iso

    epoch, one = datetime(1970, 1, 1), timedelta(microseconds=1)
    for t in (
        datetime(1, 1, 1),
        datetime(1600, 2, 29, 1, 2, 3, 4),
        datetime(1970, 1, 1),
        datetime(9999, 12, 31),
    ):
        us = (t - epoch) // one
        assert _proleptic_iso(us) == t.isoformat()
    assert _iso(2**63 - 1) == "294247-01-10T04:00:54.775807"  # DuckDB's latest timestamp
    assert _iso((datetime(1, 1, 1) - epoch) // one - 1) == "0000-12-31T23:59:59.999999"


@pytest.mark.parametrize("out", [False, True])
def test_a_source_rewritten_during_a_command_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: bool
) -> None:
    # a Parquet file is read again by each query: rewritten after validation, the result would count
    # rows nobody validated; the command stops with HG209 before anything is printed or written
    import pandas as pd

    from hourglass.interfaces import api

    source = tmp_path / "ev.parquet"
    frame = pd.DataFrame(
        {"customer_id": ["a", "b"], "event": ["visit", "visit"], "timestamp": ["2024-01-01 10:00"] * 2}
    )
    frame.to_parquet(source)
    real = api.funnel

    def rewriting(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        pd.concat([frame, frame.assign(customer_id=["c", "d"])]).to_parquet(source)
        return result

    monkeypatch.setattr(api, "funnel", rewriting)
    target = tmp_path / "funnel.txt"
    err = fails("funnel", source, "--steps", "visit", *(["--out", target] if out else []), code="HG209")
    assert "changed while it was read" in err
    assert not target.exists()
