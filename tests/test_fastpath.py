"""The DuckDB fast path (engine/fastpath.py): when it is chosen, and that it gives the reference's
(and so the portable plan's) numbers: random logs it can answer, and hand-checked journeys run on
both plans."""

from __future__ import annotations

import contextlib
import copy
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

import hourglass
from hourglass.analyses.funnel_closed import overlap_groups
from hourglass.engine import fastpath_scan, funnel_scan, grouping, scan_kernel
from hourglass.engine.fastpath import fast_funnel_sql, plan_for
from hourglass.engine.load import Events
from hourglass.engine.run import run_funnel
from hourglass.interfaces.store_api import ingest
from hourglass.model.errors import SpecError, UnsupportedError
from hourglass.model.spec import FunnelSpec
from hourglass.model.steps import Step
from journeys import journeys
from reference import funnel_ref as ref
from test_funnel_properties import (
    DTYPES,
    EVENT_NAMES,
    FILTERS,
    SETTINGS,
    Case,
    _moment,
    assert_same,
    check,
    event_logs,
    forced_plan,
    not_measured,
    rows,
)

#: "scan": the fast path with the sequential-scan plan on any size of log (engine/fastpath_scan.py)
PLANS = ["fast", "scan", "portable"]

# ------------------------------------------------------------------------------------------
# Random logs the fast path answers (distinct steps, no exclusions, ordered, closed)
# ------------------------------------------------------------------------------------------

_NON_NAMES = ["vi?it", "?ay", "p*", "qu*", "v*"]


@st.composite
def fast_cases(draw: st.DrawFn) -> Case:
    window_s = draw(st.sampled_from([1, 2, 3, 5]))
    names = draw(st.permutations(EVENT_NAMES))[: draw(st.integers(1, 4))]
    ref_steps: list[Any] = []
    engine_steps: list[Any] = []
    for i, name in enumerate(names):
        kind = draw(st.integers(0, 5))
        if kind <= 2:
            ref_steps.append(name)
            engine_steps.append(name)
            continue
        events = [name] if kind == 3 else [draw(st.sampled_from(_NON_NAMES))]
        step: dict[str, Any] = {"name": f"s{i + 1}", "events": events}
        ref_step = dict(step)
        if draw(st.booleans()):
            f_ref, f_text = draw(st.sampled_from(FILTERS))
            ref_step["where"], step["where"] = [f_ref], [f_text]
        ref_steps.append(ref_step)
        engine_steps.append(step)
    spec_steps = [Step.of(s) for s in engine_steps]
    assume(all(len(g) == 1 for g in overlap_groups(spec_steps)))
    vocabulary = [
        [n for n in EVENT_NAMES if any(ref.glob_matches(p, n) for p in ref.make_step(s).patterns)]
        for s in ref_steps
    ]
    case = Case(draw(event_logs(window_s, vocabulary)), ref_steps, engine_steps, window_s=window_s)
    _draw_range(draw, case)
    _draw_by(draw, case, [None, None, "channel", "plan", "revenue"])
    return case


def _draw_range(draw: st.DrawFn, case: Case) -> None:
    """Half the time, an entry range (--since/--until) around the log's first windows."""
    if draw(st.booleans()):
        bound = st.builds(_moment, st.integers(0, 3 * case.window_s), st.sampled_from([0, 1]))
        since, until = draw(st.none() | bound), draw(st.none() | bound)
        if since is not None and until is not None and since >= until:
            since, until = until, (since if since != until else None)
        case.since, case.until = since, until


def _draw_by(draw: st.DrawFn, case: Case, choices: list[str | None]) -> None:
    """A --by column; its value is made equal on tied events of one name (as in
    test_funnel_properties: ties with different values are undefined)."""
    case.by = draw(st.sampled_from(choices))
    if case.by is not None:
        for events in case.log.values():
            seen: dict[Any, Any] = {}
            for name, ts, props in events:
                props[case.by] = seen.setdefault((name, ts), props[case.by])


