"""A funnel step that matches no event of the source is not measured, not zero (docs/adr/0006): the
result itself carries null and ``customers_reason`` for it (and, in a funnel that is not open, for
every step after it), so JSON, CSV, the text and the table all say so. Before, JSON and CSV said
``customers: 0`` and only ``meta.notes`` (and the table, by parsing the notes) told the difference."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.cli import cli

ROWS = [
    ("a", "catalog", "10:00"),
    ("a", "cart", "10:01"),
    ("a", "payment_done", "10:02"),
    ("b", "catalog", "10:00"),
    ("b", "cart", "10:05"),
    ("c", "catalog", "10:00"),
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unmeasured") / "shop.csv"
    lines = ["user_id,event,timestamp", *(f"{u},{e},2024-03-01 {t}:00" for u, e, t in ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_typo_is_null_with_a_reason_in_the_result(shop: Path) -> None:
    result = hourglass.funnel(str(shop), ["catalog", "kart", "payment_done"])
    assert result.missing == ("kart",)
    steps = result.to_dict()["steps"]
    assert steps[0]["customers"] == 3 and "customers_reason" not in steps[0]
    for row in steps[1:]:
        assert row["customers"] is None and row["conversion_from_first"] is None
        assert row["dropped"] is None and row["median_time_from_previous_s"] is None
    assert "matches no event" in steps[1]["customers_reason"]
    assert steps[2]["customers_reason"].startswith("follows step 'kart'")
    assert "not measured (no such event)" in result.to_text()
    assert "not measured (after kart)" in result.to_text()
    assert any("kart" in n for n in result.meta["notes"])  # the closest names stay in the notes


def test_an_open_funnel_still_counts_the_steps_after_it(shop: Path) -> None:
    result = hourglass.funnel(str(shop), ["catalog", "kart", "payment_done"], open=True)
    steps = result.to_dict()["steps"]
    assert steps[1]["customers"] is None and steps[1]["customers_reason"]
    assert steps[2]["customers"] == 1 and steps[2].get("customers_reason") is None


def test_a_real_zero_stays_zero(shop: Path) -> None:
    """'payment_done' after 'cart' within 1 minute: the events exist, nobody did it in time."""
    result = hourglass.funnel(str(shop), ["cart", "payment_done"], window="30s")
    assert result.missing == ()
    assert [s["customers"] for s in result.to_dict()["steps"]] == [2, 0]


def test_json_and_csv_of_the_command(shop: Path) -> None:
    args = ["funnel", str(shop), "--steps", "catalog,kart,payment_done"]
    r = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [s["customers"] for s in data["steps"]] == [3, None, None]
    r = CliRunner().invoke(cli, [*args, "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["customers"] for row in rows] == ["3", "", ""]
    assert rows[0]["customers_reason"] == "" and "kart" in rows[2]["customers_reason"]


def test_by_keeps_the_nulls(shop: Path) -> None:
    """With --by every group says not measured too."""
    result = hourglass.funnel(str(shop), ["catalog", "kart"], by="event")
    assert result.missing == ("kart",)
    for group in result.to_dict()["groups"]:
        assert group["steps"][1]["customers"] is None and group["steps"][1]["customers_reason"]


def test_show_sql_takes_its_dialect_from_the_engine_string(shop: Path) -> None:
    """`--engine postgres://...` (or spark://HOST:PORT, local[2]) with --show-sql printed DuckDB's SQL:
    only the bare word 'spark' was recognised."""
    args = ["funnel", str(shop), "--steps", "catalog,cart", "--show-sql"]
    r = CliRunner().invoke(cli, [*args, "--engine", "postgres://u@localhost:5432/shop"])
    assert r.exit_code == 0, r.output
    assert "PERCENTILE_CONT(0.5) WITHIN GROUP" in r.stdout and "QUANTILE_CONT" not in r.stdout
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "QUANTILE_CONT" in r.stdout


def test_a_repeated_step_name_is_measured_before_the_missing_step() -> None:
    """visit, view, visit with no 'view' event: the first visit is measured (1 customer), the
    second is not (it follows the missing step); keyed by position, not by name."""
    df = pd.DataFrame(
        {"customer_id": ["ann"], "event": ["visit"], "timestamp": [pd.Timestamp("2024-01-01 00:00:00")]}
    )
    rows = hourglass.funnel(df, steps=["visit", "view", "visit"], window="1d").to_dict()["steps"]
    assert rows[0]["customers"] == 1 and "customers_reason" not in rows[0]
    assert rows[1]["customers"] is None and rows[2]["customers"] is None
    assert "customers_reason" in rows[2]
