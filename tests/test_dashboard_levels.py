"""The people behind a funnel's bars on the DuckDB fast path (engine/fast_levels.py): every
customer's level (and group) equals the portable per-customer plan's, on a store and on a file,
and what the fast path cannot say is None (the dashboard then runs the portable plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hourglass.analyses import funnel_plan
from hourglass.engine.event_store import write_store
from hourglass.engine.fast_levels import fast_levels, fast_levels_sql
from hourglass.engine.load import Events
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.dashboard.data import load_source
from hourglass.interfaces.dashboard.levels import funnel_levels
from hourglass.interfaces.dashboard.query import FunnelQuery

SPECS: list[dict[str, Any]] = [
    {"steps": ["visit", "signup", "purchase", "repeat_purchase"], "window": "30d"},
    {"steps": ["visit", "signup", "purchase"], "window": "2d", "by": "channel"},
    {"steps": ["visit", "purchase"], "window": "90d", "by": "country", "since": "2024-02-01"},
    {
        "steps": [{"name": "in", "events": ["visit", "signup"]}, "purchase"],
        "window": "7d",
        "until": "2024-06-01",
    },
    {
        "steps": ["visit", {"name": "purchase", "events": ["purchase"], "where": "revenue > 20"}],
        "by": "device",
    },
    {"steps": ["signup"], "window": "1d", "by": "channel"},
    {"steps": ["visit", "no_such_event", "purchase"], "window": "30d"},
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Events]:
    table, _ = simulate_shop(500, seed=3)
    d = tmp_path_factory.mktemp("levels")
    write_events(table, parquet_path=d / "shop.parquet")
    write_store(api.events(str(d / "shop.parquet")), d / "shop.duckdb")
    return {"store": api.events(str(d / "shop.duckdb")), "parquet": api.events(str(d / "shop.parquet"))}


def _portable(ev: Events, spec: Any) -> Any:
    cols = ["customer", "level"] + (["by"] if spec.by else [])
    return ev.engine.execute(funnel_plan(spec, ev.table).customers.select(*cols))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values("customer").reset_index(drop=True)
    out["level"] = out["level"].astype("int64")
    return out


@pytest.mark.parametrize("kind", ["store", "parquet"])
@pytest.mark.parametrize("i", range(len(SPECS)))
def test_fast_levels_equal_the_portable_plans(sources: dict[str, Events], kind: str, i: int) -> None:
    ev = sources[kind]
    options = dict(SPECS[i])
    by = options.pop("by", None)
    spec = api.build_spec(options.pop("steps"), by=by, **options)
    fast = fast_levels(ev, spec)
    if kind == "store" or by is None or spec.steps[0].where:
        assert fast is not None, fast_levels_sql(ev, spec)
    if fast is not None:
        expected = _sorted(_portable(ev, spec))
        assert len(expected) > 0
        pd.testing.assert_frame_equal(_sorted(fast)[list(expected.columns)], expected, check_dtype=False)


def test_what_the_fast_path_cannot_say_is_none(sources: dict[str, Events]) -> None:
    ev = sources["store"]
    for options in ({"open": True}, {"mode": "any_order"}, {"exclude": ["signup"]}):
        spec = api.build_spec(["visit", "purchase"], window="7d", **options)
        assert fast_levels(ev, spec) is None


def test_the_dashboards_levels_are_the_apis(sources: dict[str, Events], tmp_path: Path) -> None:
    src = load_source(sources["store"].report.source)
    q = FunnelQuery(steps=("visit", "signup", "purchase"), window="3d", by="channel")
    got = _sorted(funnel_levels(src, q))
    expected = _sorted(
        api.funnel_levels(src.events, ["visit", "signup", "purchase"], window="3d", by="channel")
    )
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected, check_dtype=False)


def test_the_people_worked_ahead_are_the_newest_funnels_only(
    sources: dict[str, Events], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A funnel's people are computed ahead only while it is the funnel asked for last: the people
    of the funnels left behind are not (a click on their bars computes them)."""
    from hourglass.interfaces.dashboard import levels as levels_module
    from hourglass.interfaces.dashboard import views as views_module
    from hourglass.interfaces.dashboard.app import create_app

    src = load_source(sources["store"].report.source)
    views = create_app(src).state.views
    jobs: list[Any] = []
    nothing = views_module._nothing  # (the batch that stops another page's work ahead)
    monkeypatch.setattr(
        views.ahead, "submit", lambda *js, **kw: jobs.extend(j for j in js if j is not nothing)
    )
    computed: list[str] = []
    real = views_module.funnel_levels

    def counting(on: Any, q: FunnelQuery, *wanted: Any) -> Any:
        computed.append(q.window)
        return real(on, q, *wanted)

    monkeypatch.setattr(views_module, "funnel_levels", counting)  # a click's
    monkeypatch.setattr(levels_module, "funnel_levels", counting)  # the work ahead's
    older, newer = (FunnelQuery(steps=("visit", "signup"), window=w) for w in ("3d", "4d"))
    views.funnel(older)
    views.funnel(newer)
    assert len(jobs) == 2
    assert jobs[0](src) is None and computed == []  # the older funnel's: not computed
    assert jobs[1](src) is not None and computed == ["4d"]
    views.people(older, 1, "reached", None, 1, 10)  # a click on the older funnel's bar: computed then
    assert computed == ["4d", "3d"]
