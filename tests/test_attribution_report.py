"""The report's attribution section (interfaces/reports/_attribution.py): rendered from a real
result, parsed back; grouped bars per channel by model; not-measured cost and revenue are grey with
their reason, never zeros; with a spend table the cost per conversion and ROI."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from hourglass.interfaces.attribution_api import attribution
from hourglass.interfaces.reports._attribution import (
    ATTRIBUTION_BARS_DIV_ID,
    ATTRIBUTION_CPA_DIV_ID,
    attribution_part,
)
from test_attribution import SMALL, log

_VOID = {"br", "img", "hr", "meta", "input", "link"}


class _Doc(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self.cells: list[str] = []
        self._cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.stack.append(tag)
        self.ids += [v for k, v in attrs if k == "id" and v]
        self._cell = tag == "td"

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell and data.strip():
            self.cells.append(data.strip())


def _parse(html: str) -> _Doc:
    doc = _Doc()
    doc.feed(html)
    doc.close()
    assert doc.stack == []  # every tag closed
    return doc


def test_the_part_without_spend_or_revenue() -> None:
    result = attribution(log(SMALL).drop(columns=["revenue"]), conversion="purchase").to_dict()
    part = attribution_part(result)
    doc = _parse(part.html)
    text = " ".join(doc.text)
    assert part.anchor == "attribution" and part.toc_value == "2 conversions"
    assert "Revenue attributed" in text and "no revenue column" in text
    assert "Cost per attributed conversion and ROI: not measured" in text
    assert [d for d, _ in part.charts] == [ATTRIBUTION_BARS_DIV_ID] and ATTRIBUTION_BARS_DIV_ID in doc.ids
    fig = part.charts[0][1]
    assert [t.name for t in fig.data][:3] == ["First touch", "Last touch", "Last non-direct"]
    assert len(fig.data) == 9
    email = next(t for t in fig.data if t.name == "Markov")
    assert list(email.x) == ["ads", "email", "social"]
    assert list(email.y) == [2 / 3, 4 / 3, 0.0]


def test_the_part_with_spend(tmp_path: Path) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,period,cost\nads,2024-01,4\nemail,2024-01,10\n")
    result: dict[str, Any] = attribution(log(SMALL), conversion="purchase", spend=str(spend)).to_dict()
    part = attribution_part(result)
    doc = _parse(part.html)
    text = " ".join(doc.text)
    assert "Cost per attributed conversion (and ROI)" in text
    assert ATTRIBUTION_CPA_DIV_ID in doc.ids
    assert "4.00" in doc.cells  # ads: 4 / 1 first-touch conversion
    assert "ROI 200%" in text  # email, last touch: (30 - 10) / 10
    assert 'title="no conversion credited to the channel"' in part.html  # ads, last touch: a grey dash
    assert 'title="the spend table has no cost for channel' in part.html  # social


def test_user_text_is_escaped() -> None:
    rows = [("a", "visit", 0, "<b>x</b>", None), ("a", "purchase", 1, None, 1.0)]
    part = attribution_part(attribution(log(rows), conversion="purchase").to_dict())
    assert "<b>x</b>" not in part.html and "&lt;b&gt;x&lt;/b&gt;" in part.html
    _parse(part.html)
