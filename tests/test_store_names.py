"""A store of event names that cannot be written in SQL text (C1's finding, issue 13): a name with a
NUL byte kept the ENUM's SQL from parsing (HG699); such a log keeps its names as text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import hourglass
from hourglass.interfaces.store_api import ingest


def test_a_name_with_a_nul_byte_is_stored(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "event": ["visit", "x\x00y", "visit"],
            "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 00:00"]),
        }
    )
    store = tmp_path / "s.duckdb"
    ingest(df, str(store))
    result = hourglass.funnel(str(store), ["visit"], window="1d")
    assert [s.customers for s in result.steps] == [2]
    names = hourglass.events(str(store)).table.event.execute()
    assert sorted(names) == ["visit", "visit", "x\x00y"]
