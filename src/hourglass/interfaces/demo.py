"""The demo: simulate a shop, store it, run every built-in model's funnel, write the report."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hourglass.engine.store import write_events
from hourglass.ingest.simulator import simulate_shop
from hourglass.interfaces import api
from hourglass.interfaces.reports import write_report
from hourglass.model.presets import PRESETS
from hourglass.model.results import FunnelResult

__all__ = ["DEMO_WINDOW", "DemoRun", "run_demo"]

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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
        out / "report.html", sections, title="hourglass demo: one shop, six journey models", summary=summary
    )
    return DemoRun(db, pq, report, table.num_rows, ev_customers(ev), results, seconds)


def ev_customers(ev: Any) -> int:
    return int(ev.engine.execute(ev.table.customer.nunique()))
