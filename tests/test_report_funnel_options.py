"""``hourglass report --hold COLUMN --count totals`` and ``hourglass.report(hold=, count=)`` (issue 20):
every funnel of the report (the models' funnels, the funnel over time, why customers drop) takes the
funnel's options, says what it counts ("chains" under totals) and what it holds, and shows the numbers
``hourglass.funnel`` gives with the same options; the other sections are unchanged and the report
says so in one line; a view that cannot count under the options is "not measured" with its reason; an
optional step of a model file is labelled and never the largest loss; a bad --hold column is the
funnel's own HG306 before any section. A hand-made log where hold and totals change the numbers:
plain 4, 3, 3; held on device 4, 2, 2; totals 6, 3, 3."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.cli.report import report_cmd
from hourglass.interfaces.report_api import ReportResult, report
from hourglass.model.errors import SpecError

LOG = """customer,event,timestamp,device,channel
a,catalog,2024-01-01 10:00:00,mobile,ads
a,catalog,2024-01-01 10:20:00,desktop,ads
a,wishlist,2024-01-01 10:25:00,desktop,ads
a,cart,2024-01-01 10:30:00,desktop,ads
a,payment_done,2024-01-01 10:40:00,desktop,ads
b,catalog,2024-01-02 10:00:00,mobile,search
b,cart,2024-01-02 10:05:00,desktop,search
b,payment_done,2024-01-02 10:09:00,desktop,search
c,catalog,2024-01-03 10:00:00,mobile,search
c,catalog,2024-01-03 10:05:00,mobile,search
c,wishlist,2024-01-03 10:07:00,mobile,search
c,cart,2024-01-03 10:10:00,mobile,search
c,payment_done,2024-01-05 10:00:00,mobile,search
d,catalog,2024-01-04 10:00:00,desktop,ads
"""

SHOP = """name: shop
label: My shop
kind: hourglass
sale: sale
purchases: [payment_done]
stages:
  - {name: browse, label: Browse, events: [catalog]}
  - {name: cart, label: Cart, events: [cart]}
  - {name: sale, label: Sale, events: [payment_done]}
"""

OPTIONAL = """name: wishes
label: With wishes
kind: hourglass
sale: sale
purchases: [payment_done]
stages:
  - {name: browse, label: Browse, events: [catalog]}
  - {name: wish, label: Wishlist, events: [wishlist], optional: true}
  - {name: cart, label: Cart, events: [cart]}
  - {name: sale, label: Sale, events: [payment_done]}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("options")
    (d / "log.csv").write_text(LOG, encoding="utf-8")
    (d / "shop.yaml").write_text(SHOP, encoding="utf-8")
    (d / "wishes.yaml").write_text(OPTIONAL, encoding="utf-8")
    return d


def _counts(files: Path, model: str, **options: Any) -> list[int | None]:
    res = hourglass.funnel(str(files / "log.csv"), model=str(files / model), window="90d", **options)
    return [s.customers for s in res.steps]


def _text(html: str) -> str:
    html = re.sub(r"<script>.*?</script>|<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _section(page: str, anchor: str) -> str:
    return page.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]


def _table_counts(section: str) -> list[int]:
    """The count column of a model section's step table, row by row."""
    rows = re.findall(r'<td class="step">.*?</td><td>([\d,]+)</td>', section)
    return [int(n.replace(",", "")) for n in rows]


@pytest.fixture(scope="module")
def totals(files: Path) -> tuple[Any, str]:
    out = files / "totals.html"
    args = [
        str(files / "log.csv"),
        "--model",
        str(files / "shop.yaml"),
        "--model",
        str(files / "wishes.yaml"),
    ]
    result = CliRunner().invoke(report_cmd, [*args, "--count", "totals", "--with", "none", "--out", str(out)])
    return result, out.read_text(encoding="utf-8") if out.exists() else ""


@pytest.fixture(scope="module")
def held(files: Path) -> ReportResult:
    models = [str(files / "wishes.yaml"), str(files / "shop.yaml")]
    return report(files / "log.csv", models, out=files / "held.html", hold="device", extras=["none"])


def test_totals_in_the_cli_count_chains(files: Path, totals: tuple[Any, str]) -> None:
    result, page = totals
    assert result.exit_code == 0, result.output
    chains = _counts(files, "shop.yaml", count="totals")
    assert chains == [6, 3, 3] and _counts(files, "shop.yaml") == [4, 3, 3]  # the log makes them differ
    assert _table_counts(_section(page, "m1-shop")) == chains
    out = result.output
    assert "Funnels count chains (--count totals), not customers" in out
    assert "Not funnels, so unchanged by these options: the lifecycle, the journeys" in out
    # a model with an optional stage cannot be counted in chains: the funnel's own coded reason
    assert "not measured: wishes (--count totals cannot be combined with optional steps (HG126)" in out
    # the views that follow customers are not measured under totals, with their reasons
    assert "not measured: funnel-time (the funnel's trend view follows customers" in out
    assert "funnel-explained (the drop-off paths and the correlation follow customers" in out


