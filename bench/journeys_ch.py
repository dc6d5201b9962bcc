"""Paths and transitions (issue 18): hourglass against ClickHouse (chdb) on one Parquet file.

The forms of the issue, at the event level and at the stage level (bench/journeys.py's six-stage
model), each engine's answer asserted equal to the other's in every run:

- paths: ``hourglass.paths(level=..., steps=8, top=10)`` against ClickHouse's
  ``groupArray((ts, node))``, ``arraySort``, ``arrayCompact``, ``arraySlice(.., 1, 8)`` per
  customer, counted per path (the top 10 and their customers compared);
- transitions: ``hourglass.transitions(level=...)`` against ``lagInFrame(node)`` over the
  customer's order, ``WHERE node != prev``, counted per (prev, node) (the moves of every edge
  compared; hourglass also counts each edge's customers and its median and p90 times, and the ends).

At the stage level ClickHouse maps each event to its stage with ``transform`` (every event of the
model is in one stage) and drops the others; the sequence is sorted by (ts, stage), as hourglass's.

Runs alternate hourglass and chdb, in one process (default: both imported and warmed up on the 1M
file first, untimed) or ``--fresh`` (each run the first query of a new process, as the issue's
figures). ``--store``: hourglass reads the store ingested from the file (untimed, once), chdb the
Parquet. The 1-minute load average is printed with every run: 8 agents share 2 cores here, so the
ratios, not the times, are the result.

    .venv/bin/python bench/journeys_ch.py --events 10M --runs 5
    .venv/bin/python bench/journeys_ch.py --events 10M --shape returning --store --only paths
    .venv/bin/python bench/journeys_ch.py --show-sql
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

from _data import ensure_dataset

from journeys import MODEL, parse_count

ANALYSES = ("paths", "transitions")
SCHEMA = "customer_id Int64, event String, timestamp DateTime64(6)"


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _stage_map() -> tuple[list[str], list[int]]:
    names, index = [], []
    for k, stage in enumerate(MODEL["stages"], start=1):  # type: ignore[arg-type]
        for e in stage["events"]:
            names.append(e)
            index.append(k)
    return names, index


def chdb_sql(analysis: str, level: str, path: str) -> str:
    """ClickHouse's query of the same analysis (the issue's, and its stage-level equivalent)."""
    src = f"file({_q(path)}, Parquet, {_q(SCHEMA)})"
    if level == "stage":
        names, index = _stage_map()
        node = f"transform(event, [{', '.join(_q(n) for n in names)}], [{', '.join(map(str, index))}], 0)"
        src = f"(SELECT customer_id, timestamp, {node} AS node FROM {src} WHERE node > 0)"
        order, lag0 = "timestamp, node", "0"
    else:
        src = f"(SELECT customer_id, timestamp, event AS node FROM {src})"
        order, lag0 = "timestamp", "''"
    if analysis == "paths":
        # the query (sorted by ts: no customer has two events at one time in these logs);
        # at the stage level sorted by (ts, stage) as hourglass; ties broken as hourglass's top
        sort = "arraySort(x -> x.1, groupArray((timestamp, node)))"
        if level == "stage":
            sort = "arraySort(groupArray((timestamp, node)))"
        return (
            f"SELECT p, count() c FROM (SELECT arraySlice(arrayCompact(arrayMap(x -> x.2, {sort})), 1, 8) p "
            f"FROM {src} GROUP BY customer_id) GROUP BY p ORDER BY c DESC, p LIMIT 10"
        )
    return (
        f"SELECT prev, node, count() FROM (SELECT node, lagInFrame(node, 1, {lag0}) OVER (PARTITION BY "
        f"customer_id ORDER BY {order} ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) prev FROM {src}) "
        "WHERE node != prev GROUP BY prev, node"
    )


def _stage_name(k: Any) -> str:
    return str(MODEL["stages"][int(k) - 1]["name"])  # type: ignore[index]


def _cpu(children: bool = False) -> float:
    """This process's user + system CPU seconds (all its threads: DuckDB's and chdb's), or with
    ``children`` its finished child processes' (a fresh run's whole process, imports included)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_chdb(analysis: str, level: str, path: str) -> tuple[float, Any]:
    import chdb

    sql = chdb_sql(analysis, level, path)
    started = time.perf_counter()
    res = chdb.query(sql, "JSONCompact")
    took = time.perf_counter() - started
    rows = json.loads(res.bytes())["data"]
    name = _stage_name if level == "stage" else str
    if analysis == "paths":
        return took, [[[name(x) for x in r[0]], int(r[1])] for r in rows]
    start = 0 if level == "stage" else ""
    return took, sorted([name(r[0]), name(r[1]), int(r[2])] for r in rows if r[0] != start)


