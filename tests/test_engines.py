"""Naming an engine (issue 17): engine strings, [engine] of hourglass.toml, an Ibis backend of the
caller's; the coded errors of an unreachable server, a missing driver, an unknown engine; sources on
engines: a table of the engine's catalog, Parquet datasets partitioned by day, cluster URIs."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import hourglass
from hourglass.engine import session
from hourglass.engine.connect import parse_engine, shown_url
from hourglass.ingest.config import Config, load_config
from hourglass.ingest.sources import resolve_source
from hourglass.interfaces.cli import cli
from hourglass.model.errors import HourglassError

STEPS = ["visit", "signup", "purchase"]


def log() -> pd.DataFrame:
    rows = [
        ("a", "visit", "2024-01-01 10:00"),
        ("a", "signup", "2024-01-01 11:00"),
        ("a", "purchase", "2024-01-02 09:00"),
        ("b", "visit", "2024-01-01 12:00"),
        ("b", "signup", "2024-01-02 13:00"),
        ("c", "visit", "2024-01-03 08:00"),
        ("d", "visit", "2024-01-03 09:00"),
        ("d", "purchase", "2024-01-03 10:00"),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "event", "timestamp"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


def counts(result: hourglass.FunnelResult) -> list[int]:
    return [row["customers"] for row in result.rows()]


WANT = counts(hourglass.funnel(log(), STEPS))


def raises(code: str, f: Any, *args: Any, **kwargs: Any) -> HourglassError:
    with pytest.raises(HourglassError) as e:
        f(*args, **kwargs)
    assert e.value.code == code, e.value
    assert e.value.hint
    return e.value


# ---- engine names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("duckdb", "duckdb", None),
        ("shop.duckdb", "duckdb", "shop.duckdb"),
        ("duckdb:///data/shop.duckdb", "duckdb", "/data/shop.duckdb"),
        ("spark", "spark", None),
        ("local[4]", "spark", "local[4]"),
        ("spark://10.0.0.5:7077", "spark", "spark://10.0.0.5:7077"),
        ("sc://127.0.0.1:15002", "spark-connect", "sc://127.0.0.1:15002"),
        ("postgres://u:p@db:5432/shop", "postgres", "postgres://u:p@db:5432/shop"),
        ("postgresql://db/shop", "postgres", "postgresql://db/shop"),
        ("clickhouse://default@ch:8123/shop", "clickhouse", "clickhouse://default@ch:8123/shop"),
    ],
)
def test_engine_names(text: str, kind: str, target: str | None) -> None:
    name = parse_engine(text)
    assert (name.kind, name.target) == (kind, target)


def test_unknown_engines_say_what_to_write() -> None:
    assert "did you mean 'spark'" in raises("HG504", parse_engine, "sprak").message
    assert "spark://HOST:PORT" in raises("HG504", parse_engine, "spark://cluster").message
    assert "unknown scheme 'mysql://'" in raises("HG504", parse_engine, "mysql://db/shop").message
    assert "USER:PASSWORD@HOST" in raises("HG504", parse_engine, "postgres://").message
    raises("HG504", hourglass.connect, 42)


def test_urls_are_shown_without_their_password() -> None:
    assert shown_url("postgres://me:s3cret@db:5432/shop") == "postgres://me:***@db:5432/shop"
    assert shown_url("postgres://db/shop") == "postgres://db/shop"


def test_a_duckdb_file_an_ibis_backend_and_an_engine(tmp_path: Path) -> None:
    import ibis

    db = tmp_path / "shop.duckdb"
    engine = hourglass.connect(str(db))
    assert (engine.name, engine.path) == ("duckdb", str(db))
    engine.con.create_table("events", log())
    assert counts(hourglass.funnel("events", STEPS, engine=engine)) == WANT
    mine = ibis.duckdb.connect()
    wrapped = hourglass.connect(mine)
    assert wrapped.con is mine and wrapped.name == "duckdb"
    assert hourglass.connect(wrapped) is wrapped
    assert counts(hourglass.funnel(log(), STEPS, engine=mine)) == WANT


# ---- [engine] of hourglass.toml ------------------------------------------------------------------------


def test_engine_table_of_the_config(tmp_path: Path) -> None:
    path = tmp_path / "hourglass.toml"
    path.write_text(
        '[engine]\nname = "spark://10.0.0.5:7077"\n\n[engine.spark]\n'
        '"spark.sql.shuffle.partitions" = 200\n"spark.executor.memory" = "8g"\n'
        '"spark.sql.adaptive.enabled" = true\n'
    )
    cfg = load_config(path)
    assert cfg.engine == "spark://10.0.0.5:7077"
    conf = session.spark_conf(cfg.spark_conf)
    assert conf["spark.sql.shuffle.partitions"] == "200"  # the config's, over the default 4
    assert conf["spark.executor.memory"] == "8g" and conf["spark.sql.adaptive.enabled"] == "true"
    assert conf["spark.driver.memory"] == "2g"  # today's values stay the defaults
    assert session.spark_conf()["spark.sql.shuffle.partitions"] == "4"


@pytest.mark.parametrize(
    ("text", "code", "says"),
    [
        ('[engine]\nnmae = "spark"\n', "HG101", "did you mean 'name'"),
        ("[engine]\nname = 3\n", "HG113", "expected an engine name in quotes"),
        ('[engine.spark]\nshuffle_partitions = "8"\n', "HG113", "not a Spark setting"),
        ('[engine.spark]\n"spark.jars.packages" = ["a:b:1"]\n', "HG113", "expected text, a number"),
        ('engine = "spark"\n', "HG113", "'engine' must be a table"),
        ('[engine]\nspark = "x"\n', "HG113", "'engine.spark' must be a table"),
    ],
)
def test_bad_engine_tables(tmp_path: Path, text: str, code: str, says: str) -> None:
    path = tmp_path / "hourglass.toml"
    path.write_text(text)
    assert says in raises(code, load_config, path).message


def test_the_configs_engine_is_used_when_none_is_given(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    engine = hourglass.connect(config=Config(engine=str(db)))
    assert engine.path == str(db)
    assert hourglass.connect("duckdb", config=Config(engine=str(db))).path is None  # a given one wins


def test_the_cli_takes_the_engine_of_hourglass_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from _servers import free_port

    monkeypatch.chdir(tmp_path)
    log().to_csv("ev.csv", index=False)
    Path("hourglass.toml").write_text(f'[engine]\nname = "postgres://hg:pw@127.0.0.1:{free_port()}/shop"\n')
    res = CliRunner().invoke(cli, ["funnel", "ev.csv", "--steps", ",".join(STEPS)])
    assert res.exit_code == 2, res.output
    assert "[HG506] cannot connect to the engine postgres://hg:***@127.0.0.1:" in res.stderr
    assert "pw" not in res.stderr and "Traceback" not in res.output


# ---- errors: unreachable, missing drivers ---------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "clickhouse", "spark", "sc"])
def test_a_closed_port_is_a_coded_error(scheme: str) -> None:
    from _servers import free_port

    port = free_port()
    auth = "" if scheme in ("spark", "sc") else "me:s3cret@"
    url = f"{scheme}://{auth}127.0.0.1:{port}" + ("" if scheme in ("spark", "sc") else "/shop")
    if scheme == "sc":
        pytest.importorskip("grpc", reason="Spark Connect's client packages are not installed")
    e = raises("HG506", hourglass.connect, url)
    assert f"127.0.0.1:{port}: Connection refused" in e.message
    assert "s3cret" not in e.message and "server is running" in e.hint


def test_the_cli_says_an_engine_is_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from _servers import free_port

    monkeypatch.chdir(tmp_path)
    url = f"clickhouse://default@127.0.0.1:{free_port()}/shop"
    res = CliRunner().invoke(cli, ["lifecycle", "events", "--engine", url, "--format", "json"])
    assert res.exit_code == 2 and "[HG506]" in res.stderr and "hint:" in res.stderr
    assert "Traceback" not in res.output


def _without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Imports of ``modules`` fail, as if their extra were not installed."""
    real = builtins.__import__

    def fake(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in modules:
            raise ImportError(f"No module named '{name}'", name=name.split(".")[0])
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.parametrize(
    ("url", "module", "code", "extra"),
    [
        ("postgres://127.0.0.1:5432/shop", "psycopg", "HG507", "hourglass[postgres]"),
        ("clickhouse://127.0.0.1:8123/shop", "clickhouse_connect", "HG507", "hourglass[clickhouse]"),
        ("spark", "pyspark", "HG503", "hourglass[spark]"),
        ("sc://127.0.0.1:15002", "pyspark", "HG507", "hourglass[spark]"),
    ],
)
def test_a_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, code: str, extra: str
) -> None:
    monkeypatch.setattr(session, "_SPARK_SESSION", None)  # as in a process without a session yet
    _without(monkeypatch, module)
    e = raises(code, hourglass.connect, url)
    assert f"'{module}'" in e.message and extra in e.hint


