"""The dashboard (`hourglass serve`) through FastAPI's TestClient: every route, the numbers against
the API's, the people behind a step and their CSV, errors as pages, the token, the cache."""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.cli.serve import serve_cmd
from hourglass.interfaces.dashboard import ResultCache, create_app, load_source
from hourglass.interfaces.dashboard.data import DashboardSource, source_identity
from hourglass.interfaces.dashboard.query import FunnelQuery

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

STEPS = "visit,signup,purchase"
F = f"steps={STEPS}&window=30d"
FRAGMENT = {"X-HG-Fragment": "1"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table, _ = simulate_shop(400, seed=11)
    path = tmp_path_factory.mktemp("dash") / "shop.parquet"
    write_events(table, parquet_path=path)
    return path


@pytest.fixture(scope="module")
def src(shop: Path) -> DashboardSource:
    return load_source(str(shop))


@pytest.fixture(scope="module")
def client(src: DashboardSource) -> Iterator[TestClient]:
    with TestClient(create_app(src), base_url="http://127.0.0.1") as c:
        yield c


def _numbers(html: str, cls: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(rf'class="{cls}">([\d,]+)</a>', html)]


def _error_code(html: str) -> str | None:
    m = re.search(r'data-code="(HG\d{3})"', html)
    return m.group(1) if m else None


# --- pages ---------------------------------------------------------------------------------------


def test_overview_every_model_side_by_side(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.text.count('class="card hg-model"') == 6  # every built-in model measured on the shop
    assert "Largest loss" in r.text and "Traceback" not in r.text
    assert '<script src="/static/plotly.min.js' in r.text


def test_overview_models_of_absent_events_are_not_measured(tmp_path: Path) -> None:
    log = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c"],
            "event_name": ["page_view", "checkout", "page_view", "page_view"],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
        }
    )
    path = tmp_path / "other.csv"
    log.to_csv(path, index=False)
    with TestClient(create_app(load_source(str(path))), base_url="http://127.0.0.1") as c:
        r = c.get("/")
    assert r.status_code == 200
    assert r.text.count('class="card nm hg-model"') == 6
    assert "not measured" in r.text and "models suggest" in r.text
    assert "0.0%" not in r.text


def test_user_text_is_escaped(tmp_path: Path) -> None:
    evil = "<img src=x onerror=alert(1)>"
    log = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b"],
            "event_name": ["visit", "buy", "visit", evil],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
            "utm_source": [evil, evil, "ok", "ok"],
        }
    )
    path = tmp_path / "evil.csv"
    log.to_csv(path, index=False)
    group = evil.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20").replace("=", "%3D")
    with TestClient(create_app(load_source(str(path))), base_url="http://127.0.0.1") as c:
        page = c.get("/funnel?steps=visit,buy&by=utm_source")
        people = c.get(f"/people?steps=visit,buy&by=utm_source&step=2&group={group}")
    for r in (page, people):
        assert r.status_code == 200, r.text
        assert evil not in r.text and "&lt;img" in r.text
    assert "\\u0026lt;img" in page.text  # the chart's JSON: escaped for plotly and for the script tag
    assert 'data-total="1"' in people.text


def test_funnel_numbers_equal_the_api(client: TestClient, src: DashboardSource) -> None:
    r = client.get(f"/funnel?{F}")
    assert r.status_code == 200
    expected = api.funnel(src.events, STEPS.split(","), window="30d").rows()
    assert _numbers(r.text, "hg-reached") == [row["customers"] for row in expected]
    dropped_after = [row["dropped"] for row in expected[1:]]
    assert _numbers(r.text, "hg-dropped") == dropped_after
    assert 'data-plot="hg-funnel-' in r.text


def test_fragment_is_only_the_result_and_ids_are_fresh(client: TestClient) -> None:
    a = client.get(f"/funnel?{F}", headers=FRAGMENT)
    b = client.get(f"/funnel?{F}", headers=FRAGMENT)
    assert "<html" not in a.text and "hg-funnel-result" in a.text
    ids = [re.search(r'id="(hg-funnel-\d+)"', t).group(1) for t in (a.text, b.text)]  # type: ignore[union-attr]
    assert ids[0] != ids[1]


