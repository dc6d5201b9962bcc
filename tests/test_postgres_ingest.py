"""``hourglass ingest`` of a PostgreSQL table (issue 17): the rows are streamed out of a real server
(the ``postgres_url`` fixture) and the store is the same as the one ingested from the same events in
a Parquet file; bad rows name the table; PostgreSQL's own types (times with a zone, booleans,
numerics, uuid, jsonb) are read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.cli.ingest import ingest_cmd
from hourglass.interfaces.store_api import ingest
from hourglass.model.errors import DataError, HourglassError, SourceError


@pytest.fixture(scope="module")
def pg(postgres_url: str, demo_parquet: Path) -> str:
    """The server's URL, its database holding ``shop_in`` (the simulated shop), ``bad_in`` (an
    empty customer on one row) and ``typed_in`` (PostgreSQL's own types)."""
    engine = hourglass.connect(postgres_url)
    con = engine.con
    con.create_table("shop_in", pq.read_table(demo_parquet), overwrite=True)
    with con.con.cursor() as cur:
        cur.execute(
            "DROP TABLE IF EXISTS bad_in; CREATE TABLE bad_in (customer_id text, event text, ts timestamp);"
            "INSERT INTO bad_in VALUES ('a', 'visit', '2024-01-01 10:00'), ('', 'visit', '2024-01-02 10:00'),"
            "('b', 'purchase', '2024-01-03 10:00');"
            "DROP TABLE IF EXISTS typed_in; CREATE TABLE typed_in (customer_id bigint, event varchar(20), "
            "ts timestamptz, revenue numeric(10, 2), vip boolean, session uuid, props jsonb, note text);"
            "INSERT INTO typed_in VALUES "
            "(1, 'visit', '2024-01-01 10:00:00+02', NULL, true, gen_random_uuid(), '{\"a\": 1}', "
            "'a, \"quoted\"\nline'),"
            "(1, 'purchase', '2024-01-02 09:30:00.123456+00', 19.90, false, NULL, NULL, ''),"
            "(2, 'visit', '2024-01-03 23:00:00-05', NULL, NULL, gen_random_uuid(), '[]', NULL);"
        )
    return postgres_url  # its connection is the process's (engine/session.py keeps one per server)


def _tables(path: Path) -> dict[str, Any]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: dict[str, Any] = {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("hg_events", "hg_customers")
        }
        out["enum"] = con.execute("SELECT enum_range(NULL::hg_event_name)").fetchall()
        row = con.execute("SELECT * FROM hg_store").fetchone()
        out["store"] = dict(zip([d[0] for d in con.description], row or (), strict=True))
        return out
    finally:
        con.close()


def test_a_table_gives_the_store_of_the_same_events_in_parquet(
    pg: str, demo_parquet: Path, tmp_path: Path
) -> None:
    got = ingest(f"{pg}/shop_in", tmp_path / "pg.duckdb")
    want = ingest(str(demo_parquet), tmp_path / "parquet.duckdb")
    assert (got.rows, got.customers, got.event_names) == (want.rows, want.customers, want.event_names)
    a, b = _tables(tmp_path / "pg.duckdb"), _tables(tmp_path / "parquet.duckdb")
    assert a["store"].pop("source") == f"{pg}/shop_in" and b["store"].pop("source") == str(demo_parquet)
    assert a == b
    assert not list(tmp_path.glob(".*parquet"))  # the staged rows are gone
    # and the store answers like the table itself does inside PostgreSQL
    steps = ["visit", "signup", "purchase"]
    inside = hourglass.funnel("shop_in", steps, engine=pg).rows()
    stored = hourglass.funnel(str(tmp_path / "pg.duckdb"), steps).rows()
    assert stored == [
        {k: pytest.approx(v, rel=1e-9) if isinstance(v, float) else v for k, v in r.items()} for r in inside
    ]


def test_the_command_with_an_engine_and_a_table(pg: str, tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    args = ["shop_in", "--engine", pg, "--into", str(store), "--format", "json"]
    res = CliRunner().invoke(ingest_cmd, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["rows"] == 8401
    again = CliRunner().invoke(ingest_cmd, [f"{pg}/shop_in", "--into", str(store)])
    assert again.exit_code != 0 and "HG420" in again.output  # before reading the table
    spark = CliRunner().invoke(
        ingest_cmd, ["shop_in", "--engine", "spark", "--into", str(tmp_path / "x.duckdb")]
    )
    assert spark.exit_code != 0 and "HG521" in spark.output


def test_bad_rows_name_the_table_and_write_nothing(pg: str, tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        ingest(f"{pg}/bad_in", tmp_path / "bad.duckdb")
    assert f"{pg}/bad_in" in e.value.message and ".parquet" not in e.value.message
    assert "row 2" in e.value.message
    assert not list(tmp_path.iterdir())


def test_postgres_types(pg: str, tmp_path: Path) -> None:
    info = ingest("typed_in", tmp_path / "t.duckdb", engine=pg, columns={"timestamp": "ts"})
    assert (info.rows, info.customers) == (3, 2)
    con = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT customer, event, strftime(timestamp, '%Y-%m-%d %H:%M:%S.%f'), revenue, vip, "
            "session IS NULL, props, note FROM events ORDER BY timestamp"
        ).fetchall()
    finally:
        con.close()
    assert [r[:3] for r in rows] == [
        ("1", "visit", "2024-01-01 08:00:00.000000"),  # times with a zone: in UTC
        ("1", "purchase", "2024-01-02 09:30:00.123456"),
        ("2", "visit", "2024-01-04 04:00:00.000000"),
    ]
    assert [float(r[3]) if r[3] is not None else None for r in rows] == [None, 19.9, None]
    assert [r[4] for r in rows] == [True, False, None]
    assert [r[5] for r in rows] == [False, True, False]
    assert [r[6] for r in rows] == ['{"a": 1}', None, "[]"]
    assert [r[7] for r in rows] == ['a, "quoted"\nline', "", None]  # an empty text is not NULL


def test_a_missing_table_or_database_part(pg: str, tmp_path: Path) -> None:
    with pytest.raises(HourglassError) as e:
        ingest(f"{pg}/nope", tmp_path / "n.duckdb")
    assert e.value.code == "HG205" and "shop_in" in str(e.value.hint)
    with pytest.raises(SourceError) as e2:
        ingest(pg.rsplit("/", 1)[0] + "/", tmp_path / "n.duckdb")
    assert e2.value.code == "HG203"
    assert not list(tmp_path.iterdir())
