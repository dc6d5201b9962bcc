"""The funnel explained on the dashboard: the tabs (drop-off paths, between-step paths, correlation)
of the funnel page's funnel, and each path's and item's customers, a page and a CSV whose length is
the number shown."""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.interfaces.dashboard.data import DashboardSource

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAGMENT = {"X-HG-Fragment": "1"}
FUNNEL = "steps=visit,signup,purchase&window=30d"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    table, _ = simulate_shop(400, seed=11)
    path = tmp_path_factory.mktemp("explore") / "shop.parquet"
    write_events(table, parquet_path=path)
    src: DashboardSource = load_source(str(path))
    with TestClient(create_app(src), base_url="http://127.0.0.1") as c:
        yield c


def _links(html: str) -> list[tuple[str, int]]:
    """The people links of a view's table and the number each shows."""
    found = re.findall(r'<a href="(/funnel/explore/people\?[^"]+)"[^>]*>([\d,]+)</a>', html)
    return [(unquote(h.replace("&amp;", "&")), int(n.replace(",", ""))) for h, n in found]


def _rows(client: TestClient, link: str) -> list[dict[str, str]]:
    r = client.get(link.replace("/people?", "/people.csv?", 1))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    return list(csv.DictReader(io.StringIO(r.text)))


@pytest.mark.parametrize("view", ["dropoff", "between", "correlation"])
def test_each_number_links_to_its_customers(client: TestClient, view: str) -> None:
    r = client.get(f"/funnel/explore?{FUNNEL}&view={view}&at=1", headers=FRAGMENT)
    assert r.status_code == 200, r.text
    assert "The funnel explained" in r.text and "visit → signup" in r.text
    links = _links(r.text)
    assert links, r.text[:2000]
    for link, shown in links[:1]:
        rows = _rows(client, link)
        assert len(rows) == shown
        assert len({row["customer"] for row in rows}) == shown
        page = client.get(link, headers=FRAGMENT)
        assert page.status_code == 200 and f'data-total="{shown}"' in page.text


def test_the_funnel_page_links_to_the_tabs(client: TestClient) -> None:
    r = client.get(f"/funnel?{FUNNEL}", headers=FRAGMENT)
    assert r.status_code == 200 and 'class="hg-explore-link"' in r.text
    link = re.search(r'<a href="(/funnel/explore\?[^"]+)"[^>]*class="hg-explore-link"', r.text)
    assert link and client.get(link.group(1).replace("&amp;", "&"), headers=FRAGMENT).status_code == 200
    page = client.get(f"/funnel?{FUNNEL}")
    assert '<div id="explore"' in page.text


def test_whole_page_and_errors(client: TestClient) -> None:
    page = client.get(f"/funnel/explore?{FUNNEL}&view=dropoff&at=2")
    assert page.status_code == 200 and "<html" in page.text and "← the funnel" in page.text
    bad = client.get(f"/funnel/explore?{FUNNEL}&view=dropoff&at=3", headers=FRAGMENT)
    assert bad.status_code == 400 and "HG151" in bad.text
    bad = client.get(f"/funnel/explore?{FUNNEL}&mode=any_order&view=between&at=1", headers=FRAGMENT)
    assert bad.status_code == 400 and "HG152" in bad.text
    csv_bad = client.get(f"/funnel/explore/people.csv?{FUNNEL}&view=dropoff&at=1&path=nolist")
    assert csv_bad.status_code == 400 and csv_bad.text.startswith("[HG154]")
