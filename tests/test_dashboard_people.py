"""The people behind the journeys' and the channels' numbers (a Sankey node, a transition cell, a
channel's cell) through the dashboard's routes, each list the engine's and as long as the number it
stands behind; ``api.funnel_levels(by=...)``; the paths page's top cut from one computed result."""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from hourglass.engine.run_referrals import run_channels
from hourglass.engine.store import write_events
from hourglass.ingest.config import load_model
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api, journeys_api
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.interfaces.dashboard.data import DashboardSource
from hourglass.interfaces.dashboard.pages import top_paths

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAGMENT = {"X-HG-Fragment": "1"}


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> DashboardSource:
    table, _ = simulate_shop(400, seed=11)
    path = tmp_path_factory.mktemp("who") / "shop.parquet"
    write_events(table, parquet_path=path)
    return load_source(str(path))


@pytest.fixture(scope="module")
def client(src: DashboardSource) -> Iterator[TestClient]:
    with TestClient(create_app(src), base_url="http://127.0.0.1") as c:
        yield c


def _total(html: str) -> int:
    m = re.search(r'data-total="(\d+)"', html)
    assert m, html[:500]
    return int(m.group(1))


def _csv(client: TestClient, url: str) -> list[dict[str, str]]:
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


def test_funnel_levels_by_a_column_are_the_funnels_groups(src: DashboardSource) -> None:
    steps = ["visit", "signup", "purchase"]
    levels = api.funnel_levels(src.events, steps, window="30d", by="channel")
    assert list(levels.columns) == ["customer", "level", "by"]
    for g in api.funnel(src.events, steps, window="30d", by="channel").groups:
        mine = levels[levels.by == g.value] if g.value is not None else levels[levels.by.isna()]
        assert [int((mine.level >= k).sum()) for k in range(1, 4)] == [s.customers for s in g.steps]


def test_a_sankey_node_lists_the_customers_of_its_top_paths(client: TestClient, src: DashboardSource) -> None:
    paths = journeys_api.paths(src.events, "hourglass", top=5).to_dict()
    html = client.get("/journeys?top=5").text
    assert 'data-people-kind="node"' in html and 'data-people-kind="cell"' in html  # clickable
    nodes = paths["sankey"]["nodes"]
    for n in nodes[:3]:
        r = client.get(f"/journeys/people?top=5&node={n['name']}&node_step={n['step']}", headers=FRAGMENT)
        assert r.status_code == 200 and _total(r.text) == n["customers"], n
    n = max(nodes, key=lambda x: x["customers"])
    rows = _csv(client, f"/journeys/people.csv?top=5&node={n['name']}&node_step={n['step']}")
    assert len(rows) == n["customers"] and all(n["name"] in r["path"] for r in rows)


def test_a_sankey_node_up_to_a_stage(client: TestClient, src: DashboardSource) -> None:
    paths = journeys_api.paths(src.events, "hourglass", top=4, end="sale").to_dict()
    for n in paths["sankey"]["nodes"][-3:]:
        r = client.get(
            f"/journeys/people?top=4&to=sale&node={n['name']}&node_step={n['step']}", headers=FRAGMENT
        )
        assert _total(r.text) == n["customers"], n


def test_a_transition_cell_lists_who_made_the_move(client: TestClient, src: DashboardSource) -> None:
    edges = journeys_api.transitions(src.events, "hourglass").to_dict()["edges"]
    for e in edges[:4]:
        to = "(end)" if e["to"] is None else e["to"]
        r = client.get(f"/journeys/people?move_from={e['from']}&move_to={to}", headers=FRAGMENT)
        assert _total(r.text) == e["customers"], e


def test_a_channel_cell_lists_its_customers(client: TestClient, src: DashboardSource) -> None:
    model = load_model("hourglass", src.config)
    stages = [s.name for s in model.stages]
    for c in run_channels(src.events, model).channels[:2]:
        name = c.channel or "(none)"
        assert _total(client.get(f"/lifecycle/channel?channel={name}", headers=FRAGMENT).text) == c.customers
        for stage, entered in list(zip(stages, c.stages, strict=True))[1:3]:
            r = client.get(f"/lifecycle/channel?channel={name}&stage={stage}", headers=FRAGMENT)
            assert _total(r.text) == entered, (name, stage)
    rows = _csv(client, "/lifecycle/channel.csv?channel=ads&stage=interest")
    assert rows and all(r["channel"] == "ads" and "interest" in r["stages_entered"] for r in rows)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/journeys/people", "HG109"),
        ("/journeys/people?node=nope&node_step=1", "HG106"),
        ("/journeys/people?move_from=awareness&move_to=nope", "HG106"),
        ("/lifecycle/channel?channel=ads&stage=nope", "HG106"),
    ],
)
def test_a_bad_people_request_is_a_coded_error(client: TestClient, url: str, code: str) -> None:
    r = client.get(url)
    assert r.status_code == 400 and f'data-code="{code}"' in r.text
    csv_r = client.get(url.replace("/people", "/people.csv").replace("/channel", "/channel.csv"))
    assert csv_r.status_code == 400 and f"[{code}]" in csv_r.text


