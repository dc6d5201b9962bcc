"""engine/journeys_order.py ``sorted_in_numpy``: the elements of integer customers put in the order
(customer, ts, node) by numpy equal, customer by customer, to a full sort (lexsort), and the fast
paths/transitions on a Parquet log of integer customers equal with it and with DuckDB's sort."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hourglass.engine import journeys_order
from hourglass.engine.journeys_order import sorted_in_numpy


def _per_customer(c: np.ndarray, ts: np.ndarray, node: np.ndarray) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    for ci, t, n in zip(c.tolist(), ts.tolist(), node.tolist(), strict=True):
        out.setdefault(ci, []).append((t, n))
    return out


@pytest.mark.parametrize("far", [True, False])  # ids spread over 2^41 (grouped first), or near
@pytest.mark.parametrize(
    ("m", "customers", "span", "nodes"),
    [
        (1, 1, 10, 2),
        (500, 7, 10**6, 3),
        (3000, 2500, 10**13, 6),
        (20_000, 50, 5, 1),
        (4000, 4000, 2**40, 200),
    ],
)
def test_sorted_in_numpy_is_each_customers_order(
    m: int, customers: int, span: int, nodes: int, far: bool
) -> None:
    rng = np.random.default_rng(m + customers)
    ids = rng.integers(-(10**12), 10**12, customers) if far else rng.integers(5, 5 + 3 * customers, customers)
    c = ids[rng.integers(0, customers, m)]
    ts = rng.integers(10**15, 10**15 + span, m)
    node = rng.integers(0, nodes, m).astype(np.int32)
    got = sorted_in_numpy(c, ts, node)
    assert got is not None
    new, gts, gnode = got
    order = np.lexsort((node, ts, c))
    want = _per_customer(c[order], ts[order], node[order])
    # each customer's rows contiguous and in (ts, node) order: the same sequences, any customer order
    seqs = np.split(np.arange(m), np.flatnonzero(new)[1:])
    assert len(seqs) == len(want) == int(new.sum())
    got_seqs = sorted([list(zip(gts[s].tolist(), gnode[s].tolist(), strict=True)) for s in seqs])
    assert got_seqs == sorted(want.values())


def test_sorted_in_numpy_ids_over_the_whole_int64_range() -> None:
    """Ids spread over the whole int64 range with every event in one millisecond (few time bits):
    their differences overflow int64, so they are grouped, not radix-sorted (was a ValueError)."""
    rng = np.random.default_rng(3)
    ids = np.array([-(2**63) + 5, 2**63 - 7, 0, -1, 12345], dtype=np.int64)
    c = ids[rng.integers(0, len(ids), 400)]
    ts = rng.integers(10**15, 10**15 + 900, 400)
    node = rng.integers(0, 3, 400).astype(np.int32)
    got = sorted_in_numpy(c, ts, node)
    assert got is not None
    new, gts, gnode = got
    order = np.lexsort((node, ts, c))
    want = _per_customer(c[order], ts[order], node[order])
    seqs = np.split(np.arange(len(c)), np.flatnonzero(new)[1:])
    assert len(seqs) == len(want)
    got_seqs = sorted([list(zip(gts[s].tolist(), gnode[s].tolist(), strict=True)) for s in seqs])
    assert got_seqs == sorted(want.values())


def test_sorted_in_numpy_declines_wide_keys() -> None:
    c = np.array([1, 2], dtype=np.int64)
    assert sorted_in_numpy(c, np.array([0, 2**50]), np.array([0, 2**20], dtype=np.int32)) is None


def _rounded(value: Any) -> Any:
    """``value`` without its meta, floats to 6 digits (the portable plan's quantiles: other sums)."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items() if k != "meta"}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return round(value, 6) if isinstance(value, float) else value


def _log(tmp_path: Any) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    m = 6000
    names = ["visit", "view_pricing", "signup", "trial", "purchase", "other"]
    t = pa.table(
        {
            "customer_id": rng.integers(1, 400, m),
            "timestamp": pa.array(
                (1_700_000_000_000_000 + rng.integers(0, 10**9, m)).tolist(), pa.timestamp("us")
            ),
            "event": [names[i] for i in rng.integers(0, len(names), m)],
        }
    )
    path = str(tmp_path / "ev.parquet")
    pq.write_table(t, path)
    return path


def test_fast_paths_and_transitions_same_with_numpy_sort(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hourglass.interfaces import journeys_api as hg
    from hourglass.model.journey import JourneyModel

    path = _log(tmp_path)
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
    answers: list[list[Any]] = []
    fits = journeys_order.sorted_in_numpy
    for plan, numpy_sort in (("auto", True), ("auto", False), ("portable", True), ("auto", None)):
        monkeypatch.setenv("HOURGLASS_PLAN", plan)
        monkeypatch.setattr(journeys_order, "NUMPY_SORT", numpy_sort is not False)
        # None: the keys do not fit, DuckDB sorts the rows fetched
        monkeypatch.setattr(journeys_order, "sorted_in_numpy", fits if numpy_sort else lambda *a, **k: None)
        answers.append(
            [
                hg.paths(path, model, steps=5, top=50),
                hg.transitions(path, model),
                hg.transitions(path, model, level="event"),
                hg.paths(path, model, level="event", steps=4, top=50),
            ]
        )
    for k in range(4):
        assert answers[0][k] == answers[1][k] == answers[3][k], (
            k
        )  # numpy's order, DuckDB's: the same kernel's input
        assert _rounded(answers[0][k].to_dict()) == _rounded(answers[2][k].to_dict()), k


def test_sorted_in_numpy_near_ids_in_threads_is_the_full_sort() -> None:
    """Past 10^6 rows (ranges for the threads) near ids come in id order: the full sort's arrays."""
    rng = np.random.default_rng(3)
    m = 1_200_000
    c = rng.integers(0, 300_000, m).astype(np.int32)
    ts = rng.integers(0, 10**12, m)
    node = rng.integers(0, 9, m).astype(np.uint8)
    node[1::2] = node[::2][: len(node[1::2])]  # ties in node
    ts[1::2] = ts[::2][: len(ts[1::2])]  # and in time within some customers
    got = sorted_in_numpy(c, ts, node)
    assert got is not None
    order = np.lexsort((node, ts, c))
    new = np.ones(m, dtype=bool)
    new[1:] = c[order][1:] != c[order][:-1]
    assert np.array_equal(got[0], new)
    assert np.array_equal(got[1], ts[order])
    assert np.array_equal(got[2], node[order].astype(np.int32))


@pytest.mark.parametrize("collapse", [True, False])
@pytest.mark.parametrize(
    ("m", "nodes", "span"), [(1, 1, 10), (5000, 3, 10**6), (30_000, 40, 10**12), (3000, 250, 99)]
)
def test_packed_transitions_equal_the_sorted_edges(
    m: int, nodes: int, span: int, collapse: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few nodes: the edges counted by bincounts and packed sorts, as by the argsort of the edges."""
    from hourglass.engine import journeys_seq

    rng = np.random.default_rng(m + nodes)
    got = sorted_in_numpy(
        rng.integers(0, max(1, m // 20), m), rng.integers(0, span, m), rng.integers(0, nodes, m)
    )
    assert got is not None
    packed = journeys_seq.seq_transitions(got, collapse)
    monkeypatch.setattr(journeys_seq, "PACKED_EDGES", 0)
    assert packed == journeys_seq.seq_transitions(got, collapse)
