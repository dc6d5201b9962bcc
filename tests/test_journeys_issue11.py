"""Issue 11 fixes of the journey analyses, each checked by hand: ``journey --limit`` cuts only the
timeline; durations read s/min/h/d; the report's largest loss is the step that lost the most
customers; ``paths --depth`` (the old ``--steps`` fails with a coded error), its default keeps the
goal and the ellipsis sits where the path was cut; ``--by`` on paths and transitions (by hand and
against the reference); not measured is null with a reason (JSON, table, report); the report's
Sankey is drawn in columns by step, with stage labels and the ends of paths."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hourglass.interfaces import journeys_api as hg
from hourglass.interfaces.cli.journeys import journey_cmd, journeys_cmd, paths_cmd, transitions_cmd
from hourglass.interfaces.reports._format import Section, Step, loss_sentence
from hourglass.interfaces.reports._journey_charts import sankey_figure
from hourglass.interfaces.reports._journeys_section import journeys_part
from hourglass.model.journey import JourneyModel
from hourglass.model.paths import path_text
from hourglass.model.results import format_duration
from journeys import journeys, rows
from reference import journeys_ref as ref
from test_journeys_hand import LOG as HAND_LOG

MODEL = JourneyModel.from_dict(
    {
        "name": "pretzel",
        "kind": "funnel",
        "sale": "sale",
        "stages": [
            {"name": "awareness", "label": "Attention", "events": ["visit"]},
            {"name": "interest", "label": "Interest", "events": ["signup"]},
            {"name": "trial", "events": ["trial"]},
            {"name": "sale", "label": "Sale", "events": ["purchase"]},
        ],
    }
)

# the hand log of test_journeys_hand.py: ann follows the ideal order; ben enters at interest and
# skips trial; cat (from ads) goes back from interest to awareness, then skips to trial; dan repeats
# a visit; eve only visits.
LOG = HAND_LOG


def _invoke(cmd: Any, args: list[str]) -> Any:
    return CliRunner().invoke(cmd, args)


def _write(tmp_path: Path, text: str, name: str = "log.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture()
def model_file(tmp_path: Path) -> str:
    path = tmp_path / "pretzel.yaml"
    path.write_text(json.dumps(MODEL.to_dict()), encoding="utf-8")
    return str(path)


@pytest.fixture()
def log_csv(tmp_path: Path) -> str:
    path = tmp_path / "log.csv"
    LOG.to_csv(path, index=False)
    return str(path)


# --- 1. journey --limit cuts only the timeline ------------------------------------------------


def test_journey_limit_keeps_the_whole_path(tmp_path: Path) -> None:
    """The issue's reproduction: visit, signup, visit, signup with --limit 2."""
    src = _write(
        tmp_path,
        "customer,event,timestamp\nc,visit,2024-01-01 10:00:00\nc,signup,2024-01-02 10:00:00\n"
        "c,visit,2024-01-03 10:00:00\nc,signup,2024-01-04 10:00:00\n",
    )
    out = _invoke(journey_cmd, [src, "--customer", "c", "--limit", "2", "--format", "json"])
    assert out.exit_code == 0, out.output
    j = json.loads(out.stdout)["customer"]  # the notes go to stderr
    assert j["path"] == ["awareness", "interest", "awareness", "interest"]
    assert j["backsteps"] == [{"from": "interest", "to": "awareness"}]
    assert (j["moves"], j["ideal_moves"], j["events"], j["shown"]) == (3, 2, 4, 2)
    assert len(j["timeline"]) == 2


# --- 4. durations: s, min, h, d ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0 s"),
        (45, "45 s"),
        (59.6, "1.0 min"),
        (84, "1.4 min"),
        (3597, "1.0 h"),
        (3.2 * 3600, "3.2 h"),
        (86399, "1.0 d"),
        (86400 * 2.1, "2.1 d"),
        (-90, "-1.5 min"),
    ],
)
def test_durations_never_read_as_months(seconds: float | None, text: str) -> None:
    assert format_duration(seconds, " ") == text
    assert format_duration(seconds) == text.replace(" ", "")


def test_transitions_table_speaks_minutes(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        "customer,event,timestamp\nc,visit,2024-01-01 10:00:00\nc,signup,2024-01-01 10:01:24\n",
    )
    out = _invoke(transitions_cmd, [src, "--level", "event"])
    assert out.exit_code == 0, out.output
    assert "1.4 min" in out.output and "1.4 m " not in out.output


