"""A model from the data (``hourglass models suggest``, docs/models.md) and every model checked against
the source's event names: hand-checked evidence, the drafted stages, the model file's round trip,
notes for stages that match nothing, HG117 for a model that matches nothing, ``--exclude`` typos."""

from __future__ import annotations

import json
import random
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import hourglass
from hourglass.engine.event_names import check_model_events, event_profile
from hourglass.ingest.config import load_model
from hourglass.interfaces.cli import cli
from hourglass.interfaces.models_api import model_yaml, suggest_model
from hourglass.model import JourneyModel, SpecError, Step, parse_filter
from hourglass.model._lexicon import role_of, words
from hourglass.model.draft import draft_model
from hourglass.model.event_stats import EventProfile, EventStat

T0 = datetime(2024, 3, 1, 10)

# the shop, by hand: c1 goes all the way, c2 enters at a product page, c3 only browses the
# catalog (twice: a one-event journey, no order), c4 stops at the cart
JOURNEYS = {
    "c1": [
        "catalog", "product1", "catalog", "product2", "cart", "delivery_choice", "payment_done",
        "repeat order",
    ],
    "c2": ["product1", "catalog", "cart", "payment_done"],
    "c3": ["catalog", "catalog"],
    "c4": ["catalog", "product2", "cart"],
}  # fmt: skip


def shop_rows(journeys: dict[str, list[str]] = JOURNEYS) -> list[dict[str, Any]]:
    return [
        {"customer_id": c, "event": e, "timestamp": T0 + timedelta(hours=i)}
        for c, events in journeys.items()
        for i, e in enumerate(events)
    ]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    pd.DataFrame(shop_rows()).to_csv(path, index=False)
    return path


def test_the_evidence_by_hand(shop: Path) -> None:
    profile = event_profile(hourglass.events(str(shop)), top=30)
    assert (profile.customers, profile.events, profile.names, profile.left_out) == (4, 17, 7, 0)
    got = {
        s.event: (s.events, s.customers, s.first_customers, round(s.position or 0, 9)) for s in profile.stats
    }
    # position: the rank of the event's first occurrence among the customer's distinct events
    # (c1: catalog 0, product1 1/6, product2 2/6, cart 3/6, delivery 4/6, payment 5/6, repeat 1;
    # c2: product1 0, catalog 1/3, cart 2/3, payment 1; c3: none; c4: catalog 0, product2 1/2, cart 1)
    expected = {
        "catalog": (6, 4, 3, 0.0),  # median of 0, 1/3, 0 (c3 has one event: no order)
        "cart": (3, 3, 0, 2 / 3),  # median of 1/2, 2/3, 1
        "product1": (2, 2, 1, 1 / 12),  # median of 1/6, 0
        "product2": (2, 2, 0, 5 / 12),  # median of 1/3, 1/2
        "payment_done": (2, 2, 0, 11 / 12),
        "delivery_choice": (1, 1, 0, 2 / 3),
        "repeat order": (1, 1, 0, 1.0),
    }
    assert got == {e: (*v[:3], round(v[3], 9)) for e, v in expected.items()}
    assert [s.event for s in profile.stats][:2] == ["catalog", "cart"]  # by customers, then name
    rows = {r["event"]: r for r in profile.rows()}
    assert rows["catalog"]["first_seen_share"] == 0.75 and rows["product1"]["first_seen_share"] == 0.25
    top2 = event_profile(hourglass.events(str(shop)), top=2)
    assert [s.event for s in top2.stats] == ["catalog", "cart"] and top2.left_out == 5
    assert top2.customers == 4 and top2.names == 7  # totals of the whole source, not of the top


def test_the_drafted_model_is_ordered_and_named_like_the_hourglass(shop: Path) -> None:
    s = suggest_model(str(shop))
    m = s.model
    assert s.preset == "hourglass" and m.kind == "hourglass" and m.name == "shop"
    assert [(st.name, st.events) for st in m.stages] == [
        ("awareness", ("catalog",)),
        ("interest", ("product*",)),  # product1, product2: one glob
        ("trial", ("cart", "delivery_choice")),
        ("sale", ("payment_done",)),
        ("repeat", ("repeat order",)),
    ]
    assert m.sale == "sale" and m.purchases == ("payment_done", "repeat order")
    assert all(st.label for st in m.stages)


