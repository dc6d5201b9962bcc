"""The funnel's ClickHouse SQL (``funnel_sql(..., dialect="clickhouse")``) runs on ClickHouse (chdb,
in-process) and gives DuckDB's numbers.

The table ``events`` is created the way a user would: ``CREATE TABLE events ... AS SELECT * FROM
file('events.parquet', Parquet)`` (Nullable columns). Counts must be identical; medians and p90s are
exact on both (ClickHouse's ``quantileExactInclusive``, DuckDB's ``quantile_cont``) and compared to
rel 1e-9 (summation order). The property test compares chdb with the plain-Python reference on
random logs, with the times stretched so that windows of days (RANGE frames ClickHouse cannot take
as they are) are drawn as often as windows of seconds.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import hourglass
from journeys import journeys, rows
from reference import funnel_ref as ref
from test_funnel_properties import BASE, DTYPES, Case, assert_same, cases
from test_parity import CASES

chdb_session = pytest.importorskip(
    "chdb.session", reason="chdb (ClickHouse in-process) is not installed; it is in the dev group"
)

SUMMARY = ("c", "k", "med", "p90")


class ClickHouse:
    """One chdb session with a table ``events`` read from a Parquet file (``load`` replaces it)."""

    def __init__(self) -> None:
        self.session = chdb_session.Session()
        self.session.query("CREATE DATABASE IF NOT EXISTS hg")
        self.session.query("USE hg")

    def load(self, parquet: Path) -> None:
        self.session.query("DROP TABLE IF EXISTS events")
        self.session.query(f"CREATE TABLE events ENGINE = Memory AS SELECT * FROM file('{parquet}', Parquet)")

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return list(json.loads(self.session.query(sql, "JSON").bytes())["data"])

    def close(self) -> None:
        self.session.close()


@pytest.fixture(scope="module")
def clickhouse() -> Iterator[ClickHouse]:
    ch = ClickHouse()
    yield ch
    ch.close()


def duckdb_rows(sql: str, parquet: Path) -> list[dict[str, Any]]:
    """The DuckDB SQL of the same plan, in a fresh connection with the same ``events`` table."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{parquet}')")
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def _value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "by":
        return value
    if key.startswith(("med", "p90")):
        v = float(value)
        return None if math.isnan(v) else v
    return int(value)  # counts (ClickHouse's JSON may quote 64-bit integers)


