"""``hourglass report`` and ``hourglass.report`` on a log whose event names are not the built-in
models' (a real shop's: catalog, product1, cart, delivery_choice, payment_done): the presets are "not
measured" with how to map them, never a table of zeros; a model file of those names is measured; the
buyers' two counts are labelled and reconciled; demo's renamed flags fail naming the new ones."""

from __future__ import annotations

import re
from html import escape as html_escape
from html import unescape
from pathlib import Path
from typing import Any

import plotly.offline
import pytest
from click.testing import CliRunner

from hourglass.interfaces.cli.demo import demo_cmd
from hourglass.interfaces.cli.report import report_cmd
from hourglass.interfaces.report_api import ReportResult, report
from hourglass.interfaces.report_extras import EXTRAS
from hourglass.model.presets import PRESETS

LOG = """customer,event,timestamp,channel
a,catalog,2024-01-01 10:00:00,ads
a,product1,2024-01-01 10:05:00,ads
a,cart,2024-01-01 10:10:00,ads
a,delivery_choice,2024-01-01 10:12:00,ads
a,payment_done,2024-01-01 10:15:00,ads
b,catalog,2024-01-02 10:00:00,search
b,product1,2024-01-02 10:01:00,search
b,cart,2024-01-02 10:03:00,search
c,catalog,2024-01-03 10:00:00,search
c,payment_done,2024-01-03 11:00:00,search
d,catalog,2024-01-04 10:00:00,ads
d,product1,2024-01-04 10:02:00,ads
e,product1,2024-01-05 10:00:00,email
e,cart,2024-01-05 10:01:00,email
e,delivery_choice,2024-01-05 10:02:00,email
e,payment_done,2024-01-05 10:04:00,email
e,payment_done,2024-01-20 10:04:00,email
"""

