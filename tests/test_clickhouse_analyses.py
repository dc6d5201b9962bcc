"""Every analysis compiles for ClickHouse and gives DuckDB's answers there.

Each case runs an analysis on DuckDB with the engine's execution chokepoint (``Engine.execute``)
and ``Table.cache`` (the engine's materialised intermediate tables) watched: every Ibis expression
it executes or caches is kept with DuckDB's rows, and the source's view is copied out. Then each
expression is compiled the way ``--show-sql --dialect clickhouse`` compiles a funnel
(``engine/sql_clickhouse.py``: renamed relations, exact quantiles, RANGE frames, settings) and run on
ClickHouse (chdb, in-process): a cached table is built there from its own expression (so the heavy
queries, the stage rows and the lifecycle's customers, run on ClickHouse too) and the queries on
top of it read ClickHouse's table. Every result must equal DuckDB's rows (as multisets;
numbers to a relative 1e-9, integral floats as integers, booleans as 0/1, NaN/NaT/NA as NULL).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hourglass.engine.session import Engine
from hourglass.interfaces import journeys_api as hg
from hourglass.interfaces.lifecycle_api import lifecycle

chdb_session = pytest.importorskip(
    "chdb.session", reason="chdb (ClickHouse in-process) is not installed; it is in the dev group"
)


def _canon(v: Any) -> Any:
    import numpy as np
    import pandas as pd

    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, bool | np.bool_):
        return int(v)  # ClickHouse's max() of a condition is a UInt8
    if isinstance(v, float | np.floating):
        f = float(v)
        if math.isnan(f):
            return None
        if f.is_integer() and abs(f) < 2**53:
            return int(f)
        return f
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(v)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return ("ts", int(ts.value // 1000))
    if isinstance(v, list | tuple | np.ndarray):
        return tuple(_canon(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _canon(x)) for k, x in v.items()))
    return v


def _coarse(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.6g}")
    if isinstance(v, tuple):
        return tuple(_coarse(x) for x in v)
    return v


def _rows(df: Any) -> list[tuple[Any, ...]]:
    """The rows as canonical tuples, in an order that float rounding cannot change."""
    rows = [tuple(_canon(v) for v in r) for r in df.itertuples(index=False, name=None)]
    return sorted(rows, key=lambda r: repr(_coarse(r)))


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        if got is None or want is None or isinstance(got, tuple) or isinstance(want, tuple):
            return False
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(want, tuple):
        return (
            isinstance(got, tuple)
            and len(got) == len(want)
            and all(_same(g, w) for g, w in zip(got, want, strict=True))
        )
    return bool(got == want)


class Watched:
    """The expressions executed on DuckDB and their results, the expressions the engine cached
    (materialised) and a Parquet copy of every table read, cached tables included."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.runs: list[tuple[Any, Any]] = []
        self.files: dict[str, Path] = {}
        self.defs: dict[str, Any] = {}  # a cached table's name -> the expression it holds

    def sources(self, expr: Any) -> list[Any]:
        import ibis.expr.operations as ops

        found = expr.op().find((ops.DatabaseTable, ops.InMemoryTable))
        return sorted(set(found), key=lambda t: str(t.name))

    def _copy(self, table: Any) -> None:
        import pyarrow.parquet as pq

        name = f"src_{table.op().name}"
        if name not in self.files:
            path = self.tmp / f"{name}.parquet"
            pq.write_table(table.to_pyarrow(), path)
            self.files[name] = path

    def execute(self, engine: Engine, expr: Any, original: Callable[[Engine, Any], Any]) -> Any:
        out = original(engine, expr)
        for t in self.sources(expr):
            self._copy(t.to_expr())
        self.runs.append((expr, out))
        return out

    def cache(self, expr: Any, original: Callable[[Any], Any]) -> Any:
        cached = original(expr)
        self.defs[str(cached.op().name)] = expr
        for t in self.sources(expr):
            self._copy(t.to_expr())
        self._copy(cached)  # DuckDB's rows, to compare with the table ClickHouse builds
        return cached


