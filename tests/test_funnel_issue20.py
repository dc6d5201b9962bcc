"""Issue 20's funnel core, hand-checked (docs/semantics.md's worked examples): optional steps, a held
property, totals and 20 steps, each on the reference and on the engine's plans (the fast path where it
answers, the portable plan forced), plus the coded errors."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.cli import cli
from hourglass.model.errors import SpecError
from journeys import journeys, rows
from reference import funnel_ref as ref
from test_funnel_properties import assert_same, forced_plan

H = 3600 * 1_000_000
D = 24 * H

# docs/semantics.md, "Optional steps" (window 1 day; steps visit, signup?, purchase)
OPTIONAL_LOG: dict[str, list[Any]] = {
    "ann": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 10:20"), ("purchase", "2024-01-01 11:00")],
    "bob": [("visit", "2024-01-01 10:00"), ("purchase", "2024-01-01 10:30"), ("signup", "2024-01-01 10:45")],
    "cy": [("visit", "2024-01-01 10:00"), ("signup", "2024-01-01 12:00")],
    "dee": [("signup", "2024-01-01 09:00"), ("visit", "2024-01-01 10:00")],
    "eve": [
        ("visit", "2024-01-01 10:00"),
        ("view", "2024-01-01 10:05"),
        ("signup", "2024-01-01 10:10"),
        ("purchase", "2024-01-01 10:20"),
    ],
}
OPTIONAL_STEPS = ["visit", "signup?", "purchase"]

# docs/semantics.md, "Hold a property" (window 1 day; steps visit, purchase; --hold device)
HOLD_LOG: dict[str, list[Any]] = {
    "fay": [
        ("visit", "2024-01-01 10:00", {"device": "mobile"}),
        ("visit", "2024-01-01 10:30", {"device": "desktop"}),
        ("purchase", "2024-01-01 11:00", {"device": "desktop"}),
    ],
    "gus": [
        ("visit", "2024-01-01 10:00", {"device": "mobile"}),
        ("purchase", "2024-01-01 11:00", {"device": "desktop"}),
    ],
    "hal": [
        ("visit", "2024-01-01 10:00", {"device": None}),
        ("purchase", "2024-01-01 10:10", {"device": "mobile"}),
    ],
}

# docs/semantics.md, "Totals" (window 1 day; steps visit, signup, purchase)
TOTALS_LOG: dict[str, list[Any]] = {
    "ida": [
        ("visit", "2024-01-01 10:00"),
        ("signup", "2024-01-01 10:10"),
        ("visit", "2024-01-01 10:20"),
        ("signup", "2024-01-01 10:30"),
        ("purchase", "2024-01-01 10:40"),
        ("visit", "2024-01-01 11:00"),
    ],
    "jon": [
        ("visit", "2024-01-01 10:00"),
        ("visit", "2024-01-01 10:05"),
        ("signup", "2024-01-01 10:10"),
        ("purchase", "2024-01-03 10:40"),
    ],
}


def both(
    log: dict[str, list[Any]],
    steps: list[Any],
    window_us: int,
    plans: tuple[str, ...] = ("auto", "portable"),
    **opts: Any,
) -> dict[str, Any]:
    """The reference's result, after checking that every plan's result is the same."""
    df = journeys(log)
    want = ref.funnel(rows(df), steps, window_us, **opts)
    ev = hourglass.events(df)
    for plan in plans:
        with forced_plan(plan):
            got = hourglass.funnel(ev, steps, window=window_us / 1_000_000, **opts).to_dict()
        meta = got.pop("meta")
        assert_same(got, want, f"{plan} plan")
        if opts.get("hold") or any(str(s).endswith("?") for s in steps) or opts.get("count") == "totals":
            assert meta["plan"] == "portable" and meta["plan_reason"].startswith("the fast path does not")
    return want


def col(res: dict[str, Any], key: str) -> list[Any]:
    return [s[key] for s in res["steps"]]


def test_optional_step_ordered() -> None:
    res = both(OPTIONAL_LOG, OPTIONAL_STEPS, D)
    # signup counts for ann (between visit and purchase), cy (after visit, no purchase) and eve; not
    # bob (after his purchase) nor dee (before her visit)
    assert col(res, "customers") == [5, 3, 3]
    assert col(res, "optional") == [False, True, False]
    assert col(res, "conversion_from_previous") == [1.0, 3 / 5, 3 / 5]  # both of visit's 5
    assert col(res, "dropped") == [0, None, 2]  # skipping an optional step loses no one
    assert res["steps"][1]["dropped_reason"].startswith("an optional step")
    # signup from visit: 20 min, 2 h, 10 min; purchase from visit: 1 h, 30 min, 20 min
    assert col(res, "median_time_from_previous_s") == [None, 1200.0, 1800.0]


def test_optional_step_strict_order() -> None:
    res = both(OPTIONAL_LOG, OPTIONAL_STEPS, D, mode="strict_order")
    # eve's view breaks adjacency: level visit, and no signup counted; ann's signup is passed over
    assert col(res, "customers") == [5, 2, 2]


def test_optional_step_any_order() -> None:
    res = both(OPTIONAL_LOG, OPTIONAL_STEPS, D, mode="any_order")
    # any order: every signup in the best window counts (bob's after his purchase, dee's before)
    assert col(res, "customers") == [5, 5, 3]


def test_optional_step_from_a_model_file_and_the_cli(tmp_path: Any) -> None:
    model = tmp_path / "m.yaml"
    model.write_text(
        "name: m\nstages:\n  - {name: visit, events: [visit]}\n"
        "  - {name: signup, events: [signup], optional: true}\n  - {name: purchase, events: [purchase]}\n"
    )
    src = tmp_path / "ev.csv"
    journeys(OPTIONAL_LOG).to_csv(src, index=False)
    got = hourglass.funnel(str(src), model=str(model), window="1d")
    assert [s.customers for s in got.steps] == [5, 3, 3] and got.steps[1].optional
    out = CliRunner().invoke(cli, ["funnel", str(src), "--steps", "visit,signup?,purchase", "--window", "1d"])
    assert out.exit_code == 0, out.output
    assert "signup (optional)" in out.output


def test_optional_step_errors() -> None:
    with pytest.raises(SpecError) as first:
        hourglass.funnel(journeys(OPTIONAL_LOG), ["visit?", "purchase"])
    assert first.value.code == "HG123"
    with pytest.raises(SpecError) as opened:
        hourglass.funnel(journeys(OPTIONAL_LOG), ["visit", "signup?"], open=True)
    assert opened.value.code == "HG123"


def test_hold_a_property() -> None:
    res = both(HOLD_LOG, ["visit", "purchase"], D, hold="device")
    # fay: desktop visit -> desktop purchase; gus: devices differ; hal: a NULL device is in no chain
    assert col(res, "customers") == [2, 1]
    assert col(res, "median_time_from_previous_s") == [None, 1800.0]
    without = both(HOLD_LOG, ["visit", "purchase"], D, plans=("portable",))
    assert col(without, "customers") == [3, 3]


def test_hold_an_unknown_column_is_the_by_error() -> None:
    with pytest.raises(Exception) as e:
        hourglass.funnel(journeys(HOLD_LOG), ["visit", "purchase"], hold="devise")
    assert getattr(e.value, "code", None) == "HG306" and "device" in str(e.value)


@pytest.mark.parametrize("mode", ["ordered", "strict_order"])
def test_totals(mode: str) -> None:
    res = both(TOTALS_LOG, ["visit", "signup", "purchase"], D, count="totals", mode=mode)
    # entries: ida 3, jon 2; signups: ida's two, jon's one (both of his visits reach it); one
    # purchase (ida's, reached from both of her chains; jon's is 2 days later)
    assert col(res, "customers") == [5, 3, 1]
    # jon's signup from his latest visit (5 min); ida's purchase from her latest signup (10 min)
    assert col(res, "median_time_from_previous_s") == [None, 600.0, 600.0]


def test_totals_errors() -> None:
    for opts in ({"by": "channel"}, {"mode": "any_order"}, {"open": True}):
        with pytest.raises(SpecError) as e:
            hourglass.build_spec(["visit", "signup"], count="totals", **opts)
        assert e.value.code == "HG126"


STEPS20 = [f"e{i:02d}" for i in range(1, 21)]


def _at(i: int) -> str:
    return f"2024-01-01 10:{i:02d}"


LOG20: dict[str, list[Any]] = {
    "full": [(e, _at(i)) for i, e in enumerate(STEPS20)],
    "gap": [(e, _at(i)) for i, e in enumerate(STEPS20) if e != "e11"],
    "rev": [(e, _at(19 - i)) for i, e in enumerate(STEPS20)],
    "noise": [(e, _at(i)) for i, e in enumerate(STEPS20[:5])]
    + [("x", "2024-01-01 10:04:30")]
    + [(e, _at(i)) for i, e in enumerate(STEPS20) if i >= 5],
}


@pytest.mark.parametrize(
    ("mode", "open_", "want"),
    [
        # full 20, gap 10 (no e11), reversed 1, noise 20 (x between e05 and e06 is allowed)
        ("ordered", False, [4] + [3] * 9 + [2] * 10),
        # noise is broken after e05; reversed 1
        ("strict_order", False, [4] + [3] * 4 + [2] * 5 + [1] * 10),
        # reversed covers all 20 in one window
        ("any_order", False, [4] * 10 + [3] * 10),
        # open: gap enters again at e12; reversed reaches every step on its own
        ("ordered", True, [4] * 10 + [3] + [4] * 9),
    ],
)
def test_twenty_steps(mode: str, open_: bool, want: list[int]) -> None:
    df = journeys(LOG20)
    expected = ref.funnel(rows(df), STEPS20, D, mode=mode, open=open_)
    assert col(expected, "customers") == want
    ev = hourglass.events(df)
    for plan in ("auto", "portable"):
        with forced_plan(plan):
            got = hourglass.funnel(ev, STEPS20, window="1d", mode=mode, open=open_).to_dict()
        meta = got.pop("meta")
        assert_same(got, expected, f"{plan} plan")
        if meta["plan"] == "portable" and plan == "auto":
            assert meta["plan_reason"]  # why the fast path did not answer
        if open_:
            assert col(expected, "continued") == [None] + [3] * 9 + [2, 2] + [3] * 8


def test_an_optional_step_of_no_event_blocks_nothing() -> None:
    # 'kart' (a typo) matches no event: it is not measured, but purchase still is (docs/adr/0006)
    got = hourglass.funnel(journeys(OPTIONAL_LOG), ["visit", "kart?", "purchase"], window="1d").to_dict()
    kart, purchase = got["steps"][1], got["steps"][2]
    assert kart["customers"] is None and "kart" in kart["customers_reason"]
    assert purchase["customers"] == 3 and purchase.get("customers_reason") is None
