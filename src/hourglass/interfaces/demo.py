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
from typing import Any

from hourglass.engine.store import write_events
from hourglass.ingest.outputs import cannot_write
from hourglass.ingest.simulator import SimulationTruth, channel_costs, simulate_shop
from hourglass.interfaces import api, journeys_api
from hourglass.interfaces.lifecycle_api import lifecycle
from hourglass.interfaces.reports.html import write_report
from hourglass.model.lifecycle_result import LifecycleResult
from hourglass.model.presets import PRESETS
from hourglass.model.results import FunnelResult

__all__ = ["DEMO_WINDOW", "DemoRun", "prepare_out_dir", "run_demo"]

DEMO_WINDOW = "90d"  # long enough for the post-sale stages of the hourglass models
DEMO_MODEL = "hourglass"  # the model of the lifecycle and journey sections
PATH_STEPS = 8  # the Sankey's longest path


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


def largest_loss(result: FunnelResult) -> tuple[str, str, float] | None:
    """(from step, to step, share lost) of the step with the lowest conversion from the previous."""
    rows = result.rows()
    worst = None
    for prev, row in itertools.pairwise(rows):
        conv = row["conversion_from_previous"]
        if conv is not None and (worst is None or conv < worst[2]):
            worst = (prev["step"], row["step"], conv)
    return None if worst is None else (worst[0], worst[1], 1 - worst[2])


def run_demo(
    out_dir: str | Path = "demo-out",
    *,
    customers: int = 50_000,
    seed: int = 7,
    step: Callable[[str], None] | None = None,
) -> DemoRun:
    """``step(message)`` is called as each piece of work starts (for progress display)."""
    started = time.perf_counter()
    say = step or (lambda _msg: None)
    if customers < 1:
        raise ValueError(f"customers must be at least 1, not {customers}")  # before making the directory
    out = prepare_out_dir(out_dir)
    say(f"simulating {customers:,} customers")
    table, truth = simulate_shop(customers, seed=seed)
    db, pq = out / "demo.duckdb", out / "events.parquet"
    say("writing DuckDB and Parquet")
    write_events(table, duckdb_path=db, parquet_path=pq)
    ev = api.events(f"{db}:events")
    results: dict[str, FunnelResult] = {}
    for name in PRESETS:
        say(f"funnel: {name}")
        results[name] = api.funnel(ev, model=name, window=DEMO_WINDOW)
    timings: dict[str, float] = {"funnels": time.perf_counter() - started}
    spend = out / "spend.csv"
    write_spend(truth, spend)
    mark = time.perf_counter()
    say("lifecycle: the hourglass")
    life = lifecycle(ev, DEMO_MODEL, spend=str(spend))
    timings["lifecycle"] = time.perf_counter() - mark
    journeys = run_journeys(ev, life, say, timings)
    say("writing the report")
    sections: list[dict[str, Any]] = []
    for name, result in results.items():
        m = PRESETS[name]
        sections.append(
            {
                "model": name,
                "label": m.label,
                "kind": m.kind,
                "description": m.description,
                "window": DEMO_WINDOW,
                "funnel": result.to_dict(),
            }
        )
    seconds = time.perf_counter() - started
    summary = {
        "source": str(db),
        "events": table.num_rows,
        "customers": truth.n_customers,
        "engine": "duckdb",
        "seconds": round(seconds, 1),
        "seed": seed,
    }
    report = write_report(
        out / "report.html",
        sections,
        title="hourglass demo: one shop, six journey models",
        summary=summary,
        lifecycle=life.to_dict(),
        journeys=journeys,
    )
    return DemoRun(db, pq, report, table.num_rows, ev_customers(ev), results, seconds, spend, life, timings)


def prepare_out_dir(out_dir: str | Path) -> Path:
    """The demo's directory, made if missing and tried with a scratch file: SourceError HG425 if it
    cannot be written (before any simulation)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise cannot_write(out, e.strerror or str(e), "--out") from e
    return out


def write_spend(truth: SimulationTruth, path: Path) -> Path:
    """The simulator's monthly spend per channel as a CSV of channel, period, cost."""
    costs = channel_costs(truth)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["channel", "period", "cost"])
        for row in costs.to_pylist():
            writer.writerow([row["channel"], row["period"], f"{row['cost']:.2f}"])
    return path


def run_journeys(
    ev: Any, life: LifecycleResult, say: Callable[[str], None], timings: dict[str, float]
) -> dict[str, Any]:
    """The journey analyses of the report (dicts): entry and skips by channel, stage transitions,
    the top paths of up to PATH_STEPS stages, and the journey map of the top referrer (a customer
    who went through the whole hourglass), else a typical journey."""
    out: dict[str, Any] = {}
    mark = time.perf_counter()
    say("journeys: entry, skips, back-steps")
    out["journeys"] = journeys_api.journeys(ev, DEMO_MODEL, by="channel").to_dict()
    say("journeys: transitions")
    out["transitions"] = journeys_api.transitions(ev, DEMO_MODEL).to_dict()
    say("journeys: top paths")
    out["paths"] = journeys_api.paths(ev, DEMO_MODEL, steps=PATH_STEPS, top=10).to_dict()
    say("journeys: one customer's map")
    top = life.to_dict().get("referrals", {}).get("top_referrers") or []
    if top:
        jm = journeys_api.journey(ev, DEMO_MODEL, customer=str(top[0]["customer"]))
    else:
        jm = journeys_api.journey(ev, DEMO_MODEL, sample=1, clusters=5)
    out["journey"] = jm.to_dict()
    timings["journeys"] = time.perf_counter() - mark
    return out


def ev_customers(ev: Any) -> int:
    return int(ev.engine.execute(ev.table.customer.nunique()))