def test_breakdown_top_values_and_other(client: TestClient, src: DashboardSource) -> None:
    r = client.get(f"/funnel?{F}&by=channel&top=2", headers=FRAGMENT)
    assert r.status_code == 200
    groups = api.funnel(src.events, STEPS.split(","), window="30d", by="channel").groups
    assert len(groups) > 2
    reached = _numbers(r.text, "hg-reached")
    assert reached[:3] == [s.customers for s in groups[0].steps]
    other = [sum(g.steps[k].customers for g in groups[2:]) for k in range(3)]
    assert reached[6:9] == other
    assert "(other)" in r.text and "medians do not add up" in r.text


def test_property_filter_on_every_step(client: TestClient, src: DashboardSource) -> None:
    steps = [{"name": s, "events": [s], "where": ["device = mobile"]} for s in STEPS.split(",")]
    expected = api.funnel(src.events, steps, window="30d").rows()
    assert (
        expected[0]["customers"]
        < api.funnel(src.events, STEPS.split(","), window="30d").rows()[0]["customers"]
    )
    r = client.get(f"/funnel?{F}&where=device%20%3D%20mobile", headers=FRAGMENT)
    assert _numbers(r.text, "hg-reached") == [row["customers"] for row in expected]
    r = client.get(f"/people?{F}&where=device%20%3D%20mobile&step=2", headers=FRAGMENT)
    assert f'data-total="{expected[1]["customers"]}"' in r.text
    r = client.get("/funnel?model=aida&where=device%20%3D%20mobile", headers=FRAGMENT)
    assert r.status_code == 200 and "where device = mobile" in r.text
    assert _error_code(client.get(f"/funnel?{F}&where=device%20~%20x", headers=FRAGMENT).text) == "HG103"
    assert _error_code(client.get(f"/funnel?{F}&where=colour%20%3D%20red", headers=FRAGMENT).text) == "HG306"


def test_empty_funnel_asks_for_steps(client: TestClient) -> None:
    r = client.get("/funnel")
    assert r.status_code == 200 and "Pick the steps" in r.text
    assert "visit" in r.text  # the event list with counts


def test_model_stages_as_steps(client: TestClient, src: DashboardSource) -> None:
    r = client.get("/funnel?model=aida&window=90d", headers=FRAGMENT)
    expected = api.funnel(src.events, model="aida", window="90d").rows()
    assert _numbers(r.text, "hg-reached") == [row["customers"] for row in expected]


def test_lifecycle_and_journeys_pages(client: TestClient, src: DashboardSource) -> None:
    r = client.get("/lifecycle")
    assert r.status_code == 200 and "The hourglass" in r.text and "data-plot=" in r.text
    assert "data-channel-people=" in r.text  # a channel's cell lists its customers
    r = client.get("/journeys?depth=4&top=5")
    assert r.status_code == 200 and "Real journeys" in r.text and "data-plot=" in r.text
    customer = str(src.events.engine.execute(src.events.table.select("customer").limit(1))["customer"][0])
    r = client.get(f"/journeys?customer={customer}", headers=FRAGMENT)
    assert r.status_code == 200 and "One customer" in r.text


def test_paths_from_and_to_a_stage(client: TestClient, src: DashboardSource) -> None:
    from hourglass.interfaces import journeys_api

    expected = journeys_api.paths(src.events, "hourglass", end="sale", top=10).to_dict()
    r = client.get("/journeys?to=sale", headers=FRAGMENT)
    assert r.status_code == 200 and "data-plot=" in r.text
    top = expected["top"][0]
    assert f"{top['customers']:,}" in r.text
    r = client.get("/journeys?from=interest&to=sale", headers=FRAGMENT)
    assert r.status_code == 400 and _error_code(r.text) == "HG133"


