"""engine/wide_edges.py (the transitions kernel for many nodes, as columns) against plain Python on
sorted random elements: each edge's moves, distinct customers and the median and 90th percentile of
its gaps (numpy's linear quantile, bit for bit), the end's quantiles not measured; with and without collapsing
repeats, one move per edge and many, and the lexsort fallbacks when a packed word does not fit;
the columns come in model/transition_edges.py's documented order (which it then only checks)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from hourglass.engine import wide_edges
from hourglass.engine.wide_edges import KEYS, edge_columns, rows_of
from hourglass.model import transition_edges
from hourglass.model.transitions import EdgeColumns, build_transitions_result


def _reference(
    seq: tuple[Any, Any, Any], collapse: bool
) -> dict[tuple[int, int], tuple[int, set[int], list[float]]]:
    new, ts, node = (a.tolist() for a in seq)
    runs: list[list[tuple[int, int]]] = []
    for n, t, v in zip(new, ts, node, strict=True):
        if n:
            runs.append([])
        if not collapse or not runs[-1] or runs[-1][-1][1] != v:
            runs[-1].append((t, v))
    edges: dict[tuple[int, int], tuple[list[int], set[int], list[float]]] = {}
    for c, rs in enumerate(runs):
        for i, (t, v) in enumerate(rs):
            nxt = rs[i + 1] if i + 1 < len(rs) else None
            moves, who, gaps = edges.setdefault((v, -1 if nxt is None else nxt[1]), ([0], set(), []))
            moves[0] += 1
            who.add(c)
            if nxt is not None:
                gaps.append((nxt[0] - t) / 1_000_000)
    return {k: (m[0], who, gaps) for k, (m, who, gaps) in edges.items()}


def _seq(seed: int, m: int, customers: int, names: int, tick: int) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    c = np.sort(rng.integers(0, customers, m))
    ts = rng.integers(0, 40, m) * tick + rng.integers(0, 999, m)
    node = np.where(rng.random(m) < 0.4, rng.integers(0, names, m), rng.integers(0, 3, m)).astype(np.int32)
    order = np.lexsort((node, ts, c))
    c, ts, node = c[order], ts[order], node[order]
    new = np.ones(m, dtype=bool)
    new[1:] = c[1:] != c[:-1]
    return new, ts.astype(np.int64), node


@pytest.mark.parametrize("slices", [False, True])
@pytest.mark.parametrize("halves", [False, True])
@pytest.mark.parametrize("bits", [63, 8])
@pytest.mark.parametrize(
    ("seed", "m", "customers", "names", "tick"),
    [(1, 1, 1, 1, 1), (2, 40, 1, 5, 10**6), (3, 3_000, 400, 300, 10**6), (4, 5_000, 3_000, 70_000, 10**9)],
)
def test_edge_columns_against_plain_python(
    seed: int,
    m: int,
    customers: int,
    names: int,
    tick: int,
    bits: int,
    halves: bool,
    slices: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wide_edges, "_WORD_BITS", bits)
    monkeypatch.setattr(wide_edges, "PARALLEL_MIN", 2 if halves else 1 << 40)  # two halves of edges
    monkeypatch.setattr(wide_edges, "SLICE_ROWS", 7 if slices else 1 << 20)  # slices of whole nodes
    seq = _seq(seed, m, customers, names, tick)
    for collapse in (True, False):
        want = _reference(seq, collapse)
        got = {(r["node"], r["nxt"]): r for r in rows_of(edge_columns(seq, collapse))}
        assert set(got) == set(want)
        for key, (moves, who, gaps) in want.items():
            r = got[key]
            assert (r["moves"], r["customers"]) == (moves, len(who))
            if key[1] < 0:
                assert r["median_s"] is None and r["p90_s"] is None
            else:
                assert [r["median_s"], r["p90_s"]] == np.quantile(gaps, [0.5, 0.9]).tolist()  # bit for bit


@pytest.mark.parametrize("seed", [5, 6])
def test_two_halves_give_the_same_columns_in_order(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs split by edge in two threads, and read in slices of whole nodes: the same arrays,
    in the same order."""
    seq = _seq(seed, 20_000, 2_000, 5_000, 10**6)
    for collapse in (True, False):
        monkeypatch.setattr(wide_edges, "PARALLEL_MIN", 1 << 40)
        one = edge_columns(seq, collapse)
        monkeypatch.setattr(wide_edges, "PARALLEL_MIN", 2)
        two = edge_columns(seq, collapse)
        monkeypatch.setattr(wide_edges, "SLICE_ROWS", 100)  # read in slices of whole nodes
        sliced = edge_columns(seq, collapse)
        monkeypatch.setattr(wide_edges, "SLICE_ROWS", 1 << 20)
        assert set(one) == set(two) == set(sliced)
        for k in one:
            assert one[k].dtype == two[k].dtype == sliced[k].dtype
            np.testing.assert_array_equal(one[k], two[k])
            np.testing.assert_array_equal(one[k], sliced[k])


