"""engine/journeys_wide.py: many nodes' elements (past 255 names) put in the order (customer, ts,
node) by numpy: the full sort's arrays exactly (ties in time broken by node, customers across
ranges and threads, far ids grouped by hash, one customer, a bot), and end to end from a store of
300 names the portable plan's answers, with the numpy order run."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import hourglass
from hourglass.engine import grouping, journeys_wide
from hourglass.engine.journeys_wide import wide_sorted
from test_journeys_fast import _same


def _full(c: np.ndarray, ts: np.ndarray, node: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((node, ts, c))
    new = np.ones(len(c), dtype=bool)
    new[1:] = c[order][1:] != c[order][:-1]
    return new, ts[order].astype(np.int64), node[order].astype(np.int32)


def _log(kind: str, seed: int, m: int = 30_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "far":
        ids = rng.integers(0, 2**62, 2000)
        c = ids[rng.integers(0, len(ids), m)]
    else:
        c = rng.integers(0, 3000, m).astype(np.int32)
    if kind == "bot":
        c[rng.random(m) < 0.6] = 1234
    if kind == "one":
        c[:] = 7
    ts = 1_700_000_000_000_000 + rng.integers(0, 10**4, m) * 1_000_000  # many ties in time
    node = rng.integers(0, 5000, m).astype(np.int32)  # far past 255 names
    return c, ts, node


def _blocks(seq: Any) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Each customer's (times, nodes), in any order of the customers."""
    at = [*np.flatnonzero(seq[0]).tolist(), len(seq[0])]
    t, n = seq[1].tolist(), seq[2].tolist()
    return sorted((tuple(t[a:b]), tuple(n[a:b])) for a, b in itertools.pairwise(at))


@pytest.mark.parametrize("kind", ["near", "far", "bot", "one"])
def test_the_full_sort(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grouping, "WORKERS", 3)
    monkeypatch.setattr(journeys_wide, "RANGE_ROWS", 256)  # many ranges, in three threads
    monkeypatch.setattr(journeys_wide, "PARALLEL_MIN", 5_000)  # the radix sort in three slices too
    calls: list[int] = []
    real = grouping.run_ranges

    def counted(fn: Any, count: int, workers: int | None = None) -> Any:
        calls.append(count if workers is None else min(count, workers))
        return real(fn, count, workers)

    monkeypatch.setattr(grouping, "run_ranges", counted)
    c, ts, node = _log(kind, len(kind))
    got = wide_sorted(c, ts, node)
    assert got is not None
    want = _full(c, ts, node)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
    if kind == "far":  # customers in hash order: the same customers' sequences
        assert _blocks(got) == _blocks(want)
    else:
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    assert np.count_nonzero(got[0]) == len(np.unique(c))
    assert (calls[-1] >= 3 or kind == "one") and (kind == "far" or calls[0] == 3)  # ranges, slices: threads


def test_no_rows_and_too_wide_a_time() -> None:
    empty = wide_sorted(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
    assert empty is not None and all(len(a) == 0 for a in empty)
    c = np.array([1, 2], dtype=np.int64)
    ts = np.array([0, 1 << 55], dtype=np.int64)  # 56 time bits: fewer than 10 for the customer
    assert wide_sorted(c, ts, np.array([3, 4], dtype=np.int32)) is None


def test_a_store_of_300_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store of 300 names (its ENUM codes past 8 bits): paths and transitions at the event level
    equal the portable plan's, and the numpy order answered instead of DuckDB's ORDER BY."""
    monkeypatch.setattr(grouping, "WORKERS", 3)
    monkeypatch.setattr(journeys_wide, "RANGE_ROWS", 64)
    monkeypatch.setattr(journeys_wide, "PARALLEL_MIN", 500)
    ran: list[bool] = []

    def spied(*a: Any, **k: Any) -> Any:
        got = wide_sorted(*a, **k)
        ran.append(got is not None)
        return got

    monkeypatch.setattr(journeys_wide, "wide_sorted", spied)
    rng = np.random.default_rng(5)
    m = 2500
    base = np.datetime64("2024-01-01T00:00:00", "us")
    frame = pd.DataFrame(
        {
            "customer": [f"c{i}" for i in rng.integers(0, 200, m)],
            "event": [f"e{k:03d}" for k in rng.integers(0, 300, m)],
            "timestamp": base + rng.integers(0, 300, m) * np.timedelta64(60, "s"),  # ties in time
        }
    )
    frame.loc[:299, "event"] = [f"e{k:03d}" for k in range(300)]  # every name occurs
    csv = tmp_path / "log.csv"
    frame.to_csv(csv, index=False)
    store = tmp_path / "log.duckdb"
    hourglass.ingest_store(str(csv), str(store))
    ev = hourglass.events(str(store))
    assert ev.codes is not None and len(ev.codes) == 300
    _same(ev, "event", True, 8, {})
    _same(ev, "event", False, 3, {})
    assert ran == [True] * 4  # paths and transitions, twice
    monkeypatch.setattr(journeys_wide, "ENABLED", False)  # DuckDB's ORDER BY: the same answers
    _same(ev, "event", True, 8, {})
    assert ran == [True] * 4
