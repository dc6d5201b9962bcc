"""Fuzz, bounded: inputs that once ran away in time or memory (issue 19 items 9, 10, 12) run in a real
subprocess under an address-space cap (RLIMIT_AS, 1.5 GB: a normal small run needs ~1 GB of address
space) and a timeout, and must end in a coded error within seconds. A runaway is a failed test, never a
stalled or swapping test run. ``make fuzz`` adds random damaged files to the same bound."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from fuzz import SCALE
from fuzz.logs import BASE, CSV_DAMAGE, Log, csv_bytes
from fuzz.outcome import bounded

SECONDS = 20.0
MEMORY_MB = 1500

LAUGHS = "name: shop\nkind: funnel\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
LAUGHS += "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
LAUGHS += (
    "description: [*a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8]\nstages:\n- name: look\n  events: [visit]\n"
)

EV = "customer_id,event,timestamp\nc1,visit,2024-01-01 10:00:00\nc1,signup,2024-01-02 10:00:00\n"

CASES = {
    # a 400-byte model of nested aliases once expanded to 3.5 GB (item 10): HG112 at once
    "billion laughs": (("funnel", "ev.csv", "--model", "laughs.yaml"), "HG112"),
    # a quote that never closes, in a 4 MB file (item 12): read as a literal quote (the sniffer sees
    # no quoting) or a coded error, never one runaway line of the rest of the file
    "a quote that never closes": (("validate", "quote.csv"), ""),
    # a window past the representable range (item 9): HG107
    "a huge window": (("funnel", "ev.csv", "--steps", "visit", "--window", "106751991d"), "HG107"),
}  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz_bounds")
    (path / "ev.csv").write_text(EV, encoding="utf-8")
    (path / "laughs.yaml").write_text(LAUGHS, encoding="utf-8")
    rows = "".join(
        f'c{i},visit,2024-01-01 10:00:00,"note {i}\n' if i == 5 else f"c{i},visit,2024-01-01,x\n"
        for i in range(200_000)
    )
    (path / "quote.csv").write_text("customer_id,event,timestamp,note\n" + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_runaway_input_ends_in_a_coded_error_within_its_bounds(folder: Path, case: str) -> None:
    args, codes = CASES[case]
    outcome = bounded(*args, cwd=folder, seconds=60.0, memory_mb=MEMORY_MB)
    assert outcome.problem() is None, outcome.describe()
    assert outcome.seconds < SECONDS, f"{case}: {outcome.seconds:.1f} s"
    assert not codes or outcome.code in codes.split(), outcome.describe()


@pytest.mark.skipif(SCALE == 1, reason="make fuzz only (HOURGLASS_FUZZ=long): one subprocess per case")
def test_random_damaged_csv_within_the_bounds(folder: Path) -> None:
    for seed in range(4 * SCALE):
        rnd = random.Random(seed)
        rows = tuple(
            (
                f"c{rnd.randrange(5)}",
                rnd.choice(["visit", "signup"]),
                BASE + timedelta(days=rnd.randrange(9)),
                "ads",
                None,
            )
            for _ in range(rnd.randint(1, 30))
        )
        what, data = rnd.choice(CSV_DAMAGE)(csv_bytes(Log(rows)), rnd)
        (folder / f"r{seed}.csv").write_bytes(data)
        outcome = bounded(
            "funnel", f"r{seed}.csv", "--steps", "visit,signup", cwd=folder, memory_mb=MEMORY_MB
        )
        assert outcome.problem() is None, f"{what}\n{outcome.describe()}"
        assert outcome.seconds < SECONDS, f"{what}: {outcome.seconds:.1f} s"
