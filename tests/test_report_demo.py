"""The demo end to end on a small shop: the spend table, the lifecycle and the journey analyses
reach the report (the browser tests of the sections are in test_report_html.py)."""

from __future__ import annotations

import csv
import pathlib
import re

from hourglass.interfaces.demo import run_demo


def test_demo_writes_spend_and_every_section(tmp_path: pathlib.Path) -> None:
    steps: list[str] = []
    run = run_demo(tmp_path, size=1500, seed=3, step=steps.append)
    assert run.spend_path == tmp_path / "spend.csv"
    with run.spend_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == {"channel", "period", "cost"}
    assert {r["channel"] for r in rows} >= {"ads", "search"}
    assert run.lifecycle is not None
    life = run.lifecycle.to_dict()
    assert life["model"] == "hourglass" and life["purchasers"] > 0
    assert any("cac" in c for c in life["channels"])  # the spend table was used
    assert run.timings is not None
    assert set(run.timings) == {"simulation", "load", "funnels", "lifecycle", "journeys", "extras", "report"}
    assert "lifecycle: hourglass" in steps and "journeys: top paths" in steps
    page = run.report_path.read_text(encoding="utf-8")
    calls = re.findall(r'Plotly\.newPlot\("([^"]+)"', page)
    for div_id in (
        "hg-hourglass-chart",
        "hg-paths-sankey",
        "hg-transitions-matrix",
        "hg-skip-matrix",
        "hg-flywheel-wheel",
        "hg-attribution-bars",
    ):
        assert div_id in calls, div_id
    assert "hg-journey-map" in calls
    for anchor in ("hourglass", "referrals", "channels", "journeys"):
        assert f'id="{anchor}"' in page, anchor
    stages = [s["entered"] for s in life["stages"]]
    assert f"<td>{stages[0]:,}</td>" in page  # the stage table shows the lifecycle's numbers
    # the demo's report is hourglass.report's: every model measured, the buyers' counts reconciled
    assert "Not measured" not in page
    assert "Buyers, two definitions:" in page and "ever entered Sale, in any order" in page


def test_demo_largest_loss_is_the_most_customers_lost() -> None:
    """Solis' funnel lost 46 of 48 at its last step (96%), but 35,929 at its first: the headline is
    the step that lost the most customers (ties: the earlier step)."""
    from hourglass.interfaces.demo import largest_loss
    from hourglass.model.results import FunnelResult, StepCounts

    def funnel(counts: list[int]) -> FunnelResult:
        steps = tuple(StepCounts(f"s{i}", n) for i, n in enumerate(counts))
        return FunnelResult(steps=steps)

    assert largest_loss(funnel([49_801, 13_872, 48, 2])) == ("s0", "s1", 35_929 / 49_801, 35_929)
    assert largest_loss(funnel([100, 50, 0])) == ("s0", "s1", 0.5, 50)  # a tie: the earlier step
    assert largest_loss(funnel([5])) is None
