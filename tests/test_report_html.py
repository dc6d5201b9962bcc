"""The self-contained HTML report: structure, escaping, formatting, offline-ness, determinism.

The last test opens the written page in headless Chromium (Playwright) when both are installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
from html.parser import HTMLParser
from typing import Any

import plotly.offline
import pytest

from hourglass.interfaces.reports import render_report, write_report
from hourglass.interfaces.reports._format import fmt_duration, fmt_interval, fmt_pct_short

pytestmark = pytest.mark.filterwarnings("error")

XSS = "<script>alert(1)</script>"
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _step(
    step: str,
    customers: int,
    first: tuple[float | None, float | None, float | None],
    previous: tuple[float | None, float | None, float | None],
    dropped: int,
    median: float | None = None,
    p90: float | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "step": step,
        "customers": customers,
        "conversion_from_first": first[0],
        "conversion_from_first_low": first[1],
        "conversion_from_first_high": first[2],
        "conversion_from_previous": previous[0],
        "conversion_from_previous_low": previous[1],
        "conversion_from_previous_high": previous[2],
        "dropped": dropped,
        "median_time_from_previous_s": median,
        "p90_time_from_previous_s": p90,
    }
    if label is not None:
        row["label"] = label
    return row


ONE = (1.0, 1.0, 1.0)


def _sections() -> list[dict[str, Any]]:
    hourglass = {
        "steps": [
            _step("awareness", 41234, ONE, ONE, 0, label="Attention / awareness"),
            _step(
                "interest",
                17772,
                (0.431, 0.426, 0.436),
                (0.431, 0.426, 0.436),
                23462,
                3.2 * 3600,
                2.1 * 86400,
                label="Interest",
            ),
            _step("trial", 9000, (0.2183, 0.214, 0.222), (0.5064, 0.499, 0.514), 8772, 129600, 345600),
            _step("sale", 3510, (0.0851, 0.0826, 0.0878), (0.39, 0.38, 0.40), 5490, 181440, 777600),
        ],
        "meta": {"mode": "ordered", "duplicates_collapsed": 12},
    }
    custom = {
        "steps": [
            _step("visit", 1000, ONE, ONE, 0),
            _step(XSS, 400, (0.4, 0.37, 0.431), (0.4, 0.37, 0.431), 600, 30.0, 90.0),
            _step("buy", 300, (0.3, 0.272, 0.329), (0.75, 0.705, 0.79), 100, 600.0, 3600.0),
        ],
        "meta": {},
    }
    open_funnel = {  # --open: no common denominator, conversion from first is null
        "steps": [
            _step("attract", 500, ONE, ONE, 0),
            _step("engage", 200, (None, None, None), (0.4, 0.358, 0.444), 300, 45.0, 50.0),
        ],
        "meta": {"open": True},
    }
    return [
        {
            "model": "hourglass",
            "label": "Marketing hourglass",
            "kind": "hourglass",
            "description": "Seven stages & word of mouth.",
            "window": "30d",
            "funnel": hourglass,
        },
        {
            "model": "custom",
            "label": f"Mine {XSS}",
            "kind": "custom",
            "description": f"User text {XSS}",
            "window": "1d",
            "funnel": custom,
        },
        {
            "model": "flywheel",
            "label": "Flywheel",
            "kind": "flywheel",
            "window": "90d",
            "funnel": open_funnel,
        },
    ]


SUMMARY = {
    "events": 812345,
    "customers": 50000,
    "engine": "duckdb",
    "seconds": 3.2,
    "source": "demo.duckdb",
}


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(_sections(), title="Demo <shop>", summary=SUMMARY)


class _Tags(HTMLParser):
    """Every start tag with its attributes; script/style bodies are raw text, as in a browser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _without_plotlyjs(page: str) -> str:
    js = plotly.offline.get_plotlyjs()
    assert page.count(js) == 1
    return page.replace(js, "")


# --- structure ---------------------------------------------------------------------------------


def test_one_section_per_model_with_toc(page: str) -> None:
    tags = _parse(page).tags
    sections = [a for t, a in tags if t == "section" and "model" in (a.get("class") or "").split()]
    assert len(sections) == 3
    anchors = [a["id"] for a in sections]
    assert len(set(anchors)) == 3
    links = {a.get("href") for t, a in tags if t == "a"}
    for anchor in anchors:
        assert f"#{anchor}" in links
    assert "#overview" in links
    assert page.count('class="chart funnel"') == 3


