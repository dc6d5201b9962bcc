"""Issue 19: a systematic sweep of bad flag values. Every value-taking option of every command is found
by introspecting the CLI and gets the bad values of its kind (a count, a number, a duration, a time, a
model): negative, zero, huge, NaN, infinite, empty, unit-less, non-numeric, 5000 digits. Each must end in a
coded error (exit 2: ``error [HGnnn]`` or click's usage error), never HG699/exit 3 nor a traceback, and
quickly. An option of a kind the sweep does not know fails the guard test: classify it here.

A value the option rightly accepts (``--seed 0``) is listed in ACCEPTED and not run (it would run the
whole analysis). The tiny log stops some commands early (whatif needs two full months: HG174), so the
values those commands check later are also checked on their spec (test_whatif_values_are_checked_first)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hourglass.interfaces.cli import cli
from hourglass.model.errors import SpecError
from hourglass.model.presets import PRESETS
from hourglass.model.whatif_spec import WhatIfSpec, parse_change

ROWS = [
    ("a", "visit", "2024-01-01 10:00:00", "ads"),
    ("a", "signup", "2024-01-01 11:00:00", "ads"),
    ("a", "purchase", "2024-01-02 10:00:00", "ads"),
    ("b", "visit", "2024-01-02 10:00:00", "seo"),
    ("b", "signup", "2024-01-09 10:00:00", "seo"),
]
HUGE = "9" * 30
DIGITS = "9" * 5000  # int() refuses more than 4300 digits: it was a ValueError (HG699)

#: the bad values of each kind of option
BAD: dict[str, tuple[str, ...]] = {
    "count": ("-1", "0", HUGE, DIGITS, "nan", "", "abc", "1.5"),
    "number": ("nan", "inf", "-inf", "1e309", "", "abc", "-1", HUGE),
    "duration": (
        "7",
        "1.5",
        "0d",
        "-7d",
        "nan",
        "",
        "7 days",
        "106751991d",
        "200000000d",
        HUGE + "d",
        DIGITS + "s",
    ),
    "time": ("abc", "2024-13-45", "99999-01-01", "1e309"),
    "range": ("abc", "2025-01-01..2024-01-01", "2024-13-45..", "..x"),
    "model": (DIGITS, "nosuchmodel", ""),  # a name too long for a file was HG699 (ENAMETOOLONG)
    "change": ("trial->sale -500%", "trial->sale +nan%", "x", "friction late_delivery -101%"),
    "column": ("nosuchcolumn", DIGITS),
    "steps": (",", " , ", "[x]", "a b"),
    "set": (
        "repeat_within=7",
        "repeat_within=0d",
        "repeat_within=200000000d",
        "nth=2.5",
        "nth=99",
        "novalue",
    ),
}
#: options classified by name, for the string options whose metavar does not say the kind
KIND_OF: dict[str, str] = {
    "--window": "duration",
    "--lookback": "duration",
    "--half-life": "duration",
    "--within": "duration",
    "--since": "time",
    "--until": "time",
    "--as-of": "time",
    "--calibration-end": "time",
    "--baseline": "range",
    "--model": "model",
    "--change": "change",
    "--whatif": "change",
    "--set": "set",
    "--by": "column",
}
#: (command, option) -> kind, where the option's kind differs from its name's elsewhere
KIND_AT: dict[tuple[str, str], str] = {
    ("clv", "--horizon"): "duration",
    ("whatif", "--horizon"): "count",
    ("friction", "--target"): "duration",
    ("funnel", "--steps"): "steps",
}
#: values an option rightly accepts (not run by the sweep: they would run the analysis)
ACCEPTED: dict[tuple[str, str], set[str]] = {
    ("lifecycle", "--top"): {"0"},
    ("whatif", "--seed"): {"0", HUGE},
    ("whatif", "--rank-size"): {"-1"},
    ("demo", "--seed"): {"0", HUGE},
    ("journeys", "--deviations"): {"0"},
    ("friction", "--target"): {""},
}
#: options whose values are names (columns, events, stages, files, text): no sweep of numbers
NAMES = {
    "COLUMN", "EVENT", "EVENTS", "LIST", "NAME", "STAGE", "STAGE|EVENT", "TEXT", "ID", "ENGINE", "TOKEN",
    "ADDR", "FILE", "STORE.duckdb", "MODEL", "first|purchase|STAGE_OR_EVENT", "any|purchase|STAGE_OR_EVENT",
    "STEP",  # funnel --at/--to: a step's name or number (HG124, tests/test_funnel_issue20.py)
    "N/s",  # collect --rate: bad values are HG464 (test_collector_keys.py); a sweep would start servers
}  # fmt: skip
NAME_OPTIONS = {"--name", "--title", "--dialect", "--sql-table", "--referral-event", "--conversion", "--goal"}
#: hidden options are renamed flags (HG150 and kin, tested in test_cli_vocabulary)
PREFIX = {"journey": ["--sample", "2"], "funnel": ["--steps", "visit,signup"]}
SLOW_S = 10.0  # one bad value (a runaway took minutes); the whole sweep runs in about 15 s


def _kind(command: str, opt: click.Option) -> str | None:
    """The option's kind (a key of BAD), None for names and choices, "?" when unknown."""
    name = opt.opts[0]
    if (command, name) in KIND_AT:
        return KIND_AT[(command, name)]
    if name in KIND_OF:
        return KIND_OF[name]
    if isinstance(opt.type, click.Choice | click.Path) or name in NAME_OPTIONS or name.endswith("-col"):
        return None
    if isinstance(opt.type, click.types.IntParamType):
        return "count"
    if isinstance(opt.type, click.types.FloatParamType):
        return "number"
    metavar = opt.metavar or ""
    if "DURATION" in metavar:
        return "duration"
    if metavar == "SHARES":
        return "number"
    if metavar in NAMES:
        return None
    return "?"


