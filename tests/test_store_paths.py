"""The event level of ``paths`` on a store of text names from each customer's first rows, and its
rows in order for ``transitions`` (engine/store_paths.py, the rows' places ``hg_seq`` written at
ingest, engine/store_codes.py): the portable plan's answers on names whose order is not obvious,
ties in time between names, names repeated in long runs (read further, several times), rows equal
in (customer, time, name), depths 1-8, collapse on and off, many paths tied at the top; the
transitions bit for bit the sort's; the declines (a period, a store without the places, a source
column of that name, places not as written) and the hash's fallback."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import hourglass
from hourglass.engine import journeys_fast, journeys_paths, store_order, store_paths
from hourglass.interfaces import journeys_api as hg
from test_journeys_codes import NAMES, _store
from test_journeys_fast import _approx, _plain, portable

BASE = 1_704_067_200_000_000  # 2024-01-01 in µs


def _table(seed: int, m: int = 1500) -> pa.Table:
    """Text ids, 60 names, times in minutes (ties between names), and customers whose rows repeat
    one name in long runs (one of 400 rows of one name: read further four times)."""
    rng = np.random.default_rng(seed)
    names = NAMES + [f"n{k:03d}" for k in range(40)]
    pick = rng.integers(0, len(names), m)
    pick[: len(names)] = np.arange(len(names))  # every name occurs
    ids = [f"c{k}" for k in rng.integers(0, 80, m)]
    minutes = rng.integers(0, 200, m)
    for r, (who, name) in enumerate([("long", 0), ("long2", 5)] * 200):  # runs far past 9 rows
        ids.append(who)
        pick = np.append(pick, name if r < 380 else r % 7)
        minutes = np.append(minutes, r)
    for r in range(30):  # a run of 12 then others: read once more
        ids.append("mid")
        pick = np.append(pick, 3 if r < 12 else r % 11)
        minutes = np.append(minutes, r)
    n = len(ids)
    return pa.table(
        {
            "customer_id": pa.array(ids),
            "event": pa.array([names[k] for k in pick]),
            "timestamp": pa.array(BASE + minutes * 60_000_000, pa.timestamp("us")),
            "channel": pa.array([("a", "b", None)[k % 3] for k in range(n)]),  # rows equal but this
        }
    )


def _spied(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[bool]:
    """Whether each call of ``module``'s ``name`` (as journeys_fast calls it) answered (not None)."""
    calls: list[bool] = []
    real = getattr(module, name)

    def spied(events: Any, spec: Any) -> Any:
        got = real(events, spec)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(journeys_fast, name, spied)
    return calls


@pytest.fixture
def ordered(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each fast transitions call was ordered here (not declined)."""
    return _spied(monkeypatch, store_order, "store_sorted")


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each fast paths call was answered here (not declined)."""
    return _spied(monkeypatch, store_paths, "store_paths")


def _same(ev: Any, **kw: Any) -> None:
    got = hg.paths(ev, level="event", **kw).to_dict()
    with portable():
        want = hg.paths(ev, level="event", **kw).to_dict()
    assert _plain(got) == _plain(want)


def test_the_places_answer_as_the_portable_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answered: list[bool]
) -> None:
    ev = hourglass.events(str(_store(tmp_path, _table(1), monkeypatch)))
    for depth in (1, 2, 3, 8):
        for collapse in (True, False):
            _same(ev, depth=depth, collapse=collapse, top=40)  # ties at the top's last count
    _same(ev, depth=8, top=1000)  # every path
    _same(ev, depth=4, top=1)
    assert answered == [True] * 10