def test_user_strings_are_escaped(page: str) -> None:
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Demo &lt;shop&gt;" in page
    # exactly two real script elements: plotly.js and the chart calls
    tags = _parse(page).tags
    assert [t for t, _ in tags].count("script") == 2
    assert page.count("</script>") == 2
    # inside the chart JSON, '<' never appears raw
    calls = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    assert "<" not in calls
    assert "\\u0026lt;script\\u0026gt;alert(1)" in calls  # plotly shows entities literally


def test_labels_fall_back_to_step_names(page: str) -> None:
    assert "Attention / awareness" in page
    assert '<code class="id">awareness</code>' in page
    assert re.search(r'<td class="step">trial</td>', page)


def test_numbers_are_formatted(page: str) -> None:
    assert '43.1% <span class="interval">(42.6\u201343.6%)</span>' in page
    text = "".join(_parse(page).text)
    assert "43.1% (42.6\u201343.6%)" in text
    for expected in ("3.2 h", "2.1 d", "1.5 d", "4.0 d", "41,234", "23,462", "5,490"):
        assert expected in text, expected
    assert "812,345" in text and "50,000" in text and "3.2 s" in text and "demo.duckdb" in text
    assert "8.5% (8.3\u20138.8%)" in text  # sale, conversion from first
    assert "30 s" in text and "10.0 min" in text and "1.0 h" in text


def test_largest_loss_is_said_and_highlighted(page: str) -> None:
    text = "".join(_parse(page).text)
    # by customers lost (23,462 at interest), not by the lowest rate (trial -> sale, 61%, 5,490)
    assert (
        "Largest loss: Attention / awareness \u2192 Interest, 57% of customers lost (23,462 of 41,234)."
        in text
    )
    assert "&amp;lt;" not in page  # escaped once, not twice
    assert f"Largest loss: visit \u2192 {XSS}, 60% of customers lost" in text
    hot_rows = re.findall(r'<tr class="hot"><td class="step">(.*?)<', page)
    assert hot_rows == ["Interest", "&lt;script&gt;alert(1)&lt;/script&gt;", "engage"]


def test_open_funnel_nulls_render_as_dashes(page: str) -> None:
    text = "".join(_parse(page).text)
    assert "Largest loss: attract \u2192 engage, 60% of customers lost (300 of 500)." in text
    flywheel = page.split('id="m3-flywheel"', 1)[1]
    assert "<td>\u2014</td>" in flywheel


def test_plotly_included_once_and_charts_drawn(page: str) -> None:
    js = plotly.offline.get_plotlyjs()
    assert page.count(js) == 1
    assert page.count("plotly.js v") == 1
    calls = re.findall(r'Plotly\.newPlot\("([^"]+)"', page)
    assert calls == ["hg-overview-chart", "hg-funnel-1", "hg-funnel-2", "hg-funnel-3"]
    for div_id in calls:
        assert f'id="{div_id}"' in page


def test_no_external_resources(page: str) -> None:
    for tag, attrs in _parse(page).tags:
        for name in ("src", "href"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, name, value)
        assert tag not in ("link", "img", "iframe"), tag
    rest = _without_plotlyjs(page)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", rest, re.IGNORECASE)
    assert "http://" not in rest and "https://" not in rest
    assert "@import" not in rest and "url(" not in rest


def test_figure_json_is_plain_plotly(page: str) -> None:
    calls = page.rsplit("<script>", 1)[1].split("</script>", 1)[0].strip().splitlines()
    first = calls[1]  # hg-funnel-1
    spec = json.loads(first[len('Plotly.newPlot("hg-funnel-1", ') : -len(");")])
    trace = spec["data"][0]
    assert trace["type"] == "funnel"
    assert trace["x"] == [41234, 17772, 9000, 3510]
    assert trace["text"][0] == "41,234 \u00b7 100.0%"
    assert trace["text"][3] == "3,510 \u00b7 8.5%"
    assert spec["config"]["displaylogo"] is False


# --- determinism, writing, edge cases ------------------------------------------------------------


def test_output_is_deterministic(page: str) -> None:
    assert render_report(_sections(), title="Demo <shop>", summary=SUMMARY) == page


def test_output_is_deterministic_across_processes() -> None:
    code = (
        "import hashlib, sys, json\n"
        "from hourglass.interfaces.reports import render_report\n"
        "sections, summary = json.load(sys.stdin)\n"
        "page = render_report(sections, title='t', summary=summary)\n"
        "print(hashlib.sha256(page.encode()).hexdigest())\n"
    )
    payload = json.dumps([_sections(), SUMMARY])
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code],
            input=payload,
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        digests.add(out.stdout.strip())
    local = render_report(_sections(), title="t", summary=SUMMARY)
    digests.add(hashlib.sha256(local.encode()).hexdigest())
    assert len(digests) == 1


