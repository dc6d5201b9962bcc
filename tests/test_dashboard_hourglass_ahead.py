"""The work ahead does not compete with a click (dashboard/ahead.py): what a view's next clicks ask
for starts once no request is being answered, not beside the answer a person waits for."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pytest

from hourglass.engine.event_store import write_store
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard import load_source
from hourglass.interfaces.dashboard.ahead import Ahead
from hourglass.interfaces.dashboard.data import DashboardSource


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> DashboardSource:
    table, _ = simulate_shop(100, seed=3)
    d = tmp_path_factory.mktemp("hourglass-ahead")
    write_events(table, parquet_path=d / "shop.parquet")
    write_store(api.events(str(d / "shop.parquet")), d / "shop.duckdb")
    return load_source(str(d / "shop.duckdb"))


def test_the_next_clicks_work_waits_for_the_answer(src: DashboardSource) -> None:
    ahead = Ahead(src)
    ahead.start()
    assert ahead.second is not None  # a second connection: the job could run beside the request
    ran = threading.Event()
    try:
        ahead.request_started()  # a new date range being computed
        ahead.submit(lambda s: ran.set())
        assert not ran.wait(0.5)  # not beside it
        ahead.request_done()
        assert ran.wait(10)  # at once after it
    finally:
        ahead.stop()


def test_a_later_request_goes_before_the_older_views_work(src: DashboardSource) -> None:
    ahead = Ahead(src)
    ahead.start()
    order: list[str] = []
    gate = threading.Event()
    try:
        ahead.submit(lambda s: gate.wait(10), lambda s: order.append("older view's second job"))
        ahead.request_started()  # a click while the older view's first job runs
        gate.set()
        assert not ahead.idle(0.5)  # its second job waits for the click's answer
        assert order == []
        order.append("answered")
        ahead.request_done()
        assert ahead.idle(10)
        assert order == ["answered", "older view's second job"]
    finally:
        ahead.stop()


def test_a_funnels_people_still_start_beside_it(src: DashboardSource) -> None:
    ahead = Ahead(src)
    ahead.start()
    ran = threading.Event()
    try:
        ahead.request_started()
        ahead.submit(lambda s: ran.set(), view=("funnel", "a"))  # the bar is clicked once drawn
        assert ran.wait(10)
        ahead.request_done()
    finally:
        ahead.stop()


def test_a_tagged_job_is_not_held_up_by_one_waiting_for_the_answer(src: DashboardSource) -> None:
    """While a request is being answered, an untagged job waits in the queue; a tagged one
    submitted meanwhile starts at once (it was queued behind the untagged job the worker held
    while waiting: the Sankey click, Ob)."""
    ahead = Ahead(src)
    ahead.start()
    ran: list[str] = []
    tagged = threading.Event()
    ahead.request_started()  # a request is being answered
    try:
        ahead.submit(lambda s: ran.append("untagged"))
        time.sleep(0.1)  # the worker has looked at it (and waits for the answer)
        ahead.submit(lambda s: (ran.append("tagged"), tagged.set()), view=("journeys", "a"))
        assert tagged.wait(5), "the tagged job waited behind the untagged one"
        assert ran == ["tagged"]
    finally:
        ahead.request_done()
    try:
        assert ahead.idle(30) and ran == ["tagged", "untagged"]
    finally:
        ahead.stop()


def test_stop_ends_a_worker_waiting_for_the_answer(src: DashboardSource) -> None:
    """stop() while a job waits for the request being answered: the worker ends, the job is dropped."""
    ahead = Ahead(src)
    ahead.start()
    ran = threading.Event()
    ahead.request_started()
    try:
        ahead.submit(lambda s: ran.set())
        time.sleep(0.1)
        ahead.stop(timeout=2)
        worker = ahead._lanes[0].worker
        assert worker is not None and not worker.is_alive()
    finally:
        ahead.request_done()
    assert not ran.wait(0.2)


LONG = "SELECT sum(i * i % 7) FROM range(100000000000) t(i)"  # minutes, unless interrupted


def _long(s: DashboardSource, log: list[str], name: str, started: threading.Event) -> None:
    started.set()
    try:
        s.events.engine.con.con.execute(LONG).fetchall()
    except Exception:
        log.append(f"{name} stopped")
        raise


def test_a_request_stops_the_work_that_may_wait_and_it_runs_again(
    src: DashboardSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A preset computed ahead (the lane of work that may wait) is stopped when a click comes (the
    click does not share the cores with it) and computed again in the next pause."""
    import hourglass.interfaces.dashboard.ahead as ahead_module

    monkeypatch.setattr(ahead_module, "IDLE_S", 0.1)
    ahead = Ahead(src)
    ahead.start()
    log: list[str] = []
    started = threading.Event()

    def preset(s: DashboardSource) -> None:
        if not log:  # the first time: long
            _long(s, log, "preset", started)
        log.append("preset done")

    try:
        ahead.submit(preset, later=True)
        assert started.wait(30)
        time.sleep(0.2)
        began = time.monotonic()
        ahead.request_started()  # a click
        deadline = time.monotonic() + 8
        while "preset stopped" not in log and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log == ["preset stopped"] and time.monotonic() - began < 8
        time.sleep(0.3)
        assert log == ["preset stopped"]  # not again while the click is answered
        ahead.request_done()
        assert ahead.idle(30)
        assert log == ["preset stopped", "preset done"]  # computed again in the pause
    finally:
        ahead.stop()


