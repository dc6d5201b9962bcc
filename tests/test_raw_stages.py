"""engine/raw_stages.py: the stage level of paths and transitions on a file of very many event names
in ONE scan (the model check's names and the stage rows from the same rows): the same answers as
the portable plan and as the two passes, the same notes and errors from the check, and the one
scan is what ran (no check query of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import hourglass
from hourglass.engine import event_names, parquet_rows, raw_names, raw_stages
from hourglass.model.errors import HourglassError
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import TransitionsSpec

SPEC: dict[str, Any] = {
    "name": "wide",
    "kind": "funnel",
    "stages": [
        {"name": "visit", "events": ["visit"]},
        {"name": "signup", "events": ["signup", "onboarding"]},
        {"name": "buy", "events": ["purchase"]},
    ],
}
MODEL = JourneyModel.from_dict(SPEC)

#: raw values around the names: blank edges trimmed to a name; `\v` (RE2's `\s` does not trim
#: it), case and inner spaces that make other names
_NOISY = [" visit", "visit\t", "signup  ", "\nonboarding", "\vvisit", "Visit", "sign up", "purchase\v"]
_NOISY += ["\fpurchase "]


def _log(distinct: int = 9000, customers: int = 300) -> pd.DataFrame:
    """9,000 rows, about 6,000 distinct names (``distinct``: fewer)."""
    plain = ["visit", "signup", "onboarding", "purchase"]
    events: list[str] = []
    for k in range(9000):
        if k % 3 == 0:
            events.append(plain[(k // 3) % 4])
        elif k % 97 == 0:
            events.append(_NOISY[(k // 97) % len(_NOISY)])
        else:
            events.append(f"n{k % distinct:05d}")
    return pd.DataFrame(
        {
            "customer_id": [(k * 7919) % customers for k in range(len(events))],
            "event": events,
            "timestamp": pd.Timestamp("2024-01-01")
            + pd.to_timedelta([(k * 37) % 50_000 for k in range(len(events))], unit="s"),
        }
    )


@pytest.fixture
def hooked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A record of the one scan's runs and of the check's own queries."""
    ran: list[str] = []
    scan, read, names = raw_stages._scan, raw_stages._read, raw_names._raw_names
    monkeypatch.setattr(parquet_rows, "ARROW_MIN_ROWS", 0)  # pyarrow's reader on these small files

    def spy_scan(*a: Any) -> Any:
        ran.append("one scan")
        return scan(*a)

    def spy_read(*a: Any) -> Any:
        got = read(*a)
        if got is not None:
            ran.append("one scan")
        return got

    def spy_names(*a: Any) -> Any:
        ran.append("check query")
        return names(*a)

    monkeypatch.setattr(raw_stages, "_scan", spy_scan)
    monkeypatch.setattr(raw_stages, "_read", spy_read)
    monkeypatch.setattr(raw_names, "_raw_names", spy_names)
    yield ran


def _source(log: pd.DataFrame, parquet: bool, tmp_path: Path) -> Any:
    if not parquet:
        return log
    path = tmp_path / "wide.parquet"
    log.to_parquet(path)
    return str(path)


def _answer(result: Any) -> Any:
    d = result.to_dict()
    d.pop("meta", None)
    return d


