"""The report's funnel over time follows the step a period's ``converted`` counts: the last required
one (docs/semantics-funnel-time.md). With a trailing optional step (``review?``) its tile and accent
line were the review's (50% of the week's purchasers' reviews shown as the conversion)."""

from __future__ import annotations

from hourglass.interfaces.funnel_views_api import funnel_trend, time_to_convert
from hourglass.interfaces.reports._charts import PALETTE
from hourglass.interfaces.reports._funnel_time import funnel_time_part, trend_figure
from test_funnel_time_hand import HELD, HELD_STEPS

KW = {"window": "1d", "hold": "device"}


def test_the_tile_and_the_accent_follow_the_last_required_step() -> None:
    trend = funnel_trend(HELD, HELD_STEPS, period="week", **KW).to_dict()
    times = time_to_convert(HELD, HELD_STEPS, **KW).to_dict()
    part = funnel_time_part(trend, times, "shop")
    assert "To purchase, last complete week (2024-01-01)" in part.html and "66.7%" in part.html
    assert "To review" not in part.html
    for t in (trend, {k: v for k, v in trend.items() if k != "meta"}):  # without meta.spec: converted_step
        colors = {d.name: d.line.color for d in trend_figure(t).data if "incomplete" not in d.name}
        assert [name for name, c in colors.items() if c == PALETTE["loss"]] == ["purchase"]
    # a sale step given by the model still wins
    assert "To signup, last complete week" in funnel_time_part(trend, times, "shop", "signup").html
