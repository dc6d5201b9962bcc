"""engine/journeys_wide.py ``time_ordered``: the stage level's rows read from a Parquet file in time
order are grouped by customer (not sorted), rows tied in (customer, ts) put in stage order; the
answers of ``paths`` and ``transitions`` are the portable plan's (ties between stages at one
instant, names with blank edges, ids past 2^63), and rows not in time order take the sort."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.engine import journeys_wide, parquet_rows
from hourglass.engine.journeys_order import sorted_in_numpy
from hourglass.model.journey import JourneyModel

STAGES = [["visit", " visit"], ["signup"], ["café", "Café"], ["purchase", "purchase\t"]]
MODEL = JourneyModel.from_dict(
    {
        "name": "m",
        "kind": "funnel",
        "stages": [{"name": f"s{k}", "events": [n.strip() for n in s][:1]} for k, s in enumerate(STAGES)],
    }
)


def _file(path: Path, n: int, seed: int, *, ids: str, in_time_order: bool) -> Path:
    rng = np.random.default_rng(seed)
    raw = [v for s in STAGES for v in s]
    events = [raw[k % len(raw)] if k < 60 else f"n{k:03d}" for k in rng.integers(0, 100, n).tolist()]
    cust = rng.integers(0, 150, n)
    c_arr = (
        pa.array(cust.astype(np.uint64) + np.uint64(2**63), pa.uint64())
        if ids == "big"
        else pa.array(cust * 7_919_000_000_003, pa.int64())
    )
    ts = (1_704_067_200 + rng.integers(0, 300, n)) * 1_000_000  # many ties at one instant
    t = pa.table(
        {"customer_id": c_arr, "event": pa.array(events), "timestamp": pa.array(ts, pa.timestamp("us"))}
    )
    if in_time_order:
        t = t.sort_by("timestamp")
    pq.write_table(t, path, row_group_size=900)
    return path


def _answer(fn: Any, path: Path, monkeypatch: pytest.MonkeyPatch, plan: str) -> dict[str, Any]:
    monkeypatch.setenv("HOURGLASS_PLAN", plan)
    got = fn(str(path), MODEL, level="stage").to_dict()
    got["meta"].pop("seconds", None)
    return dict(got)


@pytest.mark.parametrize("ids", ["far", "big"])
@pytest.mark.parametrize("in_time_order", [True, False])
@pytest.mark.parametrize("analysis", ["paths", "transitions"])
def test_stage_level_as_the_portable_plan(
    analysis: str, in_time_order: bool, ids: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)
    ran: list[bool] = []
    real = journeys_wide.time_ordered
    monkeypatch.setattr(
        journeys_wide, "time_ordered", lambda *a: ran.append((got := real(*a)) is not None) or got
    )
    path = _file(tmp_path / "s.parquet", 5000, 11, ids=ids, in_time_order=in_time_order)
    fn = hourglass.paths if analysis == "paths" else hourglass.transitions
    want = _answer(fn, path, monkeypatch, "portable")
    assert _answer(fn, path, monkeypatch, "auto") == want
    assert set(ran) == {in_time_order}  # (the stage paths: once per set of customers, engine/stage_sets.py)


def test_time_ordered_is_the_sort() -> None:
    """The arrays equal the sort's per customer (customers may come in another order)."""
    rng = np.random.default_rng(3)
    n = 20_000
    c = rng.integers(0, 500, n) * 1_000_003
    ts = np.sort(rng.integers(0, 2_000, n))
    node = rng.integers(1, 7, n).astype(np.int32)
    got = journeys_wide.time_ordered(c, ts, node)
    want = sorted_in_numpy(c, ts, node)
    assert got is not None and want is not None

    def per_customer(seq: Any) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        new, t, nd = seq
        cuts = [*np.flatnonzero(new).tolist(), len(new)]
        return sorted((tuple(t[a:b].tolist()), tuple(nd[a:b].tolist())) for a, b in itertools.pairwise(cuts))

    assert per_customer(got) == per_customer(want)
    assert journeys_wide.time_ordered(c, ts[::-1].copy(), node) is None
    # the two halves (the grouping needs no node: T numbers the names meanwhile)
    grouped = journeys_wide.time_grouped(c, ts)
    assert grouped is not None and journeys_wide.time_grouped(c, ts[::-1].copy()) is None
    halves = journeys_wide.grouped_nodes(grouped, node)
    assert all(np.array_equal(a, b) for a, b in zip(halves, got, strict=True))
