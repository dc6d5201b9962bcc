"""engine/journeys_parquet.py: the event level of ``paths`` on a Parquet file of many names, read by
pyarrow and named last, answers as the portable plan: names tied in time (ordered by name, text
order not obvious: case, accents, prefixes), names repeated in a row (runs further than the first
rows), blank edges that canonicalise to a name, a file in time order (stable grouping) and not
(the sort), ids past 2^63, ms times, paths tied at the top, every ``steps``/``top``/``collapse``;
and it declines what it does not handle (a period, a column of few values)."""

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
from hourglass.engine import (
    grouping,
    journeys_fast,
    journeys_parquet,
    journeys_parquet_sorted,
    parquet_rows,
    raw_names,
)
from test_journeys_fast import _approx

#: names whose order is not the obvious one, and raw values with blank edges around them
NAMES = ["visit", "Visit", "visit2", "visi", "café", "cafe", "Café", "ünï", "z", "a'b", "b\x01"]
NOISY = [" visit", "visit ", "\tcafé", "café\n", "\fz\r", "  ünï\t", "z\v", "\vz"]


def _table(n: int, seed: int, *, customers: int = 120, ids: str = "small", unit: str = "us") -> pa.Table:
    rng = np.random.default_rng(seed)
    events = []
    for k in rng.integers(0, 100, n).tolist():
        if k < 40:
            events.append(NAMES[k % len(NAMES)])
        elif k < 50:
            events.append(NOISY[k % len(NOISY)])
        else:
            events.append(f"n{rng.integers(0, 400):04d}")
    cust = rng.integers(0, customers, n)
    if ids == "big":  # UINT64 ids past 2^63 mixed with small ones
        cust = np.where(cust % 2 == 0, cust.astype(np.uint64) + np.uint64(2**63), cust.astype(np.uint64))
        c_arr = pa.array(cust, pa.uint64())
    elif ids == "far":
        c_arr = pa.array(cust * 7_919_000_000_003 - 2**62, pa.int64())
    else:
        c_arr = pa.array(cust, pa.int64())
    # coarse times: many rows of one customer at one instant
    ts = (1_704_067_200 + rng.integers(0, 400, n)).astype(np.int64)
    scale = 1000 if unit == "ms" else 1_000_000
    return pa.table(
        {
            "customer_id": c_arr,
            "event": pa.array(events, pa.string()),
            "timestamp": pa.array(ts * scale, pa.timestamp(unit)),
        }
    )


def _write(path: Path, t: pa.Table, *, in_time_order: bool) -> Path:
    if in_time_order:
        t = t.sort_by("timestamp")
    pq.write_table(t, path, row_group_size=700, use_dictionary=["customer_id", "timestamp"])  # event: PLAIN
    return path


def _answer(path: Path, monkeypatch: pytest.MonkeyPatch, plan: str, **kw: Any) -> dict[str, Any]:
    monkeypatch.setenv("HOURGLASS_PLAN", plan)
    got = hourglass.paths(str(path), level="event", **kw).to_dict()
    got["meta"].pop("seconds", None)
    return got


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)
    monkeypatch.setattr(raw_names, "_MANY", 8)
    monkeypatch.setattr(journeys_parquet_sorted, "SPLIT_MIN", 0)  # the names numbered in two halves
    ran: list[bool] = []
    real = journeys_parquet._paths

    def spy(*a: Any) -> Any:
        out = real(*a)
        ran.append(out is not None)
        return out

    monkeypatch.setattr(journeys_parquet, "_paths", spy)
    return ran