class ClickHouse:
    def __init__(self) -> None:
        self.session = chdb_session.Session()
        self.session.query("CREATE DATABASE IF NOT EXISTS hg")
        self.session.query("USE hg")
        # the breakdowns' queries inline the canonical events per value (the flywheel by channel:
        # ~300 KB of SQL, past the default 256 KiB a ClickHouse server parses)
        self.session.query("SET max_query_size = 16777216")
        self.loaded: set[str] = set()

    def table(self, watched: Watched, t: Any) -> str:
        """The ClickHouse table for the DuckDB table ``t``: a cached table is computed on ClickHouse
        from the expression it holds; any other is loaded from its Parquet copy."""
        name = f"src_{t.name}"
        if name not in self.loaded:
            if t.name in watched.defs:
                sql = self.sql(watched, watched.defs[t.name])
                self.session.query(f"CREATE TABLE {name} ENGINE = Memory AS {sql}")
            else:
                path = watched.files[name]
                self.session.query(
                    f"CREATE TABLE {name} ENGINE = Memory AS SELECT * FROM file('{path}', Parquet)"
                )
            self.loaded.add(name)
        return name

    def sql(self, watched: Watched, expr: Any) -> str:
        import ibis.backends.sql.compilers as sc
        import ibis.expr.operations as ops

        from hourglass.engine.sql_clickhouse import clickhouse_sql

        named = {
            t: ops.UnboundTable(name=self.table(watched, t), schema=t.schema) for t in watched.sources(expr)
        }
        bound = expr.op().replace(named).to_expr()
        compiler = sc.clickhouse.compiler
        return clickhouse_sql(compiler.to_sqlglot(bound.unbind()), compiler.dialect)

    def run(self, watched: Watched, expr: Any) -> tuple[Any, str]:
        sql = self.sql(watched, expr)
        return self.session.query(sql, "DataFrame"), sql