def test_totals_labels_say_chains(totals: tuple[Any, str]) -> None:
    """What is counted: chains, in the table, the tiles, the largest loss, the overview and the
    chart's tooltip; no buyers' line (a number of chains is not a number of buyers)."""
    _, page = totals
    shop = _section(page, "m1-shop")
    assert '<th rowspan="2" class="count">Chains<br>' in shop
    text = _text(shop)
    assert "Chains entered 6 Chains that reached Sale in order within 90d 3" in text
    assert "chains that reached the step in order within 90d" in text
    assert "Largest loss: Browse \u2192 Cart, 50% of chains lost (3 of 6)." in text
    assert "customers" not in text.replace("not customers", "") and "Buyers, two definitions" not in page
    overview = _text(_section(page, "overview"))
    assert "6 \u2192 3 chains" in overview and "Funnels count chains (totals)" in overview
    assert "Not funnels, so unchanged by these options: the lifecycle" in overview
    assert "%{x:,} chains<br>" in page.replace("\\u003c", "<").replace("\\u003e", ">")
    assert "--count totals cannot be combined with optional steps (HG126)" in _text(
        _section(page, "overview")
    )


def test_hold_in_the_api_holds_every_funnel(files: Path, held: ReportResult) -> None:
    shop, wishes = _counts(files, "shop.yaml", hold="device"), _counts(files, "wishes.yaml", hold="device")
    assert shop == [4, 2, 2] and wishes == [4, 2, 2, 2]
    assert [s.customers for s in held.results["shop"].steps] == shop
    assert [s.customers for s in held.results["wishes"].steps] == wishes
    assert held.funnel_options == {"hold": "device", "count": "uniques"}
    assert held.to_dict()["funnel_options"]["hold"] == "device"
    assert "Funnels hold device (--hold device): events of one chain share the same device." in held.notes
    assert any(n.startswith("Not funnels, so unchanged") for n in held.notes)
    # not a funnel: the lifecycle is the plain one, whatever the funnels hold
    plain = hourglass.lifecycle(str(files / "log.csv"), str(files / "wishes.yaml"))
    assert held.lifecycle is not None
    assert [s["entered"] for s in held.lifecycle.to_dict()["stages"]] == [
        s["entered"] for s in plain.to_dict()["stages"]
    ]
    page = held.path.read_text(encoding="utf-8")
    assert _table_counts(_section(page, "m2-shop")) == shop
    # the funnel over time is the held funnel: 2 customers reach cart (3 without --hold)
    over_time = _text(_section(page, "funnel-time"))
    assert "Held: events of one chain share the same device (--hold device)" in over_time
    assert "cart from previous 2 " in over_time
    assert {"funnel-time", "funnel-explained"} <= set(held.sections)
    explained = _text(_section(page, "funnel-explained"))
    assert "Held: events of one chain share the same device (--hold device)" in explained


def test_hold_is_said_in_every_funnel_section(held: ReportResult) -> None:
    page = held.path.read_text(encoding="utf-8")
    for anchor in ("m1-wishes", "m2-shop"):
        assert "events of one chain share the same device" in _text(_section(page, anchor)), anchor
    overview = _text(_section(page, "overview"))
    assert "Funnels hold device" in overview and "Not funnels, so unchanged" in overview


def test_optional_steps_over_time(held: ReportResult) -> None:
    over_time = _text(_section(held.path.read_text(encoding="utf-8"), "funnel-time"))
    assert "wish (optional) from previous 2 " in over_time
    assert "An optional step's line is its own conversion" in over_time


def test_optional_steps_are_labelled_with_their_own_conversion(held: ReportResult) -> None:
    page = held.path.read_text(encoding="utf-8")
    section = _section(page, "m1-wishes")
    row = re.search(r'<tr[^>]*><td class="step">Wishlist.*?</tr>', section)
    assert row is not None and ">optional</span>" in row.group(0)
    assert "largest loss" not in row.group(0)  # skipping an optional step loses no one
    # its own conversion (2 of the 4 who browsed), no "dropped"; the loss is browse -> cart (2 of 4)
    assert "<td>2</td><td>50.0% " in row.group(0) and "<td>\u2014</td><td>6.0 min</td>" in row.group(0)
    assert "Largest loss: Browse \u2192 Cart, 50% of customers lost (2 of 4)." in _text(section)
    assert '"y":["Browse","Wishlist (optional)","Cart","Sale"]' in page  # the funnel chart


def test_a_bad_hold_column_is_the_funnels_error_before_any_section(files: Path) -> None:
    out = files / "bad.html"
    args = [
        str(files / "log.csv"),
        "--model",
        str(files / "shop.yaml"),
        "--hold",
        "devise",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(report_cmd, [*args, "--with", "none"])
    assert result.exit_code == 2, result.output
    assert "HG306" in result.output and "--hold: no column 'devise'" in result.output
    assert "did you mean 'device'" in result.output and "Traceback" not in result.output
    assert not out.exists()
    steps: list[str] = []
    with pytest.raises(SpecError) as caught:
        report(
            files / "log.csv", str(files / "shop.yaml"), out=out, hold="devise", extras=[], step=steps.append
        )
    assert caught.value.code == "HG306" and steps == ["loading the source"]  # no section ran
    with pytest.raises(SpecError) as bad_count:  # the funnel's own check, before the source is read
        report(files / "log.csv", out=out, count="chains")
    assert bad_count.value.code == "HG109"
