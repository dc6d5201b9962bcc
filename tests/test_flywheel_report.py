"""The flywheel's report part (interfaces/reports/_flywheel.py): rendered from the hand log's result,
parsed, its figures checked; not-measured tiles; user text escaped."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest

from hourglass.interfaces.flywheel_api import flywheel
from hourglass.interfaces.reports._charts import new_plot_call
from hourglass.interfaces.reports._flywheel import (
    FLYWHEEL_GROWTH_DIV_ID,
    FLYWHEEL_VIRAL_DIV_ID,
    FLYWHEEL_WHEEL_DIV_ID,
    flywheel_part,
)
from test_flywheel import SPEND, frame

VOID = {"br", "img", "hr", "meta", "input", "link", "col", "wbr"}


class Tags(HTMLParser):
    """Checks that every tag is closed in order; collects ids, classes and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.classes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        self.classes.extend(str(a.get("class") or "").split())
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    p = Tags()
    p.feed(html)
    p.close()
    assert p.stack == [], f"unclosed: {p.stack}"
    return p


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return flywheel(frame(), spend=SPEND).to_dict()


def figure(part: Any, div_id: str) -> dict[str, Any]:
    fig = dict(part.charts)[div_id]
    spec: dict[str, Any] = json.loads(fig.to_json())
    return spec


def test_the_part_renders_tiles_and_three_charts(result: dict[str, Any]) -> None:
    part = flywheel_part(result)
    tags = parse(part.html)
    assert part.anchor == "flywheel" and "flywheel" in tags.ids
    assert [d for d, _ in part.charts] == [
        FLYWHEEL_WHEEL_DIV_ID,
        FLYWHEEL_GROWTH_DIV_ID,
        FLYWHEEL_VIRAL_DIV_ID,
    ]
    assert {FLYWHEEL_WHEEL_DIV_ID, FLYWHEEL_GROWTH_DIV_ID, FLYWHEEL_VIRAL_DIV_ID} <= set(tags.ids)
    text = " ".join(tags.text)
    assert "3.00" in text  # March's quick ratio: the latest complete month
    assert "38.1%" in text  # its net revenue retention: 80 / 210
    assert "42.9%" in text  # loop share: 3 of 7 new customers
    assert "hourglass's own composite" in text
    assert "C0 = 2" in text and "K = 0.250" in text and "ct = 42.0 days" in text
    assert part.toc_value == "QR 3.00"
    for _, fig in part.charts:
        assert new_plot_call("x", fig).startswith('Plotly.newPlot("x", ')


def test_growth_bars_go_up_and_churn_goes_down(result: dict[str, Any]) -> None:
    spec = figure(flywheel_part(result), FLYWHEEL_GROWTH_DIV_ID)
    by_name = {t["name"]: t for t in spec["data"]}
    assert by_name["new"]["y"] == [2, 2, 2, 1]
    assert by_name["resurrected"]["y"] == [0, 0, 1, 1]
    assert by_name["churned"]["y"] == [0, -1, -1, -2]
    assert by_name["quick ratio"]["y"] == [None, 2.0, 3.0, 1.0]
    assert spec["layout"]["barmode"] == "relative"


def test_the_wheel_has_three_stages_and_the_loops_arc(result: dict[str, Any]) -> None:
    spec = figure(flywheel_part(result), FLYWHEEL_WHEEL_DIV_ID)
    arcs = [t for t in spec["data"] if t["type"] == "barpolar"]
    assert len(arcs[0]["theta"]) == 3
    labels = " ".join(arcs[0]["text"])
    assert "Attract: 7 new" in labels and "Engage: 4 buyers" in labels
    assert "60% repeat revenue" in labels  # repeat 150 + 80 + 40 + 30 + 70 = 370 of 370 + 250 (first)
    assert arcs[1]["width"] == [pytest.approx(360 * 3 / 7)]  # the loop's share as the return arc


def test_the_viral_curve_is_drawn_next_to_the_observed_one(result: dict[str, Any]) -> None:
    spec = figure(flywheel_part(result), FLYWHEEL_VIRAL_DIV_ID)
    observed, viral = spec["data"]
    assert observed["y"] == [2, 4, 6, 7]
    assert viral["y"][0] == pytest.approx(2.0)


def test_not_measured_parts_are_grey_tiles_with_their_reason() -> None:
    df = frame().drop(columns=["revenue", "referrer"])
    part = flywheel_part(flywheel(df).to_dict())
    tags = parse(part.html)
    text = " ".join(tags.text)
    assert "na" in tags.classes and "not measured" in text
    assert "--revenue-col" in text and "--referrer-col" in text
    assert FLYWHEEL_VIRAL_DIV_ID not in dict(part.charts)  # no K-factor: the curve is a note
    assert "The viral curve: not measured" in text


def test_a_breakdown_draws_the_largest_group_and_escapes_its_value() -> None:
    df = frame()
    df["channel"] = df["channel"].replace({"ads": "<b>ads</b>"})
    part = flywheel_part(flywheel(df, by="channel").to_dict())
    assert "<b>ads</b>" not in part.html and "&lt;b&gt;ads&lt;/b&gt;" in part.html
    parse(part.html)
    empty = flywheel_part({"period_unit": "month", "periods": [], "summary": {}})
    assert "No events" in empty.html and empty.charts == ()
