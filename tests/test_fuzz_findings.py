"""What the fuzz suite found (tests/test_fuzz_*.py), one named test each, with the smallest input that
shows it. A finding in another helper's file is ``xfail(strict=True)`` until its owner fixes it (then the
mark goes); /work/notes/s3/findings.md has each one's reproduction from the shell. Fixed: 1 (H5,
HG311), 2 (H1, engine/file_checks.py), 3 and 4 (H1 and H3: damaged Parquet pages are HG206 naming the
file, validate reads every value), 5 and 6 (H2, model/steps.py: HG105, HG104), 7 (H6,
analyses/_match.py: HG103), 8 (H3, cli/_common.py: HG301), 9 (H2, model/steps.py: HG103)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fuzz.logs import BASE, Log, parquet_bytes
from fuzz.outcome import Outcome, run

EV = (
    "customer_id,event,timestamp,revenue\n"
    "c1,visit,2024-01-01,\nc1,signup,2024-01-02,\nc1,purchase,2024-01-03,5\n"
)


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    Path("ev.csv").write_text(EV, encoding="utf-8")
    yield


def coded(outcome: Outcome, *codes: str) -> None:
    """A coded error (one of ``codes`` when given), never HG699."""
    assert outcome.problem() is None, outcome.describe()
    assert outcome.status in (1, 2) and outcome.code not in (None, "HG699"), outcome.describe()
    if codes:
        assert outcome.code in codes, outcome.describe()


def test_finding_1_nul_in_a_csv_header() -> None:
    Path("nul.csv").write_bytes(b"customer_id,event,timestamp,chan\x00nel\nc1,visit,2024-01-01,x\n")
    outcome = run("validate", "nul.csv")
    coded(outcome, "HG311")
    assert "nul.csv" in outcome.stderr


def test_finding_2_a_long_non_ascii_line() -> None:
    head = b"customer_id,event,timestamp,channel\nc0,visit,2024-04-06 14:29:15,email\n"
    Path("long.csv").write_bytes(head + b"c1,visit,2024-03-17 05:39:14," + "é".encode() * 1_100_000 + b"\n")
    for command in ("validate", "funnel"):
        outcome = run(command, "long.csv", *(["--steps", "visit"] if command == "funnel" else []))
        coded(outcome, "HG406")
        assert "line 3" in outcome.stderr


def _damaged_parquet(offset: int) -> Path:
    """A 6-row Parquet file with one NUL byte inserted at ``offset`` (pyarrow's writer, as pinned)."""
    rows = tuple(
        (
            f"c{i % 3}",
            ["visit", "signup", "purchase"][i % 3],
            BASE + timedelta(hours=i),
            "ads",
            5.0 if i % 3 == 2 else None,
        )
        for i in range(6)
    )
    data = parquet_bytes(Log(rows))
    path = Path(f"damaged{offset}.parquet")
    path.write_bytes(data[:offset] + b"\x00" + data[offset:])
    return path


@pytest.mark.parametrize("offset", [6, 84, 99, 243])
def test_finding_3_damaged_parquet_pages(offset: int) -> None:
    path = _damaged_parquet(offset)
    outcome = run("funnel", path, "--steps", "visit,signup")
    coded(outcome)
    assert path.name in outcome.stderr


@pytest.mark.parametrize("offset", [6, 84, 87, 99, 243, 267])
def test_finding_4_validate_reads_what_it_vouches_for(offset: int) -> None:
    path = _damaged_parquet(offset)
    coded(run("validate", path))


@pytest.mark.parametrize("stage", ["7", "true", "1.5", "null"])
def test_finding_5_a_stage_that_is_not_a_mapping(stage: str) -> None:
    Path("m.yaml").write_text(
        f"name: shop\nkind: funnel\nstages:\n- name: look\n  events: [visit]\n- {stage}\n"
    )
    coded(run("funnel", "ev.csv", "--model", "m.yaml"), "HG105")


def test_finding_6_nul_in_an_event_name() -> None:
    Path("m.yaml").write_text('name: shop\nkind: funnel\nstages:\n- name: look\n  events: ["vis\\0it"]\n')
    coded(run("funnel", "ev.csv", "--model", "m.yaml"), "HG104")


@pytest.mark.parametrize("command", ["funnel", "lifecycle"])
def test_finding_7_a_filter_of_the_wrong_type(command: str) -> None:
    Path("m.yaml").write_text(
        "name: shop\nkind: funnel\nsale: buy\nstages:\n- name: look\n  events: [visit]\n"
        "- name: buy\n  events: [purchase]\n  where: ['revenue > abc']\n"
    )
    outcome = run(command, "ev.csv", "--model", "m.yaml")
    coded(outcome, "HG103")
    assert "revenue" in outcome.stderr


@pytest.mark.parametrize("command", ["validate", "funnel"])
def test_finding_8_an_empty_column_flag(command: str) -> None:
    steps = ["--steps", "visit"] if command == "funnel" else []
    coded(run(command, "ev.csv", *steps, "--customer-col", ""), "HG301")


@pytest.mark.parametrize("where", ["null", "7"])
def test_finding_9_a_filter_that_is_not_text(where: str) -> None:
    Path("m.yaml").write_text(
        "name: shop\nkind: funnel\nsale: buy\nstages:\n- name: look\n  events: [visit]\n"
        f"- name: buy\n  events: [purchase]\n  where: [{where}]\n"
    )
    coded(run("funnel", "ev.csv", "--model", "m.yaml"), "HG103")


@pytest.mark.parametrize("events", ["-1", "5", "true", "{a: 1}"])
def test_finding_10_events_that_are_not_a_list_of_names(events: str) -> None:
    Path("m.yaml").write_text(
        "name: shop\nkind: funnel\nsale: buy\nstages:\n- name: look\n  events: [visit]\n"
        f"- name: buy\n  events: {events}\n"
    )
    coded(run("funnel", "ev.csv", "--model", "m.yaml"), "HG104", "HG105")
