"""The funnel explained (docs/semantics-funnel-explore.md): the worked examples of the page, by hand,
on DuckDB and Spark; the CLI views; the errors; the people behind a path or an item."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from click.testing import CliRunner

import hourglass
from conftest import SPARK_OK
from hourglass.interfaces.funnel_explore_api import (
    funnel_correlation,
    funnel_dropoff_paths,
    funnel_explore_people,
)
from hourglass.model.errors import HourglassError
from hourglass.model.funnel_explore import benjamini_hochberg, chi2_p, fisher_p, format_p, odds_ratio
from journeys import journeys, rows
from reference import funnel_explore_ref as ref

STEPS = ["visit", "signup", "purchase"]
# the page's worked example (window 1d)
SHOP = {
    "ann": [
        ("visit", "2024-01-01 10:00", {"channel": "ads"}),
        ("pricing", "2024-01-01 10:05"),
        ("help", "2024-01-01 10:10"),
        ("signup", "2024-01-01 11:00"),
        ("purchase", "2024-01-01 12:00"),
    ],
    "bob": [
        ("visit", "2024-01-01 10:00", {"channel": "ads"}),
        ("pricing", "2024-01-01 10:02"),
        ("faq", "2024-01-01 10:04"),
        ("pricing", "2024-01-03 10:00"),  # after entry + window: not before bob's drop-off point
    ],
    "cy": [
        ("visit", "2024-01-01 10:00", {"channel": "seo"}),
        ("signup", "2024-01-01 10:30"),
        ("pricing", "2024-01-01 11:00"),
    ],
    "dee": [("visit", "2024-01-01 10:00", {"channel": "ads"})],
    "eve": [
        ("visit", "2024-01-01 10:00", {"channel": "seo"}),
        ("signup", "2024-01-01 10:01"),
        ("purchase", "2024-01-01 10:02"),
    ],
}


@pytest.fixture(scope="module")
def shop() -> Any:
    return journeys(SHOP, dtypes={"channel": "str"})


@pytest.fixture(scope="module")
def shop_file(shop: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example as Parquet: what every backend reads (Spark takes no in-memory table)."""
    path = tmp_path_factory.mktemp("explore") / "shop.parquet"
    shop.to_parquet(path, index=False)
    return str(path)


def _paths(result: Any) -> list[tuple[list[str], bool, int]]:
    return [(p["path"], p["ended"], p["customers"]) for p in result.to_dict()["paths"]]


def test_dropoff_and_between_paths_by_hand(shop_file: str) -> None:
    ev = hourglass.events(shop_file)
    drop1 = funnel_dropoff_paths(ev, STEPS, window="1d", at=1)
    # bob and dee reached visit and not signup: bob did pricing, faq (and pricing two days later)
    assert _paths(drop1) == [([], True, 1), (["pricing", "faq", "pricing"], True, 1)]
    assert (drop1.customers, drop1.none, drop1.distinct_paths) == (2, 1, 2)
    between1 = funnel_dropoff_paths(ev, STEPS, window="1d", at=1, view="between")
    assert _paths(between1) == [([], True, 2), (["pricing", "help"], True, 1)]  # cy, eve straight on
    assert _paths(funnel_dropoff_paths(ev, STEPS, window="1d", at=2)) == [(["pricing"], True, 1)]
    assert _paths(funnel_dropoff_paths(ev, STEPS, window="1d", at=2, view="between")) == [([], True, 2)]


