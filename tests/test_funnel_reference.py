"""Hand-checked journeys for the reference funnel (tests/reference/funnel_ref.py) alone.

Every expected number below is worked out by hand from docs/semantics.md, with a one-line reason.
The property tests then hold the engine to this reference.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from journeys import journeys, rows
from reference.funnel_ref import (
    canonical_events,
    customer_results,
    filter_holds,
    funnel,
    funnel_levels,
    glob_matches,
    make_step,
    open_customer_results,
    quantile,
    wilson,
)

S = 1_000_000  # one second in microseconds
M = 60 * S
H = 60 * M
D = 24 * H

VPS = ["visit", "signup", "purchase"]
VP = ["visit", "purchase"]


def levels(spec: dict[str, list[Any]], steps: list[Any], window: int, **options: Any) -> dict:
    return funnel_levels(rows(journeys(spec)), steps, window, **options)


def result(spec: dict[str, list[Any]], steps: list[Any], window: int, **options: Any) -> dict:
    return funnel(rows(journeys(spec)), steps, window, **options)


def best(spec: dict[str, list[Any]], steps: list[Any], window: int, **options: Any) -> dict:
    return customer_results(rows(journeys(spec)), steps, window, **options)


def column(res: dict, key: str) -> list[Any]:
    return [s[key] for s in res["steps"]]


# --------------------------------------------------------------------------------------
# The fixture builder
# --------------------------------------------------------------------------------------


def test_journeys_builds_the_canonical_frame():
    df = journeys(
        {
            "alice": [
                ("visit", "2024-01-01 10:00"),
                (
                    "purchase",
                    "2024-01-02 09:00:00.000001",
                    {"revenue": 20.0, "channel": "ads"},
                ),
            ],
            "bob": [("visit", datetime(2024, 1, 1, 8))],
        }
    )
    assert list(df.columns) == ["customer", "event", "timestamp", "revenue", "channel"]
    assert str(df["timestamp"].dtype) == "datetime64[us]"
    # missing string property -> None
    assert df["channel"].tolist() == [None, "ads", None]
    data = rows(df)
    # microseconds survive
    assert data[1]["timestamp"] == datetime(2024, 1, 2, 9, 0, 0, 1)
    assert data[0]["revenue"] is None and data[1]["revenue"] == 20.0  # NaN -> None
    assert data[2] == {
        "customer": "bob",
        "event": "visit",
        "timestamp": datetime(2024, 1, 1, 8),
        "revenue": None,
        "channel": None,
    }


def test_journeys_empty_and_forced_dtypes():
    df = journeys({"alice": []}, dtypes={"revenue": "float64", "channel": "object"})
    assert len(df) == 0  # a customer without events has no rows
    assert str(df["revenue"].dtype) == "float64" and str(df["channel"].dtype) == "object"


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


def test_glob_patterns():
    assert glob_matches("page_*", "page_")  # * may be empty
    assert glob_matches("page_*", "page_pricing")
    assert not glob_matches("page_*", "pagex")  # the underscore is literal
    assert glob_matches("vi?it", "visit")  # ? is exactly one character
    assert not glob_matches("vi?it", "viit")
    assert not glob_matches("vi?it", "visiit")
    assert glob_matches("*", "anything")
    assert not glob_matches("visit", "visits")  # a pattern matches the whole name


def test_filters_on_null_never_hold():
    for op, value in [
        ("==", "ads"),
        ("!=", "ads"),
        (">", 0),
        ("<=", 0),
        ("in", ["ads"]),
        ("not_in", ["ads"]),
    ]:
        # NULL: no filter holds, not even != / not_in
        assert not filter_holds(None, op, value)
    assert filter_holds("search", "not_in", ["ads"])
    assert filter_holds(0.0, ">=", 0)
    assert not filter_holds(0.0, ">", 0)


def test_canonical_order():
    data = rows(
        journeys(
            {
                "c": [
                    # matches no step: last of its timestamp
                    ("zzz", "2024-01-01 10:00"),
                    ("view", "2024-01-01 10:00"),  # first step 1, mask 0b11
                    ("purchase", "2024-01-01 10:00"),  # first step 3
                    ("visit", "2024-01-01 10:00"),  # first step 1, mask 0b01
                    ("aaa", "2024-01-01 10:00"),  # no step; name sorts before zzz
                    ("purchase", "2024-01-01 09:59"),  # earliest timestamp first
                ]
            }
        )
    )
    steps = [
        make_step({"name": "look", "events": ["visit", "view"]}),
        make_step({"name": "view", "events": ["view"]}),
        make_step("purchase"),
    ]
    order = [e.name for e in canonical_events(data, steps, frozenset())]
    assert order == ["purchase", "visit", "view", "purchase", "aaa", "zzz"]


def test_wilson_interval_numbers():
    low, high = wilson(5, 10)
    # the textbook value
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson(0, 10)
    assert low == pytest.approx(0.0, abs=1e-15)  # p = 0: the interval starts at 0
    # z^2/n / (1 + z^2/n) = 0.38415 / 1.38415
    assert high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(10, 10)
    assert (low, high) == pytest.approx((0.7225, 1.0), abs=1e-4)  # mirror image of 0/10
    assert wilson(1, 1) == pytest.approx((0.2065, 1.0), abs=1e-4)  # 1 / (1 + z^2)
    assert wilson(3, 0) == (None, None)  # no trials: no interval


def test_quantiles_linear_interpolation():
    assert quantile([10, 20, 30, 40, 100], 0.5) == 30  # the middle value
    # h=3.6: 40 + 0.6 * 60
    assert quantile([10, 20, 30, 40, 100], 0.9) == pytest.approx(76)
    assert quantile([5, 15], 0.5) == 10  # halfway
    assert quantile([5, 15], 0.9) == pytest.approx(14)  # 5 + 0.9 * 10
    assert quantile([7], 0.9) == 7  # one value is every quantile
    assert quantile([], 0.5) is None


# --------------------------------------------------------------------------------------
# Ordered funnel
# --------------------------------------------------------------------------------------

WORKED_EXAMPLE = {
    "alice": [
        ("visit", "2024-01-01 10:00"),
        ("visit", "2024-01-03 09:00"),
        ("signup", "2024-01-03 12:00"),
        ("purchase", "2024-01-05 08:00"),
    ]
}


def test_worked_example_from_semantics():
    # purchase 47 h after the 2nd visit
    assert levels(WORKED_EXAMPLE, VPS, D) == {"alice": 2}
    alice = best(WORKED_EXAMPLE, VPS, D)["alice"]
    # entry: the second visit
    assert alice.entry.row["timestamp"] == datetime(2024, 1, 3, 9)
    assert alice.times == (10800.0,)  # visit -> signup: 3 h
    res = result(WORKED_EXAMPLE, VPS, D)
    assert column(res, "customers") == [1, 1, 0]
    assert column(res, "dropped") == [0, 0, 1]
    assert column(res, "conversion_from_first") == [1.0, 1.0, 0.0]
    # step 1 has no previous step: null
    assert column(res, "median_time_from_previous_s") == [None, 10800.0, None]
    assert column(res, "p90_time_from_previous_s") == [None, 10800.0, None]


def test_window_edge_is_inclusive_to_the_microsecond():
    on_edge = {"a": [("visit", "2024-01-01 10:00"), ("purchase", "2024-01-01 11:00")]}
    past_edge = {"a": [("visit", "2024-01-01 10:00"), ("purchase", "2024-01-01 11:00:00.000001")]}
    assert levels(on_edge, VP, H) == {"a": 2}  # exactly 1 h: inside (inclusive)
    assert levels(past_edge, VP, H) == {"a": 1}  # 1 h + 1 µs: outside
    assert levels(past_edge, VP, H + 1) == {"a": 2}  # a 1 µs wider window takes it back


def test_ties_are_ordered_by_step_index_not_input_order():
    spec = {"a": [("purchase", "2024-01-01 10:00"), ("visit", "2024-01-01 10:00")]}
    # visit (step 1) sorts before purchase (step 2)
    assert levels(spec, VP, H) == {"a": 2}
    assert best(spec, VP, H)["a"].times == (0.0,)  # same timestamp: 0 s
    assert levels(spec, ["purchase", "visit"], H) == {"a": 2}  # and the other way round


def test_ties_between_multi_matching_events_use_the_bit_mask():
    steps = [
        {"name": "look", "events": ["visit", "view"]},
        {"name": "view", "events": ["view"]},
    ]
    spec = {"a": [("view", "2024-01-01 10:00"), ("visit", "2024-01-01 10:00")]}
    assert levels(spec, steps, H) == {"a": 2}  # visit (mask 01) before view (mask 11)


def test_one_event_matching_two_steps_is_used_once():
    steps = [{"name": "anything", "events": ["*"]}, "purchase"]
    one = {"a": [("purchase", "2024-01-01 10:00")]}
    two = {"a": [("purchase", "2024-01-01 10:00"), ("purchase", "2024-01-01 10:00")]}
    assert levels(one, steps, H) == {"a": 1}  # the one purchase cannot be both steps
    assert levels(two, steps, H) == {"a": 2}  # two events at one timestamp are distinct


def test_repeated_steps():
    steps = ["visit", "purchase", "purchase"]
    one = {"a": [("visit", "2024-01-01 10:00"), ("purchase", "2024-01-01 10:10")]}
    two = {"a": [*one["a"], ("purchase", "2024-01-01 10:20")]}
    tied = {"a": [*one["a"], ("purchase", "2024-01-01 10:10")]}
    assert levels(one, steps, H) == {"a": 2}  # one purchase is step 2 only
    assert levels(two, steps, H) == {"a": 3}  # the second purchase is step 3
    assert best(two, steps, H)["a"].times == (600.0, 600.0)  # 10 min, then 10 min
    # two purchases at the same time are distinct
    assert levels(tied, steps, H) == {"a": 3}
    assert best(tied, steps, H)["a"].times == (600.0, 0.0)  # the second one 0 s later


def test_best_chain_is_earliest_entry_then_greedy():
    spec = {
        "a": [
            ("visit", "2024-01-01 10:00"),
            ("visit", "2024-01-01 10:30"),
            ("signup", "2024-01-01 11:00"),
            ("signup", "2024-01-01 12:00"),
            ("purchase", "2024-01-01 13:00"),
        ]
    }
    a = best(spec, VPS, D)["a"]
    assert a.level == 3
    # earliest entry of level 3
    assert a.entry.row["timestamp"] == datetime(2024, 1, 1, 10)
    # greedy: the 11:00 signup, then the 13:00 purchase
    assert a.times == (3600.0, 7200.0)


def test_level_chain_needs_later_entry():
    # the earliest visit reaches only level 1 (signup 25 h later); the best chain starts later
    spec = {
        "a": [
            ("visit", "2024-01-01 08:00"),
            ("visit", "2024-01-02 08:00"),
            ("signup", "2024-01-02 09:00"),
        ]
    }
    a = best(spec, VPS, D)["a"]
    assert a.level == 2 and a.entry.row["timestamp"] == datetime(2024, 1, 2, 8)
    assert a.times == (3600.0,)


def test_steps_with_globs_and_filters():
    steps = [
        {"name": "landing", "events": ["page_*", "home"]},
        {
            "name": "paid",
            "events": ["purchase"],
            "where": [("revenue", ">", 0), ("channel", "in", ["ads", "search"])],
        },
    ]
    t1, t2 = "2024-01-01 10:00", "2024-01-01 10:05"
    spec = {
        "alice": [
            ("page_pricing", t1),
            ("purchase", t2, {"revenue": 20.0, "channel": "ads"}),
        ],
        "bob": [("home", t1), ("purchase", t2, {"revenue": 0.0, "channel": "ads"})],
        "carol": [("pagex", t1), ("purchase", t2, {"revenue": 5.0, "channel": "ads"})],
        "dan": [("page_", t1), ("purchase", t2, {"revenue": 5.0})],
        "erin": [("page_a", t1), ("purchase", t2, {"channel": "search"})],
        "frank": [("home", t1), ("purchase", t2, {"revenue": 5.0, "channel": "email"})],
    }
    assert levels(spec, steps, H) == {
        "alice": 2,  # both filters hold
        "bob": 1,  # revenue 0 is not > 0
        "carol": 0,  # "pagex" is not "page_*"
        "dan": 1,  # channel NULL: the in-filter does not hold
        "erin": 1,  # revenue NULL: revenue > 0 does not hold
        "frank": 1,  # email is not in [ads, search]
    }


def test_no_customer_reaches_step_one():
    res = result({"a": [("purchase", "2024-01-01 10:00")]}, VP, H)
    assert column(res, "customers") == [0, 0]
    assert column(res, "conversion_from_first") == [None, None]  # 0/0 is null
    assert column(res, "conversion_from_previous_low") == [None, None]
    assert column(res, "dropped") == [0, 0]


def test_dropped_conversions_and_quantiles():
    t0 = "2024-01-01 10:00"
    gaps = {"a": 10, "b": 20, "c": 30, "d": 40, "e": 100}  # visit -> signup, seconds
    spec: dict[str, list[Any]] = {}
    for customer, gap in gaps.items():
        spec[customer] = [
            ("visit", t0),
            ("signup", f"2024-01-01 10:{gap // 60:02d}:{gap % 60:02d}"),
        ]
    spec["a"].append(("purchase", "2024-01-01 10:00:15"))  # 5 s after a's signup
    spec["b"].append(("purchase", "2024-01-01 10:00:35"))  # 15 s after b's signup
    spec["f"] = [("visit", t0)]  # never signs up
    res = result(spec, VPS, D)
    assert column(res, "customers") == [6, 5, 2]
    assert column(res, "dropped") == [0, 1, 3]  # 6-5, 5-2
    assert column(res, "conversion_from_first") == pytest.approx([1.0, 5 / 6, 2 / 6])
    assert column(res, "conversion_from_previous") == pytest.approx([1.0, 5 / 6, 2 / 5])
    assert res["steps"][2]["conversion_from_previous_low"] == pytest.approx(
        wilson(2, 5)[0]
    )  # interval of 2 out of 5
    # middle of 10,20,30,40,100
    assert res["steps"][1]["median_time_from_previous_s"] == 30.0
    # 40 + 0.6 * 60
    assert res["steps"][1]["p90_time_from_previous_s"] == pytest.approx(76.0)
    # halfway between 5 and 15
    assert res["steps"][2]["median_time_from_previous_s"] == 10.0
    # 5 + 0.9 * 10
    assert res["steps"][2]["p90_time_from_previous_s"] == pytest.approx(14.0)


def test_wilson_fields_in_output():
    spec = {c: [("visit", "2024-01-01 10:00")] for c in "abcdefghij"}
    for c in "abcde":
        spec[c].append(("purchase", "2024-01-01 10:30"))
    step2 = result(spec, VP, H)["steps"][1]
    assert step2["conversion_from_first"] == 0.5  # 5 of 10
    assert step2["conversion_from_first_low"] == pytest.approx(0.2366, abs=1e-4)
    assert step2["conversion_from_first_high"] == pytest.approx(0.7634, abs=1e-4)
    assert step2["conversion_from_previous_low"] == pytest.approx(0.2366, abs=1e-4)
    step1 = result(spec, VP, H)["steps"][0]
    assert step1["conversion_from_first"] == 1.0  # step 1: 10 of 10
    assert step1["conversion_from_first_low"] == pytest.approx(0.7225, abs=1e-4)


# --------------------------------------------------------------------------------------
# strict_order and any_order
# --------------------------------------------------------------------------------------


def test_strict_order_broken_by_unrelated_event_then_second_chance():
    broken = {
        "a": [
            ("visit", "2024-01-01 10:00"),
            ("page", "2024-01-01 10:05"),  # matches no step, but counts for adjacency
            ("purchase", "2024-01-01 10:10"),
        ]
    }
    # page breaks the chain
    assert levels(broken, VP, H, mode="strict_order") == {"a": 1}
    assert levels(broken, VP, H) == {"a": 2}  # ordered mode does not care
    again = {
        "a": [
            *broken["a"],
            ("visit", "2024-01-01 12:00"),
            ("purchase", "2024-01-01 12:05"),
        ]
    }
    # a later visit is a new chance
    assert levels(again, VP, H, mode="strict_order") == {"a": 2}
    a = best(again, VP, H, mode="strict_order")["a"]
    assert a.entry.row["timestamp"] == datetime(2024, 1, 1, 12) and a.times == (300.0,)


def test_strict_order_non_matching_event_at_same_time_sorts_last():
    spec = {
        "a": [
            ("visit", "2024-01-01 10:00"),
            ("aaa", "2024-01-01 10:00"),  # same time as visit, matches no step
            ("purchase", "2024-01-01 10:01"),
        ]
    }
    # at 10:00 the order is visit, aaa: aaa sits between visit and purchase
    assert levels(spec, VP, H, mode="strict_order") == {"a": 1}
    tied = {
        "a": [
            ("visit", "2024-01-01 10:00"),
            ("aaa", "2024-01-01 10:00"),
            ("purchase", "2024-01-01 10:00"),
        ]
    }
    # all at 10:00: visit, purchase, aaa (non-matching last) -> adjacent
    assert levels(tied, VP, H, mode="strict_order") == {"a": 2}


def test_any_order_reversed():
    spec = {"a": [("purchase", "2024-01-01 10:00"), ("visit", "2024-01-01 10:30")]}
    assert levels(spec, VP, H, mode="any_order") == {"a": 2}  # both within one hour
    assert levels(spec, VP, H) == {"a": 1}  # ordered: the purchase precedes the visit
    res = result(spec, VP, H, mode="any_order")
    # undefined in any_order
    assert column(res, "median_time_from_previous_s") == [None, None]
    far = {"a": [("purchase", "2024-01-01 10:00"), ("visit", "2024-01-01 11:00:00.000001")]}
    assert levels(far, VP, H, mode="any_order") == {"a": 1}  # 1 µs beyond the window


def test_any_order_repeated_step_needs_distinct_events():
    steps = ["visit", "purchase", "purchase"]
    one = {"a": [("purchase", "2024-01-01 10:00"), ("visit", "2024-01-01 10:10")]}
    two = {"a": [*one["a"], ("purchase", "2024-01-01 10:20")]}
    # one purchase covers one step
    assert levels(one, steps, H, mode="any_order") == {"a": 2}
    # two purchases cover both
    assert levels(two, steps, H, mode="any_order") == {"a": 3}


def test_any_order_entry_and_breakdown():
    spec = {
        "a": [
            ("purchase", "2024-01-01 10:00", {"channel": "ads"}),
            ("visit", "2024-01-01 10:30", {"channel": "search"}),
        ]
    }
    a = best(spec, VP, H, mode="any_order")["a"]
    # the earliest window reaching level 2 starts at the purchase (it matches a step)
    assert a.entry.row["event"] == "purchase"
    res = result(spec, VP, H, mode="any_order", by="channel")
    assert [g["value"] for g in res["groups"]] == ["ads"]


def test_any_order_window_stays_in_its_epoch():
    spec = {
        "a": [
            ("purchase", "2024-01-01 10:00"),
            ("logout", "2024-01-01 10:30"),
            ("visit", "2024-01-01 10:45"),
        ]
    }
    assert levels(spec, VP, H, mode="any_order") == {"a": 2}  # without exclusion
    # the window from the purchase does not see the visit of the next epoch
    assert levels(spec, VP, H, mode="any_order", exclude=["logout"]) == {"a": 1}


# --------------------------------------------------------------------------------------
# Entry range and exclusion epochs
# --------------------------------------------------------------------------------------


def test_since_until_apply_to_the_entry_only():
    spec = {
        "alice": [("visit", "2024-01-01 23:00"), ("purchase", "2024-01-02 09:00")],
        "bob": [("visit", "2023-12-31 23:00"), ("purchase", "2024-01-01 09:00")],
        "carol": [("visit", "2024-01-02 00:00"), ("purchase", "2024-01-02 01:00")],
        "dan": [("visit", "2024-01-01 00:00"), ("purchase", "2024-01-01 01:00")],
        "erin": [
            ("visit", "2023-12-31 23:00"),
            ("visit", "2024-01-01 08:00"),
            ("purchase", "2024-01-01 09:00"),
        ],
    }
    rng = {"since": datetime(2024, 1, 1), "until": datetime(2024, 1, 2)}
    assert levels(spec, VP, D, **rng) == {
        "alice": 2,  # entry in range; the purchase after until still counts
        "bob": 0,  # entry before since
        "carol": 0,  # entry exactly at until: excluded (until is exclusive)
        "dan": 2,  # entry exactly at since: included
        "erin": 2,  # the second visit is in range
    }
    erin = best(spec, VP, D, **rng)["erin"]
    assert erin.entry.row["timestamp"] == datetime(2024, 1, 1, 8) and erin.times == (3600.0,)
    # since alone
    assert levels(spec, VP, D, since=datetime(2024, 1, 1, 12))["alice"] == 2
    assert levels(spec, VP, D, until=datetime(2024, 1, 1))["bob"] == 2  # until alone


def test_exclusion_epochs():
    spec = {
        "alice": [
            ("visit", "2024-01-01 10:00"),
            ("logout", "2024-01-01 11:00"),
            ("purchase", "2024-01-01 11:00"),
        ],
        "bob": [
            ("visit", "2024-01-01 10:00"),
            ("logout", "2024-01-01 10:00"),
            ("purchase", "2024-01-01 11:00"),
        ],
        "carol": [
            ("visit", "2024-01-01 10:00"),
            ("logout", "2024-01-01 10:30"),
            ("purchase", "2024-01-01 11:00"),
            ("visit", "2024-01-01 12:00"),
            ("purchase", "2024-01-01 13:00"),
        ],
        "dan": [
            ("logout", "2024-01-01 09:00"),
            ("visit", "2024-01-01 10:00"),
            ("purchase", "2024-01-01 11:00"),
        ],
    }
    assert levels(spec, VP, D, exclude=["logout"]) == {
        "alice": 1,  # logout at exactly the purchase's time: t(a) < t(x) <= t(b) breaks
        "bob": 2,  # logout at exactly the visit's time: does not break
        "carol": 2,  # broken first, then a whole chain in the next epoch
        "dan": 2,  # a logout before everything: all events share epoch 1
    }
    carol = best(spec, VP, D, exclude=["logout"])["carol"]
    assert carol.entry.row["timestamp"] == datetime(2024, 1, 1, 12)
    # without --exclude the logout is just an event
    assert levels(spec, VP, D)["alice"] == 2


def test_excluded_event_may_not_be_a_step():
    with pytest.raises(ValueError):
        levels({"a": [("visit", "2024-01-01 10:00")]}, VP, D, exclude=["visit"])


def test_excluded_event_matches_no_step_even_under_a_glob():
    # '*' would match quit, but an excluded event matches nothing: quit only breaks the chain,
    # so a's best chain is the single 'pay' -> level 1; b has no quit -> visit, pay -> level 2
    spec = {
        "a": [("visit", "2024-01-01 10:00"), ("quit", "2024-01-01 11:00"), ("pay", "2024-01-01 12:00")],
        "b": [("visit", "2024-01-01 10:00"), ("pay", "2024-01-01 12:00")],
    }
    assert levels(spec, ["*", "pay"], D, exclude=["quit"]) == {"a": 1, "b": 2}


# --------------------------------------------------------------------------------------
# Breakdown
# --------------------------------------------------------------------------------------


def test_breakdown_takes_the_value_at_the_best_entry():
    spec = {
        "alice": [
            ("visit", "2024-01-01 10:00", {"channel": "email"}),
            ("visit", "2024-01-01 10:30", {"channel": "ads"}),
            ("purchase", "2024-01-01 10:45"),
        ],
        "bob": [
            ("visit", "2024-01-01 08:00", {"channel": "email"}),
            ("visit", "2024-01-01 12:00", {"channel": "ads"}),
            ("purchase", "2024-01-01 12:30"),
        ],
        "carol": [("visit", "2024-01-01 10:00", {"channel": "ads"})],
        "dan": [("visit", "2024-01-01 10:00"), ("purchase", "2024-01-01 10:05")],
        "erin": [("purchase", "2024-01-01 10:00", {"channel": "ads"})],
    }
    res = result(spec, VP, H, by="channel")
    assert res["breakdown"] == "channel"
    # ads: bob (entry 12:00, the 08:00 visit is level 1 only) and carol; email: alice (both her
    # visits reach level 2, the earliest wins); null: dan; erin reaches no step, so no group.
    # Order: 2 customers first, then email before null (null sorts last).
    assert [g["value"] for g in res["groups"]] == ["ads", "email", None]
    assert [column(g, "customers") for g in res["groups"]] == [[2, 1], [1, 1], [1, 1]]
    assert res["groups"][0]["steps"][1]["conversion_from_first"] == 0.5  # 1 of ads' 2
    # bob: 30 min
    assert res["groups"][0]["steps"][1]["median_time_from_previous_s"] == 1800.0


def test_breakdown_ties_in_canonical_order_use_the_event_name():
    steps = [{"name": "land", "events": ["p*"]}, "buy"]
    spec = {
        "a": [
            ("pb", "2024-01-01 10:00", {"channel": "b"}),
            ("pa", "2024-01-01 10:00", {"channel": "a"}),
            ("buy", "2024-01-01 10:30"),
        ]
    }
    res = result(spec, steps, H, by="channel")
    assert [g["value"] for g in res["groups"]] == ["a"]  # "pa" sorts before "pb"


# --------------------------------------------------------------------------------------
# Open funnel
# --------------------------------------------------------------------------------------


def test_open_funnel_entered_and_continued():
    spec = {
        "alice": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 11:00")],
        "bob": [("signup", "2024-01-01 10:00")],
        "carol": [("signup", "2024-01-01 10:00"), ("purchase", "2024-01-01 12:00")],
        "dan": [
            ("signup", "2024-01-01 10:00"),
            ("signup", "2024-01-01 11:00"),
            ("purchase", "2024-01-01 12:00"),
        ],
    }
    res = result(spec, VPS, D, open=True)
    # visit: alice; signup: all; purchase: c, d
    assert column(res, "customers") == [1, 4, 2]
    # alice into signup; carol, dan into purchase
    assert column(res, "continued") == [None, 1, 2]
    assert column(res, "entered") == [1, 3, 0]  # customers - continued
    # no common denominator
    assert column(res, "conversion_from_first") == [1.0, None, None]
    assert column(res, "conversion_from_first_low")[1:] == [None, None]
    assert column(res, "conversion_from_previous") == [1.0, 1.0, 0.5]  # 1/1, 2/4
    assert res["steps"][2]["conversion_from_previous_low"] == pytest.approx(wilson(2, 4)[0])
    assert column(res, "dropped") == [0, 0, 2]  # 1-1, 4-2
    # signup: alice 1 h; purchase: carol 2 h, dan 1 h (from his latest signup, 11:00)
    assert column(res, "median_time_from_previous_s") == [None, 3600.0, 5400.0]
    # 3600+0.9*3600
    assert res["steps"][2]["p90_time_from_previous_s"] == pytest.approx(6840.0)


def test_open_funnel_times_use_the_earliest_continuing_event():
    spec = {
        "erin": [
            ("purchase", "2024-01-01 09:00"),  # ends only a one-event chain
            ("signup", "2024-01-01 10:00"),
            # the earliest purchase continuing from signup
            ("purchase", "2024-01-01 11:00"),
        ]
    }
    erin = open_customer_results(rows(journeys(spec)), VPS, D)["erin"]
    assert erin.reached == {2, 3} and erin.continued == {3}
    assert erin.times == {3: 3600.0}


def test_open_funnel_respects_window_and_range():
    spec = {
        "a": [
            ("signup", "2024-01-01 10:00"),
            ("purchase", "2024-01-02 10:00:00.000001"),
        ]
    }
    a = open_customer_results(rows(journeys(spec)), VPS, D)["a"]
    # purchase 1 d + 1 µs later
    assert a.reached == {2, 3} and a.continued == frozenset()
    late = open_customer_results(rows(journeys(spec)), VPS, 2 * D, since=datetime(2024, 1, 1, 12))["a"]
    # the signup is before since; the purchase is in range and ends a one-event chain
    assert late.reached == {3} and late.continued == frozenset()


def test_open_funnel_rejects_other_modes_and_breakdown():
    data = rows(journeys({"a": [("visit", "2024-01-01 10:00")]}))
    with pytest.raises(ValueError):
        funnel(data, VP, H, mode="strict_order", open=True)
    with pytest.raises(ValueError):
        funnel(data, VP, H, mode="any_order", open=True)
    with pytest.raises(ValueError):
        funnel(data, VP, H, open=True, by="channel")