def test_another_page_drops_and_stops_the_last_pages_work(src: DashboardSource) -> None:
    ahead = Ahead(src)
    ahead.start()
    log: list[str] = []
    started = threading.Event()
    try:
        ahead.submit(lambda s: _long(s, log, "a", started), page="lifecycle")
        assert started.wait(30)
        time.sleep(0.2)  # its query running
        ahead.submit(lambda s: log.append("a's queued job"), page="lifecycle")
        ahead.submit(lambda s: log.append("b"), page="journeys")
        assert ahead.idle(10)
        assert log == ["a stopped", "b"]
    finally:
        ahead.stop()


def test_an_interrupt_reaches_the_connection_beside(src: DashboardSource) -> None:
    """The hourglass's referral loop runs on a companion connection (engine/second_connection.py
    ``beside``): stopping a job stops its query too."""
    from hourglass.engine.second_connection import beside, interrupt, second_connection

    events = second_connection(src.events)
    assert events is not None
    log: list[str] = []
    started = threading.Event()

    def fn(on: Any) -> None:
        _long(dataclasses.replace(src, events=on), log, "beside", started)

    began = time.monotonic()
    with pytest.raises(Exception, match=r"(?i)interrupt"), beside(events, fn) as answer:
        assert started.wait(30)
        time.sleep(0.2)
        interrupt(events)
        answer()
    assert log == ["beside stopped"] and time.monotonic() - began < 10


def test_a_stopped_job_s_next_queries_are_stopped_too(src: DashboardSource) -> None:
    """One interrupt meets only the query running: a job that goes on (its numpy phase, the next
    query of a lifecycle) is interrupted again until it ends (O's 10M timeline)."""
    ahead = Ahead(src)
    ahead.start()
    log: list[str] = []
    started, ended = threading.Event(), threading.Event()

    def job(s: DashboardSource) -> None:
        try:
            _long(s, log, "first query", started)
        except Exception:  # noqa: BLE001 - goes on, as a job between its queries does
            time.sleep(0.2)  # a numpy phase
            _long(s, log, "next query", threading.Event())
        finally:
            ended.set()

    try:
        ahead.submit(job, page="lifecycle")
        assert started.wait(30)
        time.sleep(0.2)
        began = time.monotonic()
        ahead.submit(lambda s: log.append("b"), page="journeys")
        assert ended.wait(10) and time.monotonic() - began < 10
        assert ahead.idle(10)
        assert log == ["first query stopped", "next query stopped", "b"]
    finally:
        ahead.stop()


def test_a_new_range_stops_and_drops_the_last_ranges_work(src: DashboardSource) -> None:
    """The hourglass page's next clicks' work (``at_once=False``): a new range's request stops the
    last range's running job (at 10M its people tables took a core from the new range's answer)
    and drops its queued ones; the new range's jobs wait for its answer, then run."""
    ahead = Ahead(src)
    ahead.start()
    log: list[str] = []
    started = threading.Event()
    try:
        ahead.submit(
            lambda s: _long(s, log, "a's people", started),
            lambda s: log.append("a's queued job"),
            view=("lifecycle", "a"),
            at_once=False,
        )
        assert started.wait(30)
        time.sleep(0.2)
        ahead.submit(lambda s: log.append("a again: goes on"), view=("lifecycle", "a"), at_once=False)
        time.sleep(0.3)
        assert log == []  # the same view: its job goes on
        began = time.monotonic()
        ahead.request_started()  # the new range's request
        ahead.submit(lambda s: log.append("b's people"), view=("lifecycle", "b"), at_once=False)
        ahead.submit(lambda s: log.append("a funnel's people"), view=("funnel", "f"))  # another kind
        deadline = time.monotonic() + 8
        while "a's people stopped" not in log and time.monotonic() < deadline:
            time.sleep(0.02)
        assert time.monotonic() - began < 8
        while "a funnel's people" not in log and time.monotonic() < deadline:  # no fixed sleep (R)
            time.sleep(0.02)
        time.sleep(0.1)
        assert log == ["a's people stopped", "a funnel's people"]  # b's waits for the answer
        ahead.request_done()
        assert ahead.idle(10)
        assert log == ["a's people stopped", "a funnel's people", "b's people"]
    finally:
        ahead.stop()


def test_the_hourglass_page_submits_its_next_clicks_per_range(src: DashboardSource) -> None:
    from hourglass.interfaces.dashboard import create_app
    from hourglass.interfaces.dashboard.query import PageQuery

    views = create_app(src).state.views
    views.ahead.start()
    submitted: list[dict[str, Any]] = []
    views.ahead.submit = lambda *jobs, **kw: submitted.append(kw)
    try:
        q = PageQuery.parse({"range": "90d"}, src.last, src.default_model)
        views.lifecycle(q)
        views.lifecycle(PageQuery.parse({"range": "90d", "compare": "previous"}, src.last, src.default_model))
        tagged = [kw for kw in submitted if kw.get("view") is not None]
        assert [kw["view"] for kw in tagged] == [("lifecycle", q.key())] * 2  # a comparison: the same range
        assert all(kw["at_once"] is False for kw in tagged)
    finally:
        views.ahead.stop()