def test_a_second_spark_master_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "_SPARK_SESSION", object())
    monkeypatch.setattr(session, "_SPARK_MASTER", "local[2]")
    e = raises("HG508", session.spark_session, "local[4]")
    assert "already runs Spark on local[2]" in e.message
    monkeypatch.setenv("HOURGLASS_SPARK_MASTER", "local[3]")  # still names the master of `spark`
    assert "cannot also use local[3]" in raises("HG508", hourglass.connect, "spark").message


# ---- sources on engines ----------------------------------------------------------------------------------


def write_dataset(root: Path) -> Path:
    """The collector's layout: one directory per day, dt=YYYY-MM-DD/part-0.parquet, and a writer's
    _SUCCESS marker."""
    df = log()
    for day, part in df.groupby(df["timestamp"].dt.strftime("%Y-%m-%d")):
        (root / f"dt={day}").mkdir(parents=True)
        part.to_parquet(root / f"dt={day}" / "part-0.parquet", index=False)
    (root / "_SUCCESS").write_text("")
    return root


def test_a_dataset_partitioned_by_day(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "events")
    src = resolve_source(str(root))
    assert (src.kind, src.base, len(src.paths)) == ("parquet", str(root), 3)
    assert counts(hourglass.funnel(str(root), STEPS)) == WANT
    assert counts(hourglass.funnel(f"{root}/dt=2024-01-0[12]/*.parquet", STEPS)) == [2, 2, 1]
    ev = hourglass.events(str(root))
    assert "dt" in ev.table.columns or ev.report.rows == 8  # the partition is a column of the source
    (tmp_path / "empty").mkdir()
    assert "has no .parquet file" in raises("HG203", resolve_source, str(tmp_path / "empty")).hint


