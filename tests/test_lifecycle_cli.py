"""``hourglass lifecycle``: formats, the stage table export, settings and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from hourglass.interfaces.cli import cli


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_json_has_the_documented_keys(demo_parquet: Path) -> None:
    code, out, err = _run("lifecycle", str(demo_parquet), "--model", "hourglass", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    for key in ("stages", "repeat_rate", "referred_purchasers", "k_factor", "after_sale", "channels"):
        assert key in d, key
    first = d["stages"][0]
    assert {"stage", "entered", "furthest", "current", "conversion", "lost"} <= set(first)
    assert [s["stage"] for s in d["stages"]][4] == "sale"
    assert d["purchasers"] == d["stages"][4]["entered"] > 0
    assert 0 < d["repeat_rate"] < 1


def test_table_csv_and_customers(demo_parquet: Path, tmp_path: Path) -> None:
    stages = tmp_path / "stages.parquet"
    code, out, err = _run(
        "lifecycle", str(demo_parquet), "--customers", str(stages), "--set", "repeat_within=60d"
    )
    assert code == 0, err
    assert "lifecycle · hourglass" in out and "repeat rate" in out and "awareness" in out
    df = pd.read_parquet(stages)
    assert {"customer", "furthest", "current", "days_in_current", "sale_at"} <= set(df.columns)
    code, out, err = _run("lifecycle", str(demo_parquet), "--format", "csv", "--no-referrals")
    assert code == 0, err
    assert out.splitlines()[0].startswith("stage,label,entered,entered_share,furthest,current")
    assert len(out.splitlines()) == 1 + 7


def test_bad_settings_are_clear_errors(demo_parquet: Path) -> None:
    code, _, err = _run("lifecycle", str(demo_parquet), "--set", "remorse_within")
    assert code == 2 and "HG120" in err and "key=value" in err
    code, _, err = _run("lifecycle", str(demo_parquet), "--set", "remorse_withn=3d")
    assert code == 2 and "HG101" in err and "did you mean 'remorse_within'" in err
    code, _, err = _run("lifecycle", str(demo_parquet), "--set", "remorse_within=3 days")
    assert code == 2 and "HG107" in err
    code, _, err = _run("lifecycle", str(demo_parquet), "--model", "hourglas")
    assert code == 2 and "HG106" in err and "did you mean 'hourglass'" in err
    code, _, err = _run("lifecycle", str(demo_parquet), "--customers", "out.xlsx")
    assert code == 2 and "HG121" in err
    assert "Traceback" not in err
