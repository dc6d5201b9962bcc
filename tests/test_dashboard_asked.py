"""The work ahead of a page or a view left behind (interfaces/dashboard/asked.py): a page's next
clicks' work does not start once another page is asked for, and the overview's period before stops
between its read and its scan's ranges once another overview is asked for; what is computed is the
API's (tests/test_dashboard_overview_batch.py) and what is stopped is not cached."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hourglass.engine import fastpath_scan, grouping
from hourglass.engine.event_store import write_store
from hourglass.engine.models_scan import Stopped, models_scan_rows
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard import load_source
from hourglass.interfaces.dashboard import views as views_module
from hourglass.interfaces.dashboard.app import create_app
from hourglass.interfaces.dashboard.asked import Asked
from hourglass.interfaces.dashboard.data import DashboardSource
from hourglass.interfaces.dashboard.query import PageQuery
from hourglass.model.errors import HourglassError
from hourglass.model.presets import PRESETS


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> DashboardSource:
    table, _ = simulate_shop(300, seed=13)
    d = tmp_path_factory.mktemp("asked")
    write_events(table, parquet_path=d / "shop.parquet")
    write_store(api.events(str(d / "shop.parquet")), d / "shop.duckdb")
    return load_source(str(d / "shop.duckdb"))


@pytest.fixture
def scan() -> Iterator[None]:
    """The sequential-scan plan on a small store (it runs from 10^6 events), in threads."""
    before = fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN
    fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN = 0, 0
    yield
    fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN = before


def _views(src: DashboardSource, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Any]]:
    """A server's views whose work ahead is collected (run by the test), not run."""
    views = create_app(src).state.views
    jobs: list[Any] = []
    nothing = views_module._nothing  # (a batch that stops another page's work ahead)
    monkeypatch.setattr(
        views.ahead, "submit", lambda *js, **kw: jobs.extend(j for j in js if j is not nothing)
    )
    return views, jobs


def _kinds(views: Any) -> set[Any]:
    return {key[1] for key in views.cache._data}


def test_asked() -> None:
    asked = Asked()
    ran: list[str] = []
    (job,) = asked.only("overview", lambda s: ran.append("x"))
    still = asked.newest("overview", ("7d", None, None))
    asked.ask("overview", ("7d", None, None))
    assert still()
    job(None)  # type: ignore[arg-type]
    assert ran == ["x"]
    asked.ask("overview", ("8d", None, None))
    assert not still()  # another view of the page
    asked.ask("overview", ("7d", None, None))
    asked.ask("journeys", None)
    assert not still()  # another page
    job(None)  # type: ignore[arg-type]
    assert ran == ["x"]  # not started: the page was left


