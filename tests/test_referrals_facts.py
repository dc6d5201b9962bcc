"""The referral loop's and the channels' customer facts from a store's events as numpy arrays
(engine/facts_arrays.py) equal the plan's GROUP BY (analyses/referrals.py ``customer_facts`` with the
channel's ``first_value``) customer by customer, and the whole lifecycle (referral loop, channels
with spend, the referral-event mode) equals the one computed without them, on seeded random stores:
tied instants (the channel's tie to the least cleaned text), blank and padded channels, customers
without a sale, self-referrals, ranges whose bounds are events' own instants, a log before 1970."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hourglass
import hourglass.engine.facts_arrays as facts_arrays
import hourglass.engine.range_events as range_events
from hourglass.analyses._match import in_period
from hourglass.analyses.channels import first_value
from hourglass.analyses.referrals import customer_facts
from hourglass.engine.bound import Bound, bound
from hourglass.engine.event_store import write_store
from hourglass.engine.facts_arrays import facts_rows
from hourglass.engine.keyed import keyed
from hourglass.interfaces.lifecycle_api import lifecycle_spec
from hourglass.model.steps import Filter
from test_lifecycle_firsts import SHIFT, _ranges, two_stores
from test_lifecycle_keyed import BASE, _plain, random_log


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("facts")
    out = two_stores(d, (41, 42), 50)
    (d / "spend.csv").write_text(
        "channel,period,cost\nads,2024-01,100\nsearch,2024-01,0\ntv,2024-01,50\nads,2024-02,70\n"
    )
    out["spend"] = d / "spend.csv"
    return out


def _rows(run: Bound, table: Any) -> list[dict[str, Any]]:
    rows = run.rows(table.order_by("customer"))
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def _both(run: Bound, k: Any, since: datetime | None, until: datetime | None) -> tuple[Any, Any, Any]:
    """The facts of the hourglass model's range [since, until) by facts_arrays and by the plan's
    GROUP BY (``customer_facts``), and the range's events."""
    model = lifecycle_spec("hourglass").model
    assert model.sale is not None
    sale, purchase = model.stage(model.sale), model.purchase_step or model.stage(model.sale)
    fast = facts_rows(run, k, k.table, sale, purchase, model.stages, "channel", since, until)
    assert fast is not None
    t = in_period(k.table, since, until)
    reference = customer_facts(t, sale, purchase, model.stages, {"channel": first_value(t, "channel")})
    return fast, reference, t


def _store_of(log: Any, tmp_path: Path, name: str) -> tuple[Any, Any]:
    """``log`` written as a Parquet file and ingested: its events and keyed events."""
    log.to_parquet(tmp_path / f"{name}.parquet")
    write_store(hourglass.events(str(tmp_path / f"{name}.parquet")), tmp_path / f"{name}.duckdb")
    ev = hourglass.events(str(tmp_path / f"{name}.duckdb"))
    k = keyed(ev)
    assert k is not None
    return ev, k


