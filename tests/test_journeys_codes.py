"""A store of text names (past ``ENUM_MAX_NAMES``) keeps each row's name numbered in name order
(``hg_event_code``) with the numbers' names (``hg_event_names``), engine/event_store.py; the event
level of ``paths`` and ``transitions`` reads those integers (engine/journeys_codes.py). Its answers
equal the portable plan's and the general path's (names numbered as read) on names whose text order
is not obvious (case, accents, digits, quotes, a prefix of another), ties in time between names,
UINT64 ids past 2^63, one customer, an empty period; a store written before the numbers (no such
column or table) still opens and answers the same by the general path."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.engine import event_store, journeys_codes, journeys_fast
from test_journeys_fast import _plain, _same

NAMES = [
    "visit",
    "view",
    "signup",
    "pay",
    "a",
    "A",
    "B",
    "b",
    "a b",
    "ab",
    "é",
    "e",
    "Z9",
    "z10",
    "it's",
    'say "hi"',
    "ü",
    "0",
    "10",
    "9",
]
BASE = 1_704_067_200_000_000  # 2024-01-01 in µs


def _table(customers: Any, seed: int, m: int = 1500) -> pa.Table:
    rng = np.random.default_rng(seed)
    names = NAMES + [f"n{k:03d}" for k in range(40)]
    pick = rng.integers(0, len(names), m)
    pick[: len(names)] = np.arange(len(names))  # every name occurs
    return pa.table(
        {
            "customer_id": customers(rng, m),
            "event": pa.array([names[k] for k in pick]),
            # minutes: many ties in time, between different names of one customer
            "timestamp": pa.array(BASE + rng.integers(0, 200, m) * 60_000_000, pa.timestamp("us")),
        }
    )


def _store(tmp_path: Path, table: pa.Table, monkeypatch: pytest.MonkeyPatch, name: str = "s") -> Path:
    src = tmp_path / f"{name}.parquet"
    pq.write_table(table, src)
    store = tmp_path / f"{name}.duckdb"
    with monkeypatch.context() as mp:
        mp.setattr(event_store, "ENUM_MAX_NAMES", 20)  # text names
        hourglass.ingest_store(str(src), str(store))
    return store


def _spied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = journeys_codes.code_names

    def spied(events: Any, database: str, *, lazy: bool = False) -> Any:
        got = real(events, database, lazy=lazy)
        calls.append(len(got))
        return got

    monkeypatch.setattr(journeys_fast, "code_names", spied)
    return calls


def _text_ids(rng: np.random.Generator, m: int) -> pa.Array:
    return pa.array([f"c{k}" for k in rng.integers(0, 60, m)])


def _far_ids(rng: np.random.Generator, m: int) -> pa.Array:
    c = rng.integers(0, 60, m).astype(np.uint64) + np.uint64(2**63)
    c[:50] = rng.integers(0, 5, 50).astype(np.uint64)  # and small ones: a span past 2^63
    return pa.array(c, pa.uint64())


def _one(rng: np.random.Generator, m: int) -> pa.Array:
    return pa.array(["only"] * m)


@pytest.mark.parametrize("ids", [_text_ids, _far_ids, _one])
def test_the_codes_answer_as_the_portable_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ids: Any
) -> None:
    store = _store(tmp_path, _table(ids, 3), monkeypatch)
    calls = _spied(monkeypatch)
    ev = hourglass.events(str(store))
    assert ev.codes is None and journeys_codes.codes_database(ev) is not None
    _same(ev, "event", True, 8, {})
    _same(ev, "event", False, 3, {})
    _same(ev, "event", True, 4, {"since": datetime(2024, 1, 1, 1, 0), "until": datetime(2024, 1, 1, 2, 0)})
    _same(ev, "event", True, 4, {"since": datetime(2025, 1, 1)})  # an empty period
    # paths and transitions in a period, twice each (the others: the rows' places,
    # engine/store_paths.py, tests/test_store_paths.py)
    assert calls == [len(NAMES) + 40] * 4
    _same(ev, "stage", True, 4, {})  # the stage level: the text, as before


def test_the_numbers_are_the_name_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, _table(_text_ids, 4), monkeypatch)
    con = duckdb.connect(str(store), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM hg_event_names ORDER BY code").fetchall()]
        codes = [r[0] for r in con.execute("SELECT code FROM hg_event_names ORDER BY code").fetchall()]
        wrong = con.execute(
            "SELECT count(*) FROM hg_events AS e JOIN hg_event_names AS n ON n.code = e.hg_event_code "
            "WHERE n.name <> e.event"
        ).fetchone()
        view = [d[0] for d in con.execute("SELECT * FROM events LIMIT 0").description]
    finally:
        con.close()
    assert codes == list(range(len(names))) and names == sorted(names)  # Python's order: code points
    assert wrong == (0,)
    assert "hg_event_code" not in view  # the store's events as before


def test_a_store_written_before_the_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(_text_ids, 5)
    store = _store(tmp_path, table, monkeypatch)
    con = duckdb.connect(str(store))
    try:
        con.execute("ALTER TABLE hg_events DROP COLUMN hg_event_code")
        con.execute("DROP TABLE hg_event_names")
    finally:
        con.close()
    calls = _spied(monkeypatch)
    ev = hourglass.events(str(store))
    assert journeys_codes.codes_database(ev) is None
    _same(ev, "event", True, 8, {})
    assert calls == []
    new = hourglass.events(str(_store(tmp_path, table, monkeypatch, "new")))
    for spec in ({"depth": 8}, {"depth": 3, "collapse": False}):
        old = hourglass.paths(ev, level="event", top=20, **spec).to_dict()
        got = hourglass.paths(new, level="event", top=20, **spec).to_dict()
        assert _plain(got) == _plain(old)  # both fast: the numbers against the names numbered as read
    got_t = hourglass.transitions(new, level="event").to_dict()
    assert _plain(got_t) == _plain(hourglass.transitions(ev, level="event").to_dict())
    assert calls == []  # the new store's paths and transitions: engine/store_paths.py


def test_a_property_of_the_columns_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source column named as the numbers' column: the store keeps it as a property, no numbers."""
    table = _table(_text_ids, 6).append_column("hg_event_code", pa.array(np.arange(1500) % 7))
    ev = hourglass.events(str(_store(tmp_path, table, monkeypatch)))
    assert journeys_codes.codes_database(ev) is None
    _same(ev, "event", True, 8, {})