def test_the_people_csv_needs_the_token(src: DashboardSource) -> None:
    with TestClient(create_app(src, token="t0k"), base_url="http://127.0.0.1") as c:
        assert c.get("/journeys/people.csv?move_from=awareness&move_to=(end)").status_code == 401
        assert c.get("/lifecycle/channel.csv?channel=ads").status_code == 401
        ok = c.get("/lifecycle/channel.csv?channel=ads", headers={"Authorization": "Bearer t0k"})
        assert ok.status_code == 200


def test_top_paths_cut_from_more_are_the_apis(src: DashboardSource) -> None:
    many = journeys_api.paths(src.events, "hourglass", top=1000)
    for top in (1, 4):
        want: dict[str, Any] = journeys_api.paths(src.events, "hourglass", top=top).to_dict()
        got: dict[str, Any] = top_paths(many, top).to_dict()
        for d in (want, got):
            d.pop("meta", None)
        assert got == want


def test_people_page_without_javascript_links_back(client: TestClient) -> None:
    r = client.get("/lifecycle/channel?channel=ads")
    assert (
        r.status_code == 200 and 'href="/lifecycle?' in r.text and "<h1" not in r.text.split("hg-people")[1]
    )


def test_a_result_being_computed_is_computed_once() -> None:
    import threading
    import time

    from hourglass.interfaces.dashboard import ResultCache

    cache, calls = ResultCache(), []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "done"

    got: list[str] = []
    t = threading.Thread(target=lambda: got.append(cache.get("k", slow)))
    t.start()
    time.sleep(0.05)
    assert cache.get("k", slow) == "done"  # waited for the first computation
    t.join()
    assert got == ["done"] and calls == [1] and cache.misses == 1 and cache.hits == 1


def test_a_funnels_people_are_prefetched(src: DashboardSource) -> None:
    app = create_app(src)
    views = app.state.views
    views.ahead.start()  # as ``hourglass serve`` does (without the pages' first views)
    assert views.ahead.second is not None  # a parquet source has a second connection
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.get("/funnel?steps=visit,signup&window=3d", headers=FRAGMENT)
        views.idle()
        misses = views.cache.misses
        r = c.get("/people?steps=visit,signup&window=3d&step=2&kind=reached", headers=FRAGMENT)
        assert r.status_code == 200 and views.cache.misses == misses  # the list was ready


def test_the_journeys_and_channels_people_tables_are_prefetched(src: DashboardSource) -> None:
    app = create_app(src)
    views = app.state.views
    views.ahead.start()
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.get("/journeys?top=4", headers=FRAGMENT)
        views.idle()
        assert any(key[1] == "paths-customers" for key in views.cache._data)  # any node is a filter now


# --- the people of an optional step and of a totals funnel (issue 20) ----------------------------

# docs/semantics.md's examples (window 1 day): optional steps (ann .. eve) and totals (ida, jon)
OPTIONAL_LOG = {
    "ann": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 10:20"), ("purchase", "2024-01-01 11:00")],
    "bob": [("visit", "2024-01-01 10:00"), ("purchase", "2024-01-01 10:30"), ("signup", "2024-01-01 10:45")],
    "cy": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 12:00")],
    "dee": [("signup", "2024-01-01 09:00"), ("visit", "2024-01-01 10:00")],
    "eve": [
        ("visit", "2024-01-01 10:00"),
        ("view", "2024-01-01 10:05"),
        ("signup", "2024-01-01 10:10"),
        ("purchase", "2024-01-01 10:20"),
    ],
}
TOTALS_LOG = {
    "ida": [
        ("visit", "2024-01-01 10:00"),
        ("signup", "2024-01-01 10:10"),
        ("visit", "2024-01-01 10:20"),
        ("signup", "2024-01-01 10:30"),
        ("purchase", "2024-01-01 10:40"),
        ("visit", "2024-01-01 11:00"),
    ],
    "jon": [
        ("visit", "2024-01-01 10:00"),
        ("visit", "2024-01-01 10:05"),
        ("signup", "2024-01-01 10:10"),
        ("purchase", "2024-01-03 10:10"),  # beyond the window
    ],
}


