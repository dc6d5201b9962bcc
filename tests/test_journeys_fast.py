"""The DuckDB fast path of ``paths`` and ``transitions`` (engine/journeys_fast.py) answers exactly
as the portable Ibis plan (the reference the other journeys tests check): on random logs (ties,
repeats, events outside every stage, a period) and on hand journeys, from a DataFrame and from a
store; and the plan chooser takes the fast path only where it is exact."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import hourglass
from hourglass.engine.journeys_fast import journeys_plan_for
from hourglass.interfaces import journeys_api as hg
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec
from journeys import journeys

BASE = datetime(2024, 1, 1)
NAMES = ["visit", "view", "signup", "pay", "quit"]
MODEL = JourneyModel.from_dict(
    {
        "name": "m",
        "kind": "funnel",
        "stages": [
            {"name": "aware", "events": ["visit"]},
            {"name": "keen", "events": ["view", "signup"]},
            {"name": "sale", "events": ["pay"]},
        ],
    }
)


@contextlib.contextmanager
def portable() -> Iterator[None]:
    before = os.environ.get("HOURGLASS_PLAN")
    os.environ["HOURGLASS_PLAN"] = "portable"
    try:
        yield
    finally:
        if before is None:
            del os.environ["HOURGLASS_PLAN"]
        else:
            os.environ["HOURGLASS_PLAN"] = before


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "meta"}


def _approx(got: Any, want: Any) -> None:
    """Equal, floats to 1e-9 (the medians: the same quantile over the same values)."""
    if isinstance(want, float) and isinstance(got, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (got, want)
        for k, v in want.items():
            _approx(got[k], v)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (got, want)
        for g, w in zip(got, want, strict=True):
            _approx(g, w)
    else:
        assert got == want


def _same(ev: Any, level: str, collapse: bool, depth: int, period: dict[str, Any]) -> None:
    """Paths and transitions of ``ev``: the fast path's answers equal the portable plan's."""
    model = MODEL if level == "stage" else None
    kw: dict[str, Any] = {"level": level, "collapse": collapse, **period}
    got_p = hg.paths(ev, model, depth=depth, top=3, **kw).to_dict()
    got_t = hg.transitions(ev, model, **kw).to_dict()
    with portable():
        want_p = hg.paths(ev, model, depth=depth, top=3, **kw).to_dict()
        want_t = hg.transitions(ev, model, **kw).to_dict()
    assert _plain(got_p) == _plain(want_p)
    _approx(_plain(got_t), _plain(want_t))


@st.composite
def logs(draw: Any) -> dict[str, list[Any]]:
    log: dict[str, list[Any]] = {}
    for c in range(draw(st.integers(1, 6))):
        t = BASE
        events = []
        for _ in range(draw(st.integers(1, 12))):
            t += timedelta(seconds=draw(st.sampled_from([0, 0, 1, 60, 3600])))
            events.append(
                (draw(st.sampled_from(NAMES)), t, {"channel": draw(st.sampled_from([None, "ads"]))})
            )
        log[f"c{c}"] = events
    return log


@settings(max_examples=int(os.environ.get("HOURGLASS_PROPERTY_EXAMPLES", "10")), deadline=None)
@given(logs(), st.sampled_from(["stage", "event"]), st.booleans(), st.integers(1, 8), st.integers(0, 3))
def test_fast_equals_portable_on_random_logs(
    log: dict[str, list[Any]], level: str, collapse: bool, depth: int, cut: int
) -> None:
    note(repr(log))
    ev = hourglass.events(journeys(log, dtypes={"channel": "str"}))
    period = {"since": BASE + timedelta(seconds=cut)} if cut else {}
    _same(ev, level, collapse, depth, period)


HAND = {
    # a tie: 'view' and 'visit' at one time are (view, visit) at the event level (by name) and
    # (aware, keen) at the stage level (by stage); then a run of views
    "ann": [
        *[("view", "2024-01-01 10:00"), ("visit", "2024-01-01 10:00"), ("view", "2024-01-01 11:00")],
        *[("view", f"2024-01-02 0{h}:00") for h in range(6)],
        ("pay", "2024-01-03 10:00"),
    ],
    "ben": [("quit", "2024-01-01 09:00")],  # no stage: absent at the stage level
    "cat": [("visit", "2024-01-01 10:00")],  # one element: a path of one node, an end
    # stages of two events: signup and view are one stage, collapsed into one run at the stage level
    "dan": [
        *[("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 11:00"), ("view", "2024-01-01 12:00")],
        *[("visit", "2024-01-02 10:00"), ("pay", "2024-01-02 10:00"), ("pay", "2024-01-02 10:00")],
    ],
}


@pytest.mark.parametrize("level", ["stage", "event"])
@pytest.mark.parametrize("collapse", [True, False])
def test_fast_equals_portable_on_hand_journeys(level: str, collapse: bool) -> None:
    ev = hourglass.events(journeys(HAND))
    _same(ev, level, collapse, 8, {})
    _same(ev, level, collapse, 2, {"until": datetime(2024, 1, 2, 3)})


def test_hand_journeys_by_hand() -> None:
    """The fast path's own numbers, worked out by hand."""
    ev = hourglass.events(journeys(HAND))
    p = hg.paths(ev, None, level="event", depth=3, top=2).to_dict()
    assert p["customers"] == 4 and p["distinct_paths"] == 4
    assert [(t["path"], t["customers"], t["continued"]) for t in p["top"]] == [
        (["quit"], 1, 0),
        (["view", "visit", "view"], 1, 1),
    ]
    t = hg.transitions(ev, MODEL, level="stage").to_dict()
    edges = {(e["from"], e["to"]): (e["moves"], e["customers"], e["median_time_s"]) for e in t["edges"]}
    # ann: aware (10:00) -> keen (10:00, then her views) -> sale (Jan 3); dan: aware -> keen (11:00)
    # -> aware -> sale (the visit and the pay at one time: aware first; the two pays are one row)
    assert edges == {
        ("aware", "keen"): (2, 2, 1800.0),
        ("keen", "sale"): (1, 1, 172800.0),
        ("keen", "aware"): (1, 1, 82800.0),
        ("aware", "sale"): (1, 1, 0.0),
        ("aware", None): (1, 1, None),
        ("sale", None): (2, 2, None),
    }