def summary(rows_: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Summary rows keyed by the ``by`` value (None without ``--by``), values normalised."""
    out = {}
    for r in rows_:
        assert all(k == "by" or k.startswith(SUMMARY) for k in r), r
        out[r.get("by")] = {k: _value(k, v) for k, v in r.items() if k != "by"}
    return out


def assert_summaries_equal(got: dict[Any, dict[str, Any]], want: dict[Any, dict[str, Any]]) -> None:
    assert got.keys() == want.keys()
    for group, w in want.items():
        g = got[group]
        assert g.keys() == w.keys(), group
        for key, value in w.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, rel=1e-9), (group, key, g, w)
            else:
                assert g[key] == value, (group, key, g, w)


# ------------------------------------------------------------------------------------------
# The parity suite's funnels on the simulated shop
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(clickhouse: ClickHouse, demo_parquet: Path) -> Path:
    clickhouse.load(demo_parquet)
    return demo_parquet


@pytest.mark.parametrize("i", range(len(CASES)), ids=[str(i) for i in range(len(CASES))])
def test_clickhouse_equals_duckdb(i: int, clickhouse: ClickHouse, shop: Path) -> None:
    case = CASES[i]
    sql = hourglass.funnel_sql(str(shop), dialect="clickhouse", **case)
    got = summary(clickhouse.rows(sql))
    want = summary(duckdb_rows(hourglass.funnel_sql(str(shop), dialect="duckdb", **case), shop))
    assert_summaries_equal(got, want)
    # and the public result (DuckDB, the engine's own plan choice) agrees on the counts
    result = hourglass.funnel(str(shop), **case)
    groups = result.groups or ()
    if groups:
        for g in groups:
            assert [s.customers for s in g.steps] == [
                got[g.value][f"c{k}"] for k in range(1, len(g.steps) + 1)
            ]
    else:
        assert [s.customers for s in result.steps] == [
            got[None][f"c{k}"] for k in range(1, len(result.steps) + 1)
        ]


def test_cases_cover_the_clickhouse_rewrites(shop: Path) -> None:
    # the parity cases include a day-long any_order window (a RANGE frame ClickHouse rejects as
    # written) and medians/p90s (an approximate quantile as written)
    sqls = [hourglass.funnel_sql(str(shop), dialect="clickhouse", **case) for case in CASES]
    joined = "\n".join(sqls)
    assert "positiveModulo" in joined and "RANGE BETWEEN CURRENT ROW AND 1 FOLLOWING" in joined.upper()
    assert "quantileExactInclusive(0.5)" in joined and "quantile(0.5)" not in joined
    assert all(s.rstrip().endswith("SETTINGS join_use_nulls = 1, session_timezone = 'UTC'") for s in sqls)


def test_quantiles_are_exact_with_linear_interpolation(clickhouse: ClickHouse, tmp_path: Path) -> None:
    # 9 000 customers with distinct gaps: ClickHouse's default quantile samples 8 192 values
    n = 9_000
    log = {
        f"c{i:05d}": [
            ("visit", "2024-01-01 00:00"),
            ("buy", str(datetime(2024, 1, 1) + timedelta(seconds=i))),
        ]
        for i in range(1, n + 1)
    }
    path = tmp_path / "gaps.parquet"
    journeys(log).to_parquet(path)
    clickhouse.load(path)
    got = summary(
        clickhouse.rows(hourglass.funnel_sql(str(path), ["visit", "buy"], window="1d", dialect="clickhouse"))
    )[None]
    # gaps 1..9000 s: median 4500.5, p90 = 1 + 0.9 * 8999 = 8100.1 (linear interpolation)
    assert got["c2"] == n
    assert got["med2"] == pytest.approx(4500.5, rel=1e-12)
    assert got["p902"] == pytest.approx(8100.1, rel=1e-12)


def test_any_order_window_edge_is_exact_to_the_microsecond(clickhouse: ClickHouse, tmp_path: Path) -> None:
    # a 14-day window in µs (1.2e12) is beyond ClickHouse's RANGE offsets (< 2^31): the rewritten
    # frame must still include exactly the window and not one microsecond more
    start = datetime(2024, 3, 1, 12, 0, 0, 123_457)
    w = timedelta(days=14)
    us = timedelta(microseconds=1)
    log = {
        "in": [("a", str(start)), ("b", str(start + w))],
        "out": [("a", str(start)), ("b", str(start + w + us))],
        "before": [("b", str(start - w - us)), ("a", str(start)), ("c", str(start + us))],
        "edge3": [("c", str(start - w)), ("a", str(start)), ("b", str(start - w + us))],
    }
    path = tmp_path / "edge.parquet"
    journeys(log).to_parquet(path)
    clickhouse.load(path)
    for steps in (["a", "b"], ["a", "b", "c"], ["c", "b", "a"]):
        sql = hourglass.funnel_sql(str(path), steps, window="14d", mode="any_order", dialect="clickhouse")
        got = summary(clickhouse.rows(sql))[None]
        want = ref.funnel(rows(journeys(log)), list(steps), int(w / us), mode="any_order")["steps"]
        assert [got[f"c{k}"] for k in range(1, len(steps) + 1)] == [s["customers"] for s in want], steps
    assert want[1]["customers"] not in (0, want[0]["customers"])  # the log is not trivial


def test_outer_columns_named_like_subqueries(clickhouse: ClickHouse, tmp_path: Path) -> None:
    # the closed funnel's step times are columns t1, t2, ...: ClickHouse resolved Ibis's subquery
    # alias "t3" in "t3".* to the outer column t3 (Unknown identifier `t17.level`)
    log = {"ann": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 11:00"), ("buy", "2024-01-02")]}
    path = tmp_path / "one.parquet"
    journeys(log).to_parquet(path)
    clickhouse.load(path)
    sql = hourglass.funnel_sql(str(path), ["visit", "signup", "buy"], window="7d", dialect="clickhouse")
    assert '"t3"' in sql  # the output column keeps its name
    got = summary(clickhouse.rows(sql))[None]
    assert got == {
        "c1": 1,
        "c2": 1,
        "c3": 1,
        "med2": 3600.0,
        "p902": 3600.0,
        "med3": 46800.0,
        "p903": 46800.0,
    }


_TZ_SCRIPT = """
import json, sys
from chdb import session
s = session.Session()
s.query("CREATE DATABASE IF NOT EXISTS hg"); s.query("USE hg")
s.query("CREATE TABLE events ENGINE = Memory AS SELECT * FROM file('" + sys.argv[1] + "', Parquet)")
sql = open(sys.argv[2]).read()
print(json.dumps(json.loads(s.query(sql, "JSON").bytes())["data"]))
"""


def test_since_until_do_not_depend_on_the_server_time_zone(tmp_path: Path) -> None:
    # Ibis measures µs from the literal '1970-01-01T00:00:00', read in the session's time zone: a
    # server in New York would move --since/--until by 5 h without session_timezone = 'UTC'
    log = {
        "early": [("visit", "2024-01-01 02:00"), ("buy", "2024-01-01 03:00")],
        "late": [("visit", "2024-01-01 06:00"), ("buy", "2024-01-01 07:00")],
    }
    path = tmp_path / "tz.parquet"
    journeys(log).to_parquet(path)
    sql_path = tmp_path / "q.sql"
    sql_path.write_text(
        hourglass.funnel_sql(
            str(path), ["visit", "buy"], window="1d", until="2024-01-01 04:00", dialect="clickhouse"
        )
    )
    env = {**os.environ, "TZ": "America/New_York"}
    out = subprocess.run(
        [sys.executable, "-c", _TZ_SCRIPT, str(path), str(sql_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    got = summary(json.loads(out.stdout))[None]
    assert (got["c1"], got["c2"]) == (1, 1)


# ------------------------------------------------------------------------------------------
# Random logs: chdb against the reference
# ------------------------------------------------------------------------------------------

# seconds -> days: the same log with every time offset (and the window) stretched 86 400 times
STRETCH = [1, 86_400]


def stretched(case: Case, factor: int) -> Case:
    def at(t: datetime | None) -> datetime | None:
        return None if t is None else BASE + (t - BASE) * factor

    log = {c: [(name, at(ts), props) for name, ts, props in evs] for c, evs in case.log.items()}
    out = Case(log, case.ref_steps, case.engine_steps, case.window_s * factor, case.mode, case.open)
    out.since, out.until, out.exclude, out.by = at(case.since), at(case.until), case.exclude, case.by
    return out


def _expected(case: Case) -> dict[Any, dict[str, Any]]:
    """The reference's result in the shape of the SQL summary (per group with ``by``)."""
    data = rows(journeys(case.log, dtypes=DTYPES))
    want = ref.funnel(data, case.ref_steps, case.window_s * 1_000_000, **case.options())
    groups = [(g["value"], g["steps"]) for g in want["groups"]] if case.by else [(None, want["steps"])]
    out: dict[Any, dict[str, Any]] = {}
    for value, steps in groups:
        row: dict[str, Any] = {}
        for k, s in enumerate(steps, start=1):
            row[f"c{k}"] = s["customers"]
            if case.open and k > 1:
                row[f"k{k}"] = s["continued"]
            if k > 1 and case.mode != "any_order":
                row[f"med{k}"] = s["median_time_from_previous_s"]
                row[f"p90{k}"] = s["p90_time_from_previous_s"]
        out[value] = row
    return out


@settings(max_examples=int(os.environ.get("HOURGLASS_CLICKHOUSE_EXAMPLES", "100")), deadline=None)
@given(
    st.one_of(cases(), cases(open_funnel=True)),
    st.sampled_from(STRETCH),
)
def test_clickhouse_matches_reference(
    clickhouse: ClickHouse, tmp_path_factory: pytest.TempPathFactory, case: Case, factor: int
) -> None:
    case = stretched(case, factor)
    note(case.repro())
    df = journeys(case.log, dtypes=DTYPES)
    path = tmp_path_factory.mktemp("random") / "events.parquet"
    df.to_parquet(path)
    clickhouse.load(path)
    sql = hourglass.funnel_sql(
        df, case.engine_steps, window=case.window_s, dialect="clickhouse", **case.options()
    )
    got = summary(clickhouse.rows(sql))
    want = _expected(case)
    # with by, one row per group of customers with a chain, as the reference's groups
    note(f"chdb: {got}")
    note(f"reference: {want}")
    assert_same(_jsonable(got), _jsonable(want))


def _jsonable(d: dict[Any, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Groups keyed by their value's text (ClickHouse's JSON writes the float 0.0 as 0)."""
    return {repr(float(k) if isinstance(k, int | float) else k): v for k, v in d.items()}
