"""Small data answers fast (issue 11, deliverable 6; bench/cli.py): a small CSV is sniffed once and read,
parsed and canonicalised once into DuckDB temporary tables, on one thread; the funnel's path imports
neither pandas nor pyarrow, and only the DuckDB SQL compiler of Ibis's twenty. The answers are those
of the files read as views."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ibis.expr.operations as ops
import pytest

import hourglass
from hourglass.engine import connect, load_events
from hourglass.ingest import sources

CSV = "customer_id,event,timestamp,channel\n" + "".join(
    f"c{i},visit,2024-01-0{1 + i % 5} 10:00:00,{'ads' if i % 2 else 'email'}\n"
    + (f"c{i},signup,2024-01-0{1 + i % 5} 12:00:00,ads\n" if i % 3 else "")
    + (f"c{i},purchase,2024-01-0{2 + i % 5} 09:00:00,ads\n" if i % 4 == 1 else "")
    for i in range(60)
)
STEPS = ["visit", "signup", "purchase"]


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def _name(table: object) -> str:
    op = table.op()  # type: ignore[attr-defined]
    assert isinstance(op, ops.DatabaseTable)
    return str(op.name)


def test_a_small_csv_is_read_once_into_temporary_tables(small_csv: Path) -> None:
    ev = load_events(connect(), str(small_csv))
    assert _name(ev.table).startswith("ibis_hg_once_")  # the canonical events, not a view of the file
    kinds = dict(ev.engine.con.con.execute("SELECT table_name, temporary FROM duckdb_tables()").fetchall())
    assert kinds[_name(ev.table)] is True


def test_read_once_and_read_as_views_agree(small_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    once = hourglass.funnel(str(small_csv), STEPS, by="channel").to_dict()
    monkeypatch.setattr(sources, "READ_ONCE_BYTES", 0)  # every file is "large": a view over the file
    monkeypatch.setattr(hourglass.engine.load, "READ_ONCE_BYTES", 0)
    ev = load_events(connect(), str(small_csv))
    assert not isinstance(ev.table.op(), ops.DatabaseTable)  # an expression over the file's view
    viewed = hourglass.funnel(str(small_csv), STEPS, by="channel").to_dict()
    for d in (once, viewed):
        d["meta"].pop("seconds", None)
    assert once == viewed
    totals = [sum(g["steps"][k]["customers"] for g in once["groups"]) for k in range(3)]
    assert totals == [60, 40, 10]


def test_threads_are_put_back_after_a_small_load(small_csv: Path) -> None:
    engine = connect(threads=2)
    load_events(engine, str(small_csv))
    hourglass.validate(str(small_csv), engine=engine)
    assert engine.con.con.execute("SELECT current_setting('threads')").fetchone() == (2,)


def test_show_sql_still_reads_the_source_columns(small_csv: Path) -> None:
    sql = hourglass.funnel_sql(str(small_csv), STEPS, table_name="events")
    assert '"customer_id"' in sql and "ibis_hg_" not in sql


def test_the_funnel_imports_neither_pandas_nor_pyarrow_nor_other_compilers(small_csv: Path) -> None:
    probe = (
        "import json, sys\n"
        "from hourglass.interfaces.cli import main\n"
        f"sys.argv = ['hourglass', 'funnel', {str(small_csv)!r}, '--steps', 'visit,signup,purchase',"
        " '--format', 'json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "mods = sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'pyarrow') "
        "or m.startswith('ibis.backends.sql.compilers.'))\n"
        "print(json.dumps(mods), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout)["steps"][2]["customers"] == 10
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert [m for m in loaded if not m.startswith("ibis.")] == []
    assert set(loaded) <= {f"ibis.backends.sql.compilers.{m}" for m in ("_compat", "base", "duckdb")}


@pytest.mark.parametrize("dialect", ["clickhouse", "postgres", "snowflake"])
def test_other_dialects_still_compile(small_csv: Path, dialect: str) -> None:
    assert "SELECT" in hourglass.funnel_sql(str(small_csv), STEPS, dialect=dialect).upper()


def test_an_unknown_dialect_is_still_hg505(small_csv: Path) -> None:
    with pytest.raises(hourglass.HourglassError) as e:
        hourglass.funnel_sql(str(small_csv), STEPS, dialect="nope")
    assert e.value.code == "HG505"
