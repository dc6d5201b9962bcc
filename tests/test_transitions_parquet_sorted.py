"""engine/journeys_parquet_sorted.py: the customers' grouping that runs while the names are numbered
(``_grouped``, then ``_time_ordered`` given the nodes) gives journeys_wide ``time_ordered``'s arrays
exactly (rows tied in customer and time put in node order, ids past 2^63, one row, rows not in time
order declined), and the elements read with and without the overlap are the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.engine import journeys_fast, journeys_parquet_sorted, journeys_wide, parquet_rows, raw_names
from hourglass.engine.journeys_parquet_sorted import _grouped, _time_ordered


def _rows(n: int, seed: int, ids: str) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 60, n)
    if ids == "big":
        c = c.astype(np.uint64) + np.uint64(2**63)
    ts = np.sort(rng.integers(0, 50, n)).astype(np.int64) * 1_000_000  # in time order, many ties
    node = rng.integers(0, 30, n).astype(np.int32)
    return c, ts, node


@pytest.mark.parametrize("ids", ["small", "big"])
@pytest.mark.parametrize("n", [1, 2, 7, 3000])
def test_grouped_then_nodes_is_time_ordered(ids: str, n: int) -> None:
    c, ts, node = _rows(n, n, ids)
    want = journeys_wide.time_ordered(c, ts, node)
    grouped = _grouped(c, ts)
    assert want is not None and grouped is not None
    got = _time_ordered(grouped, node)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype
        assert np.array_equal(a, b)


def test_not_in_time_order_declines() -> None:
    c, ts, _ = _rows(50, 3, "small")
    assert _grouped(c, ts[::-1].copy()) is None
    assert _grouped(c[:0], ts[:0]) is None


@pytest.mark.parametrize("in_time_order", [True, False])
def test_overlap_on_and_off_read_the_same(
    in_time_order: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)
    monkeypatch.setattr(raw_names, "_MANY", 8)
    rng = np.random.default_rng(5)
    n = 4000
    t = pa.table(
        {
            "customer_id": pa.array(rng.integers(0, 90, n), pa.int64()),
            "event": pa.array([f"n{k:03d}" if k % 7 else " visit" for k in rng.integers(0, 300, n).tolist()]),
            "timestamp": pa.array((1_704_067_200 + rng.integers(0, 200, n)) * 1_000_000, pa.timestamp("us")),
        }
    )
    if in_time_order:
        t = t.sort_by("timestamp")
    path = tmp_path / "t.parquet"
    pq.write_table(t, path, row_group_size=500, use_dictionary=["customer_id", "timestamp"])
    seen: list[Any] = []
    real = journeys_parquet_sorted.parquet_sorted
    monkeypatch.setattr(journeys_fast, "parquet_sorted", lambda *a: seen.append(got := real(*a)) or got)
    answers = []
    for overlap in (True, False):
        monkeypatch.setattr(journeys_parquet_sorted, "OVERLAP", overlap)
        got = hourglass.transitions(str(path), level="event").to_dict()
        got["meta"].pop("seconds", None)
        answers.append(got)
    assert answers[0] == answers[1]
    assert len(seen) == 2 and seen[0] is not None and seen[1] is not None
    for a, b in zip(seen[0][0], seen[1][0], strict=True):
        assert np.array_equal(a, b)
    assert seen[0][1] == seen[1][1]