def _options() -> Iterator[tuple[str, list[str], click.Option]]:
    """(command name, the command's words, option) for every visible value-taking option."""
    for name, cmd in sorted(cli.all_commands().items()):
        subs = [(name, cmd)]
        if isinstance(cmd, click.Group):
            subs = [(f"{name} {s}", c) for s, c in sorted(cmd.commands.items())]
        for full, c in subs:
            for p in c.params:
                if isinstance(p, click.Option) and not p.is_flag and not p.hidden:
                    yield full, full.split(), p


def _cases() -> list[tuple[str, str, str, list[str]]]:
    out = []
    for full, words, opt in _options():
        kind = _kind(full, opt)
        if kind in (None, "?"):
            continue
        name = opt.opts[0]
        for value in BAD[kind]:
            if value in ACCEPTED.get((full, name), set()):
                continue
            out.append((full, name, value, words))
    return out


def test_every_value_option_has_a_kind() -> None:
    """A new option must be classified (KIND_OF, KIND_AT or NAMES) so the sweep covers it."""
    unknown = [
        f"{full} {opt.opts[0]} ({opt.metavar})" for full, _, opt in _options() if _kind(full, opt) == "?"
    ]
    assert not unknown, unknown


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("flags") / "log.csv"
    p.write_text(
        "customer_id,event,timestamp,channel\n" + "".join(",".join(r) + "\n" for r in ROWS), encoding="utf-8"
    )
    return p


def _args(words: list[str], log: Path, option: str, value: str, tmp: Path) -> list[str]:
    args = list(words)
    if words[0] not in ("demo", "serve") and words[-1] != "show":
        args.append(str(log))
    if words == ["models", "show"]:
        args.append("hourglass")
    if words[0] == "serve":
        args.append(str(log))
    prefix = PREFIX.get(words[0], [])
    if option in prefix:
        prefix = []
    if words[0] == "demo":
        prefix = ["--out-dir", str(tmp / "demo")]
    return [*args, *prefix, option, value]


@pytest.mark.parametrize("command", sorted({c[0] for c in _cases()}))
def test_bad_values_are_coded_errors(
    command: str, log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hourglass.interfaces.dashboard.server as server

    monkeypatch.setattr(server, "run", lambda *a, **k: pytest.fail("serve started with a bad value"))
    runner = CliRunner()
    failures = []
    for full, option, value, words in _cases():
        if full != command:
            continue
        args = _args(words, log, option, value, tmp_path)
        started = time.perf_counter()
        r = runner.invoke(cli, args)
        took = time.perf_counter() - started
        out = r.output
        coded = "error [HG" in out or "Error: " in out  # ours, or click's usage error
        shown = value if len(value) < 40 else value[:12] + "..."
        if r.exit_code != 2 or not coded or "HG699" in out or "Traceback" in out or took > SLOW_S:
            first = " | ".join(line for line in out.splitlines() if line.strip())[:300]
            failures.append(f"{full} {option} {shown!r}: exit {r.exit_code} in {took:.1f}s: {first}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "options",
    [
        {"seed": -1},  # numpy: "expected non-negative integer", HG699
        {"rank_size": float("nan")},  # a ranking of "+nan%" changes
        {"rank_size": float("inf")},  # HG699: pvals contains NaNs
        {"rank_size": -101.0},
        {"horizon": "121"},  # was clipped to 120 without a word
        {"changes": ["trial->sale -500%"]},  # negative hazards, simulated
    ],
    ids=str,
)
def test_whatif_values_are_checked_first(options: dict[str, object]) -> None:
    with pytest.raises(SpecError) as e:
        WhatIfSpec.build(PRESETS["hourglass"], **options)  # type: ignore[arg-type]
    assert e.value.code == "HG172"


def test_whatif_edge_values_that_stay_allowed() -> None:
    spec = WhatIfSpec.build(PRESETS["hourglass"], seed=10**30, rank_size=-100.0, horizon="120")
    assert spec.horizon == 120 and spec.rank_size == -1.0
    assert parse_change("trial->sale -100%").rel == -1.0


@pytest.mark.parametrize("steps", ["visit,,signup", "visit,signup,", ",visit"])
def test_an_empty_step_is_refused_not_dropped(tmp_path: Path, steps: str) -> None:
    src = tmp_path / "e.csv"
    src.write_text("customer_id,event,timestamp\nc1,visit,2024-01-01\nc1,signup,2024-01-02\n")
    result = CliRunner().invoke(cli, ["funnel", str(src), "--steps", steps])
    assert result.exit_code == 2
    assert "[HG104]" in result.output and "is empty" in result.output
