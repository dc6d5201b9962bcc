"""Property tests of the funnel explained: the engine (``funnel_dropoff_paths``,
``funnel_correlation``) against the reference (tests/reference/funnel_explore_ref.py) on random
logs: three to eight customers of up to eight events from a small alphabet, with ties (gap 0), gaps at
both sides of the window's edge, events after the window, a channel and a device property, the
ordered and strict_order modes, optional steps (in both), a held property (``--hold device``, NULL
values too), an excluded event, a breakdown and an entry range. Each example
runs one view (every Ibis plan costs about half a second to compile, so the examples are few and the
logs dense)."""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta
from typing import Any

from hypothesis import Phase, given, note, settings
from hypothesis import strategies as st

import hourglass
from hourglass.interfaces.funnel_explore_api import funnel_correlation, funnel_dropoff_paths
from journeys import journeys, rows
from reference import funnel_explore_ref as ref

BASE = datetime(2024, 1, 1)
NAMES = ["visit", "view", "pay", "quit", "help"]
STEP_CHOICES = [
    ["visit", "view"],
    ["visit", "pay"],
    ["visit", "view", "pay"],
    ["view", "view", "pay"],
    ["v*", "pay"],
    ["visit", "view?", "pay"],  # an optional step: the chain is the required steps'
    ["visit", "help?", "view", "pay"],
]
CHANNELS = [None, "ads", "seo"]
DEVICES = [None, "mobile", "desktop", "desktop"]
CUSTOMERS = ["ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal"]
WINDOW_S = 3
# each example compiles Ibis plans (about 0.5 s): few examples, no long shrinking
SETTINGS = settings(
    max_examples=int(os.environ.get("HOURGLASS_EXPLORE_EXAMPLES", "8")),
    deadline=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)


@st.composite
def logs(draw: st.DrawFn) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    window_us = WINDOW_S * 1_000_000
    gap = st.sampled_from([0, 0, 1_000_000, window_us, window_us + 1, 3 * window_us])
    out: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for customer in CUSTOMERS[: draw(st.integers(3, len(CUSTOMERS)))]:
        t = 0
        events = []
        for _ in range(draw(st.integers(1, 8))):
            t += draw(gap)
            name = draw(st.sampled_from(NAMES))
            props = {"channel": draw(st.sampled_from(CHANNELS)), "device": draw(st.sampled_from(DEVICES))}
            events.append((name, str(BASE + timedelta(microseconds=t)), props))
        out[customer] = draw(st.permutations(events))
    return out


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    steps = draw(st.sampled_from(STEP_CHOICES))
    options: dict[str, Any] = {"mode": draw(st.sampled_from(["ordered", "ordered", "strict_order"]))}
    if draw(st.integers(0, 2)) == 0:
        options["hold"] = "device"  # a chain's events share the entry's device (NULL: in no chain)
    if draw(st.integers(0, 3)) == 0 and not any("*" in s or s == "quit" for s in steps):
        options["exclude"] = ["quit"]
    if draw(st.integers(0, 3)) == 0:
        options["by"] = "channel"  # ties in the canonical order are then ordered by the channel
    if draw(st.integers(0, 3)) == 0:
        options["since"] = BASE + timedelta(seconds=draw(st.integers(0, 2 * WINDOW_S)))
    return {
        "log": draw(logs()),
        "steps": steps,
        "at": draw(st.sampled_from(ref.required(steps)[:-1])),
        "depth": draw(st.integers(1, 4)),
        "options": options,
    }


@SETTINGS
@given(
    case=cases(),
    view=st.sampled_from(["dropoff", "between"]),
    top=st.sampled_from([2, 10]),
    far=st.booleans(),
)
def test_paths_equal_the_reference(case: dict[str, Any], view: str, top: int, far: bool) -> None:
    df = journeys(case["log"], dtypes={"channel": "str", "device": "str"})
    note(repr(case))
    to = ref.required(case["steps"])[-1] if far else None  # to the last step: not only the next
    got = funnel_dropoff_paths(
        df,
        case["steps"],
        window=WINDOW_S,
        view=view,
        at=case["at"],
        to=to,
        depth=case["depth"],
        top=top,
        **case["options"],
    ).to_dict()
    got.pop("meta")
    want = ref.paths(
        rows(df), case["steps"], WINDOW_S * 1_000_000, view=view, at=case["at"], depth=case["depth"], top=top,
        to=to, **case["options"],
    )  # fmt: skip
    assert got == want


@SETTINGS
@given(case=cases(), whole=st.booleans())
def test_correlation_equals_the_reference(case: dict[str, Any], whole: bool) -> None:
    df = journeys(case["log"], dtypes={"channel": "str", "device": "str"})
    note(repr(case))
    req = ref.required(case["steps"])
    at, to = (1, req[-1]) if whole else (case["at"], min(k for k in req if k > case["at"]))
    got = funnel_correlation(
        df, case["steps"], window=WINDOW_S, at=at, to=to, max_values=2, **case["options"]
    )
    want = ref.correlation(
        rows(df), case["steps"], WINDOW_S * 1_000_000, at=at, to=to, columns=["channel", "device"],
        max_values=2, **case["options"],
    )  # fmt: skip
    totals = want.pop(("", ""))
    assert (got.converted, got.dropped, got.untested) == (
        totals["converted"],
        totals["dropped"],
        totals["untested"],
    )
    items = {(i.kind, i.value): i.to_dict() for i in got.items}
    assert set(items) == set(want)
    for key, w in want.items():
        for k, v in w.items():
            g = items[key][k]
            assert g == v if isinstance(v, str | int) else math.isclose(g, v, rel_tol=1e-9), (key, k, g, v)
    ranks = [(float(f"{i.q_value:.10g}"), float(f"{i.p_value:.10g}")) for i in got.items]
    assert ranks == sorted(ranks)  # ranked by q, then p (to 10 significant digits)


def test_a_view_counts_what_the_funnel_counts() -> None:
    """The drop-off view's customers are the funnel's loss at the next step; the between view's
    its customers there."""
    from hourglass.ingest.simulator import simulate_shop

    table, _ = simulate_shop(300, seed=5)
    ev = hourglass.events(table)
    steps = ["visit", "signup", "purchase"]
    funnel = hourglass.funnel(ev, steps, window="30d")
    drop = funnel_dropoff_paths(ev, steps, window="30d", at=2)
    between = funnel_dropoff_paths(ev, steps, window="30d", at=2, view="between")
    assert drop.customers == funnel.steps[1].customers - funnel.steps[2].customers > 0
    assert between.customers == funnel.steps[2].customers > 0
