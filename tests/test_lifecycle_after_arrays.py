"""The after-sale metrics from a store's range as numpy arrays (engine/after_sale_arrays.py) equal
the plan's (analyses/after_sale.py, the reference; with and without the kept purchasers' tables),
on seeded random stores: several purchases at one instant, repeat purchases before the sale,
remorse and resolutions at a purchase's or a contact's own instant, offers without a text, every
after-sale event, customers with events outside the range, ranges with no purchaser, before 1970,
open ends, ``as_of`` (the plan); the settings' windows, ``nth``, an offer column of another name, a
store without revenue or offer, a purchase step that is the sale stage, and one with a glob (the
plan)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hourglass
import hourglass.engine.after_sale_arrays as asa
import hourglass.engine.run_lifecycle as rl
from hourglass.engine.event_store import write_store
from hourglass.model.presets import preset
from test_lifecycle_after_kept import _ranges
from test_lifecycle_keyed import _plain, random_log

SHIFT = timedelta(days=365 * 60)  # the second log: 1964, negative µs


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("after_arrays")
    out: dict[str, Path] = {}
    for name, seed in (("full", 41), ("bare", 42), ("1964", 43)):
        log = random_log(seed, n=70)
        if name == "bare":
            log = log.drop(columns=["revenue", "offer"])
        if name == "1964":
            log["timestamp"] = log["timestamp"] - SHIFT
        log.to_parquet(d / f"{name}.parquet")
        write_store(hourglass.events(str(d / f"{name}.parquet")), d / f"{name}.duckdb")
        out[name] = d / f"{name}.duckdb"
    return out


def _after(ev: Any, monkeypatch: pytest.MonkeyPatch, arrays: bool, kept: bool, **kw: Any) -> Any:
    monkeypatch.setattr(rl, "ARRAYS_ON", arrays)
    monkeypatch.setattr(rl, "KEPT_ON", kept)
    res = hourglass.lifecycle(ev, referrals=False, channels=False, **kw).to_dict()
    return _plain({k: res.get(k) for k in ("after_sale", "after_sale_reason", "stages")})


def _used(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each lifecycle since took the arrays' path."""
    seen: list[bool] = []
    real = asa.after_arrays

    def spy(*a: Any, **kw: Any) -> Any:
        got = real(*a, **kw)
        seen.append(got is not None)
        return got

    monkeypatch.setattr(rl, "after_arrays", spy)
    return seen


SETTINGS: list[dict[str, Any]] = [
    {},
    {"repeat_within": "7d", "gap_within": "3d", "nth": 4, "remorse_within": "2h", "offer_within": "2d"},
    {"remorse_within": "1d", "offer_within": "1h", "repeat_within": "30d", "nth": 2},
    {"offer_column": "device", "support_events": [], "loyalty_events": ["loyalty_join", "review"]},
    {"resolved_events": [], "offer_redeemed_events": [], "negative_events": ["return", "purchase"]},
]


@pytest.mark.parametrize("which", ["full", "bare", "1964"])
def test_the_arrays_give_the_plans_after_sale_metrics(
    stores: dict[str, Path], which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = hourglass.events(str(stores[which]))
    shift = SHIFT if which == "1964" else timedelta(0)
    ranges = _ranges(11)
    if shift:
        ranges = [{k: (v if k == "as_of" else _shifted(v, shift)) for k, v in r.items()} for r in ranges]
    settings = SETTINGS if which == "full" else SETTINGS[:2]
    seen = _used(monkeypatch)
    measured = 0
    for after_sale in settings:
        if which == "bare" and after_sale.get("offer_column"):
            continue
        for r in ranges:
            got = _after(ev, monkeypatch, True, True, after_sale=after_sale, **r)
            assert got == _after(ev, monkeypatch, False, True, after_sale=after_sale, **r), (after_sale, r)
            measured += got["after_sale"] is not None
    assert measured >= 3 * len(settings)
    assert sum(seen) >= 3 * len(settings)  # the arrays' path was taken (not the plan twice)


def _shifted(value: str, shift: timedelta) -> str:
    return (datetime.fromisoformat(value) - shift).isoformat()


def test_the_arrays_equal_the_plan_on_the_range_s_events(
    stores: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the plan on the range's events (no kept tables), the reference itself."""
    ev = hourglass.events(str(stores["full"]))
    for r in _ranges(12)[:6]:
        got = _after(ev, monkeypatch, True, True, **r)
        assert got == _after(ev, monkeypatch, False, False, **r), r


def test_a_purchase_step_of_the_sale_stage_and_one_with_a_glob(
    stores: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``purchases`` not given: the sale stage's events are the purchases (plain: the arrays); a
    glob among the purchases: the plan (the arrays decline)."""
    ev = hourglass.events(str(stores["full"]))
    base = preset("hourglass")
    seen = _used(monkeypatch)
    for model, used in ((dataclasses.replace(base, purchases=()), True),
                        (dataclasses.replace(base, purchases=("purchase", "repeat_*")), False)):  # fmt: skip
        for r in _ranges(13)[:4]:
            seen.clear()
            got = _after(ev, monkeypatch, True, True, model=model, **r)
            assert got == _after(ev, monkeypatch, False, True, model=model, **r), r
            assert not seen or seen[0] == used


def test_the_beside_windows() -> None:
    """The last kind-0 row at or before each row, the first kind-1 row at or after it, per group."""
    p = np.array([0, 0, 0, 1, 1, 0])
    ts = np.array([5, 5, 9, 1, 3, 2])
    kind = np.array([1, 0, 1, 0, 1, 0])
    last, has = asa._beside(p, ts, kind, nxt=False)
    assert has.tolist() == [True, True, True, True, True, True]
    assert last.tolist() == [5, 5, 5, 1, 1, 2]
    first, has = asa._beside(p, ts, kind, nxt=True)
    assert has.tolist() == [True, True, True, True, True, True]
    assert first.tolist() == [5, 5, 9, 3, 3, 5]
