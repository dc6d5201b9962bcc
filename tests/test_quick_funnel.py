"""The funnel of a small CSV without Ibis (engine/quick.py, issue 11): its load is the Ibis load's
(parsed values, validation counts, canonical events) on random files with awkward values, its funnel
the portable plan's on random logs, it steps aside whenever the usual load has something to say, and
the command's process never imports Ibis."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hourglass
from hourglass.engine import connect, quick
from hourglass.engine.load import _open_watched
from hourglass.engine.quick import canonical_sql, counts_sql, load_small_file, small_funnel
from hourglass.ingest.normalize import canonical, dedupe
from hourglass.ingest.validate import count_expr
from hourglass.model.schema import ColumnMapping

#: awkward values per column (engine/quick.py must read each as the Ibis load does)
CUSTOMERS = ["c1", " c2", "c3 ", "7", "7.0", "-3.0", "1.50", "", "  ", "c,4", 'c"5', "ü6"]
EVENTS = ["visit", "signup", "purchase", " visit", "signup ", "", "Visit", "cart"]
TIMES = [
    "2024-01-01 10:00:00",
    "2024-01-02 11:30:00.123456",
    "2024-01-03",
    "2024-01-01T08:00:00Z",
    "2024-01-01 09:00:00+02:00",
    "2024-01-01 09:00:00+25:00",
    "2024-01-04 10:00:00 Europe/Berlin",
    " 2024-01-05 10:00:00 ",
    "2024-13-01 10:00:00",
    "0001-01-01 00:00:00",
    "9999-12-31 00:00:00",
    "",
    "yesterday",
]
REVENUE = ["", "19.99", " 5", "nan", "inf", "-1e3", "12abc", "0"]
IDS = ["", "e1", "e2", "e1", "3.0", "3", " e4"]


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"') else value


def _write(path: Path, rows: list[list[str]], header: str) -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(_quoted, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _awkward(path: Path, seed: int) -> Path:
    rng = random.Random(seed)
    rows = [
        [rng.choice(CUSTOMERS), rng.choice(EVENTS), rng.choice(TIMES), rng.choice(REVENUE), rng.choice(IDS),
         rng.choice(["web", "ads", ""]), str(rng.randint(0, 9))]
        for _ in range(rng.randint(1, 80))
    ]  # fmt: skip
    return _write(path, rows, "user_id,event_name,ts,revenue,event_id,channel,score")


def _rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return sorted(con.execute(sql).fetchall(), key=repr)


def _typed_parquet(path: Path, seed: int) -> Path:
    """The awkward rows as a Parquet file whose role columns have other types (integer ids, times
    with and without a zone, dates, floating and boolean revenue) than text."""
    rng = random.Random(seed)
    csv = _awkward(path.with_suffix(".csv"), seed)
    customer = rng.choice(["user_id", "TRY_CAST(user_id AS BIGINT)"])
    ts = rng.choice(
        ["ts", *(f"TRY_CAST(ts AS {t})" for t in ("TIMESTAMP", "TIMESTAMPTZ", "DATE", "TIMESTAMP_NS"))]
    )
    revenue = rng.choice(["revenue", "TRY_CAST(revenue AS DOUBLE)", "TRY_CAST(revenue AS DECIMAL(9, 2))",
                          "revenue = '0'"])  # fmt: skip
    event_id = rng.choice(["event_id", "TRY_CAST(event_id AS INTEGER)"])
    select = (
        f"SELECT {customer} AS user_id, event_name, {ts} AS ts, {revenue} AS revenue, "
        f"{event_id} AS event_id, channel, TRY_CAST(score AS INTEGER) AS score "
        f"FROM read_csv('{csv}', all_varchar = true)"
    )
    import duckdb

    duckdb.connect().execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    return path


@pytest.mark.parametrize("seed", range(16))
def test_the_load_without_ibis_is_the_ibis_load(tmp_path: Path, seed: int) -> None:
    path = (
        _awkward(tmp_path / "log.csv", seed) if seed < 10 else _typed_parquet(tmp_path / "log.parquet", seed)
    )
    engine = connect()
    _src, parsed, _ = _open_watched(engine, str(path), ColumnMapping(), None, once=True)
    load = load_small_file(str(path), ColumnMapping(), con=engine.con.con)
    assert load is not None
    cols = list(parsed.table.columns)
    ibis_sql = engine.con.compile(parsed.table.select(*cols))
    texts = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)  # (a zoned time: no pytz needed)
    assert _rows(load.con, f'SELECT {texts} FROM "{load.table}"') == _rows(
        load.con, f"SELECT {texts} FROM ({ibis_sql})"
    )
    # the validation counts of the checks engine/quick.py makes
    (expected,) = engine.con.execute(count_expr(parsed, "duckdb")).to_dict("records")
    cur = load.con.execute(counts_sql(load.table, load.roles, load.types))
    got = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    for key in ("rows", "HG401", "HG402", "HG403", "HG404", "HG405", "HG412", "event_ids", "with_event_id"):
        assert int(got[key]) == int(expected[key]), key
    # (a time with a zone name is a reason to step aside: the notes' check of skipped local times)
    assert got["zoned"] >= int(expected.get("gap", 0))
    # the canonical events, one per customer and event id (ties of time and name are left out: either
    # row may be kept, by both)
    canon = dedupe(canonical(parsed))
    mine = _rows(load.con, f"SELECT * FROM ({canonical_sql(load.table, load.roles)})")
    theirs = _rows(load.con, engine.con.compile(canon))
    assert len(mine) == len(theirs)
    key = [c for c in canon.columns if c in ("customer", "event", "timestamp", "event_id")]
    idx = [list(canon.columns).index(c) for c in key]
    assert sorted((tuple(r[i] for i in idx) for r in mine), key=repr) == sorted(
        (tuple(r[i] for i in idx) for r in theirs), key=repr
    )


def _clean_log(path: Path, seed: int) -> Path:
    """A log without a problem; odd seeds have event ids, some of them sent twice (a retry: the same
    id at a later time, maybe another name: one event is kept, normalize.dedupe)."""
    rng = random.Random(seed)
    rows = []
    for c in range(rng.randint(5, 40)):
        t = 1_704_067_200 + rng.randint(0, 30 * 86_400)
        for i in range(rng.randint(1, 8)):
            again = i > 0 and rng.random() < 0.2  # the previous event's id again (a second later at least:
            t += rng.choice([0, 60, 3_600, 86_400, 5 * 86_400]) + again  # which one is kept is never a tie)
            rows.append([f"u{c}", rng.choice(["visit", "signup", "cart", "purchase"]), _iso(t),
                         rng.choice(["ads", "web", "mail"]), f"e{c}-{i - again}"])  # fmt: skip
    rng.shuffle(rows)
    if seed % 2 == 0:
        return _write(path, [r[:4] for r in rows], "customer_id,event,timestamp,channel")
    return _write(path, rows, "customer_id,event,timestamp,channel,event_id")


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _comparable(result: Any) -> dict[str, Any]:
    d = result.to_dict()
    for key in ("seconds", "plan", "plan_reason"):
        d["meta"].pop(key, None)
    return d


def _log(path: Path, body: str) -> Path:
    path.write_text("customer_id,event,timestamp\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("a,visit,2024-01-01 10:00:00\nb,visit,not a time\n", "a problem (HG404)"),
        ("a,visit,2024-01-01 10:00:00\n,visit,2024-01-01 10:00:00\n", "a problem (HG401)"),
        ("a,visit,2024-01-01 10:00:00\na,signup,2199-01-01 10:00:00\n", "a note: a time after today"),
        ("a,visit,2024-03-31 02:30:00 Europe/Berlin\n", "a time with a zone name (the gap note)"),
        ("a,visit,2024-01-01 10:00:00\n", "a step of no customers (its note)"),
        ("", "no events"),
    ],
)
def test_the_usual_load_answers_when_it_has_something_to_say(tmp_path: Path, body: str, why: str) -> None:
    path = _log(tmp_path / "log.csv", body)
    spec = hourglass.build_spec(["visit", "signup"])
    assert small_funnel(str(path), spec, ColumnMapping()) is None, why


def test_other_sources_and_engines_take_the_usual_path(tmp_path: Path) -> None:
    path = _log(tmp_path / "log.csv", "a,visit,2024-01-01 10:00:00\na,signup,2024-01-01 11:00:00\n")
    spec = hourglass.build_spec(["visit", "signup"])
    assert small_funnel(str(path), spec, ColumnMapping(), engine="local[2]") is None
    assert small_funnel(str(path), spec, ColumnMapping(), table="x") is None
    assert small_funnel(str(path), hourglass.build_spec(["visit", "sign*"]), ColumnMapping()) is None
    assert (
        small_funnel(str(path), hourglass.build_spec(["visit", "signup"], exclude=["x"]), ColumnMapping())
        is None
    )
    epoch = tmp_path / "epoch.csv"
    epoch.write_text(
        "customer_id,event,timestamp\na,visit,1704103200\na,signup,1704106800\n", encoding="utf-8"
    )
    assert small_funnel(str(epoch), spec, ColumnMapping()) is None  # epoch numbers: the Ibis load decides
    assert quick.load_small_file(str(epoch), ColumnMapping()) is None


@pytest.mark.parametrize("seed", range(8))
def test_the_funnel_without_ibis_is_the_portable_plan(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(1000 + seed)
    path = _clean_log(tmp_path / "log.csv", seed)
    steps = rng.sample(["visit", "signup", "cart", "purchase"], rng.randint(1, 4))
    options: dict[str, Any] = {"window": rng.choice(["1h", "2d", "7d"]), "open": rng.random() < 0.25}
    if rng.random() < 0.4:
        options["by"] = "channel"
    if rng.random() < 0.3:
        options["since"] = "2024-01-10"
    fast = hourglass.funnel(str(path), steps, **options)
    spec = hourglass.build_spec(steps, **options)
    assert small_funnel(str(path), spec, ColumnMapping()) is not None or any(
        s.customers == 0 for s in fast.steps
    )  # answered without Ibis unless a step has no customers
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    portable = hourglass.funnel(str(path), steps, **options)
    assert portable.meta["plan"] == "portable"
    assert _comparable(fast) == _comparable(portable)


def test_the_funnel_command_never_imports_ibis(tmp_path: Path) -> None:
    path = _log(
        tmp_path / "log.csv",
        "a,visit,2024-01-01 10:00:00\na,signup,2024-01-01 11:00:00\nb,visit,2024-01-02 10:00:00\n",
    )
    probe = (
        "import json, sys\n"
        "from hourglass.interfaces.cli import main\n"
        f"sys.argv = ['hourglass', 'funnel', {str(path)!r}, '--steps', 'visit,signup', '--format', 'json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('ibis', 'sqlglot', 'pandas', 'pyarrow')\n"
        "mods = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(json.dumps(mods), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    out = json.loads(done.stdout)
    assert [s["customers"] for s in out["steps"]] == [2, 1]
    assert out["meta"]["plan"] == "fast"
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
