"""Small-data speed of the command line (issue 11, deliverable 6): the wall time of whole commands on a
32k-event CSV, each a fresh process, against the floor of a bare Python + DuckDB query of the same file.

    .venv/bin/python bench/cli.py                    # 7 alternated rounds: floor, funnel (2 files), report
    .venv/bin/python bench/cli.py --runs 11 --csv shop.csv
    .venv/bin/python bench/cli.py --only funnel      # or report
    .venv/bin/python bench/cli.py --only report --without-helper   # the report with and without its helper
    .venv/bin/python bench/cli.py --only report --cpu-path   # each report process's CPU (under load)

The CSV is the first 32,000 events of a simulated shop (``simulate_shop``, seed 7; 8,000 customers),
written once under ``bench/data/``; ``funnel-parquet`` runs the same funnel on the same events as a
Parquet file (written once next to the CSV by DuckDB, the CSV's columns and types). Every run is a new
process started the way a user starts it (``.venv/bin/hourglass ...``, output to /dev/null), so it pays
Python's start, the imports and the work. The rounds alternate the commands (rotating which goes first),
so a busy moment of the machine hits them alike, and each round first waits (``--wait``) for the machine
to be idle. Each run's CPU time (user + system, all threads) is shown too: on a busy machine the wall
time grows with the load, the CPU time much less. The floor is ``python -c "import duckdb;
duckdb.sql(...)"``: a funnel-ish query (each customer's first visit, then signup and purchase after it)
on the same file. The targets (issue 11): ``funnel`` at most 0.5 s, ``report`` at most 3 s, with
bytecode compiled at install (``make env`` does it); the run says whether the imported modules' bytecode
is current. The last lines are ``ratio COMMAND/floor: X.XX`` (medians).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from funnel import wait_idle  # bench/funnel.py: other processes' share of the CPUs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
EVENTS = 32_000
TARGETS = {"funnel": 0.5, "report": 3.0}

FLOOR_SQL = (
    "SELECT count(v), count(s), count(p) FROM (SELECT customer_id, "
    "min(timestamp) FILTER (WHERE event = 'visit') AS v, "
    "min(timestamp) FILTER (WHERE event = 'signup') AS s0, "
    "CASE WHEN s0 >= v THEN s0 END AS s, "
    "min(timestamp) FILTER (WHERE event = 'purchase') AS p0, "
    "CASE WHEN p0 >= s THEN p0 END AS p "
    "FROM read_csv('{path}') GROUP BY customer_id)"
)


def ensure_csv(data_dir: Path) -> Path:
    """The first 32,000 events of a simulated shop as CSV (made once)."""
    path = data_dir / f"shop-{EVENTS // 1000}k.csv"
    if path.exists():
        return path
    import duckdb

    from hourglass.ingest.simulator import simulate_shop

    data_dir.mkdir(parents=True, exist_ok=True)
    table, _ = simulate_shop(8_000, seed=7)
    tmp = path.with_suffix(".tmp.csv")
    con = duckdb.connect()
    con.register("shop", table)
    con.execute(f"COPY (SELECT * FROM shop LIMIT {EVENTS}) TO '{tmp.as_posix()}' (HEADER)")
    con.close()
    os.replace(tmp, path)
    return path


def ensure_parquet(csv: Path) -> Path:
    """The CSV's events as a Parquet file next to it (made once)."""
    path = csv.with_suffix(".parquet")
    if path.exists() and path.stat().st_mtime >= csv.stat().st_mtime:
        return path
    import duckdb

    tmp = path.with_suffix(".tmp.parquet")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv.as_posix()}')) TO '{tmp.as_posix()}' (FORMAT parquet)")
    con.close()
    os.replace(tmp, path)
    return path


