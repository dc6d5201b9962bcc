"""The ``hourglass`` command line: every source kind, the output formats, models, SQL, column flags and
every bad-input error (a message with a stable code, the file, the column and a hint; exit status 2;
never a traceback). Driven in-process with click's CliRunner, plus two real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner, Result

from hourglass.interfaces.cli import cli
from hourglass.model.stats import wilson

HOURGLASS = Path(sys.executable).parent / "hourglass"

STEP_KEYS = [
    "step",
    "customers",
    "conversion_from_first",
    "conversion_from_first_low",
    "conversion_from_first_high",
    "conversion_from_previous",
    "conversion_from_previous_low",
    "conversion_from_previous_high",
    "dropped",
    "median_time_from_previous_s",
    "p90_time_from_previous_s",
]

# A small shop, by hand (window 7d, steps visit, signup, purchase):
#   a: visit -> signup after 1 h -> purchase after 23 h       level 3
#   b: visit -> signup after 30 min                          level 2
#   c: visit -> purchase (no signup)                         level 1
#   d: visit (no channel)                                    level 1
# visit 4, signup 2, purchase 1; signup times 3600, 1800 (median 2700, p90 1800 + 0.9 * 1800 = 3420);
# purchase time 82 800.
HEADER = ("customer_id", "event", "timestamp", "channel", "revenue")
ROWS = [
    ("a", "visit", "2024-01-01 10:00:00", "ads", None),
    ("a", "signup", "2024-01-01 11:00:00", "ads", None),
    ("a", "purchase", "2024-01-02 10:00:00", "ads", 10.5),
    ("b", "visit", "2024-01-01 10:00:00", "search", None),
    ("b", "signup", "2024-01-01 10:30:00", "search", None),
    ("c", "visit", "2024-01-03 10:00:00", "ads", None),
    ("c", "purchase", "2024-01-03 12:00:00", "ads", 5.0),
    ("d", "visit", "2024-01-05 10:00:00", None, None),
]
STEPS = "visit,signup,purchase"
EXPECTED = {
    "customers": [4, 2, 1],
    "dropped": [0, 2, 1],
    "conversion_from_first": [1.0, 0.5, 0.25],
    "conversion_from_previous": [1.0, 0.5, 0.5],
    "median_time_from_previous_s": [None, 2700.0, 82800.0],
    "p90_time_from_previous_s": [None, 3420.0, 82800.0],
}


# --- helpers -----------------------------------------------------------------------------------------


def invoke(*args: Any, env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def flat(text: str) -> str:
    """Whitespace-normalised text (rich wraps long lines)."""
    return " ".join(text.split())


def fails(*args: Any, code: str | None, status: int = 2) -> str:
    """Run a command that must fail; return its (flattened) error output."""
    result = invoke(*args)
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    err = flat(result.stderr)
    if code is not None:
        assert f"[{code}]" in err, err
    return err


def ok(*args: Any) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def as_json(*args: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(*args, "--format", "json").stdout)
    return data


def column(steps: list[dict[str, Any]], key: str) -> list[Any]:
    return [s[key] for s in steps]


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    lines = [",".join(header)]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: str | Path, header: Iterable[str] = HEADER, rows: Iterable[Iterable[Any]] = ROWS) -> Path:
    Path(path).write_text(csv_text(header, rows), encoding="utf-8")
    return Path(path)


def frame(rows: list[tuple[Any, ...]] = ROWS) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(HEADER))
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["revenue"] = df["revenue"].astype("float64")
    return df


def assert_expected(steps: list[dict[str, Any]]) -> None:
    assert column(steps, "step") == ["visit", "signup", "purchase"]
    for key, values in EXPECTED.items():
        assert column(steps, key) == values, key


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test in its own empty directory (short names in messages; no stray hourglass.toml)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


# --- sources -----------------------------------------------------------------------------------------


def make_source(kind: str) -> str:
    if kind == "csv":
        return str(write_csv("ev.csv"))
    if kind == "parquet":
        pq.write_table(pa.Table.from_pandas(frame(), preserve_index=False), "ev.parquet")
        return "ev.parquet"
    if kind == "jsonl":
        with open("ev.jsonl", "w", encoding="utf-8") as fh:
            for row in ROWS:
                fh.write(json.dumps(dict(zip(HEADER, row, strict=True))) + "\n")
        return "ev.jsonl"
    if kind == "duckdb":
        con = duckdb.connect("shop.duckdb")
        con.register("shop_rows", frame())
        con.execute("CREATE TABLE clicks AS SELECT * FROM shop_rows")
        con.execute("CREATE TABLE events AS SELECT * FROM shop_rows WHERE customer_id = 'a'")
        con.close()
        return "shop.duckdb:clicks"
    if kind == "glob":
        Path("parts").mkdir()
        # a's visit in one file, the rest of his journey in another: the files are one log
        write_csv("parts/2024-01-a.csv", rows=[ROWS[0], ROWS[3], ROWS[4]])
        write_csv("parts/2024-01-b.csv", rows=[ROWS[1], ROWS[2], *ROWS[5:]])
        Path("parts/notes.txt.bak").write_text("not matched by the glob")
        return "parts/*.csv"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl", "duckdb", "glob"])
def test_funnel_on_every_source_kind(kind: str) -> None:
    source = make_source(kind)
    data = as_json("funnel", source, "--steps", STEPS)
    assert_expected(data["steps"])
    assert data["meta"]["source"] == source
    assert data["meta"]["duplicates_collapsed"] == 0


def test_duckdb_file_default_table_and_table_flag() -> None:
    make_source("duckdb")
    # without ':table' the table is 'events' (here: customer a only)
    assert column(as_json("funnel", "shop.duckdb", "--steps", STEPS)["steps"], "customers") == [1, 1, 1]
    steps = as_json("funnel", "shop.duckdb", "--table", "clicks", "--steps", STEPS)["steps"]
    assert_expected(steps)


def test_table_output_is_the_default() -> None:
    write_csv("ev.csv")
    out = ok("funnel", "ev.csv", "--steps", STEPS).stdout
    assert "funnel · ordered · window 7d" in out
    for text in ("visit", "signup", "purchase", "50.0%", "25.0%", "45.0 m", "23.0 h"):
        assert text in out


# --- output formats ----------------------------------------------------------------------------------


def test_json_shape() -> None:
    write_csv("ev.csv")
    data = as_json("funnel", "ev.csv", "--steps", STEPS)
    assert list(data) == ["steps", "meta"]
    for step in data["steps"]:
        assert list(step) == STEP_KEYS
    assert_expected(data["steps"])
    first = [wilson(c, 4) for c in (4, 2, 1)]
    prev = [wilson(4, 4), wilson(2, 4), wilson(1, 2)]
    assert column(data["steps"], "conversion_from_first_low") == pytest.approx([lo for lo, _ in first])
    assert column(data["steps"], "conversion_from_first_high") == pytest.approx([hi for _, hi in first])
    assert column(data["steps"], "conversion_from_previous_low") == pytest.approx([lo for lo, _ in prev])
    assert column(data["steps"], "conversion_from_previous_high") == pytest.approx([hi for _, hi in prev])
    meta = data["meta"]
    assert meta["engine"] == "duckdb"
    assert meta["source"] == "ev.csv"
    assert meta["spec"]["window"] == "7d"
    assert meta["spec"]["mode"] == "ordered"
    assert [s["name"] for s in meta["spec"]["steps"]] == ["visit", "signup", "purchase"]


def test_json_breakdown_shape() -> None:
    write_csv("ev.csv")
    data = as_json("funnel", "ev.csv", "--steps", STEPS, "--by", "channel")
    assert list(data) == ["breakdown", "groups", "meta"]
    assert data["breakdown"] == "channel"
    for group in data["groups"]:
        assert list(group) == ["value", "steps"]
        for step in group["steps"]:
            assert list(step) == STEP_KEYS
    # groups by customers at step 1, the null group last
    got = {g["value"]: column(g["steps"], "customers") for g in data["groups"]}
    assert [g["value"] for g in data["groups"]] == ["ads", "search", None]
    assert got == {"ads": [2, 1, 1], "search": [1, 1, 0], None: [1, 0, 0]}
    ads = data["groups"][0]["steps"]
    assert column(ads, "median_time_from_previous_s") == [None, 3600.0, 82800.0]
    assert column(ads, "conversion_from_first") == [1.0, 0.5, 0.5]


def test_csv_format() -> None:
    write_csv("ev.csv")
    out = ok("funnel", "ev.csv", "--steps", STEPS, "--format", "csv").stdout
    lines = out.splitlines()
    assert lines[0] == ",".join(STEP_KEYS)
    assert len(lines) == 4
    assert lines[1].startswith("visit,4,1.0,")
    assert lines[1].endswith(",0,,")  # no times at step 1
    assert lines[3].startswith("purchase,1,0.25,")
    assert lines[3].endswith(",1,82800.0,82800.0")


def test_csv_format_breakdown_header() -> None:
    write_csv("ev.csv")
    out = ok("funnel", "ev.csv", "--steps", STEPS, "--format", "csv", "--by", "channel").stdout
    lines = out.splitlines()
    assert lines[0] == ",".join(["channel", *STEP_KEYS])
    assert len(lines) == 1 + 3 * 3
    assert lines[1].startswith("ads,visit,2,")


def test_out_file() -> None:
    write_csv("ev.csv")
    result = ok("funnel", "ev.csv", "--steps", STEPS, "--format", "json", "--out", "res.json")
    assert result.stdout == ""
    assert_expected(json.loads(Path("res.json").read_text())["steps"])


def test_since_until_and_window() -> None:
    write_csv("ev.csv")
    # entries from 01-02 on: c (01-03) and d (01-05)
    steps = as_json("funnel", "ev.csv", "--steps", STEPS, "--since", "2024-01-02")["steps"]
    assert column(steps, "customers") == [2, 0, 0]
    steps = as_json("funnel", "ev.csv", "--steps", STEPS, "--until", "2024-01-02")["steps"]
    assert column(steps, "customers") == [2, 2, 1]
    # a 45 min window keeps only b's signup; a's purchase is exactly 24 h after his visit
    steps = as_json("funnel", "ev.csv", "--steps", STEPS, "--window", "45m")["steps"]
    assert column(steps, "customers") == [4, 1, 0]
    steps = as_json("funnel", "ev.csv", "--steps", STEPS, "--window", "24h")["steps"]
    assert column(steps, "customers") == [4, 2, 1]  # bounds are inclusive
    steps = as_json("funnel", "ev.csv", "--steps", STEPS, "--window", "86399s")["steps"]
    assert column(steps, "customers") == [4, 2, 0]


# --- models ------------------------------------------------------------------------------------------

# With the demo shop's events (default window 7d):
#   p1: visit, signup +1 h, webinar +1 h, trial_start, purchase, repeat_purchase, review   all 7 stages
#   p2: ad_click, subscribe +1 h, consultation +2 h                                          3 stages
#   p3: visit                                                                                1
#   p4: signup (no awareness)                                                                0
#   p5: visit, signup +30 min, purchase +1 h 30 min (no trust)                               2
SHOP = [
    ("p1", "visit", "2024-01-01 10:00:00"),
    ("p1", "signup", "2024-01-01 11:00:00"),
    ("p1", "webinar", "2024-01-01 12:00:00"),
    ("p1", "trial_start", "2024-01-02 10:00:00"),
    ("p1", "purchase", "2024-01-03 10:00:00"),
    ("p1", "repeat_purchase", "2024-01-04 10:00:00"),
    ("p1", "review", "2024-01-05 10:00:00"),
    ("p2", "ad_click", "2024-01-01 10:00:00"),
    ("p2", "subscribe", "2024-01-01 11:00:00"),
    ("p2", "consultation", "2024-01-01 13:00:00"),
    ("p3", "visit", "2024-01-01 10:00:00"),
    ("p4", "signup", "2024-01-01 10:00:00"),
    ("p5", "visit", "2024-01-02 10:00:00"),
    ("p5", "signup", "2024-01-02 10:30:00"),
    ("p5", "purchase", "2024-01-02 12:00:00"),
]
HOURGLASS_STAGES = ["awareness", "interest", "trust", "trial", "sale", "repeat", "word_of_mouth"]


def write_shop() -> str:
    write_csv("shop.csv", header=("user_id", "event_name", "event_time"), rows=SHOP)
    return "shop.csv"


def test_model_alone_uses_all_stages() -> None:
    data = as_json("funnel", write_shop(), "--model", "hourglass")
    steps = data["steps"]
    assert column(steps, "step") == HOURGLASS_STAGES
    assert column(steps, "customers") == [4, 3, 2, 1, 1, 1, 1]
    assert column(steps, "dropped") == [0, 1, 1, 1, 0, 0, 0]
    assert column(steps, "median_time_from_previous_s")[:3] == [None, 3600.0, 5400.0]
    assert column(steps, "p90_time_from_previous_s")[1] == 3600.0
    assert column(steps, "label")[0] == "Attention / awareness"
    for step in steps:
        assert list(step) == [STEP_KEYS[0], "label", *STEP_KEYS[1:]]
    assert data["meta"]["model"] == "hourglass"


def test_model_with_steps_picks_stages() -> None:
    steps = as_json("funnel", write_shop(), "--model", "hourglass", "--steps", "interest,sale")["steps"]
    assert column(steps, "step") == ["interest", "sale"]
    # interest: p1 p2 p4 p5; sale after interest: p1 (47 h) and p5 (1 h 30 min)
    assert column(steps, "customers") == [4, 2]
    assert column(steps, "median_time_from_previous_s") == [None, (169200 + 5400) / 2]


def test_models_lists_the_six_presets() -> None:
    out = ok("models").stdout
    for name in ("funnel4", "aida", "hourglass", "flip_the_funnel", "flywheel", "solis6"):
        assert name in out
    assert "awareness → interest → trust" in flat(out)


def test_models_show_round_trips_through_a_model_file() -> None:
    text = ok("models", "show", "hourglass").stdout
    data = yaml.safe_load(text)
    assert data["name"] == "hourglass"
    assert data["kind"] == "hourglass"
    assert [s["name"] for s in data["stages"]] == HOURGLASS_STAGES
    Path("my_model.yaml").write_text(text, encoding="utf-8")
    source = write_shop()
    from_file = as_json("funnel", source, "--model", "my_model.yaml")
    builtin = as_json("funnel", source, "--model", "hourglass")
    assert from_file["steps"] == builtin["steps"]
    assert from_file["meta"]["spec"] == builtin["meta"]["spec"]
    picked = as_json("funnel", source, "--model", "my_model.yaml", "--steps", "interest,sale")["steps"]
    assert column(picked, "customers") == [4, 2]


def test_models_show_json() -> None:
    data = json.loads(ok("models", "show", "flywheel", "--format", "json").stdout)
    assert data["name"] == "flywheel" and data["kind"] == "flywheel"
    assert [s["name"] for s in data["stages"]] == ["attract", "engage", "delight"]


def test_help_and_import_do_not_load_the_engines() -> None:
    # `hourglass --help`, `import hourglass` and the command definitions stay light: Ibis, DuckDB,
    # pyarrow and pandas load on the first analysis (hourglass/__init__.py, lazy CLI imports); DuckDB
    # with the engine's first connection (engine/session.py)
    heavy = ("ibis", "duckdb", "pyarrow", "pandas", "sqlglot", "numpy", "scipy", "fastapi")
    code = (
        "import sys, hourglass; from hourglass.interfaces.cli import cli; "
        f"print([m for m in {heavy!r} if m in sys.modules]); "
        "hourglass.funnel; print([m for m in ('ibis', 'duckdb') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "[]"]  # Ibis loads with the first analysis that needs it
    assert "Usage" in ok("--help").stdout


# --- SQL ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "marker"),
    [("duckdb", "QUANTILE_CONT("), ("clickhouse", "quantileExactInclusive(0.5)("), ("pyspark", "`customer`")],
)
def test_show_sql(dialect: str, marker: str) -> None:
    write_csv("ev.csv")
    out = ok("funnel", "ev.csv", "--steps", STEPS, "--show-sql", "--dialect", dialect).stdout
    assert out.lstrip().startswith(("SELECT", "WITH"))
    assert marker in out
    assert "604800000000" in out  # the 7d window in microseconds
    assert "'signup'" in out


@pytest.mark.parametrize("table", ["events", "my_events"])
def test_show_sql_reads_a_named_table_and_runs_there(table: str) -> None:
    # the printed SQL reads a table of the given name (not a view of hourglass's own session), so it
    # runs in any DuckDB session that has that table, and gives the funnel's own numbers
    write_csv("ev.csv")
    extra = [] if table == "events" else ["--sql-table", table]
    sql = ok("funnel", "ev.csv", "--steps", STEPS, "--show-sql", *extra).stdout
    assert f'FROM "{table}"' in sql and "ibis_" not in sql
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('ev.csv', all_varchar = true)")
    row = con.execute(sql).fetchone()
    got = [int(row[0])] + [int(row[1 + 3 * k]) for k in range(len(STEPS.split(",")) - 1)]
    want = column(as_json("funnel", "ev.csv", "--steps", STEPS)["steps"], "customers")
    assert got == want


def test_show_sql_defaults_to_duckdb_and_does_not_validate_rows() -> None:
    write_csv("bad.csv", rows=[("a", "visit", "not a time", None, None)])
    out = ok("funnel", "bad.csv", "--steps", "visit", "--show-sql").stdout
    assert "QUANTILE_CONT(" in out or "SELECT" in out
    assert out.lstrip().startswith(("SELECT", "WITH"))


def test_show_sql_unknown_dialect_is_a_clean_error() -> None:
    write_csv("ev.csv")
    err = fails("funnel", "ev.csv", "--steps", STEPS, "--show-sql", "--dialect", "nosuch", code=None)
    assert "nosuch" in err


# --- column roles ------------------------------------------------------------------------------------


def test_column_flags() -> None:
    write_csv("odd.csv", header=("uid", "action", "at", "src", "money"))
    steps = as_json(
        "funnel",
        "odd.csv",
        "--steps",
        STEPS,
        "--customer-col",
        "uid",
        "--event-col",
        "action",
        "--timestamp-col",
        "at",
    )["steps"]
    assert_expected(steps)
    data = as_json(
        "funnel",
        "odd.csv",
        "--steps",
        STEPS,
        "--customer-col",
        "uid",
        "--event-col",
        "action",
        "--timestamp-col",
        "at",
        "--channel-col",
        "src",
        "--by",
        "channel",
    )
    assert [g["value"] for g in data["groups"]] == ["ads", "search", None]


def test_time_col_alias() -> None:
    write_csv("odd.csv", header=("uid", "action", "at", "src", "money"))
    args = ["--customer-col", "uid", "--event-col", "action", "--time-col", "at"]
    assert_expected(as_json("funnel", "odd.csv", "--steps", STEPS, *args)["steps"])
    assert "timestamp=at" in ok("validate", "odd.csv", *args).stdout


@pytest.mark.parametrize(
    "header",
    [
        ("user_id", "event_name", "event_time", "channel", "revenue"),
        ("distinct_id", "event_type", "ts", "utm_source", "amount"),
        ("person_id", "EVENT", "Time", "source_channel", "order_value"),
        ("client_id", "event", "timestamp", "x", "y"),
    ],
)
def test_common_column_names_are_recognised(header: tuple[str, ...]) -> None:
    write_csv("ev.csv", header=header)
    assert_expected(as_json("funnel", "ev.csv", "--steps", STEPS)["steps"])


def test_validate_reports_roles() -> None:
    write_csv("ev.csv", header=("user_id", "event_name", "event_time", "utm_source", "amount"))
    result = ok("validate", "ev.csv")
    assert flat(result.stdout) == (
        "ev.csv: 8 rows; roles: customer=user_id, event=event_name, timestamp=event_time, "
        "channel=utm_source, revenue=amount ok: no problems found"
    )
    data = json.loads(ok("validate", "ev.csv", "--format", "json").stdout)
    assert data == {
        "source": "ev.csv",
        "rows": 8,
        "roles": {
            "customer": "user_id",
            "event": "event_name",
            "timestamp": "event_time",
            "channel": "utm_source",
            "revenue": "amount",
        },
        "ok": True,
        "duplicates_collapsed": 0,
        "problems": [],
        "notes": [],
        "remarks": [],
    }


def test_config_file_in_working_directory() -> None:
    write_csv("odd.csv", header=("uid", "action", "at", "src", "money"))
    Path("hourglass.toml").write_text('[columns]\ncustomer = "uid"\nevent = "action"\ntimestamp = "at"\n')
    assert_expected(as_json("funnel", "odd.csv", "--steps", STEPS)["steps"])
    Path("other.toml").write_text('[columns]\ncustomer = "uid"\nevent = "action"\ntimestamp = "src"\n')
    # --config wins over ./hourglass.toml: 'src' holds channels, not times
    err = fails("funnel", "odd.csv", "--steps", STEPS, "--config", "other.toml", code="HG404")
    assert "column 'src' cannot be read as a timestamp" in err


# --- errors: sources ---------------------------------------------------------------------------------


def test_missing_file() -> None:
    err = fails("funnel", "nope.csv", "--steps", STEPS, code="HG203")
    assert "nope.csv: no such file" in err
    assert "hint: check the path" in err
    err = fails("validate", "nope.csv", code="HG203")
    assert "nope.csv" in err


def test_glob_matching_nothing() -> None:
    err = fails("funnel", "parts/*.csv", "--steps", STEPS, code="HG203")
    assert "parts/*.csv: no file matches this pattern" in err


def test_directory_instead_of_file() -> None:
    Path("data.csv").mkdir()
    err = fails("funnel", "data.csv", "--steps", STEPS, code="HG203")
    assert "data.csv is a directory" in err


def test_unknown_extension() -> None:
    Path("ev.xlsx").write_text(csv_text(HEADER, ROWS))
    err = fails("funnel", "ev.xlsx", "--steps", STEPS, code="HG202")
    assert "ev.xlsx: unknown file type" in err
    assert ".csv" in err and ".parquet" in err


def test_unknown_extension_hint_names_real_options() -> None:
    Path("ev.xlsx").write_text(csv_text(HEADER, ROWS))
    err = fails("funnel", "ev.xlsx", "--steps", STEPS, code="HG202")
    assert "--format-in" not in err


# ibis' list_tables (used for the hint) calls DuckDB's deprecated fetch_arrow_table()
IGNORE_FETCH_ARROW = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


@IGNORE_FETCH_ARROW
def test_duckdb_missing_table() -> None:
    make_source("duckdb")
    err = fails("funnel", "shop.duckdb:nope", "--steps", STEPS, code="HG205")
    assert "shop.duckdb: no table 'nope'" in err


@IGNORE_FETCH_ARROW
def test_duckdb_missing_table_hint_lists_tables() -> None:
    make_source("duckdb")
    err = fails("funnel", "shop.duckdb:nope", "--steps", STEPS, code="HG205")
    assert "clicks" in err and "events" in err


# --- errors: columns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "drop", "flag", "names"),
    [
        ("customer", "customer_id", "--customer-col", "customer_id, user_id, distinct_id"),
        ("event", "event", "--event-col", "event, event_name, event_type"),
        ("timestamp", "timestamp", "--timestamp-col", "timestamp, ts, time, event_time"),
    ],
)
def test_missing_role_column(role: str, drop: str, flag: str, names: str) -> None:
    keep = [i for i, h in enumerate(HEADER) if h != drop]
    write_csv("ev.csv", header=[HEADER[i] for i in keep], rows=[[r[i] for i in keep] for r in ROWS])
    for command in (["funnel", "ev.csv", "--steps", STEPS], ["validate", "ev.csv"]):
        err = fails(*command, code="HG302")
        assert f"ev.csv: no {role} column" in err
        assert f"hint: name it with {flag} COLUMN" in err
        assert f"recognised names: {names}" in err
        assert "columns there: " + ", ".join(HEADER[i] for i in keep) in err


def test_explicit_column_that_does_not_exist() -> None:
    write_csv("odd.csv", header=("uid", "action", "at", "src", "money"))
    err = fails("funnel", "odd.csv", "--steps", STEPS, "--customer-col", "uidd", code="HG301")
    assert "odd.csv: no column 'uidd' for the customer (--customer-col) (did you mean 'uid'?)" in err
    assert "hint: columns there: uid, action, at, src, money" in err


@pytest.mark.parametrize(
    ("header", "role", "found"),
    [
        (("customer_id", "user_id", "event", "timestamp"), "customer", "customer_id, user_id"),
        (("customer_id", "event", "event_name", "timestamp"), "event", "event, event_name"),
        (("customer_id", "event", "ts", "time"), "timestamp", "ts, time"),
    ],
)
def test_ambiguous_columns(header: tuple[str, ...], role: str, found: str) -> None:
    write_csv("amb.csv", header=header, rows=[("a", "visit", "2024-01-01", "2024-01-01")])
    err = fails("funnel", "amb.csv", "--steps", "visit", code="HG303")
    assert f"amb.csv: several columns could be the {role}: {found}" in err
    assert f"hint: choose one with --{role}-col COLUMN" in err


def test_ambiguity_resolved_by_flag() -> None:
    write_csv(
        "amb.csv",
        header=("customer_id", "user_id", "event", "timestamp"),
        rows=[("a", "b", "visit", "2024-01-01")],
    )
    out = flat(ok("validate", "amb.csv", "--customer-col", "user_id").stdout)
    assert "customer=user_id" in out


# --- errors: rows ------------------------------------------------------------------------------------

BAD_TS = {3, 6, 8, 9, 10, 11, 12}  # data rows with unparseable timestamps (CSV lines: + 1)


def write_bad_timestamps() -> None:
    rows = []
    for i in range(1, 13):
        stamp = ("2024-13-45" if i == 6 else "not a date") if i in BAD_TS else f"2024-01-{i:02d} 10:00:00"
        rows.append((f"c{i}", "visit", stamp, None, None))
    write_csv("ts.csv", rows=rows)


def test_unparseable_timestamps_in_csv() -> None:
    write_bad_timestamps()
    err = fails("funnel", "ts.csv", "--steps", "visit", code="HG404")
    assert "ts.csv" in err
    assert "column 'timestamp' cannot be read as a timestamp in 7 rows" in err
    assert (
        "line 4 ('not a date'), line 7 ('2024-13-45'), line 9 ('not a date'), "
        "line 10 ('not a date'), line 11 ('not a date') and 2 more"
    ) in err
    assert "ISO 8601" in err
    assert "hourglass validate SOURCE" in err


def test_unparseable_timestamp_in_a_glob_names_the_file_and_its_line() -> None:
    Path("parts").mkdir()
    write_csv("parts/1.csv", rows=ROWS[:3])
    write_csv("parts/2.csv", rows=[("x", "visit", "not a date", None, None)])
    err = fails("funnel", "parts/*.csv", "--steps", STEPS, code="HG404")
    assert "parts/2.csv" in err
    assert "line 2 ('not a date')" in err


def test_unparseable_timestamp_line_number_after_a_blank_line() -> None:
    Path("ev.csv").write_text("customer_id,event,timestamp\na,visit,2024-01-01\n\nb,visit,bad\n")
    err = fails("funnel", "ev.csv", "--steps", "visit", code="HG404")
    assert "line 4 ('bad')" in err


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # a quoted field holding a line break: the next record starts a line later
        ('customer_id,event,timestamp\na,"vi\nsit",2024-01-01\nb,visit,bad\n', 4),
        # CRLF line ends and two empty lines
        ("customer_id,event,timestamp\r\na,visit,2024-01-01\r\n\r\n\r\nb,visit,bad\r\n", 5),
        # a comment line
        ("customer_id,event,timestamp\n# exported today\na,visit,2024-01-01\nb,visit,bad\n", 4),
        # a preamble before the header (DuckDB's sniffer skips it)
        ("exported by the shop\n\ncustomer_id,event,timestamp\na,visit,2024-01-01\nb,visit,bad\n", 5),
        # semicolons and single quotes around a line break
        ("customer_id;event;timestamp\na;'vi\nsit';2024-01-01\nb;'x;y';bad\n", 4),
    ],
    ids=["quoted-newline", "crlf-empty-lines", "comment", "preamble", "semicolon-single-quotes"],
)
def test_csv_line_numbers_count_physical_lines(text: str, line: int) -> None:
    Path("ev.csv").write_text(text, newline="")
    err = fails("funnel", "ev.csv", "--steps", "visit", code="HG404")
    assert f"line {line} ('bad')" in err


def test_line_numbers_in_a_glob_of_csv_files_with_empty_lines_and_in_validate_json() -> None:
    Path("parts").mkdir()
    Path("parts/1.csv").write_text("customer_id,event,timestamp\n\na,visit,x1\nb,visit,2024-01-01\n")
    Path("parts/2.csv").write_text("customer_id,event,timestamp\na,visit,2024-01-02\n\n\nc,visit,x2\n")
    err = fails("funnel", "parts/*.csv", "--steps", "visit", code="HG404")
    assert "parts/1.csv line 3 ('x1')" in err
    assert "parts/2.csv line 5 ('x2')" in err
    result = invoke("validate", "parts/*.csv", "--format", "json")
    assert result.exit_code == 1, result.output
    (problem,) = json.loads(result.stdout)["problems"]
    got = [(Path(x["file"]).parts[-2:], x["where"], x["value"]) for x in problem["samples"]]
    assert got == [(("parts", "1.csv"), "line 3", "x1"), (("parts", "2.csv"), "line 5", "x2")]


def test_jsonl_line_numbers_skip_blank_lines() -> None:
    ok_line = json.dumps({"customer_id": "a", "event": "visit", "timestamp": "2024-01-01"})
    bad_line = json.dumps({"customer_id": "b", "event": "visit", "timestamp": "soon"})
    Path("ev.jsonl").write_text(f"{ok_line}\n\n   \n{bad_line}\n")
    err = fails("funnel", "ev.jsonl", "--steps", "visit", code="HG404")
    assert "line 4 ('soon')" in err


def test_csv_that_cannot_be_split_names_the_ragged_lines() -> None:
    # a line of blanks makes DuckDB's sniffer give up on commas and read one column
    Path("ev.csv").write_text("customer_id,event,timestamp\na,visit,2024-01-01\n   \nb,visit,2024-01-02\n")
    err = fails("funnel", "ev.csv", "--steps", "visit", code="HG408")
    assert "ev.csv: cannot split the CSV into columns: the header has 3 fields separated by ','" in err
    assert "but line 3 has 1 field (' ')" in err  # flat() collapses the blanks


def test_csv_that_cannot_be_split_in_a_glob_and_gzip_line_numbers() -> None:
    import gzip

    Path("parts").mkdir()
    Path("parts/1.csv").write_text("customer_id,event,timestamp\na,visit,2024-01-01\n")
    Path("parts/2.csv").write_text("customer_id,event,timestamp\na,visit,2024-01-01\n \nb,visit,2024-01-02\n")
    err = fails("funnel", "parts/*.csv", "--steps", "visit", code="HG408")
    assert "2.csv: cannot split the CSV into columns" in err and "line 3 has 1 field" in err
    text = "customer_id,event,timestamp\n\na,visit,2024-01-01\n\nb,visit,bad\n"
    Path("ev.csv.gz").write_bytes(gzip.compress(text.encode()))
    err = fails("funnel", "ev.csv.gz", "--steps", "visit", code="HG404")
    assert "line 5 ('bad')" in err


@pytest.mark.parametrize(
    ("values", "unit", "code"),
    [
        (("1704103200000", "1704106800000"), None, "HG409"),  # milliseconds read as seconds
        (("1704103200000000", "1704106800000000"), None, "HG409"),  # microseconds: no overflow
        (("1704103200000", "1704106800000"), "ms", None),
        (("1704103200", "1704106800.5"), None, None),
    ],
    ids=["ms-as-s", "us-as-s", "ms", "s-float"],
)
def test_epoch_numbers_in_the_wrong_unit_are_listed(
    values: tuple[str, str], unit: str | None, code: str | None
) -> None:
    Path("ep.csv").write_text(f"customer_id,event,timestamp\na,visit,{values[0]}\na,signup,{values[1]}\n")
    args = ["funnel", "ep.csv", "--steps", "visit,signup", "--format", "json"]
    if unit:
        args += ["--time-unit", unit]
    if code is None:
        data = json.loads(ok(*args).stdout)
        assert [s["customers"] for s in data["steps"]] == [1, 1]
        return
    err = fails(*args, code=code)
    assert f"line 2 ('{values[0]}'), line 3 ('{values[1]}')" in err
    assert "--time-unit ms or us" in err


def test_jsonl_values_of_mixed_json_types() -> None:
    # one non-string value makes DuckDB type the whole column JSON: strings must lose their quotes,
    # so that 1 and "1" are one customer and "visit" matches --steps visit
    lines = [
        {"user_id": 1, "event": "visit", "timestamp": "2024-01-01 10:00:00"},
        {"user_id": "1", "event": "signup", "timestamp": "2024-01-01 11:00:00"},
        {"user_id": "abc", "event": "visit", "timestamp": "2024-01-01 10:00:00"},
    ]
    Path("ev.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    data = json.loads(ok("funnel", "ev.jsonl", "--steps", "visit,signup", "--format", "json").stdout)
    assert [s["customers"] for s in data["steps"]] == [2, 1]
    lines.append({"user_id": "z", "event": {"name": "signup"}, "timestamp": "2024-01-02 10:00:00"})
    Path("ev.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    err = fails("funnel", "ev.jsonl", "--steps", "visit", code="HG402")
    assert "line 4" in err and "not a JSON object or list" in err


def test_event_names_the_source_never_has_are_noted() -> None:
    write_csv("ev.csv")
    result = invoke("funnel", "ev.csv", "--steps", "visit,sigup,purch*", "--exclude", "refnd")
    assert result.exit_code == 0, result.output
    notes = [x for x in result.stderr.splitlines() if x.startswith("note:")]
    # purch* matches purchase; the exclusion is checked only when a step is empty or on a store
    assert notes == [
        "note: step 'sigup': no event named 'sigup' in the source (did you mean 'signup'?)",
        "note: --exclude: no event named 'refnd' in the source",
    ]
    data = json.loads(ok("funnel", "ev.csv", "--steps", "visit,sigup", "--format", "json").stdout)
    assert data["meta"]["notes"] == [notes[0].removeprefix("note: ")]
    clean = invoke("funnel", "ev.csv", "--steps", STEPS)
    assert "note:" not in clean.stderr
    ok("ingest", "ev.csv", "--into", "st.duckdb")
    on_store = invoke("funnel", "st.duckdb", "--steps", STEPS, "--exclude", "refnd")
    assert "note: --exclude: no event named 'refnd' in the source" in on_store.stderr


def test_a_directory_without_an_extension_is_a_directory() -> None:
    Path("exports").mkdir()
    err = fails("validate", "exports", code="HG203")
    assert "exports is a directory" in err and "exports/*.parquet" in err


def test_ragged_line_past_the_sniffers_sample_and_other_encodings() -> None:
    body = "".join(f"c{i},visit,2024-01-01 10:00:00\n" for i in range(30_000))
    Path("big.csv").write_text("customer_id,event,timestamp\n" + body + "x,visit,2024-01-02 10:00:00,oops\n")
    err = fails("funnel", "big.csv", "--steps", "visit", code="HG408")
    assert "line 30002 has 4 fields where the header has 3 ('x,visit,2024-01-02 10:00:00,oops')" in err
    Path("latin1.csv").write_bytes(
        b"customer_id,event,timestamp,channel\nu1,visit,2024-01-01,ads\nJos\xe9,visit,2024-01-01,caf\xe9\n"
    )
    err = fails("funnel", "latin1.csv", "--steps", "visit", code="HG410")
    assert "line 3 is not UTF-8 text" in err and "Latin-1" in err


def test_parquet_files_of_a_glob_keep_every_files_columns() -> None:
    Path("parts").mkdir()
    base = {"customer_id": ["a"], "event": ["visit"], "timestamp": ["2024-01-01 10:00:00"]}
    pq.write_table(pa.table(base), "parts/1.parquet")
    pq.write_table(pa.table({**base, "customer_id": ["b"], "channel": ["ads"]}), "parts/2.parquet")
    out = ok("funnel", "parts/*.parquet", "--steps", "visit", "--by", "channel", "--format", "json").stdout
    groups = {g["value"]: g["steps"][0]["customers"] for g in json.loads(out)["groups"]}
    assert groups == {"ads": 1, None: 1}


def test_a_header_without_rows_is_noted() -> None:
    Path("ev.csv").write_text("customer_id,event,timestamp\n")
    result = invoke("funnel", "ev.csv", "--steps", "visit")
    assert result.exit_code == 0, result.output
    assert "note: the source has no events (a header and no rows)" in result.stderr


def test_a_header_naming_a_column_twice_and_one_column_for_two_roles() -> None:
    Path("dup.csv").write_text(
        "user_id,event_name,event_time,event_name\nu1,visit,2024-01-01 10:00:00,signup\n"
    )
    err = fails("funnel", "dup.csv", "--steps", "visit", code="HG308")
    assert "the header names column 'event_name' twice (columns 2 and 4)" in err
    Path("ok.csv").write_text("user_id,event_name,event_time,step,step_1\nu1,visit,2024-01-01 10:00:00,a,b\n")
    ok("funnel", "ok.csv", "--steps", "visit")  # a column really named step_1 is no repeat
    err = fails("funnel", "ok.csv", "--steps", "visit", "--event-col", "user_id", code="HG309")
    assert "column 'user_id' is given to the event (--event-col) but is already the customer" in err
    err = fails("funnel", "ok.csv", "--steps", "visit", "--customer-col", "event_name", code="HG302")
    assert "no event column ('event_name' is the customer here, --customer-col)" in err


def test_validate_json_when_the_source_cannot_be_read() -> None:
    Path("ev.csv").write_text("customer_id,event,timestamp\na,visit,2024-01-01\n   \nb,visit,2024-01-02\n")
    result = invoke("validate", "ev.csv", "--format", "json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["error"]["code"] == "HG408" and data["error"]["hint"]
    assert "[HG408]" in result.stderr


def test_a_bad_time_past_the_json_readers_type_sample_is_listed() -> None:
    # the reader types "timestamp" from a sample of lines; role columns are read as text, so a bad
    # value far into the file is a listed HG404, not a failed read
    line = '{{"customer_id": "c{i}", "event": "visit", "timestamp": "{t}"}}\n'
    body = "".join(line.format(i=i, t="2024-01-01 10:00:00") for i in range(30_000))
    Path("ev.jsonl").write_text(body + line.format(i="x", t="garbage"))
    err = fails("funnel", "ev.jsonl", "--steps", "visit", code="HG404")
    assert "in 1 row: line 30001 ('garbage')" in err


def test_json_that_is_not_json_lines() -> None:
    rows = [{"customer_id": f"c{i}", "event": "visit", "timestamp": "2024-01-01 10:00:00"} for i in range(3)]
    Path("arr.jsonl").write_text(json.dumps(rows, indent=1))
    err = fails("funnel", "arr.jsonl", "--steps", "visit", code="HG411")
    assert "arr.jsonl: a JSON array, not JSON lines" in err and "jq -c" in err
    lines = [json.dumps(r) for r in rows]
    lines[1] = lines[1][:-1]  # line 2 does not close
    Path("bad.jsonl").write_text("\n".join(lines) + "\n")
    err = fails("funnel", "bad.jsonl", "--steps", "visit", code="HG411")
    assert "is not a complete JSON object" in err and ("line 2 " in err or "line 3 " in err)


@pytest.mark.parametrize("content", ["", "\n\n", "  \n"])
def test_an_empty_file_says_so(content: str) -> None:
    Path("ev.csv").write_text(content)
    err = fails("funnel", "ev.csv", "--steps", "visit", code="HG207")
    assert "ev.csv: the file is empty" in err
    Path("ev.jsonl").write_text(content)
    fails("validate", "ev.jsonl", code="HG207")


def test_by_accepts_the_source_name_of_a_role_column() -> None:
    Path("ev.csv").write_text(
        "user_id,event_name,event_time,utm_source\na,visit,2024-01-01 10:00:00,ads\n"
        "b,visit,2024-01-01 10:00:00,mail\nb,signup,2024-01-01 11:00:00,mail\n"
    )
    out = ok("funnel", "ev.csv", "--steps", "visit,signup", "--by", "utm_source", "--format", "json").stdout
    groups = {g["value"]: [s["customers"] for s in g["steps"]] for g in json.loads(out)["groups"]}
    assert groups == {"ads": [1, 0], "mail": [1, 1]}
    ok("journeys", "ev.csv", "--model", "funnel4", "--by", "utm_source", "--format", "json")
    fails("funnel", "ev.csv", "--steps", "visit", "--by", "utm_sorce", code="HG306")


def test_float_customer_ids_with_nan_or_huge_values() -> None:
    # a pandas id column with a missing value is float: NaN is an empty id, 7.0 is "7", 1e20 is text
    pq.write_table(
        pa.table(
            {
                "customer_id": [7.0, float("nan"), 1e20],
                "event": ["visit"] * 3,
                "timestamp": ["2024-01-01 10:00:00"] * 3,
            }
        ),
        "ids.parquet",
    )
    err = fails("funnel", "ids.parquet", "--steps", "visit", code="HG401")
    assert "is empty in 1 row: row 2" in err


def test_nan_and_infinite_revenue_are_not_numbers() -> None:
    Path("rev.csv").write_text(
        "customer_id,event,timestamp,revenue\na,purchase,2024-01-01,NaN\nb,purchase,2024-01-01,10\n"
        "c,purchase,2024-01-01,inf\n"
    )
    err = fails("funnel", "rev.csv", "--steps", "purchase", code="HG405")
    assert "in 2 rows: line 2 ('NaN'), line 4 ('inf')" in err
    pq.write_table(
        pa.table(
            {
                "customer_id": ["a", "b"],
                "event": ["p", "p"],
                "timestamp": ["2024-01-01"] * 2,
                "revenue": [float("nan"), 10.0],
            }
        ),
        "rev.parquet",
    )
    err = fails("funnel", "rev.parquet", "--steps", "p", code="HG405")
    assert "row 1" in err


def test_csv_files_of_a_glob_with_different_columns() -> None:
    Path("parts").mkdir()
    Path("parts/1.csv").write_text("customer_id,event,timestamp\na,visit,2024-01-01\n")
    Path("parts/2.csv").write_text("user_id,event,timestamp,channel\nb,visit,2024-01-02,ads\n")
    err = fails("funnel", "parts/*.csv", "--steps", "visit", code="HG307")
    assert "2.csv: its columns (user_id, event, timestamp, channel) differ from those of" in err


def test_unparseable_timestamps_in_jsonl_and_parquet_are_numbered() -> None:
    lines = [
        {"customer_id": "a", "event": "visit", "timestamp": t} for t in ("2024-01-01", "soon", "2024-01-02")
    ]
    Path("ev.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    err = fails("funnel", "ev.jsonl", "--steps", "visit", code="HG404")
    assert "line 2 ('soon')" in err
    pq.write_table(pa.Table.from_pylist(lines), "ev.parquet")
    err = fails("funnel", "ev.parquet", "--steps", "visit", code="HG404")
    assert "row 2 ('soon')" in err


def test_empty_customer_id() -> None:
    rows = [list(r) for r in ROWS]
    rows[1][0] = ""
    write_csv("ev.csv", rows=rows)
    err = fails("funnel", "ev.csv", "--steps", STEPS, code="HG401")
    assert "ev.csv" in err
    assert "column 'customer_id' is empty in 1 row: line 3" in err
    assert "every event needs a customer id" in err


def test_empty_customer_id_sample_is_not_nan() -> None:
    rows = [list(r) for r in ROWS]
    rows[1][0] = ""
    write_csv("ev.csv", rows=rows)
    err = fails("funnel", "ev.csv", "--steps", STEPS, code="HG401")
    assert "'nan'" not in err


def test_unparseable_revenue() -> None:
    rows = [list(r) for r in ROWS]
    rows[2][4] = "$10.50"
    write_csv("ev.csv", rows=rows)
    err = fails("funnel", "ev.csv", "--steps", STEPS, code="HG405")
    assert "ev.csv" in err
    assert "column 'revenue' cannot be read as a number in 1 row: line 4 ('$10.50')" in err
    assert "no currency signs" in err


def write_all_problems() -> None:
    rows = [list(r) for r in ROWS]
    rows[0][0] = ""  # line 2: empty customer
    rows[1][1] = ""  # line 3: empty event
    rows[3][2] = ""  # line 5: empty timestamp
    rows[4][2] = "half past ten"  # line 6: unparseable timestamp
    rows[5][2] = "01/03/2024 10:00"  # line 7: not ISO
    rows[6][4] = "five"  # line 8: unparseable revenue
    ids = ["e1" if i == 2 else f"e{i}" for i in range(len(rows))]  # lines 3 and 4: one event of a's
    write_csv("all.csv", header=(*HEADER, "event_id"), rows=[[*r, i] for r, i in zip(rows, ids, strict=True)])


def test_validate_lists_every_problem_at_once() -> None:
    write_all_problems()
    result = invoke("validate", "all.csv")
    assert result.exit_code == 1
    out = flat(result.stdout)
    assert out.startswith("all.csv: 8 rows; roles: customer=customer_id, event=event, timestamp=timestamp,")
    assert re.search(r"\b1 duplicate event_id row\(s\) collapsed", out)
    for text in (
        "[HG401] column 'customer_id' is empty in 1 row: line 2",
        "[HG402] column 'event' is empty in 1 row: line 3",
        "[HG403] column 'timestamp' is empty in 1 row: line 5",
        "[HG404] column 'timestamp' cannot be read as a timestamp in 2 rows: "
        "line 6 ('half past ten'), line 7 ('01/03/2024 10:00')",
        "[HG405] column 'revenue' cannot be read as a number in 1 row: line 8 ('five')",
    ):
        assert text in out
    assert out.index("[HG401]") < out.index("[HG402]") < out.index("[HG403]") < out.index("[HG404]")
    # funnel stops at the same problems, with the first one's code
    err = fails("funnel", "all.csv", "--steps", STEPS, code="HG401")
    assert "[HG405]" in err


def test_validate_json_lists_the_notes() -> None:
    # a note never fails validation; the JSON has it as the table does (a time after today moves
    # the default as-of date)
    Path("later.csv").write_text(
        "customer_id,event,timestamp\nc1,visit,2024-01-01 10:00\nc1,signup,2199-01-02 10:00\n"
    )
    data = json.loads(ok("validate", "later.csv", "--format", "json").stdout)
    assert data["ok"] is True and data["problems"] == []
    (note,) = data["notes"]
    assert (note["note"], note["column"], note["count"]) == ("future", "timestamp", 1)
    assert note["samples"] == [{"where": "line 3", "value": "2199-01-02 10:00"}]
    assert "as-of" in note["hint"]
    assert data["remarks"] == []


def test_validate_json() -> None:
    write_all_problems()
    result = invoke("validate", "all.csv", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert list(data) == [
        "source",
        "rows",
        "roles",
        "ok",
        "duplicates_collapsed",
        "problems",
        "notes",
        "remarks",
    ]
    assert data["source"] == "all.csv"
    assert data["rows"] == 8
    assert data["ok"] is False
    assert data["duplicates_collapsed"] == 1
    assert data["roles"] == {
        "customer": "customer_id",
        "event": "event",
        "timestamp": "timestamp",
        "event_id": "event_id",
        "channel": "channel",
        "revenue": "revenue",
    }
    problems = data["problems"]
    assert [(p["code"], p["column"], p["count"]) for p in problems] == [
        ("HG401", "customer_id", 1),
        ("HG402", "event", 1),
        ("HG403", "timestamp", 1),
        ("HG404", "timestamp", 2),
        ("HG405", "revenue", 1),
    ]
    for p in problems:
        assert list(p) == ["code", "column", "problem", "count", "samples", "hint"]
        assert p["hint"]
    assert problems[3]["problem"] == "cannot be read as a timestamp"
    assert problems[3]["samples"] == [
        {"where": "line 6", "value": "half past ten"},
        {"where": "line 7", "value": "01/03/2024 10:00"},
    ]
    assert problems[4]["samples"] == [{"where": "line 8", "value": "five"}]


def test_duplicate_event_ids_are_reported_as_collapsed() -> None:
    rows = [[*r, f"e{i}"] for i, r in enumerate(ROWS)]
    rows.append([*ROWS[2], "e2"])  # a's purchase delivered twice
    rows.append([*ROWS[0], "e0"])
    rows.append([*ROWS[0], "e0"])
    write_csv("dup.csv", header=(*HEADER, "event_id"), rows=rows)
    result = ok("validate", "dup.csv")
    assert "3 duplicate event_id row(s) collapsed (one event kept per id)" in flat(result.stdout)
    assert "ok: no problems found" in result.stdout
    data = json.loads(ok("validate", "dup.csv", "--format", "json").stdout)
    assert data["ok"] is True
    assert data["rows"] == 11
    assert data["duplicates_collapsed"] == 3
    funnel = as_json("funnel", "dup.csv", "--steps", STEPS)
    assert funnel["meta"]["duplicates_collapsed"] == 3
    assert_expected(funnel["steps"])


# --- errors: options ---------------------------------------------------------------------------------


def test_unknown_mode() -> None:
    write_csv("ev.csv")
    err = fails("funnel", "ev.csv", "--steps", STEPS, "--mode", "ordred", code=None)
    assert "Invalid value for '--mode'" in err
    assert "'ordered', 'strict_order', 'any_order'" in err


def test_bad_window() -> None:
    write_csv("ev.csv")
    err = fails("funnel", "ev.csv", "--steps", STEPS, "--window", "7x", code="HG107")
    assert "invalid window '7x'" in err
    assert "hint: write a positive number and a unit: 30s, 15m, 12h, 7d, 2w" in err
    fails("funnel", "ev.csv", "--steps", STEPS, "--window", "0d", code="HG107")


def test_unknown_model() -> None:
    write_csv("ev.csv")
    err = fails("funnel", "ev.csv", "--model", "hourglas", code="HG106")
    assert "no built-in model 'hourglas' (did you mean 'hourglass'?)" in err
    assert "funnel4, aida, hourglass, flip_the_funnel, flywheel, solis6" in err
    err = fails("models", "show", "hourglas", code="HG106")
    assert "did you mean 'hourglass'?" in err


def test_builtin_model_name_is_not_shadowed_by_a_directory() -> None:
    Path("hourglass").mkdir()
    steps = as_json("funnel", write_shop(), "--model", "hourglass")["steps"]
    assert column(steps, "step") == HOURGLASS_STAGES


def test_unknown_stage_of_model() -> None:
    err = fails("funnel", write_shop(), "--model", "hourglass", "--steps", "interest,sael", code="HG106")
    assert "model 'hourglass' has no stage 'sael' (did you mean 'sale'?)" in err
    assert "its stages: " + ", ".join(HOURGLASS_STAGES) in err


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("name: m\nkind: funnel\nstages:\n  - name: a\n    evnts: [visit]\n", "evnts", "events"),
        ("name: m\nkindd: funnel\nstages:\n  - visit\n", "kindd", "kind"),
        ("name: m\nstages:\n  - name: a\n    events: [visit]\n    wher: ['revenue > 0']\n", "wher", "where"),
    ],
)
def test_model_file_with_unknown_key(text: str, key: str, suggestion: str) -> None:
    write_csv("ev.csv")
    Path("m.yaml").write_text(text)
    err = fails("funnel", "ev.csv", "--model", "m.yaml", code="HG101")
    assert err.startswith("error [HG101]")
    assert "m.yaml: unknown key" in err
    assert f"'{key}'" in err
    assert f"(did you mean '{suggestion}'?)" in err
    assert "hint: allowed keys:" in err


def test_model_file_errors() -> None:
    write_csv("ev.csv")
    err = fails("funnel", "ev.csv", "--model", "missing.yaml", code="HG111")
    assert "missing.yaml: no such model file" in err
    Path("broken.yaml").write_text("name: [unclosed\n")
    err = fails("funnel", "ev.csv", "--model", "broken.yaml", code="HG112")
    assert "broken.yaml: not valid YAML" in err
    Path("dup.yaml").write_text("name: m\nstages: [visit, visit]\n")
    err = fails("funnel", "ev.csv", "--model", "dup.yaml", code="HG105")
    assert "stage names repeat: visit" in err


def test_by_unknown_column() -> None:
    write_csv("ev.csv")
    err = fails("funnel", "ev.csv", "--steps", STEPS, "--by", "chanel", code="HG306")
    assert "--by: no column 'chanel' (did you mean 'channel'?)" in err
    assert "hint: columns: customer, event, timestamp, channel, revenue" in err


def test_since_after_until() -> None:
    write_csv("ev.csv")
    err = fails(
        "funnel", "ev.csv", "--steps", STEPS, "--since", "2024-02-01", "--until", "2024-01-01", code="HG108"
    )
    assert "--since (2024-02-01 00:00:00) must be before --until (2024-01-01 00:00:00)" in err
    err = fails("funnel", "ev.csv", "--steps", STEPS, "--since", "yesterday", code="HG108")
    assert "--since: cannot read 'yesterday' as a date or time" in err


def test_no_steps_and_no_model() -> None:
    write_csv("ev.csv")
    err = fails("funnel", "ev.csv", code="HG109")
    assert "give the funnel's steps or a model" in err


def test_step_filter_on_unknown_column() -> None:
    write_csv("ev.csv")
    Path("m.yaml").write_text(
        "name: m\nstages:\n  - visit\n  - name: buy\n    events: [purchase]\n    where: [revnue > 0]\n"
    )
    err = fails("funnel", "ev.csv", "--model", "m.yaml", code="HG306")
    assert "'revnue'" in err and "did you mean 'revenue'?" in err


def test_missing_config_file() -> None:
    write_csv("ev.csv")
    err = fails("funnel", "ev.csv", "--steps", STEPS, "--config", "nope.toml", code="HG111")
    assert "nope.toml: no such config file" in err


# --- error output hygiene ----------------------------------------------------------------------------


def test_error_output_has_no_escape_codes() -> None:
    result = invoke("funnel", "nope.csv", "--steps", STEPS)
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr


def test_error_lines_are_not_wrapped() -> None:
    header = [f"some_long_column_name_{i}" for i in range(20)]
    write_csv("wide.csv", header=header, rows=[["x"] * 20])
    result = invoke("funnel", "wide.csv", "--steps", "visit", env={"COLUMNS": None})
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[1].startswith("  hint: name it with --customer-col COLUMN")


# --- real subprocesses -------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(
        [str(HOURGLASS), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_subprocess_funnel_json() -> None:
    make_source("glob")
    proc = run("funnel", "parts/*.csv", "--steps", STEPS, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert_expected(data["steps"])
    assert data["meta"]["source"] == "parts/*.csv"


def test_subprocess_error_exit_status_and_message() -> None:
    write_csv("ev.csv", header=("who", "event", "timestamp", "channel", "revenue"))
    proc = run("funnel", "ev.csv", "--steps", STEPS, "--format", "json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert "\x1b" not in proc.stderr  # no colour codes in a pipe
    err = flat(proc.stderr)
    assert "[HG302]" in err
    assert "ev.csv: no customer column" in err
    assert "--customer-col COLUMN" in err
    assert "who, event, timestamp, channel, revenue" in err


@pytest.mark.parametrize("flag", ["--customer-col", "--event-col"])
def test_an_empty_column_flag_is_hg301(flag: str) -> None:
    write_csv("ev.csv")
    err = fails("validate", "ev.csv", flag, "", code="HG301")
    assert f"{flag}: an empty column name" in err
