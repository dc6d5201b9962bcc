"""The hourglass on integer customer keys (engine/keyed.py) equals the same analyses on the decoded
events (the portable plan, the reference): a store's keys (some customers heavy, so keys are not in
id order), and a Parquet file whose customer ids are integers. Seeded random logs with external
referrers, self-referrals, referral cycles, tied timestamps and every after-sale event."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import hourglass
import hourglass.engine.keyed as keyed_module
from hourglass.engine import fastpath_heavy
from hourglass.engine.event_store import write_store
from hourglass.engine.keyed import keyed
from hourglass.engine.run_referrals import run_referrals
from hourglass.model.presets import preset

EVENTS = [
    "visit", "ad_click", "signup", "webinar", "demo", "purchase", "purchase", "repeat_purchase",
    "review", "referral_sent", "return", "cancel", "support_contact", "support_resolved",
    "delivery_late", "complaint", "offer_sent", "offer_redeemed", "loyalty_join",
]  # fmt: skip
BASE = datetime(2024, 1, 1)


def random_log(seed: int, n: int = 60, integer_ids: bool = False) -> pd.DataFrame:
    rnd = random.Random(seed)
    ids = [str(100 + i) if integer_ids else f"u{i:02d}" for i in range(n)]
    rows: list[dict[str, Any]] = []
    for i, cid in enumerate(ids):
        for _ in range(rnd.randint(1, 12 if i % 7 else 30)):  # every 7th customer is "heavy"
            rows.append(
                {
                    "customer_id": int(cid) if integer_ids else cid,
                    "event": rnd.choice(EVENTS),
                    "timestamp": BASE
                    + timedelta(days=rnd.choice([0, 0, 1, 3, 9, 30, 45]), hours=rnd.choice([0, 2])),
                    "referrer": rnd.choice([None] * 6 + [rnd.choice(ids), cid, "outsider", " "]),
                    "invitee": rnd.choice([None, None, rnd.choice(ids), cid, "stranger"]),
                    "channel": rnd.choice([None, "ads", "search", " email ", ""]),
                    "revenue": rnd.choice([None, 5.0, 12.5]),
                    "offer": rnd.choice([None, "A", "B"]),
                    "device": rnd.choice(["mobile", "desktop"]),
                }
            )
    return pd.DataFrame(rows)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if k not in ("seconds", "source", "engine")}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 9)
    return x


def _without_keys(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """Turn the keyed path off (the portable plan on the decoded events) or back on."""
    if on:
        monkeypatch.undo()
    else:
        for mod in ("run_lifecycle", "run_referrals"):
            monkeypatch.setattr(f"hourglass.engine.{mod}.keyed", lambda _events, _reads=(): None)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("keyed")
    text = random_log(3)
    text.to_parquet(d / "text.parquet")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastpath_heavy, "HEAVY_EVENTS", 15)  # some customers heavy: keyed last, not by id
        write_store(hourglass.events(str(d / "text.parquet")), d / "store.duckdb")
    random_log(4, integer_ids=True).to_parquet(d / "int.parquet")
    return {"store": str(d / "store.duckdb"), "int": str(d / "int.parquet")}


def test_the_keys_are_used(sources: dict[str, str]) -> None:
    store = hourglass.events(sources["store"])
    k = keyed(store)
    assert k is not None and k.table.customer.type().is_integer()
    ids = store.engine.execute(k.ids.order_by("key"))
    assert list(ids["id"]) != sorted(ids["id"])  # the heavy customers' keys come last
    assert keyed(hourglass.events(sources["int"])) is not None
    assert keyed(store, ["device", "customer"]) is None  # a breakdown or filter on the customer
    assert keyed_module.keyed(hourglass.events(random_log(1))) is None  # text ids in memory


@pytest.mark.parametrize("which", ["store", "int"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"since": "2024-01-02", "until": "2024-02-01", "by": "device"},
        {"by": "customer"},  # reads the customer itself: the ids, never the keys (engine/keyed.py)
        {
            "as_of": "2024-01-20",
            "referral_options": {"referral_event": "referral_sent", "referee_column": "invitee"},
        },
    ],
)
def test_lifecycle_equals_the_portable_plan(
    sources: dict[str, str],
    which: str,
    kwargs: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,period,cost\nads,2024-01,100\nsearch,2024-01,0\nemail,2024-02,30\n")
    got, tables = [], []
    for on in (True, False):
        _without_keys(monkeypatch, on)
        out = tmp_path / f"stages-{on}.csv"
        r = hourglass.lifecycle(sources[which], spend=str(spend), customers=str(out), **kwargs)
        got.append(_plain(r.to_dict()))
        tables.append(pd.read_csv(out))
    assert got[0] == got[1]
    assert got[0]["referrals"]["referees"] > 0 and got[0]["referrals"]["top_referrers"]
    pd.testing.assert_frame_equal(tables[0], tables[1])


@pytest.mark.parametrize("which", ["store", "int"])
@pytest.mark.parametrize("by_event", [False, True])
def test_referrals_equal_the_portable_plan(
    sources: dict[str, str], which: str, by_event: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    options: dict[str, Any] = {"top": 50, "max_depth": 3, "period": "week"}
    if by_event:
        options.update(referral_event="referral_sent", referee_column="invitee")
    got = []
    for on in (True, False):
        _without_keys(monkeypatch, on)
        got.append(
            _plain(run_referrals(hourglass.events(sources[which]), preset("hourglass"), **options).to_dict())
        )
    assert got[0] == got[1]
    assert got[0]["referees"] > 0 and got[0]["self_referrals"] > 0
    assert by_event or got[0]["external_referrers"] > 0


def test_stage_table_is_decoded(sources: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    frames = []
    for on in (True, False):
        _without_keys(monkeypatch, on)
        t = hourglass.lifecycle_table(sources["store"], since="2024-01-02")
        frames.append(t.to_pandas().sort_values("customer", ignore_index=True))
    assert frames[0]["customer"].str.startswith("u").all()
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_a_channel_cells_customers_on_the_keys(
    sources: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hourglass.interfaces.dashboard import load_source
    from hourglass.interfaces.dashboard.people_view import channel_table
    from hourglass.interfaces.dashboard.query import PageQuery

    src = load_source(sources["store"])
    q = PageQuery(since="2024-01-02")
    frames = []
    for on in (True, False):
        if not on:
            monkeypatch.setattr("hourglass.interfaces.dashboard.people_view.keyed", lambda _e, _r=(): None)
        _, table = channel_table(src, q, lambda _n, _k, compute: compute())
        frames.append(table.sort_values("customer", ignore_index=True))
    assert frames[0]["customer"].str.startswith("u").all() and frames[0]["channel"].notna().any()
    pd.testing.assert_frame_equal(frames[0], frames[1], check_dtype=False)
