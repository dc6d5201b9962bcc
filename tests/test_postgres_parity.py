"""Every analysis inside PostgreSQL (issue 17): the simulated shop and the hand-checked logs are
loaded into a real PostgreSQL server (the ``postgres_url`` fixture), each analysis runs there through
Ibis with the table as its source, and its whole result (``to_dict()`` without ``meta``) equals
DuckDB's on the same events (floats to 1e-9)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.interfaces import journeys_api as hj
from test_attribution import WORKED, log
from test_journeys_hand import LOG, MODEL

Run = Callable[[Any, Any], Any]


@pytest.fixture(scope="module")
def pg(postgres_url: str, demo_parquet: Path) -> hourglass.Engine:
    """The PostgreSQL engine with tables ``shop`` (the simulated shop of ``demo_parquet``), ``hand``
    (the journeys' hand-checked log) and ``worked`` (attribution's worked example)."""
    engine = hourglass.connect(postgres_url)
    con = engine.con
    con.create_table("shop", pq.read_table(demo_parquet), overwrite=True)
    con.create_table("hand", LOG, overwrite=True)
    con.create_table("worked", log(WORKED), overwrite=True)
    return engine  # the process's connection to the server (engine/session.py keeps one per server)


def _plain(result: Any) -> Any:
    """A result as plain data without ``meta`` (engine, source and timings differ by design)."""
    d = result if isinstance(result, dict) else result.to_dict()
    return _strip(d)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "meta"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _same(got: Any, want: Any, where: str = "") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), (where, got, want)
        for k in want:
            _same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), (where, got, want)
    else:
        assert got == want, (where, got, want)


def _by_customer(d: dict[str, Any]) -> dict[str, Any]:
    """The CLV summary's rows come in no particular order (one per purchaser): sorted."""
    return {**d, "summary": sorted(d["summary"], key=lambda r: r["customer"])}


SHOP: list[tuple[str, Run]] = [
    ("funnel", lambda s, e: hourglass.funnel(s, ["visit", "signup", "purchase"], window="30d", engine=e)),
    ("funnel-model", lambda s, e: hourglass.funnel(s, model="hourglass", window="60d", engine=e)),
    (
        "funnel-strict",
        lambda s, e: hourglass.funnel(
            s, ["visit", "signup", "purchase"], window="14d", mode="strict_order", engine=e
        ),
    ),
    (
        "funnel-any",
        lambda s, e: hourglass.funnel(
            s, ["signup", "visit", "purchase"], window="14d", mode="any_order", engine=e
        ),
    ),
    ("funnel-open", lambda s, e: hourglass.funnel(s, model="funnel4", window="30d", open=True, engine=e)),
    (
        "funnel-by",
        lambda s, e: hourglass.funnel(
            s, ["visit", "signup", "purchase"], window="30d", by="channel", engine=e
        ),
    ),
    (
        "funnel-exclude",
        lambda s, e: hourglass.funnel(
            s,
            ["visit", "purchase"],
            window="30d",
            since="2024-02-01",
            until="2024-04-01",
            exclude=["complaint"],
            engine=e,
        ),
    ),
    (
        "funnel-where",
        lambda s, e: hourglass.funnel(
            s,
            [{"name": "big_order", "events": ["purchase", "repeat_*"], "where": ["revenue > 50"]}, "review"],
            window="60d",
            engine=e,
        ),
    ),
    ("lifecycle", lambda s, e: hourglass.lifecycle(s, "hourglass", engine=e)),
    ("journeys", lambda s, e: hj.journeys(s, "hourglass", by="channel", engine=e)),
    ("transitions", lambda s, e: hj.transitions(s, "hourglass", by="channel", engine=e)),
    ("transitions-event", lambda s, e: hj.transitions(s, None, level="event", collapse=False, engine=e)),
    ("paths", lambda s, e: hj.paths(s, "hourglass", depth=8, top=15, by="channel", engine=e)),
    ("paths-start", lambda s, e: hj.paths(s, None, level="event", start="signup", depth=4, engine=e)),
    ("paths-end", lambda s, e: hj.paths(s, "funnel4", end="action", engine=e)),
    ("journey-map", lambda s, e: hj.journey(s, "hourglass", sample=2, clusters=3, engine=e)),
    ("followers", lambda s, e: hj.followers(s, "hourglass", engine=e)),
    ("flywheel", lambda s, e: hourglass.flywheel(s, engine=e)),
    ("flywheel-by", lambda s, e: hourglass.flywheel(s, by="channel", period="quarter", engine=e)),
    (
        "friction",
        lambda s, e: hourglass.friction(s, frictions="delivery_late,complaint", within="60d", engine=e),
    ),
    (
        "diagnose",
        lambda s, e: hourglass.diagnose(s, since="2024-03-01", baseline="2024-01-01..2024-03-01", engine=e),
    ),
    ("retention", lambda s, e: hourglass.retention(s, engine=e)),
    ("retention-by", lambda s, e: hourglass.retention(s, by="channel", period="month", engine=e)),
    ("clv-summary", lambda s, e: _by_customer(hourglass.clv_summary(s, engine=e))),
    (
        "attribution",
        lambda s, e: hourglass.attribution(s, conversion="repeat", markov_order=2, engine=e),
    ),
    (
        "attribution-stages",
        lambda s, e: hourglass.attribution(
            s, conversion="sale", credit_model="markov", markov_order=2, max_channels=4, engine=e
        ),
    ),
]

