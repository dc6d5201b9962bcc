"""engine/journeys_ranges.py: the paths' and transitions' kernels per set of customers in threads,
each range's kernel right after its sort, merged: equal to the whole-log kernels on the full sort
(engine/journeys_seq.py) and, end to end, to the portable plan; and the threaded path does run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hourglass.engine import grouping, journeys_order, journeys_ranges, journeys_runs
from hourglass.engine.journeys_paths import threaded_paths
from hourglass.engine.journeys_ranges import threaded_transitions
from hourglass.engine.journeys_seq import seq_paths, seq_transitions


class _Spec:
    def __init__(self, collapse: bool, steps: int = 4, top: int = 1_000_000) -> None:
        self.collapse, self.steps, self.top = collapse, steps, top


def _whole(c: np.ndarray, ts: np.ndarray, node: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((node, ts, c))
    new = np.ones(len(c), dtype=bool)
    new[1:] = c[order][1:] != c[order][:-1]
    return new, ts[order].astype(np.int64), node[order].astype(np.int32)


def _log(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers across many ranges and sets: near ids (a store's keys), far ids (62-bit, grouped by
    hash), ties in time (and in node), one bot with most rows, one customer."""
    rng = np.random.default_rng(seed)
    m = 40_000
    if kind == "one":
        c = np.full(m, 7, dtype=np.int64)
    elif kind == "far":
        ids = rng.integers(0, 2**62, 3000)
        c = ids[rng.integers(0, len(ids), m)]
    else:
        c = rng.integers(0, 5000, m).astype(np.int32)
    if kind == "bot":
        c[rng.random(m) < 0.6] = 1234
    ts = 1_700_000_000_000_000 + rng.integers(0, 10**6, m) * 1_000_000
    ts[1::3] = ts[::3][: len(ts[1::3])]  # ties in time, within some customers
    node = rng.integers(0, 6, m).astype(np.uint8)
    return c, ts, node


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Three sets (more than this machine's cores), from any size; the sets that ran (grouped by
    range or hash: rows in runs sorted by customer are tests/test_journeys_runs.py's)."""
    monkeypatch.setattr(journeys_ranges, "PARALLEL_MIN", 0)
    monkeypatch.setattr(journeys_runs, "ENABLED", False)
    monkeypatch.setattr(grouping, "WORKERS", 3)
    ran: list[int] = []
    by_value, by_hash = journeys_ranges._set, journeys_ranges.ordered_keys

    def counted(*a: Any) -> Any:  # a set cut by value: its rows
        ran.append(len(a[0]))
        return by_value(*a)

    def hashed(*a: Any) -> Any:  # a set grouped by hash: its rows' order
        ran.append(len(a[5][0]))
        return by_hash(*a)

    monkeypatch.setattr(journeys_ranges, "_set", counted)
    monkeypatch.setattr(journeys_ranges, "ordered_keys", hashed)
    return ran


@pytest.mark.parametrize("kind", ["near", "far", "bot", "one"])
@pytest.mark.parametrize("collapse", [True, False])
def test_sets_equal_the_whole_log(kind: str, collapse: bool, threads: list[int]) -> None:
    c, ts, node = _log(kind, len(kind))
    whole = _whole(c, ts, node)
    got = threaded_transitions(_Spec(collapse))(c, ts, node)  # type: ignore[arg-type]
    assert got == seq_transitions(whole, collapse)
    assert len(threads) == 3 and sum(threads) == len(c)  # the threaded path ran, every row in a set
    for steps in (4, 12):  # 12: a path as two integers
        top, totals = threaded_paths(_Spec(collapse, steps))(c, ts, node)  # type: ignore[arg-type]
        assert (top, totals) == seq_paths(whole, collapse, steps, 1_000_000)


def test_many_ranges_per_set(monkeypatch: pytest.MonkeyPatch, threads: list[int]) -> None:
    """Small key budgets: many ranges per set (each range's kernel, then the set's words sorted)."""
    monkeypatch.setattr(journeys_order, "_KEY_BITS", 53)  # 10 customer bits: ~12 ranges per set
    c, ts, node = _log("near", 11)
    c = c * 7
    whole = _whole(c, ts, node)
    assert threaded_transitions(_Spec(True))(c, ts, node) == seq_transitions(whole, True)  # type: ignore[arg-type]
    assert threaded_paths(_Spec(True))(c, ts, node) == seq_paths(whole, True, 4, 1_000_000)  # type: ignore[arg-type]


def test_many_edges_quantiles_bit_for_bit(monkeypatch: pytest.MonkeyPatch, threads: list[int]) -> None:
    """Over a thousand edges, the sets' gaps merged per group of edges (three groups, in threads)
    from sets whose words hold different gap bits: each edge's quantiles are ``np.quantile``'s of
    its gaps, bit for bit."""
    monkeypatch.setattr(journeys_ranges, "GROUP_MOVES", 5_000)  # ~30k moves: three groups of edges
    groups: list[int] = []
    gap_bits: list[list[int]] = []
    run_ranges, merge = journeys_ranges.run_ranges, journeys_ranges.transitions_merge

    def counted(fn: Any, count: int, workers: int | None = None) -> Any:
        groups.append(count)
        return run_ranges(fn, count, workers)

    def merged(parts: Any, span: int) -> Any:
        gap_bits.append([p[3] for p in parts])
        return merge(parts, span)

    monkeypatch.setattr(journeys_ranges, "run_ranges", counted)
    monkeypatch.setattr(journeys_ranges, "transitions_merge", merged)
    c, ts, node = _log("near", 5)
    t0 = int(ts.min())
    ts = t0 + (ts - t0) * np.where(c < 1800, 1, np.where(c < 3500, 4, 16))  # each set its time span
    node = (node.astype(np.int32) * 37 + c % 40).astype(np.int32)  # ~240 nodes, over a thousand edges
    whole = _whole(c, ts, node)
    got = threaded_transitions(_Spec(True))(c, ts, node)  # type: ignore[arg-type]
    assert groups == [3, 3]  # the sets, then the groups of edges
    assert len(gap_bits) == 1 and len(set(gap_bits[0])) == 3, gap_bits  # re-encoded to the widest
    assert got == seq_transitions(whole, True)
    # each edge's gaps by plain Python over the full sort
    new, t, n = (a.tolist() for a in whole)
    gaps: dict[tuple[int, int], list[float]] = {}
    runs: list[tuple[bool, int, int]] = [
        (new[i], t[i], n[i]) for i in range(len(n)) if new[i] or n[i] != n[i - 1]
    ]
    for j, (_, t0, v) in enumerate(runs[:-1]):
        if not runs[j + 1][0]:
            gaps.setdefault((v, runs[j + 1][2]), []).append((runs[j + 1][1] - t0) / 1_000_000)
    assert len(gaps) > 1000
    for r in got:
        if r["nxt"] >= 0:
            want = np.quantile(np.array(gaps[(r["node"], r["nxt"])]), [0.5, 0.9])
            assert (r["median_s"], r["p90_s"]) == (float(want[0]), float(want[1]))


def test_declines_past_the_packed_edges(threads: list[int]) -> None:
    c, ts, node = _log("near", 3)
    node = node.astype(np.int32) + 300  # 302 ** 2 possible edges: the whole-log kernel answers
    assert threaded_transitions(_Spec(True))(c, ts, node) is None  # type: ignore[arg-type]
    assert not threads


def _parquet(tmp_path: Any) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(9)
    m = 30_000
    names = ["visit", "view_pricing", "signup", "trial", "purchase", "other"]
    ids = rng.integers(1, 2000, m)
    ids[rng.random(m) < 0.3] = 77  # a bot
    t = pa.table(
        {
            "customer_id": ids,
            "timestamp": pa.array(
                (1_700_000_000_000_000 + rng.integers(0, 10**5, m) * 10**6).tolist(), pa.timestamp("us")
            ),
            "event": [names[i] for i in rng.integers(0, len(names), m)],
        }
    )
    path = str(tmp_path / "ev.parquet")
    pq.write_table(t, path)
    return path


def _plain(value: Any) -> Any:
    """``value`` without its meta, floats to 9 digits (the portable plan's quantiles: other sums)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "meta"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return round(value, 9) if isinstance(value, float) else value


def test_api_threaded_equals_portable(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, threads: list[int]
) -> None:
    """End to end on a Parquet log (ids near: one bot, ties in time) and on its store: the threaded
    path's answers are the portable plan's, at the event and the stage level."""
    import hourglass
    from hourglass.interfaces import journeys_api as hg
    from hourglass.model.journey import JourneyModel

    path = _parquet(tmp_path)
    store = str(tmp_path / "ev.store.duckdb")
    hourglass.ingest_store(path, store)
    model = JourneyModel.from_dict(
        {
            "name": "m",
            "kind": "funnel",
            "stages": [
                {"name": "visit", "events": ["visit"]},
                {"name": "consider", "events": ["view_pricing"]},
                {"name": "signup", "events": ["signup", "trial"]},
                {"name": "purchase", "events": ["purchase"]},
            ],
        }
    )

    def answers(src: str) -> list[Any]:
        return [
            _plain(hg.paths(src, model, steps=5, top=50).to_dict()),
            _plain(hg.transitions(src, model).to_dict()),
            _plain(hg.transitions(src, model, level="event").to_dict()),
            _plain(hg.paths(src, model, level="event", steps=4, top=50).to_dict()),
        ]

    for src in (path, store):
        monkeypatch.setenv("HOURGLASS_PLAN", "auto")
        threads.clear()
        fast = answers(src)
        assert threads, src  # the threaded path ran
        monkeypatch.setenv("HOURGLASS_PLAN", "portable")
        assert fast == answers(src), src


@pytest.mark.parametrize("pooled", [False, True])
def test_no_rows_no_edges(monkeypatch: pytest.MonkeyPatch, pooled: bool) -> None:
    """No elements (an empty range, a level matching no event of it): no edge and no path, as the
    whole-log kernels say (the quantiles' groups of edges once raised IndexError)."""
    if pooled:
        monkeypatch.setattr(journeys_ranges, "PARALLEL_MIN", 0)
        monkeypatch.setattr(grouping, "WORKERS", 3)
    whole = (np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
    for ids in (np.int64, np.int32):
        c, ts, node = np.zeros(0, dtype=ids), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
        for collapse in (True, False):
            got = threaded_transitions(_Spec(collapse))(c, ts, node)  # type: ignore[arg-type]
            assert got == seq_transitions(whole, collapse) == []
            top, totals = threaded_paths(_Spec(collapse))(c, ts, node)  # type: ignore[arg-type]
            assert (
                (top, totals)
                == seq_paths(whole, collapse, 4, 1_000_000)
                == ([], {"customers": 0, "paths": 0})
            )


@pytest.mark.parametrize("text_ids", [False, True])
def test_api_empty_range_and_level(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, text_ids: bool) -> None:
    """End to end on Parquet and on its store (integer and text ids): a range with no event, and a
    range whose events are none of the model's (the stage level has no element, the event level
    has): transitions and paths answer (no edge, no customer at the stage level), as the portable
    plan does."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import hourglass
    from hourglass.interfaces import journeys_api as hg
    from hourglass.model.journey import JourneyModel

    rng = np.random.default_rng(4)
    m = 2000
    ids = rng.integers(1, 300, m)
    names = np.array(["visit", "signup", "purchase"])[rng.integers(0, 3, m)]
    ts = 1_700_000_000_000_000 + rng.integers(0, 10**6, m) * 10**6  # Nov 2023
    later = rng.random(m) < 0.2  # June 2024: none of the model's events
    ts[later] = 1_718_000_000_000_000 + rng.integers(0, 10**5, int(later.sum())) * 10**6
    names[later] = "other"
    t = pa.table(
        {
            "customer_id": [f"c{i}" for i in ids] if text_ids else ids,
            "timestamp": pa.array(ts.tolist(), pa.timestamp("us")),
            "event": names.tolist(),
        }
    )
    path = str(tmp_path / "ev.parquet")
    pq.write_table(t, path)
    store = str(tmp_path / "ev.store.duckdb")
    hourglass.ingest_store(path, store)
    model = JourneyModel.from_dict(
        {
            "name": "m",
            "kind": "funnel",
            "stages": [
                {"name": "visit", "events": ["visit"]},
                {"name": "signup", "events": ["signup"]},
                {"name": "purchase", "events": ["purchase"]},
            ],
        }
    )
    empty = {"since": "2030-01-01", "until": "2030-02-01"}
    others = {"since": "2024-06-01", "until": "2024-07-01"}

    def answers(src: str, level: str, kw: dict[str, str]) -> list[Any]:
        tr = hg.transitions(src, model, level=level, **kw).to_dict()
        pa_ = hg.paths(src, model, level=level, steps=4, top=10, **kw).to_dict()
        if kw is empty or level == "stage":
            assert tr["edges"] == [] and tr["customers"] == 0, (src, level, kw)
            assert pa_["customers"] == 0 and pa_["distinct_paths"] == 0, (src, level, kw)
        else:
            assert tr["edges"] and pa_["customers"], (src, level, kw)
        return [_plain(tr), _plain(pa_)]

    for src in (path, store):
        monkeypatch.setenv("HOURGLASS_PLAN", "auto")
        for level in ("stage", "event"):
            for kw in (empty, others):
                answers(src, level, kw)
        fast = answers(src, "stage", others)
        monkeypatch.setenv("HOURGLASS_PLAN", "portable")
        assert fast == answers(src, "stage", others), src