@SETTINGS
@given(fast_cases())
def test_fast_path_matches_reference(case: Case) -> None:
    meta = check(case, "fast")
    assert meta["plan"] == "fast"


@SETTINGS
@given(fast_cases(), st.booleans())
def test_open_fast_path_matches_reference(case: Case, bounded: bool) -> None:
    # engine/fastpath_open.py: the same logs as open funnels (no --by), with and without a range
    case.open, case.by = True, None
    if not bounded:
        case.since = case.until = None
    meta = check(case, "fast")
    assert meta["plan"] == "fast"


#: names that need quoting in SQL, and names a store may not have
_ODD_NAMES = ["it's", "caf\u00e9 \u2615", 'say "hi"']
_ABSENT = ["nosuch", "nope"]


@st.composite
def store_cases(draw: st.DrawFn) -> Case:
    """Steps of 1-3 plain names each (some needing quotes, some absent from the log): the store's
    own reading of each step's rows (engine/fastpath.py), with --by, a range, or --open."""
    window_s = draw(st.sampled_from([1, 2, 3, 5]))
    pool = draw(st.permutations(EVENT_NAMES + _ODD_NAMES + _ABSENT))
    steps: list[Any] = []
    i = 0
    for k in range(draw(st.integers(1, 4))):
        if i >= len(pool):  # every name used: no step may be empty
            break
        size = draw(st.integers(1, 3))
        steps.append({"name": f"s{k + 1}", "events": list(pool[i : i + size])})
        i += size
    vocabulary = [[x for x in s["events"] if x not in _ABSENT] for s in steps]
    case = Case(draw(event_logs(window_s, vocabulary)), steps, steps, window_s=window_s)
    _draw_range(draw, case)
    if draw(st.booleans()):
        case.open = True
    else:
        _draw_by(draw, case, [None, "channel", "plan", "revenue"])
    return case


@SETTINGS
@given(fast_cases() | store_cases(), st.booleans())
def test_fast_path_on_a_store_matches_reference(case: Case, open_funnel: bool) -> None:
    # a store (engine/event_store.py) is read by the fast path from its own layout: each step's rows
    # by their ENUM code, dense integer keys, integer µs (the store's SQL in engine/fastpath.py)
    if open_funnel:
        case.open, case.by = True, None
    note(case.repro())
    df = journeys(case.log, dtypes=DTYPES)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "store.duckdb")
        ingest(df, path)
        with forced_plan("fast"):
            got = hourglass.funnel(path, case.engine_steps, window=case.window_s, **case.options()).to_dict()
    assert got.pop("meta")["plan"] == "fast"
    want = ref.funnel(rows(df), case.ref_steps, case.window_s * 1_000_000, **case.options())
    assert_same(got, not_measured(want, got, rows(df), case))


# ------------------------------------------------------------------------------------------
# Which plan runs
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> Events:
    df = journeys({"a": [("visit", "2024-01-01 10:00"), ("pay", "2024-01-01 11:00")]})
    return hourglass.events(df)


@pytest.mark.parametrize(
    ("steps", "options"),
    [
        (["visit", "pay"], {}),
        (["visit"], {}),
        ([{"name": "v", "events": ["vi*"]}, "pay"], {"by": "customer", "since": "2024-01-01"}),
        (["visit", {"name": "p", "events": ["pay"], "where": ["revenue > 0"]}], {}),
        (["visit", "pay"], {"open": True}),
        (["visit", "pay"], {"open": True, "since": "2024-01-01", "until": "2024-02-01"}),
    ],
)
def test_fast_path_is_chosen_for_eligible_specs(
    small: Any, steps: list[Any], options: dict[str, Any]
) -> None:
    spec = FunnelSpec.build(steps, **options)
    assert plan_for(small, spec) == "fast"


