"""The dashboard in real headless Chromium: uvicorn in a thread on a free loopback port, no console
errors, no request outside 127.0.0.1, charts drawn, numbers equal to the API's, a form change
redraws only the result, a click on a bar lists its customers, the CSV, the token."""

from __future__ import annotations

import csv
import importlib.util
import io
import pathlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.interfaces.dashboard.data import DashboardSource
from hourglass.interfaces.dashboard.server import Running, start_in_thread
from test_report_html import CHROMIUM, CHROMIUM_ARGS  # one headless Chromium for both browser tests

pytestmark = pytest.mark.browser

STEPS = ["visit", "signup", "purchase"]
FUNNEL = "/funnel?steps=visit%2Csignup%2Cpurchase&window=30d"
IDLE = "document.documentElement.getAttribute('data-hg-busy') === '0'"


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> DashboardSource:
    table, _ = simulate_shop(400, seed=11)
    path = tmp_path_factory.mktemp("dashb") / "shop.duckdb"
    write_events(table, duckdb_path=path)
    return load_source(str(path))


@pytest.fixture(scope="module")
def server(src: DashboardSource) -> Iterator[Running]:
    running = start_in_thread(create_app(src))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watched:
    """A page whose console errors, page errors and requests outside the server are collected."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "request",
            lambda r: None if r.url.startswith(base) else self.problems.append(f"request outside: {r.url}"),
        )

    def open(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_function(IDLE, timeout=30_000)
        return response

    def idle(self) -> None:
        self.page.wait_for_function(IDLE, timeout=30_000)

    def chart(self) -> dict[str, Any]:
        """The funnel chart's id and its traces' y values, as drawn by plotly."""
        return dict(
            self.page.evaluate(
                """() => { const el = document.querySelector('.hg-chart.hg-drawn');
                return el ? {id: el.id, ys: el.data.map(t => t.y), names: el.data.map(t => t.name),
                             bars: el.querySelectorAll('.barlayer .point').length} : null; }"""
            )
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def watched(browser: Any, server: Running) -> Iterator[Watched]:
    w = Watched(browser, server.url)
    yield w
    w.close()
    assert w.problems == []


def test_every_page_loads_and_draws(watched: Watched) -> None:
    for path, charts in (("/", 0), (FUNNEL, 1), ("/lifecycle", 3), ("/journeys", 3)):
        response = watched.open(path)
        assert response.status == 200, path
        drawn = watched.page.locator(".js-plotly-plot .main-svg").count()
        assert drawn >= charts, (path, drawn)
    watched.open("/")
    assert watched.page.locator(".hg-model").count() == 6


def test_funnel_numbers_equal_the_api(watched: Watched, src: DashboardSource) -> None:
    watched.open(FUNNEL)
    expected = [row["customers"] for row in api.funnel(src.events, STEPS, window="30d").rows()]
    chart = watched.chart()
    assert chart["ys"] == [expected] and chart["bars"] == 3
    shown = watched.page.locator("a.hg-reached").all_inner_texts()
    assert [int(t.replace(",", "")) for t in shown] == expected


def test_changing_breakdown_and_dates_redraws(watched: Watched, src: DashboardSource) -> None:
    watched.open(FUNNEL)
    before = watched.chart()
    watched.page.select_option('select[name="by"]', "channel")
    watched.page.wait_for_function(f"() => !document.getElementById('{before['id']}')")
    watched.idle()
    after = watched.chart()
    groups = api.funnel(src.events, STEPS, window="30d", by="channel").groups
    shown = groups[:5]
    assert after["names"][: len(shown)] == [str(g.value) for g in shown]
    assert after["ys"][0] == [s.customers for s in groups[0].steps]
    assert "by=channel" in watched.page.url  # the view is a link
    assert watched.page.locator("h1").inner_text() == "Funnel"  # the form was not redrawn
    watched.page.select_option('select[name="range"]', "30d")
    watched.page.wait_for_function(f"() => !document.getElementById('{after['id']}')")
    watched.idle()
    assert "range=30d" in watched.page.url
    watched.page.reload()
    watched.idle()
    assert watched.page.locator('select[name="range"]').input_value() == "30d"  # bookmarkable


def test_changing_model_and_compare_redraws(watched: Watched, src: DashboardSource) -> None:
    watched.open("/funnel?window=30d&range=90d")
    watched.page.fill('input[name="model"]', "aida")
    watched.page.locator('input[name="model"]').press("Enter")
    watched.page.wait_for_selector(".hg-chart.hg-drawn")
    watched.idle()
    expected = api.funnel(src.events, model="aida", window="30d", since=_since(src, 90)).rows()
    assert watched.chart()["ys"] == [[r["customers"] for r in expected]]
    watched.page.select_option('select[name="compare"]', "previous")
    watched.page.wait_for_selector(".hg-compare .js-plotly-plot .main-svg")
    watched.idle()
    assert watched.page.locator(".hg-compare tbody tr").count() == len(expected)
    assert "compare=previous" in watched.page.url and "model=aida" in watched.page.url


def _since(src: DashboardSource, days: int) -> str:
    assert src.last is not None
    return (src.last - timedelta(days=days)).isoformat(timespec="seconds")


def test_clicking_a_bar_lists_its_customers_and_the_csv(watched: Watched, src: DashboardSource) -> None:
    watched.open(FUNNEL)
    levels = api.funnel_levels(src.events, STEPS, window="30d")
    want = sorted(levels[levels.level >= 2].customer.astype(str))
    box = watched.page.locator(".hg-chart .barlayer .point").nth(1).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    watched.page.mouse.move(x, y)  # plotly picks the bar under the pointer, as for a person
    watched.page.mouse.click(x, y)
    watched.page.wait_for_selector(".hg-people-list")
    watched.idle()
    total = watched.page.locator(".hg-people-list").get_attribute("data-total")
    assert total == str(len(want))
    shown = watched.page.locator(".hg-people-list tbody tr td:nth-child(2)").all_inner_texts()
    assert shown == want[: len(shown)] and len(shown) == min(50, len(want))
    with watched.page.expect_download() as info:
        watched.page.locator(".hg-people-list a[download]").click()
    rows = list(csv.DictReader(io.StringIO(pathlib.Path(info.value.path()).read_text())))
    assert sorted(r["customer"] for r in rows) == want


def test_clicking_dropped_lists_those_who_went_no_further(watched: Watched, src: DashboardSource) -> None:
    watched.open(FUNNEL)
    levels = api.funnel_levels(src.events, STEPS, window="30d")
    watched.page.locator("a.hg-dropped").first.click()
    watched.page.wait_for_selector(".hg-people-list")
    watched.idle()
    assert watched.page.locator(".hg-people-list").get_attribute("data-total") == str(
        int((levels.level == 1).sum())
    )


def test_who_are_they_on_the_hourglass(watched: Watched, src: DashboardSource) -> None:
    from hourglass.interfaces.lifecycle_api import lifecycle

    stages = lifecycle(src.events).to_dict()["stages"]
    watched.open("/lifecycle")
    url = watched.page.url
    watched.page.select_option('.hg-who select[name="kind"]', "furthest")
    watched.idle()
    watched.page.select_option('.hg-who select[name="stage"]', stages[1]["stage"])
    watched.page.wait_for_function(
        f"() => document.querySelector('.hg-people-list h2')?.textContent.includes('{stages[1]['stage']}')"
    )
    watched.idle()
    assert watched.page.locator(".hg-people-list").get_attribute("data-total") == str(stages[1]["furthest"])
    assert watched.page.url == url  # a list of people is not a new view of the page


def test_an_error_is_shown_in_the_page(watched: Watched) -> None:
    watched.open(FUNNEL)
    watched.page.fill('input[name="window"]', "3x")
    watched.page.locator('input[name="window"]').press("Enter")
    watched.page.wait_for_selector(".hg-error")
    assert "HG107" in watched.page.locator(".hg-error").inner_text()
    watched.problems = [p for p in watched.problems if "status of 400" not in p]  # the fragment's 400


def test_the_token_is_enforced(browser: Any, src: DashboardSource) -> None:
    running = start_in_thread(create_app(src, token="s3cret"))
    w = Watched(browser, running.url)
    try:
        assert w.page.goto(running.url + FUNNEL).status == 401
        assert w.page.goto(running.url + "/people.csv?steps=visit&step=1").status == 401
        w.problems.clear()  # the 401s themselves
        w.open(FUNNEL + "&token=s3cret")
        assert "token" not in w.page.url
        assert w.chart()["bars"] == 3
        assert w.page.goto(running.url + "/lifecycle").status == 200  # the cookie
        assert w.problems == []
    finally:
        w.close()
        running.stop()


def test_clicking_a_sankey_node_lists_its_customers(watched: Watched, src: DashboardSource) -> None:
    from hourglass.interfaces import journeys_api

    nodes = journeys_api.paths(src.events, "hourglass", top=5).to_dict()["sankey"]["nodes"]
    watched.open("/journeys?top=5")
    drawn = watched.page.locator(".sankey .sankey-node")
    assert drawn.count() >= len(nodes)
    box = drawn.nth(1).locator(".node-rect").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    watched.page.mouse.move(x, y)
    watched.page.mouse.click(x, y)
    watched.page.wait_for_selector("#people .hg-people-list")
    watched.idle()
    assert watched.page.locator("#people .hg-people-list").get_attribute("data-total") == str(
        nodes[1]["customers"]
    )
    assert "people" not in watched.page.url  # a list is not a new view of the page


def test_compare_on_the_journeys_page_draws_both_periods(watched: Watched) -> None:
    watched.open("/journeys?range=90d&top=5")
    watched.page.select_option('select[name="compare"]', "previous")
    watched.page.wait_for_selector(".hg-compare .js-plotly-plot .main-svg")
    watched.idle()
    traces = watched.page.evaluate("document.querySelector('.hg-compare .js-plotly-plot').data.length")
    assert traces == 2 and "compare=previous" in watched.page.url
    assert watched.page.locator(".hg-compare tbody tr").count() >= 1


def test_clicking_a_channel_cell_lists_its_customers(watched: Watched, src: DashboardSource) -> None:
    from hourglass.engine.run_referrals import run_channels
    from hourglass.ingest.config import load_model

    first = run_channels(src.events, load_model("hourglass", src.config)).channels[0]
    watched.open("/lifecycle")
    watched.page.locator("table.channels tbody tr").first.locator("td").nth(3).click()  # its 2nd stage
    watched.page.wait_for_selector("#people .hg-people-list")
    watched.idle()
    assert watched.page.locator("#people .hg-people-list").get_attribute("data-total") == str(first.stages[1])