def test_the_model_file_round_trips_and_runs_a_funnel(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "my_model.yaml"
    result = CliRunner().invoke(cli, ["models", "suggest", str(shop), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "payment_done" in result.output and f"wrote {out}" in result.output
    text = out.read_text(encoding="utf-8")
    assert "#   catalog: 4 customers (100.0%), first event for 75.0%, typical position 0.00" in text
    loaded = load_model(str(out))
    assert loaded.stages == suggest_model(str(shop)).model.stages and loaded.sale == "sale"
    funnel = CliRunner().invoke(cli, ["funnel", str(shop), "--model", str(out), "--format", "json"])
    assert funnel.exit_code == 0, funnel.output
    data = json.loads(funnel.stdout)
    # in order: c2 saw a product before the catalog, so only c1 and c4 reach interest
    assert [st["customers"] for st in data["steps"]] == [4, 2, 2, 1, 1]
    assert "notes" not in data["meta"]


def test_json_output_and_top(shop: Path) -> None:
    result = CliRunner().invoke(cli, ["models", "suggest", str(shop), "--format", "json", "--top", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["listed"] == 3 and data["left_out"] == 4 and data["event_names"] == 7
    assert [e["event"] for e in data["event_stats"]] == ["catalog", "cart", "payment_done"]
    # no stage after the sale: the nearest built-in model is AIDA
    assert data["preset"] == "aida"
    assert [st["name"] for st in data["model"]["stages"]] == ["attention", "desire", "action"]


def test_a_one_event_journey_has_no_position_not_zero(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    pd.DataFrame(shop_rows({"a": ["visit"], "b": ["visit", "visit"]})).to_csv(path, index=False)
    s = suggest_model(str(path))
    (row,) = s.to_dict()["event_stats"]
    assert row["typical_position"] is None and "one-event journey" in row["typical_position_reason"]
    assert [st.events for st in s.model.stages] == [("visit",)]


def test_a_model_that_partly_matches_gives_notes_with_the_closest_names(shop: Path) -> None:
    model = JourneyModel(
        "mine",
        "funnel",
        (
            Step("browse", ("catalog", "landing")),  # one of two names is enough
            Step("product", ("prodct1",)),
            Step("basket", ("crt", "basket")),
            Step("buy", ("pay*",)),  # a glob that matches
            Step("big", ("payment_done",), where=(parse_filter("revenue > 100"),)),
        ),
    )
    frame = pd.DataFrame(shop_rows()).assign(revenue=10.0)
    ev = hourglass.events(frame)
    assert check_model_events(ev, model, exclude=["delivery_choise"]) == [
        "stage 'product': no event named 'prodct1' in the source (did you mean 'product1'?)",
        "stage 'basket': no event named 'crt' or 'basket' in the source (did you mean 'cart'?)",
        "stage 'big': events named 'payment_done' are in the source, but none with revenue > 100",
        "--exclude: no event named 'delivery_choise' in the source (did you mean 'delivery_choice'?)",
        "3 of the model's 5 stages match no event of the source: draft a model from its events with: "
        "hourglass models suggest SOURCE --out my_model.yaml",
    ]
    result = hourglass.funnel(frame, model=model, window="30d")
    assert result.meta["notes"][0].startswith("stage 'product': no event named 'prodct1'")


def test_a_model_that_matches_nothing_is_a_coded_error(shop: Path) -> None:
    with pytest.raises(SpecError) as info:
        hourglass.funnel(str(shop), model="aida")
    assert info.value.code == "HG117"
    assert info.value.hint is not None
    assert "catalog (4), cart (3)" in info.value.hint and "hourglass models suggest" in info.value.hint
    result = CliRunner().invoke(cli, ["funnel", str(shop), "--model", "aida"])
    assert result.exit_code == 2 and "HG117" in result.output
    with pytest.raises(SpecError, match="matches no event"):
        check_model_events(hourglass.events(str(shop)), load_model("aida"))


def test_the_check_on_a_store_uses_its_names(shop: Path, tmp_path: Path) -> None:
    store = tmp_path / "st.duckdb"
    hourglass.ingest_store(str(shop), str(store))
    ev = hourglass.events(str(store))
    assert ev.codes is not None
    nobody = (parse_filter("customer == nobody"),)
    steps = (
        Step("a", ("catalog",)),
        Step("b", ("prd?ct*",)),
        Step("c", ("cat",)),
        Step("d", ("c*",), nobody),
    )
    notes = check_model_events(ev, JourneyModel("m", "funnel", (*steps, Step("e", ("prod?ct*",)))))
    assert notes == [
        "stage 'b': no event matches 'prd?ct*' in the source (did you mean 'product2'?)",
        "stage 'c': no event named 'cat' in the source (did you mean 'cart'?)",
        "stage 'd': events matching 'c*' are in the source, but none with customer == nobody",
        "3 of the model's 5 stages match no event of the source: draft a model from its events with: "
        f"hourglass models suggest {store}:events --out my_model.yaml",
    ]
    with pytest.raises(SpecError, match="matches no event"):
        check_model_events(ev, JourneyModel("m", "funnel", (Step("x", ("visit",)),)))


def test_an_exclude_typo_is_noted_when_every_step_has_customers(shop: Path) -> None:
    result = hourglass.funnel(str(shop), ["catalog", "cart"], exclude=["refnd", "delivery_choise"])
    assert [s.customers for s in result.steps] == [4, 3]
    assert result.meta["notes"] == [
        "--exclude: no event named 'refnd' in the source",
        "--exclude: no event named 'delivery_choise' in the source (did you mean 'delivery_choice'?)",
    ]


def test_step_typos_are_noted_past_ten_thousand_event_names() -> None:
    names = [f"page_{i:05d}" for i in range(10_050)] + ["signup"] * 50
    frame = pd.DataFrame(
        {"customer_id": [f"c{i % 50}" for i in range(len(names))], "event": names, "timestamp": T0}
    )
    result = hourglass.funnel(frame, ["page_00001", "sigup"])
    assert result.meta["notes"] == [
        "step 'sigup': no event named 'sigup' in the source (did you mean 'signup'?)"
    ]


# --- the draft, without an engine -----------------------------------------------------------------


def _profile(*stats: tuple[str, int, float | None]) -> EventProfile:
    return EventProfile(
        tuple(EventStat(e, n, n, 0, pos) for e, n, pos in stats), customers=100, events=1000, names=len(stats)
    )


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("page_view", "awareness"),
        ("ad_click", "awareness"),
        ("catalog", "awareness"),
        ("view_item", "interest"),
        ("ProductView", "interest"),
        ("sign_up", "interest"),
        ("lead_form", "interest"),
        ("consultation", "trust"),
        ("review_read", "trust"),
        ("add_to_cart", "trial"),
        ("checkout", "trial"),
        ("payment_choice", "trial"),
        ("payment_done", "sale"),
        ("checkout_completed", "sale"),
        ("purchase", "sale"),
        ("order", "sale"),
        ("repeat order", "repeat"),
        ("reorder", "repeat"),
        ("referral_sent", "word_of_mouth"),
        ("review", "word_of_mouth"),
        ("promo_view", "trial"),
        ("refund", None),
        ("offer_sent", None),
        ("order_cancelled", None),
        ("xyzzy", None),
    ],
)
def test_the_lexicon(name: str, role: str | None) -> None:
    assert role_of(name) == role


def test_after_sale_events_are_set_aside_with_their_setting() -> None:
    s = draft_model(
        _profile(
            ("visit", 90, 0.0),
            ("purchase", 50, 0.5),
            ("support_resolved", 9, 0.9),
            ("offer_sent", 8, 0.9),
            ("offer_redeemed", 7, 0.95),
            ("delivery_late", 6, 0.8),
            ("refund", 5, 0.9),
        )
    )
    assert dict(s.set_aside) == {
        "support_resolved": "resolved_events",
        "offer_sent": "offer_sent_events",
        "offer_redeemed": "offer_redeemed_events",
        "delivery_late": "negative_events",
        "refund": "remorse_events",
    }
    assert [st.events for st in s.model.stages] == [("visit",), ("purchase",)]


def test_words() -> None:
    assert words("AddToCart") == ("add", "to", "cart") == words("add-to-cart") == words("add_to_cart")
    assert words("product12") == ("product",)


def test_names_that_say_nothing_are_staged_by_order_alone() -> None:
    s = draft_model(_profile(("zeta", 90, 0.0), ("alpha", 60, 0.05), ("omega", 40, 0.5), ("mu", 10, 0.9)))
    assert s.preset is None and s.model.sale is None
    # four events, each its own stage in order of typical position, named after the event
    assert [st.events for st in s.model.stages] == [("zeta",), ("alpha",), ("omega",), ("mu",)]
    # more events than stages: cut at the largest gaps in typical position, at most 6 stages
    positions = [0.0, 0.02, 0.04, 0.3, 0.32, 0.5, 0.7, 0.72, 0.9, 0.98, 1.0]
    many = draft_model(_profile(*((f"e{k}x", 100 - k, p) for k, p in enumerate(positions))))
    assert [(st.name, len(st.events)) for st in many.model.stages] == [
        ("stage_1", 3),
        ("stage_2", 2),
        ("e5x", 1),
        ("stage_4", 2),
        ("e8x", 1),
        ("stage_6", 2),
    ]
    flat = [e for st in many.model.stages for e in st.events]
    assert flat == [f"e{k}x" for k in range(len(positions))]  # in order, nothing lost


def test_an_unnamed_event_joins_its_neighbour_but_never_the_sale() -> None:
    s = draft_model(
        _profile(("visit", 100, 0.0), ("zork", 50, 0.05), ("purchase", 20, 0.9), ("grault", 10, 0.95))
    )
    assert [(st.name, st.events) for st in s.model.stages] == [
        ("attention", ("visit", "zork")),
        ("action", ("purchase",)),
        ("grault", ("grault",)),  # next to the sale: a stage of its own, after it
    ]
    assert s.preset == "aida" and s.model.sale == "action"


def test_a_glob_only_when_it_matches_no_other_event() -> None:
    s = draft_model(
        _profile(("product1", 50, 0.3), ("product2", 40, 0.3), ("product_return", 5, 0.9), ("visit", 99, 0.0))
    )
    # product* would also match product_return (set aside as a return): the names are listed
    assert s.model.stages[1].events == ("product1", "product2")
    assert s.set_aside == (("product_return", "remorse_events"),)
    assert "--set remorse_events=product_return" in model_yaml(s)


def test_unnamed_stages_never_take_a_built_in_stage_name_and_runs_of_them_merge() -> None:
    s = draft_model(
        _profile(
            ("visit", 100, 0.0),
            ("product", 80, 0.2),
            ("interest", 50, 0.5),  # an event named like a stage, but no known role: placed by order
            ("qux", 45, 0.55),
            ("purchase", 20, 0.9),
        )
    )
    assert [(st.name, st.events) for st in s.model.stages] == [
        ("attention", ("visit",)),
        ("interest", ("product",)),
        ("stage_3", ("interest", "qux")),  # two such events next to each other: one stage
        ("action", ("purchase",)),
    ]
    assert s.model.sale == "action"


def test_names_yaml_would_misread_round_trip(tmp_path: Path) -> None:
    odd = ["yes", "404", "a: b", "#hash", "ünïcode €", "null", "page[1]", "[bold]x", "1.5"]
    s = draft_model(_profile(*((name, 50 - k, k / 10) for k, name in enumerate(odd))))
    path = tmp_path / "odd.yaml"
    path.write_text(model_yaml(s, source="odd.csv"), encoding="utf-8")
    loaded = load_model(str(path))
    assert loaded.stages == s.model.stages
    events = {e for st in loaded.stages for e in st.events}
    assert events == set(odd) - {"page[1]", "[bold]x"}  # a pattern cannot hold [ ]: set aside
    assert {e for e, _ in s.set_aside} == {"page[1]", "[bold]x"}
    assert "Not a stage: [bold]x (a model's event patterns cannot hold [ or ]" in model_yaml(s)


def test_no_event_to_draft_from_is_a_coded_error() -> None:
    with pytest.raises(SpecError) as info:
        draft_model(_profile())
    assert info.value.code == "HG118"
    with pytest.raises(SpecError):
        draft_model(_profile(("refund", 3, 0.5)))


# --- against a plain-Python reference ------------------------------------------------------------------


def _reference(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int, int, float | None]]:
    by_customer: dict[str, list[tuple[datetime, str]]] = {}
    for r in rows:
        by_customer.setdefault(r["customer_id"], []).append((r["timestamp"], r["event"]))
    counts: dict[str, int] = {}
    positions: dict[str, list[float]] = {}
    customers: dict[str, int] = {}
    firsts: dict[str, int] = {}
    for events in by_customer.values():
        first_seen: dict[str, datetime] = {}
        for ts, e in events:
            counts[e] = counts.get(e, 0) + 1
            first_seen[e] = min(ts, first_seen.get(e, ts))
        order = sorted(first_seen, key=lambda e: (first_seen[e], e))
        firsts[order[0]] = firsts.get(order[0], 0) + 1
        for k, e in enumerate(order):
            customers[e] = customers.get(e, 0) + 1
            if len(order) > 1:
                positions.setdefault(e, []).append(k / (len(order) - 1))
    return {
        e: (
            counts[e],
            customers[e],
            firsts.get(e, 0),
            statistics.median(positions[e]) if e in positions else None,
        )
        for e in counts
    }


def test_the_evidence_equals_a_plain_python_reference(engine: hourglass.Engine, tmp_path: Path) -> None:
    rnd = random.Random(7)
    names = ["visit", "search", "product_a", "product_b", "cart", "pay", "refund", "lonely"]
    rows = []
    for c in range(40):
        for _ in range(rnd.randint(1, 9)):
            e = "lonely" if c == 0 else rnd.choice(names[:-1])
            rows.append(
                {"customer_id": f"c{c}", "event": e, "timestamp": T0 + timedelta(hours=rnd.randint(0, 30))}
            )
    path = tmp_path / "random.parquet"
    pd.DataFrame(rows).to_parquet(path)
    profile = event_profile(hourglass.events(str(path), engine=engine), top=100)
    got = {s.event: (s.events, s.customers, s.first_customers, s.position) for s in profile.stats}
    expected = _reference(rows)
    assert got.keys() == expected.keys()
    for e, (n, c, f, pos) in expected.items():
        assert got[e][:3] == (n, c, f), e
        assert (got[e][3] is None) == (pos is None) and (pos is None or got[e][3] == pytest.approx(pos)), e
    assert profile.customers == 40 and profile.events == len(rows)


def test_the_check_on_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.parquet"
    pd.DataFrame(shop_rows()).assign(revenue=10.0).to_parquet(path)
    ev = hourglass.events(str(path))
    over = (parse_filter("revenue > 100"),)
    steps = (Step("a", ("cat*",)), Step("b", ("crt",)), Step("c", ("payment_done",), over))
    assert check_model_events(ev, JourneyModel("m", "funnel", steps), exclude=["refund"]) == [
        "stage 'b': no event named 'crt' in the source (did you mean 'cart'?)",
        "stage 'c': events named 'payment_done' are in the source, but none with revenue > 100",
        "--exclude: no event named 'refund' in the source",
        "2 of the model's 3 stages match no event of the source: draft a model from its events with: "
        f"hourglass models suggest {path} --out my_model.yaml",
    ]


def test_the_table_prints_names_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    pd.DataFrame(shop_rows({"a": ["[bold]home", "cart", "[red]paid[/red]"]})).to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["models", "suggest", str(path)])
    assert result.exit_code == 0, result.output
    assert "[bold]home" in result.output and "not a stage: [red]paid[/red]" in result.output


def test_the_model_file_is_written_whole_or_not_at_all(shop: Path, tmp_path: Path) -> None:
    from hourglass.interfaces.models_api import write_model
    from hourglass.model import SourceError

    s = suggest_model(str(shop))
    out = tmp_path / "m.yaml"
    write_model(s, out)
    assert load_model(str(out)).stages == s.model.stages
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml", "shop.csv"]  # no temporary left
    with pytest.raises(SourceError) as info:
        write_model(s, tmp_path / "missing" / "m.yaml")
    assert info.value.code == "HG425"
