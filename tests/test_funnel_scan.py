"""The sequential-scan plan on files (engine/fastpath_scan.py, engine/funnel_scan.py; issue 18):
seeded random logs of returning customers (many entries each, funnel events out of order as noise),
integer customer ids (sorted in numpy) and text ids (sorted by DuckDB), the ranges of customers in
threads, against the portable Ibis plan (the reference); and the exact, cheaper trim gate of the
canonical event text (ingest/normalize.py ``strip``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import hourglass
from hourglass.engine import fastpath_scan, funnel_scan, grouping, quick_sql
from hourglass.ingest.normalize import EDGE_SPACE
from test_funnel_properties import forced_plan

STEPS = ["visit", "signup", "trial", "buy"]
NOISE = ["browse", "help"]


def returning_log(seed: int, customers: int, text_ids: bool) -> pd.DataFrame:
    """A log of customers who come back: each walks the journey 1-6 times from random times (each
    walk stops at a random step), plus noise and funnel events at random times (out of order)."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(-(2**62), 2**62, 2**40, dtype=np.int64), size=customers, replace=False)
    rows: list[tuple[Any, str, int]] = []
    for cid in ids.tolist():
        walks = int(rng.integers(1, 7))
        for _ in range(walks):
            t = int(rng.integers(0, 30 * 86_400))
            for step in STEPS[: int(rng.integers(1, len(STEPS) + 1))]:
                rows.append((cid, step, t))
                t += int(rng.choice([0, 1, 60, 3_600, 86_400, 4 * 86_400]))
        for _ in range(int(rng.integers(0, 6))):
            rows.append((cid, str(rng.choice(NOISE + STEPS)), int(rng.integers(0, 30 * 86_400))))
    order = rng.permutation(len(rows))
    customer = [rows[i][0] for i in order]
    return pd.DataFrame(
        {
            "customer_id": [f"c{c}" for c in customer] if text_ids else np.array(customer, dtype=np.int64),
            "event": [rows[i][1] for i in order],
            "timestamp": pd.to_datetime(
                np.array([rows[i][2] for i in order], dtype=np.int64) + 1_704_067_200, unit="s"
            ),
        }
    )


@contextlib.contextmanager
def file_scan(key_bits: int | None) -> Iterator[list[str]]:
    """The scan plan on files of any size, every range of customers in the thread pool; ``key_bits``:
    a smaller key budget (many ranges). Yields the scans run ("file", "file of integer ids", "store")."""
    before = (
        fastpath_scan.SCAN_MIN_ROWS,
        fastpath_scan.SCAN_FILES,
        grouping.PARALLEL_MIN,
        grouping.WORKERS,
        grouping.KEY_BITS,
        fastpath_scan.run_scan,
    )
    calls: list[str] = []
    real = fastpath_scan.run_scan

    def spy(*args: Any, **kwargs: Any) -> Any:
        kind = "store" if kwargs.get("steps_sql") is not None else "file"
        calls.append(kind + (" of integer ids" if kwargs.get("integer") else ""))
        return real(*args, **kwargs)

    fastpath_scan.SCAN_MIN_ROWS, fastpath_scan.SCAN_FILES, grouping.PARALLEL_MIN = 0, True, 0
    grouping.WORKERS = 3  # customers in three sets (integer ids), ranges in three threads
    fastpath_scan.run_scan = spy
    if key_bits is not None:
        grouping.KEY_BITS = key_bits
    try:
        yield calls
    finally:
        (
            fastpath_scan.SCAN_MIN_ROWS,
            fastpath_scan.SCAN_FILES,
            grouping.PARALLEL_MIN,
            grouping.WORKERS,
            grouping.KEY_BITS,
            fastpath_scan.run_scan,
        ) = before


def _rows(result: Any) -> list[dict[str, Any]]:
    out = []
    for row in result.rows():
        out.append({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()})
    return out


@settings(max_examples=12, deadline=None, print_blob=True, derandomize=True)
@given(
    seed=st.integers(0, 2**31),
    customers=st.integers(1, 40),
    text_ids=st.booleans(),
    key_bits=st.sampled_from([None, 0, 44]),
    window=st.sampled_from([60, 3_600, 86_400, 7 * 86_400]),
    ranged=st.booleans(),
    steps=st.integers(2, 4),
)
def test_file_scan_equals_the_portable_plan(
    seed: int, customers: int, text_ids: bool, key_bits: int | None, window: int, ranged: bool, steps: int
) -> None:
    df = returning_log(seed, customers, text_ids)
    options: dict[str, Any] = {"window": window}
    if ranged:
        options.update(since="2024-01-05", until="2024-01-25")
    note(f"seed={seed} customers={customers} text_ids={text_ids} key_bits={key_bits} {options}")
    with forced_plan("portable"):
        want = hourglass.funnel(df, STEPS[:steps], **options)
    with forced_plan("fast"), file_scan(key_bits) as calls:
        got = hourglass.funnel(df, STEPS[:steps], **options)
    assert calls == ["file" if text_ids else "file of integer ids"]
    assert got.meta["plan"] == "fast"
    assert _rows(got) == _rows(want)