def test_unknown_customer_is_said_next_to_the_journeys(client: TestClient) -> None:
    r = client.get("/journeys?customer=nobody-at-all", headers=FRAGMENT)
    assert r.status_code == 200 and _error_code(r.text) == "HG136"
    assert "Real journeys" in r.text and "data-plot=" in r.text


def test_open_funnel_people(client: TestClient, src: DashboardSource) -> None:
    rows = api.funnel(src.events, STEPS.split(","), window="30d", open=True).rows()
    r = client.get(f"/funnel?{F}&open=1", headers=FRAGMENT)
    assert _numbers(r.text, "hg-reached") == [row["customers"] for row in rows]
    for step in (1, 2):
        got = client.get(f"/people.csv?{F}&open=1&step={step}&kind=dropped").text.splitlines()
        assert len(got) - 1 == rows[step]["dropped"]
        got = client.get(f"/people.csv?{F}&open=1&step={step}&kind=reached").text.splitlines()
        assert len(got) - 1 == rows[step - 1]["customers"]


def test_date_presets_resolve_to_the_data(client: TestClient, src: DashboardSource) -> None:
    assert src.last is not None
    q = FunnelQuery.parse({"steps": "visit", "range": "30d"}, src.last)
    assert q.since is not None and q.since.startswith(str((src.last - pd.Timedelta(days=30)).date()))
    r = client.get(f"/funnel?{F}&range=30d", headers=FRAGMENT)
    assert r.status_code == 200 and "to end" in r.text


def test_compare_with_the_period_before(client: TestClient, src: DashboardSource) -> None:
    from hourglass.model.stats import two_proportion_p

    assert src.last is not None
    start = src.last - pd.Timedelta(days=60)
    mid = (start + pd.Timedelta(days=30)).isoformat(timespec="seconds")
    url = f"/funnel?{F}&range=custom&since={mid}&until={src.last.isoformat()}&compare=previous&by=channel"
    r = client.get(url, headers=FRAGMENT)
    assert r.status_code == 200 and "Compared with another period" in r.text
    a = api.funnel(src.events, STEPS.split(","), window="30d", since=mid, until=src.last.isoformat()).rows()
    b = api.funnel(
        src.events, STEPS.split(","), window="30d", since=start.isoformat(timespec="seconds"), until=mid
    )
    rows = b.rows()
    part = r.text.split("Compared with another period", 1)[1]
    cells = re.findall(r"<td>([\d,]+)</td><td>", part)
    assert [int(c.replace(",", "")) for c in cells] == [
        x for ra, rb in zip(a, rows, strict=True) for x in (ra["customers"], rb["customers"])
    ]
    p = two_proportion_p(a[2]["customers"], a[0]["customers"], rows[2]["customers"], rows[0]["customers"])
    assert p is not None and f"{p:.3g}" in part
    assert part.count('data-plot="hg-compare-') == 1


@pytest.mark.parametrize(
    "query", ["compare=previous", "compare=custom&range=30d", "compare=sideways&range=30d"]
)
def test_compare_needs_two_periods(client: TestClient, query: str) -> None:
    r = client.get(f"/funnel?{F}&{query}", headers=FRAGMENT)
    assert r.status_code == 400 and _error_code(r.text) == "HG108"


def test_query_normalisation_is_the_cache_key() -> None:
    a = FunnelQuery.parse({"steps": "visit, signup", "window": "7d", "top": "5"}, None)
    b = FunnelQuery.parse({"steps": "visit,signup", "mode": "ordered"}, None)
    assert a.key() == b.key() and a.query() == b.query() == "steps=visit%2Csignup"


# --- people behind a number ---------------------------------------------------------------------


