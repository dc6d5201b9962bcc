"""The report does each piece of its work once (issue 11: the report of a 32k-event CSV within 3 s):
its funnel over time and "why customers drop" read the main model's best chains, built and computed
once for the two, and draw the same parts as each computed on its own."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hourglass
from hourglass.analyses import funnel, funnel_closed, funnel_paths, funnel_trend
from hourglass.engine.plan import cached
from hourglass.ingest.config import load_config, load_model
from hourglass.interfaces.report_funnel_parts import (
    funnel_explained_part_of,
    funnel_parts,
    funnel_time_part_of,
)
from hourglass.interfaces.report_sections import FunnelOptions
from test_report_helper import _same


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every build of a funnel's best chains (the expression the views compute them with)."""
    calls: list[str] = []
    real = funnel_closed.best_chains

    def counting(spec: object, events: object) -> object:
        calls.append(repr(spec))
        return real(spec, events)  # type: ignore[arg-type]

    for module in (funnel, funnel_paths, funnel_trend):
        monkeypatch.setattr(module, "best_chains", counting, raising=False)
    yield calls


@pytest.mark.parametrize("hold", [None, "device"])
def test_the_funnel_parts_build_the_best_chains_once(
    demo_parquet: Path, builds: list[str], hold: str | None
) -> None:
    cfg = load_config(None)
    model = load_model("hourglass", cfg)
    options = FunnelOptions(hold=hold)
    ev = hourglass.events(str(demo_parquet))
    ev.engine.con.raw_sql("SET threads = 1")  # as in the report's processes: sums in one order
    result = hourglass.funnel(ev, model=model, window="90d", config=cfg, hold=hold)
    builds.clear()  # the funnel's own (its fast path builds none)
    parts, why = funnel_parts(
        ev, "hourglass", model, result, "90d", None, None, cfg, lambda _m: None, options
    )
    assert why == {}
    assert [p.anchor for p in parts] == ["funnel-time", "funnel-explained"]
    assert len(builds) == 1, builds  # was 4: three for the funnel over time, one for why customers drop
    # the same parts as each part computed on its own (its own chains)
    with cached():
        alone = [
            funnel_time_part_of(ev, "hourglass", model, "90d", None, None, cfg, options),
            funnel_explained_part_of(ev, "hourglass", model, result, "90d", None, None, cfg, options),
        ]
    assert len(builds) == 1 + 1 + 1  # alone: each its own (the funnel over time's three views share theirs)
    assert [repr(p) for p in parts] == [repr(p) for p in alone]


def test_the_report_collects_garbage_less_often_and_as_before_after(tmp_path: Path) -> None:
    import gc

    from hourglass.interfaces.report_gc import GC_YOUNGEST

    log = tmp_path / "log.csv"
    log.write_text(
        "customer,event,timestamp\na,visit,2024-01-01 10:00:00\na,signup,2024-01-02 10:00:00\n"
        "b,visit,2024-01-03 10:00:00\n",
        encoding="utf-8",
    )
    before = gc.get_threshold()
    seen: list[tuple[int, int]] = []
    hourglass.report(
        str(log),
        out=tmp_path / "r.html",
        extras=(),
        step=lambda _m: seen.append((gc.get_threshold()[0], gc.get_freeze_count())),
    )
    assert seen and all(t >= GC_YOUNGEST and frozen > 0 for t, frozen in seen)  # was 700 and none
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_collector_settings_leave_the_callers_own_alone() -> None:
    """Nested reports change the collector once and restore it once; objects the caller froze stay
    frozen; a collector the caller disabled (threshold 0) stays disabled; an error restores too."""
    import gc

    from hourglass.interfaces.report_gc import GC_YOUNGEST, fewer_collections

    before = gc.get_threshold()
    try:
        with fewer_collections():
            with fewer_collections():
                assert gc.get_threshold()[0] >= GC_YOUNGEST
            assert gc.get_threshold()[0] >= GC_YOUNGEST and gc.get_freeze_count() > 0  # the inner kept it
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        gc.freeze()
        frozen = gc.get_freeze_count()
        gc.set_threshold(0)
        with pytest.raises(ValueError), fewer_collections():
            assert gc.get_threshold()[0] == 0
            raise ValueError("a report's error")
        # still frozen (an unfreeze would make it 0); not equal: frozen objects that other threads of
        # this worker free meanwhile leave the permanent generation (936,347 -> 936,345 in one run)
        assert gc.get_freeze_count() > frozen // 2 and gc.get_threshold()[0] == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_friction_section_computes_the_stage_table_once(
    demo_parquet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ibis.backends.duckdb import Backend

    from hourglass.interfaces import friction_api
    from hourglass.interfaces.report_extras import Context, friction_blocks

    cfg = load_config(None)
    model = load_model("hourglass", cfg)
    ev = hourglass.events(str(demo_parquet))
    tables: list[str] = []
    real = Backend._create_cached_table

    def counting(self: Backend, name: str, expr: Any) -> Any:
        tables.append(name)
        return real(self, name, expr)

    monkeypatch.setattr(Backend, "_create_cached_table", counting)
    calls: list[str] = []
    for name in ("check_model_events", "last_time"):
        real_call = getattr(friction_api, name)
        monkeypatch.setattr(
            friction_api, name, lambda *a, _f=real_call, _n=name, **k: calls.append(_n) or _f(*a, **k)
        )
    with cached() as materialize:
        ev = dataclasses.replace(ev, table=materialize(ev.table))
        tables.clear()
        blocks = friction_blocks(ev, Context(model), frictions=["complaint"])
        section = (len(tables), sorted(calls))
        tables.clear()
        friction = friction_api.friction(ev, model, frictions=["complaint"])
        alone = len(tables)
        diagnosed = friction_api.diagnose(ev, model)
    # was the friction's tables and the diagnosis's stage table again; the model checked and the
    # log's last time read twice
    assert section == (alone, ["check_model_events", "last_time"])
    _same(blocks, {"friction": friction.to_dict(), "diagnose": diagnosed.to_dict()}, rel=1e-9, abs_tol=1e-12)


def test_the_report_command_freezes_its_objects_at_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's last collection at exit walked every object of the imports and the report (0.3-0.4
    CPU-s of the command's 2.5 on its critical path); frozen at exit, it walks none."""
    import atexit
    import gc

    from hourglass.interfaces.cli import main

    at_exit: list[object] = []
    monkeypatch.setattr(atexit, "register", lambda fn, *a, **k: at_exit.append(fn))
    monkeypatch.setattr(gc, "set_threshold", lambda *a: None)  # this test process's own as it is
    log = tmp_path / "log.csv"
    log.write_text("customer,event,timestamp\na,visit,2024-01-01 10:00:00\n", encoding="utf-8")
    args = ["report", str(log), "--out", str(tmp_path / "r.html"), "--with", "none"]
    with pytest.raises(SystemExit) as done:  # the command as the `hourglass` script runs it
        main(args)
    assert done.value.code == 0
    assert (tmp_path / "r.html").is_file()
    assert at_exit.count(gc.freeze) == 1  # once, by main (the report command registered it a second time)
