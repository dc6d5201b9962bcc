"""The dashboard's pages of the later analyses (flywheel, friction, retention, lifetime value,
attribution): each draws the report's own section for its form's options, says "not measured"
with the reason where the source cannot support it, and rejects an unknown option value."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from hourglass.interfaces.dashboard.app import create_app
from hourglass.interfaces.dashboard.data import load_source
from hourglass.interfaces.dashboard.extras import PAGES

with warnings.catch_warnings():  # starlette's testclient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from hourglass.ingest.simulator import simulate_shop

    table, _truth = simulate_shop(600, seed=3)
    path = Path(tmp_path_factory.mktemp("dash")) / "shop.parquet"
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    return TestClient(create_app(load_source(str(path))), base_url="http://127.0.0.1")


@pytest.mark.parametrize("name", [p.name for p in PAGES])
def test_every_analysis_page_draws_its_section(client: Any, name: str) -> None:
    page = client.get(f"/{name}")
    assert page.status_code == 200, page.text
    assert f'id="{name}"' in page.text or f"id='{name}'" in page.text  # the report part's anchor
    assert 'data-plot="' in page.text or "not measured" in page.text.lower()
    assert "Traceback" not in page.text
    fragment = client.get(f"/{name}", headers={"X-HG-Fragment": "1"})
    assert fragment.status_code == 200


def test_a_page_option_is_read_from_the_url(client: Any) -> None:
    weekly = client.get("/retention?period=week&mode=unbounded")
    monthly = client.get("/retention?period=month")
    assert weekly.status_code == monthly.status_code == 200
    assert weekly.text != monthly.text


def test_an_unknown_option_value_is_a_coded_error_in_the_page(client: Any) -> None:
    page = client.get("/flywheel?period=fortnight")
    assert page.status_code == 400
    assert "HG109" in page.text and "week" in page.text


def test_attribution_without_a_channel_says_why(tmp_path: Path) -> None:
    src = tmp_path / "e.csv"
    rows = ["customer_id,event,timestamp"] + [
        f"c{i},{ev},2024-01-0{d} 10:00:00" for i in range(6) for d, ev in ((1, "visit"), (2, "purchase"))
    ]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page = TestClient(create_app(load_source(str(src))), base_url="http://127.0.0.1").get("/attribution")
    assert page.status_code == 400
    assert "channel" in page.text and "HG380" in page.text


def test_the_friction_page_forecasts_a_change(client: Any) -> None:
    page = client.get("/friction?changes=trial->sale %2B10%25; friction delivery_late -50%25")
    assert page.status_code == 200, page.text
    assert 'data-plot="friction-whatif' in page.text  # the what-if chart (a fresh id per response)
    bad = client.get("/friction?changes=trial->nowhere %2B10%25")
    assert bad.status_code == 200  # friction and diagnose stand; the what-if says why it is missing
    assert "HG173" in bad.text or "nowhere" in bad.text
