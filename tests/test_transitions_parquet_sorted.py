"""engine/journeys_parquet_sorted.py: the customers' grouping (journeys_wide ``time_grouped``) run in a
thread while the names are numbered, then the nodes put in its order (``grouped_nodes``), reads the
same elements and names as without the overlap, in time order (grouped) and not (sorted), and the
same transitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.engine import journeys_fast, journeys_parquet_sorted, parquet_rows, raw_names


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