MODEL = """name: shop
label: My shop
kind: hourglass
sale: sale
purchases: [payment_done]
stages:
  - {name: browse, label: Browse, events: [catalog, product1]}
  - {name: cart, label: Cart, events: [cart, delivery_choice]}
  - {name: sale, label: Sale, events: [payment_done]}
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("shop")
    (d / "shop.csv").write_text(LOG, encoding="utf-8")
    (d / "shop.yaml").write_text(MODEL, encoding="utf-8")
    (d / "partial.yaml").write_text(
        MODEL + "  - {name: advocacy, label: Advocacy, events: [review]}\n", encoding="utf-8"
    )
    return d


def _text(path: Path) -> str:
    """The page's visible text (no plotly.js, no tags)."""
    page = path.read_text(encoding="utf-8").replace(plotly.offline.get_plotlyjs(), "")
    page = re.sub(r"<script>.*?</script>|<style>.*?</style>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page)))


def _run(args: list[str]) -> Any:
    return CliRunner().invoke(report_cmd, args, prog_name="hourglass report")


@pytest.fixture(scope="module")
def presets_only(shop: Path) -> tuple[Any, Path]:
    out = shop / "presets.html"
    return _run([str(shop / "shop.csv"), "--out", str(out)]), out


def _model_sections(page: str) -> dict[str, str]:
    """The HTML of each model's section, by its anchor's model part (m2-aida -> aida)."""
    parts = re.findall(r'<section class="card model[^"]*" id="m\d+-([a-z0-9-]+)">(.*?)</section>', page, re.S)
    return dict(parts)


def test_presets_on_other_event_names_are_not_measured(presets_only: tuple[Any, Path]) -> None:
    result, out = presets_only
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    sections = _model_sections(page)
    for name, model in PRESETS.items():
        html = sections[name.replace("_", "-")]
        assert html_escape(model.label) in html and "Not measured." in html, name
        assert not re.search(r"\d%|<td>0</td>", html), name  # no rate, no zero count
        assert "hourglass models suggest SOURCE" in html and f"hourglass models show {name}" in html
        assert "catalog" in html  # the source's own event names, to map them
    # the summary: what was not measured, why, and how to map it
    assert "not measured: funnel4, aida, hourglass, flip_the_funnel, flywheel, solis6" in result.output
    assert "hourglass models suggest" in result.output and str(out.resolve()) in result.output


def test_no_model_matches_so_one_is_drafted_from_the_events(presets_only: tuple[Any, Path]) -> None:
    result, out = presets_only
    assert "main model 'suggested': drafted from the event names" in result.output
    assert "funnels:  suggested\nsections: lifecycle, channels, journeys, " in result.output
    html = _model_sections(out.read_text(encoding="utf-8"))["suggested"]
    assert "A draft from your event names, not a model you chose" in html and "Not measured." not in html


def test_presets_only_without_a_draft(shop: Path) -> None:
    res = report(shop / "shop.csv", out=shop / "nodraft.html", suggest=False)
    text = _text(res.path)
    assert "0.0%" not in text and " 0 customers" not in text
    assert text.count("Not measured.") == len(PRESETS)  # one per model section
    assert 'id="hg-overview-chart"' not in res.path.read_text(encoding="utf-8")  # no chart of nothing
    assert res.sections == () and res.suggested is None


def test_a_model_of_the_source_events_is_measured(shop: Path) -> None:
    out = shop / "mine.html"
    result = _run([str(shop / "shop.csv"), "--model", str(shop / "shop.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "funnels:  shop\nsections: lifecycle, channels, journeys, " in result.output
    text = _text(out)
    assert "Not measured." not in text
    assert "reached in order within 90d" in text
    # the two buyer counts: labelled by definition, both numbers and why they differ, in one line
    assert (
        "Buyers, two definitions: 2 reached Sale in order within 90d (My shop funnel); 3 ever entered "
        "Sale, in any order and with no window (the lifecycle of shop)."
    ) in text
    page = out.read_text(encoding="utf-8")
    lifecycle = page.split('id="hourglass"', 1)[1].split("</section>", 1)[0]
    assert "Buyers, two definitions: 2 reached Sale" in lifecycle  # next to the lifecycle's count too
    for anchor in ("hourglass", "channels", "journeys"):
        assert f'id="{anchor}"' in out.read_text(encoding="utf-8"), anchor


def test_the_python_api_says_the_same(shop: Path) -> None:
    res = report(shop / "shop.csv", out=shop / "api.html", suggest=False)
    assert isinstance(res, ReportResult) and res.path == shop / "api.html"
    assert res.sections == ()
    assert set(res.not_measured) == {f"funnel:{n}" for n in PRESETS} | {"lifecycle", "journeys", *EXTRAS}
    assert all("hourglass models suggest" in why for why in res.not_measured.values())
    assert res.events == 17 and res.customers == 5 and res.main_model == "hourglass"
    mine = report(shop / "shop.csv", [str(shop / "shop.yaml"), "aida"], out=shop / "api2.html")
    assert mine.sections[:4] == ("funnel:shop", "lifecycle", "channels", "journeys")
    # every later analysis is a section, or not measured with its reason (5 customers: no channel
    # touches before the sale for attribution, nobody bought twice for lifetime value, ...)
    # then the main model's funnel over time and why customers drop (docs/report.md), then the extras
    assert mine.sections[4] == "funnel-time"
    later = [s for s in mine.sections[4:] if s not in ("funnel-time", "funnel-explained")]
    extras = set(later) | (set(mine.not_measured) & set(EXTRAS))
    assert extras == set(EXTRAS) and set(mine.sections[4:]).isdisjoint(mine.not_measured)
    assert set(mine.not_measured) - set(EXTRAS) == {"funnel:aida", "referrals"}
    assert "--referrer-col" in mine.not_measured["referrals"]
    assert mine.results["shop"].steps[-1].customers == 2
    assert mine.to_dict()["not_measured"] == dict(mine.not_measured)


def test_a_stage_with_no_events_is_not_measured_not_zero(shop: Path) -> None:
    res = report(shop / "shop.csv", str(shop / "partial.yaml"), out=shop / "partial.html")
    assert "funnel:shop" in res.sections
    page = res.path.read_text(encoding="utf-8").split('id="m1-shop"', 1)[1]  # the funnel section
    row = re.search(r"<tr><td class=\"step\">Advocacy.*?</tr>", page)
    assert row is not None and "not measured (no event of stage &#x27;advocacy&#x27;" in row.group(0)
    text = _text(res.path)
    assert "Reached the last step not measured" in text
    assert "Conversion to Sale 40.0%" in text  # measured up to the last stage the source has


def test_by_an_unknown_column_is_a_coded_error(shop: Path) -> None:
    result = _run([str(shop / "shop.csv"), "--by", "chanel", "--out", str(shop / "x.html")])
    assert result.exit_code == 2
    assert "HG306" in result.output and "channel" in result.output
    assert not (shop / "x.html").exists()


def test_out_over_the_source_is_refused_before_work(shop: Path) -> None:
    result = _run([str(shop / "shop.csv"), "--out", str(shop / "shop.csv")])
    assert result.exit_code == 2 and "HG424" in result.output
    assert (shop / "shop.csv").read_text(encoding="utf-8") == LOG


@pytest.mark.parametrize(("old", "new"), [(["--customers", "5"], "--size"), (["--out", "DIR"], "--out-dir")])
def test_demo_renamed_flags_fail_naming_the_new_one(old: list[str], new: str, tmp_path: Path) -> None:
    args = [a.replace("DIR", str(tmp_path / "d")) for a in old]
    result = CliRunner().invoke(demo_cmd, args)
    assert result.exit_code == 2, result.output
    assert "HG150" in result.output and new in result.output
    assert not (tmp_path / "d").exists()


def test_by_since_until_window_and_title(shop: Path) -> None:
    out = shop / "range.html"
    args = [str(shop / "shop.csv"), "--model", str(shop / "shop.yaml"), "--out", str(out)]
    args += ["--by", "channel", "--since", "2024-01-02", "--until", "2024-02-01", "--window", "7d"]
    result = _run([*args, "--title", "Shop <January>"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<title>Shop &lt;January&gt;</title>" in page
    assert "reached in order within 7d" in _text(out)


def test_goal_is_the_main_models_purchase_stage(shop: Path) -> None:
    res = report(shop / "shop.csv", str(shop / "shop.yaml"), out=shop / "goal.html", goal="cart")
    assert res.lifecycle is not None and res.lifecycle.to_dict()["sale_stage"] == "cart"
    assert "Buyers, two definitions: 3 reached Cart in order within 90d" in _text(res.path)
    result = _run([str(shop / "shop.csv"), "--model", str(shop / "shop.yaml"), "--goal", "chart"])
    assert result.exit_code == 2 and "HG106" in result.output and "cart" in result.output


def test_the_report_forecasts_what_if_changes(tmp_path: Path) -> None:
    from hourglass.ingest.simulator import simulate_shop

    table, _truth = simulate_shop(800, seed=5)
    import pyarrow.parquet as pq

    src = tmp_path / "shop.parquet"
    pq.write_table(table, src)
    res = report(src, out=tmp_path / "r.html", extras=["friction"], whatif=["trial->sale +10%"])
    assert "friction" in res.sections
    page = res.path.read_text(encoding="utf-8")
    assert 'Plotly.newPlot("friction-whatif"' in page
    none = report(src, out=tmp_path / "n.html", extras=["friction"])
    assert 'Plotly.newPlot("friction-whatif"' not in none.path.read_text(encoding="utf-8")
