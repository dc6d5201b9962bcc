"""``hourglass friction`` and ``hourglass diagnose`` on the command line (run through a group of their
own until the lead registers them): table, json, csv, --customers, errors with their codes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from hourglass.interfaces.cli.friction import diagnose_cmd, friction_cmd, whatif_cmd
from test_diagnose import _log as diagnose_log
from test_friction import HAND, _log

CLI = click.Group(
    "hourglass", commands={"friction": friction_cmd, "diagnose": diagnose_cmd, "whatif": whatif_cmd}
)
MODEL_YAML = """name: shop
kind: hourglass
sale: purchase
stages:
  - {name: visit, events: [visit]}
  - {name: purchase, events: [purchase]}
  - {name: repeat, events: [repeat]}
"""


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    log = tmp_path / "log.parquet"
    _log(HAND).to_parquet(log)
    model = tmp_path / "shop.yaml"
    model.write_text(MODEL_YAML)
    dlog = tmp_path / "dlog.parquet"
    diagnose_log().to_parquet(dlog)
    return log, model, dlog


def test_friction_table_json_csv_and_customers(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    log, model, _ = files
    run = CliRunner().invoke
    out = run(CLI, ["friction", str(log), "--model", str(model), "--friction", "late,nope"])
    assert out.exit_code == 0, out.output
    assert "stalls · shop" in out.output and "friction events · strata: channel x cohort" in out.output
    assert "-57.1 pt" in out.output and "nope: no 'nope' event" in out.output
    out = run(CLI, ["friction", str(log), "--model", str(model), "--friction", "late", "--format", "json"])
    data = json.loads(out.output)
    assert data["frictions"][0]["difference"] == pytest.approx(-1 / 1.75)
    out = run(CLI, ["friction", str(log), "--model", str(model), "--friction", "late", "--format", "csv"])
    assert out.output.splitlines()[0].startswith("friction,stage,to,exposed")
    stalled = tmp_path / "stalled.csv"
    args = ["friction", str(log), "--model", str(model), "--target", "repeat=1d", "--customers", str(stalled)]
    out = run(CLI, args)
    assert out.exit_code == 0, out.output
    assert sorted(pd.read_csv(stalled).customer) == ["x2", "x3", "x4", "y1", "y2", "y3", "y4"]


def test_friction_errors_have_codes(files: tuple[Path, Path, Path]) -> None:
    log, model, _ = files
    out = CliRunner().invoke(CLI, ["friction", str(log), "--model", str(model), "--target", "trail=3d"])
    assert out.exit_code == 2 and "HG166" in out.output
    out = CliRunner().invoke(CLI, ["friction", str(log), "--model", str(model), "--within", "soon"])
    assert out.exit_code == 2 and "HG165" in out.output


def test_diagnose_table_json_csv(files: tuple[Path, Path, Path]) -> None:
    _, model, dlog = files
    run = CliRunner().invoke
    base = ["diagnose", str(dlog), "--model", str(model), "--since", "2024-02-01"]
    out = run(CLI, [*base, "--baseline", "2024-01-01..2024-02-01"])
    assert out.exit_code == 0, out.output
    assert "diagnose · shop" in out.output and "compared: baseline" in out.output
    assert "visit loses the most customers" in out.output
    data = json.loads(run(CLI, [*base, "--baseline", "..2024-02-01", "--format", "json"]).output)
    assert data["compare"] == "baseline" and len(data["comparisons"]) == 2
    csv_out = run(CLI, [*base, "--by", "channel", "--format", "csv"]).output
    assert csv_out.splitlines()[0].startswith("stage,group,against")
    out = run(CLI, [*base, "--baseline", "2024-01-01"])
    assert out.exit_code == 2 and "HG170" in out.output


def test_whatif_table_json_csv(tmp_path: Path) -> None:
    from hourglass.ingest.simulator import simulate_shop

    table, _ = simulate_shop(1_000, seed=2, days=120)
    path = tmp_path / "shop.parquet"
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    base = ["whatif", str(path), "--change", "trial->sale +10%", "--horizon", "2m", "--runs", "10"]
    out = CliRunner().invoke(CLI, [*base, "--rank", "--friction", "delivery_late"])
    assert out.exit_code == 0, out.output
    assert "what-if · hourglass · trial->sale +10%" in out.output and "back-test · fit until" in out.output
    assert "ranked: every change of the same size" in out.output
    data = json.loads(CliRunner().invoke(CLI, [*base, "--format", "json"]).output)
    assert len(data["periods"]) == 2 and data["totals"]["purchasers"]["difference"] is not None
    csv_out = CliRunner().invoke(CLI, [*base, "--format", "csv"]).output
    assert (
        csv_out.splitlines()[0]
        == "period,metric,baseline,baseline_low,baseline_high,scenario,scenario_low,scenario_high"
    )
    out = CliRunner().invoke(CLI, [*base[:2], "--change", "cheaper please"])
    assert out.exit_code == 2 and "HG172" in out.output


@pytest.mark.parametrize("name", ["friction", "diagnose", "whatif"])
def test_help_has_examples(name: str) -> None:
    out = CliRunner().invoke(CLI, [name, "--help"], terminal_width=100)
    assert out.exit_code == 0 and "Examples:" in out.output and f"hourglass {name} " in out.output