def test_fast_equals_portable_on_a_store(tmp_path: Path) -> None:
    csv = tmp_path / "log.csv"
    journeys(HAND).to_csv(csv, index=False)
    store = tmp_path / "log.duckdb"
    hourglass.ingest_store(str(csv), str(store))
    ev = hourglass.events(str(store))
    assert ev.keyed is not None  # the store's integer keys and ENUM codes are read
    for level in ("stage", "event"):
        _same(ev, level, True, 8, {})
        _same(ev, level, False, 3, {"since": datetime(2024, 1, 1, 10, 30)})


def test_the_plan_chooser() -> None:
    ev = hourglass.events(journeys(HAND))
    assert journeys_plan_for(ev, PathsSpec(level="event", depth=5)) == "fast"
    assert journeys_plan_for(ev, TransitionsSpec(level="stage", model=MODEL)) == "fast"
    assert journeys_plan_for(ev, PathsSpec(level="event", depth=5, start="visit")) == "portable"
    assert journeys_plan_for(ev, TransitionsSpec(level="event", by="channel")) == "portable"
    two = JourneyModel.from_dict(
        {
            "name": "g",
            "kind": "funnel",
            "stages": [{"name": "a", "events": ["v*"]}, {"name": "b", "events": ["view"]}],
        }
    )
    assert journeys_plan_for(ev, PathsSpec(level="stage", model=two)) == "portable"
    with portable():
        assert journeys_plan_for(ev, PathsSpec(level="event", depth=5)) == "portable"