HAND: list[tuple[str, Run]] = [
    ("funnel", lambda s, e: hourglass.funnel(s, model=MODEL, window="3d", engine=e)),
    ("lifecycle", lambda s, e: hourglass.lifecycle(s, MODEL, engine=e)),
    ("journeys", lambda s, e: hj.journeys(s, MODEL, by="channel", engine=e)),
    ("paths", lambda s, e: hj.paths(s, MODEL, end="sale", depth=3, by="channel", engine=e)),
    ("transitions", lambda s, e: hj.transitions(s, MODEL, engine=e)),
    ("journey", lambda s, e: hj.journey(s, MODEL, customer="cat", engine=e)),
    ("followers", lambda s, e: hj.followers(s, MODEL, engine=e)),
]


@pytest.fixture(scope="module")
def shop_events(pg: hourglass.Engine) -> Any:
    return hourglass.events("shop", engine=pg)


@pytest.fixture(scope="module")
def shop_duckdb(demo_parquet: Path) -> Any:
    return hourglass.events(str(demo_parquet))


@pytest.mark.parametrize("i", range(len(SHOP)), ids=[name for name, _ in SHOP])
def test_the_shop_in_postgres_equals_duckdb(
    i: int, shop_events: Any, shop_duckdb: Any, pg: hourglass.Engine
) -> None:
    name, run = SHOP[i]
    want = _plain(run(shop_duckdb, "duckdb"))
    _not_trivial(name, want)
    _same(_plain(run(shop_events, pg)), want)


def _not_trivial(name: str, want: dict[str, Any]) -> None:
    """A parity test over empty results would prove nothing."""
    if name == "lifecycle":  # with after-sale, referrals and channels
        assert want["purchasers"] > 50 and want["after_sale"]["win_back"]
        assert want["referrals"]["referees"] > 0 and len(want["channels"]) > 2
    elif name == "friction":
        assert len(want["stalls"]) > 3 and len(want["frictions"]) > 2
    elif name.startswith("funnel"):
        rows = want["groups"][0]["steps"] if "groups" in want else want["steps"]
        assert rows[0]["customers"] > 50 and max(r["customers"] for r in rows[1:]) > 0


@pytest.mark.parametrize("i", range(len(HAND)), ids=[name for name, _ in HAND])
def test_the_hand_log_in_postgres_equals_duckdb(i: int, pg: hourglass.Engine) -> None:
    _, run = HAND[i]
    _same(_plain(run("hand", pg)), _plain(run(LOG, "duckdb")))


def test_the_hand_checked_figures_in_postgres(pg: hourglass.Engine) -> None:
    j = hj.journeys("hand", MODEL, by="channel", engine=pg).to_dict()
    assert [e["customers"] for e in j["entry"]] == [4, 1, 0, 0]
    assert j["conformance"]["moves"] == {"total": 9, "ideal": 6, "back": 1, "skip": 2}
    r = hourglass.attribution("worked", conversion="purchase", engine=pg)
    assert r.credits["markov"] == pytest.approx({"ads": 0.75, "email": 27 / 16, "search": 9 / 16})
    assert r.non_converting_journeys == 2


def test_the_lifecycle_command_gives_duckdbs_json(
    pg: hourglass.Engine, postgres_url: str, demo_parquet: Path
) -> None:
    """The issue's 'done when': ``hourglass lifecycle ... --engine postgres://...`` prints DuckDB's
    JSON (a process of its own: the command leaves its connection to the exit)."""
    hourglass_cli = str(Path(sys.executable).with_name("hourglass"))

    def run(*args: str) -> Any:
        res = subprocess.run(
            [hourglass_cli, "lifecycle", *args, "--format", "json"], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stderr
        return _plain(json.loads(res.stdout))

    _same(run("shop", "--engine", postgres_url), run(str(demo_parquet)))
