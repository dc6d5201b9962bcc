"""A view that takes long (``hourglass serve``: ``wait_s``) is answered with its progress (HTTP 202,
``data-hg-poll``) and computed in the background; asking again gives the view, equal to the one
computed without progress, or its coded error, once; in real Chromium the page fills in by itself."""

from __future__ import annotations

import re
import time
import warnings
from typing import Any

import pytest

from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.interfaces.dashboard import views as views_module
from hourglass.interfaces.dashboard.data import DashboardSource
from hourglass.model.errors import SpecError

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAGMENT = {"X-HG-Fragment": "1"}
POLL = {"X-HG-Fragment": "1", "X-HG-Poll": "1"}
FUNNEL = "/funnel?steps=visit%2Csignup%2Cpurchase&window=30d"
SLOW_S = 0.8


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> DashboardSource:
    table, _ = simulate_shop(300, seed=9)
    path = tmp_path_factory.mktemp("progress") / "shop.duckdb"
    write_events(table, duckdb_path=path)
    return load_source(str(path))


@pytest.fixture()
def slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every funnel takes ``SLOW_S`` longer."""
    original = views_module.compute_funnel

    def slowly(*a: Any, **k: Any) -> Any:
        time.sleep(SLOW_S)
        return original(*a, **k)

    monkeypatch.setattr(views_module, "compute_funnel", slowly)


def _numbers(html: str) -> str:
    return re.sub(r"[a-z][a-z-]*-\d+\b", "", html)  # without the charts' fresh ids


def _until_ready(client: TestClient, url: str) -> Any:
    for _ in range(100):
        r = client.get(url, headers=POLL)
        if r.status_code != 202:
            return r
    raise AssertionError("never ready")


def test_a_slow_view_shows_progress_then_the_view(src: DashboardSource, slow: None) -> None:
    client = TestClient(create_app(src, wait_s=0.1), base_url="http://127.0.0.1")
    first = client.get(FUNNEL, headers=FRAGMENT)
    assert first.status_code == 202
    assert f'data-hg-poll="{FUNNEL.replace("&", "&amp;")}"' in first.text and "Computing funnel" in first.text
    done = _until_ready(client, FUNNEL)
    assert done.status_code == 200 and "data-hg-poll" not in done.text
    plain = TestClient(create_app(src), base_url="http://127.0.0.1").get(FUNNEL, headers=FRAGMENT)
    assert _numbers(done.text) == _numbers(plain.text)
    # a full page: the note inside the page's result, asked for again by hg.js
    page = client.get(FUNNEL + "&range=30d")
    assert page.status_code == 202 and '<div id="result"' in page.text
    assert f'data-hg-poll="{FUNNEL.replace("&", "&amp;")}&amp;range=30d"' in page.text
    assert _until_ready(client, FUNNEL + "&range=30d").status_code == 200


def test_a_slow_error_is_shown_once_with_its_code(
    src: DashboardSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def failing(*_a: Any, **_k: Any) -> Any:
        calls.append(1)
        time.sleep(SLOW_S / 2)
        raise SpecError("goal: no stage 'x'", code="HG106", hint="give a stage")

    monkeypatch.setattr(views_module, "compute_lifecycle", failing)
    client = TestClient(create_app(src, wait_s=0.05), base_url="http://127.0.0.1")
    assert client.get("/lifecycle", headers=FRAGMENT).status_code == 202
    r = _until_ready(client, "/lifecycle")
    assert r.status_code == 400 and 'data-code="HG106"' in r.text
    assert len(calls) == 1  # the page asking again did not compute it again
    assert client.get("/lifecycle", headers=FRAGMENT).status_code == 202  # a new request: computed again
    _until_ready(client, "/lifecycle")
    assert len(calls) == 2


@pytest.mark.browser
def test_the_page_fills_in_by_itself_in_chromium(src: DashboardSource, slow: None) -> None:
    from test_dashboard_browser import IDLE, Watched
    from test_report_html import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from hourglass.interfaces.dashboard.server import start_in_thread

    running = start_in_thread(create_app(src, wait_s=0.1))
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            w = Watched(b, running.url)
            w.page.goto(running.url + FUNNEL)
            w.page.wait_for_selector(".hg-chart.hg-drawn", timeout=30_000)
            w.page.wait_for_function(IDLE, timeout=30_000)
            assert w.page.locator("[data-hg-poll]").count() == 0
            timings = w.page.evaluate("window.hgTimings")
            assert timings and timings[-1]["ms"] >= SLOW_S * 1000  # from the request to the chart drawn
            w.page.select_option('select[name="by"]', "channel")  # a form change: the same, in place
            w.page.wait_for_function("window.hgTimings.length > 1", timeout=30_000)
            w.page.wait_for_function(IDLE, timeout=30_000)
            assert w.page.locator("[data-hg-poll]").count() == 0
            assert w.page.locator("#result .hg-chart.hg-drawn").count() == 1
            assert w.page.evaluate("window.hgTimings")[-1]["ms"] >= SLOW_S * 1000
            w.close()
            assert w.problems == []
            b.close()
    finally:
        running.stop()
