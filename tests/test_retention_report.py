"""The report's retention part, built from the hand-checked log's result (tests/test_retention_hand.py):
a well-formed section, the heatmap with blank (not 0) cells where a period has not ended, a curve per
cohort and the bold average, tiles, and a "not measured" tile without revenue."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import plotly.graph_objects as go

from hourglass.interfaces.reports._retention import RETENTION_DIV_IDS, retention_part
from hourglass.interfaces.retention_api import retention
from test_retention_hand import LOG

VOID = {"br", "hr", "img", "input", "meta", "link"}


class _Check(HTMLParser):
    """Every opened tag is closed in order; collects the ids and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)
        self.ids += [v for k, v in attrs if k == "id" and v]

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Check:
    p = _Check()
    p.feed(html)
    p.close()
    assert p.stack == []
    return p


def _part(**kw: Any) -> Any:
    return retention_part(retention(LOG, periods=4, **kw).to_dict())


def test_the_part_has_the_heatmap_and_the_curves() -> None:
    part = _part()
    assert (part.anchor, part.title, part.toc_value) == ("retention", "Retention cohorts", "50.0%")
    page = _parse(part.html)
    assert page.ids == ["retention", RETENTION_DIV_IDS["heatmap"], RETENTION_DIV_IDS["curves"]]
    text = " ".join(page.text)
    assert "first-time cohorts by the week of their first event" in text
    assert "blank: period not complete" in text
    assert "Came back in week 1" in text and "50.0%" in text  # 5 of 10
    assert "95%: 23.7\u201376.3%" in text  # Wilson, 5 of 10
    charts = dict(part.charts)
    heat = charts[RETENTION_DIV_IDS["heatmap"]].data[0]
    assert isinstance(heat, go.Heatmap)
    assert list(heat.y) == [
        "2024-01-01 (4)",
        "2024-01-08 (3)",
        "2024-01-15 (3)",
        "2024-01-22 (1)",
        "2024-01-29 (1)",
    ]
    assert list(heat.x) == ["week 0", "week 1", "week 2", "week 3", "week 4"]
    assert list(heat.z[0]) == [0.5, 0.5, 0.25, 0.5, None]  # week 4 has not ended: blank, not 0
    assert list(heat.z[4]) == [None] * 5
    assert heat.text[0][2] == "25.0%" and heat.text[0][4] == ""  # the share; its counts in the hover
    assert heat.customdata[0][2] == "25.0% (1 of 4)"
    curves = charts[RETENTION_DIV_IDS["curves"]].data
    assert len(curves) == 6  # five cohorts and the average
    avg = curves[-1]
    assert avg.name == "average (weighted by cohort size)" and avg.line.width == 4
    assert list(avg.y)[:4] == [6 / 11, 0.5, 1 / 7, 0.5] and list(avg.y)[4] is None
    assert all(c.line.width < 4 for c in curves[:-1])


def test_revenue_not_measured_is_a_grey_tile() -> None:
    part = retention_part(retention(LOG.drop(columns=["revenue"]), periods=2).to_dict())
    text = " ".join(_parse(part.html).text)
    assert "Revenue in week 1" in text and "not measured" in text and "--revenue-col" in text


def test_user_text_is_escaped() -> None:
    d = retention(LOG, periods=2).to_dict()
    d["spec"]["start"]["label"] = "<b>signup</b>"
    d["cohorts"][0]["cohort"] = "<i>w0</i>"
    part = retention_part(d)
    assert "<b>signup" not in part.html and "&lt;b&gt;signup&lt;/b&gt;" in part.html
    heat = dict(part.charts)[RETENTION_DIV_IDS["heatmap"]].data[0]
    assert heat.y[0] == "&lt;i&gt;w0&lt;/i&gt; (4)"  # plotly's pseudo-HTML shown literally
    _parse(part.html)


def test_no_cohort() -> None:
    part = retention_part({"spec": {"period": "month"}, "cohorts": [], "average": [], "periods": [0, 1]})
    assert part.charts == () and "No customer started a cohort" in part.html
    _parse(part.html)
