"""The journeys page's per-customer paths (dashboard/people_view.py ``paths_table``): on a store
computed on the integer customer keys, the ids decoded at the end (the Sankey click at 10M: 14 ->
10.5 CPU-s, Ob), the same table as on the decoded events."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import pytest

from hourglass.analyses.people import paths_per_customer
from hourglass.engine.event_store import write_store
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard import load_source, people_view
from hourglass.interfaces.dashboard.query import PageQuery


def _cached(name: str, key: Hashable, fn: Callable[[], Any]) -> Any:
    return fn()


def test_the_paths_table_on_a_store_reads_the_keys(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "HOURGLASS_PLAN", "portable"
    )  # the portable expression's keyed form (numpy: test_people_fast)
    table, _ = simulate_shop(150, seed=4)
    write_events(table, parquet_path=tmp_path / "shop.parquet")
    write_store(api.events(str(tmp_path / "shop.parquet")), tmp_path / "shop.duckdb")
    src = load_source(str(tmp_path / "shop.duckdb"))
    read: list[Any] = []

    def recording(spec: Any, t: Any) -> Any:
        read.append(t.schema()["customer"])
        return paths_per_customer(spec, t)

    monkeypatch.setattr(people_view, "paths_per_customer", recording)
    spec, got = people_view.paths_table(src, PageQuery(model="hourglass"), _cached)
    assert read and read[0].is_integer()  # the keys, not the decoded text ids
    want = src.events.engine.execute(paths_per_customer(spec, src.events.table))
    order = list(want.columns)
    assert len(got) == len(want) > 0
    a = got[order].sort_values("customer").reset_index(drop=True)
    b = want.sort_values("customer").reset_index(drop=True)
    assert a.astype(str).equals(b.astype(str))