def test_people_reached_and_dropped_are_the_engines(client: TestClient, src: DashboardSource) -> None:
    rows = api.funnel(src.events, STEPS.split(","), window="30d").rows()
    levels = api.funnel_levels(src.events, STEPS.split(","), window="30d")
    r = client.get(f"/people?{F}&step=2&kind=reached", headers=FRAGMENT)
    assert r.status_code == 200
    assert f'data-total="{rows[1]["customers"]}"' in r.text
    csv_r = client.get(f"/people.csv?{F}&step=2&kind=reached")
    assert csv_r.status_code == 200 and csv_r.headers["content-type"].startswith("text/csv")
    got = list(csv.DictReader(io.StringIO(csv_r.text)))
    assert sorted(x["customer"] for x in got) == sorted(levels[levels.level >= 2].customer.astype(str))
    dropped = list(csv.DictReader(io.StringIO(client.get(f"/people.csv?{F}&step=1&kind=dropped").text)))
    assert len(dropped) == rows[1]["dropped"]
    assert {x["customer"] for x in dropped} == set(levels[levels.level == 1].customer.astype(str))


def test_people_of_a_group_and_of_other(client: TestClient, src: DashboardSource) -> None:
    groups = api.funnel(src.events, STEPS.split(","), window="30d", by="channel").groups
    top = groups[0]
    r = client.get(f"/people?{F}&by=channel&top=2&step=2&kind=reached&group={top.value}", headers=FRAGMENT)
    assert f'data-total="{top.steps[1].customers}"' in r.text
    r = client.get(f"/people.csv?{F}&by=channel&top=2&step=1&kind=reached&group=(other)")
    got = list(csv.DictReader(io.StringIO(r.text)))
    assert len(got) == sum(g.steps[0].customers for g in groups[2:])
    assert {x["channel"] for x in got} == {str(g.value) for g in groups[2:]}


def test_people_of_a_lifecycle_stage(client: TestClient, src: DashboardSource) -> None:
    from hourglass.interfaces.lifecycle_api import lifecycle

    stages = lifecycle(src.events).to_dict()["stages"]
    page = client.get("/lifecycle", headers=FRAGMENT).text
    assert 'action="/lifecycle/people"' in page and "Who are they?" in page
    for row in stages[:3]:
        for kind in ("entered", "furthest", "current"):
            r = client.get(f"/lifecycle/people?stage={row['stage']}&kind={kind}", headers=FRAGMENT)
            assert f'data-total="{row[kind]}"' in r.text, (row["stage"], kind)
    got = list(
        csv.DictReader(
            io.StringIO(client.get(f"/lifecycle/people.csv?stage={stages[1]['stage']}&kind=furthest").text)
        )
    )
    assert len(got) == stages[1]["furthest"] and {x["furthest"] for x in got} == {stages[1]["stage"]}
    r = client.get("/lifecycle/people?stage=nirvana&kind=entered", headers=FRAGMENT)
    assert r.status_code == 400 and _error_code(r.text) == "HG106"
    r = client.get(f"/lifecycle/people?stage={stages[0]['stage']}&kind=lost")
    assert r.status_code == 400 and _error_code(r.text) == "HG109" and "<html" in r.text
    assert client.get("/lifecycle/people.csv?stage=nirvana").text.startswith("[HG106]")


def test_people_are_paged(client: TestClient) -> None:
    first = client.get(f"/people?{F}&step=1", headers=FRAGMENT).text
    second = client.get(f"/people?{F}&step=1&page=2", headers=FRAGMENT).text
    ids1 = re.findall(r"customer=([^\"&]+)\">", first)
    ids2 = re.findall(r"customer=([^\"&]+)\">", second)
    assert len(ids1) == 50 and ids2 and not set(ids1) & set(ids2)
    assert "page 2 of" in second


