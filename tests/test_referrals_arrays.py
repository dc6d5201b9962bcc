"""The referral loop's five aggregates from a store's customer table as Arrow
(engine/referral_loop_arrays.py) equal the plan's queries on it (analyses/referrals.py
``referral_plan``, the reference), on seeded random stores: self-referrals, referral cycles, external
referrers, referrers outside the range, chains past ``max_depth``, every period unit (a week from
Monday, a log before 1970), the top referrers cut inside a tie, no top, ranges with nobody."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hourglass
import hourglass.engine.referral_loop_arrays as loop
import hourglass.engine.run_referrals as rr
from hourglass.engine.run_referrals import run_referrals_and_channels
from hourglass.interfaces.lifecycle_api import lifecycle_spec
from test_lifecycle_firsts import SHIFT, _ranges, two_stores
from test_lifecycle_keyed import BASE, _plain


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return two_stores(tmp_path_factory.mktemp("loop"), (51, 52), 90)


OPTIONS: list[dict[str, Any]] = [
    {},
    {"period": "day", "max_depth": 1, "top": 3},
    {"period": "week", "max_depth": 2, "top": 1},
    {"period": "quarter", "top": 0},
    {"period": "year", "max_depth": 3, "top": 25},
]


def _loop(ev: Any, monkeypatch: pytest.MonkeyPatch, on: bool, **kw: Any) -> Any:
    monkeypatch.setattr(rr, "LOOP_ON", on)
    model = lifecycle_spec("hourglass").model
    ref, chan = run_referrals_and_channels(ev, model, **kw)
    return _plain({"referrals": ref.to_dict(), "channels": chan.to_dict()})


@pytest.mark.parametrize("which", ["2024", "1964"])
def test_the_arrays_give_the_plans_referral_loop(
    stores: dict[str, Path], which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = hourglass.events(str(stores[which]))
    seen: list[int] = []
    real = loop.referral_rows

    def spy(*a: Any, **kw: Any) -> Any:
        seen.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(rr, "referral_rows", spy)
    ranges = _ranges(21, SHIFT if which == "1964" else timedelta(0))
    ranges.append((BASE + timedelta(days=400), None))  # nobody in the range
    for options in OPTIONS:
        for since, until in ranges:
            kw = {"since": since, "until": until, "referral_options": options}
            got = _loop(ev, monkeypatch, True, **kw)
            assert got == _loop(ev, monkeypatch, False, **kw), (options, since, until)
    assert len(seen) == len(OPTIONS) * len(ranges)


def test_the_period_starts_are_date_trunc() -> None:
    """Every unit's start as DuckDB's ``date_trunc`` gives it, around 1970 and a leap day."""
    import duckdb
    import numpy as np

    instants = [datetime(1969, 12, 28, 5), datetime(1970, 1, 1), datetime(1968, 2, 29, 23, 59),
                datetime(2024, 3, 31, 23), datetime(1900, 1, 1), datetime(2024, 1, 1)]  # fmt: skip
    us = np.array([int((t - datetime(1970, 1, 1)) / timedelta(microseconds=1)) for t in instants])
    con = duckdb.connect()
    for unit in ("day", "week", "month", "quarter", "year"):
        got = loop._period_starts(us, unit)
        for t, start in zip(instants, got, strict=True):
            want = con.execute(f"SELECT date_trunc('{unit}', TIMESTAMP '{t.isoformat(sep=' ')}')").fetchone()
            assert want is not None
            assert datetime(1970, 1, 1) + timedelta(microseconds=int(start)) == want[0], (unit, t)
