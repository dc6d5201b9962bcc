"""The funnel's sequential scan kept per customer (engine/scan_levels.py): each customer's level and
breakdown group equal the fast path's joins' (engine/fast_levels.py), a breakdown by a column a
customer changes (device) equals ``api.funnel``'s, ties at a best chain's entry take the least value
(NULL last) as the canonical order says, and what the scan does not answer is None."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hourglass.engine import fastpath_scan, grouping
from hourglass.engine.event_store import write_store
from hourglass.engine.fast_levels import fast_levels
from hourglass.engine.scan_levels import customers_of, scan_by_rows, scan_levels
from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.overview_api import breakdown_funnel

STEPS = ["visit", "signup", "purchase", "repeat_purchase"]
KWS = [
    {"window": "7d"},
    {"window": "30d", "since": "2024-02-01", "until": "2024-04-01"},
    {"window": "1h", "until": "2024-03-01"},
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    table, _ = simulate_shop(400, seed=11)
    d = tmp_path_factory.mktemp("scan_levels")
    write_events(table, parquet_path=d / "shop.parquet")
    write_store(api.events(str(d / "shop.parquet")), d / "shop.duckdb")
    return {"parquet": d / "shop.parquet", "store": d / "shop.duckdb"}


@pytest.fixture
def scan() -> Iterator[None]:
    """The sequential-scan plan on a small store (it runs from 10^6 events), in threads."""
    before = fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN
    fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN = 0, 0
    yield
    fastpath_scan.SCAN_MIN_ROWS, grouping.PARALLEL_MIN = before


def _by_customer(frame: Any) -> Any:
    return frame.sort_values("customer", kind="stable").reset_index(drop=True)


def _close(a: Any, b: Any) -> bool:
    """Equal, floats to a relative 1e-9 (numpy's quantiles and DuckDB's differ in the last bits)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a if k != "seconds")
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    return bool(a == b)


@pytest.mark.parametrize("by", [None, "channel", "device", "offer", "revenue"])
@pytest.mark.parametrize("kw", KWS)
def test_each_customer_s_level_and_group_equal_the_joins(
    shop: dict[str, Path], scan: None, by: str | None, kw: dict[str, Any]
) -> None:
    ev = api.events(str(shop["store"]))
    spec = api.funnel_inputs(ev, STEPS, by=by, **kw)[1]
    got = scan_levels(ev, spec)
    assert got is not None and len(got)
    assert got["customer"].is_monotonic_increasing  # the store's key order: the ids' order here
    joins = fast_levels(ev, spec)
    pd.testing.assert_frame_equal(_by_customer(got), _by_customer(joins))


@pytest.mark.parametrize("by", ["device", "channel"])
@pytest.mark.parametrize("kw", KWS)
def test_a_breakdown_by_the_scan_per_customer_equals_the_funnel(
    shop: dict[str, Path], scan: None, by: str, kw: dict[str, Any]
) -> None:
    """device: a customer changes it (30% of them here), so his group is his best chain's entry's."""
    ev = api.events(str(shop["store"]))
    spec = api.funnel_inputs(ev, STEPS, by=by, **kw)[1]
    assert scan_by_rows(ev, spec) is not None
    got = breakdown_funnel(ev, by, steps=STEPS, **kw).to_dict()
    assert _close(got, api.funnel(ev, STEPS, by=by, **kw).to_dict())


def _ties(tmp_path: Path) -> api.Events:
    """Customers whose step-1 events tie in time with other devices (and NULL), and one whose best
    chain starts at his second visit."""
    rows = [
        ("a", "visit", "2024-01-01 10:00:00", "web", 1.5, 2),
        ("a", "visit", "2024-01-01 10:00:00", "app", 2.5, 1),
        ("a", "signup", "2024-01-01 11:00:00", "web", None, None),
        ("b", "visit", "2024-01-01 10:00:00", None, None, None),
        ("b", "visit", "2024-01-01 10:00:00", "tv", 0.5, None),
        ("c", "visit", "2024-01-01 10:00:00", None, 3.0, 1),
        ("c", "visit", "2024-01-05 10:00:00", "web", 1.0, 2),
        ("c", "signup", "2024-01-05 12:00:00", "web", 2.0, None),
        ("c", "purchase", "2024-01-06 12:00:00", "app", None, None),
        ("d", "visit", "2024-01-02 10:00:00", "tv", 4.0, None),
        ("d", "visit", "2024-01-02 09:00:00", "app", 0.25, 3),
    ]
    frame = pd.DataFrame(rows, columns=["customer", "event", "timestamp", "device", "score", "tier"])
    frame["tier"] = frame["tier"].astype("Int64")  # an integer column with NULLs
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame.to_parquet(tmp_path / "ties.parquet")
    write_store(api.events(str(tmp_path / "ties.parquet")), tmp_path / "ties.duckdb")
    return api.events(str(tmp_path / "ties.duckdb"))


