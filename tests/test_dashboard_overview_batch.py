"""The overview's models computed together (interfaces/overview_api.py, engine/funnel_batch.py: on a
store, the union of their steps' events read once) give what ``api.funnel`` gives for each model; a
funnel page's breakdown by the scan (engine/funnel_by_scan.py) what the joins give."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hourglass.engine import fastpath_scan, funnel_batch, funnel_by_scan, grouping
from hourglass.engine.event_store import write_store
from hourglass.engine.load import Events
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard import load_source
from hourglass.interfaces.dashboard.pages import compute_overview
from hourglass.interfaces.overview_api import breakdown_funnel, model_funnels
from hourglass.model.errors import HourglassError
from hourglass.model.presets import PRESETS

MODELS = list(PRESETS)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    table, _ = simulate_shop(400, seed=11)
    d = tmp_path_factory.mktemp("overview")
    write_events(table, parquet_path=d / "shop.parquet")
    write_store(api.events(str(d / "shop.parquet")), d / "shop.duckdb")
    return {"parquet": d / "shop.parquet", "store": d / "shop.duckdb"}


@pytest.fixture
def scan() -> Iterator[None]:
    """The sequential-scan plan on a small store (it runs from 10^6 events), in threads."""
    before = fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN  # (the scan reads grouping's)
    fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN = 0, 0
    yield
    fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN = before


def _plain(result: Any) -> dict[str, Any]:
    out = dict(result.to_dict())
    out["meta"] = {k: v for k, v in out["meta"].items() if k != "seconds"}
    return out


def _each(ev: Events, models: list[str], **kw: Any) -> list[Any]:
    out: list[Any] = []
    for name in models:
        try:
            out.append(_plain(api.funnel(ev, model=name, config=None, **kw)))
        except HourglassError as e:
            out.append((e.code, e.message))
    return out


def _together(ev: Events, models: list[str], **kw: Any) -> list[Any]:
    return [
        (r.code, r.message) if isinstance(r, HourglassError) else _plain(r)
        for r in model_funnels(ev, models, **kw)
    ]


@pytest.mark.parametrize(
    "kw",
    [
        {"window": "7d"},
        {"window": "30d", "since": "2024-02-01", "until": "2024-04-01"},
        {"window": "1h", "until": "2024-03-01"},
        {"window": "2d", "since": "2031-01-01"},  # nobody enters
    ],
)
@pytest.mark.parametrize("shared", [True, False], ids=["keys-once", "per-model"])
def test_the_models_together_equal_each_funnel_on_a_store(
    shop: dict[str, Path], scan: None, kw: dict[str, Any], shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step's keys built once for all the models (engine/models_scan.py) or each model's own
    scan: the numbers of api.funnel per model."""
    monkeypatch.setattr(funnel_batch, "SHARED_KEYS", shared)
    ev = api.events(str(shop["store"]))
    assert all(funnel_batch.shares_scan(ev, api.build_spec(model=m, **kw)) for m in MODELS)
    got = _together(ev, MODELS, **kw)
    assert [g["meta"]["plan"] for g in got] == ["fast"] * len(MODELS)
    assert got == _each(ev, MODELS, **kw)