def watch(run: Callable[[], Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Watched:
    """Run an analysis on DuckDB, recording every query it executes and every table it caches."""
    import ibis.expr.types as ir

    watched = Watched(tmp_path)
    execute, cache = Engine.execute, ir.Table.cache
    monkeypatch.setattr(Engine, "execute", lambda self, expr: watched.execute(self, expr, execute))
    monkeypatch.setattr(ir.Table, "cache", lambda self: watched.cache(self, cache))
    run()
    monkeypatch.undo()
    return watched


def assert_same_on_clickhouse(clickhouse: ClickHouse, watched: Watched) -> None:
    """Each cached intermediate table computed on ClickHouse from its own expression, then every
    recorded query on top of them, gives DuckDB's rows (a scalar: DuckDB's value)."""
    import pyarrow.parquet as pq

    runs = [
        (watched.defs[name].op().to_expr(), pq.read_table(watched.files[f"src_{name}"]).to_pandas())
        for name in watched.defs
    ]
    for expr, want in runs + watched.runs:
        got, sql = clickhouse.run(watched, expr)
        if not hasattr(want, "columns"):  # a scalar: the last event's time, a count of matches
            assert _same(_canon(got.iloc[0, 0]), _canon(want)), sql
            continue
        assert list(got.columns) == list(want.columns), sql
        g, w = _rows(got), _rows(want)
        assert len(g) == len(w), sql
        bad = [(x, y) for x, y in zip(g, w, strict=True) if not _same(x, y)]
        assert not bad, f"{sql}\nfirst differing rows (ClickHouse, DuckDB): {bad[:3]}"


@pytest.fixture(scope="module")
def clickhouse() -> Iterator[ClickHouse]:
    ch = ClickHouse()
    yield ch
    ch.session.close()


@pytest.fixture(scope="module")
def spend(demo_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow.csv as pc

    from hourglass.ingest.simulator import channel_costs, simulate_shop

    _, truth = simulate_shop(2_000, seed=11)  # demo_parquet's shop
    path = tmp_path_factory.mktemp("spend") / "spend.csv"
    pc.write_csv(channel_costs(truth), path)
    return path


CASES: dict[str, Callable[[str, Path], Any]] = {
    "journeys-by-channel": lambda src, _: hg.journeys(src, "hourglass", by="channel"),
    "journeys-flywheel": lambda src, _: hg.journeys(src, "flywheel"),
    "transitions": lambda src, _: hg.transitions(src, "hourglass"),
    "transitions-events": lambda src, _: hg.transitions(src, None, level="event", collapse=False),
    "paths": lambda src, _: hg.paths(src, "hourglass", steps=8, top=15),
    "paths-events-from-signup": lambda src, _: hg.paths(src, None, level="event", start="signup", steps=4),
    "paths-to-action": lambda src, _: hg.paths(src, "funnel4", end="action", steps=4),
    "journey-map": lambda src, _: hg.journey(src, "hourglass", sample=2, clusters=3),
    "followers": lambda src, _: hg.followers(src, "hourglass"),
    "lifecycle-with-spend": lambda src, spend: lifecycle(
        src, "hourglass", spend=str(spend), after_sale={"repeat_within": "30d"}
    ),
    "lifecycle-flywheel-since": lambda src, _: lifecycle(
        src, "flywheel", sale_stage="engage", since="2024-02-01", channels=False
    ),
    "lifecycle-referral-periods": lambda src, _: lifecycle(
        src, "hourglass", until="2024-05-01", referral_options={"period": "week"}, channels=False
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_analysis_gives_duckdbs_answers_on_clickhouse(
    case: str,
    clickhouse: ClickHouse,
    demo_parquet: Path,
    spend: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the portable plan is the one every engine runs (DuckDB's own fast paths, engine/journeys_fast.py and
    # engine/fastpath.py, are compared with it in their own tests)
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    watched = watch(lambda: CASES[case](str(demo_parquet), spend), tmp_path, monkeypatch)
    assert watched.runs  # (a Parquet source is validated from its footers, without a query)
    # the engine's cached intermediate tables (the heavy queries: stage rows, runs, customers), each
    # computed on ClickHouse, then every query on top of them
    if case.startswith(("journeys", "paths", "lifecycle")):
        assert watched.defs  # these cache their stage rows / customers: that SQL must run too
    assert_same_on_clickhouse(clickhouse, watched)


def test_window_keys_kept_in_tuples_are_renamed() -> None:
    """Ibis keeps a window's PARTITION BY / ORDER BY keys in tuples, which sqlglot's ``find_all``
    does not visit: the rename of the ``t<n>`` relations must reach them, else ClickHouse's analyzer
    reports an unknown identifier (``t6.referee`` in the lifecycle's referral window)."""
    import ibis
    import ibis.backends.sql.compilers as sc
    from sqlglot import exp

    from hourglass.engine.sql_clickhouse import clickhouse_sql

    t = ibis.table({"customer": "string", "ts": "int64", "t3": "int64"}, name="events")
    s = t.filter(t.ts > 0)
    w = s.mutate(rn=ibis.row_number().over(group_by=s.customer, order_by=[s.ts, s.t3]))
    compiler = sc.clickhouse.compiler
    tree = compiler.to_sqlglot(w.filter(w.rn == 0))
    (win,) = list(tree.find_all(exp.Window))
    # Ibis keeps the keys in tuples; here they are nodes of their own (as in the lifecycle's
    # queries), not shared with the select list, so only a walk into the tuples reaches them
    win.args["partition_by"] = tuple(c.copy() for c in win.args["partition_by"])
    order = win.args["order"]
    order.args["expressions"] = tuple(o.copy() for o in order.args["expressions"])
    sql = clickhouse_sql(tree, compiler.dialect, pretty=False)
    window = sql.split("OVER (", 1)[1].split(")", 1)[0]
    assert window.count('"hg_t1".') == 3, sql  # customer, ts, t3
    assert '"t1".' not in sql, sql
