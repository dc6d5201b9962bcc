"""Diagnose (docs/semantics-friction.md, "Diagnose"): a hand-checked log (ranking, revenue lost,
two-proportion tests and Benjamini-Hochberg by hand), --by, the simulator's planted weak sale
recovered, the spec's errors, DuckDB = Spark."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces.friction_api import diagnose
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel

MODEL = JourneyModel.from_dict(
    {
        "name": "shop",
        "kind": "hourglass",
        "sale": "purchase",
        "stages": [
            {"name": "visit", "events": ["visit"]},
            {"name": "purchase", "events": ["purchase"]},
            {"name": "repeat", "events": ["repeat"]},
        ],
    }
)
JAN, FEB = datetime(2024, 1, 3, 10), datetime(2024, 2, 3, 10)
# customer -> (channel, first day, [(event, revenue)] one day apart)
HAND: dict[str, tuple[str, datetime, list[tuple[str, float | None]]]] = {
    "b1": ("ads", JAN, [("visit", None), ("purchase", 10.0), ("repeat", 5.0)]),
    "b2": ("ads", JAN, [("visit", None), ("purchase", 10.0)]),
    "b3": ("mail", JAN, [("visit", None)]),
    "b4": ("mail", JAN, [("visit", None), ("purchase", 10.0), ("repeat", 5.0)]),
    "p1": ("ads", FEB, [("visit", None)]),
    "p2": ("ads", FEB, [("visit", None)]),
    "p3": ("mail", FEB, [("visit", None), ("purchase", 20.0)]),
    "p4": ("mail", FEB, [("visit", None), ("purchase", 10.0), ("repeat", 5.0)]),
}


def _log() -> pd.DataFrame:
    rows = [
        {"customer": c, "event": e, "timestamp": t0 + timedelta(days=i), "channel": ch, "revenue": rev}
        for c, (ch, t0, evs) in HAND.items()
        for i, (e, rev) in enumerate(evs)
    ]
    return pd.DataFrame(rows).astype({"revenue": "float64"})


def _p(k1: int, n1: int, k0: int, n0: int) -> float:
    pooled = (k1 + k0) / (n1 + n0)
    z = (k1 / n1 - k0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    return math.erfc(abs(z) / math.sqrt(2))


def test_hand_log_against_a_baseline() -> None:
    r = diagnose(_log(), MODEL, since="2024-02-01", baseline="2024-01-01..2024-02-01").to_dict()
    st = {s["stage"]: s for s in r["stages"]}
    v, p = st["visit"], st["purchase"]
    assert (v["entered"], v["continued"], v["lost"]) == (4, 2, 2)
    # those who went on from visit brought 20 (p3) and 15 (p4): 17.5 each, 2 lost -> 35
    assert v["revenue_per_continuer"] == pytest.approx(17.5) and v["revenue_lost"] == pytest.approx(35.0)
    assert (p["entered"], p["continued"], p["lost"], p["revenue_lost"]) == (2, 1, 1, 15.0)
    assert (v["rank_customers"], p["rank_customers"], v["rank_revenue"]) == (1, 2, 1)
    assert st["repeat"]["conversion"] is None and "last stage" in st["repeat"]["conversion_reason"]
    assert p["remedy"] == "feedback, reacting to dissatisfaction, extra services"
    assert v["remedy"] is None and v["remedy_reason"]
    cmp = {c["stage"]: c for c in r["comparisons"]}
    assert set(cmp) == {"visit", "purchase"}
    pv, pp = _p(2, 4, 3, 4), _p(1, 2, 2, 3)
    assert pv == pytest.approx(0.465209, abs=1e-6) and pp == pytest.approx(0.709388, abs=1e-6)
    assert cmp["visit"]["p_value"] == pytest.approx(pv) and cmp["purchase"]["p_value"] == pytest.approx(pp)
    # BH with m = 2: q(0.4652) = min(0.4652 * 2 / 1, q(0.7094)) = 0.7094; q(0.7094) = 0.7094 * 2 / 2
    assert cmp["visit"]["q_value"] == pytest.approx(pp) and cmp["purchase"]["q_value"] == pytest.approx(pp)
    assert not cmp["visit"]["significant"]
    assert cmp["visit"]["baseline_conversion"] == pytest.approx(0.75)
    assert r["findings"][0].startswith("visit loses the most customers: 2 of the 4 who entered it (50.0%)")
    assert "worth 35" in r["findings"][0]
    assert r["findings"][-1].startswith("No stage's share who went on differs significantly (2 tests")


def test_by_compares_each_value_with_the_others() -> None:
    r = diagnose(_log(), MODEL, by="channel").to_dict()
    assert r["compare"] == "by channel"
    cmp = {(c["group"], c["stage"]): c for c in r["comparisons"]}
    ads = cmp[("ads", "visit")]  # ads: b1, b2, p1, p2 -> 2 went on; the others (mail): 3 of 4
    assert (ads["entered"], ads["continued"], ads["baseline_entered"], ads["baseline_continued"]) == (
        4,
        2,
        4,
        3,
    )
    assert ads["p_value"] == pytest.approx(_p(2, 4, 3, 4))
    assert len(r["comparisons"]) == 4 and all(c["q_value"] is not None for c in r["comparisons"])


def test_no_comparison_says_why_and_errors() -> None:
    r = diagnose(_log(), MODEL).to_dict()
    assert r["comparisons"] == [] and "--baseline" in r["comparisons_reason"]
    with pytest.raises(SpecError) as e:
        diagnose(_log(), MODEL, baseline="2024-01-01", by="channel")
    assert e.value.code == "HG169"
    with pytest.raises(SpecError) as e:
        diagnose(_log(), MODEL, baseline="2024-01-01")
    assert e.value.code == "HG170"
    with pytest.raises(SpecError) as e:
        diagnose(_log(), MODEL, baseline="2024-02-01..2024-01-01")
    assert e.value.code == "HG170"
    with pytest.raises(SpecError) as e:
        diagnose(_log(), MODEL, alpha=1.5)
    assert e.value.code == "HG171"


def test_the_planted_weak_sale_is_found(tmp_path: Path) -> None:
    # from day 90 on, P(purchase | add_to_cart) is 0.4 times what it was
    table, _ = simulate_shop(8_000, seed=5, weak_close_multiplier=0.4, weak_close_from_day=90)
    path = tmp_path / "weak.parquet"
    pq.write_table(table, path)
    r = diagnose(str(path), "hourglass", since="2024-03-31", baseline="2024-01-01..2024-03-31")
    flagged = [c for c in r.comparisons if c["significant"]]
    assert [c["stage"] for c in flagged] == ["trial"]  # lost at trial: the step into the sale
    trial = flagged[0]
    # the share who buy after a trial is p_cart x p_close: the planted 0.4 within sampling error
    assert 0.25 < trial["conversion"] / trial["baseline_conversion"] < 0.6
    assert any("Trial" in f and "guarantees and reviews" in f for f in r.findings)
    # the same log without the planted effect flags nothing there
    table, _ = simulate_shop(8_000, seed=5)
    pq.write_table(table, path)
    r = diagnose(str(path), "hourglass", since="2024-03-31", baseline="2024-01-01..2024-03-31")
    assert not any(c["significant"] for c in r.comparisons if c["stage"] == "trial")


@pytest.mark.spark
def test_spark_equals_duckdb(tmp_path: Path, spark_engine: hourglass.Engine) -> None:
    path = tmp_path / "hand.parquet"
    _log().to_parquet(path)
    kw: dict[str, Any] = dict(since="2024-02-01", baseline="2024-01-01..2024-02-01")
    a = diagnose(str(path), MODEL, **kw).to_dict()
    b = diagnose(str(path), MODEL, engine=spark_engine, **kw).to_dict()
    a.pop("meta"), b.pop("meta")
    assert a == b