@pytest.fixture(scope="module")
def small_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Both examples in one Parquet source (their customers apart)."""
    from journeys import journeys

    path = tmp_path_factory.mktemp("small") / "small.parquet"
    journeys(OPTIONAL_LOG | TOTALS_LOG).to_parquet(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def small(small_path: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_source(small_path)), base_url="http://127.0.0.1") as c:
        yield c


def _customers(client: TestClient, url: str) -> list[str]:
    return [r["customer"] for r in _csv(client, url)]


def test_an_optional_steps_people_are_those_it_counted_for(small: TestClient, small_path: str) -> None:
    page = "/people?steps=visit,signup?,purchase&window=1d"
    base = page.replace("/people", "/people.csv")
    # signup counted for ann (between visit and purchase), cy (after visit, within the window), eve
    # (view is no step: ordered passes it), ida and jon (after a visit); not for bob (after his
    # purchase), nor dee (before her visit)
    assert _customers(small, f"{base}&step=2") == ["ann", "cy", "eve", "ida", "jon"]
    r = small.get(f"{page}&step=2", headers=FRAGMENT)
    assert r.status_code == 200 and _total(r.text) == 5
    want = api.funnel(small_path, ["visit", "signup?", "purchase"], window="1d").rows()
    assert [len(_csv(small, f"{base}&step={k}")) for k in (1, 2, 3)] == [r["customers"] for r in want]
    # dropped after signup (the number shown after it): reached visit, not purchase
    dropped = _customers(small, f"{base}&step=2&kind=dropped")
    assert dropped == ["cy", "dee", "jon"] and len(dropped) == want[2]["dropped"]
    # strict_order: ann's signup between visit and purchase is passed over; eve's view breaks her
    # chain; jon's chain enters at his first visit and his second visit breaks the way to his signup
    strict = f"{base}&mode=strict_order"
    assert _customers(small, f"{strict}&step=2") == ["ann", "cy", "ida"]
    assert _customers(small, f"{strict}&step=3") == ["ann", "bob", "ida"]
    # the number after visit is the optional signup's dropped: not measured, so no list
    r = small.get(f"{page}&step=1&kind=dropped", headers=FRAGMENT)
    assert r.status_code == 400 and "HG109" in r.text and "optional" in r.text


def test_a_totals_steps_people_carry_their_chains(small: TestClient, small_path: str) -> None:
    from journeys import rows
    from reference import funnel_ref

    base = "/people.csv?steps=visit,signup,purchase&window=1d&count=totals"
    got = {k: {r["customer"]: int(r["chains"]) for r in _csv(small, f"{base}&step={k}")} for k in (1, 2, 3)}
    # docs/semantics.md: entries ida 3, jon 2; signups ida 2, jon 1; purchases ida 1 (jon's is too late)
    assert [(c, got[k][c]) for k in (1, 2) for c in ("ida", "jon")] == [
        ("ida", 3),
        ("jon", 2),
        ("ida", 2),
        ("jon", 1),
    ]
    assert got[3]["ida"] == 1 and "jon" not in got[3]
    want = api.funnel(small_path, ["visit", "signup", "purchase"], window="1d", count="totals").rows()
    assert [sum(got[k].values()) for k in (1, 2, 3)] == [r["customers"] for r in want]
    # every customer's chains are the reference's (its distinct step events per customer)
    import pandas as pd

    log = rows(pd.read_parquet(small_path))
    cfg = funnel_ref.make_config(["visit", "signup", "purchase"], 86_400_000_000, count="totals")
    for customer, crows in funnel_ref.group_by_customer(log).items():
        found = funnel_ref.totals_customer(
            cfg, funnel_ref.canonical_events(crows, list(cfg.steps), cfg.exclude)
        )
        assert [got[k].get(customer, 0) for k in (1, 2, 3)] == [len(found[k]) for k in (1, 2, 3)], customer
    # dropped after signup: each customer's signups minus his purchases (ida 1, jon 1)
    lost = {r["customer"]: int(r["chains"]) for r in _csv(small, f"{base}&step=2&kind=dropped")}
    assert lost["ida"] == 1 and lost["jon"] == 1 and sum(lost.values()) == want[2]["dropped"]
    page = small.get(base.replace(".csv", "") + "&step=2", headers=FRAGMENT)
    assert page.status_code == 200 and _total(page.text) == len(got[2]) and "chains" in page.text


def test_optional_and_totals_people_on_the_shop(client: TestClient, src: DashboardSource) -> None:
    """On the simulated shop: every list is as long as its number (a totals list: its chains sum to it)."""
    steps = "visit,signup?,purchase,review?"
    want = api.funnel(src.events, steps.split(","), window="30d").rows()
    for k, row in enumerate(want, start=1):
        assert len(_csv(client, f"/people.csv?steps={steps}&window=30d&step={k}")) == row["customers"] > 0
    chains = api.funnel(src.events, ["visit", "signup", "purchase"], window="30d", count="totals").rows()
    for k, row in enumerate(chains, start=1):
        got = _csv(client, f"/people.csv?steps=visit,signup,purchase&window=30d&count=totals&step={k}")
        assert sum(int(r["chains"]) for r in got) == row["customers"] > 0