def test_the_transitions_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ordered: list[bool]
) -> None:
    """Every row put at its place: the sort's order exactly (bit for bit its answer), the portable
    plan's answer (its quantiles to 1e-9 relative)."""
    ev = hourglass.events(str(_store(tmp_path, _table(7), monkeypatch)))
    got_true: dict[str, Any] = {}
    for collapse in (True, False):
        got = _plain(hg.transitions(ev, level="event", collapse=collapse).to_dict())
        got_true = got_true or got
        with monkeypatch.context() as mp:
            mp.setattr(store_order, "ENABLED", False)
            assert got == _plain(hg.transitions(ev, level="event", collapse=collapse).to_dict())
        with portable():
            want = hg.transitions(ev, level="event", collapse=collapse).to_dict()
        _approx(got, _plain(want))
    hg.transitions(ev, level="event", since=datetime(2024, 1, 1, 1, 0))  # a period: declined
    assert ordered == [True, False, True, False, False]
    monkeypatch.setattr(store_order, "BATCH_ROWS", 97)  # many batches, put in place in two threads
    assert _plain(hg.transitions(ev, level="event").to_dict()) == got_true
    assert ordered[-1]


@pytest.mark.parametrize(
    ("changes", "answers"),
    [
        (["UPDATE hg_customers SET events = events + 1 WHERE key = 0"], True),  # not the rows in all
        (
            [
                "UPDATE hg_customers SET events = events + 1 WHERE key = 0",
                "UPDATE hg_customers SET events = events - 1 WHERE key = 1",
            ],
            True,
        ),
        (["UPDATE hg_customers SET key = key + 100000 WHERE key = 0"], True),  # keys not dense
        (["UPDATE hg_customers SET events = NULL WHERE key = 0"], True),
        (  # the places and the counts moved together: every slot filled once by the store's counts
            [
                "UPDATE hg_events SET hg_seq = hg_seq + 1 WHERE customer = 1",
                "UPDATE hg_customers SET events = events - 1 WHERE key = 0",
                "UPDATE hg_customers SET events = events + 1 WHERE key = 1",
            ],
            False,
        ),
    ],
)
def test_the_stores_counts_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ordered: list[bool], changes: list[str], answers: bool
) -> None:
    """The customers' starts come from the store's counts (``hg_customers``): where they are not
    the rows' own, the rows are put in place from their own counts (in threads here): the sort's
    answer, or the decline where the places are wrong."""
    store = _store(tmp_path, _table(8), monkeypatch)
    con = duckdb.connect(str(store))
    try:
        for change in changes:
            con.execute(change)
    finally:
        con.close()
    monkeypatch.setattr(store_order, "PARALLEL_MIN", 1)
    ev = hourglass.events(str(store))
    got = _plain(hg.transitions(ev, level="event").to_dict())
    assert ordered == [answers]
    with monkeypatch.context() as mp:
        mp.setattr(store_order, "ENABLED", False)
        assert got == _plain(hg.transitions(ev, level="event").to_dict())


def test_the_later_rows_read_until_enough_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answered: list[bool]
) -> None:
    """The customers of long runs: their rows read in places [9, 36), [36, 144), [144, 576)."""
    reads: list[tuple[int, int, int]] = []
    real = store_paths._later

    def spied(raw: Any, table: str, keys: Any, dtype: Any, lo: int, hi: int) -> Any:
        reads.append((len(keys), lo, hi))
        return real(raw, table, keys, dtype, lo, hi)

    monkeypatch.setattr(store_paths, "_later", spied)
    ev = hourglass.events(str(_store(tmp_path, _table(2), monkeypatch)))
    _same(ev, depth=8, top=50)
    assert answered == [True]
    assert [r[1:] for r in reads] == [(9, 36), (36, 144), (144, 576)]
    assert reads[-1][0] == 2  # "long" and "long2"


def test_the_hash_falls_back_to_the_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answered: list[bool]
) -> None:
    """Every path of one hash (a multiplier of 0): the columns sorted, the same answer."""
    ev = hourglass.events(str(_store(tmp_path, _table(3), monkeypatch)))
    monkeypatch.setattr(journeys_paths, "MIX", np.uint64(0))
    _same(ev, depth=8, top=40)
    _same(ev, depth=3, collapse=False, top=40)
    assert answered == [True, True]