def _close(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    """Equal, revenue sums within 1e-9 (DuckDB's parallel sums differ in the last bits)."""
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        if g.keys() != w.keys():
            return False
        for key in g:
            if isinstance(w[key], float) and isinstance(g[key], float):
                if not math.isclose(g[key], w[key], rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif g[key] != w[key]:
                return False
    return True


@pytest.mark.parametrize(
    ("which", "coded", "shuffled"),
    [
        ("2024", "list", False),
        ("1964", "list", False),
        ("2024", "enum", False),
        ("2024", "", False),
        ("2024", "list", True),
        ("2024", "", True),
    ],
)
def test_the_facts_equal_the_group_by(
    stores: dict[str, Path], which: str, coded: str, shuffled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``coded``: the channel's texts coded by DuckDB (their place in the list of the range's
    texts, or an ENUM of them: more than ``LIST_MAX``), else read as texts (more than
    ``ENUM_MAX`` of them). ``shuffled``: the range's events not in the store's order (by name:
    range_events.by_name sorts them)."""
    if shuffled:
        import numpy as np
        import pyarrow as pa

        read = range_events.read_events

        def shuffling(*args: Any) -> Any:
            events, names, values = read(*args)
            order = np.random.default_rng(len(events)).permutation(len(events))
            return events.take(pa.array(order, type=pa.int64())), names, values

        monkeypatch.setattr(range_events, "read_events", shuffling)
    if not coded:
        monkeypatch.setattr(range_events, "ENUM_MAX", 0)
    if coded == "enum":
        monkeypatch.setattr(range_events, "LIST_MAX", 0)
    ev = hourglass.events(str(stores[which]))
    k = keyed(ev)
    assert k is not None
    shift = SHIFT if which == "1964" else timedelta(0)
    checked = 0
    for since, until in _ranges(17 if which == "2024" else 18, shift):
        with bound(ev.engine) as run:
            assert isinstance(run, Bound)
            fast, reference, _t = _both(run, k, since, until)
            got, want = _rows(run, fast), _rows(run, reference)
            assert list(fast.schema().items()) == list(reference.schema().items())
        assert _close(got, want), (since, until)
        checked += len(want)
    assert checked > 100


def _lifecycles(store: Path, spend: Path, monkeypatch: pytest.MonkeyPatch, on: bool) -> list[Any]:
    monkeypatch.setattr(facts_arrays, "FACTS_ON", on)
    out = []
    for kw in (
        {},
        {"since": "2024-01-02T02:00:00", "until": "2024-01-31", "spend": str(spend)},
        {
            "since": "2024-01-10",
            "referral_options": {"referral_event": "referral_sent", "referee_column": "invitee"},
        },
        {"until": "2023-01-01"},  # no events: no customers
    ):
        out.append(_plain(hourglass.lifecycle(str(store), **kw).to_dict()))  # type: ignore[arg-type]
    return out


def test_the_lifecycle_equals_the_one_without_them(
    stores: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _lifecycles(stores["2024"], stores["spend"], monkeypatch, True)
    slow = _lifecycles(stores["2024"], stores["spend"], monkeypatch, False)
    assert fast == slow
    first = fast[0]
    assert first["referrals"]["self_referrals"] and first["referrals"]["referees"]
    assert {c["channel"] for c in first["channels"]} >= {"ads", "search", "email", None}
    assert first["referrals"]["purchasers"] < first["referrals"]["customers"]


def test_a_filter_or_a_glob_keeps_the_group_by(stores: dict[str, Path]) -> None:
    ev = hourglass.events(str(stores["2024"]))
    k = keyed(ev)
    model = lifecycle_spec("hourglass").model
    first = model.stages[0]
    for stage in (
        dataclasses.replace(first, where=(Filter("device", "==", "mobile"),)),
        dataclasses.replace(first, events=("vis*",)),
    ):
        stages = (stage, *model.stages[1:])
        with bound(ev.engine) as run:
            assert facts_rows(run, k, k.table, stage, stage, stages, "channel", None, None) is None
    with bound(ev.engine, allowed=False) as run:  # no Bound run
        assert facts_rows(run, k, k.table, first, first, model.stages, "channel", BASE, None) is None
    with bound(ev.engine) as run:  # a channel column that is not text: the GROUP BY
        assert facts_rows(run, k, k.table, first, first, model.stages, "revenue", None, None) is None


def test_a_range_before_1970_ends_in_1964(stores: dict[str, Path]) -> None:
    """A sanity check of the 1964 store: its events are before 1970 (negative µs)."""
    ev = hourglass.events(str(stores["1964"]))
    last = ev.engine.execute(ev.table.timestamp.max())
    assert last < datetime(1970, 1, 1)


@pytest.mark.parametrize(("which", "kept"), [("2024", False), ("1964", False), ("2024", True)])
def test_the_referrers_equal_the_plans_joins(stores: dict[str, Path], which: str, kept: bool) -> None:
    """engine/referrers_arrays.py: the chosen referrer (earliest claim by another, ties to the least
    text), self-referrals, referrers outside the range or the log, their first purchase, referees.
    ``kept``: the store's referrers' keys looked up once per loaded source (``owner``), else each
    range's claims joined with the customers."""
    from hourglass.analyses.channels import channel_plan
    from hourglass.engine.facts_arrays import customers_found, facts_arrow
    from hourglass.model.channels import ChannelSpec
    from hourglass.model.referrals import ReferralSpec

    ev = hourglass.events(str(stores[which]))
    k = keyed(ev)
    assert k is not None
    model = lifecycle_spec("hourglass").model
    assert model.sale is not None
    sale, purchase = model.stage(model.sale), model.purchase_step or model.stage(model.sale)
    shift = SHIFT if which == "1964" else timedelta(0)
    seen = {"self": 0, "referrer": 0, "outside": 0}
    for since, until in _ranges(27 if which == "2024" else 28, shift):
        spec = ChannelSpec("channel", None, since, until)
        with bound(ev.engine) as run:
            assert isinstance(run, Bound)
            found = facts_arrow(
                ev.engine.con, k, k.table, sale, purchase, model.stages, "channel", since, until
            )
            assert found is not None
            plan = channel_plan(spec, k.table, model, sale, None, ReferralSpec(), k.ids, True)
            owner = ev.report if kept else None
            answered = customers_found(run, k, found[0], plan.customers, False, since, until, owner)
            assert answered is not None
            fast = answered[0]
            got, want = _rows(run, fast), _rows(run, plan.customers)
            assert list(fast.schema().items()) == list(plan.customers.schema().items())
        assert _close(got, want), (since, until)
        seen["self"] += sum(r["is_self"] for r in want)
        seen["referrer"] += sum(r["referrer"] is not None for r in want)
        seen["outside"] += sum(r["raw_referrer"] is not None and r["referrer"] is None for r in want)
    assert all(seen.values()), seen


@pytest.mark.parametrize(("nul", "listed"), [(False, True), (False, False), (True, True)])
def test_channel_texts_with_quotes_case_and_accents(
    tmp_path: Path, nul: bool, listed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The channel's codes among the range's texts (engine/range_events.py ``read_events``: ``listed``
    their place in the list, else an ENUM of them): a quote, texts equal but for case or padding,
    an accent, a blank, a text that is only spaces, none; ties on the first instant to the least
    cleaned text in byte order. ``nul``: texts with a NUL byte too (SQL text cannot hold one: the
    texts read as texts; was a ParserException)."""
    if not listed:
        monkeypatch.setattr(range_events, "LIST_MAX", 0)
    log = random_log(43, n=40)
    texts = ["it's", "Ads", "ads", " ads", "émail", "", "   ", None, "o''k", "\\x"]
    texts += ["a\x00b", "\x00"] if nul else []
    log["channel"] = [texts[i % len(texts)] for i in range(len(log))]
    ev, k = _store_of(log, tmp_path, "q")
    for since, until in ((None, None), (BASE + timedelta(days=1), BASE + timedelta(days=30))):
        with bound(ev.engine) as run:
            assert isinstance(run, Bound)
            fast, reference, _t = _both(run, k, since, until)
            got, want = _rows(run, fast), _rows(run, reference)
        assert _close(got, want), (since, until)
        assert {r["channel"] for r in got} >= {"it's", "Ads", "ads"}


def test_a_log_whose_every_event_has_a_channel(tmp_path: Path) -> None:
    """Every event tagged (the simulated shop's kind): the least time among the events with a
    channel is the first event's (facts_arrays reads it from the first events' minimum); ties at
    that time still go to the least text."""
    log = random_log(44, n=50)
    texts = ["ads", "search", "Email", "tv"]
    log["channel"] = [texts[(i * 7 + len(str(c))) % 4] for i, c in enumerate(log["customer_id"])]
    ev, k = _store_of(log, tmp_path, "tagged")
    tied = 0
    for since, until in [(None, None), *_ranges(19, timedelta(0))]:
        with bound(ev.engine) as run:
            assert isinstance(run, Bound)
            fast, reference, t = _both(run, k, since, until)
            assert _close(_rows(run, fast), _rows(run, reference)), (since, until)
            at = t.mutate(first=t.timestamp.min().over(group_by=t.customer))
            at = at.filter(at.timestamp == at.first)
            firsts = at.group_by("customer").aggregate(n=at.channel.nunique())
            tied += sum(1 for r in run.rows(firsts) if r["n"] > 1)
    assert tied > 0  # customers with several channels at their first instant
