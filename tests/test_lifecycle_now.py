""" "Now" of a range open at its end (every date preset of the dashboard) from the source's last
event, read once per loaded store (engine/run_lifecycle.py ``ON_SOURCE_LAST``), equals the range's
own MAX (the reference): ranges from the log's first and last instants, from an event's own instant,
past the last event (an empty range: 1970), none; the whole lifecycle and the stage table per
customer (engine/range_frames.py) equal with it off; bounded ranges and ``as_of`` as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

import hourglass
import hourglass.engine.run_lifecycle as rl
from hourglass.analyses.lifecycle import in_range
from hourglass.engine.event_store import write_store
from hourglass.engine.keyed import keyed, model_reads
from hourglass.engine.range_frames import stage_frame
from hourglass.interfaces.lifecycle_api import lifecycle_spec
from test_lifecycle_keyed import _plain, random_log


@pytest.fixture(scope="module")
def log_and_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str]:
    d = tmp_path_factory.mktemp("now")
    log = random_log(31, n=70)
    log.to_parquet(d / "log.parquet")
    write_store(hourglass.events(str(d / "log.parquet")), d / "store.duckdb")
    return log, str(d / "store.duckdb")


def _ranges(log: pd.DataFrame) -> list[dict[str, Any]]:
    ts = sorted(pd.to_datetime(log["timestamp"]).dt.tz_localize(None).unique())
    first, last, mid = ts[0], ts[-1], ts[len(ts) // 2]
    us = timedelta(microseconds=1)
    out: list[dict[str, Any]] = [{}, {"since": "1969-12-01"}]
    for at in (first, mid, last, last - us, last + us, last + timedelta(days=400)):
        out.append({"since": pd.Timestamp(at).isoformat()})
    out += [{"since": pd.Timestamp(mid).isoformat(), "until": pd.Timestamp(last).isoformat()}]
    out += [{"since": pd.Timestamp(first).isoformat(), "as_of": pd.Timestamp(mid).isoformat()}]
    return out


def test_now_from_the_source_equals_the_ranges_max(
    log_and_store: tuple[pd.DataFrame, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, store = log_and_store
    ev = hourglass.events(store)
    k = keyed(ev, model_reads(lifecycle_spec("hourglass").model))
    assert k is not None
    seen = set()
    for r in _ranges(log):
        spec = lifecycle_spec("hourglass", **r)
        t = in_range(spec, k.table)
        got = []
        for on in (True, False):
            monkeypatch.setattr(rl, "ON_SOURCE_LAST", on)
            got.append(rl.as_of(ev, spec, t, k.table))
        assert got[0] == got[1], r
        seen.add(got[0].year == 1970)
    assert seen == {True, False}  # an empty range and ranges with events


def test_the_lifecycle_and_the_stage_table_are_the_same(
    log_and_store: tuple[pd.DataFrame, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, store = log_and_store
    ev = hourglass.events(store)
    for r in _ranges(log):
        results, frames = [], []
        for on in (True, False):
            monkeypatch.setattr(rl, "ON_SOURCE_LAST", on)
            results.append(_plain(hourglass.lifecycle(ev, **r).to_dict()))
            if "as_of" not in r:
                frames.append(stage_frame(ev, lifecycle_spec("hourglass", **r)))
        assert results[0] == results[1], r
        if frames and frames[0] is not None:
            a, b = (f.sort_values("customer").reset_index(drop=True) for f in frames)
            pd.testing.assert_frame_equal(a, b)


def test_the_sources_last_event_is_read_once(log_and_store: tuple[pd.DataFrame, str]) -> None:
    _, store = log_and_store
    ev = hourglass.events(store)
    k = keyed(ev, model_reads(lifecycle_spec("hourglass").model))
    assert k is not None
    calls: list[int] = []
    real = rl._max_time

    def counted(run: Any, t: Any) -> Any:
        calls.append(1)
        return real(run, t)

    rl._max_time = counted  # type: ignore[assignment]
    try:
        for days in (1, 2, 3):
            spec = lifecycle_spec("hourglass", since=f"2024-01-0{days}")
            rl.as_of(ev, spec, in_range(spec, k.table), k.table)
    finally:
        rl._max_time = real  # type: ignore[assignment]
    assert len(calls) <= 1  # (0: read by an earlier test of this loaded store)
