"""The after-sale metrics on the purchasers' events and purchase table kept once
(engine/run_lifecycle.py ``KEPT_ON``) equal the plan on the range's events (the reference), on
seeded random logs (tied timestamps, every after-sale event, heavy customers) and seeded ranges:
bounds on events' own instants, a range with no purchaser, before 1970, open ends, ``as_of``;
bound (DuckDB) and direct (the portable plan)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

import hourglass
import hourglass.engine.bound as bound_module
import hourglass.engine.run_lifecycle as rl
from hourglass.engine.event_store import write_store
from test_lifecycle_keyed import BASE, _plain, random_log


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("kept")
    random_log(21, n=80).to_parquet(d / "log.parquet")
    write_store(hourglass.events(str(d / "log.parquet")), d / "store.duckdb")
    return str(d / "store.duckdb")


def _ranges(seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    instants = [BASE + timedelta(days=d, hours=h) for d in (0, 1, 3, 9, 30, 45) for h in (0, 2)]
    out: list[dict[str, Any]] = [{}, {"since": "1969-12-01", "until": "2024-01-01T02:00:00"}]
    for _ in range(3):
        a, b = sorted(rnd.sample(instants, 2))
        out.append({"since": a.isoformat(), "until": b.isoformat()})
    out.append({"since": rnd.choice(instants).isoformat()})
    out.append({"until": rnd.choice(instants).isoformat(), "as_of": "2024-01-20"})
    out.append({"since": "2024-03-01"})  # nobody in the range: no purchaser
    return out


@pytest.mark.parametrize("plan", ["bound", "portable"])
def test_the_kept_purchasers_give_the_plans_after_sale_metrics(
    store: str, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if plan == "portable":
        monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    ev = hourglass.events(store)
    measured = 0
    ranges = _ranges(7) if plan == "bound" else _ranges(8)[2:5] + _ranges(8)[-2:]  # (portable: time)
    for r in ranges:
        got = []
        for on in (True, False):
            monkeypatch.setattr(rl, "KEPT_ON", on)
            res = hourglass.lifecycle(ev, referrals=False, channels=False, **r).to_dict()
            got.append(_plain({k: res.get(k) for k in ("after_sale", "after_sale_reason", "stages")}))
        assert got[0] == got[1], r
        measured += got[0]["after_sale"] is not None
    assert measured >= 3  # most ranges have purchasers


def test_the_after_sale_queries_read_the_kept_tables(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bound: the range's events are read by the stages, "now", the events present and the kept
    purchasers' events, not once more per after-sale block (was: six joins with the purchasers)."""
    seen: list[str] = []
    text = bound_module.Bound._text

    def spy(self: bound_module.Bound, expr: Any) -> str:
        sql = text(self, expr)
        seen.append(sql)
        return sql

    monkeypatch.setattr(bound_module.Bound, "_text", spy)
    res = hourglass.lifecycle(hourglass.events(store), referrals=False, channels=False, since="2024-01-02")
    assert res.after_sale is not None
    events_reads = [s for s in seen if "hg_keyed" in s]
    assert seen and len(events_reads) <= 4, len(events_reads)  # 3 ("now", present, kept); was 8
