"""Fuzz: damaged CSV, JSON-lines and Parquet files (issue 19, "a standing guard").

Every run ends in a correct answer or a coded error other than HG699, in time. A change that keeps
the file's meaning (rows reordered, CRLF, quoting, a BOM, another time spelling, another format) gives
the clean answer, which is also checked against a reference count. A damaging change (bytes flipped,
truncated, encodings, delimiters, quotes, huge fields, NUL bytes, ragged rows, empty files, odd cells)
gives a coded error or an answer, and ``validate`` agrees with the funnel: a source ``validate`` calls
clean is analysed, one with bad rows is refused (never analysed with its bad rows dropped silently).
Bounded and seeded here; ``make fuzz`` runs the same properties longer (tests/fuzz/__init__.py)."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from fuzz import fuzz_settings
from fuzz.known import known
from fuzz.logs import (
    CSV_DAMAGE,
    CSV_KEEPING,
    JSON_DAMAGE,
    PARQUET_DAMAGE,
    STEPS,
    Log,
    csv_bytes,
    expected_funnel,
    jsonl_bytes,
    logs,
    parquet_bytes,
)
from fuzz.outcome import Outcome, run

_names = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working directory without hourglass.toml; each example writes a file of its own name."""
    path = tmp_path_factory.mktemp("fuzz_files")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        mp.setenv("COLUMNS", "200")
        yield path


def _write(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"f{next(_names)}{suffix}"
    path.write_bytes(data)
    return path


def funnel(path: Path) -> Outcome:
    return run("funnel", path, "--steps", ",".join(STEPS), "--window", "60d", "--format", "json")


def counts(outcome: Outcome) -> list[int | None]:
    assert outcome.ok, outcome.describe()
    return [s["customers"] for s in json.loads(outcome.stdout)["steps"]]


def judge(path: Path, clean: list[int | None] | None = None) -> tuple[Outcome, Outcome]:
    """Run validate and the funnel on a damaged file: both end well, and they agree. A Parquet file
    whose damage lies in a column the funnel does not read (``clean``: the undamaged answer) may be
    refused by validate, which reads every column, and still give the funnel's clean answer."""
    checked, answer = run("validate", path), funnel(path)
    note(f"validate {checked.status} {checked.code}; funnel {answer.status} {answer.code}")
    findings = {n for o in (checked, answer) if (n := known(o, path.suffix))}
    if findings:  # an open finding (tests/fuzz/known.py): its xfail test stands for it
        note(f"known fuzz finding {findings}")
        return checked, answer
    for outcome in (checked, answer):
        assert outcome.problem() is None, f"{outcome.problem()}\n{outcome.describe()}"
    if checked.status == 0:  # clean: analysed (or a request error, not a data one)
        assert answer.ok or (answer.code or "")[:3] == "HG1", answer.describe()
    elif clean is not None and answer.ok:
        assert counts(answer) == clean, f"validate refused it ({checked.code}); the funnel's answer changed"
    else:  # bad rows or unreadable: never an answer with the bad rows dropped
        assert not answer.ok, f"validate refused it ({checked.code}) but the funnel answered: {answer.stdout}"
    return checked, answer


@fuzz_settings(10)
@given(log=logs(), rnd=st.randoms(use_true_random=False))
def test_csv_changes_that_keep_the_meaning_keep_the_answer(
    folder: Path, log: Log, rnd: random.Random
) -> None:
    clean = counts(funnel(_write(folder, ".csv", csv_bytes(log))))
    assert clean == expected_funnel(log)
    what, data = CSV_KEEPING(log, rnd)
    note(what)
    assert counts(funnel(_write(folder, ".csv", data))) == clean


@fuzz_settings(8)
@given(log=logs(), style=st.integers(0, 4), integer_ids=st.booleans())
def test_json_lines_give_the_csv_answer(folder: Path, log: Log, style: int, integer_ids: bool) -> None:
    ids = (lambda c: int(c[1:]) + 1) if integer_ids else str
    data = jsonl_bytes(log, time_style=style, ids=ids)
    assert counts(funnel(_write(folder, ".jsonl", data))) == expected_funnel(log)


@fuzz_settings(8)
@given(log=logs(), time_type=st.sampled_from(["us", "ms", "s", "tz", "text"]))
def test_parquet_gives_the_csv_answer(folder: Path, log: Log, time_type: str) -> None:
    data = parquet_bytes(log, time_type=time_type)
    assert counts(funnel(_write(folder, ".parquet", data))) == expected_funnel(log)


@fuzz_settings(30)
@given(log=logs(), damage=st.sampled_from(CSV_DAMAGE), rnd=st.randoms(use_true_random=False))
def test_damaged_csv_is_an_answer_or_a_coded_error(folder: Path, log: Log, damage, rnd) -> None:  # type: ignore[no-untyped-def]
    what, data = damage(csv_bytes(log), rnd)
    note(what)
    judge(_write(folder, ".csv", data))


@fuzz_settings(15)
@given(log=logs(), damage=st.sampled_from(JSON_DAMAGE), rnd=st.randoms(use_true_random=False))
def test_damaged_json_lines_are_an_answer_or_a_coded_error(folder: Path, log: Log, damage, rnd) -> None:  # type: ignore[no-untyped-def]
    what, data = damage(jsonl_bytes(log), rnd)
    note(what)
    judge(_write(folder, ".jsonl", data))


@fuzz_settings(20)
@given(log=logs(), damage=st.sampled_from(PARQUET_DAMAGE), rnd=st.randoms(use_true_random=False))
def test_damaged_parquet_is_an_answer_or_a_coded_error(folder: Path, log: Log, damage, rnd) -> None:  # type: ignore[no-untyped-def]
    what, data = damage(parquet_bytes(log), rnd)
    note(what)
    judge(_write(folder, ".parquet", data), clean=expected_funnel(log))
