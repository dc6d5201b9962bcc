"""The report's "funnel over time" section: drawn from the trend and time results (a line per step,
incomplete periods hollow and apart, empty periods gaps, never 0%), and in the report of a log."""

from __future__ import annotations

from pathlib import Path

import hourglass
from hourglass.interfaces.funnel_views_api import funnel_trend, time_to_convert
from hourglass.interfaces.reports._funnel_time import funnel_time_part, trend_figure
from test_funnel_time_hand import LOG, STEPS


def test_the_part_from_the_worked_example() -> None:
    trend = funnel_trend(LOG, STEPS, period="week").to_dict()
    times = time_to_convert(LOG, STEPS).to_dict()
    part = funnel_time_part(trend, times, "shop", sale="purchase")
    assert part.anchor == "funnel-time" and "3 weeks" in part.toc_value
    assert "To purchase, last complete week (2024-01-01)" in part.html and "50.0%" in part.html
    assert "1 with no entries" in part.html
    assert [div for div, _ in part.charts] == ["hg-funnel-trend", "hg-funnel-time"]
    fig = trend_figure(trend, "purchase")
    purchase_complete, purchase_incomplete = fig.data[2], fig.data[3]
    # weeks 01-01 (complete), 01-08 (nobody entered: a gap in both), 01-15 (incomplete)
    assert list(purchase_complete.y) == [0.5, None, None]
    assert list(purchase_incomplete.y) == [None, None, 0.5]
    assert purchase_incomplete.marker.color == "#ffffff"


def test_any_order_times_not_measured() -> None:
    trend = funnel_trend(LOG, STEPS, mode="any_order").to_dict()
    times = time_to_convert(LOG, STEPS, mode="any_order").to_dict()
    part = funnel_time_part(trend, times, "shop")
    assert "Time to each step: not measured" in part.html and "any_order" in part.html
    assert [div for div, _ in part.charts] == ["hg-funnel-trend"]


def test_in_the_report(tmp_path: Path) -> None:
    src = tmp_path / "ev.csv"
    LOG.to_csv(src, index=False)
    out = tmp_path / "r.html"
    res = hourglass.report(str(src), "funnel4", out=out, extras=["none"])
    assert "funnel-time" in res.sections
    html = out.read_text(encoding="utf-8")
    assert 'id="funnel-time"' in html and "Funnel over time" in html and "hg-funnel-trend" in html
