"""The hourglass stages per channel under one attribution model (``--stages``, ``--credit-model``;
docs/semantics-attribution.md, "Stages"): the worked example by hand under several models, each
stage's credits adding up to its customers with a touch, a stage without events not measured, the
sale stage equal to the ``sale`` conversion, the engine against the plain-Python reference on random
logs, the CLI table and JSON, and the report's heat table."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, note, settings
from hypothesis import strategies as st

from hourglass.interfaces.attribution_api import attribution
from hourglass.interfaces.cli.attribution import attribution_cmd
from hourglass.interfaces.reports._attribution import attribution_part
from hourglass.model.attribution import MODELS, AttributionSpec
from hourglass.model.attribution_result import StageCredits
from hourglass.model.errors import EngineError, SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.steps import Step
from reference import attribution_ref as ref
from test_attribution import log
from test_attribution_properties import DAY, frame, logs

MODEL = JourneyModel(
    name="t3",
    kind="funnel",
    stages=(
        Step("visit", ("visit",)),
        Step("signup", ("signup",)),
        Step("buy", ("purchase",)),
        Step("refer", ("referral_sent",)),
    ),
    sale="buy",
    purchases=("purchase",),
)

# docs/semantics-attribution.md, "Stages", worked example
STAGED = [
    ("a", "visit", 0, "ads", None),
    ("a", "visit", 1, "ads", None),
    ("a", "visit", 1.5, "email", None),
    ("a", "signup", 2, None, None),
    ("a", "visit", 3, "social", None),
    ("a", "purchase", 4, None, 30.0),
    ("b", "visit", 0, "email", None),
    ("b", "signup", 1, "email", None),  # a touch at his entry into signup: not before it
    ("b", "purchase", 5, None, 10.0),
    ("c", "visit", 0, "ads", None),  # never signs up: a non-converting journey for signup and buy
    ("d", "signup", 0, None, None),  # enters signup without any touch
    ("e", "visit", 0, "search", None),  # 41 days before his purchase: outside the 30d lookback
    ("e", "visit", 40, None, None),
    ("e", "purchase", 41, None, 5.0),
]


def stage(result: Any, name: str) -> dict[str, Any]:
    block = result.to_dict()["stages"]
    return next(s for s in block["stages"] if s["stage"] == name)


def nonzero(credits: dict[str, float]) -> dict[str, float]:
    return {c: x for c, x in credits.items() if abs(x) > 1e-12}


def test_the_worked_example_by_hand() -> None:
    r = attribution(log(STAGED), MODEL, stages=True)
    block = r.to_dict()["stages"]
    assert block["credit_model"] == "shapley" and block["lookback"] == "30d"
    assert [s["stage"] for s in block["stages"]] == ["visit", "signup", "buy", "refer"]
    # visit: a, b, c, e enter it with their first event: nobody has a touch before it
    v = stage(r, "visit")
    assert (v["customers"], v["with_touch"], v["without_touch"]) == (4, 0, 4)
    assert nonzero(v["credits"]) == {}
    # signup: a (ads, ads, email), b (email; his signup's own email touch is not before it), d none
    s = stage(r, "signup")
    assert (s["customers"], s["with_touch"], s["without_touch"]) == (3, 2, 1)
    assert nonzero(s["credits"]) == pytest.approx({"ads": 0.5, "email": 1.5})
    # buy: a (ads, ads, email, social), b (email, email); e's search touch is 41 days old
    b = stage(r, "buy")
    assert (b["customers"], b["with_touch"], b["without_touch"]) == (3, 2, 1)
    assert nonzero(b["credits"]) == pytest.approx({"ads": 1 / 3, "email": 4 / 3, "social": 1 / 3})
    # refer: no referral_sent event at all: not measured, with why, never 0
    f = stage(r, "refer")
    assert f["measured"] is False and f["customers"] is None and f["credits"] is None
    assert "referral_sent" in f["credits_reason"] and "referral_sent" in f["customers_reason"]


@pytest.mark.parametrize(
    ("model", "signup", "buy"),
    [
        ("linear", {"ads": 2 / 3, "email": 4 / 3}, {"ads": 0.5, "email": 1.25, "social": 0.25}),
        ("first_touch", {"ads": 1, "email": 1}, {"ads": 1, "email": 1}),
        ("last_touch", {"email": 2}, {"social": 1, "email": 1}),
        ("position", {"ads": 0.6, "email": 1.4}, {"ads": 0.5, "email": 1.1, "social": 0.4}),
        # signup's chain: start->ads 2, start->email 1, ads->ads 1, ads->email 1, ads->null 1 (c),
        # email->conversion 2: P = 2/3; without ads 1/3 (effect 1/2), without email 0 (effect 1)
        ("markov", {"ads": 2 / 3, "email": 4 / 3}, None),
    ],
)
def test_the_worked_example_under_other_models(
    model: str, signup: dict[str, float], buy: dict[str, float] | None
) -> None:
    r = attribution(log(STAGED), MODEL, credit_model=model)  # a credit model implies --stages
    assert nonzero(stage(r, "signup")["credits"]) == pytest.approx(signup)
    if buy is not None:
        assert nonzero(stage(r, "buy")["credits"]) == pytest.approx(buy)


def test_the_sale_stage_equals_the_sale_conversion() -> None:
    """The sale stage's column is the sale conversion attributed: the same journeys, the same
    non-converting ones, under every model."""
    for model in MODELS:
        r = attribution(log(STAGED), MODEL, conversion="sale", credit_model=model, markov_order=2)
        assert nonzero(stage(r, "buy")["credits"]) == pytest.approx(nonzero(dict(r.credits[model]))), model
        assert stage(r, "buy")["with_touch"] == r.conversions_attributed


def test_the_stages_are_the_lifecycles_ever_entered() -> None:
    from hourglass.interfaces.lifecycle_api import lifecycle

    lc = {s["stage"]: s["entered"] for s in lifecycle(log(STAGED), MODEL, referrals=False).stage_dicts()}
    r = attribution(log(STAGED), MODEL, stages=True)
    assert {s["stage"]: s["customers"] for s in r.to_dict()["stages"]["stages"]} == lc


def test_without_stages_the_block_is_null_with_why_and_a_bad_model_is_hg198() -> None:
    d = attribution(log(STAGED), MODEL).to_dict()
    assert d["stages"] is None and "--stages" in d["stages_reason"]
    assert d["spec"]["stages"] is False and d["spec"]["credit_model"] is None
    with pytest.raises(SpecError) as e:
        AttributionSpec.build(credit_model="markof")
    assert e.value.code == "HG198" and "markov" in str(e.value)
    assert AttributionSpec.build(credit_model="Position").credit_model == "position_based"


def test_credits_that_do_not_add_up_to_the_touched_customers_are_a_bug() -> None:
    StageCredits("s", "", ("x",), 3, 2, {"a": 1.5, "b": 0.5})  # fine
    with pytest.raises(EngineError) as e:
        StageCredits("s", "", ("x",), 3, 2, {"a": 1.5})
    assert e.value.code == "HG383"
    with pytest.raises(EngineError):
        StageCredits("s", "", ("x",), 1, 2, {"a": 2.0})  # more with a touch than entered


def test_cli_table_json_and_csv(tmp_path: Path) -> None:
    src = tmp_path / "events.csv"
    log(STAGED).to_csv(src, index=False)
    runner = CliRunner()
    # the preset hourglass model: visit is awareness, signup interest, purchase the sale
    out = runner.invoke(attribution_cmd, [str(src), "--credit-model", "linear", "--format", "json"])
    assert out.exit_code == 0, out.output
    block = json.loads(out.output)["stages"]
    sale = next(s for s in block["stages"] if s["stage"] == "sale")
    assert sale["credits"] == pytest.approx({"email": 1.25, "ads": 0.5, "social": 0.25})
    out = runner.invoke(attribution_cmd, [str(src), "--stages"])
    assert out.exit_code == 0, out.output
    assert "hourglass stages per channel · Shapley" in out.output and "(no touch)" in out.output
    out = runner.invoke(attribution_cmd, [str(src), "--stages", "--format", "csv"])
    head = out.output.splitlines()[0].split(",")
    assert "stage_awareness" in head and "stage_sale" in head
    out = runner.invoke(attribution_cmd, [str(src), "--credit-model", "lienar"])
    assert out.exit_code == 2 and "linear" in out.output


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.stack: list[str] = []
        self.in_table = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "hr", "meta", "input", "link"):
            return
        self.stack.append(tag)
        if tag == "table" and ("class", "hg-attribution-stages") in attrs:
            self.in_table = True
        if self.in_table and tag == "tr":
            self.rows.append([])

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()
        if tag == "table":
            self.in_table = False

    def handle_data(self, data: str) -> None:
        if self.in_table and self.rows and data.strip():
            self.rows[-1].append(data.strip())


def test_the_report_shows_a_heat_table() -> None:
    part = attribution_part(attribution(log(STAGED), MODEL, stages=True).to_dict())
    doc = _Cells()
    doc.feed(part.html)
    doc.close()
    assert doc.stack == []
    rows = {r[0]: r[1:] for r in doc.rows}
    assert rows["Channel"] == ["visit", "signup", "buy", "refer"]
    assert rows["email"] == ["0.0", "1.5", "1.3", "not measured"]
    assert rows["without a touch"] == ["4", "1", "1", "not measured"]
    assert rows["entered the stage"] == ["4", "3", "3", "not measured"]
    assert "Hourglass stages per channel · Shapley" in part.html
    assert "background:" in part.html  # heat colours
    plain = attribution_part(attribution(log(STAGED), MODEL).to_dict())
    assert "hg-attribution-stages" not in plain.html


STAGE_MODEL = JourneyModel(
    name="p",
    kind="funnel",
    stages=(Step("look", ("visit",)), Step("click", ("ad",)), Step("buy", ("purchase",))),
    sale="buy",
    purchases=("purchase",),
)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    events=logs(),
    model=st.sampled_from([*MODELS]),
    order=st.integers(1, 3),
    touch=st.sampled_from([None, "visit"]),
)
def test_stages_equal_the_reference(events: list[ref.Ev], model: str, order: int, touch: str | None) -> None:
    got = attribution(
        frame(events),
        STAGE_MODEL,
        credit_model=model,
        lookback="10d",
        half_life="2d",
        markov_order=order,
        touch_events=touch,
    ).to_dict()["stages"]
    want = ref.stage_attribute(
        events,
        [("look", ["visit"]), ("click", ["ad"]), ("buy", ["purchase"])],
        model=model,
        lookback=10 * DAY,
        half_life=2 * DAY,
        order=order,
        touch_events=[touch] if touch else (),
    )
    note(f"{got}")
    for s in got["stages"]:
        w = want[s["stage"]]
        assert (s["customers"], s["with_touch"]) == (w["customers"], w["with_touch"]), s["stage"]
        if w["credits"] is None:
            assert s["credits"] is None and s["credits_reason"]
            continue
        keys = {k for k, v in {**s["credits"], **w["credits"]}.items() if abs(v) > 1e-9}
        for k in keys:
            assert s["credits"].get(k, 0.0) == pytest.approx(w["credits"].get(k, 0.0), rel=1e-7, abs=1e-9)
        assert sum(s["credits"].values()) == pytest.approx(s["with_touch"], abs=1e-9)
        assert s["with_touch"] + s["without_touch"] == s["customers"]


def test_spend_gives_the_cost_per_customer_credited_to_each_stage(tmp_path: Path) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,period,cost\nads,2024-01,4\nemail,2024-01,10\n")
    r = attribution(log(STAGED), MODEL, stages=True, spend=str(spend))
    s = stage(r, "signup")  # Shapley: ads 0.5, email 1.5, social 0
    assert s["cost_per_customer"]["ads"] == pytest.approx(8.0)
    assert s["cost_per_customer"]["email"] == pytest.approx(10 / 1.5)
    assert s["cost_per_customer"]["social"] is None
    assert "no cost for channel 'social'" in s["cost_per_customer_reasons"]["social"]
    v = stage(r, "visit")  # nobody touched before his first visit
    assert v["cost_per_customer"]["ads"] is None
    assert v["cost_per_customer_reasons"]["ads"] == "no customer of the stage credited to the channel"
    assert stage(r, "refer")["cost_per_customer"] is None
    plain = stage(attribution(log(STAGED), MODEL, stages=True), "signup")
    assert plain["cost_per_customer"] is None and "--spend" in plain["cost_per_customer_reason"]


def test_spend_in_the_cli_table_and_the_report(tmp_path: Path) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,period,cost\nads,2024-01,4\nemail,2024-01,10\n")
    src = tmp_path / "events.csv"
    log(STAGED).to_csv(src, index=False)
    out = CliRunner().invoke(attribution_cmd, [str(src), "--stages", "--spend", str(spend)])
    assert out.exit_code == 0, out.output
    assert "cost per customer credited to the channel, per stage" in out.output
    assert "6.67" in out.output  # email at interest (signup): 10 / 1.5
    part = attribution_part(attribution(log(STAGED), MODEL, stages=True, spend=str(spend)).to_dict())
    assert "cost per customer 8.00" in part.html  # ads at signup: 4 / 0.5