def test_a_tie_at_the_entry_takes_the_least_value_null_last(tmp_path: Path, scan: None) -> None:
    ev = _ties(tmp_path)
    spec = api.funnel_inputs(ev, ["visit", "signup", "purchase"], by="device", window="2d")[1]
    got = scan_levels(ev, spec)
    assert got is not None
    assert got.to_dict(orient="list") == {
        "customer": ["a", "b", "c", "d"],
        "level": [2, 1, 3, 1],
        "by": ["app", "tv", "web", "app"],
    }
    pd.testing.assert_frame_equal(_by_customer(got), _by_customer(fast_levels(ev, spec)))
    by_score = api.funnel_inputs(ev, ["visit", "signup", "purchase"], by="score", window="2d")[1]
    scores = scan_levels(ev, by_score)  # a number: the joins' float64; a tie's least, NULL last
    assert scores is not None and scores["by"].tolist() == [1.5, 0.5, 1.0, 0.25]
    pd.testing.assert_frame_equal(_by_customer(scores), _by_customer(fast_levels(ev, by_score)))
    by_tier = api.funnel_inputs(ev, ["visit", "signup", "purchase"], by="tier", window="2d")[1]
    tiers = scan_levels(ev, by_tier)  # an integer with NULLs: integers still (a group's label "1", not "1.0")
    assert tiers is not None and [None if pd.isna(x) else x for x in tiers["by"]] == [1, None, 2, 3]
    assert tiers["by"].astype(str)[0] == "1"
    pd.testing.assert_frame_equal(_by_customer(tiers), _by_customer(fast_levels(ev, by_tier)))
    rows = breakdown_funnel(ev, "device", steps=["visit", "signup", "purchase"], window="2d").to_dict()
    want = api.funnel(ev, ["visit", "signup", "purchase"], by="device", window="2d").to_dict()
    assert _close(rows, want)


def test_what_the_scan_does_not_answer_is_none(shop: dict[str, Path], scan: None) -> None:
    store = api.events(str(shop["store"]))
    parquet = api.events(str(shop["parquet"]))
    assert customers_of(parquet, api.funnel_inputs(parquet, STEPS, window="7d")[1]) is None
    for kw in ({"open": True}, {"count": "totals"}, {"mode": "strict_order"}):
        spec = api.funnel_inputs(store, STEPS, window="7d", **kw)[1]
        assert scan_levels(store, spec) is None, kw
    optional = api.funnel_inputs(store, ["visit", "signup?", "purchase"], window="7d")[1]
    assert scan_levels(store, optional) is None
    assert scan_by_rows(store, api.funnel_inputs(store, STEPS, window="7d")[1]) is None  # no breakdown


def test_values_duckdb_cannot_look_up_in_a_list_are_numbered_by_a_join(
    shop: dict[str, Path], scan: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step-1 rows' values are numbered by a list lookup; where DuckDB cannot bind the values as
    a list parameter, by a join with them: the same groups."""
    import duckdb

    ev = api.events(str(shop["store"]))
    spec = api.funnel_inputs(ev, STEPS, by="device", window="7d")[1]
    want = scan_by_rows(ev, spec)
    real = ev.engine.con.con

    class NoLists:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def execute(self, query: str, params: Any = None) -> Any:
            if params:
                raise duckdb.BinderException("Binder Error: no list here")
            return real.execute(query)

    monkeypatch.setattr(ev.engine.con, "con", NoLists())
    assert scan_by_rows(ev, spec) == want


def test_the_work_stops_between_its_reads_once_it_is_not_wanted(shop: dict[str, Path], scan: None) -> None:
    """The work ahead's people of a funnel left behind: asked between the reads and the pass."""
    from hourglass.engine.scan_levels import Unwanted

    ev = api.events(str(shop["store"]))
    spec = api.funnel_inputs(ev, STEPS, by="device", window="7d")[1]
    asked: list[int] = []

    def until_second() -> bool:
        asked.append(1)
        return len(asked) < 2

    with pytest.raises(Unwanted):
        scan_levels(ev, spec, until_second)
    assert len(asked) == 2
    assert scan_levels(ev, spec, lambda: True) is not None


def test_an_interrupted_read_is_not_left_to_the_joins(
    shop: dict[str, Path], scan: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The work ahead's query interrupted (another funnel asked for): raised, not answered by the
    joins (the funnel left behind gets neither)."""
    import duckdb

    ev = api.events(str(shop["store"]))
    spec = api.funnel_inputs(ev, STEPS, by="device", window="7d")[1]
    real = ev.engine.con.con

    class Interrupted:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def sql(self, query: str) -> Any:
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(ev.engine.con, "con", Interrupted())
    with pytest.raises(duckdb.InterruptException):
        scan_levels(ev, spec)


def test_a_store_written_again_has_its_own_ids(tmp_path: Path, shop: dict[str, Path], scan: None) -> None:
    """Store A loaded, B written at its path and loaded, A's people asked after that (A's events
    still read A's file), then B's: each has its own ids (R's review: a key by the file at the path
    gave B A's ids)."""
    ev = _ties(tmp_path)
    spec = api.funnel_inputs(ev, ["visit", "signup"], window="2d")[1]
    write_store(api.events(str(shop["parquet"])), tmp_path / "ties.duckdb", overwrite=True)  # another log
    again = api.events(str(tmp_path / "ties.duckdb"))
    assert scan_levels(ev, spec)["customer"].tolist() == ["a", "b", "c", "d"]
    spec = api.funnel_inputs(again, ["visit", "signup"], window="2d")[1]
    got = scan_levels(again, spec)
    pd.testing.assert_frame_equal(_by_customer(got), _by_customer(fast_levels(again, spec)))
