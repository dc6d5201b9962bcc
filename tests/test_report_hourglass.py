"""The report's hourglass, referral, channel and journeys sections, from hand-made result dicts
(tests/report_samples.py): figures, numbers, escaping, missing parts. The browser test of these
sections is in test_report_html.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from hourglass.interfaces.reports import render_report
from hourglass.interfaces.reports._channels import channels_table, outcomes_table
from hourglass.interfaces.reports._hourglass import hourglass_figure
from hourglass.interfaces.reports._journey_charts import (
    journey_map_figure,
    pick_journey,
    sankey_figure,
    skip_matrix,
    transition_matrix,
)
from hourglass.interfaces.reports._referrals import referral_tree_figure
from report_samples import (
    ENTERED,
    STAGES,
    XSS,
    journey_result,
    journeys_bundle,
    journeys_result,
    lifecycle,
    paths_result,
    referrals,
    transitions_result,
)

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def page() -> str:
    return render_report([], title="t", lifecycle=lifecycle(), journeys=journeys_bundle())


def _calls(page: str) -> list[str]:
    return re.findall(r'Plotly\.newPlot\("([^"]+)"', page)


def _spec(page: str, div_id: str) -> dict[str, Any]:
    line = next(x for x in page.splitlines() if x.startswith(f'Plotly.newPlot("{div_id}", '))
    spec: dict[str, Any] = json.loads(line[len(f'Plotly.newPlot("{div_id}", ') : -len(");")])
    return spec


# --- the hourglass --------------------------------------------------------------------------------


def test_hourglass_has_one_centred_bar_per_stage_on_one_scale() -> None:
    fig = hourglass_figure(lifecycle())
    outline, bars = fig.data
    assert list(bars.y) == list(range(len(STAGES)))
    widths = list(bars.x)
    assert widths == pytest.approx([n / ENTERED[0] for n in ENTERED])
    assert list(bars.base) == pytest.approx([-w / 2 for w in widths])  # centred on 0
    # the outline narrows to the sale (index 3) and widens after it, and holds every bar
    xs, ys = list(outline.x), list(outline.y)
    half = {round(y): x for x, y in zip(xs, ys, strict=True) if x > 0 and float(y).is_integer()}
    assert half[0] > half[1] > half[2] > half[3] < half[4] < half[5]
    for i, w in enumerate(widths):
        assert half[i] >= w / 2


def test_hourglass_halves_have_their_own_colours() -> None:
    colors = list(hourglass_figure(lifecycle()).data[1].marker.color)
    sale = colors[3]
    assert sale not in colors[:3] and sale not in colors[4:]
    assert set(colors[:3]).isdisjoint(colors[4:])


def test_hourglass_labels_every_stage_with_count_and_conversion() -> None:
    fig = hourglass_figure(lifecycle())
    texts = [a.text for a in fig.layout.annotations]
    assert texts[:6] == [
        "<b>1,000</b> \u00b7 42% go on",
        "<b>400</b> \u00b7 40% go on",
        "<b>150</b> \u00b7 73% go on",
        "<b>120</b> \u00b7 54% go on",
        "<b>60</b> \u00b7 58% go on",
        "<b>30</b>",
    ]
    assert "the sale" in texts[6]
    ticks = list(fig.layout.yaxis.ticktext)
    assert ticks[2] == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_model_without_sale_narrows_to_the_end() -> None:
    lc = lifecycle(parts=False)
    lc["sale_stage"] = None
    fig = hourglass_figure(lc)
    assert all("the sale" not in a.text for a in fig.layout.annotations)


def test_hourglass_section_says_where_customers_are_lost(page: str) -> None:
    assert "Most customers are lost at Awareness (580, 58.0% of those who got there); " in page
    assert "the highest loss rate is at Interest (60.0%)." in page
    assert '<span class="tag">most lost</span>' in page
    assert "42.0% (40.0\u201344.0%)" in page  # went on, with its interval


def test_after_sale_tiles(page: str) -> None:
    for text in (
        "25.0%",  # repeat rate
        "30 of 120 purchasers",
        "1.42",  # purchases per purchaser
        "21.5 d",  # days to the 2nd purchase
        "7.5%",  # remorse
        "returned or cancelled within 14d",
        "of 40 contacts; median 1.5 h",
        "Experience gap",
        "Win-back \u00b7 W10",
        "Win-back \u00b7 (none)",
        "came back of 50 sent; 20.0% redeemed",
        "45.0%",
        "two-proportion test, p &lt; 0.001",
        "others 80.00; p = 0.034",
    ):
        assert text in page, text
    assert "Days to purchase 3" not in page  # nobody had a 3rd purchase: no tile


# --- referrals and channels -------------------------------------------------------------------------


def test_referral_tree_rings_are_nested_generations() -> None:
    trace = referral_tree_figure(referrals()).data[0]
    assert trace.type == "sunburst" and trace.branchvalues == "total"
    values = dict(zip(trace.ids, trace.values, strict=True))
    parents = dict(zip(trace.ids, trace.parents, strict=True))
    assert parents["g1"] == "g0" and parents["g2"] == "g1" and parents["g3"] == "g2"
    assert "g4" not in values  # generation 4 is empty: no ring
    # ring k is generation k and every later one
    assert values["g1"] == 40 and values["g2"] == 10 and values["g3"] == 2
    for parent in set(parents.values()):  # "total": children never exceed their parent
        if parent:
            children = [v for n, v in values.items() if parents[n] == parent]
            assert sum(children) <= values[parent]
    texts = list(trace.text)
    assert "organic<br><b>960</b>" in texts and "gen 1<br><b>30</b>" in texts and "gen 3<br><b>2</b>" in texts


def test_referral_section(page: str) -> None:
    assert 'id="referrals"' in page and "0.150" in page and "95%: 0.097\u20130.224" in page
    assert "12.5 d" in page  # cycle time
    assert "name themselves as referrer" in page
    assert "organic 960 \u00b7 gen 1 30 \u00b7 gen 2 8 \u00b7 gen 3 2" in page
    assert f"<code>{XSS}</code>" not in page


def test_channel_table_counts_heat_and_spend() -> None:
    lc = lifecycle()
    html = channels_table(lc["channels"], stages=STAGES, sale="sale")
    rows = re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1])
    assert len(rows) == 3
    assert "&lt;script&gt;" in rows[1] and "(none)" in rows[2]
    first = re.findall(r"<td[^>]*>([^<]*)</td>", rows[0])
    assert first == ["ads", "600", "600", "200", "60", "50", "20", "10"]
    assert 'style="background:#' in html and 'class="sale"' in html
    money = outcomes_table(lc["channels"])
    assert "<th>CAC</th>" in money and "<th>ROI</th>" in money
    assert "30.00" in money  # ads CAC 1500 / 50
    assert '<td class="good">+800%</td>' in money  # XSS channel: (3600 - 400) / 400
    assert '<td class="bad">+300%</td>' not in money
    assert "<td>\u2014</td>" in money  # ROI of a channel that cost nothing
    no_spend = outcomes_table(lifecycle(spend=False)["channels"])
    assert "CAC" not in no_spend and "ROI" not in no_spend


def test_zero_cost_share_is_said(page: str) -> None:
    assert "4.0% of customers were acquired at zero cost." in page


def test_channel_warnings_are_shown_escaped() -> None:
    lc = {**lifecycle(), "channels_warnings": ["spend channel '<Ads>' matched no customer's channel"]}
    html = render_report([], title="t", lifecycle=lc)
    assert '<p class="note warning">spend channel &#x27;&lt;Ads&gt;&#x27; matched' in html
    assert "note warning" not in render_report([], title="t", lifecycle=lifecycle())


# --- journeys -------------------------------------------------------------------------------------


def test_sankey_nodes_and_links_follow_the_paths_result() -> None:
    trace = sankey_figure(paths_result(), {}).data[0]
    assert len(trace.node.label) == 6
    assert list(trace.link.value) == [300, 20, 100, 100]
    # labels: the stage and its customers on two lines (the Sankey of _journey_charts.py)
    assert trace.node.label[0] == "awareness<br>300" and trace.node.label[5] == "sale<br>100"


def test_transition_rows_add_up_to_one() -> None:
    rows, cols, matrix = transition_matrix(transitions_result())
    assert rows == ["awareness", "interest", "trial", "sale"] and cols[-1] == "(end)"
    for row in matrix:
        assert sum(v or 0.0 for v in row) == pytest.approx(1.0)
    assert matrix[1][0] == 0.125 and matrix[0][4] == 0.6


def test_skip_matrix() -> None:
    rows, cols, matrix = skip_matrix(journeys_result())
    assert rows == ["interest", "sale"]
    assert cols == STAGES[:-1]
    assert matrix[1][:3] == [0.05, 0.1, 0.5] and matrix[1][3] is None


def test_journey_map_one_trace_per_channel() -> None:
    fig = journey_map_figure(journey_result()["customer"], STAGES)
    names = [t.name for t in fig.data[1:]]
    assert names == ["ads", "email", "&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert sum(len(t.x) for t in fig.data[1:]) == 5
    assert list(fig.data[2].y) == ["(no stage)", "sale"]


def test_pick_journey_prefers_the_richest_sample() -> None:
    sample = {"customer": "a", "path": ["awareness"], "timeline": []}
    rich = {"customer": "b", "path": ["awareness", "interest", "sale"], "timeline": []}
    assert pick_journey({"clusters": [{"samples": [sample]}, {"samples": [rich, sample]}]}) is rich
    assert pick_journey({"customer": sample}) is sample
    assert pick_journey({"clusters": []}) is None


def test_journeys_section(page: str) -> None:
    assert "50% of buyers skipped trial" in page
    assert "25.0%" in page and "30 of 120 who reached sale" in page
    assert "Not drawn: 500 customers whose path has a single stage" in page
    assert "the other 180 took 10 other paths" in page
    assert "interest \u2192 awareness" in page and "(left) 60%, trial 40%" in page
    assert "Customer alice: 5 touchpoints, path awareness \u2192 interest \u2192 sale \u2192 repeat" in page


# --- the page ---------------------------------------------------------------------------------------


def test_sections_contents_and_charts_in_order(page: str) -> None:
    assert _calls(page) == [
        "hg-hourglass-chart",
        "hg-referral-tree",
        "hg-referral-periods",
        "hg-paths-sankey",
        "hg-transitions-matrix",
        "hg-skip-matrix",
        "hg-journey-map",
    ]
    for anchor in ("hourglass", "referrals", "channels", "journeys"):
        assert f'id="{anchor}"' in page and f'href="#{anchor}"' in page
    assert _spec(page, "hg-paths-sankey")["data"][0]["type"] == "sankey"


def test_user_text_is_escaped(page: str) -> None:
    assert XSS not in page
    calls = page.rsplit("<script>", 1)[1]
    assert "<" not in calls.split("</script>", 1)[0]


def test_deterministic(page: str) -> None:
    assert render_report([], title="t", lifecycle=lifecycle(), journeys=journeys_bundle()) == page


def test_missing_parts_leave_their_sections_out() -> None:
    page = render_report([], lifecycle=lifecycle(parts=False))
    assert _calls(page) == ["hg-hourglass-chart"]
    assert 'id="referrals"' not in page and 'id="channels"' not in page and 'id="journeys"' not in page
    only_paths = render_report([], journeys={"paths": paths_result()})
    assert _calls(only_paths) == ["hg-paths-sankey"]
    assert 'id="hourglass"' not in only_paths
    empty = render_report([], lifecycle={"model": "m", "stages": []})
    assert "The lifecycle result has no stages." in empty
    assert "hg-hourglass-chart" not in empty


def test_rejects_wrong_shapes() -> None:
    with pytest.raises(TypeError, match="lifecycle must be a mapping"):
        render_report([], lifecycle=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown key"):
        render_report([], journeys={"path": paths_result()})