def test_a_page_left_behind_starts_none_of_its_work_ahead(
    src: DashboardSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hourglass page's next clicks (a channel cell, the period before, the stage table) are
    not computed once the journeys page is asked for (10M: its stage table took 12.6 CPU-s beside
    the next pages); asked for again, they are."""
    views, jobs = _views(src, monkeypatch)
    q = PageQuery(model="hourglass", default="hourglass", range="90d", since="2024-03-01T00:00:00")
    views.lifecycle(q)
    lifecycle_jobs = list(jobs)
    assert len(lifecycle_jobs) >= 2
    views.journeys(PageQuery(model="hourglass", default="hourglass"))
    for job in lifecycle_jobs:
        job(views.src)
    assert not {"stage_table", "channel-customers", "lifecycle-stages"} & _kinds(views)
    jobs.clear()
    views.lifecycle(q)  # back on the page: its work ahead runs
    for job in jobs:
        job(views.src)
    assert "stage_table" in _kinds(views)


def test_the_overviews_period_before_stops_for_a_newer_view(
    src: DashboardSource, monkeypatch: pytest.MonkeyPatch, scan: None
) -> None:
    """The period before of an overview left behind (its first view, when the window is changed)
    stops between the read and the scan: not cached; the newest view's is computed and equals the
    overview of that period asked for directly."""
    views, jobs = _views(src, monkeypatch)
    since = "2024-03-01T00:00:00"
    views.overview("30d", "custom", since, None)
    (older,) = jobs
    views.overview("20d", "custom", since, None)
    (_, newer) = jobs
    before = set(views.cache._data)
    with pytest.raises(Stopped):  # the 30-day view's period before (ahead.py drops the error)
        older(views.src)
    assert set(views.cache._data) == before
    newer(views.src)
    (added,) = set(views.cache._data) - before
    assert added[1] == "overview" and added[2][0] == "20d" and added[2][2] == since
    b_since = added[2][1]
    got = views.cache._data[added]
    direct = views._models("20d", b_since, since)  # the same cache entry, asked by a request
    assert got is direct
    by_name = {m.name: m for m in got}
    measured = 0
    for name in PRESETS:  # each model as api.funnel gives it for the period before
        try:
            steps = api.funnel(src.events, model=name, window="20d", since=b_since, until=since).to_dict()
        except HourglassError:
            assert not by_name[name].steps, name
            continue
        if by_name[name].steps:
            assert by_name[name].steps == steps["steps"], name
            measured += 1
    assert measured >= 3


def test_the_models_scan_stops_between_ranges(src: DashboardSource, scan: None) -> None:
    """``wanted`` is asked first and before each range of customers: False then raises Stopped
    (not an HourglassError, so the overview does not run each model on its own)."""
    from hourglass.engine.funnel_batch import _by_code, read_names, step_names
    from hourglass.interfaces.api import build_spec

    specs = [build_spec(None, model=name, window="7d") for name in list(PRESETS)[:2]]
    names = sorted({x for s in specs for st in s.steps for x in st.events})
    rows = {x: _by_code(*r) for x, r in read_names(src.events, names).items()}
    steps = [step_names(s) for s in specs]
    asked: list[int] = []

    def wanted() -> bool:
        asked.append(1)
        return len(asked) < 2  # yes at first, then no (before the first range)

    with pytest.raises(Stopped):
        models_scan_rows(rows, specs, steps, None, None, wanted)
    assert len(asked) >= 2
    assert not issubclass(Stopped, HourglassError)
    full = models_scan_rows(rows, specs, steps, None, None, lambda: True)
    assert full == models_scan_rows(rows, specs, steps, None, None)


def test_a_new_overview_interrupts_the_older_views_period_before(
    src: DashboardSource, monkeypatch: pytest.MonkeyPatch, scan: None
) -> None:
    """The period before of the overview left behind is stopped when the new view is asked for,
    in its read (its query interrupted: ahead.py's ``view=``), not after; nothing of it is cached."""
    import threading

    from hourglass.engine import funnel_batch

    views = create_app(src).state.views
    views.ahead.start()
    started, outcome = threading.Event(), []
    real = funnel_batch.read_names

    def slow(events: Any, names: Any, span: Any = (None, None)) -> Any:
        if threading.current_thread().name == "hourglass-ahead" and not started.is_set():
            started.set()  # the first read of the work ahead: minutes, unless interrupted
            try:
                events.engine.con.con.sql("SELECT sum(i * i % 7) FROM range(100000000000) t(i)").fetchall()
            except Exception as e:
                outcome.append(type(e).__name__)
                raise
        return real(events, names, span)

    monkeypatch.setattr(funnel_batch, "read_names", slow)
    since = "2024-03-01T00:00:00"
    try:
        views.overview("30d", "custom", since, None)
        assert started.wait(60)
        views.overview("20d", "custom", since, None)
        assert views.ahead.idle(60)
    finally:
        views.ahead.stop()
    assert outcome == ["InterruptException"]
    windows = {key[2][0] for key in views.cache._data if key[1] == "overview"}
    assert windows == {"30d", "20d"}  # the two views and the newer one's period before
    assert sum(1 for key in views.cache._data if key[1] == "overview") == 3
