"""The hourglass compiled once and run again on other dates (engine/bound.py) equals the same
analyses built with the dates themselves (``direct``, the reference), on seeded random ranges of a
store and of an integer-id Parquet file: range bounds on an event's own instant (the start kept, the
end left out), a range before 1970 (a negative literal), no end, no start; with spend, both referral
modes, a breakdown and ``as_of`` (which runs direct). A second range compiles and builds nothing."""

from __future__ import annotations

import random
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hourglass
import hourglass.engine.bound as bound_module
from hourglass.analyses._match import in_period, micros_of
from hourglass.engine.bound import STAND_INS, Bound, Runner, direct
from hourglass.engine.event_store import write_store
from hourglass.model.errors import EngineError
from test_lifecycle_keyed import BASE, _plain, random_log


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bound")
    random_log(11).to_parquet(d / "text.parquet")
    write_store(hourglass.events(str(d / "text.parquet")), d / "store.duckdb")
    random_log(12, integer_ids=True).to_parquet(d / "int.parquet")
    spend = d / "spend.csv"
    spend.write_text("channel,period,cost\nads,2024-01,100\nsearch,2024-01,0\nemail,2024-02,30\n")
    return {"store": str(d / "store.duckdb"), "int": str(d / "int.parquet"), "spend": str(spend)}


def _direct_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def only_direct(engine: Any, *, allowed: bool = True) -> AbstractContextManager[Runner]:
        return direct(engine)

    for mod in ("engine.run_lifecycle", "engine.run_referrals", "interfaces.lifecycle_api"):
        monkeypatch.setattr(f"hourglass.{mod}.bound", only_direct)


def _ranges(seed: int) -> list[dict[str, Any]]:
    """Seeded ranges whose bounds are events' own instants (BASE + days + 0 or 2 hours) or not."""
    rnd = random.Random(seed)
    instants = [BASE + timedelta(days=d, hours=h) for d in (0, 1, 3, 9, 30, 45) for h in (0, 2)]
    out: list[dict[str, Any]] = [{}, {"since": "1969-12-01", "until": "2024-01-02T02:00:00"}]
    a, b = sorted(rnd.sample(instants, 2))
    out.append({"since": a.isoformat(), "until": b.isoformat()})
    out.append({"since": rnd.choice(instants).isoformat()})
    out.append({"until": (rnd.choice(instants) + timedelta(minutes=rnd.choice([0, 1]))).isoformat()})
    return out


@pytest.mark.parametrize("which", ["store", "int"])
def test_a_range_bound_equals_the_range_built_with_its_dates(
    sources: dict[str, str], which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges = _ranges(5) if which == "store" else _ranges(6)[2:4]  # the Parquet file: two (time)
    options: list[dict[str, Any]] = [
        {"spend": sources["spend"]},
        {
            "referral_options": {"referral_event": "referral_sent", "referee_column": "invitee"},
            "by": "device",
        },
        {"as_of": "2024-01-20"},
    ]
    got: list[list[Any]] = []
    for on in (True, False):
        if not on:
            _direct_only(monkeypatch)
        got.append(
            [
                _plain(hourglass.lifecycle(sources[which], **r, **options[i % len(options)]).to_dict())
                for i, r in enumerate(ranges)
            ]
        )
    for i, (a, b) in enumerate(zip(*got, strict=True)):
        assert a == b, ranges[i]
    assert any(g["referrals"]["referees"] > 0 for g in got[0] if g.get("referrals"))
    assert any(g["after_sale"] for g in got[0])


def test_a_second_range_compiles_and_builds_nothing(
    sources: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = hourglass.events(sources["store"])
    compiled: list[str] = []
    compile_ = type(ev.engine.con).compile

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append("x")
        return compile_(self, *args, **kwargs)

    hourglass.lifecycle(ev, since="2024-01-02", until="2024-01-31")
    monkeypatch.setattr(type(ev.engine.con), "compile", counting)
    built = len(bound_module._built)
    second = hourglass.lifecycle(ev, since="2024-01-04T02:00:00", until="2024-02-10")
    assert compiled == []  # the same queries on other dates: their SQL found, not compiled again
    assert len(bound_module._built) == built  # nor their expressions built again
    assert second.referrals is not None and second.channels is not None and second.after_sale is not None


def test_the_stand_ins_values_and_what_is_left_unbound() -> None:
    ev = hourglass.events(random_log(2))
    run = Bound(ev.engine)
    t = ev.table
    since = run.value("since", datetime(1960, 1, 1))  # a negative literal: in parentheses
    assert since == STAND_INS["since"] and run.value("until", None) is None
    f = in_period(t, since, None)
    expr = f.aggregate(n=f.count())
    assert run.rows(expr) == [{"n": len(random_log(2))}]
    assert "(-315619200000000)" in run._text(expr)
    f = in_period(t, None, STAND_INS["until"])
    unbound = f.aggregate(n=f.count())
    with pytest.raises(EngineError, match="no value was given for") as raised:
        run.rows(unbound)  # never the year 2999 read as a date
    assert raised.value.code == "HG146" and raised.value.hint and isinstance(raised.value, RuntimeError)
    assert {len(str(micros_of(t))) for t in STAND_INS.values()} == {17}  # the module's docstring
    assert bound_module._MAX >= 64
    run.close()


def test_intermediates_are_dropped(sources: dict[str, str], tmp_path: Path) -> None:
    ev = hourglass.events(sources["store"])
    hourglass.lifecycle(ev, since="2024-01-02")
    left = ev.engine.con.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'hg_bound_%'"
    ).fetchall()
    assert left == []


def test_the_stages_alone(sources: dict[str, str]) -> None:
    ev = hourglass.events(sources["store"])
    whole = hourglass.lifecycle(ev, since="2024-01-02").to_dict()
    alone = hourglass.lifecycle(ev, since="2024-01-02", stages_only=True).to_dict()
    assert alone["stages"] == whole["stages"] and alone["customers"] == whole["customers"]
    assert whole["after_sale"] is not None and alone["after_sale"] is None
    assert alone["after_sale_reason"] == "skipped (the stages alone)"
    assert alone["referrals"] is None and alone["channels"] is None


def test_the_stages_alone_with_a_spend_table(sources: dict[str, str]) -> None:
    """A spend table is read by the channel table, which the stages alone skip: not a false HG122
    ("the events have no channel column") though the column exists (review)."""
    ev = hourglass.events(sources["store"])
    alone = hourglass.lifecycle(ev, since="2024-01-02", stages_only=True, spend=sources["spend"]).to_dict()
    assert alone["stages"] and alone["channels"] is None and alone["referrals"] is None
    assert alone["channels_reason"] == alone["referrals_reason"] == "skipped (the stages alone)"


def test_the_portable_plan_runs_direct(sources: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    ev = hourglass.events(sources["store"])
    with bound_module.bound(ev.engine) as run:
        assert isinstance(run, Bound)
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")  # each query as Ibis runs it (other engines' tests)
    with bound_module.bound(ev.engine) as run:
        assert not isinstance(run, Bound)