def test_correlation_by_hand(shop_file: str) -> None:
    r = funnel_correlation(shop_file, STEPS, window="1d", at=1, properties=["channel"])
    assert (r.converted, r.dropped, r.untested) == (3, 2, 0)
    got = {(i.kind, i.value): i for i in r.items}
    table = {
        k: (i.converted_with, i.dropped_with, i.converted_without, i.dropped_without) for k, i in got.items()
    }
    assert table == {
        ("event", "pricing"): (1, 1, 2, 1),  # ann before signup; bob within his window
        ("event", "help"): (1, 0, 2, 2),
        ("event", "faq"): (0, 1, 3, 1),
        ("channel", "ads"): (1, 2, 2, 0),
        ("channel", "seo"): (2, 0, 1, 2),
    }
    hand = {  # odds ratio (Haldane with a zero cell), Fisher's p, BH q: docs/semantics-funnel-explore.md
        ("event", "pricing"): (0.5, 1.0, 1.0),
        ("event", "help"): (3.0, 1.0, 1.0),
        ("event", "faq"): (0.75 / 5.25, 0.4, 2 / 3),
        ("channel", "ads"): (0.12, 0.4, 2 / 3),
        ("channel", "seo"): (6.25 / 0.75, 0.4, 2 / 3),
    }
    for key, (ratio, p, q) in hand.items():
        item = got[key]
        assert math.isclose(item.odds_ratio, ratio, rel_tol=1e-12), key
        assert math.isclose(item.p_value, p, rel_tol=1e-9), key
        assert math.isclose(item.q_value, q, rel_tol=1e-9), key
        assert item.test == "fisher"
    assert [i.label for i in r.items] == ["channel=ads", "channel=seo", "faq", "help", "pricing"]
    assert got[("channel", "seo")].direction == "converting" and got[("event", "faq")].direction == "dropping"


@pytest.mark.spark
@pytest.mark.skipif(not SPARK_OK, reason="pyspark or java missing")
def test_spark_equals_duckdb(shop_file: str, spark_engine: hourglass.Engine) -> None:
    """Both plans on Spark (local, the suite's session), in one run sharing the chain table (as the
    report runs them): the same dicts as DuckDB's."""
    from hourglass.analyses.funnel_correlation import explain_plan
    from hourglass.engine.plan import execute_plan
    from hourglass.interfaces.api import build_spec
    from hourglass.model.funnel_explore import ExploreOptions

    spec, opts = build_spec(STEPS, window="1d"), ExploreOptions(at=1)
    results = []
    for ev in (hourglass.events(shop_file, engine=spark_engine), hourglass.events(shop_file)):
        plan = explain_plan(spec, ev.table, opts, ("channel",))
        results.append([r.to_dict() for r in execute_plan(ev.engine, plan)])
    spark, duck = results
    assert spark == duck
    assert spark[0]["customers"] == 2 and len(spark[1]["items"]) == 5


def test_engine_equals_reference_on_the_example(shop: Any) -> None:
    """The whole funnel's correlation (visit to purchase) and the between view at signup, against
    the reference (the property tests draw many more)."""
    ev = hourglass.events(shop)
    got = funnel_dropoff_paths(ev, STEPS, window="1d", at=2, view="between", depth=2).to_dict()
    got.pop("meta")
    assert got == ref.paths(rows(shop), STEPS, 86_400_000_000, view="between", at=2, depth=2, top=10)
    got_items = funnel_correlation(ev, STEPS, window="1d", at=1, to=3, properties=["channel"])
    want = ref.correlation(rows(shop), STEPS, 86_400_000_000, at=1, to=3, columns=["channel"])
    assert want.pop(("", "")) == {"converted": 2, "dropped": 3, "untested": got_items.untested}
    assert {(i.kind, i.value) for i in got_items.items} == set(want)