def test_small_pages_past_a_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to ``HUGE_PAGES_MAX`` elements numpy's pages are left as they are; past it, or where the
    free huge blocks do not hold the kernel's arrays, the kernel runs in small pages
    (engine/_pages.py): the same columns."""
    seq = _seq(5, 2_000, 200, 500, 10**6)
    used: list[bool] = []
    real = wide_edges.small_pages

    @contextlib.contextmanager
    def spied() -> Iterator[None]:
        used.append(True)
        with real():
            yield

    monkeypatch.setattr(wide_edges, "small_pages", spied)
    as_is = edge_columns(seq, True)
    assert used == []
    monkeypatch.setattr(wide_edges, "HUGE_PAGES_MAX", len(seq[2]) - 1)
    small = edge_columns(seq, True)
    assert used == [True]
    for k in as_is:
        np.testing.assert_array_equal(as_is[k], small[k])
    # under the size but not the room of the free huge blocks: small pages too
    monkeypatch.setattr(wide_edges, "HUGE_PAGES_MAX", len(seq[2]))
    asked: list[int] = []

    def no_room(nbytes: int) -> bool:
        asked.append(nbytes)
        return False

    monkeypatch.setattr(wide_edges, "huge_room", no_room)
    fragmented = edge_columns(seq, True)
    assert used == [True, True] and asked == [wide_edges.HUGE_BYTES * len(seq[2])]
    for k in as_is:
        np.testing.assert_array_equal(as_is[k], fragmented[k])


def test_no_elements() -> None:
    empty = (np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
    cols = edge_columns(empty, True)
    assert set(cols) == set(wide_edges.KEYS) and all(len(v) == 0 for v in cols.values())
    assert rows_of(cols) == []


def _documented(want: dict[tuple[int, int], tuple[int, set[int], list[float]]]) -> list[tuple[int, int]]:
    """The graph's order of the reference's edges: the node most visited first (then its code: the
    codes are in name order), moves descending, then the next node's rank with the end last."""
    visits: dict[int, int] = {}
    for (a, _), (moves, _, _) in want.items():
        visits[a] = visits.get(a, 0) + moves
    rank = {a: i for i, a in enumerate(sorted(visits, key=lambda a: (-visits[a], a)))}
    return sorted(want, key=lambda k: (rank[k[0]], -want[k][0], rank.get(k[1], len(rank))))