# --- 5. the report's largest loss: most customers lost ----------------------------------------


def _step(name: str, customers: int, prev: int | None) -> Step:
    conv = None if prev is None else customers / prev
    dropped = None if prev is None else prev - customers
    return Step(name, name, customers, None, None, None, conv, None, None, dropped, None, None)


def test_largest_loss_is_by_customers_lost() -> None:
    """Solis' case: 35,929 lost at the first step (75%) beats 46 of 48 lost (96%) later."""
    steps = (
        _step("persuasion", 48_000, None),
        _step("hook", 12_071, 48_000),
        _step("exchange", 48, 12_071),
        _step("management", 2, 48),
    )
    section = Section(0, "m1", "solis6", "Solis", "hourglass", "", "90d", steps, (), True)
    loss = section.largest_loss
    assert loss is not None and loss.index == 1 and loss.lost == 35_929 and loss.of == 48_000
    assert "persuasion \u2192 hook" in loss_sentence(loss) and "35,929 of 48,000" in loss_sentence(loss)


def test_largest_loss_ties_go_to_the_earlier_step() -> None:
    steps = (_step("a", 100, None), _step("b", 90, 100), _step("c", 80, 90))
    section = Section(0, "m1", "m", "m", "funnel", "", "", steps, (), True)
    assert section.largest_loss is not None and section.largest_loss.index == 1


# --- 3. paths: --depth, the default depth and the ellipsis -------------------------------------


def test_to_paths_put_the_ellipsis_at_the_start(log_csv: str, model_file: str) -> None:
    assert path_text(["trial", "sale"], 1, "reverse") == "\u2026 trial > sale"
    assert path_text(["awareness", "interest"], 1, "forward") == "awareness > interest \u2026"
    out = _invoke(paths_cmd, [log_csv, "--model", model_file, "--to", "sale", "--depth", "2"])
    assert out.exit_code == 0, out.output
    assert "\u2026 trial \u2192 sale" in out.output and "trial \u2192 sale \u2026" not in out.output
    assert "interest \u2192 sale" in out.output  # ben's whole path: no ellipsis


def test_default_depth_keeps_the_buyers_goal() -> None:
    """cat's path has 5 runs (a back-step), the sale last; the old default (5) would cut it for a
    buyer with two detours: the default is now the goal's index + 2 (6 here), from 5 to 8."""
    log = journeys(
        {
            "zoe": [
                ("visit", "2024-01-01 10:00"),
                ("signup", "2024-01-02 10:00"),
                ("visit", "2024-01-03 10:00"),
                ("signup", "2024-01-04 10:00"),
                ("trial", "2024-01-05 10:00"),
                ("purchase", "2024-01-06 10:00"),
            ]
        }
    )
    r = hg.paths(log, MODEL).to_dict()
    assert r["depth"] == 6
    assert r["top"][0]["path"][-1] == "sale" and r["top"][0]["continued"] == 0
    assert hg.paths(log, None, level="event").depth == 5
    assert hg.paths(log, MODEL, end="interest").depth == 5  # at least 5
    assert hg.paths(log, MODEL, steps=3).depth == 3  # the old keyword still works, silently


