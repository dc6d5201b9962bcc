"""model/transition_edges.py: the transition graph from the engine's columns (millions of edges on a
log of 10^6 event names) equals the one built from a dict per edge (model/transitions.py's
``_graph``, the portable plan's form): the same nodes and edges in the documented order (ties in
moves included), the same JSON text, CSV rows, text and matrix; and a wide-ish log (50k names)
answers the same on the fast path and the portable plan, quickly."""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hourglass.interfaces import journeys_api
from hourglass.model import transition_edges
from hourglass.model.transition_edges import EdgeColumns, Rows
from hourglass.model.transitions import build_transitions_result


def _random_edges(seed: int, n_names: int, sorted_names: bool) -> tuple[list[str], dict[str, Any]]:
    """Distinct (from, to) edges over ``n_names`` names with few distinct moves (many ties), an
    end edge for most nodes; the columns' codes index ``names``."""
    rng = np.random.default_rng(seed)
    names = [f"e{k:04d}" for k in range(n_names)]
    if not sorted_names:
        names = [names[k] for k in rng.permutation(n_names)]
    pairs = {(int(a), int(b)) for a, b in rng.integers(-1, n_names, (n_names * 6, 2)) if a >= 0}
    src = np.array([a for a, _ in sorted(pairs)], dtype=np.int64)
    dst = np.array([b for _, b in sorted(pairs)], dtype=np.int64)
    moves = rng.integers(1, 4, len(src))  # ties in moves everywhere
    customers = np.minimum(moves, rng.integers(1, 4, len(src)))
    med = rng.integers(0, 10**6, len(src)) / 1000.0
    p90 = med + rng.integers(0, 10**6, len(src)) / 7.0
    med[dst < 0] = np.nan
    p90[dst < 0] = np.nan
    cols = {"src": src, "dst": dst, "moves": moves, "customers": customers, "median_s": med, "p90_s": p90}
    return names, cols


