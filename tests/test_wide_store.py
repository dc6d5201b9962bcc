"""A store of a log with very many event names (issue 18): it opens without its names' list being
parsed (an ENUM's value list reached Ibis's type parser, sqlglot: ~60 s and 1.5 GB per table at 10^6
names; DuckDB itself reads an ENUM's values whenever the file is attached: ~9 s), and past
``ENUM_MAX_NAMES`` names the store keeps them as text, with the same results as its source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from ibis.backends.sql.datatypes import DuckDBType

import hourglass
from hourglass.engine import event_store
from hourglass.interfaces.store_api import ingest
from test_funnel_properties import assert_same, forced_plan


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every type text Ibis parses (with sqlglot) while the test runs."""
    seen: list[str] = []
    original = DuckDBType.from_string

    def recorded(cls: Any, text: str, nullable: bool | None = None) -> Any:
        seen.append(text)
        return original(text, nullable=nullable)

    monkeypatch.setattr(DuckDBType, "from_string", classmethod(recorded))
    yield seen


def _log(names: int, customers: int = 40) -> pd.DataFrame:
    """``names`` distinct event names (``e00000``, ...) over ``customers`` customers, one a minute,
    plus a visit/signup/purchase journey for every customer."""
    rows = [(f"c{i % customers}", f"e{i:05d}", i) for i in range(names)]
    for c in range(customers):
        rows += [(f"c{c}", "visit", 10 * c), (f"c{c}", "signup", 10 * c + 3 + c % 5)]
        if c % 3 == 0:
            rows.append((f"c{c}", "purchase", 10 * c + 9))
    df = pd.DataFrame(rows, columns=["customer", "event", "minute"])
    df["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(df.pop("minute"), unit="min")
    return df


def _event_type(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'hg_events' AND column_name = 'event'"
        ).fetchone()
        enums = con.execute(
            "SELECT count(*) FROM duckdb_types() WHERE type_name = 'hg_event_name'"
        ).fetchone()
    finally:
        con.close()
    assert row is not None and enums is not None
    return f"{row[0]}{' (an hg_event_name type)' if enums[0] else ''}"


def test_an_enums_values_never_reach_ibiss_type_parser(tmp_path: Path, parsed: list[str]) -> None:
    path = tmp_path / "small.duckdb"
    ingest(_log(30), path)
    assert _event_type(path).startswith("ENUM(")
    parsed.clear()
    ev = hourglass.events(str(path))
    assert ev.codes is not None and "visit" in ev.codes and ev.enum_type is not None
    res = hourglass.funnel(str(path), ["visit", "signup", "purchase"], window="1h")
    assert [s.customers for s in res.steps] == [40, 40, 14]
    assert not [t for t in parsed if "ENUM" in t.upper()], "an ENUM's value list reached sqlglot"


def test_the_default_keeps_20k_names_as_text(tmp_path: Path, parsed: list[str]) -> None:
    assert event_store.ENUM_MAX_NAMES < 20_000
    path = tmp_path / "wide.duckdb"
    info = ingest(_log(20_000), path)
    assert info.event_names == 20_003
    assert _event_type(path) == "VARCHAR"
    parsed.clear()
    ev = hourglass.events(str(path))
    assert ev.codes is None and ev.enum_type is None and ev.keyed is not None
    res = hourglass.funnel(str(path), ["visit", "signup", "purchase"], window="1h")
    assert [s.customers for s in res.steps] == [40, 40, 14]
    assert max(map(len, parsed), default=0) < 100  # no list of names parsed as a type


CASES: list[dict[str, Any]] = [
    {"steps": ["visit", "signup", "purchase"], "window": "1h"},
    {"steps": ["visit", "signup", "purchase"], "window": "6m"},
    {"steps": ["visit", {"name": "any", "events": ["signup", "e00007"]}], "window": "1h"},
    {"steps": ["visit", "signup", "purchase"], "window": "1h", "open": True},
    {"steps": ["e0000*", "signup"], "window": "1d"},
    {"steps": ["visit", "signup"], "window": "1h", "by": "customer"},
]


@pytest.fixture(scope="module")
def text_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    log = _log(50)
    path = tmp_path_factory.mktemp("wide") / "text.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(event_store, "ENUM_MAX_NAMES", 20)
        ingest(log, path)
    assert _event_type(path) == "VARCHAR"
    return str(path), log


@pytest.mark.parametrize("plan", ["auto", "portable"])
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_a_store_of_names_as_text_gives_the_sources_results(
    text_store: tuple[str, pd.DataFrame], case: dict[str, Any], plan: str
) -> None:
    store, log = text_store
    with forced_plan(plan):
        got = hourglass.funnel(store, **case).to_dict()
        want = hourglass.funnel(log, **case).to_dict()
    assert got["meta"]["plan"] == want["meta"]["plan"]
    for d in (got, want):
        d.pop("meta")
    assert_same(got, want)


def test_paths_and_transitions_of_names_as_text(text_store: tuple[str, pd.DataFrame]) -> None:
    store, log = text_store
    for run in (hourglass.paths, hourglass.transitions):
        got, want = run(store, level="event").to_dict(), run(log, level="event").to_dict()
        for d in (got, want):
            d.pop("meta", None)
        assert_same(got, want)
    ev = hourglass.events(store)
    df = ev.engine.execute(ev.table)
    assert len(df) == len(log) and set(df["event"]) == set(log["event"])
