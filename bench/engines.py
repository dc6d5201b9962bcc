"""Benchmark: the same log on every engine (issue 17, README "Bigger than one machine"): the lifecycle
and a funnel by the CLI, as a user runs them, on

- ``duckdb-file``: DuckDB reading the Parquet file;
- ``duckdb-store``: DuckDB on a store written once by ``hourglass ingest`` (the ingest is timed too);
- ``spark-local``: ``--engine spark`` (local[2]);
- ``spark-cluster``: ``--engine spark://127.0.0.1:PORT``, a standalone master and one worker (1 core,
  --worker-memory) started from the installed pyspark for the run (tests/_servers.py);
- ``postgres``: the log loaded into a table of a PostgreSQL 15 server started on loopback for the run
  (COPY, not timed), then ``--engine postgres://...`` with the table as SOURCE, and ``hourglass ingest``
  of that table into a store (timed: the other way to use events that live in PostgreSQL).

Every command is its own process (a Spark command pays its session's start, as a user's does); the
wall time of each is printed and written as JSON. The log is bench/_data.py's (cached in bench/data/).

    .venv/bin/python bench/engines.py --events 10000000
    .venv/bin/python bench/engines.py --events 1000000 --only spark-local,spark-cluster
    .venv/bin/python bench/engines.py --events 10000000 --shape returning --only duckdb-file,duckdb-store
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests"))

ENGINES = ("duckdb-file", "duckdb-store", "spark-local", "spark-cluster", "postgres")
HOURGLASS = str(Path(sys.executable).parent / "hourglass")


def timed(args: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """One CLI command: its wall time, exit status and the last line of its error output."""
    started = time.monotonic()
    try:
        run = subprocess.run(
            [HOURGLASS, *args], capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ)
        )
        status, tail = run.returncode, (run.stderr.strip().splitlines() or [""])[-1]
    except subprocess.TimeoutExpired:
        status, tail = -1, f"timed out after {timeout:.0f} s"
    seconds = round(time.monotonic() - started, 1)
    print(f"  {seconds:8.1f} s  exit {status}  hourglass {' '.join(args)}", flush=True)
    if status != 0:
        print(f"            {tail}", flush=True)
    return {"command": "hourglass " + " ".join(args), "seconds": seconds, "exit": status}


def analyses(source: str, engine: str, env: dict[str, str] | None, timeout: float) -> list[dict[str, Any]]:
    from _data import FUNNELS

    steps = ",".join(FUNNELS[3])
    common = ["--engine", engine, "--format", "json", "--out", os.devnull]
    return [
        timed(["funnel", source, "--steps", steps, "--window", "7d", *common], env, timeout),
        timed(["lifecycle", source, *common], env, timeout),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--shape", default="once", help="bench/_data.py's shape of the log (bench/SHAPES.md) [once]"
    )
    ap.add_argument(
        "--only", default=",".join(ENGINES), help="engines, comma-separated: " + ", ".join(ENGINES)
    )
    ap.add_argument("--worker-memory", default="4g", help="the standalone worker's memory [4g]")
    ap.add_argument("--timeout", type=float, default=3600, help="per command, seconds [3600]")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()
    from _data import ensure_dataset

    source = str(ensure_dataset(ROOT / "data", args.events, args.seed, shape=args.shape))
    print(f"log: {source} ({args.events:,} events, shape {args.shape})", flush=True)
    results: dict[str, Any] = {"events": args.events, "shape": args.shape, "source": source, "runs": {}}
    only = [e.strip() for e in args.only.split(",") if e.strip()]
    work = Path(tempfile.mkdtemp(prefix="hg-bench-engines-"))
    for name in only:
        print(name, flush=True)
        if name == "duckdb-file":
            results["runs"][name] = analyses(source, "duckdb", None, args.timeout)
        elif name == "duckdb-store":
            store = str(work / "store.duckdb")
            ingest = timed(["ingest", source, "--into", store, "--force", "--quiet"], None, args.timeout)
            results["runs"][name] = [ingest, *analyses(store, "duckdb", None, args.timeout)]
        elif name == "spark-local":
            results["runs"][name] = analyses(source, "spark", None, args.timeout)
        elif name == "spark-cluster":
            from _servers import spark_cluster, spark_env

            with spark_cluster(memory=args.worker_memory) as master:
                results["runs"][name] = analyses(source, master, spark_env(), args.timeout)
        elif name == "postgres":
            from postgres import load

            from _servers import postgres_server

            with postgres_server() as url:
                started = time.monotonic()
                rows = load(url, Path(source))
                print(f"  {time.monotonic() - started:8.1f} s  loaded {rows:,} rows (COPY, not timed)")
                store = str(work / "from-postgres.duckdb")
                pull = ["ingest", f"{url}/events", "--into", store, "--force", "--quiet"]
                results["runs"][name] = [
                    *analyses("events", url, None, args.timeout),
                    timed(pull, None, args.timeout),
                ]
        else:
            raise SystemExit(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
