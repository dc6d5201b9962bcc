"""The stage table from a store's events as numpy arrays (engine/stage_firsts.py) equals the GROUP BY
of the range's events (analyses/lifecycle.py ``stage_customers``, the reference) customer by
customer, and the whole lifecycle equals the one computed without it, on seeded random stores:
tied instants across stages, event names the store has not, ranges whose bounds are events' own
instants, no start, no end, a log before 1970; a stage with a filter or a glob keeps the GROUP BY."""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

import hourglass
import hourglass.engine.run_lifecycle as run_lifecycle
import hourglass.engine.stage_firsts as stage_firsts
from hourglass.analyses.lifecycle import stage_customers
from hourglass.engine.bound import Bound, bound
from hourglass.engine.event_store import write_store
from hourglass.engine.keyed import keyed
from hourglass.engine.stage_firsts import stage_rows
from hourglass.interfaces.lifecycle_api import lifecycle_spec
from hourglass.model.steps import Filter
from test_lifecycle_keyed import BASE, _plain, random_log

SHIFT = timedelta(days=365 * 60)  # the second log: 1964, negative µs


def two_stores(d: Path, seeds: tuple[int, int], n: int) -> dict[str, Path]:
    """Stores of two seeded random logs of ``n`` customers in ``d``: "2024", and "1964" (shifted
    back by :data:`SHIFT`: negative µs)."""
    out: dict[str, Path] = {}
    for name, seed, shift in (("2024", seeds[0], timedelta(0)), ("1964", seeds[1], SHIFT)):
        log = random_log(seed, n=n)
        log["timestamp"] = log["timestamp"] - shift
        log.to_parquet(d / f"{name}.parquet")
        write_store(hourglass.events(str(d / f"{name}.parquet")), d / f"{name}.duckdb")
        out[name] = d / f"{name}.duckdb"
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return two_stores(tmp_path_factory.mktemp("firsts"), (31, 32), 50)


def _ranges(seed: int, shift: timedelta) -> list[tuple[datetime | None, datetime | None]]:
    rnd = random.Random(seed)
    instants = [BASE - shift + timedelta(days=d, hours=h) for d in (0, 1, 3, 9, 30, 45) for h in (0, 2)]
    out: list[tuple[datetime | None, datetime | None]] = [(None, None), (datetime(1900, 1, 1), None)]
    for _ in range(3):
        a, b = sorted(rnd.sample(instants, 2))
        out.append((a, b))
    out.append((rnd.choice(instants), None))
    out.append((None, rnd.choice(instants) + timedelta(minutes=rnd.choice([0, 1]))))
    return out


def _rows(run: Bound, table: Any) -> list[dict[str, Any]]:
    rows = run.rows(table.order_by("customer"))
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


