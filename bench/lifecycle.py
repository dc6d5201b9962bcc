"""The lifecycle (issue 18): ``hourglass.lifecycle`` against a hand-written DuckDB query of its stage
table, on bench/_data.py's log with bench/journeys.py's six-stage model; wall and CPU time and the
peak memory (``ru_maxrss`` of each run's own process) of each.

The hand-written query (``HAND``, printed by ``--show-sql``) computes what the lifecycle's stage table
counts (docs/semantics-lifecycle.md): each customer's entry into each stage (his first event of it),
per stage the customers who entered it, whose furthest stage it is (the highest index entered) and
whose current stage it is (the last entry by (time, stage)), and the median and p90 time in stage
(entry to the next entry in that order). Hourglass computes more (the conversions' intervals, repeat
purchases, the after-sale figures, the notes), so the ratio is an upper bound of the stage table's
own cost. Every round asserts the per-stage counts equal and the times equal to 1e-6.

Each run is a fresh process (imports not timed), rounds alternate which goes first:

    .venv/bin/python bench/lifecycle.py --events 10M --runs 5
    .venv/bin/python bench/lifecycle.py --events 50M --runs 3 --shape returning
    .venv/bin/python bench/lifecycle.py --show-sql
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import SHAPES, ensure_dataset

from journeys import MODEL, parse_count

ENGINES = ("hourglass", "duckdb")


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def hand_sql(path: str) -> str:
    """The stage table by hand: per stage ``k`` (1-based), entered, furthest, current, median and
    p90 seconds in the stage."""
    names, index = [], []
    for k, stage in enumerate(MODEL["stages"], start=1):  # type: ignore[arg-type]
        for e in stage["events"]:
            names.append(_q(e))
            index.append(str(k))
    stage = f"[0, {', '.join(index)}][coalesce(list_position([{', '.join(names)}], event), 0) + 1]"
    return f"""
WITH ev AS (
  SELECT customer_id AS c, epoch_us("timestamp") AS ts, {stage} AS k
  FROM read_parquet({_q(path)}) WHERE event IN ({", ".join(names)})
),
entry AS (SELECT c, k, min(ts) AS t_in FROM ev GROUP BY c, k),
timed AS (
  SELECT c, k, lead(t_in) OVER (PARTITION BY c ORDER BY t_in, k) - t_in AS stay,
         row_number() OVER (PARTITION BY c ORDER BY t_in DESC, k DESC) = 1 AS is_current,
         max(k) OVER (PARTITION BY c) = k AS is_furthest
  FROM entry
)
SELECT k, count(*) AS entered, count_if(is_furthest) AS furthest, count_if(is_current) AS current,
       quantile_cont(stay / 1e6, 0.5) AS median_s, quantile_cont(stay / 1e6, 0.9) AS p90_s
FROM timed GROUP BY k ORDER BY k
"""


def run_duckdb(path: str) -> list[list[Any]]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar_print = false")
    return [list(r[1:]) for r in con.execute(hand_sql(path)).fetchall()]


def run_hourglass(path: str) -> list[list[Any]]:
    import hourglass
    from hourglass.model.journey import JourneyModel

    d = hourglass.lifecycle(path, model=JourneyModel.from_dict(MODEL)).to_dict()
    return [
        [s["entered"], s["furthest"], s["current"], s["median_time_in_stage_s"], s["p90_time_in_stage_s"]]
        for s in d["stages"]
    ]


RUNNERS = {"hourglass": run_hourglass, "duckdb": run_duckdb}


def worker(engine: str, path: str) -> None:
    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    if engine == "hourglass":
        import hourglass  # noqa: F401  (imports not timed)
    else:
        import duckdb  # noqa: F401
    c0, t0 = cpu(), time.perf_counter()
    answer = RUNNERS[engine](path)
    took, cpu_s = time.perf_counter() - t0, cpu() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    print(json.dumps({"seconds": took, "cpu": cpu_s, "peak_mb": peak, "answer": answer}))


def same(a: list[list[Any]], b: list[list[Any]]) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        if ra[:3] != rb[:3]:
            return False
        for x, y in zip(ra[3:], rb[3:], strict=True):
            if (x is None) != (y is None) or (x is not None and abs(x - y) > 1e-6 * max(1.0, abs(y))):
                return False
    return True


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", default="10M")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shape", choices=SHAPES, default="once")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--show-sql", action="store_true")
    ap.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parent / "data")
    a = ap.parse_args()
    path = str(ensure_dataset(a.data_dir, parse_count(a.events), a.seed, shape=a.shape))
    if a.show_sql:
        print(hand_sql(path))
        return
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str((a.data_dir / ".pycache").resolve()))
    got: dict[str, list[dict[str, Any]]] = {e: [] for e in ENGINES}
    for i in range(a.runs):
        answers = {}
        for engine in ENGINES if i % 2 == 0 else ENGINES[::-1]:
            load = os.getloadavg()[0]
            out = subprocess.run(
                [sys.executable, __file__, "--worker", engine, path],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["load"] = load
            got[engine].append(r)
            answers[engine] = r["answer"]
            print(
                f"  run {i + 1} {engine:<9} {r['seconds']:7.2f} s  cpu {r['cpu']:6.2f} s  "
                f"peak {r['peak_mb']:7.0f} MB  (load {load:.1f})",
                flush=True,
            )
        if not same(answers["hourglass"], answers["duckdb"]):
            print(f"MISMATCH:\n  {answers['hourglass']}\n  {answers['duckdb']}")
            raise SystemExit(1)
    med = {
        e: {k: statistics.median(r[k] for r in got[e]) for k in ("seconds", "cpu", "peak_mb")}
        for e in ENGINES
    }
    loads = [r["load"] for e in ENGINES for r in got[e]]
    print(f"{Path(path).name}, {a.runs} rounds, answers equal, load {min(loads):.1f}-{max(loads):.1f}")
    for e in ENGINES:
        m = med[e]
        print(f"  {e:<9} {m['seconds']:7.2f} s  cpu {m['cpu']:6.2f} s  peak {m['peak_mb']:7.0f} MB")
    h, d = med["hourglass"], med["duckdb"]
    print(
        f"  hourglass / hand-written: wall {h['seconds'] / d['seconds']:.2f}, cpu {h['cpu'] / d['cpu']:.2f}, "
        f"peak memory {h['peak_mb'] / d['peak_mb']:.2f}"
    )


if __name__ == "__main__":
    main()
