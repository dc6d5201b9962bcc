"""The funnel over time on the dashboard: the trend, time and events tabs of the funnel page's
funnel, their charts and tables, the whole page, and coded errors (never a traceback)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.interfaces.dashboard.funnel_trend_view import add_trend_routes
from hourglass.interfaces.funnel_views_api import funnel_trend

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAGMENT = {"X-HG-Fragment": "1"}
FUNNEL = "steps=visit,signup,purchase&window=30d"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    table, _ = simulate_shop(300, seed=5)
    path = tmp_path_factory.mktemp("trend") / "shop.parquet"
    write_events(table, parquet_path=path)
    app = create_app(load_source(str(path)))
    if not any(getattr(r, "path", "") == "/funnel/trend" for r in app.routes):
        add_trend_routes(app, app.state.views)  # until app.create_app adds them itself
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.source = str(path)  # type: ignore[attr-defined]
        yield c


def test_trend_tab_matches_the_api(client: TestClient) -> None:
    r = client.get(f"/funnel/trend?{FUNNEL}&view=trend&period=month", headers=FRAGMENT)
    assert r.status_code == 200, r.text
    assert "The funnel over time" in r.text and 'data-plot="hg-trend-chart-' in r.text
    assert '<script type="application/json" data-plot="hg-trend-chart-' in r.text and '{"data":' in r.text
    want = funnel_trend(client.source, ["visit", "signup", "purchase"], period="month", window="30d")  # type: ignore[attr-defined]
    for p in want.to_dict()["periods"]:
        assert f'<td class="step">{p["start"]}</td><td>{p["entered"]:,}</td>' in r.text
    assert r.text.count("incomplete") >= 1  # the last month's window has not elapsed


@pytest.mark.parametrize("view", ["time", "events"])
def test_time_and_events_tabs(client: TestClient, view: str) -> None:
    r = client.get(f"/funnel/trend?{FUNNEL}&view={view}&gap=1h", headers=FRAGMENT)
    assert r.status_code == 200, r.text
    assert "data-plot=" in r.text and "purchase" in r.text


def test_whole_page_and_errors(client: TestClient) -> None:
    page = client.get(f"/funnel/trend?{FUNNEL}&view=trend")
    assert page.status_code == 200 and "← the funnel" in page.text and "<html" in page.text.lower()
    for query, code in (
        ("view=nope", "HG109"),
        ("period=year", "HG142"),
        ("gap=30", "HG107"),
        ("view=trend&by=channel", "HG145"),
    ):
        r = client.get(f"/funnel/trend?{FUNNEL}&{query}", headers=FRAGMENT)
        assert r.status_code == 400 and code in r.text, (query, r.text[:500])
