"""Paths and transitions of a file whose customer ids are UINT64 past int64's range (hashed ids): the
numpy order flips their top bit (engine/journeys_order.py ``signed_ids``) instead of raising
OverflowError; the answers equal the portable plan's (R's report, session 9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hourglass.engine.journeys_order import signed_ids
from test_journeys_fast import _same


def test_signed_ids_keep_the_order() -> None:
    c = np.array([0, 5, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64)
    s = signed_ids(c)
    assert s.dtype == np.int64 and np.all(np.diff(s) > 0)
    small = np.array([3, 1], dtype=np.uint64)
    assert signed_ids(small) is small or np.array_equal(signed_ids(small), small)


@pytest.mark.parametrize(("level", "mixed"), [("stage", False), ("event", False), ("event", True)])
def test_uint64_ids_past_int64(tmp_path: Path, level: str, mixed: bool) -> None:
    import hourglass

    rng = np.random.default_rng(1)
    n = 3000
    c = rng.integers(0, 200, n).astype(np.uint64) + np.uint64(2**63)
    if mixed:  # and small ones: a span past 2^63
        c[:100] = rng.integers(0, 50, 100).astype(np.uint64)
    names = ["visit", "view_pricing", "signup", "purchase", "n1", "n2"]
    table = pa.table(
        {
            "customer_id": pa.array(c, pa.uint64()),
            "event": pa.array([names[k] for k in rng.integers(0, len(names), n)]),
            "timestamp": pa.array(1_704_067_200_000_000 + rng.integers(0, 10**10, n), pa.timestamp("us")),
        }
    )
    path = tmp_path / "u64.parquet"
    pq.write_table(table, path)
    ev = hourglass.events(str(path))
    _same(ev, level, True, 4, {})