@pytest.mark.parametrize(
    ("which", "threads", "shared"),
    [("2024", False, True), ("1964", False, True), ("2024", True, True), ("2024", False, False)],
)
def test_the_stage_table_equals_the_group_by(
    stores: dict[str, Path], which: str, threads: bool, shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``threads``: each stage's next entries in threads at any size (else past PARALLEL_MIN). The
    ranges hold customers in one stage (no next entry, left out of the passes) and in several.
    ``shared``: the entries from the range's events read once (engine/range_events.py), else each
    stage's own fetch."""
    if threads:
        monkeypatch.setattr(stage_firsts, "PARALLEL_MIN", 0)
    monkeypatch.setattr(stage_firsts, "SHARED_ON", shared)
    ev = hourglass.events(str(stores[which]))
    k = keyed(ev)
    assert k is not None
    spec = lifecycle_spec("hourglass")
    now = datetime(2024, 3, 1) - (SHIFT if which == "1964" else timedelta(0))
    checked, entries = 0, set()
    for since, until in _ranges(7 if which == "2024" else 8, SHIFT if which == "1964" else timedelta(0)):
        sp = dataclasses.replace(spec, since=since, until=until)
        with bound(ev.engine) as run:
            assert isinstance(run, Bound)
            fast = stage_rows(run, k, sp, now)
            assert fast is not None
            reference = stage_customers(sp, k.table, now)
            got, want = _rows(run, fast), _rows(run, reference)
        assert got == want, (since, until)
        assert list(fast.columns) == list(reference.columns)
        checked += len(want)
        entries |= {sum(v is not None for c, v in r.items() if c.endswith("_at")) for r in want}
    assert checked > 100
    assert {1, 2, 3} <= entries


def test_the_lifecycle_equals_the_one_without_it(
    stores: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges = [{}, {"since": "2024-01-02T02:00:00", "until": "2024-01-31"}]
    got: list[list[Any]] = []
    for on in (True, False):
        monkeypatch.setattr(run_lifecycle, "FIRSTS_ON", on)
        got.append(
            [_plain(hourglass.lifecycle(str(stores["2024"]), by="device", **r).to_dict()) for r in ranges]
        )
    assert got[0] == got[1]
    assert all(g["stages"][0]["entered"] for g in got[0])


def test_a_filter_or_a_glob_keeps_the_group_by(stores: dict[str, Path]) -> None:
    ev = hourglass.events(str(stores["2024"]))
    k = keyed(ev)
    spec = lifecycle_spec("hourglass")
    first = spec.model.stages[0]
    for stage in (
        dataclasses.replace(first, where=(Filter("device", "==", "mobile"),)),
        dataclasses.replace(first, events=("vis*",)),
    ):
        model = dataclasses.replace(spec.model, stages=(stage, *spec.model.stages[1:]))
        with bound(ev.engine) as run:
            assert stage_rows(run, k, dataclasses.replace(spec, model=model), BASE) is None
    with bound(ev.engine, allowed=False) as run:  # as_of, a written table: no Bound run
        assert stage_rows(run, k, spec, BASE) is None


def test_a_store_of_text_names_gives_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``ENUM_MAX_NAMES`` names the store's event column is text (the ``wide`` shape): the
    numpy table asks every name (no ENUM to look names up in) and equals the GROUP BY; the whole
    lifecycle equals the one without it (it raised DuckDB's "needs an ENUM" BinderException)."""
    from hourglass.engine import event_store

    log = random_log(33, n=30)
    log.to_parquet(tmp_path / "text.parquet")
    monkeypatch.setattr(event_store, "ENUM_MAX_NAMES", 2)
    write_store(hourglass.events(str(tmp_path / "text.parquet")), tmp_path / "text.duckdb")
    store = str(tmp_path / "text.duckdb")
    with duckdb.connect(store, read_only=True) as con:
        assert con.sql("SELECT typeof(event) FROM hg_events LIMIT 1").fetchall() == [("VARCHAR",)]
    ev = hourglass.events(store)
    k = keyed(ev)
    assert k is not None
    spec = lifecycle_spec("hourglass")
    with bound(ev.engine) as run:
        assert isinstance(run, Bound)
        fast = stage_rows(run, k, spec, BASE)
        assert fast is not None
        got, want = _rows(run, fast), _rows(run, stage_customers(spec, k.table, BASE))
    assert got == want and want
    answers = []
    for on in (True, False):
        monkeypatch.setattr(run_lifecycle, "FIRSTS_ON", on)
        answers.append(_plain(hourglass.lifecycle(store).to_dict()))
    assert answers[0] == answers[1]


def test_the_entries_from_events_in_any_order(stores: dict[str, Path]) -> None:
    """The range's events read in the store's order (by name) take each name's slice; in another
    order, a mask of the names' codes: the same entries (a name in two stages, a name the store has
    not, an empty range)."""
    import numpy as np
    import pyarrow as pa

    from hourglass.engine.range_events import bounds_sql, read_events
    from hourglass.engine.stage_firsts import _firsts_of, store_alias

    ev = hourglass.events(str(stores["2024"]))
    k = keyed(ev)
    assert k is not None
    table = f'"{store_alias(k)}"."hg_events"'
    raw = ev.engine.con.con
    names = stage_firsts.plain_names(lifecycle_spec("hourglass"))
    assert names is not None
    names = [*names, [*names[0], *names[1]], ["no such event"], []]
    for since, until in ((None, None), (BASE + timedelta(days=3), BASE + timedelta(days=30)), (BASE, BASE)):
        read = read_events(raw, table, None, bounds_sql(since, until))
        assert read is not None
        keys, firsts = _firsts_of(read, names)
        order = np.random.default_rng(5).permutation(read[0].num_rows)
        shuffled = read[0].take(pa.array(order, type=pa.int64()))
        e = shuffled.column("e").to_numpy()
        assert len(e) < 2 or not bool(np.all(e[1:] >= e[:-1]))
        keys2, firsts2 = _firsts_of((shuffled, read[1], read[2]), names)
        assert np.array_equal(keys, keys2) and all(map(np.array_equal, firsts, firsts2))
        assert bool(np.all(firsts[-1] == np.iinfo(np.int64).max)) and bool(np.all(firsts[-2] == firsts[-1]))
        empty = since is not None and since == until
        assert len(keys) == 0 if empty else len(keys) > 3, (since, until)


def test_a_lifecycle_reads_its_range_once(stores: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage table and the channels' facts of one range (two connections, two threads) read its
    events once (engine/range_events.py); the answer equals the one with each side's own read."""
    import hourglass.engine.range_events as range_events

    reads: list[str | None] = []
    original = range_events.read_events

    def counting(raw: Any, table: str, column: str | None, bounds: str) -> Any:
        reads.append(column)
        return original(raw, table, column, bounds)

    monkeypatch.setattr(range_events, "read_events", counting)
    r = {"since": "2024-01-03T01:00:00", "until": "2024-02-01"}
    shared = _plain(hourglass.lifecycle(str(stores["2024"]), **r).to_dict())
    assert reads == ["channel"]
    monkeypatch.setattr(stage_firsts, "SHARED_ON", False)
    own = _plain(hourglass.lifecycle(str(stores["2024"]), **r).to_dict())
    assert reads == ["channel", "channel"] and shared == own and shared["channels"]


def test_the_summary_from_the_arrays_equals_duckdbs(
    stores: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """engine/stage_firsts.py: the stage summary from the numpy stage table equals DuckDB's aggregate
    over it bit for bit (counts, and the medians and 90th percentiles as ``quantile_cont``: one
    value, two, none), and the whole lifecycle equals the one with the aggregate."""
    from hourglass.analyses.lifecycle import stage_summary
    from hourglass.engine.bound import built
    from hourglass.engine.stage_firsts import stage_found, stage_summary_of

    ev = hourglass.events(str(stores["2024"]))
    k = keyed(ev)
    spec = lifecycle_spec("hourglass")
    sizes = set()
    for since, until in [*_ranges(9, timedelta(0)), (datetime(2030, 1, 1), None)]:
        sp = dataclasses.replace(spec, since=since, until=until)
        with bound(ev.engine) as run:
            found = stage_found(run, k, sp, datetime(2024, 3, 1))
            assert found is not None
            want = run.rows(built(stage_summary, sp, found[0]))[0]
            got = stage_summary_of(sp, found[1])
        assert got == want, (since, until)
        table = found[1]
        sizes |= {table.column(f"{s.name}_time_s").null_count < table.num_rows for s in spec.model.stages}
    assert sizes == {True, False}
    answers = []
    for on in (True, False):
        monkeypatch.setattr(run_lifecycle, "SUMMARY_ON", on)
        answers.append(_plain(hourglass.lifecycle(str(stores["2024"]), since="2024-01-02").to_dict()))
    assert answers[0] == answers[1]


def test_the_percentiles_are_duckdbs_bit_for_bit() -> None:
    import numpy as np

    from hourglass.engine.stage_firsts import quantiles

    rng = np.random.default_rng(3)
    con = duckdb.connect()
    for n in [1, 2, 3, 10, *rng.integers(4, 3000, 40).tolist()]:
        values = rng.integers(0, 10**9, n) / 1e6 if n % 2 else rng.random(n) * 1e5
        con.execute("CREATE OR REPLACE TABLE v AS SELECT unnest(?::DOUBLE[]) AS x", [values.tolist()])
        want = con.execute("SELECT quantile_cont(x, 0.5), quantile_cont(x, 0.9) FROM v").fetchone()
        assert tuple(quantiles(values, (0.5, 0.9))) == want, n
    assert quantiles(np.empty(0), (0.5, 0.9)) == [None, None]