@pytest.mark.parametrize("parquet", [True, False])
@pytest.mark.parametrize("analysis", ["paths", "transitions"])
def test_one_scan_answers_as_the_portable_plan_and_the_two_passes(
    analysis: str, parquet: bool, hooked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(_log(), parquet, tmp_path)
    run = getattr(hourglass, analysis)
    one = run(source, MODEL, level="stage")
    assert hooked == ["one scan"]  # the check read the scan's names: no query of its own
    monkeypatch.setattr(raw_stages, "ONE_SCAN", False)
    two = run(source, MODEL, level="stage")
    assert "check query" in hooked[1:] and "one scan" not in hooked[1:]
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    portable = run(source, MODEL, level="stage")
    assert _answer(one) == _answer(two) == _answer(portable)
    assert one.meta.get("notes") == two.meta.get("notes")


def test_the_scan_counts_names_with_blank_edges_and_not_the_others(hooked: list[str], tmp_path: Path) -> None:
    log = _log()
    ev = hourglass.events(_source(log, True, tmp_path))
    spec = TransitionsSpec.build(MODEL, level="stage")
    assert raw_stages.prefetch(ev, spec)
    kept = raw_names.known_counts(ev, ["visit", "signup", "onboarding", "purchase"])
    assert kept is not None and kept.rows == len(log)
    canon = log.event.str.replace(r"^\s+|\s+$", "", regex=True)  # RE2's and Python's \s differ on \v
    canon = canon.where(~log.event.str.contains("\v"), log.event)
    expected = {n: int((canon == n).sum()) for n in ["visit", "signup", "onboarding", "purchase"]}
    assert kept.counts == {n: c for n, c in expected.items() if c}
    assert kept.counts["visit"] > int((log.event == "visit").sum())  # " visit", "visit\t" counted
    raw_stages.drop(ev)


def test_a_model_of_absent_names_raises_the_checks_error(
    hooked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(_log(), True, tmp_path)
    absent = JourneyModel.from_dict(
        {**SPEC, "stages": [{"name": "a", "events": ["nothing"]}, {"name": "b", "events": ["n00007x"]}]}
    )
    errors = []
    for one in (True, False):
        monkeypatch.setattr(raw_stages, "ONE_SCAN", one)
        event_names._LAST = (None, None, None)
        with pytest.raises(HourglassError) as info:
            hourglass.transitions(source, absent, level="stage")
        errors.append((info.value.code, str(info.value), info.value.hint))
    assert hooked[0] == "one scan"
    assert errors[0] == errors[1] and errors[0][0] == "HG117"
    assert raw_stages._PENDING == (None, None, None)  # nothing held after the error


def test_a_missing_stage_is_the_same_note(
    hooked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(_log(), True, tmp_path)
    model = JourneyModel.from_dict(
        {**SPEC, "stages": [*SPEC["stages"], {"name": "loyal", "events": ["absent"]}]}
    )
    notes = []
    for one in (True, False):
        monkeypatch.setattr(raw_stages, "ONE_SCAN", one)
        notes.append(hourglass.paths(source, model, level="stage").meta.get("notes"))
    assert notes[0] == notes[1] and notes[0]
    assert "loyal" in notes[0][0]


@pytest.mark.parametrize("reader", [True, False])
def test_not_run_for_a_period_a_pattern_or_a_breakdown(
    reader: bool, hooked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet_rows, "ARROW_READER", reader)
    source = _source(_log(), True, tmp_path)
    hourglass.paths(source, MODEL, level="stage", since="2024-01-01T01:00:00")
    globbed = JourneyModel.from_dict(
        {**SPEC, "stages": [*SPEC["stages"][:2], {"name": "b", "events": ["purch*"]}]}
    )
    hourglass.paths(source, globbed, level="stage")
    hourglass.paths(source, MODEL, level="stage", by="event")
    assert "one scan" not in hooked


def test_few_names_one_scan_through_pyarrow_only(
    hooked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dictionary of a few names: DuckDB's grouped check is cheaper than its one scan, not than
    pyarrow's reader (engine/parquet_rows.py, which reads the dictionary once)."""
    few = _source(_log(distinct=50), True, tmp_path)
    answers = []
    for reader in (False, True):
        monkeypatch.setattr(parquet_rows, "ARROW_READER", reader)
        answers.append(_answer(hourglass.paths(few, MODEL, level="stage")))
    assert hooked == ["check query", "one scan"]
    assert answers[0] == answers[1]


def test_a_bad_plan_still_raises_after_the_check(
    hooked: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(_log(), True, tmp_path)
    monkeypatch.setenv("HOURGLASS_PLAN", "bogus")
    absent = JourneyModel.from_dict({**SPEC, "stages": [{"name": "a", "events": ["nothing"]}]})
    with pytest.raises(HourglassError) as info:
        hourglass.paths(source, absent, level="stage")
    assert info.value.code == "HG117"  # the check's error first, as before the one scan
    with pytest.raises(HourglassError) as info:
        hourglass.paths(source, MODEL, level="stage")
    assert info.value.code == "HG109"
