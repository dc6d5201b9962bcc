"""engine/journeys_runs.py: the sets and ranges of customers cut from rows that come as a few runs
sorted by customer (a store's rows, ordered by event then customer): the same answers as the whole
log's kernels on the full sort (engine/journeys_seq.py) and, end to end from a store, as the
portable plan; the path runs where it should and declines where it must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import hourglass
from hourglass.engine import grouping, journeys_ranges, journeys_runs
from hourglass.engine.journeys_paths import threaded_paths
from hourglass.engine.journeys_ranges import threaded_transitions
from hourglass.engine.journeys_runs import sorted_runs
from hourglass.engine.journeys_seq import seq_paths, seq_transitions
from test_journeys_fast import _same


class _Spec:
    def __init__(self, collapse: bool, steps: int = 4, top: int = 1_000_000) -> None:
        self.collapse, self.steps, self.top = collapse, steps, top


def _whole(c: np.ndarray, ts: np.ndarray, node: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((node, ts, c))
    new = np.ones(len(c), dtype=bool)
    new[1:] = c[order][1:] != c[order][:-1]
    return new, ts[order].astype(np.int64), node[order].astype(np.int32)


def _stored(kind: str, seed: int, m: int = 30_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A store's rows: ordered by (node, customer, time), one run per node; ``blocks``: the runs'
    row groups handed over in another order (more runs, none of one node); ``bot``: one customer
    with most rows; ``one``: a single customer; ties in time within customers throughout."""
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 4000, m).astype(np.int32)
    if kind == "bot":
        c[rng.random(m) < 0.6] = 1234
    if kind == "one":
        c[:] = 7
    ts = 1_700_000_000_000_000 + rng.integers(0, 10**5, m) * 1_000_000
    ts[1::3] = ts[::3][: len(ts[1::3])]
    node = rng.integers(0, 6, m).astype(np.uint8)
    order = np.lexsort((ts, c, node))
    c, ts, node = c[order], ts[order], node[order]
    if kind == "blocks":  # blocks of 2,048 rows in a shuffled order
        at = rng.permutation(-(-m // 2048))
        order = np.concatenate([np.arange(b * 2048, min(m, (b + 1) * 2048)) for b in at])
        c, ts, node = c[order], ts[order], node[order]
    return c, ts, node


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Three sets (more than this machine's cores), small ranges (many per set); the sets that the
    runs' path answered."""
    monkeypatch.setattr(journeys_ranges, "PARALLEL_MIN", 0)
    monkeypatch.setattr(grouping, "WORKERS", 3)
    monkeypatch.setattr(journeys_runs, "RANGE_ROWS", 512)
    answered: list[int] = []
    real = journeys_ranges.in_runs

    def counted(*a: Any) -> Any:
        got = real(*a)
        answered.append(-1 if got is None else len(got))
        return got

    monkeypatch.setattr(journeys_ranges, "in_runs", counted)
    return answered


@pytest.mark.parametrize("kind", ["store", "blocks", "bot", "one"])
@pytest.mark.parametrize("collapse", [True, False])
def test_runs_equal_the_whole_log(kind: str, collapse: bool, spied: list[int]) -> None:
    c, ts, node = _stored(kind, len(kind) + collapse)
    runs = sorted_runs(c)
    assert runs is not None and (len(runs) - 1 == 6 or kind != "store")
    whole = _whole(c, ts, node)
    assert threaded_transitions(_Spec(collapse))(c, ts, node) == seq_transitions(whole, collapse)  # type: ignore[arg-type]
    for steps in (4, 12):  # 12: a path as two integers
        got = threaded_paths(_Spec(collapse, steps))(c, ts, node)  # type: ignore[arg-type]
        assert got == seq_paths(whole, collapse, steps, 1_000_000)
    # the runs' path answered each time, in three sets (one: a single customer, one range)
    assert spied == [1 if kind == "one" else 3] * 3


def test_declines_many_runs_and_wide_keys(spied: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows in no order (many runs) are grouped as before; so are keys too wide for the slices'
    budget; the answers are the same."""
    rng = np.random.default_rng(3)
    c, ts, node = _stored("store", 3)
    perm = rng.permutation(len(c))
    assert sorted_runs(c[perm]) is None
    whole = _whole(c, ts, node)
    assert threaded_transitions(_Spec(True))(c[perm], ts[perm], node[perm]) == seq_transitions(whole, True)  # type: ignore[arg-type]
    assert spied == []  # not tried
    monkeypatch.setattr(journeys_runs, "SLICES_MAX", 4)  # 6 runs x 1 range or more: declined
    assert threaded_transitions(_Spec(True))(c, ts, node) == seq_transitions(whole, True)  # type: ignore[arg-type]
    assert spied == [-1]


def test_sorted_runs() -> None:
    assert sorted_runs(np.array([], dtype=np.int32)) is None  # no rows: ordered_ranges' answer
    assert sorted_runs(np.array([4], dtype=np.int32)) == [0, 1]
    assert sorted_runs(np.array([5, 5, 6, 1, 1, 9, 2], dtype=np.int32)) == [0, 3, 6, 7]
    down = np.arange(300, 0, -1, dtype=np.int64)  # 300 runs: past RUNS_MAX
    assert sorted_runs(down) is None


def test_a_store_end_to_end(tmp_path: Path, spied: list[int]) -> None:
    """From a store (rows ordered by event, customer, time): both levels, with and without
    collapsing, equal the portable plan's answers, and the runs' path answered."""
    rng = np.random.default_rng(11)
    m = 3000
    names = np.array(["visit", "view", "signup", "pay", "quit"])
    base = np.datetime64("2024-01-01T00:00:00", "us")
    frame = pd.DataFrame(
        {
            "customer": [f"c{i}" for i in rng.integers(0, 300, m)],
            "event": names[rng.integers(0, len(names), m)],
            "timestamp": base + rng.integers(0, 400, m) * np.timedelta64(60, "s"),  # ties in time
        }
    )
    csv = tmp_path / "log.csv"
    frame.to_csv(csv, index=False)
    store = tmp_path / "log.duckdb"
    hourglass.ingest_store(str(csv), str(store))
    ev = hourglass.events(str(store))
    for level in ("stage", "event"):
        _same(ev, level, True, 8, {})
        _same(ev, level, False, 3, {})
    assert len(spied) == 8 and all(n == 3 for n in spied), spied


def test_run_journeys_takes_the_numpy_kernels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """engine/run_journeys.py answers from S's numpy kernels (engine/journeys_numpy.py: the store's
    runs, in sets) where they apply, with the portable plan's answer (HOURGLASS_PLAN=portable)."""
    from hourglass.engine import journeys_numpy
    from hourglass.engine.event_store import write_store
    from hourglass.engine.run_journeys import run_journeys
    from hourglass.engine.store import write_events
    from hourglass.ingest.config import load_model
    from hourglass.interfaces import api
    from hourglass.model.journeys_spec import JourneysSpec
    from test_people_fast import _log

    write_events(_log(33, 300, False), parquet_path=tmp_path / "log.parquet")
    write_store(api.events(str(tmp_path / "log.parquet")), tmp_path / "log.duckdb")
    ev = api.events(str(tmp_path / "log.duckdb"))
    spec = JourneysSpec.build(load_model("hourglass", None), goal="trust")
    ran: list[int] = []
    real = journeys_numpy.journeys_of_runs

    def counted(*a: Any) -> Any:
        ran.append(1)
        return real(*a)

    monkeypatch.setattr(journeys_numpy, "journeys_of_runs", counted)
    got = run_journeys(ev, spec).to_dict()
    assert ran  # the numpy kernels answered
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    ran.clear()
    want = run_journeys(ev, spec).to_dict()
    assert not ran
    for d in (got, want):
        d.pop("meta")
    assert got["conformance"]["fitness_mean"] == pytest.approx(want["conformance"]["fitness_mean"], rel=1e-12)
    got["conformance"]["fitness_mean"] = want["conformance"]["fitness_mean"]
    assert got == want and want["entry"]
