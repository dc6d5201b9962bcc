"""engine/grouping.py and the funnel scan's threads (issue 18): the sets of customers grouped without
compressing the rows by set, each set's kernel in its own thread; exact across set and range
boundaries (many customers, one customer, bots), against the one-set answer and the portable plan;
and the split does happen above the threshold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hourglass
from hourglass.engine import funnel_scan, grouping
from test_funnel_properties import forced_plan
from test_funnel_scan import STEPS, _rows, file_scan, returning_log

DAY = 86_400 * 10**6


def _arrays(df: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids = df.customer_id.to_numpy()
    ts = (df.timestamp.astype("int64") // 1_000).to_numpy()
    step = df.event.map({s: k for k, s in enumerate(STEPS, start=1)}).fillna(0).astype(np.int16).to_numpy()
    return ids, ts, step


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(0, 9), max_size=80),
    st.integers(1, 5),
    st.sampled_from([grouping.MULT, 0, 1, 2**63, 3]),
)
def test_grouped_sets_partition_the_customers(ids: list[int], ways: int, mult: int) -> None:
    # every row in exactly one set, each customer's rows together, in one set, in row order
    c = np.array(ids, dtype=np.int64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grouping, "MULT", mult)
        sets = grouping.grouped_sets(c, ways, lambda order, grouped: (order, grouped))
    assert len(sets) == (ways if len(ids) >= 2 else 1)
    assert sorted(i for order, _ in sets for i in order.tolist()) == list(range(len(ids)))
    owner: dict[int, int] = {}
    for w, (order, grouped) in enumerate(sets):
        assert grouped.tolist() == c[order].tolist()
        runs = [g for i, g in enumerate(grouped.tolist()) if i == 0 or g != grouped[i - 1]]
        assert len(runs) == len(set(runs))  # together
        for g in runs:
            assert owner.setdefault(g, w) == w  # in one set
        for g in runs:
            rows = order[grouped == g].tolist()
            assert rows == sorted(rows)  # the customer's rows in their order


@pytest.mark.parametrize("customers", [1, 2, 700])
@pytest.mark.parametrize("workers", [2, 3, 4])
def test_threaded_sets_and_ranges_equal_one_thread(customers: int, workers: int) -> None:
    # the kernel in sets of customers and ranges of each set, in threads, against one set, one range
    ids, ts, step = _arrays(returning_log(11, customers, text_ids=False))
    if customers == 2:  # plus a bot: visit/signup alternating, 5,000 events
        bot = np.full(5_000, ids[0] ^ 12345, dtype=np.int64)
        ids = np.concatenate([ids, bot])
        ts = np.concatenate([ts, ts.min() + np.arange(5_000, dtype=np.int64) * 10**6])
        step = np.concatenate([step, np.tile(np.array([1, 2], dtype=np.int16), 2_500)])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grouping, "PARALLEL_MIN", 10**12)
        one = funnel_scan.funnel_scan_unsorted(ids, ts, step, 4, 7 * DAY)
        mp.setattr(grouping, "PARALLEL_MIN", 0)
        mp.setattr(grouping, "WORKERS", workers)
        mp.setattr(grouping, "KEY_BITS", 30)  # many ranges
        threaded = funnel_scan.funnel_scan_unsorted(ids, ts, step, 4, 7 * DAY)
        ranged = funnel_scan.funnel_scan_unsorted(ids, ts, step, 4, 7 * DAY, since=int(ts.min()) + DAY)
        mp.setattr(grouping, "PARALLEL_MIN", 10**12)
        ranged_one = funnel_scan.funnel_scan_unsorted(ids, ts, step, 4, 7 * DAY, since=int(ts.min()) + DAY)
    assert threaded == one
    assert ranged == ranged_one
    assert one["c1"] == len(set(ids[step == 1].tolist()))


def test_the_split_happens_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # a log above PARALLEL_MIN: WORKERS sets (a file), several ranges of customers in threads (a
    # store's steps); below it: one set, one range
    ids, ts, step = _arrays(returning_log(5, 400, text_ids=False))
    seen: list[tuple[int, int]] = []
    real = grouping.run_ranges

    def spy(fn: Any, count: int, workers: int | None = None) -> Any:
        seen.append((count, count if workers is None else workers))
        return real(fn, count, workers)

    monkeypatch.setattr(funnel_scan, "run_ranges", spy)
    monkeypatch.setattr(grouping, "run_ranges", spy)
    monkeypatch.setattr(grouping, "WORKERS", 2)
    monkeypatch.setattr(grouping, "PARALLEL_MIN", len(ids))  # exactly at it: split
    funnel_scan.funnel_scan_unsorted(ids, ts, step, 4, DAY)
    assert (2, 2) in seen  # the slices' sorts and the sets' merges and kernels in two threads
    seen.clear()
    codes = funnel_scan.numbered(np.sort(ids))
    order = np.argsort(ids, kind="stable")
    per_step = [(codes[step[order] == k], ts[order][step[order] == k]) for k in range(1, 5)]
    monkeypatch.setattr(grouping, "PARALLEL_MIN", len(per_step[0][0]))
    funnel_scan.funnel_scan(per_step, DAY)
    assert len(seen) == 1 and seen[0][0] >= 4 and seen[0][1] == 2  # >= 2 x WORKERS ranges, 2 threads
    seen.clear()
    monkeypatch.setattr(grouping, "PARALLEL_MIN", len(ids) + 1)
    funnel_scan.funnel_scan_unsorted(ids, ts, step, 4, DAY)
    assert all(workers == 1 for _, workers in seen)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), customers=st.integers(1, 60), workers=st.integers(2, 4))
def test_threaded_file_scan_equals_the_portable_plan(seed: int, customers: int, workers: int) -> None:
    df = returning_log(seed, customers, text_ids=False)
    with forced_plan("portable"):
        want = hourglass.funnel(df, STEPS, window=86_400)
    with forced_plan("fast"), file_scan(30) as calls, pytest.MonkeyPatch.context() as mp:
        mp.setattr(grouping, "WORKERS", workers)
        got = hourglass.funnel(df, STEPS, window=86_400)
    assert calls == ["file of integer ids"]
    assert _rows(got) == _rows(want)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(-(10**6), 2**60), min_size=1, max_size=300),
    st.lists(st.floats(0, 1), min_size=1, max_size=3),
)
def test_quantiles_are_numpys_bit_for_bit(values: list[int], qs: list[float]) -> None:
    # the summary's medians and p90s without np.quantile (it imports numpy.ma on first use: 0.05 s
    # of a fresh process's call on one thread): the same floats
    v = np.array(values, dtype=np.int64)
    want = np.quantile(v.astype(np.float64) / 1_000_000, qs)
    assert funnel_scan.quantiles(v, qs, 1_000_000) == [float(x) for x in want]


def test_funnel_scans_workers_follow_groupings(monkeypatch: pytest.MonkeyPatch) -> None:
    # funnel_scan.WORKERS / PARALLEL_MIN (read by the dashboard's batch and breakdown scans) are
    # grouping's at the time of asking, not copies made at import
    monkeypatch.setattr(grouping, "WORKERS", 7)
    monkeypatch.setattr(grouping, "PARALLEL_MIN", 3)
    from hourglass.engine.funnel_scan import PARALLEL_MIN, WORKERS

    assert (WORKERS, PARALLEL_MIN) == (7, 3)
    assert not hasattr(funnel_scan, "_grouped")
