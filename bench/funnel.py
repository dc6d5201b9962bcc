"""Funnel benchmark (issue 3): hourglass vs ClickHouse's windowFunnel (chdb) on one Parquet file.

    .venv/bin/python bench/funnel.py --events 10M            # 5 alternated runs of each engine
    .venv/bin/python bench/funnel.py --events 10M --steps 10 # or 3
    .venv/bin/python bench/funnel.py --events 10M --by channel
    .venv/bin/python bench/funnel.py --events 10M --open
    .venv/bin/python bench/funnel.py --events 1M --engine-only hourglass
    .venv/bin/python bench/funnel.py --events 10M --store   # hourglass reads a store, chdb the Parquet

The journey log is generated once per (events, seed) and cached under bench/data/ (bench/_data.py).
Every run is the first query of a fresh Python process (its imports are not timed; the process's wall
time is shown too); runs alternate hourglass, chdb, DuckDB floor. The per-step customer counts of the
two engines are asserted identical. Peak RSS is the child's ru_maxrss (os.wait4). The last line is
``ratio hourglass/chdb: X.XX`` (medians); the line before it, the CPU seconds (user + system)
of each engine's call and their ratio, which moves less than wall times on a shared machine.

The same funnel on both engines (docs/semantics.md: the ordered mode equals windowFunnel's default
mode when no event matches two steps, which holds here: the steps are distinct event names):

- hourglass: ``hourglass.funnel(path, steps=[...], window="7d")`` (Python API, default engine);
- chdb: ``windowFunnel(W)(toUInt64(toUnixTimestamp64Micro(timestamp)), event = 's1', ...)`` per
  ``customer_id``, then ``countIf(level >= k)``, reading the file with an explicit non-Nullable
  schema through ``file(path, Parquet, 'customer_id Int64, event String, timestamp DateTime64(6)')``;
- ``--by channel``: chdb groups by ``(customer_id, channel)``: the generator's channel is constant per
  customer, so this is hourglass's breakdown by the value at the best chain's entry;
- ``--open``: a customer reaches step j (continues into j) iff for some start step i <= j (i <= j-1)
  ``windowFunnel`` over steps i..n is >= j-i+1 (one windowFunnel per start step in chdb);
- the floor: DuckDB's ``count(*)``, ``min``/``max`` of the three columns read from the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
UNITS_US = {"s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6, "d": 86400 * 10**6, "w": 604800 * 10**6}
ENGINES = ("hourglass", "chdb")
QUIET = 0.1  # a run is quiet when other processes used less than this share of the CPU


def parse_count(text: str) -> int:
    """``10M``, ``500K``, ``1.5M``, ``2G`` or a plain integer."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not an event count: {text!r} (e.g. 1M, 10M, 500K)")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m[2].lower()]
    return round(float(m[1]) * scale)