def test_the_places_written_at_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, _table(4), monkeypatch)
    con = duckdb.connect(str(store), read_only=True)
    try:
        wrong = con.execute(
            "SELECT count(*) FROM (SELECT hg_seq, row_number() OVER (PARTITION BY customer ORDER BY "
            '"timestamp", hg_event_code, hg_seq) - 1 AS r FROM hg_events) WHERE r <> hg_seq'
        ).fetchone()
        view = [d[0] for d in con.execute("SELECT * FROM events LIMIT 0").description]
        keyed = [d[0] for d in con.execute("SELECT * FROM hg_keyed LIMIT 0").description]
    finally:
        con.close()
    assert wrong == (0,)
    assert "hg_seq" not in view and "hg_seq" not in keyed


def test_the_declines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answered: list[bool]) -> None:
    table = _table(5)
    ev = hourglass.events(str(_store(tmp_path, table, monkeypatch)))
    _same(ev, depth=4, since=datetime(2024, 1, 1, 1, 0))  # a period: the places count every row
    assert answered == [False]
    old = _store(tmp_path, table, monkeypatch, "old")
    con = duckdb.connect(str(old))
    try:
        con.execute("ALTER TABLE hg_events DROP COLUMN hg_seq")  # a store written before the places
    finally:
        con.close()
    _same(hourglass.events(str(old)), depth=8, top=40)
    assert answered == [False, False]
    # a source column of that name (here each customer's places, as the store would write them)
    c_ids = table.column("customer_id").to_pylist()
    seen: dict[str, int] = {}
    places = [seen.__setitem__(k, seen.get(k, -1) + 1) or seen[k] for k in c_ids]
    prop = table.append_column("hg_seq", pa.array(places))
    _same(hourglass.events(str(_store(tmp_path, prop, monkeypatch, "prop"))), depth=8)
    assert answered == [False, False, False]  # a source column of that name: a property


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE hg_events SET hg_seq = 1 WHERE hg_seq = 2",  # two rows in one cell
        "UPDATE hg_events SET hg_seq = hg_seq + 1 WHERE hg_seq >= 1",  # a gap
        "UPDATE hg_events SET hg_seq = -1 WHERE hg_seq = 0",
        "UPDATE hg_events SET hg_seq = NULL WHERE hg_seq = 0",
        "UPDATE hg_events SET hg_seq = 40 WHERE hg_seq = 20",  # a gap past the first rows
        "UPDATE hg_events SET customer = customer + 100000 WHERE customer = 0",  # keys not dense
    ],
)
def test_places_not_as_written_decline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answered: list[bool], ordered: list[bool], change: str
) -> None:
    store = _store(tmp_path, _table(6), monkeypatch)
    con = duckdb.connect(str(store))
    try:
        con.execute(change)
    finally:
        con.close()
    ev = hourglass.events(str(store))
    hg.paths(ev, level="event", depth=8, top=5)
    assert answered == [False]
    hg.transitions(ev, level="event")
    assert ordered == [False]


@pytest.mark.parametrize("mix", [None, 0])
def test_hashed_groups_are_the_sorts(monkeypatch: pytest.MonkeyPatch, mix: int | None) -> None:
    """engine/journeys_paths.py ``hashed_groups``: the same groups as the columns sorted (paths of
    3 columns, many equal; every path of one hash with a multiplier of 0: the columns sorted)."""
    if mix is not None:
        monkeypatch.setattr(journeys_paths, "MIX", np.uint64(mix))
    rng = np.random.default_rng(8)
    cols = [rng.integers(0, 4, 5000) * (1 << 40) + rng.integers(0, 3, 5000) for _ in range(3)]
    order, starts = journeys_paths.hashed_groups(cols)
    assert sorted(order.tolist()) == list(range(5000))
    ends = [*starts.tolist()[1:], 5000]
    got = sorted(
        (tuple(int(c[order[a]]) for c in cols), b - a) for a, b in zip(starts.tolist(), ends, strict=True)
    )
    for a, b in zip(starts.tolist(), ends, strict=True):  # each group one path
        assert all(len({int(c[k]) for k in order[a:b].tolist()}) == 1 for c in cols)
    want: dict[tuple[int, ...], int] = {}
    for k in range(5000):
        key = tuple(int(c[k]) for c in cols)
        want[key] = want.get(key, 0) + 1
    assert got == sorted(want.items())
    assert journeys_paths.hashed_groups([np.zeros(0, np.int64)])[1].tolist() == [0]
