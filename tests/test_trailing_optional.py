"""A funnel whose last step is optional (``visit,purchase,review?``): converting is reaching the last
REQUIRED step (docs/semantics-funnel-time.md, "Per period and step"), so the report's and the
dashboard's overall conversion and "reached the end" are the purchase's, never the optional review's."""

from __future__ import annotations

from pathlib import Path

import hourglass
from hourglass.interfaces.dashboard.pages import ModelSummary
from hourglass.interfaces.reports._format import Section, Step

LOG = """customer,event,timestamp
a,visit,2024-01-01 10:00:00
a,purchase,2024-01-01 11:00:00
a,review,2024-01-01 12:00:00
b,visit,2024-01-01 10:00:00
b,purchase,2024-01-01 11:00:00
c,visit,2024-01-01 10:00:00
d,visit,2024-01-01 10:00:00
"""


def _rows(tmp_path: Path) -> list[dict[str, object]]:
    src = tmp_path / "log.csv"
    src.write_text(LOG)
    rows = hourglass.funnel(str(src), ["visit", "purchase", "review?"], window="1d").rows()
    assert [r["customers"] for r in rows] == [4, 2, 1]  # hand-checked: a reviews; a, b buy
    assert rows[-1]["optional"] is True
    return rows


def test_the_reports_overall_is_the_last_required_step(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    section = Section(
        index=0,
        anchor="m",
        model="m",
        label="m",
        kind="funnel",
        description="",
        window="1d",
        steps=tuple(Step.from_mapping(r, i) for i, r in enumerate(rows)),
        meta=(),
        has_result=True,
    )
    assert section.overall == 0.5  # 2 purchasers of 4 visitors (the old code: 1 reviewer of 4, 0.25)


def test_the_dashboards_overall_and_reached_are_the_last_required_step(tmp_path: Path) -> None:
    summary = ModelSummary(name="m", label="m", kind="funnel", description="", steps=_rows(tmp_path))
    assert summary.reached == 2
    assert summary.overall == 0.5


def test_the_reports_reached_tile_is_the_last_required_step(tmp_path: Path) -> None:
    # the section's "Reached" tile and its overall conversion name the same step (it showed the
    # trailing optional step's 1 customer next to the purchase's 50%)
    from hourglass.interfaces.reports._measured import Info
    from hourglass.interfaces.reports.html import _model

    rows = _rows(tmp_path)
    steps = tuple(Step.from_mapping(r, i) for i, r in enumerate(rows))
    section = Section(0, "m", "m", "m", "funnel", "", "1d", steps, (), True)
    page = _model(section, Info(count_label="in order"), None)
    assert (
        '<div class="k">Reached purchase in order within 1d</div><div class="v">2</div></div>'
        '<div class="stat"><div class="k">Overall conversion</div><div class="v">50.0%</div>'
    ) in page
    assert "Reached review" not in page