def parse_window_us(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a window: {text!r} (e.g. 7d, 12h)")
    return int(m[1]) * UNITS_US[m[2]]


def human(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


# ------------------------------------------------------------------ workers (one per fresh process)


def _quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def chdb_sql(path: str, steps: list[str], window_us: int, *, by: str | None, open_: bool) -> str:
    """The ClickHouse query of the same funnel (see the module docstring)."""
    n = len(steps)
    schema = "customer_id Int64, event String, timestamp DateTime64(6)"
    if by:
        schema += f", {by} String"
    src = f"file({_quote(path)}, Parquet, {_quote(schema)})"
    ts = "toUInt64(toUnixTimestamp64Micro(timestamp))"

    def wf(first: int) -> str:
        conds = ", ".join(f"event = {_quote(s)}" for s in steps[first - 1 :])
        return f"windowFunnel({window_us})({ts}, {conds})"

    if open_:
        inner = ", ".join(f"{wf(i)} AS f{i}" for i in range(1, n + 1))
        outs = []
        for j in range(1, n + 1):
            reach = " OR ".join(f"f{i} >= {j - i + 1}" for i in range(1, j + 1))
            outs.append(f"countIf({reach}) AS r{j}")
            if j > 1:
                cont = " OR ".join(f"f{i} >= {j - i + 1}" for i in range(1, j))
                outs.append(f"countIf({cont}) AS k{j}")
        return f"SELECT {', '.join(outs)} FROM (SELECT customer_id, {inner} FROM {src} GROUP BY customer_id)"
    outs = [f"countIf(level >= {k}) AS c{k}" for k in range(1, n + 1)]
    if by:
        return (
            f"SELECT {by}, {', '.join(outs)} FROM (SELECT customer_id, {by}, {wf(1)} AS level "
            f"FROM {src} GROUP BY customer_id, {by}) GROUP BY {by} ORDER BY {by}"
        )
    inner = f"SELECT customer_id, {wf(1)} AS level FROM {src} GROUP BY customer_id"
    return f"SELECT {', '.join(outs)} FROM ({inner})"


FLOOR_SQL = (
    "SELECT count(*), min(customer_id), max(customer_id), min(event), max(event), "
    "min(timestamp), max(timestamp) FROM read_parquet({path})"
)


def _normalise(customers: dict[str, list[int]], continued: list[int] | None) -> dict[str, Any]:
    # groups nobody reached (all zero) are not groups in hourglass's breakdown
    groups = {g: c for g, c in customers.items() if any(c)}
    return {"customers": dict(sorted(groups.items())), "continued": continued}


def _cpu() -> float:
    """This process's CPU seconds (user + system, all threads: chdb runs in the process too)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def worker(
    kind: str, path: str, steps: list[str], window: str, by: str | None, open_: bool
) -> dict[str, Any]:
    """Run one engine once, in this (fresh) process; the returned dict is printed as JSON."""
    window_us = parse_window_us(window)
    out: dict[str, Any] = {}
    if kind == "hourglass":
        # `import hourglass` is light; its first analysis loads the engines (Ibis, DuckDB, numpy) and
        # its own modules lazily (issue 11), as `import chdb` loads ClickHouse: imported here, before
        # the clock, on both sides (0.3 CPU-s of imports had moved into the timed call)
        import duckdb
        import ibis.backends.duckdb  # noqa: F401
        import numpy  # noqa: F401
        import pyarrow  # noqa: F401  (Ibis reads a DuckDB table's schema through Arrow: 0.07-0.14 s)
        import sqlglot  # noqa: F401

        import hourglass
        import hourglass.engine.event_store
        import hourglass.engine.fastpath_scan
        import hourglass.engine.run
        import hourglass.interfaces.api

        assert hourglass.funnel is not None
        started, cpu0 = time.perf_counter(), _cpu()
        res = hourglass.funnel(path, steps=steps, window=window, by=by, open=open_)
        out["seconds"] = time.perf_counter() - started
        out["cpu"] = _cpu() - cpu0
        if by:
            customers = {str(g.value): [s.customers for s in g.steps] for g in res.groups}
        else:
            customers = {"": [s.customers for s in res.steps]}
        continued = [s.continued or 0 for s in res.steps[1:]] if open_ else None
        out["result"] = _normalise(customers, continued)
    elif kind == "chdb":
        import chdb

        sql = chdb_sql(path, steps, window_us, by=by, open_=open_)
        started, cpu0 = time.perf_counter(), _cpu()
        res = chdb.query(sql, "JSONCompact")
        out["seconds"] = time.perf_counter() - started
        out["cpu"] = _cpu() - cpu0
        rows = json.loads(res.bytes())["data"]
        if open_:
            vals = [int(v) for v in rows[0]]
            reach = [vals[0]] + [vals[2 * j - 1] for j in range(1, len(steps))]
            cont = [vals[2 * j] for j in range(1, len(steps))]
            out["result"] = _normalise({"": reach}, cont)
        elif by:
            out["result"] = _normalise({str(r[0]): [int(v) for v in r[1:]] for r in rows}, None)
        else:
            out["result"] = _normalise({"": [int(v) for v in rows[0]]}, None)
    elif kind == "ingest":  # untimed set-up: the store of ``path`` (``--store``)
        from hourglass.interfaces.store_api import ingest

        info = ingest(path, store_path(Path(path)), overwrite=True)
        out["seconds"] = info.seconds
        out["result"] = {"rows": info.rows}
    elif kind == "floor":
        import duckdb

        con = duckdb.connect()
        started = time.perf_counter()
        row = con.execute(FLOOR_SQL.format(path=_quote(path))).fetchone()
        out["seconds"] = time.perf_counter() - started
        assert row is not None
        out["result"] = {"rows": int(row[0])}
    else:
        raise SystemExit(f"unknown worker {kind}")
    import resource

    out["rss_self_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


# ------------------------------------------------------------------ the driver


def store_path(parquet: Path) -> Path:
    """The store ingested from ``parquet`` (``--store``), next to it."""
    return parquet.with_name(parquet.stem + ".store.duckdb")


def ensure_store(parquet: Path, args: argparse.Namespace, steps: list[str]) -> Path:
    target = store_path(parquet)
    if not target.exists() or target.stat().st_mtime < parquet.stat().st_mtime:
        r = spawn("ingest", parquet, args, steps)
        print(f"ingested {parquet.name} into {target.name} in {r['seconds']:.1f} s", flush=True)
    return target


def child_env(data_dir: Path) -> dict[str, str]:
    """The workers' environment: as the caller's, but with a bytecode cache (under the git-ignored
    data directory), as any installed environment has: with PYTHONDONTWRITEBYTECODE every fresh
    process would recompile pandas, ibis, sqlglot ... from source inside the timed call (their
    imports are lazy), a cost no user pays after the first run."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str((data_dir / ".pycache").resolve()))
    return env


def spawn(kind: str, path: Path, args: argparse.Namespace, steps: list[str]) -> dict[str, Any]:
    """One worker in a fresh interpreter; adds ``wall`` (process seconds) and ``rss_kb`` (wait4)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--path", str(path)]
    cmd += ["--step-names", ",".join(steps), "--window", args.window]
    if args.by:
        cmd += ["--by", args.by]
    if args.open:
        cmd += ["--open"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=child_env(args.data_dir))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        sys.stderr.write(stderr)
        raise SystemExit(f"{kind} worker failed (exit {proc.returncode})")
    data: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    data["wall"] = wall
    data["rss_kb"] = usage.ru_maxrss
    return data


def cpu_accounting() -> tuple[float, float, float] | None:
    """(wall seconds, machine busy CPU-seconds from /proc/stat, our own + children's CPU-seconds)."""
    import resource

    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / hz  # all but idle and iowait
    mine = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        mine += ru.ru_utime + ru.ru_stime
    return time.monotonic(), busy, mine


def other_cpu_share(
    a: tuple[float, float, float] | None, b: tuple[float, float, float] | None
) -> float | None:
    """The share of the machine's CPU time used by processes other than this benchmark."""
    if a is None or b is None or b[0] <= a[0]:
        return None
    other = (b[1] - a[1]) - (b[2] - a[2])
    return max(0.0, other / ((b[0] - a[0]) * (os.cpu_count() or 1)))


def wait_idle(limit: float, threshold: float = 0.1) -> None:
    """Wait (at most ``limit`` seconds) until other processes use < ``threshold`` of the CPU for 1 s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        a = cpu_accounting()
        time.sleep(1.0)
        share = other_cpu_share(a, cpu_accounting())
        if share is None or share < threshold:
            return


def mib(kb: float) -> str:
    return f"{kb / 1024:,.0f} MiB"


def check(a: dict[str, Any], b: dict[str, Any], what: str) -> None:
    if a != b:
        print(f"MISMATCH ({what}):\n  {json.dumps(a)}\n  {json.dumps(b)}", flush=True)
        raise SystemExit(1)


def show_result(result: dict[str, Any], steps: list[str]) -> None:
    for group, counts in result["customers"].items():
        label = f"  [{group}]" if group else " "
        print(f"counts{label}: " + ", ".join(f"{s}={c:,}" for s, c in zip(steps, counts, strict=True)))
    if result["continued"] is not None:
        print(
            "continued: "
            + ", ".join(f"{s}={c:,}" for s, c in zip(steps[1:], result["continued"], strict=True))
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=parse_count, default=parse_count("10M"), help="1M, 10M, 50M, ...")
    ap.add_argument("--runs", type=int, default=5, help="runs per engine (alternated)")
    ap.add_argument("--steps", type=int, choices=(3, 5, 10), default=5)
    ap.add_argument("--window", default="7d")
    ap.add_argument("--by", choices=("channel",), default=None)
    ap.add_argument("--open", action="store_true")
    ap.add_argument("--engine-only", choices=ENGINES, default=None)
    ap.add_argument("--no-floor", action="store_true", help="skip the DuckDB scan floor")
    ap.add_argument(
        "--store",
        action="store_true",
        help="hourglass reads a store ingested (once, untimed) from the file; chdb still reads the file",
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--shape",
        choices=("once", "returning", "bots", "wide", "late"),
        default="once",
        help="the log's shape (bench/SHAPES.md)",
    )
    ap.add_argument("--data-dir", type=Path, default=HERE / "data")
    ap.add_argument("--show-sql", action="store_true", help="print chdb's query")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run, wait up to SECONDS for other processes to leave the CPU (shared machines)",
    )
    # internal: run one engine once in this process
    ap.add_argument("--worker", choices=(*ENGINES, "floor", "ingest"), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--step-names", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.by and args.open:
        ap.error("--open cannot be combined with --by (docs/semantics.md)")
    parse_window_us(args.window)

    if args.worker:
        res = worker(args.worker, args.path, args.step_names.split(","), args.window, args.by, args.open)
        print(json.dumps(res))
        return

    sys.path.insert(0, str(HERE))
    from _data import FUNNELS, ensure_dataset

    steps = list(FUNNELS[args.steps])
    path = ensure_dataset(
        args.data_dir, args.events, args.seed, channel=args.by == "channel", shape=args.shape
    )
    engines = [args.engine_only] if args.engine_only else list(ENGINES)
    kinds = engines + ([] if args.no_floor else ["floor"])
    mode = "open" if args.open else "ordered" + (f", by {args.by}" if args.by else "")
    mode += "; hourglass reads the store" if args.store else ""
    print(
        f"funnel: {len(steps)} steps ({', '.join(steps)}), window {args.window}, {mode}; "
        f"{human(args.events)} events; {args.runs} runs each; {os.cpu_count()} cores; "
        f"python {sys.version.split()[0]}",
        flush=True,
    )
    if args.show_sql:
        print(
            "chdb: " + chdb_sql(str(path), steps, parse_window_us(args.window), by=args.by, open_=args.open)
        )
    # warm-up (untimed): every worker once on a tiny log, so the bytecode cache is complete
    tiny = ensure_dataset(args.data_dir, 10_000, args.seed, channel=args.by == "channel", shape=args.shape)
    source = {k: path for k in kinds}
    tiny_source = {k: tiny for k in kinds}
    if args.store:
        source["hourglass"] = ensure_store(path, args, steps)
        tiny_source["hourglass"] = ensure_store(tiny, args, steps)
    for kind in kinds:
        spawn(kind, tiny_source[kind], args, steps)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for i in range(1, args.runs + 1):
        for kind in kinds:
            if args.wait_idle:
                wait_idle(args.wait_idle)
            before = cpu_accounting()
            r = spawn(kind, source[kind], args, steps)
            r["other"] = other_cpu_share(before, cpu_accounting())
            runs[kind].append(r)
            print(
                f"run {i}  {kind:<9} {r['seconds']:7.3f} s"
                + (f"   CPU {r['cpu']:6.3f} s" if "cpu" in r else "")
                + f"   (process {r['wall']:6.2f} s)   peak RSS {mib(r['rss_kb'])}"
                + ("" if r["other"] is None else f"   other CPU {100 * r['other']:3.0f}%"),
                flush=True,
            )
            if kind in ENGINES:
                check(runs[kind][0]["result"], r["result"], f"{kind} run {i} vs run 1")
        if len(engines) == 2:
            check(runs["hourglass"][-1]["result"], runs["chdb"][-1]["result"], f"hourglass vs chdb, run {i}")
    print()
    timed = [r for v in runs.values() for r in v if r["other"] is not None]
    busy = [r for r in timed if r["other"] >= QUIET]
    if timed:
        share = sum(r["other"] * r["wall"] for r in timed) / sum(r["wall"] for r in timed)
        print(f"CPU used by other processes during the runs: {100 * share:.0f}% of the machine")
    if busy:
        print(
            f"note: {len(busy)} of {len(timed)} runs shared the machine with other processes "
            f"(other CPU >= {100 * QUIET:.0f}%): their times are inflated; see the quiet-run medians below"
        )
    if len(engines) == 2:
        print("counts identical (hourglass == chdb):")
    show_result(runs[engines[0]][0]["result"], steps)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    for k, v in runs.items():
        rss = [r["rss_kb"] for r in v]
        print(
            f"{k:<9} median {med[k]:7.3f} s   min {min(r['seconds'] for r in v):7.3f} s   "
            f"process median {statistics.median(r['wall'] for r in v):6.2f} s   "
            f"peak RSS median {mib(statistics.median(rss))} (max {mib(max(rss))})"
        )
    if "floor" in med:
        print(f"floor (DuckDB: count, min, max of customer_id, event, timestamp): {med['floor']:.3f} s")
        for k in engines:
            print(f"{k} / floor: {med[k] / med['floor']:.2f}")
    if busy:
        quiet = {
            k: [r["seconds"] for r in v if r["other"] is not None and r["other"] < QUIET]
            for k, v in runs.items()
        }
        for k, secs in quiet.items():
            got = f"median {statistics.median(secs):7.3f} s" if secs else "no quiet run"
            print(f"quiet runs only: {k:<9} {got}   ({len(secs)} of {len(runs[k])} runs)")
        if len(engines) == 2 and quiet["hourglass"] and quiet["chdb"]:
            q = statistics.median(quiet["hourglass"]) / statistics.median(quiet["chdb"])
            print(f"quiet runs only: ratio hourglass/chdb {q:.2f}")
    if len(engines) == 2:
        pairs = [h["seconds"] / c["seconds"] for h, c in zip(runs["hourglass"], runs["chdb"], strict=True)]
        print(f"median of per-round ratios: {statistics.median(pairs):.2f}")
        cpu = {k: statistics.median(r.get("cpu", 0.0) for r in runs[k]) for k in engines}
        if cpu["chdb"]:
            print(
                f"CPU of the call (user + system, medians): hourglass {cpu['hourglass']:.3f} s, "
                f"chdb {cpu['chdb']:.3f} s, ratio {cpu['hourglass'] / cpu['chdb']:.2f} (steadier under load)"
            )
        print(f"ratio hourglass/chdb: {med['hourglass'] / med['chdb']:.2f}")


if __name__ == "__main__":
    main()
