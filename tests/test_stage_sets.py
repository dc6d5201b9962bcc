"""engine/stage_sets.py: the stage level's paths on one Parquet file of many names, the one scan's
rows split into sets of customers in the reader's threads, answer as the portable plan: a file in
time order (grouped) and not (sorted per set), ties in time, ids past 2^63 and far apart, ms
times, 1-3 sets, every ``depth``/``top``/``collapse``, times too far apart for the keys (the
general order); and the route ran (or left the rows to the general path: a null time)."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.engine import grouping, parquet_names, parquet_rows, raw_stages, stage_sets
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import PathsSpec
from test_journeys_parquet import _table

MODEL = JourneyModel.from_dict(
    {
        "name": "sets",
        "kind": "funnel",
        "stages": [
            {"name": "visit", "events": ["visit", "Visit"]},
            {"name": "cafe", "events": ["café"]},
            {"name": "z", "events": ["z", "ünï"]},
            {"name": "ab", "events": ["a'b"]},
        ],
    }
)


def _write(path: Path, t: pa.Table, *, in_time_order: bool) -> str:
    if in_time_order:
        t = t.sort_by("timestamp")
    pq.write_table(t, path, row_group_size=700, use_dictionary=["customer_id", "timestamp"])  # event: PLAIN
    return str(path)


def _answer(path: str, monkeypatch: pytest.MonkeyPatch, plan: str, **kw: Any) -> dict[str, Any]:
    monkeypatch.setenv("HOURGLASS_PLAN", plan)
    got = hourglass.paths(path, MODEL, level="stage", **kw).to_dict()
    got["meta"].pop("seconds", None)
    return got


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each run of the sets' paths: whether it answered (else the general order answered)."""
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)
    monkeypatch.setattr(parquet_names, "_BLOCK", 256)  # the reader's scan in several blocks
    ran: list[bool] = []
    real = stage_sets.set_paths

    def spy(*a: Any) -> Any:
        out = real(*a)
        ran.append(out is not None)
        return out

    monkeypatch.setattr(stage_sets, "set_paths", spy)
    return ran


@pytest.mark.parametrize("sets", [1, 2, 3])
@pytest.mark.parametrize("in_time_order", [True, False])
@pytest.mark.parametrize("ids", ["small", "big", "far"])
def test_paths_as_the_portable_plan(
    ids: str,
    in_time_order: bool,
    sets: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spied: list[bool],
) -> None:
    monkeypatch.setattr(grouping, "WORKERS", sets)
    path = _write(tmp_path / "s.parquet", _table(6000, 3, ids=ids), in_time_order=in_time_order)
    for kw in ({"depth": 8, "top": 10}, {"depth": 3, "top": 25, "collapse": False}, {"depth": 1, "top": 5}):
        want = _answer(path, monkeypatch, "portable", **kw)
        spied.clear()
        got = _answer(path, monkeypatch, "auto", **kw)
        assert spied == [True]
        assert got == want


def test_ms_times_and_one_set_of_no_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[bool]
) -> None:
    """ms times; a customer alone in his set of 4 (the other sets' pieces empty: no rows)."""
    monkeypatch.setattr(grouping, "WORKERS", 4)
    path = _write(tmp_path / "m.parquet", _table(3000, 5, unit="ms", customers=1), in_time_order=True)
    for collapse in (True, False):
        want = _answer(path, monkeypatch, "portable", depth=5, top=10, collapse=collapse)
        spied.clear()
        assert _answer(path, monkeypatch, "auto", depth=5, top=10, collapse=collapse) == want
        assert spied == [True]


def test_times_too_far_apart_take_the_general_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: list[bool]
) -> None:
    """Times 1901-2099 not in file order: no set's keys fit (engine/journeys_wide.py), the rows
    are ordered as the general fast path orders them, on one thread."""
    monkeypatch.setattr(grouping, "WORKERS", 2)
    t = _table(4000, 7)
    rng = np.random.default_rng(7)
    far = rng.integers(-2_145_916_800, 4_070_908_800, len(t)) * 1_000_000
    t = t.set_column(2, "timestamp", pa.array(far, pa.timestamp("us")))
    path = _write(tmp_path / "f.parquet", t, in_time_order=False)
    want = _answer(path, monkeypatch, "portable", depth=6, top=10)
    spied.clear()
    assert _answer(path, monkeypatch, "auto", depth=6, top=10) == want
    assert spied == [False]


def test_rows_with_a_null_are_left_to_the_general_path(tmp_path: Path) -> None:
    """Rows of a null customer or time (``complete`` False): not taken here; the general path takes
    them and declines (its own query answers), as before."""
    path = _write(tmp_path / "n.parquet", _table(2000, 9), in_time_order=True)
    ev = hourglass.events(path)
    spec = PathsSpec.build(MODEL, level="stage", depth=4)
    found = raw_stages._stages(spec)
    assert found is not None
    none = np.zeros(0, np.int64)
    rows = raw_stages.StageRows(none, none, np.zeros(0, np.int32), tuple(found[0]), {}, complete=False)
    raw_stages._PENDING = (weakref.ref(ev), raw_stages._key(ev, *found), rows)
    assert raw_stages.stage_paths(ev, spec) is None
    assert raw_stages._PENDING[2] is rows
    assert raw_stages.stage_rows(ev, spec) is None
    assert raw_stages._PENDING == (None, None, None)


def test_the_sets_are_the_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's sets hold every row once, each customer in one set, in file order within it."""
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)
    path = _write(tmp_path / "r.parquet", _table(5000, 11, ids="big"), in_time_order=True)
    ev = hourglass.events(path)
    spec = PathsSpec.build(MODEL, level="stage")
    found = raw_stages._stages(spec)
    assert found is not None
    whole = raw_stages._read(ev, *found)
    split = raw_stages._read(ev, *found, 3)
    assert whole is not None and split is not None and whole.sets is None and split.sets is not None
    assert split.counts == whole.counts and sum(whole.counts.values()) == len(whole.c)
    owners = [set(np.concatenate([p[0] for p in s]).tolist()) for s in split.sets]
    assert sum(len(o) for o in owners) == len(set().union(*owners))
    for s in split.sets:  # each set: the whole rows of its customers, in file order
        mine = np.isin(whole.c, np.concatenate([p[0] for p in s]))
        for j, col in enumerate((whole.c, whole.ts, whole.node)):
            assert np.array_equal(np.concatenate([p[j] for p in s]), col[mine])