def test_write_report(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "nested" / "report.html"
    written = write_report(target, _sections(), summary=SUMMARY)
    assert written == target
    assert target.read_text(encoding="utf-8") == render_report(_sections(), summary=SUMMARY)
    assert "<title>hourglass report</title>" in target.read_text(encoding="utf-8")


def test_empty_and_missing_results() -> None:
    empty = render_report([])
    assert "No models in this report." in empty
    assert "Plotly.newPlot" not in empty
    sections: list[dict[str, Any]] = [
        {"model": "aida", "kind": "funnel"},
        {"model": "solis6", "funnel": {"steps": [], "meta": {}}},
        {"model": "one", "funnel": {"steps": [_step("only", 7, ONE, ONE, 0)]}},
    ]
    page = render_report(sections)
    assert "This model has no funnel result." in page
    assert "This model has no steps." in page
    assert "Largest loss: not defined" in page
    assert re.findall(r'Plotly\.newPlot\("([^"]+)"', page) == ["hg-overview-chart", "hg-funnel-3"]


def test_no_loss_is_said_calmly() -> None:
    steps = [_step("a", 10, ONE, ONE, 0), _step("b", 10, ONE, (1.0, 0.72, 1.0), 0)]
    page = render_report([{"model": "m", "funnel": {"steps": steps}}])
    assert "No customers were lost between steps." in page
    assert '<tr class="hot">' not in page


def test_rejects_non_mappings() -> None:
    with pytest.raises(TypeError):
        render_report(["hourglass"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        render_report({"model": "x"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "\u2014"),
        (0, "0 s"),
        (3.25, "3.2 s"),
        (45, "45 s"),
        (59.7, "1.0 min"),
        (90, "1.5 min"),
        (3599, "1.0 h"),
        (3.2 * 3600, "3.2 h"),
        (86400 * 2.1, "2.1 d"),
        (86400 * 400, "400.0 d"),
    ],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert fmt_duration(seconds) == text


def test_percent_helpers() -> None:
    assert fmt_interval(0.431, 0.426, 0.436) == "43.1% (42.6\u201343.6%)"
    assert fmt_interval(1.0, 1.0, 1.0) == "100.0%"
    assert fmt_interval(None, None, None) == "\u2014"
    assert fmt_pct_short(0.61) == "61%"
    assert fmt_pct_short(0.043) == "4.3%"


# --- a real browser ------------------------------------------------------------------------------


@pytest.mark.browser
def test_renders_in_headless_chromium(tmp_path: pathlib.Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed (pip install playwright)")
    from playwright.sync_api import sync_playwright

    sections = _sections()
    path = write_report(tmp_path / "report.html", sections, title="Demo shop", summary=SUMMARY)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "request",
                lambda r: (
                    problems.append(f"network request: {r.url}")
                    if not r.url.startswith(("file:", "data:", "blob:"))
                    else None
                ),
            )
            page.goto(path.as_uri())
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                arg=len(sections) + 1,
                timeout=30_000,
            )
            for i, section in enumerate(sections, start=1):
                bars = page.locator(f"#hg-funnel-{i} svg .funnellayer .trace .point").count()
                assert bars == len(section["funnel"]["steps"]), (i, bars)
            overview_bars = page.locator("#hg-overview-chart svg .barlayer .point").count()
            assert overview_bars == len(sections)
            assert page.locator("section.model").count() == len(sections)
            page.screenshot(path="/tmp/report.png", full_page=True)
        finally:
            browser.close()
    assert problems == []


@pytest.mark.browser
def test_hourglass_and_journeys_render_in_headless_chromium(tmp_path: pathlib.Path) -> None:
    """The lifecycle and journeys sections (hand-made dicts, tests/report_samples.py) in a real
    browser: every chart drawn, with the right number of bars, nodes, slices and points."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed (pip install playwright)")
    from playwright.sync_api import sync_playwright

    from report_samples import STAGES, journeys_bundle, lifecycle

    path = write_report(
        tmp_path / "report.html",
        _sections(),
        title="Demo shop",
        summary=SUMMARY,
        lifecycle=lifecycle(),
        journeys=journeys_bundle(),
    )
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "request",
                lambda r: (
                    problems.append(f"network request: {r.url}")
                    if not r.url.startswith(("file:", "data:", "blob:"))
                    else None
                ),
            )
            page.goto(path.as_uri())
            charts = 1 + len(_sections()) + 7  # overview, funnels, the new sections' charts
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                arg=charts,
                timeout=30_000,
            )
            hourglass = page.locator("#hg-hourglass-chart svg .barlayer .point")
            assert hourglass.count() == len(STAGES)
            labels = page.locator("#hg-hourglass-chart .annotation-text").all_text_contents()
            assert labels[0] == "1,000 \u00b7 42% go on" and labels[5] == "30"
            assert any("the sale" in t for t in labels)
            # the waist is the narrowest pre-sale bar and the bars are centred on one axis
            boxes = [hourglass.nth(i).bounding_box() for i in range(len(STAGES))]
            assert all(b is not None for b in boxes)
            centres = [b["x"] + b["width"] / 2 for b in boxes if b]
            assert max(centres) - min(centres) < 2
            assert page.locator("#hg-paths-sankey .sankey-node").count() == 6
            assert page.locator("#hg-paths-sankey .sankey-link").count() == 4
            assert page.locator("#hg-referral-tree .slice").count() == 6
            assert page.locator("#hg-referral-periods .barlayer .point").count() == 4
            assert page.locator("#hg-transitions-matrix .hm").count() == 1
            assert page.locator("#hg-skip-matrix .hm").count() == 1
            assert page.locator("#hg-journey-map .scatterlayer .point").count() == 5
            assert page.locator("table.channels tbody tr").count() == 3
            assert page.locator("#channels td.good").count() == 2
            page.screenshot(path="/tmp/report-hourglass.png", full_page=True)
        finally:
            browser.close()
    assert problems == []


# --- not measured (report_api's sections) ---------------------------------------------------------


def _not_measured_sections() -> list[dict[str, Any]]:
    measured = _sections()[0]
    partial = {
        "model": "mine",
        "label": "Mine",
        "window": "90d",
        "count_label": "reached in order within 90d",
        "sale": "sale",
        "funnel": {
            "steps": [
                _step("browse", 5, ONE, ONE, 0),
                _step("sale", 2, (0.4, 0.1, 0.8), (0.4, 0.1, 0.8), 3),
                {"step": "advocacy", "customers": None, "dropped": None},
            ]
        },
        "unmeasured_steps": {"advocacy": "no event of stage 'advocacy' (review) is in the source"},
        "unmeasured_hint": "map it to your events",
    }
    absent = {
        "model": "aida",
        "label": "AIDA",
        "funnel": None,
        "not_measured": "none of its events (visit, signup) is in the source; map it",
    }
    return [{**measured, "sale": "sale", "count_label": "reached in order within 30d"}, partial, absent]


LIFE = {
    "model": "hourglass",
    "sale_stage": "sale",
    "stages": [{"stage": "sale", "label": "Sale", "entered": 9}],
}


def test_not_measured_sections_show_no_numbers() -> None:
    page = render_report(_not_measured_sections(), lifecycle=LIFE, not_measured={"journeys": "no model"})
    text = re.sub(r"\s+", " ", " ".join(_parse(_without_plotlyjs(page)).text))
    assert "Not measured. none of its events (visit, signup) is in the source; map it" in text
    assert "not measured (no event of stage 'advocacy' (review) is in the source)" in text
    assert "<b>journeys</b>: no model" in page and 'id="not-measured"' in page
    calls = re.findall(r'Plotly\.newPlot\("([^"]+)"', page)
    assert "hg-funnel-3" not in calls and {"hg-funnel-1", "hg-funnel-2"} <= set(calls)
    overview = re.search(r'Plotly\.newPlot\("hg-overview-chart", (\{.*?\})\);?\n', page)
    assert overview is not None and "AIDA" not in overview.group(1) and "Mine (to sale)" in overview.group(1)
    assert "Conversion to sale 40.0%" in text  # the partial model, up to its last measured stage
    # both buyer counts, labelled, next to each other, with why they differ
    assert (
        "Buyers, two definitions: 2 reached sale in order within 90d (Mine funnel); 9 ever entered Sale"
        in text
    )
    assert "Buyers, two definitions: 3,510 reached sale in order within 30d" in text


@pytest.mark.browser
def test_not_measured_renders_in_headless_chromium(tmp_path: pathlib.Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed (pip install playwright)")
    from playwright.sync_api import sync_playwright

    path = write_report(tmp_path / "nm.html", _not_measured_sections(), lifecycle=LIFE)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.goto(path.as_uri())
            page.wait_for_function(
                "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3", timeout=30_000
            )
            assert page.locator("#hg-funnel-2 svg .funnellayer .trace .point").count() == 2  # measured steps
            assert page.locator("#hg-overview-chart svg .barlayer .point").count() == 2
            assert page.locator("section.model.nm").count() == 1
        finally:
            browser.close()
    assert problems == []
