"""Multi-touch attribution: hand-checked small logs for every model, the Markov chain solved by hand
(docs/semantics-attribution.md's worked example), Shapley against brute force, the totals check,
spec errors, the CLI and the SQL of other dialects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import ibis
import pandas as pd
import pytest
from click.testing import CliRunner

from hourglass.analyses.attribution import attribution_plan
from hourglass.engine.run import to_sql
from hourglass.interfaces.attribution_api import attribution
from hourglass.interfaces.cli.attribution import attribution_cmd
from hourglass.model.attribution import AttributionSpec, ConversionStep
from hourglass.model.attribution_models import (
    CONVERSION,
    NULL,
    PathRow,
    conversion_probability,
    shapley_credits,
    transitions_from_paths,
)
from hourglass.model.attribution_result import AttributionResult
from hourglass.model.errors import EngineError, SchemaError, SpecError
from hourglass.model.steps import Step
from reference import attribution_ref as ref

BASE = datetime(2024, 1, 1)


def log(rows: Sequence[tuple[str, str, float, str | None, float | None]]) -> pd.DataFrame:
    """(customer, event, day, channel, revenue) rows as an event log."""
    return pd.DataFrame(
        [(c, e, BASE + timedelta(days=d), ch, r) for c, e, d, ch, r in rows],
        columns=["customer", "event", "timestamp", "channel", "revenue"],
    )


# a: ads, email -> buys 10; b: email -> buys 20; c: ads, social, never buys
SMALL = [
    ("a", "visit", 0, "ads", None),
    ("a", "visit", 1, "email", None),
    ("a", "purchase", 2, None, 10.0),
    ("b", "visit", 0, "email", None),
    ("b", "purchase", 1, None, 20.0),
    ("c", "visit", 0, "ads", None),
    ("c", "visit", 4, "social", None),
]


def credits(result: AttributionResult, model: str) -> dict[str, float]:
    return {c: x for c, x in result.credits[model].items() if abs(x) > 1e-12}


def test_every_model_on_a_hand_checked_log() -> None:
    r = attribution(log(SMALL), conversion="purchase", half_life="1d")
    assert (r.conversions, r.conversions_attributed, r.non_converting_journeys) == (2, 2, 1)
    assert r.revenue == r.revenue_attributed == 30.0
    assert credits(r, "first_touch") == {"ads": 1, "email": 1}
    assert credits(r, "last_touch") == {"email": 2}
    assert credits(r, "last_non_direct") == {"email": 2}
    assert credits(r, "linear") == {"ads": 0.5, "email": 1.5}
    assert credits(r, "position_based") == {"ads": 0.5, "email": 1.5}  # two touches: 0.4:0.4
    # time decay, half-life 1 day: a's ads touch is 1 day older than his email touch: 1/3 vs 2/3
    assert credits(r, "time_decay") == pytest.approx({"ads": 1 / 3, "email": 1 + 2 / 3})
    assert r.revenue_credits is not None
    assert r.revenue_credits["time_decay"]["ads"] == pytest.approx(10 / 3)
    # Markov: P = 2/3; without ads 1/3 (effect 1/2), without email 0 (effect 1), social 0
    assert r.markov["conversion_probability"] == pytest.approx(2 / 3)
    assert r.markov["removal_effects"] == pytest.approx({"ads": 0.5, "email": 1.0, "social": 0.0})
    assert credits(r, "markov") == pytest.approx({"ads": 2 / 3, "email": 4 / 3})
    # social appears only in a non-converting journey: no credit under any model
    assert all(r.credits[m].get("social", 0.0) == 0 for m in r.credits)
    assert credits(r, "shapley") == {"ads": 0.5, "email": 1.5}
    # rate variant: {ads, email} 1/1, {email} 1/1 (c's {ads, social} converts 0 of 1)
    assert credits(r, "shapley_rate") == pytest.approx({"ads": 0.5, "email": 1.5})
    d = r.to_dict()
    assert d["channels"][0]["cost"] is None and "cost_reason" in d["channels"][0]
    for m, tot in d["totals"].items():
        assert tot["conversions"] == pytest.approx(2), m
        assert tot["revenue"] == pytest.approx(30), m


def test_repeated_touches_a_single_touch_lookback_and_direct() -> None:
    rows = [
        ("a", "visit", 0, "ads", None),
        ("a", "visit", 1, "ads", None),
        ("a", "visit", 2, "direct", None),
        ("a", "purchase", 3, None, 6.0),
        ("b", "visit", 0, "search", None),  # 40 days before: outside the 30d lookback
        ("b", "visit", 40, "email", None),
        ("b", "purchase", 41, None, 3.0),
        ("b", "visit", 42, "ads", None),  # after his sale: no journey (a customer buys once)
    ]
    r = attribution(log(rows), conversion="purchase", position="0.4,0.2,0.4")
    assert r.conversions_attributed == 2 and r.non_converting_journeys == 0
    assert credits(r, "first_touch") == {"ads": 1, "email": 1}
    assert credits(r, "last_touch") == {"direct": 1, "email": 1}
    assert credits(r, "last_non_direct") == {"ads": 1, "email": 1}
    assert credits(r, "linear") == pytest.approx({"ads": 2 / 3, "direct": 1 / 3, "email": 1})
    assert credits(r, "position_based") == pytest.approx({"ads": 0.6, "direct": 0.4, "email": 1})
    assert r.revenue_credits is not None
    assert r.revenue_credits["linear"]["ads"] == pytest.approx(4.0)
    # every converting journey converts: removing any channel that is on one loses it
    assert sum(r.credits["markov"].values()) == pytest.approx(2)
    assert "search" not in credits(r, "linear")


def test_position_based_with_uneven_shares() -> None:
    rows = [
        ("a", "visit", 0, "ads", None),
        ("a", "visit", 1, "email", None),
        ("a", "purchase", 2, None, 9.0),
        ("b", "visit", 0, "ads", None),
        ("b", "visit", 1, "ads", None),
        ("b", "visit", 2, "search", None),
        ("b", "visit", 3, "email", None),
        ("b", "purchase", 4, None, 1.0),
    ]
    r = attribution(log(rows), conversion="purchase", position="0.6,0.1,0.3")
    # a: two touches split 0.6 : 0.3 -> 2/3, 1/3; b: ads 0.6 + 0.05, search 0.05, email 0.3
    assert credits(r, "position_based") == pytest.approx(
        {"ads": 2 / 3 + 0.65, "search": 0.05, "email": 1 / 3 + 0.3}
    )
    assert r.revenue_credits is not None
    assert r.revenue_credits["position_based"]["email"] == pytest.approx(3.0 + 0.3)


def test_repeat_purchases_and_the_open_journey_after_the_last() -> None:
    rows = [
        ("a", "visit", 0, "ads", None),
        ("a", "purchase", 1, None, 5.0),  # first purchase: not a repeat, starts the next journey
        ("a", "visit", 2, "email", None),
        ("a", "purchase", 3, None, 7.0),  # repeat 1: email
        ("a", "visit", 4, "social", None),  # after the last purchase: an open (non-converting) journey
        ("b", "visit", 0, "ads", None),  # b never bought: no repeat journey
    ]
    r = attribution(log(rows), conversion="repeat")
    assert (r.conversions, r.conversions_attributed, r.non_converting_journeys) == (1, 1, 1)
    assert credits(r, "linear") == {"email": 1}
    assert r.revenue == 7.0


def test_no_revenue_column_is_not_measured() -> None:
    df = log(SMALL).drop(columns=["revenue"])
    r = attribution(df, conversion="purchase")
    d = r.to_dict()
    assert d["revenue"] is None and d["revenue_reason"].startswith("no revenue column")
    assert d["channels"][0]["revenue"] is None and "revenue_reason" in d["channels"][0]


# the worked example of docs/semantics-attribution.md: 3 channels, 5 journeys
WORKED = [
    ("j1", "visit", 0, "ads", None),
    ("j1", "visit", 1, "email", None),
    ("j1", "purchase", 2, None, 30.0),
    ("j2", "visit", 0, "ads", None),
    ("j2", "visit", 1, "search", None),
    ("j3", "visit", 0, "email", None),
    ("j3", "purchase", 1, None, 60.0),
    ("j4", "visit", 0, "search", None),
    ("j4", "visit", 1, "email", None),
    ("j4", "purchase", 2, None, 90.0),
    ("j5", "visit", 0, "search", None),
]


def test_the_worked_markov_example_solved_by_hand() -> None:
    paths = [
        PathRow(("ads", "email"), 1, 0),
        PathRow(("ads", "search"), 0, 1),
        PathRow(("email",), 1, 0),
        PathRow(("search", "email"), 1, 0),
        PathRow(("search",), 0, 1),
    ]
    t = transitions_from_paths(paths, 1)
    assert t[((), ("ads",))] == 2 and t[((), ("search",))] == 2 and t[((), ("email",))] == 1
    assert t[(("email",), CONVERSION)] == 3 and t[(("search",), NULL)] == 2
    assert conversion_probability(t) == pytest.approx(3 / 5)
    assert conversion_probability(t, "ads") == pytest.approx(1 / 3)
    assert conversion_probability(t, "email") == 0
    assert conversion_probability(t, "search") == pytest.approx(2 / 5)
    p, effects = ref.markov_exact([(p.channels, p.conversions > 0) for p in paths], 1)
    assert p == Fraction(3, 5)
    assert effects == {"ads": Fraction(4, 9), "email": Fraction(1), "search": Fraction(1, 3)}
    r = attribution(log(WORKED), conversion="purchase")
    assert credits(r, "markov") == pytest.approx({"ads": 0.75, "email": 27 / 16, "search": 9 / 16})
    assert credits(r, "shapley") == pytest.approx({"ads": 0.5, "email": 2.0, "search": 0.5})
    assert r.revenue_credits is not None
    assert r.revenue_credits["markov"] == pytest.approx({"ads": 45.0, "email": 101.25, "search": 33.75})
    assert r.touches == {"ads": 2, "email": 3, "search": 3}
    assert r.revenue_credits["shapley"] == pytest.approx({"ads": 15.0, "email": 120.0, "search": 45.0})


def test_higher_order_chain_against_exact_fractions() -> None:
    r = attribution(log(WORKED), conversion="purchase", markov_order=2)
    paths = [(("ads", "email"), True), (("ads", "search"), False), (("email",), True)]
    paths += [(("search", "email"), True), (("search",), False)]
    p, effects = ref.markov_exact(paths, 2)
    assert r.markov["conversion_probability"] == pytest.approx(float(p))
    assert r.markov["removal_effects"] == pytest.approx({c: float(e) for c, e in effects.items()})
    assert r.markov["states"] == 6  # (ads) (email) (search) (ads,email) (ads,search) (search,email)


def test_shapley_equals_brute_force_enumeration() -> None:
    paths = [
        PathRow(("a", "b", "c"), 3, 1, 30.0),
        PathRow(("a",), 2, 5, 8.0),
        PathRow(("b", "a", "b"), 1, 0, 4.0),
        PathRow(("c", "d"), 4, 4, 10.0),
        PathRow(("d",), 0, 3, 0.0),
    ]
    conv, rev = shapley_credits(paths)
    sets: dict[frozenset[str], float] = {}
    for p in paths:
        sets[frozenset(p.channels)] = sets.get(frozenset(p.channels), 0.0) + p.conversions
    brute = ref.shapley_brute(sets)
    assert conv == pytest.approx({c: x for c, x in brute.items()})
    assert sum(conv.values()) == pytest.approx(10) and sum(rev.values()) == pytest.approx(52)
    rate_conv, _ = shapley_credits(paths, rate=True)
    assert sum(rate_conv.values()) == pytest.approx(10)
    assert rate_conv.get("d", 0) > 0  # d is in {c, d}, which converts half the time


def test_credits_that_do_not_add_up_are_a_bug() -> None:
    r = attribution(log(SMALL), conversion="purchase")
    bad = {m: dict(v) for m, v in r.credits.items()}
    bad["linear"]["ads"] += 0.5
    with pytest.raises(EngineError) as e:
        AttributionResult(**{**r.__dict__, "credits": bad})
    assert e.value.code == "HG381"


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"position": "0.5,0.2,0.4"}, "HG192"),
        ({"position": "0.5,0.5"}, "HG192"),
        ({"markov_order": 4}, "HG193"),
        ({"lookback": "0d"}, "HG107"),
        ({"lookbak": "3d"}, "HG101"),
        ({"touch_events": "visit,,x"}, "HG195"),
    ],
)
def test_spec_errors(options: dict[str, Any], code: str) -> None:
    with pytest.raises(SpecError) as e:
        AttributionSpec.build(**options)
    assert e.value.code == code and e.value.hint


def test_an_unknown_conversion_says_did_you_mean() -> None:
    with pytest.raises(SpecError) as e:
        attribution(log(SMALL), conversion="purchse")
    assert e.value.code == "HG197" and "purchase" in str(e.value)


def test_spend_gives_cost_per_conversion_and_roi(tmp_path: Any) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,period,cost\nads,2024-01,4\nemail,2024-01,10\nsocial,2024-01,0\n")
    r = attribution(log(SMALL), conversion="purchase", spend=str(spend))
    rows = {x["channel"]: x for x in r.to_dict()["channels"]}
    assert rows["ads"]["cost_per_conversion"]["first_touch"] == 4.0
    assert rows["ads"]["cost_per_conversion"]["last_touch"] is None
    assert rows["ads"]["reasons"]["cost_per_conversion.last_touch"] == "no conversion credited to the channel"
    assert rows["email"]["roi"]["last_touch"] == pytest.approx((30 - 10) / 10)
    assert rows["social"]["roi"]["linear"] is None


def test_cli_json_csv_and_table(tmp_path: Any) -> None:
    src = tmp_path / "events.csv"
    log(SMALL).to_csv(src, index=False)
    runner = CliRunner()
    out = runner.invoke(attribution_cmd, [str(src), "--conversion", "purchase", "--format", "json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["totals"]["markov"]["conversions"] == pytest.approx(2)
    out = runner.invoke(attribution_cmd, [str(src), "--conversion", "purchase", "--format", "csv"])
    assert out.exit_code == 0 and out.output.splitlines()[0].startswith("channel,touches,first_touch")
    out = runner.invoke(attribution_cmd, [str(src), "--conversion", "purchase"])
    assert out.exit_code == 0 and "Shapley" in out.output and "not measured (give --spend FILE)" in out.output
    out = runner.invoke(attribution_cmd, [str(src), "--markov-order", "5"])
    assert out.exit_code == 2


@pytest.mark.parametrize("dialect", ["duckdb", "pyspark", "clickhouse", "postgres"])
def test_the_plan_compiles_for_other_dialects(dialect: str) -> None:
    t = ibis.table(
        {
            "customer": "string",
            "event": "string",
            "timestamp": "timestamp",
            "channel": "string",
            "revenue": "float64",
        },
        name="events",
    )
    spec = AttributionSpec.build(markov_order=3, touch_events="visit", stages=True)
    stages = (Step("look", ("visit", "ad_*")), Step("sale", ("purchase",)))
    plan = attribution_plan(
        spec, t, ConversionStep("sale", Step("sale", ("purchase",)), "every"), stages=stages
    )
    assert {"stage_paths", "stage_markov", "stage_decay", "stage_totals"} <= set(plan.expressions())
    for name, expr in plan.expressions().items():
        assert "SELECT" in to_sql(expr, dialect).upper(), name


def test_single_channel_journeys_give_that_channel_everything(demo_parquet: Any) -> None:
    """The simulator puts a customer's acquisition channel on all his events: every journey has one
    channel, so every model but the rate variant credits each channel with its own conversions."""
    r = attribution(str(demo_parquet))
    assert r.conversions_attributed > 50
    first = r.credits["first_touch"]
    for m in ("last_touch", "last_non_direct", "linear", "time_decay", "position_based", "markov", "shapley"):
        assert r.credits[m] == pytest.approx(first), m


def test_no_channel_column_and_no_sale_stage_are_errors() -> None:
    with pytest.raises(SchemaError) as e:
        attribution(log(SMALL).drop(columns=["channel"]), conversion="purchase")
    assert e.value.code == "HG380" and "--channel-col" in (e.value.hint or "")
    with pytest.raises(SpecError) as s:
        attribution(log(SMALL), "flywheel")
    assert s.value.code == "HG196" and "--conversion" in (s.value.hint or "")