def test_statistics_against_textbook_values() -> None:
    # R: fisher.test(matrix(c(3, 1, 1, 3), 2))$p.value == 0.4857143; the tea-tasting table
    assert math.isclose(fisher_p(3, 1, 1, 3), 34 / 70, rel_tol=1e-12)
    assert math.isclose(fisher_p(10, 0, 0, 10), ref.fisher(10, 0, 0, 10), rel_tol=1e-12)
    assert math.isclose(chi2_p(30, 10, 20, 40), ref.chi2(30, 10, 20, 40), rel_tol=1e-12)
    ratio, low, high = odds_ratio(30, 10, 20, 40)
    assert math.isclose(ratio, 6.0) and low < 6.0 < high
    assert (format_p(0.0), format_p(0.0123)) == ("<1e-300", "0.012")  # 0.0: past a float's range
    # p sorted .01, .03, .04, .5: p m / rank = .04, .06, .0533, .5; then the minimum from the right
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_people_behind_a_path_and_an_item(shop: Any) -> None:
    shop = hourglass.events(shop)
    people = funnel_explore_people(shop, STEPS, window="1d", view="dropoff", at=1, path=[], ended=True)
    assert list(people["customer"]) == ["dee"]
    people = funnel_explore_people(
        shop, STEPS, window="1d", view="correlation", at=1, item=("event", "pricing")
    )
    assert people.to_dict("records") == [
        {"customer": "ann", "converted": True},
        {"customer": "bob", "converted": False},
    ]
    people = funnel_explore_people(
        shop,
        STEPS,
        window="1d",
        view="correlation",
        at=1,
        item=("channel", "ads"),
    )
    assert list(people["customer"]) == ["ann", "bob", "dee"]


