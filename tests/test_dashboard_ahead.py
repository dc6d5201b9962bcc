"""Work computed ahead (dashboard/ahead.py): on a second connection to the events' DuckDB database
(engine/second_connection.py) it runs while the first connection is busy, gives the same numbers,
and fills the cache with what a click on the view just shown asks for next."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Hashable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hourglass.engine.event_store import write_store
from hourglass.engine.second_connection import second_connection
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.interfaces.dashboard.data import DashboardSource
from hourglass.interfaces.dashboard.query import PageQuery

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAGMENT = {"X-HG-Fragment": "1"}
STEPS = ["visit", "signup", "purchase"]
LONG_SQL = "SELECT sum(i * i % 7) FROM range(100000000000) t(i)"  # minutes, unless interrupted


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    table, _ = simulate_shop(300, seed=5)
    d = tmp_path_factory.mktemp("ahead")
    write_events(table, parquet_path=d / "shop.parquet")
    write_store(api.events(str(d / "shop.parquet")), d / "shop.duckdb")  # hourglass ingest
    table.to_pandas().to_csv(d / "shop.csv", index=False)
    return {"parquet": d / "shop.parquet", "store": d / "shop.duckdb", "csv": d / "shop.csv"}


@pytest.fixture(scope="module")
def src(shop: dict[str, Path]) -> DashboardSource:
    return load_source(str(shop["store"]))


@pytest.mark.parametrize("kind", ["store", "parquet"])
def test_the_second_connection_reads_the_same_events(shop: dict[str, Path], kind: str) -> None:
    first = api.events(str(shop[kind]))
    second = second_connection(first)
    assert second is not None and second.engine.con is not first.engine.con
    for ev in (first, second):  # the fast path and the portable plan
        got = api.funnel(ev, STEPS, window="3d", by="channel").to_dict()
        got["meta"].pop("seconds")
        if ev is first:
            expected = got
    assert got == expected
    levels = api.funnel_levels(second, STEPS, window="3d")
    assert (
        levels.sort_values("customer")
        .reset_index(drop=True)
        .equals(api.funnel_levels(first, STEPS, window="3d").sort_values("customer").reset_index(drop=True))
    )


def test_a_small_csv_read_into_a_temporary_table_has_none(shop: dict[str, Path]) -> None:
    ev = api.events(str(shop["csv"]))  # read once into the first connection's temporary table
    assert second_connection(ev) is None


def test_work_ahead_runs_while_the_first_connection_is_busy(src: DashboardSource) -> None:
    app = create_app(src)
    views = app.state.views
    views.ahead.start()
    assert views.ahead.second is not None
    done = threading.Event()

    def job(s: DashboardSource) -> None:
        api.funnel(s.events, STEPS, window="2d")
        done.set()

    with src.lock:  # a long request holds the first connection
        views.ahead.submit(job)
        assert done.wait(30)  # finished on the second one meanwhile


def _views_cached(views: object) -> set[Hashable]:
    return {key[1] for key in views.cache._data}  # type: ignore[attr-defined]


def test_a_view_computes_what_its_clicks_ask_for_next(src: DashboardSource) -> None:
    app = create_app(src)
    views = app.state.views
    views.ahead.start()
    later: list[int] = []  # the second lane's work (other date presets): counted, not run (time)
    submit = views.ahead.submit
    views.ahead.submit = lambda *jobs, **kw: later.append(len(jobs)) if kw.get("later") else submit(*jobs)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.get("/lifecycle?range=90d", headers=FRAGMENT)
        assert r.status_code == 200
        views.idle()
        cached = _views_cached(views)
        assert {"channel-customers", "stage_table", "lifecycle-stages"} <= cached
        assert later == [3]  # the range menu's other presets (all, 30d, 7d), on the second lane
        misses = views.cache.misses
        for url in (
            "/lifecycle/channel?range=90d&channel=ads&stage=sale",
            "/lifecycle?range=90d&compare=previous",
            "/lifecycle/people?range=90d&stage=trial&kind=current",
        ):
            assert c.get(url, headers=FRAGMENT).status_code == 200, url
        # each answer is a filter of a table computed ahead (one miss per list: its own cut)
        assert views.cache.misses - misses <= 2
        r = c.get("/journeys?range=90d", headers=FRAGMENT)
        views.idle()
        assert {"paths-customers", "paths"} <= _views_cached(views)


def test_warm_computes_the_pages_first_views(src: DashboardSource) -> None:
    app = create_app(src)
    views = app.state.views
    views.warm()
    views.idle()
    assert {"overview", "lifecycle", "journeys", "transitions", "paths"} <= _views_cached(views)
    views.ahead.on = False  # the requests below ask nothing more ahead: their own results only
    with TestClient(app, base_url="http://127.0.0.1") as c:
        misses = views.cache.misses
        for url in ("/", "/lifecycle", "/journeys"):
            assert c.get(url, headers=FRAGMENT).status_code == 200, url
        assert views.cache.misses == misses


def test_a_stage_no_event_matches_is_not_measured_on_the_overview(src: DashboardSource) -> None:
    # solis6's enchantment has no event in this shop: its customers are null (ADR 0006), not a 500
    with TestClient(create_app(src), base_url="http://127.0.0.1") as c:
        r = c.get("/", headers=FRAGMENT)
    assert r.status_code == 200
    solis = r.text.split('data-model="solis6"')[1].split("</section>")[0]
    assert "not measured" in solis and "matches no event" in solis


def test_the_presets_are_the_range_menus_others() -> None:
    q = PageQuery(range="90d", since="2024-03-01T00:00:00")
    last = datetime(2024, 6, 1)
    got = {p.range: (p.since, p.until) for p in q.presets(last)}
    assert got == {
        "all": (None, None),
        "30d": ("2024-05-02T00:00:00", None),
        "7d": ("2024-05-25T00:00:00", None),
    }


def test_stop_interrupts_the_running_query_and_ends_the_workers(src: DashboardSource) -> None:
    app = create_app(src)
    ahead = app.state.views.ahead
    ahead.start()
    started = threading.Event()

    def long(s: DashboardSource) -> None:  # minutes of work, unless interrupted
        started.set()
        s.events.engine.con.con.execute("SELECT sum(i * i % 7) FROM range(100000000000) t(i)").fetchall()

    ahead.submit(long)
    assert started.wait(30)
    time.sleep(0.2)
    began = time.monotonic()
    ahead.stop()
    assert time.monotonic() - began < 8
    assert all(lane.worker is not None and not lane.worker.is_alive() for lane in ahead._lanes[:1])
    assert not ahead.on
    second = ahead._lanes[0].second
    assert second is not None
    with pytest.raises(RuntimeError):  # a stopped job's next query does not start (at exit: an abort)
        second.run(lambda: None)


def test_a_new_funnel_stops_the_last_funnels_people_not_other_work(src: DashboardSource) -> None:
    app = create_app(src)
    ahead = app.state.views.ahead
    ahead.start()
    started, ended = threading.Event(), threading.Event()
    stopped: list[str] = []

    def long(name: str) -> Any:
        def job(s: DashboardSource) -> None:  # minutes of work, unless interrupted
            started.set()
            try:
                s.events.engine.con.con.execute(
                    "SELECT sum(i * i % 7) FROM range(100000000000) t(i)"
                ).fetchall()
            except Exception:
                stopped.append(name)
                raise
            finally:
                ended.set()

        return job

    ahead.submit(long("a"), view=("funnel", "a"))
    assert started.wait(30)
    time.sleep(0.2)
    ahead.submit(lambda s: None, view=("funnel", "a"))  # the same funnel again: goes on
    ahead.submit(lambda s: None, view=("lifecycle", "x"))  # another kind of view: goes on
    ahead.submit(lambda s: None)
    assert not ended.wait(1.0) and stopped == []
    began = time.monotonic()
    ahead.submit(lambda s: None, view=("funnel", "b"))  # another funnel: the last one's people stop
    assert ended.wait(8) and stopped == ["a"]
    assert time.monotonic() - began < 8
    assert ahead.idle(30)
    ahead.stop()


def test_a_sankeys_people_table_starts_beside_the_journeys_answer(src: DashboardSource) -> None:
    """A Sankey node is clicked as soon as it is drawn: its people's table (1M: 0.9 CPU-s) is
    submitted with its view (at once, as a funnel's people), keyed without the page's top (a new
    top is the same table: it must not stop it); the period before waits for the answer."""
    app = create_app(src)
    views = app.state.views
    views.ahead.start()
    submitted: list[tuple[int, Any]] = []
    views.ahead.submit = lambda *jobs, **kw: submitted.append((len(jobs), kw.get("view")))
    q = PageQuery.parse({"range": "90d", "top": "5"}, src.last, src.default_model)
    views.journeys(q)
    tagged = [view for _, view in submitted if view is not None]
    assert len(tagged) == 1 and tagged[0][0] == "journeys"
    assert (1, None) in submitted  # the period before: untagged, after the answer
    views.journeys(PageQuery.parse({"range": "90d", "top": "9"}, src.last, src.default_model))
    assert [view for _, view in submitted if view is not None] == [tagged[0], tagged[0]]
    views.ahead.stop()
