"""The funnel explained with ``--hold`` and with optional steps in strict_order
(docs/semantics-funnel-explore.md, "Held chains" and "Optional steps"): the page's worked examples by
hand, against the reference, through the API, the CLI and the dashboard's tab."""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.funnel_explore_api import (
    funnel_correlation,
    funnel_dropoff_paths,
    funnel_explore_people,
)
from journeys import journeys, rows
from reference import funnel_explore_ref as ref

STEPS = ["visit", "signup", "purchase"]
DAY_US = 86_400_000_000
# the page's example of a held chain (window 1d, --hold device)
HELD = {
    "fay": [
        ("visit", "2024-01-01 10:00", {"device": "mobile"}),
        ("visit", "2024-01-01 10:30", {"device": "desktop"}),
        ("pricing", "2024-01-01 10:40", {"device": "mobile"}),
        ("signup", "2024-01-01 11:00", {"device": "desktop"}),
        ("help", "2024-01-01 11:10", {"device": "desktop"}),
    ],
    "gus": [
        ("visit", "2024-01-01 10:00", {"device": "mobile"}),
        ("signup", "2024-01-01 10:05", {"device": "desktop"}),
        ("faq", "2024-01-01 10:10", {"device": "desktop"}),
    ],
    "hal": [
        ("visit", "2024-01-01 10:00"),  # no device: in no held chain
        ("signup", "2024-01-01 10:10", {"device": "mobile"}),
    ],
}
# the page's example of an optional step in strict_order (steps visit, pricing?, signup)
STRICT = {
    "ann": [
        ("visit", "2024-01-01 10:00"),
        ("pricing", "2024-01-01 10:05"),
        ("help", "2024-01-01 10:10"),  # breaks the run: no step's event
        ("signup", "2024-01-01 11:00"),
        ("purchase", "2024-01-01 12:00"),
    ],
    "cy": [
        ("visit", "2024-01-01 10:00"),
        ("pricing", "2024-01-01 10:10"),  # passed over: an optional step's event only
        ("signup", "2024-01-01 10:30"),
    ],
    "dee": [("visit", "2024-01-01 10:00")],
}


@pytest.fixture(scope="module")
def held() -> Any:
    return journeys(HELD, dtypes={"device": "str"})


def _paths(result: Any) -> list[tuple[list[str], bool, int]]:
    return [(p["path"], p["ended"], p["customers"]) for p in result.to_dict()["paths"]]


def test_held_paths_by_hand(held: Any) -> None:
    ev = hourglass.events(held)
    funnel = hourglass.funnel(ev, STEPS, window="1d", hold="device")
    assert [s.customers for s in funnel.steps] == [2, 1, 0]  # fay 2 (her desktop chain), gus 1, hal 0
    # gus's signup is on another device: he dropped at visit; his path is every event after it
    drop1 = funnel_dropoff_paths(ev, STEPS, window="1d", hold="device", at=1)
    assert (drop1.customers, _paths(drop1)) == (1, [(["signup", "faq"], True, 1)])
    # fay's chain enters at the desktop visit: between it and her signup, the mobile pricing
    between = funnel_dropoff_paths(ev, STEPS, window="1d", hold="device", at=1, view="between")
    assert _paths(between) == [(["pricing"], True, 1)]
    drop2 = funnel_dropoff_paths(ev, STEPS, window="1d", hold="device", at=2)
    assert (drop2.customers, _paths(drop2)) == (1, [(["help"], True, 1)])
    assert drop2.meta["spec"]["hold"] == "device"
    # without hold: everybody reached signup; fay's chain enters at her first visit
    plain = funnel_dropoff_paths(ev, STEPS, window="1d", at=1, view="between")
    assert _paths(plain) == [([], True, 2), (["visit", "pricing"], True, 1)]
    assert funnel_dropoff_paths(ev, STEPS, window="1d", at=1).customers == 0
    people = funnel_explore_people(
        ev, STEPS, window="1d", hold="device", view="between", at=1, path=["pricing"], ended=True
    )
    assert people.to_dict("records") == [{"customer": "fay", "events": 1}]


def test_held_correlation_by_hand(held: Any) -> None:
    got = funnel_correlation(held, STEPS, window="1d", hold="device", at=1, properties=["device"])
    assert (got.converted, got.dropped) == (1, 1)  # fay went on to signup on her desktop; gus did not
    table = {(i.kind, i.value): (i.converted_with, i.dropped_with) for i in got.items}
    # before the drop-off point: fay's events before her signup, gus's until his visit + 1 day
    assert table == {("event", "pricing"): (1, 0), ("event", "faq"): (0, 1)}
    assert got.untested == 2  # both had a mobile and a desktop event: device says nothing
    want = ref.correlation(rows(held), STEPS, DAY_US, at=1, columns=["device"], hold="device")
    assert want.pop(("", ""))["converted"] == 1 and set(want) == set(table)


