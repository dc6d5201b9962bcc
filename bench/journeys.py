"""Benchmark of the journey analyses (issue 5) on bench/_data.py's synthetic log.

Each run is the first analysis of a fresh Python process (imports not timed; the timed call
includes hourglass's validation pass, like bench/funnel.py). Runs alternate the analyses; the
median is reported. The model maps the generator's 10-stage journey to six stages, so events
enter in the middle (stray funnel events), skip (auxiliary stages are emitted 80% of the time)
and go back (returning visits).

    .venv/bin/python bench/journeys.py --events 10M
    .venv/bin/python bench/journeys.py --events 1M --runs 5 --only paths
    .venv/bin/python bench/journeys.py --events 10M --store   # on the store ingested from the file
    .venv/bin/python bench/journeys.py --events 10M --shape returning --targets --runs 5

``--targets`` (issue 18; ``targets(...)``, which bench/targets.py calls per shape): paths and
transitions at the event and the stage level against ClickHouse (bench/journeys_ch.py: one process,
alternated, answers asserted equal), hourglass on the Parquet file (<= 1.0 of chdb) and on the store
(<= 0.5 of chdb on the Parquet file).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import SHAPES, ensure_dataset

MODEL = {
    "name": "bench",
    "kind": "funnel",
    "sale": "purchase",
    "stages": [
        {"name": "visit", "events": ["visit"]},
        {"name": "consider", "events": ["view_pricing"]},
        {"name": "signup", "events": ["signup", "onboarding"]},
        {"name": "trial", "events": ["trial", "activate"]},
        {"name": "purchase", "events": ["checkout", "purchase"]},
        {"name": "loyal", "events": ["invite", "repeat_purchase"]},
    ],
}

CALLS = {
    "journeys": "hg.journeys(path, model)",
    "paths": "hg.paths(path, model, steps=8, top=10)",
    "transitions": "hg.transitions(path, model)",
    "funnel": "hourglass.funnel(path, model=model, window='7d')",
}

WORKER = """
import json, sys, time
import hourglass
from hourglass.interfaces import journeys_api as hg
from hourglass.model.journey import JourneyModel
path, model = sys.argv[1], JourneyModel.from_dict(json.loads(sys.argv[2]))
started = time.perf_counter()
r = {call}
took = time.perf_counter() - started
d = r.to_dict()
print(json.dumps({{"seconds": took, "customers": d.get("customers") or d["steps"][0]["customers"]}}))
"""


def parse_count(text: str) -> int:
    mult = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}
    text = text.strip().upper()
    return int(float(text[:-1]) * mult[text[-1]]) if text[-1] in mult else int(text)


def run_once(name: str, path: Path) -> dict[str, float]:
    code = WORKER.format(call=CALLS[name])
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), json.dumps(MODEL)], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - started
    return result


#: (source of hourglass, bound of hourglass / chdb on the Parquet file), issue 18
BOUNDS = (("Parquet", 1.0), ("store", 0.5))


def targets(
    events: int | str = "10M", seed: int = 7, shape: str = "once", runs: int = 5
) -> list[dict[str, Any]]:
    """Issue 18's targets of paths and transitions on ``shape``: one row per (analysis, level,
    source) with ``name``, ``hourglass`` and ``chdb`` (median seconds), ``ratio`` (of the medians),
    ``per_round`` (median of the per-round ratios), ``bound``, ``met`` (both <= bound: as
    bench/targets.py's funnel rows, a target met by one and not the other is "mixed") and
    ``load`` (the 1-minute load averages seen, min and max)."""
    import journeys_ch as ch

    data_dir = Path(__file__).resolve().parent / "data"
    n = events if isinstance(events, int) else parse_count(events)
    parquet = ensure_dataset(data_dir, n, seed, shape=shape)
    ch.warm_up(data_dir, seed, list(ch.ANALYSES), ["event", "stage"])
    rows = []
    for source, bound in BOUNDS:
        hg_path = str(ch.ensure_store(parquet) if source == "store" else parquet)
        for analysis in ch.ANALYSES:
            for level in ("event", "stage"):
                r = ch.compare(analysis, level, parquet, hg_path, runs)
                name = f"{analysis} {level} level, {source}"
                worst, best = max(r["ratio"], r["per_round"]), min(r["ratio"], r["per_round"])
                verdict = "met" if worst <= bound else "mixed" if best <= bound else "NOT met"
                rows.append({"name": name, **r, "bound": bound, "met": worst <= bound, "verdict": verdict})
                shown = f"{r['ratio']:.2f} ({r['per_round']:.2f})"
                print(f"{shape} {name}: {shown} <= {bound}: {verdict}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", default="10M")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=None, help="[42; 7 with --targets, as bench/targets.py]")
    ap.add_argument("--only", choices=sorted(CALLS), action="append")
    ap.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parent / "data")
    ap.add_argument("--store", action="store_true", help="read the store ingested (untimed) from the file")
    ap.add_argument("--shape", choices=SHAPES, default="once", help="bench/_data.py's shape of the log")
    ap.add_argument("--targets", action="store_true", help="issue 18's targets against chdb (module doc)")
    a = ap.parse_args()
    if a.targets:
        rows = targets(a.events, 7 if a.seed is None else a.seed, a.shape, a.runs)
        print(f"\n{a.shape}, {a.events} events (ratio of medians, median of per-round ratios, load):")
        for r in rows:
            verdict = "met" if r["met"] else "NOT met"
            print(
                f"  {r['name']:<34} {r['hourglass']:6.2f} s / {r['chdb']:6.2f} s = {r['ratio']:5.2f} "
                f"({r['per_round']:5.2f}) <= {r['bound']}: {verdict}  "
                f"(CPU-s {r['cpu'][0]:.2f} / {r['cpu'][1]:.2f}; load {r['load'][0]:.1f}-{r['load'][1]:.1f})"
            )
        return
    path = ensure_dataset(a.data_dir, parse_count(a.events), 42 if a.seed is None else a.seed, shape=a.shape)
    if a.store:
        import journeys_ch

        path = journeys_ch.ensure_store(path)
    names = a.only or list(CALLS)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(a.runs):
        for n in names:
            r = run_once(n, path)
            times[n].append(r["seconds"])
            print(
                f"run {i + 1} {n:<12} {r['seconds']:7.2f} s (process {r['process']:.1f} s), "
                f"{int(r['customers']):,} customers",
                flush=True,
            )
    for n in names:
        print(f"median {n:<12} {statistics.median(times[n]):7.2f} s over {a.runs} runs")


if __name__ == "__main__":
    main()
