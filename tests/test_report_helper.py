"""The report's helper process (interfaces/report_helper.py): on a small file it computes the
flywheel and friction sections on its own load while the report computes the rest (issue 11: the
report on a 32k-event CSV within 3 s on 2 CPUs). It may only make the report faster: its results
are the report's own, and whenever it cannot help the report computes everything itself."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import hourglass
from hourglass.engine.plan import cached
from hourglass.ingest.config import load_config, load_model
from hourglass.interfaces.report_extras import EXTRAS, Context, computed, extra_parts
from hourglass.interfaces.report_helper import HELPED, LIFECYCLE, _idle_cpu, start_helper


@pytest.fixture(autouse=True)
def _idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an idle machine (the helper is not started when every CPU is busy)."""
    monkeypatch.setattr("hourglass.interfaces.report_helper._idle_cpu", lambda: True)


def _same(got: Any, want: Any, path: str = "", rel: float = 1e-6, abs_tol: float = 1e-9) -> None:
    """Equal result dicts, timings aside, floats to ``rel`` (default 1e-6: DuckDB's parallel sums
    differ from run to run in the last bits, and the CLV fit carries that to the 1e-9 of its values;
    tests/test_report_once.py asks 1e-9 of results without a fit)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) - {"seconds"} == set(want) - {"seconds"}, path
        for key in set(want) - {"seconds"}:
            _same(got[key], want[key], f"{path}.{key}", rel, abs_tol)
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{path}[{i}]", rel, abs_tol)
    elif isinstance(want, float) and isinstance(got, float):
        # a standard error is a numerical Hessian's: the fit's last bits (DuckDB's parallel sums) move it
        # in the 4th to 6th digit (1.4e-4 apart on the spend model's q in a loaded full run)
        # the spend model's q and gamma are strongly correlated in its likelihood: its optimum moves
        # ~1e-6 with those last bits (1.1e-6 on gamma in a quiet full run)
        r = rel
        if "std_errors" in path:
            r = max(rel, 1e-3)
        elif "spend_model.params" in path:
            r = max(rel, 1e-5)
        assert math.isclose(got, want, rel_tol=r, abs_tol=abs_tol) or (got != got and want != want), path
    else:
        assert got == want, path


def test_the_helper_computes_what_the_report_would(demo_parquet: Path) -> None:
    from hourglass.interfaces.lifecycle_api import lifecycle

    cfg = load_config(None)
    model = load_model("hourglass", cfg)
    ctx = Context(model)
    args = {"model": model, "spend": None, "since": None, "until": None, "after_sale": {}}
    # every section goes through the same ``computed`` as in the report's process: the lifecycle,
    # lifetime value (a fit: the same optimum in another process) and retention stand for them
    names = ("clv", "retention")
    helper = start_helper(str(demo_parquet), only=names, context=ctx, config=cfg, lifecycle=args)
    assert helper is not None and helper.names == (LIFECYCLE, *names)
    assert HELPED == ("clv", "friction", "flywheel", "attribution", "retention")
    got = helper.results()
    assert set(got) == {LIFECYCLE, *names}
    assert helper.lifecycle(**{**args, "after_sale": {"remorse_events": "refund"}}) is None  # not asked
    life = helper.lifecycle(**args)
    assert life is not None
    ev = hourglass.events(str(demo_parquet))
    with cached() as materialize:
        ev = dataclasses.replace(ev, table=materialize(ev.table))
        _same(life.to_dict(), lifecycle(ev, model, config=cfg).to_dict(), "lifecycle")
        for name in names:
            result, why = got[name]
            assert why is None and result is not None
            _same(result, computed(name, ev, ctx), name)


def test_a_section_the_helper_has_not_started_is_claimed(demo_parquet: Path) -> None:
    """The report wants a section before the helper started it: the report computes it (take
    says None) and the helper skips it; the sections it had started are its own."""
    helper = start_helper(str(demo_parquet), only=("retention", "attribution"), context=Context("hourglass"))
    assert helper is not None and helper.names == ("attribution", "retention")
    assert helper.take("retention") is None  # still loading: claimed
    assert helper.take("retention") is None  # and stays the report's
    got = helper.take("attribution")  # started by then, or claimed too
    assert got is None or got[0] is not None
    assert "retention" not in helper.results()


def test_the_helper_is_a_fork_of_a_fresh_report_process(demo_parquet: Path) -> None:
    """In a process that has not loaded DuckDB yet (the command line's), the helper is a fork:
    no new Python, no second import of the report's modules; its results are the same."""
    code = (
        "import sys\n"
        "from hourglass.interfaces.report_extras import Context\n"
        "from hourglass.interfaces import report_helper as rh\n"
        "rh._idle_cpu = lambda: True\n"
        "assert 'duckdb' not in sys.modules\n"
        f"h = rh.start_helper({str(demo_parquet)!r}, only=('retention',), context=Context('hourglass'))\n"
        "assert h is not None and h.proc is None, h\n"
        "result, why = h.results()['retention']\n"
        "assert why is None and result['cohorts'], (result, why)\n"
        "assert not h.running()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_report_with_another_model_computes_the_sections_itself(demo_parquet: Path) -> None:
    """The report drafted another main model after the helper started: its results are not used
    (the helper is stopped), the sections are computed in the report's process."""
    cfg = load_config(None)
    started = Context(load_model("aida", cfg))
    helper = start_helper(str(demo_parquet), only=("flywheel",), context=started, config=cfg)
    assert helper is not None
    said: list[str] = []
    ev = hourglass.events(str(demo_parquet))
    parts, missing = extra_parts(
        ev, Context(load_model("hourglass", cfg)), only=("flywheel",), say=said.append, helper=helper
    )
    assert not helper.running() and helper.closed  # stopped
    assert [p.anchor for p in parts] == ["flywheel"] and not missing and said


def test_it_runs_only_for_a_small_file_on_duckdb(
    demo_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = Context("hourglass")
    assert start_helper(str(demo_parquet), only=(), context=ctx) is None  # no section to compute
    assert start_helper(str(tmp_path / "none.csv"), only=EXTRAS, context=ctx) is None  # the load says why
    assert start_helper(str(demo_parquet), only=EXTRAS, context=ctx, engine="spark") is None
    monkeypatch.setattr("os.getloadavg", lambda: (64.0, 64.0, 64.0))  # every CPU busy: no helper
    monkeypatch.setattr("hourglass.interfaces.report_helper._idle_cpu", _idle_cpu)
    assert start_helper(str(demo_parquet), only=EXTRAS, context=ctx) is None
    monkeypatch.setenv("HOURGLASS_REPORT_HELPER", "0")
    assert start_helper(str(demo_parquet), only=EXTRAS, context=ctx) is None


def test_a_helper_not_read_is_reaped(demo_parquet: Path) -> None:
    """A helper that finished but whose results the report did not want (its main model matched
    no event) is reaped and its pipe closed: no ResourceWarning (an error under pytest)."""
    helper = start_helper(str(demo_parquet), only=("retention",), context=Context("aida"))
    assert helper is not None and helper.names == ("retention",)
    while helper.running():
        time.sleep(0.01)
    helper.cancel()
    assert helper.closed and not helper.running()
    assert helper.results() == {}