@pytest.mark.parametrize("slices", [False, True])
@pytest.mark.parametrize("halves", [False, True])
@pytest.mark.parametrize("bits", [63, 8])
@pytest.mark.parametrize(
    ("seed", "m", "customers", "names", "tick"),
    [(1, 1, 1, 1, 1), (7, 60, 2, 4, 10**6), (8, 4_000, 300, 50, 10**6), (9, 6_000, 2_000, 20_000, 10**9)],
)
def test_columns_in_the_graphs_order(
    seed: int,
    m: int,
    customers: int,
    names: int,
    tick: int,
    bits: int,
    halves: bool,
    slices: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nodes with equal visits, edges of one node with equal moves (many one-move edges, a few with
    several), a customer's first and last events (his moves to the end) in the same node: the
    columns in the graph's documented order, which the model then only checks (no argsort), and
    the same graph as the dict form builds from the same edges."""
    monkeypatch.setattr(wide_edges, "_WORD_BITS", bits)
    monkeypatch.setattr(wide_edges, "PARALLEL_MIN", 2 if halves else 1 << 40)
    monkeypatch.setattr(wide_edges, "SLICE_ROWS", 7 if slices else 1 << 20)
    seq = _seq(seed, m, customers, names, tick)
    labels = [f"n{k:05d}" for k in range(names)]  # codes in name order, as the engine's
    for collapse in (True, False):
        want = _reference(seq, collapse)
        cols = edge_columns(seq, collapse)
        assert list(zip(cols["node"].tolist(), cols["nxt"].tolist(), strict=True)) == _documented(want)

        def no_sort(word: Any) -> Any:
            raise AssertionError("the columns were in order: no argsort")

        common: dict[str, Any] = {"level": "event", "collapse": collapse}
        with monkeypatch.context() as mp:
            mp.setattr(transition_edges, "_argsort_halves", no_sort)
            got = build_transitions_result(edges=EdgeColumns.of(labels, *(cols[k] for k in KEYS)), **common)
        rows = [
            {**r, "from": labels[r["node"]], "to": None if r["nxt"] < 0 else labels[r["nxt"]]}
            for r in reversed(rows_of(cols))
        ]
        reference = build_transitions_result(edges=rows, **common)
        assert list(got.edges) == list(reference.edges)
        # the kernel's ranking: plain Python's visits (each node's moves) and order of nodes; the
        # graph then takes it as it is (no visits counted, no order checked): the same graph
        visits: dict[int, int] = {}
        for (a, _), (moves, _, _) in want.items():
            visits[a] = visits.get(a, 0) + moves
        ranked = sorted(visits, key=lambda a: (-visits[a], a))
        assert cols["ranked"].tolist() == ranked
        assert cols["visits"].tolist() == [visits[a] for a in ranked]
        hinted = EdgeColumns.of(
            labels, *(cols[k] for k in KEYS), ranked=cols["ranked"], visits=cols["visits"]
        )
        assert transition_edges._hinted(hinted) is not None

        def no_check(*a: Any) -> bool:
            raise AssertionError("the engine's ranking: no order checked")

        with monkeypatch.context() as mp:
            mp.setattr(transition_edges, "_argsort_halves", no_sort)
            mp.setattr(transition_edges, "_ordered", no_check)
            fast = build_transitions_result(edges=hinted, **common)
        assert fast.to_dict() == reference.to_dict()
        assert list(fast.nodes) == list(reference.nodes) and fast.customers == reference.customers


def test_a_ranking_not_the_graphs_is_not_taken() -> None:
    """The engine's ranking is taken only where its cheap checks hold (model/transition_edges.py
    ``_hinted``): a count off by one, ranks out of order, ties not by code, a code ranked twice,
    names not in code order: each falls back to the graph's own derivation, with the same answer."""
    seq = _seq(8, 4_000, 300, 50, 10**6)
    cols = edge_columns(seq, True)
    labels = [f"n{k:05d}" for k in range(50)]
    common: dict[str, Any] = {"level": "event", "collapse": True}
    want = build_transitions_result(
        edges=EdgeColumns.of(labels, *(cols[k] for k in KEYS)), **common
    ).to_dict()
    codes, visits = cols["ranked"], cols["visits"]
    tie = int(np.flatnonzero(visits[1:] == visits[:-1])[0])  # ranks tie and tie + 1
    step = int(np.flatnonzero(visits[1:] < visits[:-1])[0])  # ranks step and step + 1 differ
    off = visits.copy()
    off[-1] += 1
    swapped = codes.copy()
    swapped[[tie, tie + 1]] = swapped[[tie + 1, tie]]
    out_of_order = visits.copy()
    out_of_order[[step, step + 1]] = out_of_order[[step + 1, step]]
    twice = codes.copy()
    twice[step + 1] = twice[step]
    cases = [(labels, codes, off), (labels, swapped, visits), (labels, codes, out_of_order)]
    cases += [
        (labels, twice, visits),
        ([f"z{k:05d}" if k == 3 else x for k, x in enumerate(labels)], codes, visits),
    ]
    for names, ranked, v in cases:
        hinted = EdgeColumns.of(names, *(cols[k] for k in KEYS), ranked=ranked, visits=v)
        assert transition_edges._hinted(hinted) is None
        got = build_transitions_result(edges=hinted, **common).to_dict()
        if names is labels:
            assert got == want
    good = EdgeColumns.of(labels, *(cols[k] for k in KEYS), ranked=codes, visits=visits)
    assert transition_edges._hinted(good) is not None
    assert build_transitions_result(edges=good, **common).to_dict() == want
