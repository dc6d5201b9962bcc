"""The dashboard's per-customer tables of a range from a store's numpy arrays (engine/range_frames.py:
the stages' people, a channel cell's people) equal the expressions executed (the decoded GROUP BY)
customer by customer, on a seeded random store and ranges (bounds on events' own instants, none)."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hourglass
from hourglass.analyses.channels import channel_plan
from hourglass.analyses.lifecycle import decoded
from hourglass.engine.event_store import write_store
from hourglass.engine.keyed import keyed
from hourglass.engine.range_frames import channel_frame, stage_frame
from hourglass.engine.run_lifecycle import lifecycle_customers
from hourglass.interfaces.lifecycle_api import lifecycle_frame, lifecycle_spec
from hourglass.model.channels import ChannelSpec
from hourglass.model.referrals import ReferralSpec, sale_definition
from hourglass.model.steps import Filter
from test_lifecycle_firsts import _ranges
from test_lifecycle_keyed import random_log

RANGES = _ranges(27, timedelta(0))[:5]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("frames")
    random_log(51, n=50).to_parquet(d / "log.parquet")
    write_store(hourglass.events(str(d / "log.parquet")), d / "log.duckdb")
    return d / "log.duckdb"


def _records(frame: Any) -> list[dict[str, Any]]:
    rows = frame.sort_values("customer").to_dict(orient="records")
    out = []
    for r in rows:
        plain = {}
        for k, v in r.items():
            if v is None or (isinstance(v, float) and math.isnan(v)) or str(v) == "NaT":
                v = None
            elif hasattr(v, "to_pydatetime"):
                v = v.to_pydatetime()
            elif isinstance(v, float):
                v = round(v, 6)
            elif hasattr(v, "item"):
                v = v.item()
            plain[k] = v
        out.append(plain)
    return out


@pytest.mark.parametrize("since,until", RANGES)
def test_the_stage_table_equals_the_expression(
    store: Path, since: datetime | None, until: datetime | None
) -> None:
    ev = hourglass.events(str(store))
    spec = dataclasses.replace(lifecycle_spec("hourglass"), since=since, until=until)
    fast = stage_frame(ev, spec)
    assert fast is not None
    want = ev.engine.execute(lifecycle_customers(ev, spec))
    assert list(fast.columns) == list(want.columns)
    assert _records(fast) == _records(want)


@pytest.mark.parametrize("since,until", RANGES)
def test_the_channel_table_equals_the_plans_customers(
    store: Path, since: datetime | None, until: datetime | None
) -> None:
    ev = hourglass.events(str(store))
    model = lifecycle_spec("hourglass").model
    fast = channel_frame(ev, model, "channel", since, until)
    assert fast is not None
    k = keyed(ev)
    assert k is not None
    sale = sale_definition(model, None)
    cust = channel_plan(
        ChannelSpec("channel", None, since, until),
        k.table,
        model,
        sale.step,
        None,
        ReferralSpec(),
        k.ids,
        True,
    ).customers
    flags = [f"s{i}" for i in range(len(model.stages))]
    want = ev.engine.execute(decoded(cust.select("customer", "channel", "purchaser", *flags), k.ids))
    assert list(fast.columns) == list(want.columns)
    assert _records(fast) == _records(want) and len(want)


def test_the_api_frame_and_where_the_arrays_do_not_apply(store: Path) -> None:
    ev = hourglass.events(str(store))
    got = lifecycle_frame(ev, since="2024-01-02")
    spec = lifecycle_spec("hourglass", since="2024-01-02")
    assert _records(got) == _records(ev.engine.execute(lifecycle_customers(ev, spec)))
    first = spec.model.stages[0]
    filtered = dataclasses.replace(first, where=(Filter("device", "==", "mobile"),))
    model = dataclasses.replace(spec.model, stages=(filtered, *spec.model.stages[1:]))
    assert stage_frame(ev, dataclasses.replace(spec, model=model)) is None
    assert channel_frame(ev, model, "channel", None, None) is None
    assert stage_frame(ev, dataclasses.replace(spec, as_of=datetime(2024, 2, 1))) is None
    parquet = hourglass.events(str(store.with_suffix(".parquet")))  # not a store: the expression
    assert stage_frame(parquet, spec) is None


def test_the_ranges_arrays_are_kept_for_its_people(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a range's lifecycle, its stage table and channel table read the store no more (the
    arrays kept per loaded source, engine/range_cache.py); another load of the store, or another
    range, computes its own."""
    import hourglass.engine.facts_arrays as facts_arrays
    import hourglass.engine.stage_firsts as stage_firsts

    calls: list[str] = []
    for module, name in ((facts_arrays, "_facts_arrow"), (stage_firsts, "_stage_arrow")):
        original = getattr(module, name)

        def counting(*args: Any, _f: Any = original, _n: str = name) -> Any:
            calls.append(_n)
            return _f(*args)

        monkeypatch.setattr(module, name, counting)
    ev = hourglass.events(str(store))
    since, until = datetime(2024, 1, 2), datetime(2024, 2, 1)
    hourglass.lifecycle(ev, since=since.isoformat(), until=until.isoformat())
    assert sorted(calls) == ["_facts_arrow", "_stage_arrow"]
    spec = lifecycle_spec("hourglass", since=since.isoformat(), until=until.isoformat())
    stages, channels = stage_frame(ev, spec), channel_frame(ev, spec.model, "channel", since, until)
    assert sorted(calls) == ["_facts_arrow", "_stage_arrow"] and len(stages) and len(channels)
    again = hourglass.events(str(store))  # loaded again (a store written again would be this)
    stage_frame(again, spec)
    channel_frame(ev, spec.model, "channel", since, datetime(2024, 2, 2))
    assert sorted(calls) == ["_facts_arrow", "_facts_arrow", "_stage_arrow", "_stage_arrow"]


def test_another_models_stage_names_get_their_own_table(store: Path) -> None:
    """Two models of the same events under other stage names, one loaded source: each gets its own
    kept table (R: the key held the events only, so the second got the first's column names)."""
    ev = hourglass.events(str(store))
    spec = lifecycle_spec("hourglass", since="2024-01-02")
    renamed = dataclasses.replace(
        spec.model,
        name="renamed",
        stages=tuple(dataclasses.replace(s, name=f"{s.name}_x") for s in spec.model.stages),
        sale=f"{spec.model.sale}_x",
    )
    first = hourglass.lifecycle(ev, since="2024-01-02")
    second = hourglass.lifecycle(ev, renamed, since="2024-01-02")
    assert [s.entered for s in first.stages] == [s.entered for s in second.stages]
    frame = stage_frame(ev, dataclasses.replace(spec, model=renamed))
    assert frame is not None and "awareness_x_at" in frame.columns


def test_a_shared_value_is_computed_once_by_threads_asking_together() -> None:
    """engine/range_cache.py ``shared``: a second thread asking while the first computes waits for
    its value (the two sides of one range, engine/range_events.py); an error or None lets the next
    caller compute; only the last value is kept."""
    import threading
    import time

    from hourglass.engine.range_cache import shared

    class Owner:
        pass

    owner, calls, got = Owner(), [], []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "read"

    threads = [threading.Thread(target=lambda: got.append(shared(owner, "k", slow))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["read"] * 3 and len(calls) == 1

    def failing() -> str:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        shared(owner, "other", failing)
    assert shared(owner, "other", lambda: "again") == "again"
    assert shared(owner, "none", lambda: None) is None
    assert shared(owner, "none", lambda: "then") == "then"
    assert shared(owner, "k", lambda: "new") == "new"  # one kept: "k" was pushed out