@pytest.mark.parametrize(
    ("steps", "options"),
    [
        (["visit", "pay"], {"mode": "strict_order"}),
        (["visit", "pay"], {"mode": "any_order"}),
        (["visit", "pay"], {"exclude": ["quit"]}),
        (["visit", "pay"], {"open": True, "exclude": ["quit"]}),
        (["visit", "pay", "pay"], {"open": True}),
        (["visit", "pay", "pay"], {}),  # one event matches steps 2 and 3
        ([{"name": "v", "events": ["v*"]}, "visit"], {}),
        ([{"name": "a", "events": ["v*"]}, {"name": "b", "events": ["p*"]}], {}),  # conservative
    ],
)
def test_portable_plan_for_the_rest(small: Any, steps: list[Any], options: dict[str, Any]) -> None:
    spec = FunnelSpec.build(steps, **options)
    assert plan_for(small, spec) == "portable"
    with pytest.raises(UnsupportedError) as err:
        plan_for(small, spec, "fast")
    assert err.value.code == "HG520"


def test_portable_can_be_forced(small: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = FunnelSpec.build(["visit", "pay"])
    assert plan_for(small, spec, "portable") == "portable"
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    assert plan_for(small, spec) == "portable"
    assert run_funnel(small, spec).meta["plan"] == "portable"
    monkeypatch.setenv("HOURGLASS_PLAN", "fastest")
    with pytest.raises(SpecError):
        plan_for(small, spec)


def test_other_engines_never_take_the_fast_path(small: Any) -> None:
    class Spark:
        name = "spark"

    other = Events(small.table, Spark(), small.report)  # type: ignore[arg-type]
    assert plan_for(other, FunnelSpec.build(["visit", "pay"])) == "portable"


def test_fast_sql_wraps_the_canonical_expression(small: Any) -> None:
    sql = fast_funnel_sql(small, FunnelSpec.build(["visit", "pay"]))
    canonical = small.engine.con.compile(small.table)
    assert canonical in sql  # the validated, trimmed events, not the raw source
    assert "OVER" not in sql.upper().replace(canonical.upper(), "")  # no window function of its own


# ------------------------------------------------------------------------------------------
# Hand-checked journeys, on both plans
# ------------------------------------------------------------------------------------------


def run(df: pd.DataFrame, steps: list[Any], plan: str, **options: Any) -> hourglass.FunnelResult:
    with forced_plan("fast" if plan == "scan" else plan), scan_plan(plan == "scan"):
        result = hourglass.funnel(df, steps, **options)
    assert result.meta["plan"] == ("fast" if plan == "scan" else plan)
    return result


def counts(result: hourglass.FunnelResult) -> list[int]:
    return [s.customers for s in result.steps]


def medians(result: hourglass.FunnelResult) -> list[float | None]:
    return [s.median_time_s for s in result.steps]


@pytest.mark.parametrize("plan", PLANS)
def test_semantics_example(plan: str) -> None:
    # docs/semantics.md: the first visit's chains die at the window; from the second, signup after
    # 3 h, purchase 47 h later is outside 1 day: level 2, time visit -> signup 10 800 s
    df = journeys(
        {
            "alice": [
                ("visit", "2024-01-01 10:00"),
                ("visit", "2024-01-03 09:00"),
                ("signup", "2024-01-03 12:00"),
                ("purchase", "2024-01-05 08:00"),
            ]
        }
    )
    res = run(df, ["visit", "signup", "purchase"], plan, window="1d")
    assert counts(res) == [1, 1, 0]
    assert medians(res) == [None, 10_800.0, None]


@pytest.mark.parametrize("plan", PLANS)
def test_ties_window_edge_and_duplicates(plan: str) -> None:
    df = journeys(
        {
            # signup at the visit's own second: after it in canonical order (step index breaks the tie)
            "ann": [("signup", "2024-01-01 10:00"), ("visit", "2024-01-01 10:00")],
            # the window is inclusive: exactly one day later still counts
            "bob": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-02 10:00")],
            # one microsecond too late
            "cy": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-02 10:00:00.000001")],
            # duplicate step-1 events count once; the later signup is not needed
            "dee": [
                ("visit", "2024-01-01 10:00"),
                ("visit", "2024-01-01 10:00"),
                ("signup", "2024-01-01 12:00"),
                ("signup", "2024-01-01 13:00"),
            ],
            # signup before any visit: level 1
            "eve": [("signup", "2024-01-01 09:00"), ("visit", "2024-01-01 10:00")],
        }
    )
    res = run(df, ["visit", "signup"], plan, window="1d")
    assert counts(res) == [5, 3]
    # times: ann 0 s, bob 86 400 s, dee 7 200 s
    assert res.steps[1].median_time_s == 7_200.0
    assert res.steps[1].p90_time_s == pytest.approx(7_200 + 0.8 * (86_400 - 7_200))


@pytest.mark.parametrize("plan", PLANS)
def test_best_chain_is_the_earliest_entry_of_the_highest_level(plan: str) -> None:
    df = journeys(
        {
            "ann": [
                ("visit", "2024-01-01 00:00", {"channel": "ads"}),  # level 2 only
                ("signup", "2024-01-01 01:00"),
                ("visit", "2024-01-03 00:00", {"channel": "email"}),  # level 3: the best chain
                ("signup", "2024-01-03 02:00"),
                ("pay", "2024-01-03 05:00"),
                ("visit", "2024-01-03 04:00", {"channel": "search"}),  # level 2, later entry
            ],
            "bob": [("visit", "2024-01-01 00:00", {"channel": "ads"})],  # level 1: his entry's value
        }
    )
    res = run(df, ["visit", "signup", "pay"], plan, window="1d", by="channel")
    groups = {g.value: [s.customers for s in g.steps] for g in res.groups}
    assert groups == {"email": [1, 1, 1], "ads": [1, 0, 0]}
    email = next(g for g in res.groups if g.value == "email")
    assert [s.median_time_s for s in email.steps] == [None, 7_200.0, 10_800.0]


@pytest.mark.parametrize("plan", PLANS)
def test_tied_entries_take_the_canonically_first_value(plan: str) -> None:
    # two step-1 events at the same time: the entry is the smaller event name, then the smaller
    # value with NULL last (docs/semantics.md, canonical order with --by)
    df = journeys(
        {
            "ann": [
                ("web_visit", "2024-01-01 10:00", {"channel": "ads"}),
                ("app_visit", "2024-01-01 10:00", {"channel": "search"}),
                ("pay", "2024-01-01 11:00"),
            ],
            "bob": [
                ("visit", "2024-01-01 10:00", {"channel": None}),
                ("visit", "2024-01-01 10:00", {"channel": "zz"}),
            ],
        }
    )
    steps = [{"name": "visit", "events": ["web_visit", "app_visit", "visit"]}, "pay"]
    res = run(df, steps, plan, window="1d", by="channel")
    groups = {g.value: [s.customers for s in g.steps] for g in res.groups}
    assert groups == {"search": [1, 1], "zz": [1, 0]}


@pytest.mark.parametrize("plan", PLANS)
def test_tied_entries_of_one_event_name_take_the_smallest_value(plan: str) -> None:
    # step 1 is one event name: the fast path takes min(value) (NULL only when every value is NULL)
    df = journeys(
        {
            "ann": [  # the best chain's entry (level 2)
                ("visit", "2024-01-01 10:00", {"channel": None}),
                ("visit", "2024-01-01 10:00", {"channel": "zz"}),
                ("visit", "2024-01-01 10:00", {"channel": "search"}),
                ("pay", "2024-01-01 11:00"),
            ],
            "bob": [  # level 1: his earliest entry
                ("visit", "2024-01-01 09:00", {"channel": "zz"}),
                ("visit", "2024-01-01 09:00", {"channel": None}),
                ("visit", "2024-01-01 08:00", {"channel": "yy"}),
                ("visit", "2024-01-01 08:00", {"channel": "xx"}),
            ],
            "cy": [("visit", "2024-01-01 10:00", {"channel": None}), ("visit", "2024-01-01 10:00")],
        }
    )
    res = run(df, ["visit", "pay"], plan, window="1d", by="channel")
    groups = {g.value: [s.customers for s in g.steps] for g in res.groups}
    assert groups == {"search": [1, 1], "xx": [1, 0], None: [1, 0]}


@pytest.mark.parametrize("plan", PLANS)
def test_entry_range(plan: str) -> None:
    df = journeys(
        {
            # the entry must be in [since, until); later steps may fall after until
            "ann": [("visit", "2024-01-02 23:00"), ("signup", "2024-01-03 01:00")],
            "bob": [("visit", "2024-01-01 23:00"), ("signup", "2024-01-02 01:00")],
            "cy": [("visit", "2024-01-03 00:00"), ("signup", "2024-01-03 01:00")],
        }
    )
    res = run(df, ["visit", "signup"], plan, window="1d", since="2024-01-02", until="2024-01-03")
    assert counts(res) == [1, 1]


@pytest.mark.parametrize("plan", PLANS)
def test_nobody_at_step_one(plan: str) -> None:
    df = journeys({"ann": [("signup", "2024-01-01 10:00")]})
    res = run(df, ["visit", "signup"], plan, window="1d")
    assert counts(res) == [0, 0]
    assert res.steps[1].median_time_s is None
    by = run(df, ["visit", "signup"], plan, window="1d", by="event")
    assert by.groups == ()


@pytest.mark.parametrize("plan", PLANS)
def test_integer_customer_ids(plan: str, tmp_path: Path) -> None:
    # integer ids: the fast path groups by the integer; the canonical customer is its text
    df = journeys(
        {
            "1": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 11:00")],
            "22": [("visit", "2024-01-01 10:00")],
            "-3": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 10:30")],
        }
    )
    df["customer"] = df["customer"].astype("int64")
    path = tmp_path / "ints.parquet"
    df.to_parquet(path)
    ev = hourglass.events(str(path))
    assert ev.keyed is not None
    with forced_plan("fast" if plan == "scan" else plan), scan_plan(plan == "scan"):
        res = hourglass.funnel(ev, ["visit", "signup"], window="1d", by="customer")
    assert {g.value: g.steps[1].customers for g in res.groups} == {"1": 1, "22": 0, "-3": 1}
    with forced_plan("fast" if plan == "scan" else plan), scan_plan(plan == "scan"):
        plain = hourglass.funnel(ev, ["visit", "signup"], window="1d")
    assert counts(plain) == [3, 2]
    assert plain.steps[1].median_time_s == pytest.approx(2_700.0)


def test_demo_parity_between_plans(demo_parquet: Path) -> None:
    ev = hourglass.events(str(demo_parquet))
    cases: list[dict[str, Any]] = [
        {"steps": ["visit", "signup", "purchase", "repeat_purchase"], "window": "30d"},
        {"steps": ["visit", "signup", "purchase"], "window": "30d", "by": "channel"},
        {"steps": ["visit", "purchase"], "window": "30d", "since": "2024-02-01", "until": "2024-04-01"},
        {
            "steps": [{"name": "big", "events": ["purchase"], "where": ["revenue > 50"]}, "review"],
            "window": "60d",
        },
        {"model": "hourglass", "window": "60d"},
    ]
    used = set()
    for case in cases:
        results = {}
        for plan in ("auto", "portable"):
            with forced_plan(plan):
                r = hourglass.funnel(ev, **case)
            results[plan] = r
            used.add(r.meta["plan"])
        assert_same(results["auto"].rows(), results["portable"].rows())
        assert results["portable"].steps[0].customers > 50
    assert used == {"fast", "portable"}


# ------------------------------------------------------------------------------------------
# Validation from Parquet statistics (engine/load.py)
# ------------------------------------------------------------------------------------------


def _parquet(tmp_path: Path, name: str, df: pd.DataFrame) -> str:
    path = tmp_path / name
    df.to_parquet(path, row_group_size=2)
    return str(path)


def test_clean_parquet_is_validated_from_its_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hourglass.engine.load as load

    df = journeys(
        {"a": [("visit", "2024-01-01 10:00"), ("pay", "2024-01-01 11:00")], "b": [("x", "2024-01-02")]}
    )
    path = _parquet(tmp_path, "ok.parquet", df)
    eng = hourglass.connect()
    parsed = load._open(eng, path, hourglass.ColumnMapping(), None)
    assert load._from_parquet_statistics(eng, *parsed) == {
        "rows": 3,
        "HG401": 0,
        "HG402": 0,
        "HG403": 0,
        "HG404": 0,
        "HG412": 0,  # the footers' minimum and maximum times are in 1900-2200
    }
    fast = hourglass.validate(path)
    monkeypatch.setattr(load, "_from_parquet_statistics", lambda *a: None)
    assert hourglass.validate(path) == fast


@pytest.mark.parametrize(
    ("value", "code"),
    [(" ", "HG402"), ("", "HG402"), ("\t\n", "HG402"), (None, "HG402")],
)
def test_blank_or_null_values_are_still_found(tmp_path: Path, value: Any, code: str) -> None:
    df = journeys({"a": [("visit", "2024-01-01 10:00"), ("pay", "2024-01-01 11:00"), ("x", "2024-01-02")]})
    df.loc[2, "event"] = value
    report = hourglass.validate(_parquet(tmp_path, "bad.parquet", df))
    assert [p.code for p in report.problems] == [code]
    assert report.problems[0].samples[0][0] == 3


def test_null_integer_customers_are_still_found(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "customer": pd.array([1, None, 3], dtype="Int64"),
            "event": ["visit", "visit", "pay"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )
    report = hourglass.validate(_parquet(tmp_path, "nulls.parquet", df))
    assert [(p.code, p.count) for p in report.problems] == [("HG401", 1)]


# ------------------------------------------------------------------------------------------
# The sequential-scan plan (engine/fastpath_scan.py, engine/funnel_scan.py; issue 18)
# ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def scan_plan(on: bool, key_bits: int | None = None) -> Iterator[None]:
    """The closed funnel without --by on the scan plan (``on``) or the greedy joins; ``key_bits``:
    a smaller key budget, so that the customers are taken in many ranges."""
    before = fastpath_scan.SCAN, fastpath_scan.SCAN_MIN_ROWS, fastpath_scan.SCAN_FILES, grouping.KEY_BITS
    fastpath_scan.SCAN, fastpath_scan.SCAN_MIN_ROWS, fastpath_scan.SCAN_FILES = on, 0, True
    if key_bits is not None:
        grouping.KEY_BITS = key_bits
    try:
        yield
    finally:
        fastpath_scan.SCAN, fastpath_scan.SCAN_MIN_ROWS, fastpath_scan.SCAN_FILES, grouping.KEY_BITS = before


@settings(max_examples=20, deadline=None, print_blob=True)
@given(fast_cases() | store_cases(), st.booleans(), st.sampled_from([None, 0, 40]))
def test_scan_plan_matches_reference(case: Case, store: bool, key_bits: int | None) -> None:
    # the scan plan on a file and a store, with the customers in one key range or in many (a key
    # budget below the times' bits: one customer per range); the joins are run on the same case too
    case.open, case.by = False, None
    note(case.repro())
    df = journeys(case.log, dtypes=DTYPES)
    want = ref.funnel(rows(df), case.ref_steps, case.window_s * 1_000_000, **case.options())
    with tempfile.TemporaryDirectory() as tmp:
        source: Any = df
        if store:
            source = str(Path(tmp) / "store.duckdb")
            ingest(df, source)
        for on in (True, False):
            with scan_plan(on, key_bits), forced_plan("fast"):
                got = hourglass.funnel(source, case.engine_steps, window=case.window_s, **case.options())
            got_dict = got.to_dict()
            assert got_dict.pop("meta")["plan"] == "fast"
            assert_same(got_dict, not_measured(copy.deepcopy(want), got_dict, rows(df), case))


def test_scan_plan_is_the_rule_for_large_closed_funnels_without_by(
    small: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    calls: list[str] = []
    real = fastpath_scan.run_scan

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("store" if kwargs.get("steps_sql") is not None else "file")
        return real(*args, **kwargs)

    monkeypatch.setattr(fastpath_scan, "run_scan", spy)
    store = str(tmp_path / "store.duckdb")
    ingest(journeys({"a": [("visit", "2024-01-01 10:00"), ("pay", "2024-01-01 11:00")]}), store)
    hourglass.funnel(small, ["visit", "pay"])
    hourglass.funnel(store, ["visit", "pay"])
    assert calls == []  # a small log: the joins (no numpy on a small file's path, issue 11)
    monkeypatch.setattr(fastpath_scan, "SCAN_MIN_ROWS", 1)
    hourglass.funnel(small, ["visit", "pay"])
    assert calls == ["file"]  # a file too (fastpath_scan.SCAN_FILES: less CPU than the joins on every shape)
    hourglass.funnel(store, ["visit", "pay"])
    assert calls == ["file", "store"]
    for source in (small, store):
        hourglass.funnel(source, ["visit", "pay"], by="event")
        hourglass.funnel(source, ["visit", "pay"], open=True)
    assert calls == ["file", "store"]  # --by and --open keep the joins


@given(
    st.lists(st.integers(0, 50), max_size=60).map(sorted),
    st.lists(st.integers(0, 50), max_size=200).map(sorted),
)
def test_next_key_by_counting_equals_searchsorted(keys: list[int], queries: list[int]) -> None:
    k, q = np.array(keys, dtype=np.int64), np.array(queries, dtype=np.int64)
    assert scan_kernel._next(k, q).tolist() == np.searchsorted(k, q, side="left").tolist()


def test_steps_out_of_order_are_put_in_order() -> None:
    # a customer's times out of order within a step (a step of several names), customers out of
    # order (an older store): the same row as from the sorted arrays
    codes = np.array([2, 0, 2, 0, 1, 1])
    ts = np.array([50, 9, 20, 3, 7, 1])
    step2 = (np.array([0, 2, 1]), np.array([10, 30, 8]))
    shuffled = funnel_scan.funnel_scan([funnel_scan.sorted_by_code(codes, ts), step2], 15)
    order = np.lexsort((ts, codes))
    ordered = funnel_scan.funnel_scan([(codes[order], ts[order]), step2], 15)
    assert shuffled == ordered
    assert (shuffled["c1"], shuffled["c2"], shuffled["med2"]) == (3, 3, 1e-6 * 7)


def test_the_scan_on_a_store_imports_no_pandas(tmp_path: Path) -> None:
    # a fresh process's funnel on a store: DuckDB's Arrow fetch imported pandas (~0.27 s of a 0.1 s
    # query on the 10M store); fetchnumpy does not
    store = str(tmp_path / "store.duckdb")
    ingest(journeys({"a": [("visit", "2024-01-01 10:00"), ("pay", "2024-01-01 11:00")]}), store)
    code = (
        "import sys, hourglass\n"
        "from hourglass.engine import fastpath_scan\n"
        "fastpath_scan.SCAN_MIN_ROWS = 1\n"
        "calls = []\n"
        "real = fastpath_scan.run_scan\n"
        "fastpath_scan.run_scan = lambda *a, **k: calls.append(1) or real(*a, **k)\n"
        f"rows = hourglass.funnel({store!r}, ['visit', 'pay']).rows()\n"
        "print(calls, [r['customers'] for r in rows], 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[1]", "[1,", "1]", "False"]