def test_the_plan_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOURGLASS_PLAN as the funnel reads it: ``fast`` where the fast path cannot run is HG520,
    an unknown plan HG109."""
    from hourglass.model.errors import HourglassError

    ev = hourglass.events(journeys(HAND))
    monkeypatch.setenv("HOURGLASS_PLAN", "fast")
    assert journeys_plan_for(ev, PathsSpec(level="event", depth=5)) == "fast"
    with pytest.raises(HourglassError, match="an anchor") as got:
        journeys_plan_for(ev, PathsSpec(level="event", depth=5, start="visit"))
    assert got.value.code == "HG520"
    monkeypatch.setenv("HOURGLASS_PLAN", "quick")
    with pytest.raises(HourglassError, match="unknown plan") as got:
        journeys_plan_for(ev, PathsSpec(level="event", depth=5))
    assert got.value.code == "HG109"


def _reference(seq: Any, collapse: bool, depth: int) -> tuple[dict[Any, Any], dict[Any, int]]:
    """Plain Python: the edges (moves, customers, gaps) and the paths (customers) of sorted arrays."""
    new, ts, node = (a.tolist() for a in seq)
    customers: list[list[tuple[int, int]]] = []
    for i, (n, t, v) in enumerate(zip(new, ts, node, strict=True)):
        if n:
            customers.append([])
        if collapse and i and not n and node[i - 1] == v:
            continue
        customers[-1].append((t, v))
    edges: dict[Any, Any] = {}
    paths: dict[Any, int] = {}
    for k, runs in enumerate(customers):
        for j, (t, v) in enumerate(runs):
            to = runs[j + 1][1] if j + 1 < len(runs) else -1
            e = edges.setdefault((v, to), [0, set(), []])
            e[0] += 1
            e[1].add(k)
            if to >= 0:
                e[2].append((runs[j + 1][0] - t) / 1_000_000)
        path = (tuple(v for _, v in runs[:depth]), len(runs) > depth)
        paths[path] = paths.get(path, 0) + 1
    return edges, paths


@pytest.mark.parametrize("names", [5, 300, 70_000])
def test_the_kernels_against_plain_python(names: int) -> None:
    """engine/journeys_seq.py by hand-rolled Python on sorted random arrays: few names (a 16-bit
    edge sort, a path as one integer), hundreds (a 64-bit edge sort; at depth 8 a path as two
    integers) and tens of thousands (edges past 32 bits; a path as three integers); the quantiles
    per edge's slice and, as for a log of very many edges, all at once."""
    import numpy as np

    from hourglass.engine.journeys_seq import seq_paths, seq_transitions

    rng = np.random.default_rng(names)
    m = 3_000
    c = np.sort(rng.integers(0, 400, m))
    ts = rng.integers(0, 50, m) * 1_000_000
    node = np.where(rng.random(m) < 0.3, names - 1, rng.integers(0, min(names, 4), m)).astype(np.int32)
    order = np.lexsort((node, ts, c))
    c, ts, node = c[order], ts[order], node[order]
    new = np.ones(m, dtype=bool)
    new[1:] = c[1:] != c[:-1]
    for collapse in (True, False):
        seq = (new, ts.astype(np.int64), node)
        edges, paths = _reference(seq, collapse, 3)
        got = {(r["node"], r["nxt"]): r for r in seq_transitions(seq, collapse)}
        assert set(got) == set(edges)
        for key, (moves, who, gaps) in edges.items():
            r = got[key]
            assert (r["moves"], r["customers"]) == (moves, len(who))
            if gaps:
                assert r["median_s"] == pytest.approx(float(np.quantile(gaps, 0.5)), rel=1e-9)
                assert r["p90_s"] == pytest.approx(float(np.quantile(gaps, 0.9)), rel=1e-9)
            else:
                assert r["median_s"] is None and key[1] == -1
        for depth in (3, 8):  # 8: a path as several integers past 62 bits (300 and 70,000 names)
            _, paths = _reference(seq, collapse, depth)
            top, totals = seq_paths(seq, collapse, depth, 1_000_000)
            assert totals == {"customers": int(new.sum()), "paths": len({p for p, _ in paths})}
            want: dict[tuple[int, ...], list[int]] = {}
            for (p, more), n in paths.items():
                w = want.setdefault(p + (-1,) * (depth - len(p)), [0, 0])
                w[0] += n
                w[1] += n if more else 0
            cols = [f"p{i}" for i in range(depth)]
            assert {tuple(r[k] for k in cols): [r["customers"], r["continued"]] for r in top} == want
            keys = [(-r["customers"], *(r[k] for k in cols)) for r in top]
            assert keys == sorted(keys)  # customers down, then node by node, a missing node first


def test_many_event_names_fast_equals_portable() -> None:
    """300 event names: the names numbered in name order, joined back (the wide shape's form)."""
    log = {
        f"c{k}": [
            (f"e{(k * 7 + j * 13) % 300:03d}", f"2024-01-01 {j // 60:02d}:{j % 60:02d}")
            for j in range(k % 9 + 1)
        ]
        for k in range(200)
    }
    ev = hourglass.events(journeys(log))
    _same(ev, "event", True, 8, {})
    _same(ev, "event", False, 3, {})


