"""Property test: the lifecycle engine against tests/reference/lifecycle_ref.py on random logs.

Logs: 1-5 customers, 1-9 events each from an alphabet that hits every stage and after-sale list,
times on a coarse grid (ties are common) around the window edges, offers with nulls, revenue with
nulls, random since/until and windows. Each example runs ~10 small queries, so examples are few;
HOURGLASS_PROPERTY_EXAMPLES raises them."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from hourglass.engine import connect
from hourglass.engine.load import load_events
from hourglass.engine.run_lifecycle import run_lifecycle
from hourglass.model.after_sale import AfterSale, missing_blocks
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.schema import ColumnMapping
from journeys import journeys, rows
from reference.lifecycle_ref import Settings, after_sale_ref

EXAMPLES = max(5, int(os.environ.get("HOURGLASS_PROPERTY_EXAMPLES", "150")) // 6)
T0 = datetime(2024, 1, 1)
STAGES = [["visit"], ["signup", "trial_start"], ["purchase"], ["repeat_purchase", "loyalty_join", "review"]]
MODEL = JourneyModel.from_dict(
    {
        "name": "m",
        "kind": "hourglass",
        "stages": [{"name": f"s{k}", "events": names} for k, names in enumerate(STAGES)],
        "sale": "s2",
        "purchases": ["purchase", "repeat_purchase"],
    }
)
ALPHABET = [
    "visit",
    "signup",
    "trial_start",
    "purchase",
    "purchase",
    "repeat_purchase",
    "return",
    "complaint",
    "support_contact",
    "support_resolved",
    "offer_sent",
    "offer_redeemed",
    "loyalty_join",
    "review",
    "other",
]
HOURS = st.sampled_from([0, 0, 6, 12, 23, 24, 25, 48, 72])


@st.composite
def logs(draw: st.DrawFn) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for c in range(draw(st.integers(1, 5))):
        t = T0 + timedelta(hours=draw(st.integers(0, 48)))
        events = []
        for _ in range(draw(st.integers(1, 9))):
            t += timedelta(hours=draw(HOURS))
            props: dict[str, Any] = {
                "offer": draw(st.sampled_from(["A", "B", None])),
                "revenue": draw(st.sampled_from([None, 1.0, 2.5, 10.0])),
            }
            events.append((draw(st.sampled_from(ALPHABET)), t.isoformat(sep=" "), props))
        out[f"c{c}"] = events
    return out


WINDOW = st.sampled_from([None, 24, 48])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    log=logs(),
    since_h=st.sampled_from([None, 24, 60]),
    until_h=st.sampled_from([None, 120, 200]),
    repeat_h=WINDOW,
    gap_h=WINDOW,
    remorse_h=st.sampled_from([12, 24, 48]),
    offer_h=st.sampled_from([12, 24, 72]),
)
def test_lifecycle_matches_reference(
    log: dict[str, list[Any]],
    since_h: int | None,
    until_h: int | None,
    repeat_h: int | None,
    gap_h: int | None,
    remorse_h: int,
    offer_h: int,
) -> None:
    frame = journeys(log, dtypes={"offer": "object", "revenue": "float64"})
    since = None if since_h is None else T0 + timedelta(hours=since_h)
    until = None if until_h is None else T0 + timedelta(hours=until_h)
    after = {
        "repeat_within": None if repeat_h is None else f"{repeat_h}h",
        "gap_within": None if gap_h is None else f"{gap_h}h",
        "remorse_within": f"{remorse_h}h",
        "offer_within": f"{offer_h}h",
        "negative_events": ["return", "complaint"],
    }
    spec = LifecycleSpec.build(MODEL, since=since, until=until, after_sale=after)
    note(f"log={log} spec={spec.describe()}")
    cfg = Settings(
        stages=STAGES,
        sale=2,
        purchases=["purchase", "repeat_purchase"],
        since=since,
        until=until,
        negative=["return", "complaint"],
        gap_within_s=None if gap_h is None else gap_h * 3600,
        remorse_within_s=remorse_h * 3600,
        offer_within_s=offer_h * 3600,
        repeat_within_s=None if repeat_h is None else repeat_h * 3600,
    )
    want = after_sale_ref(cfg, rows(frame))
    ev = load_events(connect("duckdb"), frame, ColumnMapping())
    got = run_lifecycle(ev, spec)
    ws = want["stages"]
    assert got.customers == ws["customers"]
    for s, w in zip(got.stages, ws["stages"], strict=True):
        assert (s.entered, s.furthest, s.current, s.continued) == (
            w["entered"],
            w["furthest"],
            w["current"],
            w["continued"],
        ), s.stage
        assert (
            s.median_time_s == pytest.approx(w["median"])
            if w["median"] is not None
            else s.median_time_s is None
        )
        assert s.p90_time_s == pytest.approx(w["p90"]) if w["p90"] is not None else s.p90_time_s is None
    # not measured is not zero: a block whose events are not in the range is None, with the reason
    present = {
        r["event"]
        for r in rows(frame)
        if (since is None or r["timestamp"] >= since) and (until is None or r["timestamp"] < until)
    }
    missing = missing_blocks(spec.after_sale, present, where="in the range")
    a = got.after_sale
    if "purchase" not in present:  # nobody entered the sale stage: no after-sale metrics at all
        assert a is None and "no purchasers" in got.reasons["after_sale"]
        return
    assert a is not None and set(a.missing) == set(missing)
    _check_after_sale(a, want, missing)


def _check_after_sale(a: AfterSale, want: dict[str, Any], missing: dict[str, str]) -> None:
    wp = want["purchases"]
    p = a.purchases
    assert (p.all_purchasers, p.purchasers, p.repeaters, p.purchases) == (
        wp["all_purchasers"],
        wp["purchasers"],
        wp["repeaters"],
        wp["purchases"],
    )
    for n, count, median in p.nth_days:
        wc, wm = wp["nth"][n]
        assert count == wc
        assert median == pytest.approx(wm) if wm is not None else median is None
    assert (a.remorse is None) == ("remorse" in missing)
    if a.remorse is not None:
        assert (a.remorse.k, a.remorse_events) == (want["remorse"]["customers"], want["remorse"]["events"])
    assert (a.support is None) == ("support" in missing)
    if a.support is not None:
        _check_support(a.support, want["support"])
    assert (a.negative is None) == ("experience_gap" in missing)
    if a.negative is not None:
        _check_gap(a, want["gap"])
    if "win_back" not in missing:
        assert {o.offer: (o.sent, o.redeemed, o.returned) for o in a.offers} == want["offers"]
    assert (a.loyalty is None) == ("loyalty" in missing)
    if a.loyalty is not None:
        _check_loyalty(a.loyalty, want["loyalty"])


def _check_support(support: Any, ws_: dict[str, Any]) -> None:
    assert (support.contacts, support.customers, support.resolved) == (
        ws_["contacts"],
        ws_["customers"],
        ws_["resolved"],
    )
    if ws_["median"] is None:
        assert support.median_resolve_s is None
    else:
        assert support.median_resolve_s == pytest.approx(ws_["median"])


def _check_gap(a: AfterSale, g: dict[str, Any]) -> None:
    assert a.negative is not None and a.recovered is not None
    assert a.repeat_negative is not None and a.repeat_positive is not None
    assert (a.negative.k, a.recovered.k) == (g["negative"], g["recovered"])
    assert (a.repeat_negative.n, a.repeat_negative.k) == (g["obs_neg"], g["rep_neg"])
    assert (a.repeat_positive.n, a.repeat_positive.k) == (g["obs_pos"], g["rep_pos"])


def _check_loyalty(lo: Any, wl: dict[Any, Any]) -> None:
    assert (lo.members, lo.member_repeaters, lo.others, lo.other_repeaters) == (
        wl[True][0],
        wl[True][1],
        wl[False][0],
        wl[False][1],
    )
    assert lo.member_revenue == pytest.approx(wl[True][2])
    assert lo.other_revenue == pytest.approx(wl[False][2])