def test_cluster_uris_are_left_to_the_engine(tmp_path: Path) -> None:
    src = resolve_source("hdfs://namenode:8020/data/events/")
    assert (src.kind, src.remote, src.paths) == ("parquet", True, ("hdfs://namenode:8020/data/events/",))
    assert resolve_source("s3a://bucket/events/dt=*/*.parquet").base == "s3a://bucket/events"
    assert resolve_source("s3://bucket/export.csv").kind == "csv"
    root = write_dataset(tmp_path / "events")
    assert counts(hourglass.funnel(f"file://{root}", STEPS)) == WANT  # DuckDB reads file:// as a path
    raises("HG202", resolve_source, "s3://bucket/shop.duckdb")


def test_a_table_of_the_engine(tmp_path: Path) -> None:
    engine = hourglass.connect(str(tmp_path / "shop.duckdb"))
    engine.con.create_table("events", log())
    engine.con.raw_sql("CREATE SCHEMA analytics")
    engine.con.raw_sql("CREATE TABLE analytics.clicks AS SELECT * FROM events")
    assert counts(hourglass.funnel("analytics.clicks", STEPS, engine=engine)) == WANT
    assert counts(hourglass.funnel("analytics", STEPS, engine=engine, table="clicks")) == WANT
    e = raises("HG205", hourglass.funnel, "evnets", STEPS, engine=engine)
    assert "no such table or view" in e.message and "tables there: events" in e.hint
    # no database behind the default engine: the name was meant as a file
    assert "unknown file type" in raises("HG202", hourglass.funnel, "events", STEPS).message


def test_the_cli_reads_a_table_of_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    hourglass.connect("shop.duckdb").con.create_table("events", log())
    args = ["funnel", "events", "--steps", ",".join(STEPS), "--engine", "shop.duckdb", "--format", "json"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert [s["customers"] for s in json.loads(res.stdout)["steps"]] == WANT


def test_postgres_tables(postgres_url: str, tmp_path: Path) -> None:
    engine = hourglass.connect(postgres_url)
    assert engine.name == "postgres" and engine.url == postgres_url
    engine.con.create_table("engines_events", log(), overwrite=True)
    assert counts(hourglass.funnel("engines_events", STEPS, engine=postgres_url)) == WANT
    assert counts(hourglass.funnel("public.engines_events", STEPS, engine=engine)) == WANT
    e = raises("HG205", hourglass.funnel, "engines_evnets", STEPS, engine=engine)
    assert "engines_events" in e.hint
    assert hourglass.connect(postgres_url) is engine  # one connection per server and process
    other = hourglass.connect(postgres_url + "?application_name=x")
    other.close()
    assert hourglass.connect(postgres_url + "?application_name=x") is not other
    hourglass.connect(postgres_url + "?application_name=x").close()
    log().to_parquet(tmp_path / "events.parquet")
    e = raises("HG509", hourglass.funnel, str(tmp_path / "events.parquet"), STEPS, engine=engine)
    assert "cannot read files" in e.message and "name a table" in e.hint


@pytest.mark.spark
def test_a_dataset_partitioned_by_day_on_spark(tmp_path: Path, spark_engine: hourglass.Engine) -> None:
    root = write_dataset(tmp_path / "events")
    assert counts(hourglass.funnel(str(root), STEPS, engine=spark_engine)) == WANT
    glob = f"{root}/dt=2024-01-0[12]/*.parquet"
    assert counts(hourglass.funnel(glob, STEPS, engine=spark_engine)) == [2, 2, 1]
    assert counts(hourglass.funnel(f"file://{root}", STEPS, engine=spark_engine)) == WANT
    wrapped = hourglass.connect(spark_engine.con)  # an Ibis PySpark backend of the caller's
    assert wrapped.name == "spark" and wrapped.dialect == "pyspark"
