"""Fuzz: random journey-model files (YAML, TOML), hourglass.toml config files and flag values (issue 19,
"a standing guard"). Every run ends in an answer or a coded error other than HG699 (click's own usage
errors count as coded: exit 2 with "Usage:"), in time. Bounded and seeded here; ``make fuzz`` runs longer
(tests/fuzz/__init__.py). H2's tests/test_bad_flags.py is the systematic sweep of flag values; this
draws combinations of them."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from fuzz import fuzz_settings
from fuzz.flags import COMMANDS, LOG, VALUES
from fuzz.known import known
from fuzz.outcome import Outcome, run
from fuzz.settings_files import config_text, model_text

_names = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working directory with ev.csv and no hourglass.toml (each config is given with --config)."""
    path = tmp_path_factory.mktemp("fuzz_settings")
    (path / "ev.csv").write_text(LOG, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        mp.setenv("COLUMNS", "200")
        yield path


def ends_well(outcome: Outcome) -> None:
    note(f"-> {outcome.status} {outcome.code}")
    if (number := known(outcome)) is not None:
        note(f"known fuzz finding {number} (tests/test_fuzz_findings.py)")
        return
    assert outcome.problem() is None, f"{outcome.problem()}\n{outcome.describe()}"


def _write(text: str, suffix: str) -> str:
    name = f"s{next(_names)}{suffix}"
    Path(name).write_text(text, encoding="utf-8", errors="surrogatepass")
    return name


@fuzz_settings(20)
@given(rnd=st.randoms(use_true_random=False), command=st.sampled_from(["funnel", "lifecycle"]))
def test_random_model_files(folder: Path, rnd: random.Random, command: str) -> None:
    suffix, text, what = model_text(rnd)
    note(f"{what}\n{text[:2000]}")
    ends_well(run(command, "ev.csv", "--model", _write(text, suffix)))


@fuzz_settings(25)
@given(rnd=st.randoms(use_true_random=False), command=st.sampled_from(["funnel", "lifecycle"]))
def test_random_config_files(folder: Path, rnd: random.Random, command: str) -> None:
    suffix, model, _ = model_text(rnd)
    text, what = config_text(rnd, _write(model, suffix))
    note(f"{what}\n{text[:2000]}")
    model_flag = ["--model", "mine"] if command == "funnel" else []
    ends_well(run(command, "ev.csv", *model_flag, "--config", _write(text, ".toml")))


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    words, flags = COMMANDS[draw(st.sampled_from(sorted(COMMANDS)))]
    head = [*words[:2], "ev.csv"] if words[0] == "models" else [words[0], "ev.csv", *words[1:]]
    chosen = draw(st.lists(st.sampled_from(flags), min_size=1, max_size=3, unique=True))
    return head + [part for flag in chosen for part in (flag, draw(st.sampled_from(VALUES)))]


@fuzz_settings(30)
@given(args=command_lines())
def test_random_flag_values(folder: Path, args: list[str]) -> None:
    note(" ".join(a[:60] for a in args))
    ends_well(run(*args))
