"""DuckDB's own progress bar never reaches the terminal from the Python API (issue 18): the
connections hourglass makes do not print it (the CLI draws its own progress display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hourglass


def test_a_long_query_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    n = 100_000
    path = tmp_path / "ev.parquet"
    pd.DataFrame(
        {
            "customer_id": rng.integers(0, 5_000, n),
            "event": np.array(["visit", "signup", "view"])[rng.integers(0, 3, n)],
            "timestamp": np.datetime64("2024-01-01", "us")
            + rng.integers(0, 10**12, n).astype("timedelta64[us]"),
        }
    ).to_parquet(path)
    engine = hourglass.connect("duckdb")
    # DuckDB draws its bar once a query has run progress_bar_time ms (2 s by default): from the start
    engine.con.raw_sql("SET progress_bar_time = 0")
    capfd.readouterr()
    result = hourglass.funnel(hourglass.events(str(path), engine=engine), ["visit", "signup"], window="7d")
    assert result.steps[0].customers > 0
    out, err = capfd.readouterr()
    assert out == "" and err == ""
