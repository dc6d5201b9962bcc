"""No quadratic corner in the funnel's fast path (issue 18): one id with 200,000 events (a bot:
visit and signup alternating 1 s apart) costs about what 200,000 ordinary events cost, on every plan
the engine picks (closed, ``--open``, a store), with the portable plan's counts; and the heavy
customers' plan (ASOF joins, engine/fastpath.py) gives the reference's numbers on random logs."""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import hourglass
from hourglass.engine import fastpath_heavy
from hourglass.interfaces.store_api import ingest
from journeys import journeys
from reference import funnel_ref as ref
from test_fastpath import fast_cases, store_cases
from test_funnel_properties import DTYPES, Case, assert_same, check, forced_plan, not_measured, rows

# ------------------------------------------------------------------------------------------
# Every customer heavy: the ASOF plan against the reference
# ------------------------------------------------------------------------------------------

FEW = settings(max_examples=20, deadline=None, print_blob=True)


@contextlib.contextmanager
def all_heavy() -> Iterator[None]:
    """Every customer takes the heavy customers' plan (ASOF joins)."""
    before = fastpath_heavy.HEAVY, fastpath_heavy.HEAVY_EVENTS
    fastpath_heavy.HEAVY = fastpath_heavy.HEAVY_EVENTS = 0
    try:
        yield
    finally:
        fastpath_heavy.HEAVY, fastpath_heavy.HEAVY_EVENTS = before


@FEW
@given(case=fast_cases(), open_funnel=st.booleans(), bounded=st.booleans())
def test_heavy_plan_matches_reference(case: Case, open_funnel: bool, bounded: bool) -> None:
    if open_funnel:
        case.open, case.by = True, None
        if not bounded:
            case.since = case.until = None
    with all_heavy():
        assert check(case, "fast")["plan"] == "fast"


@FEW
@given(case=fast_cases() | store_cases())
def test_heavy_plan_on_a_store_matches_reference(case: Case) -> None:
    note(case.repro())
    df = journeys(case.log, dtypes=DTYPES)
    with tempfile.TemporaryDirectory() as tmp, all_heavy():
        path = str(Path(tmp) / "store.duckdb")
        ingest(df, path)  # every customer numbered as heavy
        with forced_plan("fast"):
            got = hourglass.funnel(path, case.engine_steps, window=case.window_s, **case.options()).to_dict()
    assert got.pop("meta")["plan"] == "fast"
    want = ref.funnel(rows(df), case.ref_steps, case.window_s * 1_000_000, **case.options())
    assert_same(got, not_measured(want, got, rows(df), case))


# ------------------------------------------------------------------------------------------
# A 200,000-event id: time relative to the same log without it
# ------------------------------------------------------------------------------------------

BASE_CUSTOMERS = 20_000
BOT_EVENTS = 200_000
STEPS = ["visit", "signup", "purchase"]
T0 = np.datetime64("2024-01-01T00:00:00", "us")


def _base() -> pd.DataFrame:
    """About 200,000 events of 20,000 customers: a few visits, signups and purchases each, and noise."""
    rng = np.random.default_rng(18)
    n = BASE_CUSTOMERS * 10
    names = np.array(["visit", "signup", "purchase", "view", "click"])
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, BASE_CUSTOMERS, n).astype(str),
            "event": names[rng.choice(5, n, p=[0.3, 0.15, 0.05, 0.3, 0.2])],
            "timestamp": T0 + rng.integers(0, 30 * 86_400, n).astype("timedelta64[s]"),
        }
    )


def _bot() -> pd.DataFrame:
    step = np.arange(BOT_EVENTS)
    return pd.DataFrame(
        {
            "customer_id": "bot",
            "event": np.where(step % 2 == 0, "visit", "signup"),
            "timestamp": T0 + step.astype("timedelta64[s]"),
        }
    )


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("quadratic")
    base = _base()
    out = {}
    for name, df in (("without", base), ("with", pd.concat([base, _bot()], ignore_index=True))):
        out[name] = tmp / f"{name}.parquet"
        df.to_parquet(out[name])
        out[f"{name} store"] = tmp / f"{name}.duckdb"
        ingest(str(out[name]), out[f"{name} store"])
    out["rows"] = Path(str(len(base)))
    return out


def _counts(path: Path, plan: str, open_funnel: bool) -> tuple[list[int], float]:
    with forced_plan(plan):
        started = time.perf_counter()
        result = hourglass.funnel(str(path), STEPS, window="7d", open=open_funnel)
        seconds = time.perf_counter() - started
    assert result.meta["plan"] == plan
    return [s.customers for s in result.steps] + [s.continued or 0 for s in result.steps[1:]], seconds


@pytest.mark.parametrize("open_funnel", [False, True], ids=["closed", "open"])
@pytest.mark.parametrize("store", [False, True], ids=["file", "store"])
def test_a_bot_costs_what_its_events_cost(logs: dict[str, Path], store: bool, open_funnel: bool) -> None:
    suffix = " store" if store else ""
    times: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(3):  # alternated: a busy moment of the machine hits both
        for name in times:
            times[name].append(_counts(logs[name + suffix], "fast", open_funnel)[1])
    with_bot, without = statistics.median(times["with"]), statistics.median(times["without"])
    events_ratio = (int(str(logs["rows"])) + BOT_EVENTS) / int(str(logs["rows"]))
    # the old greedy joins paired each of the bot's visits with each later signup: minutes
    assert with_bot <= 4 * events_ratio * max(without, 0.05), (
        f"{with_bot:.3f} s with the bot, {without:.3f} s without"
    )
    got, _ = _counts(logs["with" + suffix], "fast", open_funnel)
    assert got == _portable(logs["with"], open_funnel)


_PORTABLE: dict[tuple[Path, bool], list[int]] = {}


def _portable(path: Path, open_funnel: bool) -> list[int]:
    """The portable plan's counts (1-2 s each with the bot: once per log and mode)."""
    if (path, open_funnel) not in _PORTABLE:
        _PORTABLE[path, open_funnel] = _counts(path, "portable", open_funnel)[0]
    return _PORTABLE[path, open_funnel]


def test_the_bot_is_counted(logs: dict[str, Path]) -> None:
    """The bot (visit, signup alternating) reaches step 2; the log without him has one customer less."""
    with_bot, _ = _counts(logs["with"], "fast", False)
    without, _ = _counts(logs["without"], "fast", False)
    assert with_bot[0] == without[0] + 1 and with_bot[1] == without[1] + 1