def run_hourglass(analysis: str, level: str, path: str) -> tuple[float, Any]:
    # the engines' libraries (DuckDB, Ibis's DuckDB backend, numpy, pyarrow and its Parquet reader,
    # sqlglot) imported before the clock, as bench/funnel.py does and as run_chdb's `import chdb`
    # loads ClickHouse
    import duckdb  # noqa: F401
    import ibis.backends.duckdb  # noqa: F401
    import numpy  # noqa: F401
    import pyarrow.parquet  # noqa: F401  (the Parquet reader of engine/parquet_rows.py)
    import sqlglot  # noqa: F401

    from hourglass.interfaces import journeys_api as hg
    from hourglass.model.journey import JourneyModel

    model = JourneyModel.from_dict(MODEL) if level == "stage" else None
    started = time.perf_counter()
    if analysis == "paths":
        r = hg.paths(path, model, level=level, steps=8, top=10)
        took = time.perf_counter() - started
        return took, [[list(t["path"]), int(t["customers"])] for t in r.to_dict()["top"]]
    t = hg.transitions(path, model, level=level)
    took = time.perf_counter() - started
    edges = t.to_dict()["edges"]
    return took, sorted([e["from"], e["to"], int(e["moves"])] for e in edges if e["to"] is not None)


RUNNERS = {"hourglass": run_hourglass, "chdb": run_chdb}


def fresh(engine: str, analysis: str, level: str, path: str, env: dict[str, str]) -> tuple[float, Any]:
    """One run as the first query of a new process."""
    cmd = [sys.executable, __file__, "--worker", engine, analysis, level, path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    took, answer = json.loads(out.stdout.strip().splitlines()[-1])
    return float(took), answer


def child_env(data_dir: Path) -> dict[str, str]:
    """As bench/funnel.py's workers: a bytecode cache (no recompiling of lazily imported modules)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str((data_dir / ".pycache").resolve()))
    return env


def stale_store(store: Path, parquet: Path) -> bool:
    """The store is missing, older than the file, or a store of text names written before the
    rows' places (``hg_seq``, engine/store_codes.py): ingest again."""
    if not store.exists() or store.stat().st_mtime < parquet.stat().st_mtime:
        return True
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        cols = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE hg_events)").fetchall()}
    finally:
        con.close()
    return "hg_event_code" in cols and "hg_seq" not in cols


def ensure_store(parquet: Path) -> Path:
    store = parquet.with_name(parquet.stem + ".store.duckdb")
    if stale_store(store, parquet):
        code = "import hourglass, sys; hourglass.ingest_store(sys.argv[1], sys.argv[2], overwrite=True)"
        subprocess.run([sys.executable, "-c", code, str(parquet), str(store)], check=True)
    return store


def warm_up(data_dir: Path, seed: int, analyses: list[str], levels: list[str]) -> None:
    """Both engines once on the 1M file, untimed (imports, lazy modules)."""
    small = str(ensure_dataset(data_dir, 1_000_000, seed))
    for an in analyses:
        for lv in levels:
            run_hourglass(an, lv, small)
            run_chdb(an, lv, small)


