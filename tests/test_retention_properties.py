"""Property test: ``hourglass.retention`` against the plain-Python reference on random logs.

Logs are small on purpose: 1-5 customers of 1-7 events from a 3-name alphabet, times drawn over
~10 weeks at hour resolution, so events tie, share a day, a Monday week or a month, or sit on either
side of a period's edge; some rows carry revenue (0 too) and a channel. Every draw picks the period,
the start and return events (any, or an event name), nth or unbounded, first-time or recurring
cohorts, 1-5 periods, an optional --since/--until and --by channel; the whole matrix (sizes, counts,
null cells, revenue) must equal the reference's, for the whole and for every group."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from hourglass.interfaces.retention_api import retention
from hourglass.model.errors import SpecError
from journeys import journeys, rows
from reference.retention_ref import ALL, retention_ref

BASE = datetime(2024, 1, 25)  # near a month's end, on a Thursday
NAMES = ["visit", "buy", "login"]


@st.composite
def logs(draw: st.DrawFn) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for c in range(draw(st.integers(1, 5))):
        t = draw(st.integers(0, 24 * 20))
        events = []
        for _ in range(draw(st.integers(1, 7))):
            t += draw(st.sampled_from([0, 1, 5, 24, 24 * 3, 24 * 7, 24 * 12]))
            props: dict[str, Any] = {}
            name = draw(st.sampled_from(NAMES))
            if name == "buy":
                props["revenue"] = draw(st.sampled_from([None, 0.0, 5.0, 12.5]))
            props["channel"] = draw(st.sampled_from([None, "ads", "seo", "email"]))
            events.append((name, BASE + timedelta(hours=t), props))
        out[f"c{c}"] = events
    return out


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    log=logs(),
    period=st.sampled_from(["day", "week", "month"]),
    start=st.sampled_from([None, "buy", "visit"]),
    back=st.sampled_from([None, "buy", "login"]),
    mode=st.sampled_from(["nth", "unbounded"]),
    cohorts=st.sampled_from(["first", "recurring"]),
    periods=st.integers(1, 5),
    since=st.sampled_from([None, BASE + timedelta(days=9)]),
    until=st.sampled_from([None, BASE + timedelta(days=30, hours=7)]),
    by=st.sampled_from([None, "channel"]),
)
def test_retention_matches_reference(
    log: dict[str, list[Any]],
    period: str,
    start: str | None,
    back: str | None,
    mode: str,
    cohorts: str,
    periods: int,
    since: datetime | None,
    until: datetime | None,
    by: str | None,
) -> None:
    df = journeys(log, dtypes={"revenue": "float64", "channel": "object"})
    data = rows(df)
    kw: dict[str, Any] = dict(
        period=period, mode=mode, cohorts=cohorts, periods=periods, since=since, until=until
    )
    present = {r["event"] for r in data}
    if any(name is not None and name not in present for name in (start, back)):
        with pytest.raises(SpecError) as e:  # an event the source does not have: HG178
            retention(df, start=f"{start or 'first'}", return_event=f"{back or 'any'}", by=by, **kw)
        assert e.value.code == "HG178"
        return
    got = retention(df, start=start or "first", return_event=back or "any", by=by, **kw).to_dict()
    want = retention_ref(
        data,
        start=None if start is None else {start},
        back=None if back is None else {back},
        by=by,
        **kw,
    )
    note(f"got {got}\nwant {want}")
    parts: list[tuple[Any, dict[str, Any]]] = [(ALL, got)]
    parts += [(g["value"], g) for g in got.get("groups", [])]
    assert sorted(map(str, (v for v, _ in parts))) == sorted(map(str, want))
    for value, part in parts:
        expected = want[value]
        assert {c["cohort"]: c["size"] for c in part["cohorts"]} == {
            k: v["size"] for k, v in expected.items()
        }
        for c in part["cohorts"]:
            assert [x["customers"] for x in c["cells"]] == expected[c["cohort"]]["counts"]
            revenue = [x["revenue"] for x in c["cells"]]
            assert revenue == pytest.approx(expected[c["cohort"]]["revenue"])
            for x in c["cells"]:
                if x["customers"] is not None:
                    assert x["share"] == pytest.approx(x["customers"] / c["size"])
        # the average pools the complete cells: sum of counts over sum of sizes
        for n, a in enumerate(part["average"]):
            done = [v for v in expected.values() if v["counts"][n] is not None]
            assert a["cohorts"] == len(done)
            if done:
                assert a["share"] == pytest.approx(
                    sum(v["counts"][n] for v in done) / sum(v["size"] for v in done)
                )
            else:
                assert a["share"] is None and a["share_reason"]