def test_each_step_read_from_one_query(
    shop: dict[str, Path], scan: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read of the store for all the models (was one per step: 31 for the six models)."""
    ev = api.events(str(shop["store"]))
    calls: list[str] = []
    real = ev.engine.con.con.sql

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(ev.engine.con.con, name)

        def sql(self, query: str) -> Any:
            calls.append(query)
            return real(query)

    monkeypatch.setattr(ev.engine.con, "con", Counting())
    rows = funnel_batch.shared_scan_rows(ev, [api.build_spec(model=m, window="7d") for m in MODELS])
    assert len(calls) == 1 and all(r is not None for r in rows)


def test_specs_the_shared_scan_does_not_answer_run_on_their_own(shop: dict[str, Path], scan: None) -> None:
    """A Parquet file, a breakdown, a filter on a step, a model's unknown stage: each as api.funnel."""
    parquet = api.events(str(shop["parquet"]))
    assert not funnel_batch.shares_scan(parquet, api.build_spec(model="aida", window="7d"))
    assert _together(parquet, MODELS, window="7d") == _each(parquet, MODELS, window="7d")
    store = api.events(str(shop["store"]))
    spec = api.build_spec(model="aida", window="7d", by="channel")
    assert funnel_batch.shared_scan_rows(store, [spec]) == [None]
    (bad,) = model_funnels(store, ["aida"], window="7x")  # a coded error is returned, not raised
    assert isinstance(bad, HourglassError) and bad.code == "HG107"


def test_the_overview_page_equals_each_model_s_funnel(shop: dict[str, Path], scan: None) -> None:
    src = load_source(str(shop["store"]))
    models = compute_overview(src, "7d", None, None)
    for m in models:
        assert m.steps == api.funnel(src.events, model=m.name, window="7d").to_dict()["steps"]


def _close(a: Any, b: Any) -> bool:
    """Equal, floats to a relative 1e-9 (numpy's quantiles and DuckDB's differ in the last bits)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    return bool(a == b)


@pytest.mark.parametrize("by", ["channel", "country", "offer", "device"])
@pytest.mark.parametrize(
    "kw", [{"window": "7d"}, {"window": "30d", "since": "2024-02-01", "until": "2024-04-01"}]
)
def test_a_breakdown_by_the_scan_equals_the_joins(
    shop: dict[str, Path], scan: None, by: str, kw: dict[str, Any]
) -> None:
    """A column of one value per customer (channel, country; offer: none on a visit, one NULL
    group) by the scan; one a customer changes (device) by the joins, as before."""
    ev = api.events(str(shop["store"]))
    steps = ["visit", "signup", "purchase", "repeat_purchase"]
    spec = api.funnel_inputs(ev, steps, by=by, **kw)[1]
    rows = funnel_by_scan.by_scan_rows(ev, spec)
    assert (rows is None) == (by == "device")
    got = _plain(breakdown_funnel(ev, by, steps=steps, **kw))
    assert _close(got, _plain(api.funnel(ev, steps, by=by, **kw)))
    if by == "offer":
        assert [g["value"] for g in got["groups"]] == [None]


def test_the_next_clicks_work_starts_once_the_page_s_own_is_computed(
    shop: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overview's period before and a funnel's people are submitted ahead after the page's
    result is computed (beside it, they took the cores the page waited on)."""
    from hourglass.interfaces.dashboard import views as views_module
    from hourglass.interfaces.dashboard.app import create_app
    from hourglass.interfaces.dashboard.query import FunnelQuery

    src = load_source(str(shop["store"]))
    views = create_app(src).state.views
    order: list[str] = []
    nothing = (views_module._nothing,)  # (the batch that stops another page's work ahead: at once)
    monkeypatch.setattr(views.ahead, "submit", lambda *js, **kw: js == nothing or order.append("ahead"))
    real_overview, real_funnel = views_module.compute_overview, views_module.compute_funnel

    def overview(*a: Any) -> Any:
        order.append("page")
        return real_overview(*a)

    def funnel(*a: Any) -> Any:
        order.append("page")
        return real_funnel(*a)

    monkeypatch.setattr(views_module, "compute_overview", overview)
    monkeypatch.setattr(views_module, "compute_funnel", funnel)
    views.overview("9d", "90d", "2024-02-01", "2024-05-01")
    assert order == ["page", "ahead"]
    order.clear()
    views.funnel(FunnelQuery(steps=("visit", "signup"), window="9d"))
    assert order == ["page", "ahead"]


def test_a_breakdown_whose_values_cannot_be_read_is_left_to_the_joins_and_asked_again(
    shop: dict[str, Path], scan: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed read of the step-1 values (a query interrupted by the work ahead) is not kept as
    "not one value per customer": the joins answer this time, the scan the next."""
    import duckdb

    ev = api.events(str(shop["store"]))
    spec = api.funnel_inputs(ev, ["visit", "signup"], by="channel", window="7d")[1]
    real = ev.engine.con.con

    class Failing:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def sql(self, query: str) -> Any:
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(ev.engine.con, "con", Failing())
    assert funnel_by_scan.by_scan_rows(ev, spec) is None
    monkeypatch.setattr(ev.engine.con, "con", real)
    assert funnel_by_scan.by_scan_rows(ev, spec) is not None


def test_a_breakdowns_kept_groups_do_not_keep_the_events_alive(shop: dict[str, Path], scan: None) -> None:
    """The groups kept for the next funnel hold their events by a weak reference (the events hold
    connections and customer-sized arrays): once dropped, the entry answers no other object."""
    import gc
    import weakref

    ev = api.events(str(shop["store"]))
    spec = api.funnel_inputs(ev, ["visit", "signup"], by="channel")[1]
    assert funnel_by_scan.by_scan_rows(ev, spec) is not None
    gone = weakref.ref(ev)
    del ev, spec
    gc.collect()
    assert gone() is None


def test_each_models_seconds_are_not_the_models_before_it(
    shop: dict[str, Path], scan: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model's seconds: the shared read and scans and its own result, not summed over the models
    before it (each result's building made 0.2 s here)."""
    import time

    from hourglass.interfaces import overview_api

    build = overview_api.run_funnel

    def slow(*a: Any, **k: Any) -> Any:
        time.sleep(0.2)
        return build(*a, **k)

    monkeypatch.setattr(overview_api, "run_funnel", slow)
    got = [
        r for r in model_funnels(api.events(str(shop["store"])), MODELS) if not isinstance(r, HourglassError)
    ]
    assert len(got) >= 3
    assert max(r.meta["seconds"] for r in got) < 0.2 * 2 + min(r.meta["seconds"] for r in got)


def test_a_shorter_window_scans_the_last_overviews_rows(
    shop: dict[str, Path], scan: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overview with a new window no longer than the last one's (the same dates) reads nothing
    again: its rows hold every chain of the shorter window; the numbers are api.funnel's."""
    ev = api.events(str(shop["store"]))
    dates = {"since": "2024-02-01", "until": "2024-04-01"}
    assert _together(ev, MODELS, window="30d", **dates) == _each(ev, MODELS, window="30d", **dates)
    reads: list[Any] = []
    real = funnel_batch.read_names
    monkeypatch.setattr(funnel_batch, "read_names", lambda *a: reads.append(a) or real(*a))
    before = {"since": "2023-12-03", "until": "2024-02-01"}  # the period before (a comparison's)
    assert _together(ev, MODELS, window="30d", **before) == _each(ev, MODELS, window="30d", **before)
    assert len(reads) == 1
    assert _together(ev, MODELS, window="3d", **dates) == _each(ev, MODELS, window="3d", **dates)
    assert len(reads) == 1
    assert _together(ev, MODELS, window="40d", **dates) == _each(ev, MODELS, window="40d", **dates)
    assert len(reads) == 2  # a longer window: read again