def test_people_page_without_javascript(client: TestClient) -> None:
    r = client.get(f"/people?{F}&step=2")
    assert r.status_code == 200 and "<html" in r.text and "hg-people-list" in r.text


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/funnel?steps=visit,signup&window=3x", "HG107"),
        ("/funnel?steps=visit&since=yesterday-ish&range=custom", "HG108"),
        ("/funnel?steps=visit&since=2024-05-01&until=2024-01-01", "HG108"),
        ("/funnel?steps=visit&range=fortnight", "HG108"),
        ("/funnel?model=no_such_model.yaml", "HG111"),
        ("/funnel?model=nosuchpreset", "HG106"),
        ("/funnel?steps=visit&by=colour", "HG306"),
        ("/funnel?steps=visit&by=channel&top=lots", "HG109"),
        ("/people?steps=visit,signup&step=9", "HG109"),
        ("/people?steps=visit,signup&step=2&kind=dropped", "HG109"),
        ("/people?steps=visit,signup&step=1&kind=lost", "HG109"),
        ("/people?steps=visit,signup&step=1&group=ads", "HG109"),
        ("/journeys?depth=99", "HG132"),
        ("/lifecycle?model=no_such_model.yaml", "HG111"),
        ("/?window=0d", "HG107"),
    ],
)
def test_errors_are_pages_with_code_and_hint(client: TestClient, url: str, code: str) -> None:
    for headers in ({}, FRAGMENT):
        r = client.get(url, headers=headers)
        assert r.status_code == 400, (url, r.status_code)
        assert _error_code(r.text) == code
        assert "hint:" in r.text and "Traceback" not in r.text
    assert client.get("/funnel").status_code == 200  # still serving


def test_unknown_event_is_said(client: TestClient) -> None:
    r = client.get("/funnel?steps=visit,sigup", headers=FRAGMENT)
    assert r.status_code == 200 and "no event named &#39;sigup&#39;" in r.text and "signup" in r.text


def test_csv_error_is_plain_text(client: TestClient) -> None:
    r = client.get("/people.csv?steps=visit&window=3x&step=1")
    assert r.status_code == 400 and r.text.startswith("[HG107]")