def _spied_sorted(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each call of journeys_parquet_sorted.parquet_sorted (from journeys_fast) answered."""
    ran: list[bool] = []
    real = journeys_parquet_sorted.parquet_sorted
    monkeypatch.setattr(
        journeys_fast, "parquet_sorted", lambda *a: ran.append((got := real(*a)) is not None) or got
    )
    return ran


def _sets(monkeypatch: pytest.MonkeyPatch, sets: int) -> None:
    """``sets`` sets of customers in threads (1: one, as below 1M rows)."""
    if sets > 1:
        monkeypatch.setattr(journeys_parquet, "PARALLEL_MIN", 1)
        monkeypatch.setattr(grouping, "WORKERS", sets)


@pytest.mark.parametrize("sets", [1, 3])
@pytest.mark.parametrize("in_time_order", [True, False])
@pytest.mark.parametrize("ids", ["small", "big", "far"])
def test_paths_as_the_portable_plan(
    in_time_order: bool,
    ids: str,
    sets: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spied: list[bool],
) -> None:
    _sets(monkeypatch, sets)
    path = _write(tmp_path / "e.parquet", _table(6000, 3, ids=ids), in_time_order=in_time_order)
    for kw in ({"steps": 8, "top": 10}, {"steps": 3, "top": 25}, {"steps": 1, "top": 5}):
        want = _answer(path, monkeypatch, "portable", **kw)
        spied.clear()
        got = _answer(path, monkeypatch, "auto", **kw)
        assert spied == [True]
        assert got == want


@pytest.mark.parametrize("sets", [1, 2])
@pytest.mark.parametrize("collapse", [True, False])
def test_repeated_names_and_ties_at_the_top(
    collapse: bool, sets: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[bool]
) -> None:
    """Customers who repeat a name many times in a row (their runs go past the first rows), and
    many customers of one path each (the top's last count shared by many paths); in sets of
    customers in threads too."""
    _sets(monkeypatch, sets)
    rows = []
    for cu in range(300):
        seq = ["visit"] * (cu % 13) + ["café", "café", "Café", f"n{cu % 40:03d}", "z", "z", "z", "visit"]
        seq += [f"n{(cu * 7) % 50:03d}"] * (cu % 4) + ["ünï", "a'b", "visit2"]
        for k, e in enumerate(seq):
            rows.append((cu, e, 1_704_067_200_000_000 + k * 1_000_000 + cu))
    c, e, t = zip(*rows, strict=True)
    table = pa.table(
        {
            "customer_id": pa.array(c, pa.int64()),
            "event": pa.array(e),
            "timestamp": pa.array(t, pa.timestamp("us")),
        }
    )
    path = _write(tmp_path / "r.parquet", table, in_time_order=True)
    for steps, top in ((8, 10), (4, 40), (8, 3), (2, 1000)):
        want = _answer(path, monkeypatch, "portable", steps=steps, top=top, collapse=collapse)
        spied.clear()
        got = _answer(path, monkeypatch, "auto", steps=steps, top=top, collapse=collapse)
        assert spied == [True]
        assert got == want


def test_ms_times_and_no_collapse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[bool]) -> None:
    path = _write(tmp_path / "m.parquet", _table(5000, 5, unit="ms"), in_time_order=False)
    for collapse in (True, False):
        want = _answer(path, monkeypatch, "portable", steps=5, top=10, collapse=collapse)
        spied.clear()
        got = _answer(path, monkeypatch, "auto", steps=5, top=10, collapse=collapse)
        assert spied == [True]
        assert got == want


def test_declines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[bool]) -> None:
    """A period and a column of few values take the general fast path (same answers)."""
    path = _write(tmp_path / "d.parquet", _table(4000, 7), in_time_order=True)
    kw: dict[str, Any] = {"steps": 4, "top": 10, "since": "2024-01-01 00:02:00"}
    want = _answer(path, monkeypatch, "portable", **kw)
    spied.clear()
    assert _answer(path, monkeypatch, "auto", **kw) == want
    assert spied == []
    monkeypatch.setattr(raw_names, "_MANY", 10**6)
    want = _answer(path, monkeypatch, "portable", steps=4, top=10)
    assert _answer(path, monkeypatch, "auto", steps=4, top=10) == want
    assert spied == []
    # every event chunk dictionary pages (a few names): declined from the footer, no sample query
    monkeypatch.setattr(raw_names, "_MANY", 8)
    monkeypatch.setattr(raw_names, "many_values", lambda *a: pytest.fail("sampled"))
    few = _table(8000, 7).sort_by("timestamp")
    rng = np.random.default_rng(1)
    few = few.set_column(1, "event", pa.array([NAMES[k] for k in rng.integers(0, len(NAMES), 8000)]))
    pq.write_table(few, path, row_group_size=4000)
    want = _answer(path, monkeypatch, "portable", steps=4, top=10)
    assert _answer(path, monkeypatch, "auto", steps=4, top=10) == want
    assert spied == []


@pytest.mark.parametrize("in_time_order", [True, False])
def test_imports_no_pandas(in_time_order: bool, tmp_path: Path) -> None:
    """A fresh process's event level through this form (blank edges, ties, both orders) does not
    import pandas (pyarrow's ``to_numpy`` of a boolean array and ``pa.array`` of a list do)."""
    path = _write(tmp_path / "p.parquet", _table(6000, 3), in_time_order=in_time_order)
    code = (
        "import sys, hourglass\n"
        "from hourglass.engine import journeys_parquet, parquet_rows, raw_names\n"
        "parquet_rows.ARROW_MIN_ROWS = 0\n"
        "raw_names._MANY = 8\n"
        "real = journeys_parquet._paths\n"
        "journeys_parquet._paths = lambda *a: print('read', real(*a) is not None) or real(*a)\n"
        f"hourglass.paths({str(path)!r}, level='event')\n"
        "print('pandas' in sys.modules)\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert got.stdout.split() == ["read", "True", "False"]


@pytest.mark.parametrize(("sort_min", "halves"), [(0, False), (1 << 30, True)])
@pytest.mark.parametrize("in_time_order", [True, False])
@pytest.mark.parametrize("ids", ["small", "big", "far"])
def test_transitions_numbered_by_pyarrow(
    in_time_order: bool,
    ids: str,
    sort_min: int,
    halves: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """engine/journeys_parquet_sorted.py: the transitions' elements numbered and ordered without
    DuckDB (names tied in time, blank edges canonicalised in the reader's threads, names whose
    order is not obvious; the names' order by numpy's words and by Arrow) as the portable plan."""
    monkeypatch.setattr(journeys_parquet_sorted, "SORT_MIN", sort_min)
    monkeypatch.setattr(journeys_parquet_sorted, "HALVES", halves)
    monkeypatch.setattr(journeys_parquet_sorted, "SPLIT_MIN", 0)  # (the halves whenever HALVES)
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)
    monkeypatch.setattr(raw_names, "_MANY", 8)
    ran = _spied_sorted(monkeypatch)
    path = _write(tmp_path / "t.parquet", _table(5000, 9, ids=ids), in_time_order=in_time_order)
    for collapse in (True, False):
        answers = []
        for plan, on in (("portable", True), ("auto", False), ("auto", True)):
            monkeypatch.setenv("HOURGLASS_PLAN", plan)
            monkeypatch.setattr(journeys_parquet_sorted, "ENABLED", on)
            got = hourglass.transitions(str(path), level="event", collapse=collapse).to_dict()
            got["meta"].pop("seconds", None)
            answers.append(got)
        portable, general, read = answers
        assert read == general  # the general fast path's answer, bit for bit
        # the portable plan's: its quantiles to 1e-9 relative (docs/semantics-journeys.md)
        _approx(read, portable)
    assert ran == [False, True, False, True]  # the general path, then this one


def test_encoded_in_halves_is_one_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Numbers in two halves (by the last byte's parity) name the same strings as one encoding."""
    texts = ["a", "b", "", "ab", "ba", "é", "visit", "visit ", "z\x01", "Café", "b", "a", "", "é"] * 50
    arr = pa.array(texts, pa.string()).slice(3)
    one = journeys_parquet_sorted.encoded(arr)
    monkeypatch.setattr(journeys_parquet_sorted, "SPLIT_MIN", 0)
    two = journeys_parquet_sorted.encoded(arr)
    for codes, dictionary in (one, two):
        assert dictionary.take(pa.array(codes)).to_pylist() == arr.to_pylist()
        assert len(set(dictionary.to_pylist())) == len(dictionary)


def test_transitions_decline_a_blank_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A raw value of blanks only (a null canonical name) in one row group: the same coded error
    as the portable plan's (the reader's threads would decline it: ``_canonical`` is None)."""
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)
    monkeypatch.setattr(raw_names, "_MANY", 8)
    ran = _spied_sorted(monkeypatch)
    t = _table(3000, 5).sort_by("timestamp")
    events = t.column("event").to_pylist()
    events[2500] = " \t "
    path = _write(
        tmp_path / "b.parquet", t.set_column(1, "event", pa.array(events, pa.string())), in_time_order=True
    )
    answers = []
    for plan in ("portable", "auto"):
        monkeypatch.setenv("HOURGLASS_PLAN", plan)
        try:
            got: Any = hourglass.transitions(str(path), level="event").to_dict()
            got["meta"].pop("seconds", None)
        except hourglass.HourglassError as e:
            got = ("error", e.code)
        answers.append(got)
    assert answers == [("error", "HG402")] * 2  # the model's check, before any read
    assert ran == []
    # the reader itself: raw values kept, canonical names declined
    from types import SimpleNamespace

    cols = parquet_rows.ParquetColumns(str(path), "customer_id", "timestamp", "event")
    events: Any = SimpleNamespace(report=SimpleNamespace(rows=3000))
    raw = journeys_parquet._read(events, cols)
    assert raw is not None and raw[2].to_pylist()[2500] == " \t "
    assert journeys_parquet._read(events, cols, canonical=True) is None
    t2 = pq.read_table(path)
    ok = t2.set_column(
        1, "event", pa.array([e if e.strip() else "x" for e in t2.column("event").to_pylist()])
    )
    pq.write_table(ok, path, row_group_size=700)
    got = journeys_parquet._read(events, cols, canonical=True)
    assert got is not None
    from hourglass.engine.parquet_names import _blank_edge, trimmed

    assert got[2].to_pylist() == [trimmed(e) if _blank_edge(e) else e for e in ok.column("event").to_pylist()]


@pytest.mark.parametrize("seed", range(6))
def test_byte_order_is_arrows(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """journeys_parquet_sorted ``byte_order``: numpy's words of the first 8 bytes, ties (long names
    with a common start, trailing zero bytes, the empty name) ordered by Arrow: Arrow's own order."""
    import pyarrow.compute as pc

    monkeypatch.setattr(journeys_parquet_sorted, "SORT_MIN", 0)
    rng = np.random.default_rng(seed)
    parts = [
        "",
        "a",
        "b",
        "\x00",
        "é",
        "z" * 9,
        "abcdefgh",
        "abcdefgh\x00",
        "abcdefghi",
        "abcdefg",
        "\U0001f600",
    ]
    texts: set[str] = set()
    for _ in range(int(rng.integers(1, 3000))):
        head = "".join(parts[k] for k in rng.integers(0, len(parts), int(rng.integers(0, 4))))
        texts.add(head + "".join(chr(97 + k) for k in rng.integers(0, 3, int(rng.integers(0, 14)))))
    arr = pa.array(sorted(texts, reverse=True) if seed % 2 else list(texts), pa.string())
    for a in (arr, arr.slice(1), arr.slice(0, 1)):
        got = journeys_parquet_sorted.byte_order(a)
        assert got.tolist() == pc.sort_indices(a).to_pylist()
