"""The breakdowns (``--by``) of paths, transitions and the flywheel give DuckDB's rows on ClickHouse
(chdb): their shared top-values rank (``analyses/_by.py``) once pooled every value past the k-th
*row* there, because ClickHouse numbers a ``DENSE_RANK`` over the whole partition like a
``ROW_NUMBER``. Same harness as tests/test_clickhouse_analyses.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hourglass.interfaces import journeys_api
from hourglass.interfaces.flywheel_api import flywheel
from test_clickhouse_analyses import ClickHouse, assert_same_on_clickhouse, watch

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
    watched = watch(lambda: CASES[case](str(demo_parquet)), tmp_path, monkeypatch)
    assert watched.defs or watched.runs
    assert_same_on_clickhouse(clickhouse, watched)