def bytecode_state() -> str:
    """How many of the modules a funnel imports have current bytecode (a fresh install should have
    all; without it Python compiles them on every start when it may not write ``.pyc`` files)."""
    probe = (
        "import importlib.util, os, struct, sys\n"
        "import hourglass.interfaces.cli, hourglass.interfaces.api\n"
        "ok = bad = 0\n"
        "for m in list(sys.modules.values()):\n"
        "    f = getattr(m, '__file__', None) or ''\n"
        "    if not f.endswith('.py'): continue\n"
        "    c = importlib.util.cache_from_source(f)\n"
        "    try:\n"
        "        h = open(c, 'rb').read(16); st = os.stat(f)\n"
        "        good = struct.unpack('<I', h[4:8])[0] != 0 or struct.unpack('<II', h[8:16]) == "
        "(int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF)\n"
        "    except OSError:\n"
        "        good = False\n"
        "    ok += good; bad += not good\n"
        "print(ok, bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    ok, bad = (int(x) for x in out.stdout.split())
    return f"{ok} of {ok + bad} modules have current bytecode" + ("" if not bad else " (run: make env)")


def commands(csv: Path, out_dir: Path, parquet: Path | None = None) -> dict[str, list[str]]:
    hourglass = str(BIN / "hourglass")
    steps = ["--steps", "visit,signup,purchase"]
    return {
        "floor": [
            sys.executable,
            "-c",
            f"import duckdb; duckdb.sql({FLOOR_SQL.format(path=csv)!r}).fetchall()",
        ],
        "funnel": [hourglass, "funnel", str(csv), *steps],
        "funnel-parquet": [hourglass, "funnel", str(parquet or ensure_parquet(csv)), *steps],
        "report": [hourglass, "report", str(csv), "--out", str(out_dir / "report.html")],
    }


#: ``python -c`` launcher of the CLI that records each report process's CPU seconds in the file
#: ``argv[1]``: the main process's at the fork (``fork``) and at exit (``main``), the helper's when it
#: is done (``helper``, from the fork: a forked child's CPU time starts at zero)
CPU_PATH = """
import atexit, os, sys, time
out = sys.argv.pop(1)
def note(what):
    with open(out, "a") as f:
        f.write(f"{what} {time.process_time():.4f}\\n")
from hourglass.interfaces import report_helper
serve, fork = report_helper._serve, os.fork
def _serve(*a, **k):
    try:
        return serve(*a, **k)
    finally:
        note("helper")
def _fork():
    cpu = time.process_time()
    pid = fork()
    if pid:
        with open(out, "a") as f:
            f.write(f"fork {cpu:.4f}\\n")
    return pid
report_helper._serve, os.fork = _serve, _fork
atexit.register(note, "main")
from hourglass.interfaces.cli import main
main(sys.argv[1:])
"""


def cpu_path(argv: list[str], env: dict[str, str] | None, notes: Path) -> tuple[float, float, float, float]:
    """(wall, main process's CPU, helper's CPU counted from the start (its share before the fork
    included), the longer of the two) of one report run through :data:`CPU_PATH`. On an idle
    machine with a CPU for each process the longer is about the wall time; under load it still
    says how long the report would take there (the wall time grows with the load, this much less)."""
    notes.unlink(missing_ok=True)
    wall, _ = run_once([sys.executable, "-c", CPU_PATH, str(notes), *argv[1:]], env)
    got = dict(line.split() for line in notes.read_text().splitlines())
    main = float(got["main"])
    helper = float(got["fork"]) + float(got["helper"]) if "helper" in got and "fork" in got else 0.0
    return wall, main, helper, max(main, helper)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``argv``."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False, env=env
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, _children_cpu() - cpu


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="rounds (each runs every command once) [7]")
    ap.add_argument("--csv", type=Path, help="the CSV to read [a simulated shop's first 32k events]")
    ap.add_argument("--only", choices=["funnel", "report"], help="time only this command (and the floor)")
    ap.add_argument("--data-dir", type=Path, default=HERE / "data", help="where the CSV is cached")
    ap.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="also time the commands with hourglass imported from SRC (another checkout's src/, e.g. "
        "git archive OLD src | tar -x -C /tmp/old), alternated with the current one",
    )
    ap.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="S",
        help="before each round, wait up to S seconds for other processes to leave the CPUs idle [30]",
    )
    ap.add_argument(
        "--without-bytecode",
        action="store_true",
        help="also time the commands as on an install without bytecode (Python compiles every module "
        "it imports on every start: an empty PYTHONPYCACHEPREFIX and PYTHONDONTWRITEBYTECODE=1)",
    )
    ap.add_argument(
        "--without-helper",
        action="store_true",
        help="also time the report without its helper process (HOURGLASS_REPORT_HELPER=0: every "
        "section in the report's own process)",
    )
    ap.add_argument(
        "--cpu-path",
        action="store_true",
        help="also record each report process's CPU seconds (the main process, its helper counted from "
        "the start) and the longer of the two: about the wall time on an idle machine, and steadier "
        "than it under load",
    )
    args = ap.parse_args(argv)
    csv = args.csv or ensure_csv(args.data_dir)
    with open(csv, "rb") as f:
        print(f"source: {csv} ({sum(1 for _ in f) - 1:,} events)")
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    print(f"bytecode: {bytecode_state()}; PYTHONDONTWRITEBYTECODE={flag}")
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(csv, Path(tmp))
        chosen = {"funnel": ["funnel", "funnel-parquet"], "report": ["report"]}
        names = ["floor", *(chosen[args.only] if args.only else ["funnel", "funnel-parquet", "report"])]
        envs: dict[str, dict[str, str] | None] = dict.fromkeys(names)
        if args.baseline:
            base = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
            for name in names[1:]:
                cmds[f"{name}-base"] = cmds[name]
                envs[f"{name}-base"] = base
            names += [f"{n}-base" for n in names[1:]]
        if args.without_bytecode:
            empty = Path(tmp) / "no-pycache"
            bare = {**os.environ, "PYTHONPYCACHEPREFIX": str(empty), "PYTHONDONTWRITEBYTECODE": "1"}
            for name in [n for n in names[1:] if not n.endswith("-base")]:
                cmds[f"{name}-nopyc"] = cmds[name]
                envs[f"{name}-nopyc"] = bare
                names.append(f"{name}-nopyc")
        if args.without_helper and "report" in names:
            cmds["report-serial"] = cmds["report"]
            envs["report-serial"] = {**os.environ, "HOURGLASS_REPORT_HELPER": "0"}
            names.append("report-serial")
        for name in names:  # a warm-up of each: the OS's file cache, not timed
            run_once(cmds[name], envs[name])
        times: dict[str, list[float]] = {n: [] for n in names}
        cpus: dict[str, list[float]] = {n: [] for n in names}
        paths: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names if n.startswith("report")}
        for r in range(args.runs):
            wait_idle(args.wait)
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                wall, cpu = run_once(cmds[name], envs[name])
                times[name].append(wall)
                cpus[name].append(cpu)
            for name in [n for n in order if args.cpu_path and n in paths]:  # after the timed runs
                paths[name].append(cpu_path(cmds[name], envs[name], Path(tmp) / "cpu-path.txt")[1:])
    floor = statistics.median(times["floor"])
    print(f"load average after the runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"\n{'command':<20} {'median':>8} {'p90':>8} {'min':>8} {'CPU':>8} {'x floor':>8}  "
        "target (median wall)"
    )
    for name in names:
        med = statistics.median(times[name])
        target = TARGETS.get(name.split("-")[0])
        verdict = "" if target is None else f"<= {target:.1f} s: " + ("met" if med <= target else "NOT met")
        print(
            f"{name:<20} {med:>7.3f}s {p90(times[name]):>7.3f}s {min(times[name]):>7.3f}s "
            f"{statistics.median(cpus[name]):>7.3f}s {med / floor:>8.2f}  {verdict}"
        )
    if args.cpu_path:
        print(
            f"\n{'command':<20} {'main CPU':>9} {'helper CPU':>11} {'longer':>8}  "
            "(medians; the helper's from the start)"
        )
        for name, rows in paths.items():
            main_cpu, helper_cpu, longer = (statistics.median(r[i] for r in rows) for i in range(3))
            print(f"{name:<20} {main_cpu:>8.3f}s {helper_cpu:>10.3f}s {longer:>7.3f}s")
    for name in names[1:]:
        print(f"ratio {name}/floor: {statistics.median(times[name]) / floor:.2f}")


if __name__ == "__main__":
    main()
