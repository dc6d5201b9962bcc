"""Hand-checked small journeys for every output of journeys, transitions, paths, journey and
followers (docs/semantics-journeys.md), on DuckDB; the CLI's formats and errors."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner

from hourglass.interfaces import journeys_api as hg
from hourglass.interfaces.cli.journeys import (
    followers_cmd,
    journey_cmd,
    journeys_cmd,
    paths_cmd,
    transitions_cmd,
)
from hourglass.model.errors import HourglassError
from hourglass.model.journey import JourneyModel
from journeys import journeys

MODEL = JourneyModel.from_dict(
    {
        "name": "pretzel",
        "kind": "funnel",
        "sale": "sale",
        "stages": [
            {"name": "awareness", "events": ["visit"]},
            {"name": "interest", "events": ["signup"]},
            {"name": "trial", "events": ["trial"]},
            {"name": "sale", "events": ["purchase"]},
        ],
    }
)

# ann follows the ideal order; ben enters at interest (a friend's link) and skips trial; cat goes
# back from interest to awareness, then skips to trial; dan repeats a visit; eve only visits.
LOG = journeys(
    {
        "ann": [
            ("visit", "2024-01-01 10:00"),
            ("signup", "2024-01-02 10:00"),
            ("trial", "2024-01-03 10:00"),
            ("purchase", "2024-01-04 10:00"),
        ],
        "ben": [("signup", "2024-01-01 10:00"), ("purchase", "2024-01-02 10:00")],
        "cat": [
            ("visit", "2024-01-01 10:00", {"channel": "ads"}),
            ("signup", "2024-01-02 10:00"),
            ("visit", "2024-01-03 10:00"),
            ("trial", "2024-01-05 10:00"),
            ("purchase", "2024-01-06 10:00"),
        ],
        "dan": [("visit", "2024-01-01 10:00"), ("visit", "2024-01-02 10:00"), ("signup", "2024-01-10 10:00")],
        "eve": [("visit", "2024-01-05 10:00")],
    },
    dtypes={"channel": "str"},
)


def test_entry_and_skip_matrix() -> None:
    r = hg.journeys(LOG, MODEL).to_dict()
    assert r["customers"] == 5 and r["goal"] == "sale"
    assert [(e["stage"], e["customers"]) for e in r["entry"]] == [
        ("awareness", 4),
        ("interest", 1),
        ("trial", 0),
        ("sale", 0),
    ]
    assert r["entry"][0]["share"] == pytest.approx(0.8)
    skips = {s["stage"]: (s["reached"], [k["customers"] for k in s["skipped"]]) for s in r["skips"]}
    assert skips == {"awareness": (4, []), "interest": (4, [1]), "trial": (2, [0, 0]), "sale": (3, [1, 0, 1])}
    assert r["skips"][3]["skipped"][2]["share"] == pytest.approx(1 / 3)


def test_entry_by_channel() -> None:
    r = hg.journeys(LOG, MODEL, by="channel").to_dict()
    assert [(g["value"], g["customers"]) for g in r["entry_by"]] == [(None, 4), ("ads", 1)]
    assert [s["customers"] for s in r["entry_by"][0]["stages"]] == [3, 1, 0, 0]


def test_backsteps_conformance_and_deviations() -> None:
    r = hg.journeys(LOG, MODEL).to_dict()
    assert r["backsteps"] == [
        {
            "from": "interest",
            "to": "awareness",
            "moves": 1,
            "customers": 1,
            "purchasers": 1,
            "next": [{"stage": "trial", "moves": 1, "share": 1.0}],
        }
    ]
    c = r["conformance"]
    assert c["customers_with_moves"] == 4
    assert c["fitness_mean"] == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    assert c["fitness_median"] == pytest.approx(0.75)
    assert [b["customers"] for b in c["fitness_buckets"]] == [1, 0, 1, 0, 2]
    assert (c["conformant"], c["purchasers"], c["purchasers_ideal"]) == (3, 3, 1)
    assert c["moves"] == {"total": 9, "ideal": 6, "back": 1, "skip": 2}
    assert [d["text"] for d in r["deviations"]] == [
        "33% of buyers skipped awareness",
        "33% of buyers skipped trial",
        "33% of buyers entered at interest",
        "33% of buyers went back from interest to awareness",
    ]


def test_goal_other_than_sale_speaks_of_reachers() -> None:
    r = hg.journeys(LOG, MODEL, goal="trial").to_dict()
    assert r["conformance"]["purchasers"] == 2
    assert r["deviations"][0]["text"].endswith(
        "customers who reached trial went back from interest to awareness"
    )


def test_stage_transitions_rows_sum_to_one() -> None:
    r = hg.transitions(LOG, MODEL)
    edges = {(e["from"], e["to"]): e for e in r.to_dict()["edges"]}
    assert {k: v["moves"] for k, v in edges.items()} == {
        ("awareness", "interest"): 3,
        ("awareness", "trial"): 1,
        ("awareness", None): 1,
        ("interest", "trial"): 1,
        ("interest", "sale"): 1,
        ("interest", "awareness"): 1,
        ("interest", None): 1,
        ("trial", "sale"): 2,
        ("sale", None): 3,
    }
    assert edges[("awareness", "interest")]["probability"] == pytest.approx(0.6)
    assert edges[("awareness", "interest")]["median_time_s"] == 86400.0
    assert edges[("awareness", None)]["median_time_s"] is None
    for row in r.matrix()["probability"]:
        assert sum(row) == pytest.approx(1.0)


def test_event_transitions_keep_repeats() -> None:
    r = hg.transitions(LOG, None, level="event", collapse=False)
    edges = {(e["from"], e["to"]): e["moves"] for e in r.edges}
    assert edges[("visit", "visit")] == 1  # dan
    assert r.customers == 5
    collapsed = {(e["from"], e["to"]) for e in hg.transitions(LOG, None, level="event").edges}
    assert ("visit", "visit") not in collapsed


def test_top_paths_and_other_add_up() -> None:
    r = hg.paths(LOG, MODEL, depth=3, top=2).to_dict()
    assert [(p["path"], p["customers"], p["continued"]) for p in r["top"]] == [
        (["awareness"], 1, 0),
        (["awareness", "interest"], 1, 0),
    ]
    assert r["other"] == {"customers": 3, "share": 0.6, "paths": 3}
    assert sum(p["customers"] for p in r["top"]) + r["other"]["customers"] == r["customers"] == 5
    assert r["sankey"] == {
        "nodes": [
            {
                "id": 0,
                "step": 1,
                "name": "awareness",
                "label": "awareness",
                "customers": 2,
                "ends": 1,
                "cut": 0,
            },
            {
                "id": 1,
                "step": 2,
                "name": "interest",
                "label": "interest",
                "customers": 1,
                "ends": 1,
                "cut": 0,
            },
        ],
        "links": [{"source": 0, "target": 1, "customers": 1}],
    }


def test_paths_from_and_to_a_stage() -> None:
    r = hg.paths(LOG, MODEL, start="interest", depth=2).to_dict()
    assert r["customers"] == 4  # eve never reached interest
    assert {n["node"]: n["customers"] for n in r["next"]} == {"trial": 1, "sale": 1, "awareness": 1, None: 1}
    r = hg.paths(LOG, MODEL, end="sale", depth=3).to_dict()
    assert sorted((p["path"], p["continued"]) for p in r["top"]) == [
        (["awareness", "trial", "sale"], 1),
        (["interest", "sale"], 0),
        (["interest", "trial", "sale"], 1),
    ]
    assert [(n["node"], n["customers"]) for n in r["previous"]] == [("trial", 2), ("interest", 1)]


def test_event_paths_keep_repeats() -> None:
    r = hg.paths(LOG, None, level="event", depth=3, collapse=False, top=10).to_dict()
    assert ["visit", "visit", "signup"] in [p["path"] for p in r["top"]]
    assert r["other"]["customers"] == 0 and r["distinct_paths"] == 5


def test_journey_map_of_one_customer() -> None:
    j = hg.journey(LOG, MODEL, customer="cat").to_dict()["customer"]
    assert j["path"] == ["awareness", "interest", "awareness", "trial", "sale"]
    assert (j["events"], j["moves"], j["ideal_moves"], j["fitness"]) == (5, 4, 2, 0.5)
    assert j["backsteps"] == [{"from": "interest", "to": "awareness"}]
    assert j["skipped_before_goal"] == [] and j["reached_goal"] and not j["ideal_to_goal"]
    assert [(g["stage"], g["channel"], g["events"]) for g in j["groups"]] == [
        ("awareness", "ads", 1),
        ("interest", None, 1),
        ("awareness", None, 1),
        ("trial", None, 1),
        ("sale", None, 1),
    ]
    ben = hg.journey(LOG, MODEL, customer="ben").to_dict()["customer"]
    assert ben["skipped_before_goal"] == ["awareness", "trial"] and ben["entry"] == "interest"
    short = hg.journey(LOG, MODEL, customer="cat", limit=2).to_dict()["customer"]
    assert (short["events"], short["shown"]) == (5, 2)


def test_journey_sample_clusters() -> None:
    r = hg.journey(LOG, MODEL, sample=1, clusters=2).to_dict()
    assert r["customers"] == 5
    assert [(c["path"], c["customers"], [s["customer"] for s in c["samples"]]) for c in r["clusters"]] == [
        (["awareness"], 1, ["eve"]),
        (["awareness", "interest"], 1, ["dan"]),
    ]


def test_followers() -> None:
    r = hg.followers(LOG, MODEL).to_dict()
    assert (r["active"], r["purchasers"], r["followers"]) == (5, 3, 2)
    assert r["as_of"] == "2024-01-10T10:00:00"
    assert [(s["stage"], s["followers"]) for s in r["by_stage"]] == [
        ("awareness", 1),
        ("interest", 1),
        ("trial", 0),
    ]
    assert r["by_stage"][1]["tenure_median_days"] == pytest.approx(9.0)
    assert r["by_stage"][0]["idle_median_days"] == pytest.approx(5.0)
    assert [t["followers"] for t in r["tenure"]] == [1, 1, 0, 0]
    early = hg.followers(LOG, MODEL, as_of="2024-01-03 10:00").to_dict()
    # only ben had bought by then; ann, cat and dan are followers; eve had not come yet
    assert (early["active"], early["purchasers"], early["followers"]) == (4, 1, 3)


def test_period_filters_events() -> None:
    r = hg.journeys(LOG, MODEL, since="2024-01-02", until="2024-01-06").to_dict()
    assert r["customers"] == 5
    # dan, eve enter at awareness; ann, cat at interest; ben's purchase is his only event left
    assert [e["customers"] for e in r["entry"]] == [2, 2, 0, 1]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: hg.paths(LOG, MODEL, depth=9), "HG132"),
        (lambda: hg.paths(LOG, MODEL, start="trial", end="sale"), "HG133"),
        (lambda: hg.paths(LOG, MODEL, start="trail"), "HG106"),
        (lambda: hg.paths(LOG, None, level="stage"), "HG131"),
        (lambda: hg.journey(LOG, MODEL), "HG134"),
        (lambda: hg.journey(LOG, MODEL, customer="zed"), "HG136"),
        (lambda: hg.followers(LOG, MODEL, goal="awareness"), "HG135"),
        (lambda: hg.journeys(LOG, MODEL, by="chanel"), "HG330"),
        (lambda: hg.journeys(LOG, MODEL, goal="nope"), "HG106"),
    ],
)
def test_errors(call: Any, code: str) -> None:
    with pytest.raises(HourglassError) as e:
        call()
    assert e.value.code == code


@click.group()
def _cli() -> None:
    pass


for _c in (journeys_cmd, transitions_cmd, paths_cmd, journey_cmd, followers_cmd):
    _cli.add_command(_c)


@pytest.fixture(scope="module")
def csv_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("j") / "log.csv"
    LOG.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    "args",
    [
        ["journeys", "--by", "channel"],
        ["transitions"],
        ["transitions", "--level", "event", "--keep-repeats"],
        ["paths", "--depth", "3", "--top", "2"],
        ["paths", "--level", "event", "--from", "signup"],
        ["journey", "--customer", "cat"],
        ["journey", "--sample", "1"],
        ["followers"],
    ],
)
def test_cli_formats(args: list[str], csv_log: str, tmp_path: Any) -> None:
    model = tmp_path / "pretzel.yaml"
    model.write_text(json.dumps(MODEL.to_dict()))
    base = [args[0], csv_log, "--model", str(model), *args[1:]]
    runner = CliRunner()
    table = runner.invoke(_cli, base)
    assert table.exit_code == 0, table.output
    as_json = runner.invoke(_cli, [*base, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert "meta" in data
    as_csv = runner.invoke(_cli, [*base, "--format", "csv"])
    assert as_csv.exit_code == 0 and as_csv.output.count("\n") >= 2, as_csv.output


def test_cli_error_is_a_message(csv_log: str) -> None:
    out = CliRunner().invoke(
        _cli, ["paths", csv_log, "--model", "hourglass", "--from", "sale", "--to", "trial"]
    )
    assert out.exit_code == 2
    assert "HG133" in out.output and "Traceback" not in out.output