def compare(
    analysis: str, level: str, parquet: Path, hg_path: str, runs: int, *, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``runs`` rounds alternating hourglass (on ``hg_path``) and chdb (on ``parquet``), in this
    process (or each a new process with ``env``), the answers asserted equal in every round: the
    medians, their ratio, the median of the per-round ratios and the 1-minute load averages."""
    times: dict[str, list[float]] = {"hourglass": [], "chdb": []}
    cpus: dict[str, list[float]] = {"hourglass": [], "chdb": []}
    loads = []
    for i in range(runs):
        answers = {}
        for engine in ("hourglass", "chdb") if i % 2 == 0 else ("chdb", "hourglass"):
            load = os.getloadavg()[0]
            loads.append(load)
            path = hg_path if engine == "hourglass" else str(parquet)
            before = _cpu(children=env is not None)
            if env is not None:
                took, answers[engine] = fresh(engine, analysis, level, path, env)
            else:
                took, answers[engine] = RUNNERS[engine](analysis, level, path)
            # in-process: the call and the answer's reading; fresh: the child's whole process
            spent = _cpu(children=env is not None) - before
            times[engine].append(took)
            cpus[engine].append(spent)
            print(
                f"  {analysis} {level} run {i + 1} {engine:<9} {took:7.2f} s, {spent:6.2f} CPU-s "
                f"(load {load:.1f})",
                flush=True,
            )
        if answers["hourglass"] != answers["chdb"]:
            print(f"MISMATCH {analysis} {level}:\n  {answers['hourglass']}\n  {answers['chdb']}")
            raise SystemExit(1)
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    pairs = statistics.median(h / c for h, c in zip(times["hourglass"], times["chdb"], strict=True))
    return {
        "hourglass": med["hourglass"],
        "chdb": med["chdb"],
        "ratio": med["hourglass"] / med["chdb"],
        "cpu": (cpu["hourglass"], cpu["chdb"]),
        "per_round": pairs,
        "load": (min(loads), max(loads)),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        engine, analysis, level, path = sys.argv[2:6]
        print(json.dumps(RUNNERS[engine](analysis, level, path)))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", default="10M")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--shape", default="once", help="bench/_data.py's shape (once, returning, bots, wide, late)"
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", choices=ANALYSES, action="append")
    ap.add_argument("--level", choices=("event", "stage"), action="append")
    ap.add_argument("--store", action="store_true", help="hourglass reads the store ingested from the file")
    ap.add_argument("--fresh", action="store_true", help="every run in a new process")
    ap.add_argument("--show-sql", action="store_true")
    ap.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parent / "data")
    a = ap.parse_args()
    parquet = ensure_dataset(a.data_dir, parse_count(a.events), a.seed, shape=a.shape)
    levels, analyses = a.level or ["event", "stage"], a.only or list(ANALYSES)
    if a.show_sql:
        for an in analyses:
            for lv in levels:
                print(f"-- {an}, {lv} level\n{chdb_sql(an, lv, str(parquet))}\n")
        return
    hg_path = str(ensure_store(parquet) if a.store else parquet)
    env = child_env(a.data_dir)
    if not a.fresh:
        warm_up(a.data_dir, a.seed, analyses, levels)
    print(f"{parquet.name} ({'store' if a.store else 'Parquet'} for hourglass), {a.runs} runs", flush=True)
    summary = []
    for an in analyses:
        for lv in levels:
            r = compare(an, lv, parquet, hg_path, a.runs, env=env if a.fresh else None)
            line = (
                f"{an} {lv}: hourglass {r['hourglass']:.2f} s, chdb {r['chdb']:.2f} s, "
                f"ratio {r['ratio']:.2f} (per-run median {r['per_round']:.2f}), CPU-s {r['cpu'][0]:.2f} / "
                f"{r['cpu'][1]:.2f}, answers equal, "
                f"load {r['load'][0]:.1f}-{r['load'][1]:.1f}"
            )
            print(line, flush=True)
            summary.append(line)
    print("\n".join(["summary:", *summary]))


if __name__ == "__main__":
    main()
