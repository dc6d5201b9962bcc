"""Retention cohorts on a hand-checked log: twelve customers over five Monday weeks, every cell worked
out below (docs/semantics-retention.md has the same log as its worked example), on DuckDB and Spark.

Weeks: W0 = 2024-01-01, W1 = 01-08, W2 = 01-15, W3 = 01-22, W4 = 01-29. The last event is
2024-01-31 12:00, so W0-W3 have ended and W4 has not: every cell in W4 is null ("period not
complete"), never 0. Purchases carry revenue; the channel is on each customer's first event.

    c01 ads    visit 01-01 09:00, purchase 01-01 10:00 (10), visit 01-09, purchase 01-16 (20)
    c02 ads    visit 01-02, visit 01-03
    c03 seo    visit 01-03, login 01-10, login 01-24
    c04 seo    visit 01-05, purchase 01-23 (30)
    c05 ads    visit 01-08, purchase 01-09 (5), purchase 01-31 (5)
    c06 email  visit 01-09, visit 01-17
    c07 seo    visit 01-10, login 01-11
    c08 ads    visit 01-22 09:00 (first 01-15), purchase 01-22 10:00 (40)
    c09 email  visit 01-16
    c10 seo    visit 01-17 09:00, purchase 01-17 10:00 (15), purchase 01-25 (15)
    c11 ads    visit 01-23, login 01-24
    c12 email  visit 01-30, login 01-31 12:00
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest

import hourglass
from hourglass.interfaces.retention_api import retention
from hourglass.model.errors import SchemaError, SpecError

_E: list[tuple[str, str, str, float | None]] = [
    ("c01", "visit", "2024-01-01 09:00", None),
    ("c01", "purchase", "2024-01-01 10:00", 10.0),
    ("c01", "visit", "2024-01-09 09:00", None),
    ("c01", "purchase", "2024-01-16 09:00", 20.0),
    ("c02", "visit", "2024-01-02 09:00", None),
    ("c02", "visit", "2024-01-03 09:00", None),
    ("c03", "visit", "2024-01-03 09:00", None),
    ("c03", "login", "2024-01-10 09:00", None),
    ("c03", "login", "2024-01-24 09:00", None),
    ("c04", "visit", "2024-01-05 09:00", None),
    ("c04", "purchase", "2024-01-23 09:00", 30.0),
    ("c05", "visit", "2024-01-08 09:00", None),
    ("c05", "purchase", "2024-01-09 09:00", 5.0),
    ("c05", "purchase", "2024-01-31 09:00", 5.0),
    ("c06", "visit", "2024-01-09 09:00", None),
    ("c06", "visit", "2024-01-17 09:00", None),
    ("c07", "visit", "2024-01-10 09:00", None),
    ("c07", "login", "2024-01-11 09:00", None),
    ("c08", "visit", "2024-01-15 09:00", None),
    ("c08", "visit", "2024-01-22 09:00", None),
    ("c08", "purchase", "2024-01-22 10:00", 40.0),
    ("c09", "visit", "2024-01-16 09:00", None),
    ("c10", "visit", "2024-01-17 09:00", None),
    ("c10", "purchase", "2024-01-17 10:00", 15.0),
    ("c10", "purchase", "2024-01-25 09:00", 15.0),
    ("c11", "visit", "2024-01-23 09:00", None),
    ("c11", "login", "2024-01-24 09:00", None),
    ("c12", "visit", "2024-01-30 09:00", None),
    ("c12", "login", "2024-01-31 12:00", None),
]
CHANNEL = {"c01": "ads", "c02": "ads", "c05": "ads", "c08": "ads", "c11": "ads", "c03": "seo"}
CHANNEL |= {"c04": "seo", "c07": "seo", "c10": "seo", "c06": "email", "c09": "email", "c12": "email"}


def _log() -> pd.DataFrame:
    first: set[str] = set()
    rows = []
    for c, e, ts, rev in _E:
        rows.append(
            {"customer": c, "event": e, "timestamp": datetime.fromisoformat(ts), "revenue": rev}
            | {"channel": None if c in first else CHANNEL[c]}
        )
        first.add(c)
    return pd.DataFrame(rows)


LOG = _log()
N = None  # a cell of W4: the period has not ended by the data's end


def _matrix(d: dict[str, Any], key: str = "customers") -> dict[str, list[Any]]:
    return {c["cohort"]: [x[key] for x in c["cells"]] for c in d["cohorts"]}


def _sizes(d: dict[str, Any]) -> dict[str, int]:
    return {c["cohort"]: c["size"] for c in d["cohorts"]}


@pytest.fixture(scope="module")
def ev() -> Any:
    return hourglass.events(LOG)


def test_first_time_nth(ev: Any) -> None:
    d = retention(ev, periods=4).to_dict()
    assert d["observed_until"] == "2024-01-31T12:00:00"
    assert _sizes(d) == {"2024-01-01": 4, "2024-01-08": 3, "2024-01-15": 3, "2024-01-22": 1, "2024-01-29": 1}
    assert _matrix(d) == {
        # W0 (c01-c04): p0 c01 (purchase), c02 (visit); p1 c01, c03; p2 c01; p3 c03, c04; p4 = W4
        "2024-01-01": [2, 2, 1, 2, N],
        # W1 (c05-c07): p0 c05, c07; p1 c06; p2 nobody; p3 = W4
        "2024-01-08": [2, 1, 0, N, N],
        # W2 (c08-c10): p0 c10; p1 c08, c10; p2 = W4
        "2024-01-15": [1, 2, N, N, N],
        "2024-01-22": [1, N, N, N, N],  # c11's login on 01-24
        "2024-01-29": [N, N, N, N, N],  # c12: W4 itself has not ended
    }
    w0 = d["cohorts"][0]["cells"]
    assert w0[0]["share"] == 0.5 and w0[2]["share"] == 0.25
    assert w0[2]["share_low"] == pytest.approx(0.04558726, abs=1e-6)  # Wilson, 1 of 4
    assert w0[2]["share_high"] == pytest.approx(0.69936, abs=1e-5)
    assert w0[4]["customers_reason"].startswith("period not complete: 2024-01-29 ends 2024-02-05")
    assert d["cohorts"][-1]["complete"] is False and d["cohorts"][0]["complete"] is True
    # average: size-weighted over the cohorts whose period N has ended
    avg = d["average"]
    assert [a["customers"] for a in avg] == [6, 5, 1, 2, None]
    assert [a["size"] for a in avg] == [11, 10, 7, 4, 0]
    assert [a["cohorts"] for a in avg] == [4, 3, 2, 1, 0]
    assert [a["share"] for a in avg[:4]] == pytest.approx([6 / 11, 0.5, 1 / 7, 0.5])
    assert avg[4]["share_reason"] == "no cohort has period 4 complete"


def test_first_time_unbounded(ev: Any) -> None:
    d = retention(ev, periods=4, mode="unbounded").to_dict()
    # each member's last return period: W0 c01 2, c02 0, c03 3, c04 3; W1 c05 3, c06 1, c07 0;
    # W2 c08 1, c09 none, c10 1; W3 c11 0. Unbounded N counts last >= N (a return in W4 counts)
    assert _matrix(d) == {
        "2024-01-01": [4, 3, 3, 2, N],
        "2024-01-08": [3, 2, 1, N, N],
        "2024-01-15": [2, 2, N, N, N],
        "2024-01-22": [1, N, N, N, N],
        "2024-01-29": [N, N, N, N, N],
    }
    assert [a["share"] for a in d["average"][:4]] == pytest.approx([10 / 11, 7 / 10, 4 / 7, 2 / 4])


def test_first_time_against_recurring_purchase_cohorts(ev: Any) -> None:
    """Purchases: c01 W0 and W2, c04 W3, c05 W1 and W4, c08 W3, c10 W2 and W3."""
    first = retention(ev, periods=4, start="purchase", return_event="purchase").to_dict()
    assert _sizes(first) == {"2024-01-01": 1, "2024-01-08": 1, "2024-01-15": 1, "2024-01-22": 2}
    assert _matrix(first) == {
        "2024-01-01": [0, 0, 1, 0, N],  # c01 bought again on 01-16 (p2)
        "2024-01-08": [0, 0, 0, N, N],  # c05 again on 01-31: in W4, not complete
        "2024-01-15": [0, 1, N, N, N],  # c10 again on 01-25 (p1)
        "2024-01-22": [0, N, N, N, N],  # c04, c08
    }
    rec = retention(ev, periods=4, start="purchase", return_event="purchase", cohorts="recurring").to_dict()
    # every week with a purchase is a membership: c01 in W0 and W2, c10 in W2 and W3, c05 in W1 and W4
    assert _sizes(rec) == {
        "2024-01-01": 1,
        "2024-01-08": 1,
        "2024-01-15": 2,
        "2024-01-22": 3,
        "2024-01-29": 1,
    }
    assert _matrix(rec) == {
        "2024-01-01": [0, 0, 1, 0, N],
        "2024-01-08": [0, 0, 0, N, N],
        "2024-01-15": [0, 1, N, N, N],  # c01 (no later purchase), c10 (01-25)
        "2024-01-22": [0, N, N, N, N],  # c04, c08, c10 (its start 01-25 is the return itself: not after)
        "2024-01-29": [N, N, N, N, N],
    }


def test_a_start_stage_and_a_return_event(ev: Any) -> None:
    """Start: the hourglass model's stage 'sale' (purchase); return: the event 'visit'. c08's visit
    at 09:00 comes before its purchase at 10:00 in the same week: not a return."""
    d = retention(ev, periods=3, start="sale", return_event="visit").to_dict()
    assert d["spec"]["start"] == {"kind": "stage", "label": "stage sale", "events": ["purchase"]}
    assert _matrix(d) == {
        "2024-01-01": [0, 1, 0, 0],  # c01: visit 01-09
        "2024-01-08": [0, 0, 0, N],  # c05
        "2024-01-15": [0, 0, N, N],  # c10
        "2024-01-22": [0, N, N, N],  # c04, c08
    }


def test_revenue_retention(ev: Any) -> None:
    d = retention(ev, periods=4).to_dict()
    # revenue of the cohort's members at or after their start, per period
    assert _matrix(d, "revenue") == {
        "2024-01-01": [10.0, 0.0, 20.0, 30.0, N],  # c01 10, c01 20, c04 30
        "2024-01-08": [5.0, 0.0, 0.0, N, N],  # c05 5 (its 01-31 purchase is in W4)
        "2024-01-15": [15.0, 55.0, N, N, N],  # c10 15; c08 40 + c10 15
        "2024-01-22": [0.0, N, N, N, N],
        "2024-01-29": [N, N, N, N, N],
    }
    rr = _matrix(d, "revenue_retention")
    assert rr["2024-01-01"] == [1.0, 0.0, 2.0, 3.0, N]
    assert rr["2024-01-15"][:2] == pytest.approx([1.0, 55 / 15])
    w3 = d["cohorts"][3]["cells"][0]
    assert w3["revenue_retention"] is None
    assert w3["revenue_retention_reason"] == "the cohort had no revenue in its start period"
    # average: the sum of period-N revenue over the sum of period-0 revenue, complete cells only
    assert [a["revenue_retention"] for a in d["average"][:4]] == pytest.approx([1.0, 55 / 30, 20 / 15, 3.0])


def test_without_a_revenue_column_revenue_is_not_measured() -> None:
    d = retention(LOG.drop(columns=["revenue"]), periods=2).to_dict()
    cell = d["cohorts"][0]["cells"][1]
    assert cell["customers"] == 2 and cell["revenue"] is None
    assert "--revenue-col" in cell["revenue_reason"] and "--revenue-col" in cell["revenue_retention_reason"]
    assert d["average"][1]["revenue_retention"] is None


def test_by_channel_at_the_first_event(ev: Any) -> None:
    d = retention(ev, periods=4, by="channel").to_dict()
    assert d["breakdown"] == "channel"
    groups = {g["value"]: g for g in d["groups"]}
    assert [g["value"] for g in d["groups"]] == ["ads", "seo", "email"]  # most members first
    assert (groups["ads"]["members"], groups["seo"]["members"], groups["email"]["members"]) == (5, 4, 3)
    assert _matrix(groups["ads"]) == {
        "2024-01-01": [2, 1, 1, 0, N],  # c01, c02
        "2024-01-08": [1, 0, 0, N, N],  # c05
        "2024-01-15": [0, 1, N, N, N],  # c08
        "2024-01-22": [1, N, N, N, N],  # c11
    }
    assert _matrix(d) == _matrix(retention(ev, periods=4).to_dict())  # the whole is the sum of groups


def test_by_keeps_the_ten_largest_values_and_pools_the_rest() -> None:
    log = LOG.assign(plan=[f"p{int(c[1:]):02d}" for c in LOG.customer])
    log.loc[log.customer == "c11", "plan"] = "p00"  # p00: c11 alone, but first by name
    log.loc[log.customer == "c03", "plan"] = "p05"  # p05: c03 and c05, the largest group
    d = retention(log, periods=1, by="plan").to_dict()
    # 11 values: p05 (2 members), then one member each, ties by name: p00, p01, p02, p04, p06, ...,
    # p10; the 11th, p12 (c12), is pooled as (other), listed last
    values = [g["value"] for g in d["groups"]]
    assert values == ["p05", "p00", "p01", "p02", "p04", "p06", "p07", "p08", "p09", "p10", "(other)"]
    assert [g["members"] for g in d["groups"]] == [2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]


def test_until_ends_the_data_and_since_selects_cohorts(ev: Any) -> None:
    d = retention(ev, periods=2, since="2024-01-08", until="2024-01-29").to_dict()
    assert d["observed_until"] == "2024-01-29T00:00:00"
    # c01-c04 started before --since: in no cohort (first-time); W4 is outside the range
    assert _matrix(d) == {"2024-01-08": [2, 1, 0], "2024-01-15": [1, 2, N], "2024-01-22": [1, N, N]}


def test_periods_day_and_month() -> None:
    d = retention(LOG, period="month", periods=1).to_dict()
    # everyone in January 2024; the data ends 01-31 12:00, so January has not ended
    assert _sizes(d) == {"2024-01": 12} and _matrix(d) == {"2024-01": [N, N]}
    day = retention(LOG, period="day", periods=1).to_dict()
    assert _matrix(day)["2024-01-01"] == [1, 0]  # c01's purchase an hour after his visit
    assert _matrix(day)["2024-01-02"] == [0, 1]  # c02 again on 01-03


def test_bad_input() -> None:
    with pytest.raises(SpecError) as e:
        retention(LOG, period="fortnight")
    assert e.value.code == "HG175"
    with pytest.raises(SpecError) as e:
        retention(LOG, periods=0)
    assert e.value.code == "HG176"
    with pytest.raises(SpecError) as e:
        retention(LOG, start="purchase", model="funnel4", return_event="purchas")
    assert e.value.code == "HG178" and "did you mean 'purchase'" in e.value.message
    with pytest.raises(SchemaError) as missing:
        retention(LOG, by="chanel")
    assert missing.value.code == "HG306"
    with pytest.raises(SpecError) as e:
        retention(LOG, since="2024-02-01", until="2024-01-01")
    assert e.value.code == "HG108"


def test_on_every_engine(engine: hourglass.Engine, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("ret") / "hand.parquet"
    LOG.to_parquet(path, index=False)
    ev = hourglass.events(str(path), engine=engine)
    cases: list[dict[str, Any]] = [
        {},
        {"mode": "unbounded", "by": "channel"},
        {"start": "purchase", "cohorts": "recurring"},
    ]
    for kw in cases:
        got = retention(ev, periods=4, **kw).to_dict()
        want = retention(LOG, periods=4, **kw).to_dict()
        got.pop("meta"), want.pop("meta")
        assert got == want
    assert _matrix(retention(ev, periods=4).to_dict())["2024-01-01"] == [2, 2, 1, 2, N]
