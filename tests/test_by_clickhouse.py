"""The breakdowns (``--by``) of paths, transitions and the flywheel give DuckDB's rows on ClickHouse
(chdb): their shared top-values rank (``analyses/_by.py``) once pooled every value past the k-th
*row* there, because ClickHouse numbers a ``DENSE_RANK`` over the whole partition like a
``ROW_NUMBER``. Same harness as tests/test_clickhouse_analyses.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hourglass.engine.session import Engine
from hourglass.interfaces import journeys_api
from hourglass.interfaces.flywheel_api import flywheel
from test_clickhouse_analyses import ClickHouse, Watched, _canon, _rows, _same

CASES: dict[str, Callable[[str], Any]] = {
    "paths-by-channel": lambda src: journeys_api.paths(src, depth=4, top=5, by="channel"),
    "transitions-by-channel": lambda src: journeys_api.transitions(src, by="channel"),
    "flywheel-by-channel": lambda src: flywheel(src, by="channel"),
}


@pytest.fixture(scope="module")
def clickhouse() -> Iterator[ClickHouse]:
    ch = ClickHouse()
    yield ch
    ch.session.close()


@pytest.mark.parametrize("case", list(CASES))
def test_breakdowns_give_duckdbs_answers_on_clickhouse(
    case: str, clickhouse: ClickHouse, demo_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ibis.expr.types as ir
    import pyarrow.parquet as pq

    watched = Watched(tmp_path)
    execute, cache = Engine.execute, ir.Table.cache
    monkeypatch.setattr(Engine, "execute", lambda self, expr: watched.execute(self, expr, execute))
    monkeypatch.setattr(ir.Table, "cache", lambda self: watched.cache(self, cache))
    CASES[case](str(demo_parquet))
    monkeypatch.undo()
    runs = [
        (watched.defs[name].op().to_expr(), pq.read_table(watched.files[f"src_{name}"]).to_pandas())
        for name in watched.defs
    ]
    assert runs or watched.runs
    for expr, want in runs + watched.runs:
        got, sql = clickhouse.run(watched, expr)
        if not hasattr(want, "columns"):
            assert _same(_canon(got.iloc[0, 0]), _canon(want)), sql
            continue
        assert list(got.columns) == list(want.columns), sql
        g, w = _rows(got), _rows(want)
        assert len(g) == len(w), sql
        bad = [(x, y) for x, y in zip(g, w, strict=True) if not _same(x, y)]
        assert not bad, f"{sql}\nfirst differing rows (ClickHouse, DuckDB): {bad[:3]}"
