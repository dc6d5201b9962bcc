"""The journeys page's elements fetched once (engine/fetched.py, which the dashboard turns on): the
journeys and a Sankey node's per-customer paths share one fetch, also across the work ahead's second
connection; a store loaded again fetches its own; off, nothing is kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hourglass.engine import fetched
from hourglass.engine.event_store import write_store
from hourglass.engine.second_connection import second_connection
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard import load_source
from hourglass.interfaces.dashboard.app import create_app
from hourglass.interfaces.dashboard.people_view import paths_table
from hourglass.interfaces.dashboard.query import PageQuery


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table, _ = simulate_shop(300, seed=17)
    d = tmp_path_factory.mktemp("fetched")
    write_events(table, parquet_path=d / "shop.parquet")
    write_store(api.events(str(d / "shop.parquet")), d / "shop.duckdb")
    return d / "shop.duckdb"


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The elements' queries run (each kept once: ``KEEP`` on, as the dashboard has it)."""
    sqls: list[str] = []

    class Counting(list[Any]):
        def __setitem__(self, at: Any, value: Any) -> None:
            sqls.extend(sql for _, sql, _ in value)
            super().__setitem__(at, value)

    monkeypatch.setattr(fetched, "KEEP", True)
    monkeypatch.setattr(fetched, "_last", Counting())
    yield sqls


def test_the_journeys_and_a_nodes_people_share_one_fetch(
    store: Path, counted: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bool] = []  # each asker: found kept (True) or fetched (False)
    real = fetched._found
    monkeypatch.setattr(fetched, "_found", lambda ev, sql: asked.append(bool(real(ev, sql))) or real(ev, sql))
    src = load_source(str(store))
    views = create_app(src).state.views
    q = PageQuery(model="hourglass", default="hourglass")
    views.journeys(q)  # the journeys, transitions and paths: one fetch
    assert len(counted) == 1 and asked == [False, True, True]
    second = second_connection(src.events)  # the work ahead's connection: the same events' report
    assert second is not None
    on_second = type(src)(**{**src.__dict__, "events": second})
    _, table = paths_table(on_second, q.alone(), views._cached)  # a Sankey node's people
    assert len(counted) == 1
    assert len(table.keys)


def test_a_store_loaded_again_fetches_its_own(store: Path, counted: list[str]) -> None:
    from hourglass.engine.paths_people import elements
    from hourglass.ingest.config import load_model
    from hourglass.model.journeys_spec import PathsSpec

    spec = PathsSpec.build(load_model("hourglass", None), level="stage")
    first = api.events(str(store))
    a = elements(first, spec)
    assert a is not None and elements(first, spec)[0] is a[0]  # type: ignore[index]
    assert not a[0].flags.writeable  # shared: read-only
    again = api.events(str(store))
    b = elements(again, spec)
    assert b is not None and b[0] is not a[0] and len(counted) == 2
    assert (b[0] == a[0]).all()


def test_off_nothing_is_kept(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetched, "KEEP", False)
    fetched.forget()
    ev = api.events(str(store))
    sql = "SELECT 1 AS x"
    one, two = fetched.fetched(ev, sql), fetched.fetched(ev, sql)
    assert one["x"] is not two["x"] and one["x"].flags.writeable and not fetched._last
