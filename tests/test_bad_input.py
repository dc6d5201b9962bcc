"""Bad input a new user meets in the first minute (issue 11, item 8): a bad value is quoted, never
dumped; a file is read as what its bytes say; outputs never overwrite an input; placeholder dates
are listed; wrong TOML types name the file and key; schema-qualified DuckDB tables work; a store
never ignores column flags silently; and validate/ingest speak the CLI's vocabulary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

import hourglass
from hourglass.ingest.shown import cut, quoted
from hourglass.model.errors import HourglassError
from test_cli import fails, invoke, ok

CSV = (
    "customer_id,event,timestamp\n"
    "a,visit,2024-01-01 10:00:00\n"
    "a,purchase,2024-01-02 10:00:00\n"
    "b,visit,2024-01-02 10:00:00\n"
)


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    Path("ev.csv").write_text(CSV, encoding="utf-8")


def _code(excinfo: pytest.ExceptionInfo[HourglassError]) -> str:
    return excinfo.value.code


# --- a bad value is cut ----------------------------------------------------------------------------------


def test_cut_keeps_short_values_and_cuts_long_ones() -> None:
    assert cut("abc") == "abc" and quoted("abc") == "'abc'"
    assert cut("x" * 80) == "x" * 80
    assert cut("y" * 50_000) == "y" * 80 + "…(50,000 chars)"
    assert cut("z" * 80, 2_000_000) == "z" * 80 + "…(2,000,000 chars)"  # a prefix read back from the engine
    assert quoted("q" * 100) == repr("q" * 80) + "…(100 chars)"


def test_a_huge_bad_value_is_cut_in_the_message_and_in_json() -> None:
    Path("big.csv").write_text(CSV + "c,visit," + "x" * 50_000 + "\n", encoding="utf-8")
    err = fails("funnel", "big.csv", "--steps", "visit", code="HG404")
    assert "x" * 80 + "…(50,000 chars)" in err and "x" * 81 not in err
    assert len(err) < 2_000
    result = invoke("validate", "big.csv", "--format", "json")
    assert result.exit_code == 1
    (sample,) = json.loads(result.stdout)["problems"][0]["samples"]
    assert sample == {"where": "line 5", "value": "x" * 80 + "…(50,000 chars)"}


def test_a_ragged_line_is_quoted_cut() -> None:
    rows = "".join(f"c{i},visit,2024-01-01 10:00:00\n" for i in range(3000))  # past the sniffer's sample
    Path("ragged.csv").write_text(CSV + rows + "d,visit,2024-01-01," + "y," * 20_000 + "\n", encoding="utf-8")
    err = fails("validate", "ragged.csv", code="HG408")
    assert "chars)" in err and "y," * 100 not in err


# --- a file is read as what its bytes say ------------------------------------------------------------------


def test_a_parquet_file_named_csv_is_read_as_parquet() -> None:
    duckdb.sql("COPY (SELECT * FROM 'ev.csv') TO 'real.parquet' (FORMAT parquet)")
    Path("disguised.csv").write_bytes(Path("real.parquet").read_bytes())
    data = json.loads(ok("funnel", "disguised.csv", "--steps", "visit,purchase", "--format", "json").stdout)
    assert [s["customers"] for s in data["steps"]] == [2, 1]


def test_csv_text_named_parquet_is_read_as_csv_and_json_lines_named_csv_as_json() -> None:
    Path("text.parquet").write_text(CSV, encoding="utf-8")
    report = hourglass.validate("text.parquet")
    assert report.ok and report.rows == 3 and report.kind == "csv"
    lines = "".join(
        json.dumps({"customer_id": c, "event": e, "timestamp": t}) + "\n"
        for c, e, t in [("a", "visit", "2024-01-01 10:00:00"), ("b", "visit", "2024-01-02 10:00:00")]
    )
    Path("lines.csv").write_text(lines, encoding="utf-8")
    assert hourglass.validate("lines.csv").kind == "jsonl"


def test_a_database_or_a_workbook_under_a_csv_name_says_what_it_is() -> None:
    con = duckdb.connect("shop.duckdb")
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    con.close()
    Path("shop.csv").write_bytes(Path("shop.duckdb").read_bytes())
    err = fails("validate", "shop.csv", code="HG208")
    assert "DuckDB database" in err and ".duckdb" in err
    Path("book.csv").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert "Excel" in fails("validate", "book.csv", code="HG208")


def test_a_glob_of_files_of_different_formats_is_hg208() -> None:
    Path("d").mkdir()
    Path("d/a.csv").write_text(CSV, encoding="utf-8")
    duckdb.sql("COPY (SELECT * FROM 'ev.csv') TO 'd/b.csv' (FORMAT parquet)")
    err = fails("validate", "d/*.csv", code="HG208")
    assert "d/a.csv" in err and "d/b.csv" in err


# --- outputs never overwrite an input -----------------------------------------------------------------------


def test_out_over_the_config_file_is_refused() -> None:
    Path("my.toml").write_text('[columns]\ncustomer = "customer_id"\n', encoding="utf-8")
    before = Path("my.toml").read_text(encoding="utf-8")
    err = fails(
        "funnel", "ev.csv", "--steps", "visit", "--config", "my.toml", "--out", "my.toml", code="HG424"
    )
    assert "--config" in err
    assert Path("my.toml").read_text(encoding="utf-8") == before


def test_out_over_the_implicit_hourglass_toml_is_refused() -> None:
    Path("hourglass.toml").write_text('[columns]\ncustomer = "customer_id"\n', encoding="utf-8")
    fails("funnel", "ev.csv", "--steps", "visit", "--out", "hourglass.toml", code="HG424")
    assert Path("hourglass.toml").read_text(encoding="utf-8").startswith("[columns]")


def test_out_and_customers_over_the_spend_file_or_each_other_are_refused() -> None:
    spend = "channel,period,cost\nads,2024-01,100\n"
    Path("spend.csv").write_text(spend, encoding="utf-8")
    for flag in ("--out", "--customers"):
        err = fails("lifecycle", "ev.csv", "--spend", "spend.csv", flag, "spend.csv", code="HG424")
        assert "--spend" in err
    assert Path("spend.csv").read_text(encoding="utf-8") == spend
    fails("lifecycle", "ev.csv", "--customers", "c.csv", "--out", "./c.csv", code="HG424")
    assert not Path("c.csv").exists()


def test_out_over_a_model_file_is_refused() -> None:
    model = (
        "name: mine\nstages:\n  - name: visit\n    events: [visit]\n  - name: buy\n    events: [purchase]\n"
    )
    Path("mine.yaml").write_text(model, encoding="utf-8")
    fails("funnel", "ev.csv", "--model", "mine.yaml", "--out", "mine.yaml", code="HG424")
    assert Path("mine.yaml").read_text(encoding="utf-8") == model


# --- placeholder dates ------------------------------------------------------------------------------------


def test_placeholder_dates_are_listed_with_their_lines() -> None:
    Path("old.csv").write_text(
        CSV + "c,visit,0001-01-01 00:00:00\nd,visit,9999-12-31\ne,visit,1899-12-31 23:59:59\n",
        encoding="utf-8",
    )
    result = invoke("validate", "old.csv", "--format", "json")
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["code"] == "HG412" and problem["count"] == 3
    assert [s["where"] for s in problem["samples"]] == ["line 5", "line 6", "line 7"]
    fails("funnel", "old.csv", "--steps", "visit", code="HG412")


def test_the_edges_of_the_time_range() -> None:
    Path("edge.csv").write_text(
        "customer_id,event,timestamp\na,visit,1900-01-01 00:00:00\nb,visit,2199-12-31 23:59:59\n",
        encoding="utf-8",
    )
    assert hourglass.validate("edge.csv").ok
    Path("over.csv").write_text(
        "customer_id,event,timestamp\na,visit,2199-12-31T23:00:00-05:00\n", encoding="utf-8"
    )  # 2200-01-01 04:00 UTC
    assert [p.code for p in hourglass.validate("over.csv").problems] == ["HG412"]


@pytest.mark.parametrize("bad", ["0001-01-01", "2500-06-01"])
def test_placeholder_dates_in_parquet_are_listed(bad: str) -> None:
    duckdb.sql(
        "COPY (SELECT 'a' AS customer_id, 'visit' AS event, TIMESTAMP '2024-01-01' AS timestamp "
        f"UNION ALL SELECT 'b', 'visit', TIMESTAMP '{bad}') TO 'old.parquet' (FORMAT parquet)"
    )
    report = hourglass.validate("old.parquet")
    assert [(p.code, p.count) for p in report.problems] == [("HG412", 1)]
    assert report.problems[0].samples[0][0] == 2


def test_good_parquet_times_are_still_read_from_the_footer(monkeypatch: pytest.MonkeyPatch) -> None:
    from hourglass.engine import load

    duckdb.sql(
        "COPY (SELECT 'a' AS customer_id, 'visit' AS event, TIMESTAMP '2024-01-01' AS timestamp) "
        "TO 'good.parquet' (FORMAT parquet)"
    )
    seen: list[object] = []
    real = load._from_parquet_statistics

    def spy(*args: Any) -> Any:
        seen.append(result := real(*args))
        return result

    monkeypatch.setattr(load, "_from_parquet_statistics", spy)
    assert hourglass.events("good.parquet").report.ok  # a load; `validate` reads every value
    assert seen and seen[0] is not None


# --- hourglass.toml of the wrong types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ('columns = "customer_id"\n', ["'columns'", "a table", "the text 'customer_id'"]),
        ("[columns]\ncustomer = 3\n", ["[columns] customer", "the number 3"]),
        ('[columns]\ntime_unit = ["s"]\n', ["[columns] time_unit", "a list"]),
        ('models = "x.yaml"\n', ["'models'", "a table"]),
        ("[models]\nmine = 3\n", ["[models] mine", "the number 3"]),
        ("lifecycle = 3\n", ["'lifecycle'", "a table"]),
    ],
)
def test_wrong_toml_types_name_the_file_and_key(toml: str, names: list[str]) -> None:
    Path("bad.toml").write_text(toml, encoding="utf-8")
    err = fails("funnel", "ev.csv", "--steps", "visit", "--config", "bad.toml", code="HG113")
    assert "bad.toml" in err
    for name in names:
        assert name in err


# --- schema-qualified DuckDB tables -------------------------------------------------------------------------


def _schema_db() -> None:
    con = duckdb.connect("s.duckdb")
    con.execute("CREATE SCHEMA analytics")
    con.execute("CREATE TABLE analytics.events AS SELECT * FROM read_csv('ev.csv')")
    con.execute("CREATE TABLE other AS SELECT 1 AS a")
    con.close()


def test_schema_qualified_duckdb_tables() -> None:
    _schema_db()
    for args in (["s.duckdb:analytics.events"], ["s.duckdb", "--table", "analytics.events"]):
        data = json.loads(ok("funnel", *args, "--steps", "visit,purchase", "--format", "json").stdout)
        assert [s["customers"] for s in data["steps"]] == [2, 1]
    err = fails("funnel", "s.duckdb", "--steps", "visit", code="HG205")
    assert "other, analytics.events" in err


# --- a store's columns are fixed at ingest -----------------------------------------------------------------


def test_a_store_refuses_column_flags_it_cannot_honour() -> None:
    Path("u.csv").write_text(
        "user,event,timestamp,page\na,visit,2024-01-01 10:00:00,home\nb,visit,2024-01-02 10:00:00,cart\n",
        encoding="utf-8",
    )
    ok("ingest", "u.csv", "--into", "st.duckdb", "--customer-col", "user", "-q")
    # the mapping of the ingest (a config used for both), or a role's own name: fine
    ok("funnel", "st.duckdb", "--steps", "visit", "--customer-col", "user")
    ok("funnel", "st.duckdb", "--steps", "visit", "--customer-col", "customer")
    err = fails("funnel", "st.duckdb", "--steps", "visit", "--event-col", "page", code="HG310")
    assert "--event-col page" in err and "ingest" in err
    fails("funnel", "st.duckdb", "--steps", "visit", "--customer-col", "x", code="HG310")
    fails("funnel", "st.duckdb", "--steps", "visit", "--time-unit", "ms", code="HG310")


# --- validate's and ingest's --format ----------------------------------------------------------------------


def test_validate_and_ingest_format_table_and_the_old_text() -> None:
    assert "ok: no problems found" in ok("validate", "ev.csv", "--format", "table").stdout
    assert "ok: no problems found" in ok("validate", "ev.csv").stdout
    assert "3 events" in ok("ingest", "ev.csv", "--into", "st.duckdb", "--format", "table").stdout
    for args in (["validate", "ev.csv"], ["ingest", "ev.csv", "--into", "st2.duckdb"]):
        err = fails(*args, "--format", "text", code="HG150")
        assert "--format table" in err
    assert not Path("st2.duckdb").exists()