def _padded(integer: bool) -> Any:
    """A log whose raw event names carry blanks (their canonical names are trimmed): several raw
    values of one name, at both levels; integer customers (the keyed table) or text ones."""
    import pandas as pd

    rows = []
    for c, names in enumerate(
        [[" visit", "view ", "pay"], ["visit", "\tview", "view", "visit  "], ["quit "]]
    ):
        for j, name in enumerate(names):
            rows.append(
                {
                    "customer_id": c if integer else f"u{c}",
                    "event": name,
                    "timestamp": BASE + timedelta(hours=j),
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("integer", [True, False])
def test_raw_event_names_fast_equals_portable(integer: bool, tmp_path: Path) -> None:
    """engine/raw_names.py: the stage looked up on the raw values (their distinct values
    canonicalised once) answers as the canonical column does, from a DataFrame and a Parquet file."""
    from hourglass.engine.raw_names import raw_codes_sql, raw_event_table, raw_names

    path = tmp_path / "log.parquet"
    _padded(integer).to_parquet(path)
    for source in (_padded(integer), str(path)):
        ev = hourglass.events(source)
        assert raw_event_table(ev.table) is not None
        got = raw_names(ev, ["visit", "view", "pay", "nope"])
        assert got is not None and got.rows == 8
        assert got.counts == {"visit": 3, "view": 3, "pay": 1}
        assert got.raw == {" visit": "visit", "visit": "visit", "visit  ": "visit", "view ": "view",
                           "\tview": "view", "view": "view", "pay": "pay"}  # fmt: skip
        assert raw_codes_sql(ev) is not None
        for level, collapse in itertools.product(("stage", "event"), (True, False)):
            _same(ev, level, collapse, 8, {})
            _same(ev, level, collapse, 2, {"since": BASE + timedelta(minutes=30)})


def test_the_model_check_from_raw_names() -> None:
    """The model check reads the raw column's distinct values (a stage of no event is a note, none
    at all HG117), as the aggregate over the canonical column did."""
    from hourglass.engine.event_names import check_model_events
    from hourglass.model.errors import SpecError

    ev = hourglass.events(_padded(True))
    model = JourneyModel.from_dict(
        {
            "name": "m",
            "kind": "funnel",
            "stages": [
                {"name": "a", "events": ["visit"]},
                {"name": "b", "events": ["viwe"]},
                {"name": "c", "events": ["pay"]},
            ],
        }
    )
    assert check_model_events(ev, model) == [
        "stage 'b': no event named 'viwe' in the source (did you mean 'view'?)"
    ]
    assert check_model_events(ev, MODEL, exclude=["quit", "nope"]) == [
        "--exclude: no event named 'nope' in the source"
    ]
    with pytest.raises(SpecError, match="matches no event"):
        check_model_events(
            ev,
            JourneyModel.from_dict(
                {"name": "m", "kind": "funnel", "stages": [{"name": "a", "events": ["x"]}]}
            ),
        )


def test_journeys_on_integer_customers() -> None:
    """The journeys' plan reads the keyed events (integer customers) where no output names a
    customer: the same answers as over the customer's text (the means to the last bits)."""
    import dataclasses

    import pandas as pd

    from hourglass.engine.run_journeys import _journey_events, run_journeys
    from hourglass.model.journeys_spec import JourneysSpec

    df = journeys(HAND)
    df["customer"] = df["customer"].map({c: k for k, c in enumerate(sorted(set(df["customer"])))})
    df["channel"] = pd.Series(["ads", None] * len(df))[: len(df)].to_numpy()
    ev = hourglass.events(df)
    for by in (None, "channel"):
        spec = JourneysSpec.build(MODEL, by=by)
        assert _journey_events(ev, spec) is ev.keyed
        got = run_journeys(ev, spec).to_dict()
        want = run_journeys(dataclasses.replace(ev, keyed=None), spec).to_dict()
        _approx(_plain(got), _plain(want))


def test_a_store_of_text_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store of more names than an ENUM holds keeps them as text: the model check and the stage
    level filter its names (its rows are ordered by event), with the portable plan's answers."""
    from hourglass.engine import event_store
    from hourglass.engine.event_names import check_model_events
    from hourglass.engine.raw_names import raw_names

    monkeypatch.setattr(event_store, "ENUM_MAX_NAMES", 2)
    csv = tmp_path / "log.csv"
    journeys(HAND).to_csv(csv, index=False)
    store = tmp_path / "log.duckdb"
    hourglass.ingest_store(str(csv), str(store))
    ev = hourglass.events(str(store))
    assert ev.keyed is not None and ev.codes is None
    got = raw_names(ev, ["visit", "pay", "nope"])
    assert got is not None and got.counts == {"visit": 4, "pay": 3} and got.rows == len(journeys(HAND))
    notes = check_model_events(ev, MODEL, exclude=["nope"])
    assert notes == ["--exclude: no event named 'nope' in the source"]
    for level in ("stage", "event"):
        _same(ev, level, True, 8, {})
        _same(ev, level, False, 3, {"since": datetime(2024, 1, 1, 10, 30)})
