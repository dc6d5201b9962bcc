"""engine/journeys_text.py: event-level paths of a file of very many event names (only each
customer's first strings numbered) equal the portable plan's and the general fast path's: ties in
(customer, ts) broken by name, names with a blank edge, raw values equal after canonicalising,
repeated names (a customer short of runs in its first rows taken whole), a period; a raw value that
canonicalises to null leaves it to the general path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hourglass.engine import journeys_text
from hourglass.interfaces import journeys_api as hg
from hourglass.model.errors import DataError
from test_journeys_fast import _approx, _plain, portable

#: raw values with a blank edge and their canonical twins (RE2's ``\s``; ``\v`` is not trimmed)
EDGES = [" visit", "visit ", "\tvisit", "visit\n", "signup\r", "signup", "x\v", "\vx", " ", "a b"]


def _file(tmp_path: Path, seed: int, *, blank: bool = False, far: bool = True) -> str:
    """20k events of 600 customers over 6,000 names (past raw_names' many-values test), many ties
    in time, repeats, blank edges; ``blank``: one value all white space (canonical: null)."""
    rng = np.random.default_rng(seed)
    m = 20_000
    ids = rng.integers(0, 2**62, 600) if far else np.arange(600) + 10
    c = ids[rng.integers(0, len(ids), m)]
    names = np.array([f"n{k:05d}" for k in range(6000)] + EDGES[:-2] + EDGES[-1:], dtype=object)
    pick = rng.integers(0, len(names), m)
    few = rng.random(m) < 0.35  # a handful of names often: repeats and runs
    pick[few] = rng.integers(len(names) - 9, len(names), few.sum())
    event = names[pick]
    if blank:
        event[m // 2] = " "
    ts = 1_704_067_200_000_000 + rng.integers(0, 4000, m) * 1_000_000  # ties in (customer, ts)
    table = pa.table(
        {
            "customer_id": pa.array(c, pa.int64()),
            "event": pa.array(list(event), pa.string()),
            "timestamp": pa.array(ts, pa.timestamp("us")),
        }
    )
    path = tmp_path / f"wide_{seed}_{int(blank)}_{int(far)}.parquet"
    pq.write_table(table, path)
    return str(path)


def _paths(path: str, **kw: Any) -> Any:
    return _plain(hg.paths(path, None, level="event", top=12, **kw).to_dict())


@pytest.fixture(autouse=True)
def _on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journeys_text, "ENABLED", True)  # off by default (its doc)


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    ran: list[bool] = []
    real = journeys_text.text_paths

    def spied(*a: Any, **k: Any) -> Any:
        got = real(*a, **k)
        ran.append(got is not None)
        return got

    monkeypatch.setattr(journeys_text, "text_paths", spied)
    return ran


@pytest.mark.parametrize(
    ("seed", "far", "kw"),
    [
        (1, True, {"depth": 8}),
        (2, False, {"depth": 3, "collapse": False}),
        (3, True, {"depth": 5, "since": "2024-01-01T00:20:00", "until": "2024-01-01T00:55:00"}),
    ],
)
def test_the_portable_plans_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, far: bool, kw: dict[str, Any]
) -> None:
    path = _file(tmp_path, seed, far=far)
    ran = _spy(monkeypatch)
    got = _paths(path, **kw)
    assert ran == [True]
    monkeypatch.setattr(journeys_text, "PREFIX", 40)  # every row taken in the first pass: the same
    assert _paths(path, **kw) == got
    monkeypatch.setattr(journeys_text, "ENABLED", False)
    assert _paths(path, **kw) == got  # the general fast path
    assert ran == [True, True]
    with portable():
        assert _paths(path, **kw) == got


@pytest.mark.parametrize(("seed", "far", "collapse"), [(6, True, True), (7, False, False)])
def test_the_portable_plans_transitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, far: bool, collapse: bool
) -> None:
    """Every row numbered (text_sorted): the edges equal the general path's and the portable plan's."""
    path = _file(tmp_path, seed, far=far)
    ran: list[bool] = []
    real = journeys_text.text_sorted

    def spied(*a: Any) -> Any:
        got = real(*a)
        ran.append(got is not None)
        return got

    monkeypatch.setattr(journeys_text, "text_sorted", spied)
    monkeypatch.setattr(journeys_text, "TRANSITIONS", True)
    kw: dict[str, Any] = {"level": "event", "collapse": collapse}
    got = _plain(hg.transitions(path, None, **kw).to_dict())
    assert ran == [True]
    monkeypatch.setattr(journeys_text, "ENABLED", False)
    assert _plain(hg.transitions(path, None, **kw).to_dict()) == got
    with portable():
        _approx(got, _plain(hg.transitions(path, None, **kw).to_dict()))


def test_short_customers_are_taken_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Customers whose first rows repeat one name: the second pass takes them whole."""
    rounds: list[int] = []
    real = journeys_text._encoded

    def counted(*a: Any) -> Any:
        rounds.append(1)
        return real(*a)

    monkeypatch.setattr(journeys_text, "_encoded", counted)
    path = _file(tmp_path, 4)
    got = _paths(path, depth=8)
    assert len(rounds) == 2
    with portable():
        assert _paths(path, depth=8) == got


def test_a_value_canonical_null_is_the_validations_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event all white space (canonical null) is HG402 before any plan runs, as before."""
    path = _file(tmp_path, 5, blank=True)
    ran = _spy(monkeypatch)
    with pytest.raises(DataError, match="HG402"):
        _paths(path, depth=4)
    assert ran == []


def test_canonical_nulls_decline(tmp_path: Path) -> None:
    """Given rows whose raw value canonicalises to null (or is null), the module declines (the
    general path answers then)."""
    import duckdb

    con = duckdb.connect()
    for value in (" ", "\t\n", "", None):
        t = pa.table({"c": pa.array([1, 1, 2], pa.int64()), "ts": [1, 2, 3], "node": ["a", value, "b"]})
        con.register("t", t)
        assert journeys_text.text_paths(con, "SELECT * FROM t", True, 3, 5) is None
        con.unregister("t")
    t = pa.table({"c": pa.array([1, 1, 2], pa.int64()), "ts": [1, 2, 3], "node": ["a", " a\v", "b "]})
    con.register("t", t)
    got = journeys_text.text_paths(con, "SELECT * FROM t", True, 3, 5)
    assert got is not None and got[1] == ["a", "a\v", "b"]  # RE2's \s trims no \v
