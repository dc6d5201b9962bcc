"""The report's friction section (interfaces/reports/_friction.py): rendered from real results and
parsed; not-measured blocks are grey notes and cells, never zeros; user text escaped."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from hourglass.interfaces.friction_api import diagnose, friction
from hourglass.interfaces.reports._friction import FRICTION_CHART_DIV_ID, friction_part
from test_diagnose import MODEL as DMODEL
from test_diagnose import _log as diagnose_log
from test_friction import HAND, MODEL, _log


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ids: list[str] = []
        self.cells: list[str] = []
        self._td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [v or "" for k, v in attrs if k == "id"]
        self._td = tag == "td"

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._td:
            self.cells.append(data)


def _parse(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    p.close()
    return p


def test_the_section_from_real_results() -> None:
    fr = friction(_log(HAND), MODEL, frictions="late,nope").to_dict()
    dg = diagnose(diagnose_log(), DMODEL, since="2024-02-01", baseline="2024-01-01..2024-02-01").to_dict()
    part = friction_part({"friction": fr, "diagnose": dg})
    page = _parse(part.html)
    text = " ".join(page.text)
    assert part.anchor == "friction" and part.toc_value == "late first"
    assert FRICTION_CHART_DIV_ID in page.ids and [c[0] for c in part.charts] == [FRICTION_CHART_DIV_ID]
    assert "visit loses the most customers" in text
    assert "-57.1 pt" in page.cells and "not measured" in page.cells  # nope's row
    fig: Any = part.charts[0][1]
    assert list(fig.data[0].y) == ["late · while in purchase"]
    assert round(fig.data[0].x[0], 1) == -57.1


def test_missing_blocks_are_not_measured_and_text_is_escaped() -> None:
    part = friction_part({"friction_reason": "skipped <b>here</b>", "diagnose_reason": "no model"})
    text = " ".join(_parse(part.html).text)
    assert "Friction: not measured — skipped <b>here</b>" in text
    assert "<b>here</b>" not in part.html and part.charts == ()
    fr = friction(_log(HAND), MODEL).to_dict()
    part = friction_part({"friction": fr})
    assert "Friction events: not measured" in " ".join(_parse(part.html).text)


def test_the_whatif_block() -> None:
    from hourglass.model.whatif import WhatIfSpec, forecast
    from test_whatif import MODEL as WMODEL
    from test_whatif import _one_step_fit

    spec = WhatIfSpec.build(WMODEL, changes=["visit->purchase +20%"], horizon=3, runs=50)
    fit = _one_step_fit()
    fit.has_revenue = False
    wi = forecast(spec, fit, []).to_dict()
    assert wi["totals"]["new_customers"]["difference"] == 0  # the same acquisition draws
    part = friction_part({"whatif": wi, "friction_reason": "not asked", "diagnose_reason": "not asked"})
    text = " ".join(_parse(part.html).text)
    assert "visit->purchase +20%: purchasers over the horizon +" in text
    assert "Back-test: not measured" in text
    ids = [c[0] for c in part.charts]
    assert ids == ["friction-whatif"]
    fig: Any = part.charts[0][1]
    assert [t.name for t in fig.data] == ["baseline 90% band", "baseline", "scenario 90% band", "scenario"]
    assert len(fig.data[1].y) == 3 and fig.data[3].y[0] > fig.data[1].y[0]