def _dicts(names: list[str], cols: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for a, b, m, c, q5, q9 in zip(*(cols[k].tolist() for k in cols), strict=True):
        out.append(
            {
                "from": names[a],
                "to": None if b < 0 else names[b],
                "moves": m,
                "customers": c,
                "median_s": None if b < 0 else q5,
                "p90_s": None if b < 0 else q9,
            }
        )
    return out


def _both(
    names: list[str], cols: dict[str, Any], order: list[str] | None = None, level: str = "event"
) -> Any:
    common: dict[str, Any] = {"level": level, "collapse": True, "order": order, "meta": {"x": 1}}
    shuffled = _dicts(names, cols)[::-1]  # the dict form sorts whatever order it gets
    old = build_transitions_result(edges=shuffled, **common)
    new = build_transitions_result(edges=EdgeColumns.of(names, *cols.values()), **common)
    return old, new


@pytest.mark.parametrize("threaded", [False, True])  # the edges' order sorted in two threads
@pytest.mark.parametrize("sorted_names", [True, False])
@pytest.mark.parametrize(("seed", "n_names"), [(1, 1), (2, 7), (3, 300)])
def test_columns_equal_the_dict_rows(
    seed: int, n_names: int, sorted_names: bool, threaded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if threaded:
        monkeypatch.setattr(transition_edges, "_THREADED", 2)
    names, cols = _random_edges(seed, n_names, sorted_names)
    old, new = _both(names, cols)
    assert isinstance(new.edges, Rows) and isinstance(new.nodes, Rows)
    assert new.customers == old.customers
    assert list(new.nodes) == list(old.nodes) and list(new.edges) == list(old.edges)
    assert new == old  # the dataclass's equality reads the lazy rows
    assert json.dumps(new.to_dict(), indent=2) == json.dumps(old.to_dict(), indent=2)
    assert list(new.rows()) == old.rows()
    assert new.to_text() == old.to_text()
    assert new.edges[3 % len(new.edges)] == old.edges[3 % len(old.edges)]
    assert new.edges[-1] == old.edges[-1] and new.edges[1:4] == list(old.edges[1:4])
    assert pickle.loads(pickle.dumps(new)) == old  # the dashboard's disk cache pickles results


def test_stage_order_and_one_based_codes() -> None:
    """The stage level: nodes in model order (a stage without runs has no row), codes 1-based."""
    stages = ["awareness", "interest", "trial", "sale"]
    names, cols = _random_edges(5, 4, True)
    names = list(stages)
    keep = cols["src"] != 2  # "trial" has no runs of its own; "to trial" edges go too
    keep &= cols["dst"] != 2
    cols = {k: v[keep] for k, v in cols.items()}
    old, new = _both(names, cols, order=stages, level="stage")
    assert [n["node"] for n in new.nodes] == ["awareness", "interest", "sale"]
    assert new.to_dict() == old.to_dict() and new.to_text() == old.to_text()
    assert new.matrix() == old.matrix()
    one_based = EdgeColumns.of(
        names,
        cols["src"] + 1,
        np.where(cols["dst"] < 0, -1, cols["dst"] + 1),
        *(cols[k] for k in ("moves", "customers", "median_s", "p90_s")),
        first=1,
    )
    again = build_transitions_result(level="stage", collapse=True, edges=one_based, order=stages)
    assert again.to_dict()["edges"] == old.to_dict()["edges"]


def test_no_edges() -> None:
    empty = np.zeros(0, dtype=np.int64)
    r = build_transitions_result(
        level="event", collapse=True, edges=EdgeColumns.of([], empty, empty, empty, empty, empty, empty)
    )
    assert r.customers == 0 and list(r.edges) == [] and list(r.nodes) == []
    assert r.to_dict()["edges"] == [] and r.rows() == [] and len(r.rows()) == 0


@pytest.mark.parametrize("threaded", [False, True])  # the check's halves and the passes in two threads
@pytest.mark.parametrize("chunk", [1 << 20, 5])  # the check by chunks of 5 edges: the swaps cross one
@pytest.mark.parametrize("sorted_names", [True, False])
def test_columns_in_order_are_only_checked(
    sorted_names: bool, chunk: int, threaded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns handed over in the documented order (engine/wide_edges.py's; the names' codes in
    name order or not) are not sorted again; out of it by one swap they are (inside a chunk, across
    chunks, across the threads' halves, at the end): the same graph."""
    if threaded:
        monkeypatch.setattr(transition_edges, "_THREADED", 2)
    names, cols = _random_edges(11, 300, sorted_names)
    old, _ = _both(names, cols)
    code = {n: k for k, n in enumerate(names)}
    edges = list(old.edges)
    ordered = {
        "src": np.array([code[e["from"]] for e in edges], dtype=np.int64),
        "dst": np.array([-1 if e["to"] is None else code[e["to"]] for e in edges], dtype=np.int64),
        "moves": np.array([e["moves"] for e in edges], dtype=np.int64),
        "customers": np.array([e["customers"] for e in edges], dtype=np.int64),
        "median_s": np.array([np.nan if e["median_time_s"] is None else e["median_time_s"] for e in edges]),
        "p90_s": np.array([np.nan if e["p90_time_s"] is None else e["p90_time_s"] for e in edges]),
    }
    sorts: list[int] = []
    real = transition_edges._argsort_halves

    def counted(word: Any) -> Any:
        sorts.append(len(word))
        return real(word)

    monkeypatch.setattr(transition_edges, "_argsort_halves", counted)
    monkeypatch.setattr(transition_edges, "_CHUNK_CHECKED", chunk)
    _, new = _both(names, ordered)
    assert list(new.edges) == edges and list(new.nodes) == list(old.nodes) and sorts == []
    half = len(edges) // 2
    for at in ([3, 4], [4, 5], [half - 1, half], [len(edges) - 2, len(edges) - 1]):
        swapped = {k: v.copy() for k, v in ordered.items()}
        for v in swapped.values():
            v[at] = v[at[::-1]]
        _, again = _both(names, swapped)
        assert list(again.edges) == edges and sorts[-1] == len(edges)
    assert len(sorts) == 4


@pytest.mark.parametrize("bits", [63, 30, 12])
def test_ordering_past_the_packed_word(bits: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moves so large (or a word so short) that the packed order key does not fit: the moves
    ranked, then (if still too wide) a lexsort; the same order as the dict form."""
    monkeypatch.setattr(transition_edges, "_WORD_BITS", bits)
    names, cols = _random_edges(9, 300, True)
    cols["moves"] = cols["moves"] * (1 << 40)  # 3 distinct values, 42 bits: ranked
    old, new = _both(names, cols)
    assert list(new.edges) == list(old.edges)
    cols["moves"] = np.random.default_rng(4).integers(1, 1 << 44, len(cols["moves"]))
    old, new = _both(names, cols)
    assert list(new.edges) == list(old.edges)


def test_wide_log_columns_equal_the_dict_rows() -> None:
    """50,000 event names, 60,000 events through ``hourglass.transitions``: the graph (from the
    engine's columns, once the fast path hands them over) equals the one the dict form builds from
    the same edges, JSON text included; quickly."""
    rng = np.random.default_rng(50)
    n = 60_000
    names = [f"n{k:05d}" for k in range(50_000)] + ["visit"] * (n - 50_000)
    log = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 3_000, n).astype(str),
            "event": [names[k] for k in rng.permutation(n)],
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        }
    )
    r = journeys_api.transitions(log, None, level="event")
    d = r.to_dict()
    assert len(d["nodes"]) == 50_001 and r.customers == 3_000
    rows = [{"median_s": e["median_time_s"], "p90_s": e["p90_time_s"], **e} for e in reversed(d["edges"])]
    again = build_transitions_result(level="event", collapse=True, edges=rows, meta=d["meta"])
    assert json.dumps(again.to_dict(), indent=2) == json.dumps(d, indent=2)


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("chunk", [1 << 20, 2])
def test_an_edge_of_a_node_not_in_the_order_raises(
    chunk: int, threaded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node outside the given order (stages): KeyError, as the dict form's rank lookup, whether
    the check by chunks (in a thread's half) meets it in order or the sort does."""
    monkeypatch.setattr(transition_edges, "_CHUNK_CHECKED", chunk)
    if threaded:
        monkeypatch.setattr(transition_edges, "_THREADED", 2)
    z = np.zeros(4)
    for src in ([0, 0, 1, 2], [1, 0, 0, 2]):  # in order until the stray node; out of order first
        cols = EdgeColumns.of(["a", "b", "c"], src, [1, -1, -1, -1], [3, 1, 2, 1], [1, 1, 1, 1], z, z)
        with pytest.raises(KeyError):
            build_transitions_result(level="stage", collapse=True, edges=cols, order=["a", "b"])


def test_names_rank_of_every_code_and_of_some() -> None:
    """The present codes ranked by name: all of them (the names taken as they are) or some."""
    rank = transition_edges._names_rank
    assert rank(["b", "a", "c"], np.array([0, 1, 2])).tolist() == [1, 0, 2]
    assert rank(["b", "a", "c"], np.array([0, 2])).tolist() == [0, 1]
    assert rank(["c", "a", "b"], np.array([0, 2])).tolist() == [1, 0]
    assert rank(["a", "b"], np.array([0, 1])).tolist() == [0, 1]
