"""The referral loop and the channels on a second connection beside the stages (issue 12: a new
date range on the hourglass page): engine/second_connection.py ``beside``. The lifecycle's answers
on both connections are compared with the direct plan in tests/test_lifecycle_bound.py."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import hourglass
from hourglass.engine import second_connection as sc
from hourglass.engine.event_store import write_store
from hourglass.engine.load import Events
from hourglass.model.errors import SpecError
from test_lifecycle_keyed import random_log


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("beside")
    random_log(21).to_parquet(d / "log.parquet")
    write_store(hourglass.events(str(d / "log.parquet")), d / "store.duckdb")
    return str(d / "store.duckdb")


def _count(on: Events) -> int:
    return int(on.engine.con.con.execute("SELECT count(*) FROM (SELECT 1)").fetchone()[0])


def test_the_function_runs_on_a_second_connection_kept_for_the_next_call(store: str) -> None:
    ev = hourglass.events(store)
    seen: list[Any] = []

    def fn(on: Events) -> int:
        seen.append((on.engine.con, threading.current_thread().name))
        return int(on.engine.execute(on.table.count()))

    for _ in range(2):
        with sc.beside(ev, fn) as answer:
            here = int(ev.engine.execute(ev.table.count()))
            assert answer() == here
    (con1, name1), (con2, name2) = seen
    assert con1 is con2 and con1 is not ev.engine.con  # one second connection, kept
    assert name1 == name2 == "hourglass-beside"


def test_its_error_is_raised_where_the_answer_is_asked_for(store: str) -> None:
    ev = hourglass.events(store)

    def fails(on: Events) -> int:
        raise SpecError("wrong", code="HG106", hint="x")

    with sc.beside(ev, fails) as answer, pytest.raises(SpecError, match="wrong"):
        answer()
    with sc.beside(ev, _count) as answer:  # the second connection is free again
        assert answer() == 1


def test_a_busy_second_connection_runs_the_function_on_the_first(store: str) -> None:
    ev = hourglass.events(store)
    where: list[Any] = []
    with sc.beside(ev, lambda on: where.append(on) or 1) as first:
        first()
        found = sc._companion(ev)
        assert found is not None
        with found[1], sc.beside(ev, lambda on: where.append(on) or 2) as second:  # held elsewhere
            assert second() == 2
    assert where[0] is not ev and where[1] is ev


def test_no_second_connection_runs_the_function_on_the_events(monkeypatch: pytest.MonkeyPatch) -> None:
    ev = hourglass.events(random_log(3))
    tried: list[Events] = []
    monkeypatch.setattr(sc, "second_connection", lambda events: tried.append(events))
    for _ in range(2):
        with sc.beside(ev, lambda on: on) as answer:
            assert answer() is ev
    assert len(tried) == 1  # not tried again


def test_the_lifecycle_says_the_referral_loops_error_first(store: str) -> None:
    with pytest.raises(SpecError) as raised:
        hourglass.lifecycle(store, since="2024-01-02", referral_options={"period": "fortnight"})
    assert "fortnight" in str(raised.value)
