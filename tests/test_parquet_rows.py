"""engine/parquet_rows.py: the rows of a model's names read by pyarrow from one Parquet file are the
rows DuckDB's form (engine/raw_step.py's CASE, engine/raw_stages.py ``_scan``) keeps, with the same
positions: names with a blank edge of every kind raw_step trims (and ``\\v``, which it does not),
unicode, NULL and empty events, several row groups with customers split across them, a dictionary
chunk and a plain chunk in one file; and it declines what it does not handle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.engine import parquet_names, parquet_rows, raw_stages
from hourglass.engine.raw_step import raw_step
from hourglass.engine.snapshot import watching
from hourglass.model.journey import JourneyModel

NAMES = ["visit", "signup", "café", "ünï", "purchase", "a\x01"]
INDEX = [1, 2, 2, 3, 3, 3]
#: raw values around the names: every blank edge raw_step trims, `\v` and `\x01` it does not,
#: NBSP and ideographic space (not ASCII: not trimmed), empty, all blank, case
NOISY = [" visit", "visit ", "\tsignup", "signup\n", "\fcafé\r", "  ünï\t\t", "\vvisit", "visit\v"]
NOISY += ["\x01visit", "visit\x01", "a\x01", " a\x01 ", "\u00a0visit", "visit\u3000"]
NOISY += ["Visit", "CAFÉ", "caf", "cafés", "purchase ", " purchase", "purchas", "ünïcode"]
#: what validation rejects (HG402: no event), before any reader: the same error either way
EMPTY = ["", "   ", "\n", None]


def _events(n: int, seed: int, *, many: bool) -> list[str | None]:
    rng = np.random.default_rng(seed)
    out: list[str | None] = []
    for k in rng.integers(0, 100, n).tolist():
        if k < 30:
            out.append(NAMES[k % len(NAMES)])
        elif k < 45:
            out.append(NOISY[k % len(NOISY)])
        else:
            out.append(f"n{rng.integers(0, 10**6 if many else 7):06d}")
    return out


def _table(n: int, seed: int, *, many: bool, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed + 1)
    ts = (1_704_067_200_000_000 + rng.integers(0, 10**11, n)).astype("datetime64[us]")
    return pa.table(
        {
            "customer_id": pa.array(rng.integers(0, 300, n), pa.int64()),  # split across row groups
            "event": pa.array(_events(n, seed, many=many), pa.string()),
            "timestamp": pa.array(ts),
        }
    )


def _write(path: Path, dictionary_then_plain: bool = True) -> Path:
    """Row groups of 1,500 rows: the first ones of a few names (dictionary pages), the later ones
    of many (a small dictionary page limit: their pages fall back to PLAIN)."""
    few, many = _table(4000, 1, many=False), _table(5000, 2, many=True)
    with pq.ParquetWriter(path, few.schema, dictionary_pagesize_limit=2048) as w:
        w.write_table(few if dictionary_then_plain else many, row_group_size=1500)
        w.write_table(many if dictionary_then_plain else few, row_group_size=1500)
    return path


def _both(ev: Any) -> tuple[raw_stages.StageRows, raw_stages.StageRows]:
    got = raw_step(ev.keyed, [[n] for n in NAMES])
    assert got is not None
    duck = raw_stages._scan(ev, got[0], got[1], NAMES, INDEX)
    arrow = raw_stages._read(ev, NAMES, INDEX)
    assert arrow is not None
    return arrow, duck


def _ordered(rows: raw_stages.StageRows) -> tuple[list[int], list[int], list[int]]:
    k = np.lexsort((rows.node, rows.ts, rows.c))
    return rows.c[k].tolist(), rows.ts[k].tolist(), rows.node[k].tolist()


@pytest.fixture(autouse=True)
def _small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)


@pytest.mark.parametrize("block", [7, 1 << 16])
@pytest.mark.parametrize("share", [0.0, parquet_rows._DICTIONARY_SHARE, 1.0])
def test_the_rows_and_positions_are_duckdbs(
    share: float, block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet_rows, "_DICTIONARY_SHARE", share)  # text, per chunk, dictionary reads
    monkeypatch.setattr(parquet_names, "_BLOCK", block)  # the scan's blocks: many, a last short one
    path = _write(tmp_path / "mixed.parquet")
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups >= 6
    ev = hourglass.events(str(path))
    assert parquet_rows.parquet_source(ev) is not None
    arrow, duck = _both(ev)
    assert arrow.complete and duck.complete
    assert arrow.counts == duck.counts
    assert _ordered(arrow) == _ordered(duck)
    assert set(arrow.counts) == set(NAMES)  # every name, " a\x01 " and "\fcafé\r" trimmed to one


@pytest.mark.parametrize("block", [3, 1 << 16])
def test_a_blank_edge_is_told_exactly(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_names, "_BLOCK", block)  # blocks of 3 rows: nulls, empties across them
    names = parquet_names.Names(["visit", "a\x01"])

    def dense(arr: pa.Array) -> list[int]:
        rows, vals = names.chunk(arr)
        out = np.zeros(len(arr), np.int32)
        out[rows] = vals
        assert (np.diff(rows) > 0).all() and (vals > 0).all()
        return out.tolist()

    values = [" visit", "visit\v", "\vvisit", "\x01visit", "visit\x01", "a\x01", " a\x01", "", None, "visit"]
    got = dense(pa.array(values, pa.string()))
    assert got == [1, 0, 0, 0, 0, 2, 2, 0, 0, 1]
    assert dense(pa.array(values, pa.string()).dictionary_encode()) == got
    assert dense(pa.array(values, pa.large_string())) == got
    assert dense(pa.array(values, pa.string()).slice(3)) == got[3:]
    assert dense(pa.array(["", "", None, ""], pa.string())) == [0, 0, 0, 0]  # no bytes at all


@pytest.mark.parametrize("analysis", ["paths", "transitions"])
def test_the_answer_and_notes_are_the_duckdb_forms(
    analysis: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(_write(tmp_path / "mixed.parquet", dictionary_then_plain=False))
    model = JourneyModel.from_dict(
        {
            "name": "m",
            "kind": "funnel",
            "stages": [
                {"name": "v", "events": ["visit"]},
                {"name": "s", "events": ["signup", "café"]},
                {"name": "b", "events": ["purchase", "ünï"]},
                {"name": "gone", "events": ["absent"]},
            ],
        }
    )
    run = getattr(hourglass, analysis)
    ran: list[bool] = []
    read = raw_stages._read
    monkeypatch.setattr(raw_stages, "_read", lambda *a: ran.append(True) or read(*a))
    answers = []
    for reader in (True, False):
        monkeypatch.setattr(parquet_rows, "ARROW_READER", reader)
        got = run(path, model, level="stage")
        answers.append((got.to_dict(), got.meta.get("notes")))
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    portable = run(path, model, level="stage").to_dict()
    assert ran == [True, True]  # the reader ran first, declined when off
    for d in (*[a for a, _ in answers], portable):
        d.pop("meta", None)
    assert answers[0] == answers[1] and answers[0][0] == portable
    assert any("absent" in n for n in answers[0][1])


def test_declined_where_it_does_not_apply(tmp_path: Path) -> None:
    one = _write(tmp_path / "a.parquet")
    _write(tmp_path / "b.parquet")
    assert parquet_rows.parquet_source(hourglass.events(str(tmp_path / "*.parquet"))) is None  # a glob
    assert parquet_rows.parquet_source(hourglass.events(pq.read_table(one).to_pandas())) is None
    text = pq.read_table(one)
    text = text.set_column(0, "customer_id", text.column(0).cast(pa.string()))
    pq.write_table(text, tmp_path / "text.parquet")
    assert parquet_rows.parquet_source(hourglass.events(str(tmp_path / "text.parquet"))) is None


def test_nanosecond_times_fall_back_and_milliseconds_are_read(tmp_path: Path) -> None:
    base = pq.read_table(_write(tmp_path / "a.parquet"))
    for unit in ("ns", "ms"):
        t = base.set_column(2, "timestamp", base.column(2).cast(pa.timestamp(unit), safe=False))
        pq.write_table(t, path := tmp_path / f"{unit}.parquet", version="2.6")
        ev = hourglass.events(str(path))
        cols = parquet_rows.parquet_source(ev)
        assert cols is not None
        got = parquet_rows.name_rows(ev, cols, NAMES)
        if unit == "ns":
            assert got is None
        else:
            arrow, duck = _both(ev)
            assert _ordered(arrow) == _ordered(duck)


@pytest.mark.parametrize("empty", EMPTY)
def test_an_empty_or_null_event_is_validations_error_either_way(
    empty: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = _table(3000, 3, many=True)
    events = t.column(1).to_pylist()
    events[1700] = empty
    pq.write_table(t.set_column(1, "event", pa.array(events, pa.string())), path := tmp_path / "e.parquet")
    errors = []
    for reader in (True, False):
        monkeypatch.setattr(parquet_rows, "ARROW_READER", reader)
        with pytest.raises(hourglass.HourglassError) as info:
            hourglass.paths(str(path), "hourglass", level="stage")
        errors.append((info.value.code, str(info.value)))
    assert errors[0] == errors[1] and errors[0][0] == "HG402"


def test_a_damaged_page_is_duckdbs_error_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = _table(6000, 4, many=True)
    events = [e if e >= "!" else "visit" for e in t.column(1).to_pylist()]  # validated from statistics
    pq.write_table(
        t.set_column(1, "event", pa.array(events)), path := tmp_path / "d.parquet", row_group_size=2000
    )
    data = bytearray(path.read_bytes())
    chunk = pq.ParquetFile(path).metadata.row_group(1).column(1)  # an event chunk's pages
    at = chunk.data_page_offset + 40
    data[at : at + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    ran: list[bool] = []
    read = parquet_rows.name_parts
    monkeypatch.setattr(parquet_rows, "name_parts", lambda *a: ran.append(read(*a) is not None) or None)
    errors = []
    for reader in (True, False):
        monkeypatch.setattr(parquet_rows, "ARROW_READER", reader)
        with pytest.raises(hourglass.HourglassError) as info, watching():  # a command's run (the CLI's)
            hourglass.paths(str(path), "hourglass", level="stage")
        errors.append((info.value.code, str(info.value)))
    assert ran and not any(ran)  # pyarrow's reader met the damage and left it to DuckDB's form
    assert errors[0] == errors[1] and errors[0][0] == "HG206"


def test_the_reader_imports_no_pandas(tmp_path: Path) -> None:
    """A fresh process's stage level through the reader (blank edges, a dictionary and a plain
    chunk) does not import pandas (pyarrow's conversions of Python lists and numpy arrays do:
    ~0.3 s of the call)."""
    path = _write(tmp_path / "mixed.parquet")
    code = (
        "import sys, hourglass\n"
        "from hourglass.engine import parquet_names, parquet_rows, raw_stages\n"
        "parquet_rows.ARROW_MIN_ROWS = 0\n"
        "read = raw_stages._read\n"
        "raw_stages._read = lambda *a: print('read', read(*a) is not None) or read(*a)\n"
        "from hourglass.model.journey import JourneyModel\n"
        "stages = [{'name': n, 'events': [n]} for n in ['visit', 'signup', 'café', 'purchase']]\n"
        "model = JourneyModel.from_dict({'name': 'm', 'kind': 'funnel', 'stages': stages})\n"
        f"hourglass.paths({str(path)!r}, model, level='stage')\n"
        "print('pandas' in sys.modules)\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert got.stdout.split() == ["read", "True", "False"]


@pytest.mark.parametrize("kind", ["u64", "i32"])
def test_unsigned_and_narrow_customer_ids_are_duckdbs(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = _table(4000, 5, many=True)
    ids = t.column(0).to_numpy()
    if kind == "u64":  # past 2^63
        col = pa.array(ids.astype(np.uint64) + np.uint64(2**63), pa.uint64())
    else:
        col = pa.array(ids.astype(np.int32) - 150, pa.int32())
    pq.write_table(
        t.set_column(0, "customer_id", col), path := tmp_path / f"{kind}.parquet", row_group_size=1000
    )
    ev = hourglass.events(str(path))
    arrow, duck = _both(ev)
    assert arrow.c.dtype == duck.c.dtype
    assert _ordered(arrow) == _ordered(duck)
    answers = []
    for reader in (True, False):
        monkeypatch.setattr(parquet_rows, "ARROW_READER", reader)
        d = hourglass.transitions(str(path), "hourglass", level="stage").to_dict()
        d.pop("meta")
        answers.append(d)
    assert answers[0] == answers[1]


def test_a_hive_partition_directory_is_declined(tmp_path: Path) -> None:
    (tmp_path / "day=2024-01-01").mkdir()
    path = _write(tmp_path / "day=2024-01-01" / "a.parquet")
    assert parquet_rows.parquet_source(hourglass.events(str(path))) is None


@pytest.mark.parametrize("block", [5, 1 << 16])
def test_names_are_found_as_python_finds_them(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random values around names of every kind (two names of one first byte and length, of 1, 8,
    9, 16 and 17 bytes, unicode), near misses in any byte, blank edges, nulls, short values at the
    end of the bytes: engine/parquet_names.py's rows and positions are Python's."""
    monkeypatch.setattr(parquet_names, "_BLOCK", block)
    names = ["visit", "vizit", "a", "ab", "abcdefgh", "abcdefghi", "abcdefghijklmnop", "abcdefghijklmnopq"]
    names += ["café", "ünïcodé-name-x", "zz"]
    pool: list[str | None] = [*names, None, "", "Visit", " visit", "visit ", "\tab\n", "x" * 20]
    pool += [n[:-1] for n in names] + [n + "x" for n in names] + [n[:-1] + "Y" for n in names]
    pool += ["Y" + n[1:] for n in names] + [n[: len(n) // 2] + "Q" + n[len(n) // 2 + 1 :] for n in names]
    looked = parquet_names.Names(names)
    lookup = {n: k for k, n in enumerate(names, start=1)}
    rng = np.random.default_rng(5)
    for _ in range(40):
        values = [pool[i] for i in rng.integers(0, len(pool), int(rng.integers(1, 120)))]
        want = []
        for i, v in enumerate(values):
            if v is not None:
                canon = parquet_names.trimmed(v) if parquet_names._blank_edge(v) else v
                if canon in lookup:
                    want.append((i, lookup[canon]))
        for arr in (pa.array(values, pa.string()), pa.array(values, pa.large_string())):
            rows, pos = looked.chunk(arr)
            assert list(zip(rows.tolist(), pos.tolist(), strict=True)) == want
            rows, pos = looked.chunk(arr.slice(1))
            assert list(zip(rows.tolist(), pos.tolist(), strict=True)) == [(i - 1, p) for i, p in want if i]
