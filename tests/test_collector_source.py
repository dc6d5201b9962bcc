"""A collector's data directory is a source (issue 13, docs/collector.md "Reading the data"): DIR reads
the store of its only project, DIR:PROJECT one of several (HG453), HG454 before any compaction; the
Parquet dataset DIR/events/PROJECT is what DuckDB reads (Spark reads the same layout: test_engines.py's
partitioned dataset; a Spark session here cost 50 s of CPU on a busy machine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.cli import cli
from hourglass.interfaces.cli.compact import compact_cmd
from hourglass.interfaces.server.compact import compact
from hourglass.interfaces.server.dataset import init_data_dir
from hourglass.model.errors import SourceError
from test_collector_compact import T0, logged, row

STEPS = ["visit", "signup", "purchase"]


def shop(tmp_path: Path, *projects: str) -> Path:
    data = tmp_path / "collector"
    for project in projects or ("shop",):
        logged(
            data,
            "c1",
            [
                row(f"{project}1", "amy", "visit", project=project),
                row(f"{project}2", "amy", "signup", at=T0 + 10, project=project),
                row(f"{project}3", "amy", "purchase", at=T0 + 20, project=project),
                row(f"{project}4", "bob", "visit", project=project),
            ],
        )
    return data


def counts(result: object) -> list[int]:
    return [s.customers for s in result.steps]  # type: ignore[attr-defined]


def test_the_directory_reads_its_only_projects_store(tmp_path: Path) -> None:
    data = shop(tmp_path)
    with pytest.raises(SourceError) as info:
        hourglass.funnel(str(data), STEPS)
    assert info.value.code == "HG454" and f"hourglass compact --data {data}" in str(info.value.hint)
    result = CliRunner().invoke(compact_cmd, ["--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "4 events read, 4 written, 0 duplicates dropped; stores: shop (4 events)" in result.output
    assert counts(hourglass.funnel(str(data), STEPS)) == [2, 1, 1]
    assert counts(hourglass.funnel(f"{data}:shop", STEPS)) == [2, 1, 1]
    out = CliRunner().invoke(cli, ["funnel", str(data), "--steps", ",".join(STEPS), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert '"customers": 2' in out.output


def test_several_projects_are_named_one_at_a_time(tmp_path: Path) -> None:
    data = shop(tmp_path, "shop", "blog")
    compact(data)
    with pytest.raises(SourceError) as info:
        hourglass.funnel(str(data), STEPS)
    assert (
        info.value.code == "HG453" and "blog, shop" in str(info.value) and f"{data}:blog" in str(info.value)
    )
    assert counts(hourglass.funnel(f"{data}:blog", STEPS)) == [2, 1, 1]
    with pytest.raises(SourceError) as info:
        hourglass.funnel(f"{data}:nope", STEPS)
    assert info.value.code == "HG453" and "blog, shop" in str(info.value.hint)


def test_compact_refuses_a_directory_that_is_no_collectors(tmp_path: Path) -> None:
    result = CliRunner().invoke(compact_cmd, ["--data", str(tmp_path)])
    assert result.exit_code == 2 and "[HG455]" in result.output
    init_data_dir(tmp_path)
    result = CliRunner().invoke(compact_cmd, ["--data", str(tmp_path), "--id", "web-9"])
    assert result.exit_code == 2 and "[HG455]" in result.output and "web-9" in result.output
    result = CliRunner().invoke(compact_cmd, ["--data", str(tmp_path), "--dedupe-window", "7"])
    assert result.exit_code == 2 and "[HG107]" in result.output


def test_the_dataset_is_a_hive_partitioned_parquet_source(tmp_path: Path) -> None:
    import duckdb

    data = shop(tmp_path)
    compact(data, refresh=False)
    root = data / "events" / "shop"
    got = duckdb.sql(
        f"SELECT count(*), min(dt)::VARCHAR, typeof(min(timestamp)) FROM read_parquet('{root}/*/*.parquet', "
        "hive_partitioning = true)"
    ).fetchone()
    assert got == (4, "2026-12-01", "TIMESTAMP WITH TIME ZONE")
    assert counts(hourglass.funnel(str(root), STEPS, columns={"customer": "customer"})) == [2, 1, 1]
