"""Not measured is not zero (docs/adr/0006-not-measured.md) in the lifecycle: a log without the
after-sale events gives null and a reason for each metric (JSON), "not measured" in the table and
the report, never 0.0%; the same log with the events gives numbers, and a real zero stays 0. Also
the counts' label ("ever entered"), ``--by`` (hand-checked and against plain Python on random
logs) and ``--goal``."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from hourglass.interfaces.cli import cli
from hourglass.interfaces.lifecycle_api import lifecycle
from hourglass.interfaces.reports._lifecycle_parts import build_parts
from journeys import journeys

# a shop that logs visits, signups and purchases only (no return, support, offer, loyalty,
# referral or review events; no revenue, no referrer column)
BARE = {
    "ann": [
        ("visit", "2024-01-01 10:00", {"channel": "ads"}),
        ("signup", "2024-01-01 11:00", {"channel": "ads"}),
        ("purchase", "2024-01-02 10:00", {"channel": "ads"}),
        ("repeat_purchase", "2024-01-09 10:00", {"channel": "ads"}),
    ],
    "ben": [("visit", "2024-01-03 10:00", {"channel": "search"}), ("purchase", "2024-01-04 10:00")],
    "cid": [("visit", "2024-01-05 10:00", {"channel": None}), ("signup", "2024-01-05 12:00")],
}
BLOCKS = ("remorse", "support", "experience_gap", "win_back", "loyalty")


def _write(log: dict[str, Any], tmp_path: Path, name: str = "events.parquet") -> str:
    path = tmp_path / name
    journeys(log).to_parquet(path)
    return str(path)


def _cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def _with_after_sale_events() -> dict[str, Any]:
    log = {k: list(v) for k, v in BARE.items()}
    log["ann"] += [
        ("return", "2024-01-03 10:00"),
        ("support_contact", "2024-01-03 11:00"),
        ("support_resolved", "2024-01-03 15:00"),
        ("offer_sent", "2024-01-05 10:00", {"offer": "W10"}),
        ("offer_redeemed", "2024-01-06 10:00", {"offer": "W10"}),
        ("loyalty_join", "2024-01-10 10:00"),
    ]
    return log


def test_absent_events_are_null_with_a_reason(tmp_path: Path) -> None:
    code, out, err = _cli("lifecycle", _write(BARE, tmp_path), "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    after = d["after_sale"]
    for block in BLOCKS:
        assert after[block] is None, block
        assert "--set" in after[f"{block}_reason"], block  # says which setting maps it
    assert "remorse_events" in after["remorse_reason"] and "loyalty_events" in after["loyalty_reason"]
    # a stage with no event in the log: null counts with the reason, not 0
    trust = next(s for s in d["stages"] if s["stage"] == "trust")
    assert trust["entered"] is None and trust["measured"] is False
    assert "no event of stage 'trust'" in trust["entered_reason"]
    # no referrer column: the K-factor and the referral loop say so
    assert d["k_factor"] is None and "--referrer-col" in d["k_factor_reason"]
    assert d["referrals"] is None and d["referrals_reason"] == d["k_factor_reason"]
    # channels: no revenue column, no spend table
    web = d["channels"][0]
    assert web["revenue_per_customer"] is None and "--revenue-col" in web["revenue_per_customer_reason"]
    assert web["cac"] is None and "--spend" in web["cac_reason"]
    # measured things keep their numbers: ann bought twice, ben once
    assert (d["purchasers"], d["repeat_rate"]) == (2, 0.5)
    assert d["meta"]["count_definition"] == d["count_definition"]
    assert "ever entered" in d["count_definition"] and "in order within" in d["count_definition"]


def test_the_table_says_not_measured_never_zero(tmp_path: Path) -> None:
    code, out, err = _cli("lifecycle", _write(BARE, tmp_path))
    assert code == 0, err
    lines = {ln.split(":", 1)[0]: ln for ln in out.splitlines() if ":" in ln}
    for label in ("buyer's remorse", "support", "experience gap", "win-back", "loyalty", "referral loop"):
        assert label in lines and "not measured (" in lines[label], label
        assert " 0.0%" not in lines[label], label
    assert "ever entered" in out  # the counts' definition, in the title and the column header
    assert "not measured" in next(ln for ln in out.splitlines() if ln.startswith("│ trust"))
    code, out, err = _cli("lifecycle", _write(BARE, tmp_path), "--format", "csv")
    assert code == 0, err
    rows = list(pd.read_csv(pd.io.common.StringIO(out)).itertuples())
    trust = next(r for r in rows if r.stage == "trust")
    assert pd.isna(trust.entered) and "no event of stage 'trust'" in trust.note


def test_present_events_give_numbers_and_real_zeros(tmp_path: Path) -> None:
    d = lifecycle(_write(_with_after_sale_events(), tmp_path), referrals=False).to_dict()
    after = d["after_sale"]
    assert after["remorse"]["rate"] == 0.5  # ann of 2 purchasers
    assert (after["support"]["contacts"], after["support"]["resolved_share"]) == (1, 1.0)
    assert after["support"]["median_time_to_resolve_s"] == 4 * 3600
    assert after["experience_gap"]["share"] == 0.5  # ann's return is a negative experience
    assert after["experience_gap"]["recovery_rate"] == 1.0  # and she bought again on Jan 9
    assert [(o["offer"], o["sent"], o["redeemed"]) for o in after["win_back"]] == [("W10", 1, 1)]
    assert (after["loyalty"]["members"], after["loyalty"]["non_members"]) == (1, 1)
    # loyalty without a revenue column: the revenue comparison is not measured, the rest is
    assert after["loyalty"]["member_revenue_per_customer"] is None
    assert "--revenue-col" in after["loyalty"]["member_revenue_per_customer_reason"]
    # a real zero: the return events exist, but the one return is not within 1 h of a purchase
    d = lifecycle(
        _write(_with_after_sale_events(), tmp_path, "b.parquet"),
        after_sale={"remorse_within": "1h"},
        referrals=False,
    ).to_dict()
    assert d["after_sale"]["remorse"]["rate"] == 0.0 and "rate_reason" not in d["after_sale"]["remorse"]


def test_the_report_shows_grey_not_measured_tiles(tmp_path: Path) -> None:
    d = lifecycle(_write(BARE, tmp_path)).to_dict()
    page = "".join(p.html for p in build_parts(d, None))
    assert page.count(">not measured<") >= 6  # remorse, support, gap, win-back, loyalty, K-factor, ...
    assert "Buyer&#x27;s remorse" in page and "--set remorse_events=EVENT" in page
    assert ">0.0%<" not in page.split("After the sale", 1)[1].split('id="channels"', 1)[0]
    assert "not significant" not in page
    assert "Ever entered" in page and "in order within its window" in page
    assert "K-factor" in page and "--referrer-col" in page  # a grey tile that says why


# --by: the column's value at the customer's first event (top 10 + "(other)"; no value: null)
BY_LOG = {
    "a": [("visit", "2024-01-01 10:00", {"src": "ads"}), ("purchase", "2024-01-02 10:00", {"src": "mail"})],
    "b": [("visit", "2024-01-01 11:00", {"src": "ads"})],
    "c": [("signup", "2024-01-01 09:00", {"src": None}), ("purchase", "2024-01-03 10:00", {"src": "ads"})],
    "d": [("visit", "2024-01-02 10:00", {"src": "mail"}), ("signup", "2024-01-02 11:00", {"src": "ads"})],
}


def test_by_hand_checked(tmp_path: Path) -> None:
    code, out, err = _cli("lifecycle", _write(BY_LOG, tmp_path), "--by", "src", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["breakdown"] == "src"
    got = {
        g["value"]: (g["customers"], g["purchasers"], {s["stage"]: s["entered"] for s in g["stages"]})
        for g in d["groups"]
    }
    # a and b: ads at their first event (a's purchase says mail: not his first event); d: mail;
    # c's first event has no value: the null group
    assert got["ads"][:2] == (2, 1) and got["mail"][:2] == (1, 0) and got[None][:2] == (1, 1)
    assert got["ads"][2]["awareness"] == 2 and got["mail"][2]["interest"] == 1
    assert [g["value"] for g in d["groups"]] == ["ads", "mail", None]
    # a stage with no event anywhere is not measured in every group; a stage with events is a
    # real 0 in a group that never entered it
    assert all(g["stages"][2]["entered"] is None for g in d["groups"])  # trust
    assert got["mail"][2]["sale"] == 0
    code, out, err = _cli("lifecycle", _write(BY_LOG, tmp_path, "x.parquet"), "--by", "scr")
    assert code == 2 and "HG306" in err and "did you mean 'src'" in err


def _reference_by(df: pd.DataFrame, stages: dict[str, tuple[str, ...]], top: int) -> dict[Any, Any]:
    """Plain Python: each customer's value at his first event (ties: the smallest value, no value
    last), the top values by customers, and the customers per group who ever entered each stage."""
    firsts: dict[str, tuple[datetime, int, str]] = {}
    entered: dict[str, set[str]] = {}
    for r in df.itertuples():
        value = None if r.src is None or r.src != r.src else str(r.src)
        key = (r.timestamp.to_pydatetime(), value is None, value or "")
        if r.customer not in firsts or key < firsts[r.customer]:
            firsts[r.customer] = key  # type: ignore[assignment]
        for name, events in stages.items():
            if r.event in events:
                entered.setdefault(r.customer, set()).add(name)
    value_of = {c: (None if k[1] else k[2]) for c, k in firsts.items() if c in entered}
    counts = Counter(v for v in value_of.values() if v is not None)
    kept = {v for v, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:top]}
    out: dict[Any, Any] = {}
    for c, v in value_of.items():
        g = v if v is None or v in kept else "(other)"
        n, per = out.get(g, (0, Counter()))
        per.update(entered[c])
        out[g] = (n + 1, per)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_by_equals_plain_python_on_random_logs(seed: int, tmp_path: Path) -> None:
    rnd = random.Random(seed)
    names = ["visit", "signup", "trial_start", "purchase", "repeat_purchase", "review", "other"]
    values = [None, *(f"v{i}" for i in range(14))]  # more than 10 values: an "(other)" group
    log = {
        f"c{i}": [
            (
                rnd.choice(names),
                datetime(2024, 1, 1) + timedelta(hours=rnd.randrange(0, 48)),
                {"src": rnd.choice(values)},
            )
            for _ in range(rnd.randrange(1, 6))
        ]
        for i in range(120)
    }
    path = _write(log, tmp_path)
    result = lifecycle(path, by="src", referrals=False, channels=False)
    stages = {
        "awareness": ("ad_click", "visit"),
        "interest": ("signup", "subscribe", "callback_request"),
        "trial": ("trial_start", "sample_request", "demo"),
        "sale": ("purchase",),
        "repeat": ("repeat_purchase", "support_resolved", "loyalty_join"),
        "word_of_mouth": ("review", "referral_sent"),
    }
    want = _reference_by(pd.read_parquet(path), stages, 10)
    got = {g.value: (g.customers, {s.stage: s.entered for s in g.stages}) for g in result.groups}
    assert set(got) == set(want)
    for value, (n, per) in want.items():
        assert got[value][0] == n, value
        for stage in stages:
            assert got[value][1][stage] == per.get(stage, 0), (value, stage)
    assert sum(g.customers for g in result.groups) == result.customers


def test_goal_and_the_renamed_sale_stage(tmp_path: Path) -> None:
    src = _write(BARE, tmp_path)
    code, out, err = _cli("lifecycle", src, "--model", "flywheel", "--goal", "engage", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["sale_stage"] == "engage"
    code, out, err = _cli("lifecycle", src, "--sale-stage", "sale")
    assert code == 2 and "HG144" in err and "--goal sale" in err


def test_by_and_not_measured_on_every_engine(engine: Any, tmp_path: Path) -> None:
    """The breakdown and the presence of events are expressions: the same on DuckDB and Spark."""
    src = _write(BY_LOG, tmp_path)
    d = lifecycle(src, by="src", referrals=False, channels=False, engine=engine).to_dict()
    got = {g["value"]: (g["customers"], [s["entered"] for s in g["stages"]]) for g in d["groups"]}
    assert got == {
        "ads": (2, [2, 0, None, None, 1, None, None]),
        "mail": (1, [1, 1, None, None, 0, None, None]),
        None: (1, [0, 1, None, None, 1, None, None]),
    }
    assert d["after_sale"]["remorse"] is None and "remorse_events" in d["after_sale"]["remorse_reason"]
