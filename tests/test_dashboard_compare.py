"""Compare two periods on every page (the funnel's is in test_dashboard.py): the overview, the
hourglass, the journeys and the later analyses' pages; both periods' numbers are the API's, the
changes are tested (two-proportion) and the significant ones highlighted; the state is the URL."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest

from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api, journeys_api
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.interfaces.dashboard.compare import compare_counts
from hourglass.interfaces.dashboard.data import DashboardSource
from hourglass.interfaces.dashboard.query import PageQuery

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAGMENT = {"X-HG-Fragment": "1"}


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> DashboardSource:
    table, _ = simulate_shop(400, seed=11)
    path = tmp_path_factory.mktemp("cmp") / "shop.parquet"
    write_events(table, parquet_path=path)
    return load_source(str(path))


@pytest.fixture(scope="module")
def client(src: DashboardSource) -> Iterator[TestClient]:
    with TestClient(create_app(src), base_url="http://127.0.0.1") as c:
        yield c


def _periods(src: DashboardSource, days: int) -> tuple[str, str]:
    """A (the last ``days`` days of the data) starts where B (the ``days`` before) ends."""
    assert src.last is not None
    a = src.last - timedelta(days=days)
    end = src.last + timedelta(microseconds=1)
    return a.isoformat(timespec="seconds"), (a - (end - a)).isoformat(timespec="seconds")


def _cells(html: str, label: str) -> list[str]:
    row = re.search(rf'<td class="step">{re.escape(label)}</td>(.*?)</tr>', html, re.S)
    assert row, label
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_compare_counts_tests_and_highlights() -> None:
    rows = compare_counts(["x", "y", "z"], [500, 100, None], 1000, [300, 100, 5], 1000)
    assert rows[0]["significant"] and rows[0]["change"] == pytest.approx(0.2)
    assert not rows[1]["significant"] and rows[1]["p"] == pytest.approx(1.0)
    assert rows[2]["change"] is None and rows[2]["change_reason"] == "not measured in A"


def test_overview_compares_every_model(client: TestClient, src: DashboardSource) -> None:
    since, since_b = _periods(src, 90)
    r = client.get("/?range=90d&compare=previous", headers=FRAGMENT)
    assert r.status_code == 200 and "hg-compare" in r.text and "data-plot=" in r.text
    a = api.funnel(src.events, model="aida", window="90d", since=since).rows()
    b = api.funnel(src.events, model="aida", window="90d", since=since_b, until=since).rows()
    cells = _cells(r.text, "AIDA")
    assert cells[0] == f"{a[-1]['customers']:,}" and cells[2] == f"{b[-1]['customers']:,}"
    page = client.get("/?range=90d&compare=previous").text
    assert 'value="previous" selected' in page  # the state is the URL


def test_hourglass_compares_the_stages(client: TestClient) -> None:
    r = client.get("/lifecycle?model=aida&range=90d&compare=previous", headers=FRAGMENT)
    assert r.status_code == 200
    _head, _, rest = r.text.partition("The hourglass, this period (A) against another (B)")
    assert rest and rest.count('<td class="step">') >= 4  # every stage, then the hourglass itself
    assert "The hourglass</h2>" in rest


def test_journeys_compare_the_top_paths(client: TestClient, src: DashboardSource) -> None:
    since, since_b = _periods(src, 90)
    r = client.get("/journeys?range=90d&compare=previous&top=3", headers=FRAGMENT)
    assert r.status_code == 200 and "Top paths, this period (A) against another (B)" in r.text
    a = journeys_api.paths(src.events, "hourglass", top=3, since=since).to_dict()["top"]
    b = journeys_api.paths(src.events, "hourglass", top=1000, since=since_b, until=since).to_dict()["top"]
    first = a[0]
    label = " \u2192 ".join(first["path"])
    in_b = next((p["customers"] for p in b if p["path"] == first["path"]), 0)
    assert _cells(r.text, label)[0:3:2] == [f"{first['customers']:,}", f"{in_b:,}"]


def test_a_later_page_shows_both_periods_side_by_side(client: TestClient) -> None:
    r = client.get("/flywheel?range=90d&compare=previous", headers=FRAGMENT)
    assert r.status_code == 200 and "hg-side-by-side" in r.text
    assert r.text.count("The flywheel's momentum") == 2
    ids = re.findall(r'data-plot="([^"]+)"', r.text)
    assert len(ids) == len(set(ids)) >= 2  # each period's charts, every id fresh


def test_compare_previous_needs_a_start(client: TestClient) -> None:
    r = client.get("/journeys?compare=previous", headers=FRAGMENT)
    assert r.status_code == 400 and 'data-code="HG108"' in r.text


def test_the_comparison_is_not_part_of_a_views_cache_key() -> None:
    a = PageQuery.parse({"range": "custom", "since": "2024-01-01"}, None)
    b = PageQuery.parse({"range": "custom", "since": "2024-01-01", "compare": "previous"}, None)
    assert a.key() == b.key() and b.params()["compare"] == "previous"


def test_a_step_no_event_matches_is_not_measured_not_zero(client: TestClient) -> None:
    for query in ("", "&by=channel&top=2", "&range=90d&compare=previous"):
        r = client.get(f"/funnel?steps=visit,sigup,purchase&window=30d{query}", headers=FRAGMENT)
        assert r.status_code == 200 and "not measured" in r.text, query
        assert 'class="hg-reached">0</a>' not in r.text, query  # never a 0 for a typo (ADR 0006)


def test_the_other_period_s_stages_are_computed_without_the_rest(
    src: DashboardSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A comparison's other period reads only the stages: the lifecycle asked with stages_only
    (no after-sale queries, referral loop or channels)."""
    from hourglass.interfaces import lifecycle_api
    from hourglass.interfaces.dashboard.pages import compute_lifecycle

    asked: dict[str, object] = {}
    real = lifecycle_api.lifecycle

    @functools.wraps(real)  # (its signature: the page asks whether it takes stages_only)
    def spy(*a: object, **kw: object) -> object:
        asked.update(kw)
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(lifecycle_api, "lifecycle", spy)
    data = compute_lifecycle(src, PageQuery(model="hourglass"), stages_only=True)
    assert asked.get("stages_only") is True and data["stages"]
