"""The demo: simulate a shop, store it, run every built-in model's funnel, the hourglass lifecycle
(with the simulator's spend table) and the journey analyses, and write the report."""

from __future__ import annotations

import csv
import itertools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hourglass.engine.store import write_events
from hourglass.ingest.outputs import atomic_open, cannot_write
from hourglass.ingest.simulator import SimulationTruth, channel_costs, simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.report_api import report
from hourglass.model.lifecycle_result import LifecycleResult
from hourglass.model.results import FunnelResult

__all__ = ["DEMO_WINDOW", "DemoRun", "largest_loss", "prepare_out_dir", "run_demo"]

DEMO_WINDOW = "90d"  # long enough for the post-sale stages of the hourglass models


@dataclass(frozen=True)
class DemoRun:
    duckdb_path: Path
    parquet_path: Path
    report_path: Path
    events: int
    customers: int
    results: dict[str, FunnelResult]
    seconds: float
    spend_path: Path | None = None
    lifecycle: LifecycleResult | None = None
    timings: dict[str, float] | None = None


def largest_loss(result: FunnelResult) -> tuple[str, str, float, int] | None:
    """(from step, to step, share lost, customers lost) of the step that lost the most customers
    (the previous step's customers minus this step's; ties: the earlier step), None without a
    second step. A low rate on a handful of customers is not the headline when thousands left
    at another step."""
    best: tuple[str, str, float, int] | None = None
    for prev, row in itertools.pairwise(result.rows()):
        if prev["customers"] is None or row["customers"] is None:
            continue
        lost = int(prev["customers"]) - int(row["customers"])
        if best is None or lost > best[3]:
            share = lost / prev["customers"] if prev["customers"] else 0.0
            best = (prev["step"], row["step"], share, lost)
    return best


def run_demo(
    out_dir: str | Path = "demo-out",
    *,
    size: int = 50_000,
    seed: int = 7,
    step: Callable[[str], None] | None = None,
) -> DemoRun:
    """Simulate ``size`` customers, store them (DuckDB and Parquet, the spend table as CSV) and
    write the report of every built-in model with ``hourglass.report``. ``step(message)`` is called
    as each piece of work starts (for progress display)."""
    started = time.perf_counter()
    say = step or (lambda _msg: None)
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")  # before making the directory
    out = prepare_out_dir(out_dir)
    say(f"simulating {size:,} customers")
    table, truth = simulate_shop(size, seed=seed)
    db, pq = out / "demo.duckdb", out / "events.parquet"
    say("writing DuckDB and Parquet")
    write_events(table, duckdb_path=db, parquet_path=pq)
    spend = write_spend(truth, out / "spend.csv")
    simulated = time.perf_counter() - started
    ev = api.events(f"{db}:events")
    done = report(
        ev,
        out=out / "report.html",
        spend=spend,
        window=DEMO_WINDOW,
        title="hourglass demo: one shop, six journey models",
        step=say,
        summary={"seed": seed},
    )
    timings = {"simulation": simulated, **done.timings}
    return DemoRun(
        db,
        pq,
        done.path,
        done.events,
        done.customers,
        dict(done.results),
        time.perf_counter() - started,
        spend,
        done.lifecycle,
        timings,
    )


def prepare_out_dir(out_dir: str | Path) -> Path:
    """The demo's directory, made if missing and tried with a scratch file: SourceError HG425 if it
    cannot be written (before any simulation)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise cannot_write(out, e.strerror or str(e), "--out-dir") from e
    return out


def write_spend(truth: SimulationTruth, path: Path) -> Path:
    """The simulator's monthly spend per channel as a CSV of channel, period, cost."""
    costs = channel_costs(truth)
    with atomic_open(path, newline="") as f:  # whole or not at all (HG425)
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["channel", "period", "cost"])
        for row in costs.to_pylist():
            writer.writerow([row["channel"], row["period"], f"{row['cost']:.2f}"])
    return path
