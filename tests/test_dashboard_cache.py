"""The dashboard's results kept on disk (dashboard/disk_cache.py): a restart on the same store reuses
them without running the engine, a rewritten store (or model file, or code) is computed again, never
read from the older results, and a damaged cache file is a miss, not an error."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from hourglass.engine.event_store import write_store
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard import create_app, load_source
from hourglass.interfaces.dashboard import pages as pages_module
from hourglass.interfaces.dashboard import views as views_module
from hourglass.interfaces.dashboard.disk_cache import SUFFIX, DiskCache, open_disk_cache

with warnings.catch_warnings():  # starlette's notice about httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAGMENT = {"X-HG-Fragment": "1"}
FUNNEL = "/funnel?steps=visit,signup,purchase&window=30d"


def _store(directory: Path, customers: int, seed: int) -> Path:
    table, _ = simulate_shop(customers, seed=seed)
    write_events(table, parquet_path=directory / f"shop-{seed}.parquet")
    store = directory / "shop.duckdb"
    tmp = directory / f"shop-{seed}.duckdb"
    write_store(api.events(str(directory / f"shop-{seed}.parquet")), tmp)
    os.replace(tmp, store)  # as hourglass ingest does: the store is replaced whole
    return store


def _client(store: Path, **kw: Any) -> TestClient:
    return TestClient(create_app(load_source(str(store), **kw), persist=True), base_url="http://127.0.0.1")


def _reached(html: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r'class="hg-reached">([\d,]+)</a>', html)]


def _api_reached(store: Path) -> list[int]:
    rows = api.funnel(str(store), ["visit", "signup", "purchase"], window="30d").rows()
    return [int(r["customers"]) for r in rows]


def _fresh_ids(html: str) -> str:
    """The fragment without its charts' fresh ids (``hg-funnel-3``, ``hourglass-chart-2``)."""
    return re.sub(r"[a-z][a-z-]*-\d+\b", "", html)


def _engine_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any funnel, lifecycle or overview computed from here on fails the test."""

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("computed again: the disk cache was not read")

    for name in ("compute_funnel", "compute_lifecycle", "compute_overview"):
        monkeypatch.setattr(views_module, name, refuse)
    monkeypatch.setattr(pages_module, "model_funnels", refuse)


def test_a_restart_reuses_the_results_without_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path, 300, seed=3)
    first = _client(store)
    pages = {url: first.get(url, headers=FRAGMENT).text for url in (FUNNEL, "/lifecycle", "/?range=90d")}
    assert all("data-code=" not in html for html in pages.values())
    disk = first.app.state.views.cache.disk  # type: ignore[attr-defined]
    assert disk is not None and disk.writes >= 3
    assert disk.directory == Path(str(store) + ".hgcache")
    want = _api_reached(store)
    assert _reached(pages[FUNNEL]) == want

    _engine_refused(monkeypatch)  # the restart: a new process's app on the same store
    again = _client(store)
    for url, html in pages.items():
        redrawn = again.get(url, headers=FRAGMENT).text
        assert _fresh_ids(redrawn) == _fresh_ids(html)
    assert again.app.state.views.cache.disk.reads >= 3  # type: ignore[attr-defined]


def test_a_rewritten_store_is_computed_again_never_stale(tmp_path: Path) -> None:
    store = _store(tmp_path, 300, seed=3)
    old = _reached(_client(store).get(FUNNEL, headers=FRAGMENT).text)
    _store(tmp_path, 500, seed=4)  # ingested again: other events under the same name
    client = _client(store)
    new = _reached(client.get(FUNNEL, headers=FRAGMENT).text)
    want = _api_reached(store)
    assert new == want != old
    disk = client.app.state.views.cache.disk  # type: ignore[attr-defined]
    assert disk.reads == 0 and disk.writes >= 1
    # the older store's results are removed when the cache opens: only this version's are left
    assert {p.name.split("-")[0] for p in disk.directory.glob("*" + SUFFIX)} == {disk.prefix}


def test_an_edited_model_file_is_computed_again(tmp_path: Path) -> None:
    store = _store(tmp_path, 300, seed=3)
    model = tmp_path / "m.yaml"
    model.write_text("name: m\nstages:\n  - {name: a, events: [visit]}\n  - {name: b, events: [signup]}\n")
    url = f"/funnel?model={model}&window=30d"
    first = _reached(_client(store).get(url, headers=FRAGMENT).text)
    model.write_text("name: m\nstages:\n  - {name: a, events: [visit]}\n  - {name: b, events: [purchase]}\n")
    again = _reached(_client(store).get(url, headers=FRAGMENT).text)
    want = [r["customers"] for r in api.funnel(str(store), model=str(model), window="30d").rows()]
    assert again == want != first


def test_a_damaged_file_is_a_miss_and_code_is_part_of_the_context(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c", ("v1",))
    cache.put("funnel", ("k",), {"n": 1})
    assert cache.get("funnel", ("k",)) == (True, {"n": 1})
    assert cache.get("funnel", ("other",)) == (False, None)
    assert cache.get("levels", ("k",)) == (False, None)  # a per-customer table is not kept
    for f in (tmp_path / "c").glob("*" + SUFFIX):
        f.write_bytes(b"not a pickle")
    assert cache.get("funnel", ("k",)) == (False, None)
    cache.put("funnel", ("k",), {"n": 2})
    assert DiskCache(tmp_path / "c", ("v2",)).get("funnel", ("k",)) == (False, None)  # new code
    assert not list((tmp_path / "c").glob("*" + SUFFIX))  # and v1's results are gone


def test_no_disk_cache_for_a_table_in_memory_or_without_persist(tmp_path: Path) -> None:
    table, _ = simulate_shop(50, seed=2)
    assert open_disk_cache(load_source(table.to_pandas())) is None
    store = _store(tmp_path, 50, seed=2)
    app = create_app(load_source(str(store)))
    assert app.state.views.cache.disk is None
    assert not Path(str(store) + ".hgcache").exists()


EVERY_VIEW = (
    FUNNEL,
    FUNNEL + "&by=channel&range=90d&compare=previous",
    "/funnel/trend?steps=visit,signup,purchase&window=30d",
    "/funnel/explore?steps=visit,signup,purchase&window=30d",
    "/?range=90d&compare=previous",
    "/lifecycle?range=90d&compare=previous",
    "/journeys?range=90d&compare=previous",
    "/flywheel?period=month",
    "/friction",
    "/retention?period=month",
)


def test_every_kept_view_is_on_disk_none_skipped(tmp_path: Path) -> None:
    """Each result of a view the disk keeps is written (a result that does not pickle was skipped
    silently: transitions' graph until 7b19eae; a restart computed it again every time)."""
    store = _store(tmp_path, 120, seed=5)
    client = _client(store)
    for url in EVERY_VIEW:
        assert client.get(url, headers=FRAGMENT).status_code == 200, url
    views = client.app.state.views  # type: ignore[attr-defined]
    views.idle()
    disk = views.cache.disk
    kept = [k for k in list(views.cache._data) if disk.wanted(k[1])]
    assert {k[1] for k in kept} >= {"funnel", "overview", "lifecycle", "journeys", "transitions", "paths"}
    missing = [(k[1], k[2]) for k in kept if not disk.get(k[1], k[2])[0]]
    assert missing == []
    assert getattr(disk, "skipped", {}) == {}