def test_threads_and_one_thread_give_the_same_row() -> None:
    # the kernel alone: the ranges in threads or in turn, the rows sorted or not (integer ids in
    # sets of customers): the same numbers, medians and p90s
    df = returning_log(7, 300, text_ids=False)
    ids = df.customer_id.to_numpy()
    ts = (df.timestamp.astype("int64") // 1_000).to_numpy()
    step = df.event.map({s: k for k, s in enumerate(STEPS, start=1)}).fillna(0).astype(np.int16).to_numpy()
    order = np.lexsort((ts, ids))
    codes = funnel_scan.numbered(ids[order])
    rows = []
    for parallel_min, workers in ((0, 3), (0, 2), (10**12, 1)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(grouping, "PARALLEL_MIN", parallel_min)
            mp.setattr(grouping, "WORKERS", workers)
            mp.setattr(grouping, "KEY_BITS", 30)  # many ranges
            rows.append(funnel_scan.funnel_scan_rows(codes, ts[order], step[order], 4, 86_400 * 10**6))
            per_step = [(codes[step[order] == k], ts[order][step[order] == k]) for k in range(1, 5)]
            rows.append(funnel_scan.funnel_scan(per_step, 86_400 * 10**6))
            rows.append(funnel_scan.funnel_scan_unsorted(ids, ts, step, 4, 86_400 * 10**6))
            mp.setattr(grouping, "MULT", 0)  # every customer's hash the same: sorted apart by id
            rows.append(funnel_scan.funnel_scan_unsorted(ids, ts, step, 4, 86_400 * 10**6))
    assert all(row == rows[0] for row in rows)
    assert rows[0]["c2"] > 0


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(0, 9), max_size=60),
    st.sampled_from([grouping.MULT, 0, 1, 2**63]),
)
def test_grouped_keeps_each_customers_rows_together(ids: list[int], mult: int) -> None:
    # the rows in an order that keeps each id's rows together, whatever the hash (0: all collide)
    c = np.array(ids, dtype=np.int64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grouping, "MULT", mult)
        order, grouped = grouping.group_ids(c)
    assert sorted(order.tolist()) == list(range(len(ids)))
    assert grouped.tolist() == c[order].tolist()
    runs = [g for i, g in enumerate(grouped.tolist()) if i == 0 or g != grouped[i - 1]]
    assert len(runs) == len(set(ids))


def test_the_trim_gate_is_the_regex_everywhere() -> None:
    # ingest/normalize.py strip: the regex runs only where an edge may be white space; every value
    # gives what the regex alone gives (values of edge characters <= ' ', multi-byte characters)
    assert quick_sql._EDGE_SPACE == EDGE_SPACE
    alphabet = [" ", "\t", "\n", "\v", "\f", "\r", "\x01", "\x1f", "a", "é", "\u00a0", "\u2003"]
    rng = np.random.default_rng(3)
    values = ["", "a"] + ["".join(rng.choice(alphabet, size=rng.integers(1, 5))) for _ in range(3000)]
    con = duckdb.connect()
    con.execute("CREATE TABLE v AS SELECT unnest($1::VARCHAR[]) AS x", [values])
    gated = quick_sql._strip("x")
    regex = "REGEXP_REPLACE(x, '^\\s+|\\s+$', '', 'g')"
    bad = con.execute(f"SELECT x FROM v WHERE ({gated}) IS DISTINCT FROM ({regex})").fetchall()
    assert bad == []
    import ibis

    from hourglass.ingest.normalize import strip

    t = ibis.memtable({"x": values})
    got = ibis.duckdb.connect().execute(t.select(y=strip(t.x)))
    want = [r[0] for r in con.execute(f"SELECT {regex} FROM v").fetchall()]
    assert got.y.tolist() == want


def test_the_scan_runs_without_huge_pages_and_restores_numpy_setting() -> None:
    # engine/fastpath_scan.py small_pages: numpy's madvise of huge pages off during the scan (page
    # faults compacting memory: 5 of 11 CPU-s at 50M), numpy's own setting restored after
    setter = np._core.multiarray._set_madvise_hugepage
    seen: list[bool] = []
    real = funnel_scan.funnel_scan_unsorted

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(bool(np._core.multiarray._get_madvise_hugepage()))
        return real(*args, **kwargs)

    before = setter(True)
    try:
        with file_scan(None), pytest.MonkeyPatch.context() as mp:
            mp.setattr(fastpath_scan, "funnel_scan_unsorted", spy)
            hourglass.funnel(returning_log(1, 5, text_ids=False), STEPS)
        assert seen == [False]
        assert np._core.multiarray._get_madvise_hugepage()
    finally:
        setter(before)


def test_small_pages_overlapping_users_restore_once() -> None:
    """engine/_pages.py: the first of overlapping users (the dashboard's view threads) turns numpy's
    huge pages off, the last restores them, also after an error."""
    import threading

    from hourglass.engine._pages import small_pages

    setter = np._core.multiarray._set_madvise_hugepage
    before = setter(True)
    setter(True)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def a() -> None:
        with small_pages():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with small_pages():
            b_in.set()
            a_out.wait(5)
            seen.append(bool(setter(False)))  # still off after A left (A entered first)

    try:
        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert seen == [False]
        assert bool(setter(True)) is True  # the last user restored it
        with pytest.raises(ValueError), small_pages():
            raise ValueError("a scan's error")
        assert bool(setter(True)) is True
    finally:
        setter(before)