def test_the_names_read_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths read the names lazily (their length counted); a names table not in the numbers' order
    (not as written) is put in order."""
    table = _table(_text_ids, 7)
    shuffled = _store(tmp_path, table, monkeypatch, "t")
    con = duckdb.connect(str(shuffled))
    try:
        con.execute("CREATE TABLE shuffled AS SELECT * FROM hg_event_names ORDER BY hash(name)")
        con.execute("DROP TABLE hg_event_names")
        con.execute("ALTER TABLE shuffled RENAME TO hg_event_names")
        codes = [r[0] for r in con.execute("SELECT code FROM hg_event_names").fetchall()]
        assert codes != sorted(codes)  # read as stored: not in the numbers' order
    finally:
        con.close()
    ev = hourglass.events(str(_store(tmp_path, table, monkeypatch)))
    db = journeys_codes.codes_database(ev)
    assert db is not None
    full = journeys_codes.code_names(ev, db)
    lazy = journeys_codes.code_names(ev, db, lazy=True)
    assert isinstance(lazy, journeys_codes.StoreNames) and isinstance(full, list)
    assert len(lazy) == len(full) == len(NAMES) + 40
    assert [lazy[k] for k in range(len(full))] == full and lazy[-1] == full[-1] and lazy[2:5] == full[2:5]
    with pytest.raises(IndexError):
        lazy[len(full)]
    other = hourglass.events(str(shuffled))
    db = journeys_codes.codes_database(other)
    assert db is not None and journeys_codes.code_names(other, db) == full
    for spec in ({"depth": 8}, {"depth": 3, "collapse": False}):
        got = hourglass.paths(other, level="event", top=20, **spec).to_dict()
        assert _plain(got) == _plain(hourglass.paths(ev, level="event", top=20, **spec).to_dict())
    got_t = hourglass.transitions(other, level="event").to_dict()
    assert _plain(got_t) == _plain(hourglass.transitions(ev, level="event").to_dict())
    _same(other, "event", True, 8, {})