def test_paths_steps_is_renamed_depth(log_csv: str, model_file: str) -> None:
    out = _invoke(paths_cmd, [log_csv, "--model", model_file, "--steps", "4"])
    assert out.exit_code == 2
    assert "HG137" in out.output and "--depth 4" in out.output and "Traceback" not in out.output
    ok = _invoke(paths_cmd, [log_csv, "--model", model_file, "--depth", "4", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["depth"] == 4


# --- 6. --by on paths and transitions ---------------------------------------------------------


def test_paths_by_channel_by_hand() -> None:
    """The value at each customer's first element: cat's first visit came from ads; the others'
    first events have no channel (null)."""
    r = hg.paths(LOG, MODEL, depth=3, by="channel").to_dict()
    assert r["breakdown"] == "channel" and r["customers"] == 5  # the overall result is unchanged
    groups = {g["value"]: g for g in r["groups"]}
    assert [g["value"] for g in r["groups"]] == [None, "ads"]
    assert groups["ads"]["customers"] == 1 and groups["ads"]["distinct_paths"] == 1
    assert groups["ads"]["top"] == [
        {"path": ["awareness", "interest", "awareness"], "customers": 1, "share": 1.0, "continued": 1}
    ]
    assert groups[None]["customers"] == 4 and groups[None]["other"]["customers"] == 0
    rows_ = hg.paths(LOG, MODEL, depth=3, by="channel").rows()
    assert {r_["channel"] for r_ in rows_} == {None, "ads"}


def test_transitions_by_channel_by_hand() -> None:
    r = hg.transitions(LOG, MODEL, by="channel").to_dict()
    ads = next(g for g in r["groups"] if g["value"] == "ads")
    assert ads["customers"] == 1
    assert [(e["from"], e["to"], e["moves"]) for e in ads["edges"]] == [
        ("awareness", "interest", 1),
        ("awareness", "trial", 1),
        ("interest", "awareness", 1),
        ("trial", "sale", 1),
        ("sale", None, 1),
    ]
    none = next(g for g in r["groups"] if g["value"] is None)
    assert none["customers"] == 4
    assert sum(g["customers"] for g in r["groups"]) == r["customers"] == 5


def test_by_keeps_the_ten_largest_values_and_pools_the_rest() -> None:
    spec = {f"c{i:02d}": [("visit", "2024-01-01 10:00", {"src": f"s{i % 12:02d}"})] for i in range(30)}
    r = hg.paths(journeys(spec), MODEL, by="src").to_dict()
    values = [g["value"] for g in r["groups"]]
    # s00..s05 have 3 customers, s06..s11 have 2: the 6 + the first 4 of the twos, the rest pooled
    # (listed last, whatever its size)
    assert values == [f"s{i:02d}" for i in range(10)] + ["(other)"]
    other = next(g for g in r["groups"] if g["value"] == "(other)")
    assert other["customers"] == 4  # s10, s11: 2 customers each
    assert sum(g["customers"] for g in r["groups"]) == 30


def test_by_unknown_column_is_hg330() -> None:
    from hourglass.model.errors import HourglassError

    with pytest.raises(HourglassError) as e:
        hg.paths(LOG, MODEL, by="chanel")
    assert e.value.code == "HG330"
    with pytest.raises(HourglassError) as e:
        hg.transitions(LOG, MODEL, by="chanel")
    assert e.value.code == "HG330"


def _random_log(seed: int) -> Any:
    rnd = random.Random(seed)
    log: dict[str, list[Any]] = {}
    for c in range(rnd.randint(3, 9)):
        t = datetime(2024, 1, 1)
        events = []
        for _ in range(rnd.randint(1, 7)):
            t += timedelta(seconds=rnd.choice([0, 60, 3600, 86400]))
            ch = rnd.choice([None, "ads", "email", "seo"])
            events.append((rnd.choice(["visit", "signup", "trial", "purchase", "quit"]), t, {"channel": ch}))
        log[f"c{c}"] = events
    return journeys(log, dtypes={"channel": "str"})


STAGES = [{"name": s.name, "events": list(s.events)} for s in MODEL.stages]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", ["stage", "event"])
def test_by_equals_the_reference_per_group(seed: int, level: str) -> None:
    """A group's paths and transitions are those of its customers alone (the reference run on
    their rows), the group being the customer's channel at his first element."""
    df = _random_log(seed)
    data = rows(df)
    seqs = ref.sequences(data, level, STAGES, by="channel")
    group_of = {c: s[0][2] for c, s in seqs.items()}
    model = MODEL if level == "stage" else None
    p = hg.paths(df, model, level=level, depth=4, top=3, by="channel").to_dict()
    t = hg.transitions(df, model, level=level, by="channel").to_dict()
    assert {g["value"] for g in p["groups"]} == set(group_of.values())
    for g in p["groups"]:
        mine = [r for r in data if group_of.get(r["customer"], "-") == g["value"]]
        want = ref.paths(mine, level, STAGES, steps=4, top=3)
        assert g["customers"] == want["customers"] and g["distinct_paths"] == want["distinct_paths"]
        assert [{k: x[k] for k in ("path", "customers", "continued")} for x in g["top"]] == want["top"]
    for g in t["groups"]:
        mine = [r for r in data if group_of.get(r["customer"], "-") == g["value"]]
        want_t = ref.transitions(mine, level, STAGES)
        got = {(e["from"], e["to"]): e for e in g["edges"]}
        assert set(got) == set(want_t)
        for k, w in want_t.items():
            assert got[k]["moves"] == w["moves"] and got[k]["customers"] == w["customers"]


def test_cli_by_and_help(log_csv: str, model_file: str) -> None:
    for cmd in (paths_cmd, transitions_cmd):
        out = _invoke(cmd, [log_csv, "--model", model_file, "--by", "channel", "--format", "csv"])
        assert out.exit_code == 0, out.output
        assert out.output.splitlines()[0].startswith("channel,")
        table = _invoke(cmd, [log_csv, "--model", model_file, "--by", "channel"])
        assert table.exit_code == 0 and "channel = ads" in table.output
        help_text = _invoke(cmd, ["--help"]).output
        assert "Examples:" in help_text and "--by" in help_text and "--level" in help_text


# --- 7, 8. not measured is null with a reason ---------------------------------------------------

NO_SALE = journeys(
    {
        "c": [
            ("visit", "2024-01-01 10:00"),
            ("signup", "2024-01-02 10:00"),
            ("visit", "2024-01-03 10:00"),
        ],
        "d": [("visit", "2024-01-01 10:00")],
    }
)


def test_journeys_without_purchasers_say_not_measured() -> None:
    r = hg.journeys(NO_SALE, MODEL).to_dict()
    c = r["conformance"]
    assert c["purchasers"] == 0
    assert c["purchasers_ideal_share"] is None and "nobody reached sale" in c["purchasers_ideal_share_reason"]
    assert "purchase" in c["purchasers_ideal_share_reason"]  # names the stage's events and the fix
    assert r["deviations"] is None and "--goal" in r["deviations_reason"]
    trial = next(s for s in r["skips"] if s["stage"] == "trial")
    assert trial["reached"] == 0
    assert all(k["share"] is None and k["share_reason"] == "nobody reached trial" for k in trial["skipped"])
    text = hg.journeys(NO_SALE, MODEL).to_text()
    assert "not measured (nobody reached sale)" in text
    sale_row = [line for line in text.splitlines() if line.startswith("sale ")][-1]  # skip matrix
    assert "%" not in sale_row and "-" in sale_row


def test_fitness_without_moves_is_not_measured() -> None:
    r = hg.journeys(journeys({"d": [("visit", "2024-01-01 10:00")]}), MODEL).to_dict()
    c = r["conformance"]
    assert c["fitness_mean"] is None and c["fitness_median"] is None and "fitness_mean_reason" in c
    assert all(b["share"] is None and b["share_reason"] for b in c["fitness_buckets"])
    j = hg.journey(journeys({"d": [("visit", "2024-01-01 10:00")]}), MODEL, customer="d").to_dict()[
        "customer"
    ]
    assert j["fitness"] is None and "no moves" in j["fitness_reason"]
    assert j["skipped_before_goal"] is None and j["ideal_to_goal"] is None
    assert j["ideal_to_goal_reason"] == "he never reached sale"


def test_cli_prints_not_measured(tmp_path: Path, model_file: str) -> None:
    src = str(tmp_path / "nosale.csv")
    NO_SALE.to_csv(src, index=False)
    out = _invoke(journeys_cmd, [src, "--model", model_file])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "followed the ideal order to sale: not measured (nobody reached sale)" in text
    assert "deviations: not measured" in text
    csv = _invoke(journeys_cmd, [src, "--model", model_file, "--format", "csv"]).output
    assert "note" in csv.splitlines()[0] and "nobody reached trial" in csv


def test_followers_not_measured() -> None:
    r = hg.followers(LOG, MODEL, as_of="2024-01-01 12:00").to_dict()
    trial = next(s for s in r["by_stage"] if s["stage"] == "trial")
    assert trial["followers"] == 0 and trial["tenure_median_days"] is None
    assert trial["tenure_median_days_reason"] == "no follower is furthest at trial"


def test_report_journeys_section_shows_not_measured() -> None:
    j = hg.journeys(NO_SALE, MODEL).to_dict()
    part = journeys_part(j)
    assert 'class="stat nm"' in part.html and "not measured" in part.html
    assert "nobody reached sale" in part.html
    tile = part.html.split("Followed the ideal order", 1)[1].split("</div></div>", 1)[0]
    assert "0.0%" not in tile and "\u2014" not in tile
    assert "Deviations from the ideal order: not measured" in part.html
    assert part.toc_value == ""  # the table of contents shows no 0%


# --- 2. the report's Sankey --------------------------------------------------------------------


def _sankey(**kw: Any) -> Any:
    p = hg.paths(LOG, MODEL, **kw).to_dict()
    return p, sankey_figure(p, {}).data[0]


def test_sankey_columns_by_step_with_labels_and_ends() -> None:
    p, trace = _sankey(depth=3)
    nodes = p["sankey"]["nodes"]
    xs = list(trace.node.x)
    # one x per step: every node of a step in the same column, columns left to right
    by_step: dict[int, set[float]] = {}
    for n, x in zip(nodes, xs, strict=False):
        by_step.setdefault(n["step"], set()).add(round(x, 6))
    assert all(len(v) == 1 for v in by_step.values())
    col = [next(iter(by_step[s])) for s in sorted(by_step)]
    assert col == sorted(col) and col[0] < 0.01
    # a stage reached at step 2 is drawn in the column of step 2, not snapped to the right
    sale2 = next(i for i, n in enumerate(nodes) if n["step"] == 2 and n["name"] == "sale")
    assert xs[sale2] == pytest.approx(col[1]) and xs[sale2] < 0.9
    assert trace.arrangement == "fixed"
    # stage labels (the model's), not ids
    labels = list(trace.node.label)
    assert labels[0].startswith("Attention<br>") and any(lb.startswith("Sale<br>") for lb in labels)
    # the ends: eve's path (awareness alone) ends after step 1, into a node of column 2
    end_nodes = [i for i in range(len(nodes), len(labels))]
    assert end_nodes and all(labels[i] == "" for i in end_nodes)
    hover = list(trace.node.customdata)
    assert any("journey ends" in h for h in hover)
    links = list(zip(trace.link.source, trace.link.target, trace.link.value, strict=True))
    ends_from_step1 = sum(v for s, t, v in links if s == 0 and t in end_nodes)
    assert ends_from_step1 == nodes[0]["ends"] == 1
    # the cut: cat's path goes on beyond 3 nodes, into a "goes on" node after the last column
    assert any("goes on" in h for h in hover)
    assert max(xs) > max(col)


def test_sankey_labels_do_not_collide() -> None:
    """Within a column, the centres of labelled nodes are at least a two-line label apart."""
    many = {
        f"c{i}": [(e, f"2024-01-0{k + 1} 10:00") for k, e in enumerate(path)]
        for i, path in enumerate(
            [["visit"], ["signup"], ["trial"], ["purchase"], ["visit", "signup"], ["visit", "trial"]] * 3
            + [
                ["visit", "purchase"],
                ["signup", "trial"],
                ["trial", "purchase"],
                ["visit", "signup", "trial"],
            ]
        )
    }
    p = hg.paths(journeys(many), MODEL, depth=3, top=20).to_dict()
    fig = sankey_figure(p, {})
    trace = fig.data[0]
    plot = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    columns: dict[float, list[float]] = {}
    for x, y, label in zip(trace.node.x, trace.node.y, trace.node.label, strict=True):
        if label:
            columns.setdefault(round(x, 6), []).append(y * plot)
    assert any(len(ys) >= 3 for ys in columns.values())
    for ys in columns.values():
        ys.sort()
        assert all(b - a >= 2 * 12 for a, b in pairwise(ys)), ys


def test_sankey_with_to_draws_starts() -> None:
    p, trace = _sankey(end="sale", depth=3)
    hover = list(trace.node.customdata)
    assert any("starts at the next step" in h for h in hover)
    assert any("goes on" in h for h in hover)  # cut at the start: earlier steps
    names = [n["name"] for n in p["sankey"]["nodes"]]
    sale = [i for i, n in enumerate(names) if n == "sale"]
    labelled = [x for x, label in zip(trace.node.x, trace.node.label, strict=True) if label]
    assert len(sale) == 1 and trace.node.x[sale[0]] == max(labelled)  # X is the last column
    # ... and not a sink: an invisible tail after it, so its label is written to its right
    tail = [t for s_, t in zip(trace.link.source, trace.link.target, strict=True) if s_ == sale[0]]
    assert len(tail) == 1 and trace.node.label[tail[0]] == "" and trace.node.color[tail[0]] == "rgba(0,0,0,0)"