@pytest.mark.parametrize("mode", ["ordered", "strict_order"])
@pytest.mark.parametrize(("view", "at"), [("dropoff", 1), ("between", 1), ("dropoff", 2)])
def test_held_views_equal_the_reference(held: Any, mode: str, view: str, at: int) -> None:
    got = funnel_dropoff_paths(held, STEPS, window="1d", hold="device", mode=mode, view=view, at=at)
    want = ref.paths(rows(held), STEPS, DAY_US, view=view, at=at, depth=3, top=10, hold="device", mode=mode)
    assert got.to_dict() | {"meta": None} == want | {"meta": None}


def test_strict_order_with_an_optional_step_by_hand() -> None:
    log = journeys(STRICT)
    steps = ["visit", "pricing?", "signup"]
    funnel = hourglass.funnel(log, steps, window="1d", mode="strict_order")
    # ann's help breaks her run after her pricing; cy's pricing is passed over
    assert [s.customers for s in funnel.steps] == [3, 2, 1]
    drop = funnel_dropoff_paths(log, steps, window="1d", mode="strict_order", at=1)
    assert (drop.next_step, drop.customers) == ("signup", 2)
    assert _paths(drop) == [([], True, 1), (["pricing", "help", "signup"], False, 1)]  # dee left; ann …
    between = funnel_dropoff_paths(log, steps, window="1d", mode="strict_order", at=1, view="between")
    assert _paths(between) == [(["pricing"], True, 1)]  # the optional step's event is cy's path
    for view in ("dropoff", "between"):
        got = funnel_dropoff_paths(log, steps, window="1d", mode="strict_order", at=1, view=view)
        want = ref.paths(rows(log), steps, DAY_US, view=view, at=1, depth=3, top=10, mode="strict_order")
        assert got.to_dict() | {"meta": None} == want | {"meta": None}
    corr = funnel_correlation(log, steps, window="1d", mode="strict_order", at=1, properties=[])
    assert (corr.converted, corr.dropped) == (1, 2)
    assert {(i.value, i.converted_with, i.dropped_with) for i in corr.items} == {
        ("help", 0, 1),
        ("purchase", 0, 1),  # not a step of this funnel
    }


def test_cli_dropoff_with_hold(held: Any, tmp_path: Path) -> None:
    from hourglass.interfaces.cli import cli

    path = tmp_path / "held.csv"
    held.to_csv(path, index=False)
    base = ["funnel", str(path), "--steps", "visit,signup,purchase", "--window", "1d", "--hold", "device"]
    out = CliRunner().invoke(cli, [*base, "--view", "dropoff", "--at", "visit"])
    assert out.exit_code == 0, out.output
    assert "1 customers reached visit" in out.output and "signup → faq → (end)" in out.output
    out = CliRunner().invoke(cli, [*base, "--view", "between", "--at", "1", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["rank,path,ended,customers,share", "1,pricing,True,1,1.0"]
    out = CliRunner().invoke(cli, [*base, "--count", "totals", "--view", "dropoff", "--at", "1"])
    assert out.exit_code == 2 and "HG152" in out.output  # these views count customers


def test_dashboard_tab_with_hold(held: Any, tmp_path: Path) -> None:
    from hourglass.interfaces.dashboard import create_app, load_source

    with warnings.catch_warnings():  # starlette's notice about httpx, at import
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    path = tmp_path / "held.parquet"
    held.to_parquet(path, index=False)
    funnel = "steps=visit,signup,purchase&window=1d&hold=device"
    with TestClient(create_app(load_source(str(path))), base_url="http://127.0.0.1") as client:
        page = client.get(f"/funnel?{funnel}", headers={"X-HG-Fragment": "1"})
        assert page.status_code == 200 and 'class="hg-explore-link"' in page.text
        r = client.get(f"/funnel/explore?{funnel}&view=between&at=1", headers={"X-HG-Fragment": "1"})
        assert r.status_code == 200, r.text
        found = re.findall(r'<a href="(/funnel/explore/people\?[^"]+)"[^>]*>([\d,]+)</a>', r.text)
        assert [int(n) for _, n in found] == [1]
        link = found[0][0].replace("&amp;", "&").replace("/people?", "/people.csv?", 1)
        got = list(csv.DictReader(io.StringIO(client.get(link).text)))
        assert [row["customer"] for row in got] == ["fay"]
