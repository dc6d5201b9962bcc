"""The report's "funnel over time" section shows the events needed to convert (issue 20): per step,
the customers, the median and p90 of the events and sessions from entry (a session gap of 30m, the
CLI's default) equal ``hourglass.events_to_convert``'s for the same funnel, plain and held; a step
no event matches says "not measured" with its reason, never 0 (docs/adr/0006)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

import hourglass
from hourglass.interfaces.report_api import ReportResult, report

# a: two sessions before the cart (a 60-minute gap); b: the sale the next day; c: browses only
LOG = """customer,event,timestamp,device
a,catalog,2024-01-01 10:00:00,mobile
a,catalog,2024-01-01 11:00:00,desktop
a,cart,2024-01-01 11:10:00,desktop
a,payment_done,2024-01-01 11:20:00,desktop
b,catalog,2024-01-02 10:00:00,mobile
b,search,2024-01-02 10:03:00,mobile
b,cart,2024-01-02 10:05:00,mobile
b,payment_done,2024-01-03 09:00:00,mobile
c,catalog,2024-01-03 10:00:00,mobile
c,catalog,2024-01-03 10:05:00,mobile
d,catalog,2024-01-04 10:00:00,desktop
d,cart,2024-01-04 10:01:00,mobile
"""

SHOP = """name: shop
label: My shop
kind: hourglass
sale: sale
purchases: [payment_done]
stages:
  - {name: browse, label: Browse, events: [catalog]}
  - {name: cart, label: Cart, events: [cart]}
  - {name: sale, label: Sale, events: [payment_done]}
  - {name: refund, label: Refund, events: [refund_done]}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("events")
    (d / "log.csv").write_text(LOG, encoding="utf-8")
    (d / "shop.yaml").write_text(SHOP, encoding="utf-8")
    return d


_RUNS: dict[str, tuple[ReportResult, str]] = {}


def _run(files: Path, **options: Any) -> tuple[ReportResult, str]:
    """The report (one per options, for the module) and its funnel over time section."""
    name = "held" if options else "plain"
    if name in _RUNS:
        return _RUNS[name]
    res = report(
        files / "log.csv", [str(files / "shop.yaml")], out=files / f"{name}.html", extras=["none"], **options
    )
    page = res.path.read_text(encoding="utf-8")
    _RUNS[name] = res, page.split('id="funnel-time"', 1)[1].split("</section>", 1)[0]
    return _RUNS[name]


def _table(section: str) -> dict[str, list[str]]:
    """The events table's cells (text) by step."""
    body = section.split("<th>sessions p90</th></tr></thead><tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body)
    cells = [
        [unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows
    ]
    return {c[0]: c[1:] for c in cells}


def _expected(files: Path, **options: Any) -> dict[str, Any]:
    got = hourglass.events_to_convert(
        str(files / "log.csv"), model=str(files / "shop.yaml"), window="90d", session_gap="30m", **options
    )
    return got.to_dict()


def _num(v: Any) -> str:
    return f"{float(v):g}"


@pytest.mark.parametrize("options", [{}, {"hold": "device"}], ids=["plain", "held"])
def test_the_numbers_are_events_to_converts(files: Path, options: dict[str, Any]) -> None:
    res, section = _run(files, **options)
    assert "funnel-time" in res.sections
    table = _table(section)
    want = _expected(files, **options)
    hists = want["histograms"]
    for ev, se in zip(hists[0::2], hists[1::2], strict=True):
        assert (ev["what"], se["what"]) == ("events", "sessions")
        row = table[ev["step"]]
        if ev["bins"] is None:  # not measured: said with the reason, never a number
            assert row == [f"not measured \u2014 {ev['bins_reason']}"]
            continue
        assert row[0] == f"{ev['customers']:,}"
        assert row[1:] == [_num(ev["median"]), _num(ev["p90"]), _num(se["median"]), _num(se["p90"])]
    # hand-checked: to the cart 3, 3, 2 events (a, b, d) in 2, 1, 1 sessions; to the sale 4 events
    # in 2 sessions each (a, b)
    if not options:
        assert table["cart"] == ["3", "3", "3", "1", "1.8"]
        assert table["sale"] == ["2", "4", "4", "2", "2"]
        assert table["refund"][0].startswith("not measured \u2014 ")


def test_held_follows_the_held_funnel(files: Path) -> None:
    # held on the device, a's chain starts on desktop (one session to the cart), d never reaches it
    _, section = _run(files, hold="device")
    assert _table(section)["cart"][0] == "2"


def test_the_charts_and_labels_are_in_the_html(files: Path) -> None:
    res, section = _run(files)
    assert "<h3>Events needed to convert</h3>" in section
    assert 'id="hg-funnel-events"' in section and 'id="hg-funnel-sessions"' in section
    assert "a gap of 30m or more between two events starts a new session" in section
    page = res.path.read_text(encoding="utf-8")
    assert "sessions from entry to the step (both included); a gap of 30m starts a session" in page
