"""The journeys analysis on the numpy kernels (engine/journeys_numpy.py) equals the portable plan's
(engine/run_journeys.py ``run_journeys``): seeded logs with ties in time, repeats, back-steps and
customers of one run, the hourglass and the flywheel models, a goal, a period; on a store and on
integer ids. The fitness mean is a float sum in another order (equal to 1e-12)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from hourglass.engine.event_store import write_store
from hourglass.engine.journeys_numpy import fast_journeys
from hourglass.engine.load import Events
from hourglass.engine.run_journeys import run_journeys
from hourglass.engine.store import write_events
from hourglass.ingest.config import load_model
from hourglass.interfaces import api
from hourglass.model.journeys_spec import JourneysSpec
from test_people_fast import _log


@pytest.fixture(scope="module", params=["store", "integer"])
def events(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Events:
    d = tmp_path_factory.mktemp(f"journeys-{request.param}")
    write_events(_log(33, 500, request.param == "integer"), parquet_path=d / "log.parquet")
    if request.param == "integer":
        return api.events(str(d / "log.parquet"))
    write_store(api.events(str(d / "log.parquet")), d / "log.duckdb")
    return api.events(str(d / "log.duckdb"))


def _plain(result: Any) -> dict[str, Any]:
    out = result.to_dict()
    out.pop("meta")
    return dict(out)


def _portable(events: Events, spec: JourneysSpec, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """run_journeys's answer on the portable plan (the numpy kernels decline under the env, also
    once run_journeys calls them first)."""
    with monkeypatch.context() as m:
        m.setenv("HOURGLASS_PLAN", "portable")
        return _plain(run_journeys(events, spec))


@pytest.mark.parametrize(
    ("model", "goal", "since"),
    [("hourglass", None, None), ("hourglass", "trust", None), ("flywheel", None, datetime(2024, 2, 1))],
)
def test_the_journeys_are_the_portable_plans(
    events: Events, model: str, goal: str | None, since: datetime | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = JourneysSpec.build(load_model(model, None), goal=goal, since=since)
    fast = fast_journeys(events, spec)
    assert fast is not None  # the numpy kernels ran
    got, want = _plain(fast), _portable(events, spec, monkeypatch)
    assert got["conformance"]["fitness_mean"] == pytest.approx(want["conformance"]["fitness_mean"], rel=1e-12)
    got["conformance"]["fitness_mean"] = want["conformance"]["fitness_mean"]
    assert got == want
    assert want["backsteps"] and want["entry"]  # the log has back-steps to compare


def test_declined_with_a_breakdown_or_the_portable_plan(
    events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    spec = JourneysSpec.build(load_model("hourglass", None))
    assert fast_journeys(events, dataclasses.replace(spec, by="event")) is None
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    assert fast_journeys(events, spec) is None


@pytest.mark.parametrize("runs", [True, False])
def test_the_journeys_in_sets_of_customers_in_threads(
    events: Events, monkeypatch: pytest.MonkeyPatch, runs: bool
) -> None:
    from hourglass.engine import grouping, journeys_ranges, journeys_runs

    monkeypatch.setattr(journeys_ranges, "PARALLEL_MIN", 0)  # sets and ranges on a small log
    monkeypatch.setattr(grouping, "WORKERS", 3)
    monkeypatch.setattr(journeys_runs, "RANGE_ROWS", 256)
    monkeypatch.setattr(journeys_runs, "ENABLED", runs)
    spec = JourneysSpec.build(load_model("hourglass", None), goal="trial")
    fast = fast_journeys(events, spec)
    assert fast is not None
    got, want = _plain(fast), _portable(events, spec, monkeypatch)
    assert got["conformance"]["fitness_mean"] == pytest.approx(want["conformance"]["fitness_mean"], rel=1e-12)
    got["conformance"]["fitness_mean"] = want["conformance"]["fitness_mean"]
    assert got == want


def test_a_nodes_people_in_ranges_of_customers_in_threads(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from hourglass.engine import grouping, paths_people
    from hourglass.engine import journeys_order as order
    from hourglass.engine.paths_people import customer_paths_np
    from hourglass.model.journeys_spec import PathsSpec

    write_events(_log(8, 3000, False, "seconds"), parquet_path=tmp_path / "log.parquet")
    write_store(api.events(str(tmp_path / "log.parquet")), tmp_path / "log.duckdb")
    events = api.events(str(tmp_path / "log.duckdb"))
    spec = PathsSpec.build(load_model("hourglass", None), level="stage", depth=4)
    one = customer_paths_np(events, spec)
    monkeypatch.setattr(grouping, "WORKERS", 3)
    monkeypatch.setattr(order, "_KEY_BITS", 44)  # 31 time bits, 3 node bits: 1024 customers a range
    seen: list[int] = []
    kernel = paths_people._paths_of_runs
    monkeypatch.setattr(paths_people, "_paths_of_runs", lambda *a: seen.append(1) or kernel(*a))
    many = customer_paths_np(events, spec)
    assert one is not None and many is not None and len(one.keys) > 2048 and len(seen) >= 3
    assert np.array_equal(one.keys, many.keys) and np.array_equal(one.nodes, many.nodes)
    assert np.array_equal(one.more, many.more)
