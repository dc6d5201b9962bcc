"""Property tests: the funnel over time (trend, time to convert, events to convert) against
tests/reference/funnel_time_ref.py on random logs.

Logs start on a Sunday evening at the end of January, so entries fall on both sides of a day, a
week (Monday) and a month boundary; gaps sit on the time bins' edges (59 s, 60 s, 61 s, 5 min, 2 h,
12 h, 1 d, 3 d) and on the window's (the window, the window + 1 µs). Steps after the first are
optional one time in three (``view?``; a trailing one, and a funnel of one required step, too) and
one case in two holds ``device`` (its values ``m``, ``d`` or missing, mostly ``m``). One example
loads its log once and answers the three views from it. HOURGLASS_PROPERTY_EXAMPLES raises the
number of examples.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import hourglass
from hourglass.interfaces.api import build_spec
from hourglass.interfaces.funnel_views_api import run_view
from journeys import journeys, rows
from reference import funnel_time_ref as tref

BASE = datetime(2024, 1, 28, 20, 0)  # a Sunday; Monday and February follow within hours and days
NAMES = ["visit", "view", "pay", "quit"]
US = 1_000_000
EXAMPLES = int(os.environ.get("HOURGLASS_PROPERTY_EXAMPLES", "40")) // 2 or 1
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, print_blob=True)
GAPS_S = [0, 59, 60, 61, 300, 1800, 3600, 7200, 43200, 86400, 259200]


@pytest.fixture(scope="module")
def duck() -> hourglass.Engine:
    return hourglass.connect("duckdb")


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    window_s = draw(st.sampled_from([3600, 86400, 604800]))
    names = draw(st.lists(st.sampled_from(NAMES[:3]), min_size=2, max_size=4))
    optional = [False] + [draw(st.integers(0, 2)) == 0 for _ in names[1:]]
    steps = [f"{n}?" if o else n for n, o in zip(names, optional, strict=True)]
    gaps = [g * US for g in GAPS_S] + [window_s * US, window_s * US + 1]
    log: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for c in range(draw(st.integers(1, 5))):
        t = draw(st.sampled_from([0, 3600, 5 * 3600, 2 * 86400, 5 * 86400])) * US
        nxt, events = 0, []
        for _ in range(draw(st.integers(1, 7))):
            if draw(st.integers(0, 2)) > 0:
                name, nxt = names[nxt % len(names)], nxt + 1
            else:
                name = draw(st.sampled_from(NAMES))
            t += draw(st.sampled_from(gaps))
            device = draw(st.sampled_from(["m", "m", "d", None]))
            events.append((name, (BASE + timedelta(microseconds=t)).isoformat(sep=" "), {"device": device}))
        log[f"c{c}"] = events
    options: dict[str, Any] = {
        "mode": draw(st.sampled_from(["ordered", "ordered", "strict_order", "any_order"]))
    }
    if draw(st.integers(0, 3)) == 0:
        options["since"] = BASE + timedelta(hours=draw(st.sampled_from([1, 5, 30])))
    if draw(st.integers(0, 3)) == 0:
        options["until"] = BASE + timedelta(days=draw(st.sampled_from([2, 4, 9])))
    if "quit" not in names and draw(st.booleans()):
        options["exclude"] = ["quit"]
    if draw(st.booleans()):
        options["hold"] = "device"
    return {
        "log": log,
        "steps": steps,
        "window_s": window_s,
        "options": options,
        "period": draw(st.sampled_from(["day", "week", "month"])),
        "gap_s": draw(st.sampled_from([60, 1800, 3600])),
    }


def _close(got: Any, want: Any, where: str) -> None:
    if isinstance(want, float) and got is not None:
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), (where, got, want)
    else:
        assert got == want, (where, got, want)


def _subset(got: Any, want: Any, where: str = "") -> None:
    """Every key of ``want`` (recursively) equals ``got``'s, floats to 1e-9."""
    if isinstance(want, dict):
        for k, v in want.items():
            _subset(got[k], v, f"{where}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _subset(g, w, f"{where}[{i}]")
    else:
        _close(got, want, where)


@SETTINGS
@given(case=cases())
def test_views_equal_the_reference(case: dict[str, Any], duck: hourglass.Engine) -> None:
    note(repr(case))
    df = journeys(case["log"], dtypes={"device": "object"})
    ev = hourglass.events(df, engine=duck)
    window = case["window_s"] * US
    spec = build_spec(case["steps"], window=f"{case['window_s']}s", **case["options"])
    ref_rows = rows(df)
    opts = case["options"]

    got = run_view("trend", ev, spec, period=case["period"]).to_dict()
    want = tref.trend(ref_rows, case["steps"], window, case["period"], **opts)
    _subset(got, want, "trend")

    got = run_view("time", ev, spec).to_dict()
    want = tref.time_to_convert(ref_rows, case["steps"], window, **opts)
    got["histograms"] = [
        {**h, "bins": None if h["bins"] is None else [b["customers"] for b in h["bins"]]}
        for h in got["histograms"]
    ]
    _subset(got, want, "time")

    got = run_view("events", ev, spec, session_gap=case["gap_s"]).to_dict()
    want = tref.events_to_convert(ref_rows, case["steps"], window, case["gap_s"] * US, **opts)
    got["histograms"] = [
        {**h, "bins": None if h["bins"] is None else [b["customers"] for b in h["bins"]]}
        for h in got["histograms"]
    ]
    _subset(got, want, "events")