def test_a_bug_is_hg699_and_the_server_lives(src: DashboardSource, monkeypatch: pytest.MonkeyPatch) -> None:
    import hourglass.interfaces.dashboard.views as views

    def broken(*_: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(views, "compute_funnel", broken)
    with TestClient(create_app(src), base_url="http://127.0.0.1") as c:
        r = c.get("/funnel?steps=visit")
        assert r.status_code == 500 and _error_code(r.text) == "HG699"
        assert "ZeroDivisionError" in r.text and "Traceback" not in r.text
        assert c.get("/").status_code == 200


# --- access --------------------------------------------------------------------------------------


def test_token_on_every_request(src: DashboardSource) -> None:
    with TestClient(create_app(src, token="s3cret"), base_url="http://127.0.0.1") as c:
        for url in ("/", f"/funnel?{F}", f"/people.csv?{F}&step=1", "/static/hg.js", "/lifecycle"):
            assert c.get(url).status_code == 401, url
        assert c.get("/?token=wrong", follow_redirects=False).status_code == 401
        bearer = {"Authorization": "Bearer s3cret"}
        assert c.get(f"/people.csv?{F}&step=1", headers=bearer).status_code == 200
        assert c.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401
        r = c.get(f"/funnel?{F}&token=s3cret", follow_redirects=False)
        assert r.status_code == 303 and "token" not in r.headers["location"]
        assert r.headers["location"].startswith("/funnel?steps=")
        assert "httponly" in r.headers["set-cookie"].lower()
        assert c.get(f"/people.csv?{F}&step=1").status_code == 200  # the cookie from now on


def test_loopback_only_by_default(src: DashboardSource) -> None:
    with TestClient(create_app(src), base_url="http://evil.example") as c:
        assert c.get("/").status_code == 400
    with TestClient(create_app(src, token="t", loopback_only=False), base_url="http://10.0.0.5") as c:
        assert c.get("/", headers={"Authorization": "Bearer t"}).status_code == 200


def test_static_files_are_cached(client: TestClient) -> None:
    r = client.get("/static/plotly.min.js")
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert len(r.content) > 1_000_000
    again = client.get("/static/plotly.min.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/static/nothing.js").status_code == 404


# --- the cache -----------------------------------------------------------------------------------


def test_results_are_cached_per_query(src: DashboardSource) -> None:
    app = create_app(src)
    cache = app.state.views.cache
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.get(f"/funnel?{F}&by=channel", headers=FRAGMENT)
        misses = cache.misses
        c.get(f"/funnel?window=30d&by=channel&steps={STEPS}&mode=ordered", headers=FRAGMENT)
        assert cache.misses == misses and cache.hits >= 1


def test_cache_is_bounded_lru() -> None:
    cache = ResultCache(size=2)
    for k in ("a", "b", "a", "c"):
        cache.get(k, lambda k=k: k.upper())  # type: ignore[misc]
    assert len(cache) == 2 and cache.get("a", lambda: "new") == "A"  # b was the least recent
    assert cache.get("b", lambda: "again") == "again"


def test_source_identity_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    before = source_identity(str(path))
    path.write_text("a\n1\n2\n")
    os.utime(path, ns=(1, 1))
    assert source_identity(str(path)) != before
    assert source_identity(f"{path}:events")[1:] == source_identity(str(path))[1:]


# --- the command ---------------------------------------------------------------------------------


def test_serve_command(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hourglass.interfaces.dashboard.server as server

    calls: list[tuple[Any, str, int]] = []
    monkeypatch.setattr(server, "run", lambda app, host, port: calls.append((app, host, port)))
    r = CliRunner().invoke(serve_cmd, [str(shop), "--port", "8123"])
    assert r.exit_code == 0, r.output
    assert "http://127.0.0.1:8123/" in r.output and calls[0][1:] == ("127.0.0.1", 8123)
    r = CliRunner().invoke(serve_cmd, [str(shop), "--host", "0.0.0.0"])
    assert r.exit_code == 0 and re.search(r"\?token=[\w-]{20,}", r.output)  # a token is made
    r = CliRunner().invoke(serve_cmd, [str(shop), "--host", "0.0.0.0"], env={"HOURGLASS_TOKEN": "mine"})
    assert "?token=mine" in r.output


def test_serve_unreadable_source_is_a_coded_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(serve_cmd, [str(tmp_path / "missing.csv")])
    assert r.exit_code == 2 and re.search(r"\[HG\d{3}\]", r.output) and "Traceback" not in r.output


def test_optional_steps_hold_and_totals_are_the_apis(client: TestClient, src: DashboardSource) -> None:
    # issue 20 in the funnel builder: the numbers shown are the API's for the same options
    held = client.get(f"/funnel?{F}&hold=channel", headers=FRAGMENT)
    assert held.status_code == 200
    want = api.funnel(src.events, STEPS.split(","), window="30d", hold="channel").rows()
    assert _numbers(held.text, "hg-reached") == [row["customers"] for row in want]
    assert 'name="hold"' not in held.text  # a fragment: the form stays as it is
    page = client.get(f"/funnel?{F}&hold=channel")
    assert "<option selected>channel</option>" in page.text
    # an optional step: its count links to the customers it counted for (tests/test_dashboard_people.py)
    r = client.get("/funnel?steps=visit,signup?,purchase&window=30d", headers=FRAGMENT)
    want = api.funnel(src.events, ["visit", "signup?", "purchase"], window="30d").rows()
    assert _numbers(r.text, "hg-reached") == [row["customers"] for row in want]
    people = client.get("/people?steps=visit,signup?,purchase&window=30d&step=2", headers=FRAGMENT)
    assert f'data-total="{want[1]["customers"]}"' in people.text
    # totals: chains; a step's number links to the customers with their chains (their sum is the number)
    t = client.get(f"/funnel?{F}&count=totals", headers=FRAGMENT)
    chains = api.funnel(src.events, STEPS.split(","), window="30d", count="totals").rows()
    assert _numbers(t.text, "hg-reached") == [row["customers"] for row in chains]
    dropped = client.get(
        "/people?steps=visit,signup?,purchase&window=30d&step=1&kind=dropped", headers=FRAGMENT
    )
    assert _error_code(dropped.text) == "HG109"
