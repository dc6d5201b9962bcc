"""engine/raw_names.py on a column of very many distinct raw values (a log of 10^6 event names):
the names found row by row answer as the grouping of the distinct values does (untrimmed and empty
values included), and that form is the one chosen for such a column, not for a few names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import hourglass
from hourglass.engine import raw_names as rn


def _log(distinct: int) -> pd.DataFrame:
    events = [f"n{k:05d}" for k in range(distinct)] + [
        " visit",
        "visit",
        "visit  ",
        "view ",
        "\tview",
        "pay",
    ]
    return pd.DataFrame(
        {
            "customer_id": [f"c{k % 50}" for k in range(len(events))],
            "event": events,
            "timestamp": pd.date_range("2024-01-01", periods=len(events), freq="min"),
        }
    )


@pytest.mark.parametrize("parquet", [False, True])
def test_row_by_row_equals_the_distinct_values(
    parquet: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(6000)
    source: object = log
    if parquet:
        log.to_parquet(tmp_path / "log.parquet")
        source = str(tmp_path / "log.parquet")
    chosen: list[bool] = []
    many = rn._many_values

    def spy(*args: object) -> bool:
        chosen.append(many(*args))  # type: ignore[arg-type]
        return chosen[-1]

    monkeypatch.setattr(rn, "_many_values", spy)
    names = ["visit", "view", "pay", "n00007", "nope"]
    answers = []
    for limit in (4096, 10**9):  # 6,006 distinct values: row by row, then by the distinct values
        monkeypatch.setattr(rn, "_MANY", limit)
        got = rn._raw_names(hourglass.events(source), names)
        assert got is not None
        answers.append(got)
    assert chosen == [True, False]
    assert answers[0] == answers[1]
    assert answers[0].rows == 6006 and answers[0].counts == {"visit": 3, "view": 2, "pay": 1, "n00007": 1}
    assert answers[0].raw == {" visit": "visit", "visit": "visit", "visit  ": "visit", "view ": "view",
                              "\tview": "view", "pay": "pay", "n00007": "n00007"}  # fmt: skip


def test_few_names_keep_the_distinct_values() -> None:
    ev = hourglass.events(_log(100))
    assert not rn._many_values(ev, *_raw(ev))
    assert rn._raw_names(ev, ["visit"]) is not None


def _raw(ev: object) -> tuple[object, str]:
    found = rn._canonical_event(ev.table)  # type: ignore[attr-defined]
    assert found is not None
    field, _ = found
    return field.rel.to_expr(), field.name


@pytest.mark.parametrize("parquet", [False, True])
def test_plain_filter_equals_every_row_canonicalised(
    parquet: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wide form keeps the rows whose raw value is a name or has a blank edge and groups
    those: same answer as canonicalising every row (values with blank edges of each kind; an
    empty one is HG402 at load)."""
    log = _log(6000)
    extra = ["pay\r", "\x0cpay\x0c", "\x0bpay", "n00007 ", "nope?"]  # RE2's \s is not \v
    more = pd.DataFrame({"customer_id": "c1", "event": extra, "timestamp": pd.Timestamp("2024-02-01")})
    log = pd.concat([log, more], ignore_index=True)
    source: object = log
    if parquet:
        log.to_parquet(tmp_path / "log.parquet")
        source = str(tmp_path / "log.parquet")
    monkeypatch.setattr(rn, "_MANY", 4096)
    used: list[bool] = []
    plain = rn._plain_filter

    def spy(*args: object) -> rn.RawNames | None:
        got = plain(*args)  # type: ignore[arg-type]
        used.append(got is not None)
        return got

    monkeypatch.setattr(rn, "_plain_filter", spy)
    names = ["visit", "view", "pay", "n00007", "nope"]
    ev = hourglass.events(source)
    fast = rn._raw_names(ev, names)
    monkeypatch.setattr(rn, "_plain_filter", lambda *args: None)
    slow = rn._raw_names(ev, names)
    assert used == [True]
    assert fast == slow and fast is not None
    assert fast.counts == {"visit": 3, "view": 2, "pay": 3, "n00007": 2}
    assert set(fast.raw) == {" visit", "visit", "visit  ", "view ", "\tview", "pay", "pay\r",
                             "\x0cpay\x0c", "n00007", "n00007 "}  # fmt: skip
    assert fast.rows == len(log)


def test_plain_filter_declines_a_name_with_a_blank_edge() -> None:
    ev = hourglass.events(_log(10))
    found = rn._canonical_event(ev.table)  # type: ignore[attr-defined]
    assert found is not None
    field, expr = found
    raw = field.rel.to_expr()
    assert rn._plain_filter(ev, raw, field, expr, ["visit "]) is None
    assert rn._plain_filter(ev, raw, field, expr, ["visit"]) is not None