def test_strict_order_paths_start_at_the_chain_that_counts() -> None:
    # two step-1 events at the same time: only the second one's run is a strict chain (visit, signup)
    log = journeys(
        {
            "ann": [
                ("visit", "2024-01-01 10:00"),
                ("visit", "2024-01-01 10:00"),
                ("signup", "2024-01-01 10:01"),
                ("faq", "2024-01-01 10:02"),
            ]
        }
    )
    got = funnel_dropoff_paths(log, ["visit", "signup", "purchase"], window="1d", mode="strict_order", at=2)
    assert _paths(got) == [(["faq"], True, 1)]
    want = ref.paths(
        rows(log), STEPS, 86_400_000_000, view="dropoff", at=2, depth=3, top=10, mode="strict_order"
    )
    assert got.to_dict() | {"meta": None} == want | {"meta": None}


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"at": 3}, "HG151"),
        ({"at": 0}, "HG151"),
        ({"at": 1, "depth": 0}, "HG151"),
        ({"at": 1, "mode": "any_order"}, "HG152"),
        ({"at": 1, "open": True}, "HG152"),
        ({"at": 1, "count": "totals"}, "HG152"),
        ({"at": 1, "view": "after"}, "HG154"),
    ],
)
def test_errors(shop: Any, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(HourglassError) as e:
        funnel_dropoff_paths(shop, STEPS, **kwargs)
    assert e.value.code == code and e.value.hint


def test_unknown_correlation_column_is_hg153(shop: Any) -> None:
    with pytest.raises(HourglassError) as e:
        funnel_correlation(shop, STEPS, at=1, properties=["chanel"])
    assert e.value.code == "HG153" and "channel" in e.value.message


def test_cli_views(tmp_path: Any, shop: Any) -> None:
    from hourglass.interfaces.cli import cli

    path = tmp_path / "shop.csv"
    shop.to_csv(path, index=False)
    runner = CliRunner()
    base = ["funnel", str(path), "--steps", "visit,signup,purchase", "--window", "1d"]
    out = runner.invoke(cli, [*base, "--view", "dropoff", "--at", "visit", "--depth", "2"])
    assert out.exit_code == 0, out.output
    assert "(no event after visit: left)" in out.output and "pricing → faq → …" in out.output  # goes on
    out = runner.invoke(cli, [*base, "--view", "between", "--at", "1", "--format", "csv"])
    assert out.output.splitlines()[:2] == ["rank,path,ended,customers,share", f"1,,True,2,{2 / 3}"]
    out = runner.invoke(cli, [*base, "--view", "correlation", "--at", "1", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["converted"], data["dropped"], data["items"][0]["value"]) == (3, 2, "ads")
    out = runner.invoke(cli, [*base, "--view", "dropoff", "--at", "3"])
    assert out.exit_code == 2 and "HG151" in out.output


def test_report_part_is_the_two_views_in_one_run(shop_file: str) -> None:
    from types import SimpleNamespace

    from hourglass.analyses.funnel_correlation import explain_plan
    from hourglass.engine.plan import execute_plan
    from hourglass.interfaces.api import build_spec
    from hourglass.interfaces.funnel_explore_api import largest_loss_at
    from hourglass.interfaces.reports._funnel_explore import funnel_explore_part
    from hourglass.model.funnel_explore import ExploreOptions

    ev = hourglass.events(shop_file)
    plan = explain_plan(build_spec(STEPS, window="1d"), ev.table, ExploreOptions(at=1, top=8), ("channel",))
    paths, corr = execute_plan(ev.engine, plan)
    alone = funnel_dropoff_paths(ev, STEPS, window="1d", at=1, top=8).to_dict()
    assert paths.to_dict() == alone | {"meta": {}}
    assert (
        corr.to_dict()["items"] == funnel_correlation(shop_file, STEPS, window="1d", at=1).to_dict()["items"]
    )
    html = funnel_explore_part(paths.to_dict(), corr.to_dict(), "shop").html
    assert (
        "(no event after visit: left)" in html and "channel = ads" in html and "visit \u2192 signup" in html
    )
    counts = [SimpleNamespace(customers=c) for c in (5, 3, 2)]  # losses 2, 1: the first step
    assert largest_loss_at(SimpleNamespace(steps=counts)) == 1
    assert largest_loss_at(SimpleNamespace(steps=counts[:1])) is None
    four = [SimpleNamespace(customers=c) for c in (9, 8, 7, 1)]  # step 3 optional: 2 -> 4 loses 7
    assert largest_loss_at(SimpleNamespace(steps=four), [False, False, True, False]) == 2


def test_optional_steps_are_not_on_the_chain(shop: Any) -> None:
    """visit, pricing?, signup: the chain is visit → signup; pricing is a step (no correlation item)
    but still an event of the paths; an optional step has no drop-off of its own (HG151)."""
    ev = hourglass.events(shop)
    steps = ["visit", "pricing?", "signup"]
    drop = funnel_dropoff_paths(ev, steps, window="1d", at=1)
    assert (drop.next_step, _paths(drop)) == (
        "signup",
        [([], True, 1), (["pricing", "faq", "pricing"], True, 1)],
    )
    corr = funnel_correlation(ev, steps, window="1d", at=1, properties=[])
    assert {i.value for i in corr.items} == {"help", "faq"} and (corr.to, corr.converted) == (3, 3)
    with pytest.raises(HourglassError) as e:
        funnel_dropoff_paths(ev, steps, window="1d", at=2)
    assert e.value.code == "HG151" and "optional" in e.value.message
    # strict_order passes over events of optional steps only (tests/test_funnel_explore_hold.py)
    strict = funnel_dropoff_paths(ev, steps, window="1d", at=1, mode="strict_order")
    assert (strict.customers, strict.none) == (3, 1)  # ann's help breaks her run: bob, dee, ann


def test_one_group_of_a_breakdown(shop: Any) -> None:
    """``group``: the customers of one value of ``by`` (at the best chain's entry), as the funnel's
    group counts them: bob and dee came by ads and dropped at visit; nobody from seo did."""
    ev = hourglass.events(shop)
    ads = funnel_dropoff_paths(ev, STEPS, window="1d", at=1, by="channel", group="ads")
    assert (ads.customers, _paths(ads)) == (2, [([], True, 1), (["pricing", "faq", "pricing"], True, 1)])
    seo = funnel_dropoff_paths(ev, STEPS, window="1d", at=1, by="channel", group="seo")
    assert (seo.customers, seo.paths) == (0, ())
    with pytest.raises(HourglassError) as e:
        funnel_dropoff_paths(ev, STEPS, window="1d", at=1, group="ads")
    assert e.value.code == "HG154"
