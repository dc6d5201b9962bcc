"""Issue 3's shape targets in one run: the same funnel in several forms, alternated round by round
in fresh processes, with the ratios the issue asks for.

    .venv/bin/python bench/targets.py --events 10M            # 5 rounds, hourglass and chdb
    .venv/bin/python bench/targets.py --events 10M --runs 9 --engine-only hourglass
    .venv/bin/python bench/targets.py --events 10M --seed 7 --shape all   # issue 18: every shape

With ``--shape all`` every shape of bench/SHAPES.md is run in turn (by default the forms ``5`` and
``store``: issue 18's targets, plain/chdb <= 1.0 and store/chdb <= 0.33, per shape), then one table of
every target per shape, each met / NOT met; and bench/journeys.py's ``targets(...)`` (paths,
transitions, journeys), when it has one, per shape.

The forms (bench/funnel.py's workers, same data, same checks of the counts between runs):

- ``3``, ``5``, ``10``: ordered funnels of 3, 5 and 10 steps on the Parquet file;
- ``by``: the 5-step funnel ``--by channel`` (on the file with the channel column);
- ``open``: the 5-step funnel ``--open``;
- ``store``: the 5-step funnel on the store ingested (once, untimed) from the file (chdb: the file).

Each round runs every form once per engine, in a fixed order, so slow spells of a shared machine
hit all forms alike; a ratio is reported both as the ratio of medians and as the median of the
per-round ratios (the steadier of the two on a busy machine). The targets:

- 10 steps within 1.3x of 3 steps; ``--by channel`` and ``--open`` within 1.5x of the plain funnel;
- the store at least 3x faster than chdb on the Parquet file (ratio <= 0.33);
- the plain funnel no slower than chdb (ratio <= 1.0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _data import FUNNELS, ensure_dataset  # noqa: E402
from funnel import (  # noqa: E402
    QUIET,
    check,
    cpu_accounting,
    ensure_store,
    human,
    other_cpu_share,
    parse_count,
    spawn,
    wait_idle,
)

FORMS = ("3", "5", "10", "by", "open", "store")
#: (what, numerator, denominator, engine of the denominator, target)
TARGETS = (
    ("10 steps / 3 steps", "10", "3", "hourglass", 1.3),
    ("--by channel / plain", "by", "5", "hourglass", 1.5),
    ("--open / plain", "open", "5", "hourglass", 1.5),
    ("store / chdb on Parquet", "store", "5", "chdb", 0.33),
    ("plain / chdb", "5", "5", "chdb", 1.0),
)


def form_args(form: str, base: argparse.Namespace) -> argparse.Namespace:
    """The bench/funnel.py options of one form."""
    steps = int(form) if form.isdigit() else 5
    return argparse.Namespace(
        window=base.window,
        by="channel" if form == "by" else None,
        open=form == "open",
        store=form == "store",
        steps=steps,
        data_dir=base.data_dir,
        seed=base.seed,
        events=base.events,
        shape=base.shape,
    )


SHAPES = ("once", "returning", "bots", "wide", "late")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=parse_count, default=parse_count("10M"))
    ap.add_argument("--runs", type=int, default=5, help="rounds (every form once per engine each)")
    ap.add_argument(
        "--forms",
        default=None,
        help=f"comma-separated, of {', '.join(FORMS)} (default: all; with --shape all: 5,store)",
    )
    ap.add_argument("--engine-only", choices=("hourglass", "chdb"), default=None)
    ap.add_argument("--window", default="7d")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--shape",
        choices=(*SHAPES, "all"),
        default="once",
        help="bench/SHAPES.md; all: every shape in turn, then one table of the targets per shape",
    )
    ap.add_argument("--data-dir", type=Path, default=HERE / "data")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS")
    args = ap.parse_args(argv)
    default = "5,store" if args.shape == "all" else ",".join(FORMS)
    forms = [f.strip() for f in (args.forms or default).split(",") if f.strip()]
    unknown = [f for f in forms if f not in FORMS]
    if unknown:
        ap.error(f"unknown form(s) {', '.join(unknown)}; forms: {', '.join(FORMS)}")
    engines = [args.engine_only] if args.engine_only else ["hourglass", "chdb"]
    if args.shape != "all":
        run_shape(args, forms, engines)
        return
    table: list[tuple[str, str, float, float, float, str]] = []
    for shape in SHAPES:
        print(f"\n=== shape {shape}", flush=True)
        args.shape = shape
        table += [(shape, *row) for row in run_shape(args, forms, engines)]
        table += journeys_targets(args, shape)
    print("\nevery target per shape (ratio of medians, median of per-round ratios):")
    for shape, what, ratio, rounds, target, verdict in table:
        print(f"{shape:<10} {what:<34} {ratio:5.2f} ({rounds:5.2f})   <= {target:g}: {verdict}")
    missed = [row for row in table if row[5] != "met"]
    print(f"{len(table) - len(missed)} of {len(table)} targets met" + ("" if missed else ": all"))


def journeys_targets(args: argparse.Namespace, shape: str) -> list[tuple[str, str, float, float, float, str]]:
    """bench/journeys.py's targets on ``shape`` (P2's ``targets(...)``: paths and transitions, event and
    stage level, Parquet and store), as rows of (shape, what, ratio, per-round ratio, target, verdict)."""
    import inspect

    try:
        import journeys
    except ImportError:
        return []
    fn = getattr(journeys, "targets", None)
    if fn is None:
        return []
    wanted = {"events": args.events, "seed": args.seed, "shape": shape, "runs": args.runs}
    accepted = inspect.signature(fn).parameters
    rows = fn(**{k: v for k, v in wanted.items() if k in accepted})
    return [
        (
            shape,
            str(r["name"]),
            float(r["ratio"]),
            float(r["per_round"]),
            float(r["bound"]),
            str(r.get("verdict") or ("met" if r["met"] else "NOT met")),
        )
        for r in rows or ()
    ]


def run_shape(
    args: argparse.Namespace, forms: list[str], engines: list[str]
) -> list[tuple[str, float, float, float, str]]:
    """Run ``forms`` on ``args.shape``, print the runs and the targets; the targets' rows (what,
    ratio of medians, median of per-round ratios, target, verdict)."""

    plans: dict[str, tuple[argparse.Namespace, list[str], dict[str, Path]]] = {}
    for form in forms:
        fa = form_args(form, args)
        steps = list(FUNNELS[fa.steps])
        path = ensure_dataset(
            args.data_dir, args.events, args.seed, channel=fa.by == "channel", shape=args.shape
        )
        tiny = ensure_dataset(args.data_dir, 10_000, args.seed, channel=fa.by == "channel", shape=args.shape)
        source = {"hourglass": path, "chdb": path}
        if fa.store:
            source["hourglass"] = ensure_store(path, fa, steps)
            ensure_store(tiny, fa, steps)
        plans[form] = (fa, steps, source)
        for engine in engines:  # warm-up (untimed): fills the bytecode cache
            tiny_source = ensure_store(tiny, fa, steps) if fa.store and engine == "hourglass" else tiny
            spawn(engine, tiny_source, fa, steps)
    print(
        f"forms {', '.join(forms)}; {human(args.events)} events; {args.runs} rounds; "
        f"engines {', '.join(engines)}",
        flush=True,
    )

    runs: dict[tuple[str, str], list[dict[str, Any]]] = {(f, e): [] for f in forms for e in engines}
    for i in range(1, args.runs + 1):
        for form in forms:
            fa, steps, source = plans[form]
            for engine in engines:
                if engine == "chdb" and form == "store" and "5" in forms:
                    continue  # chdb's store form is its plain 5-step run
                if args.wait_idle:
                    wait_idle(args.wait_idle)
                before = cpu_accounting()
                r = spawn(engine, source[engine], fa, steps)
                r["other"] = other_cpu_share(before, cpu_accounting())
                runs[form, engine].append(r)
                print(
                    f"round {i}  {form:>5} {engine:<9} {r['seconds']:7.3f} s   CPU {r.get('cpu', 0.0):6.3f} s"
                    + ("" if r["other"] is None else f"   other CPU {100 * r['other']:3.0f}%")
                    + f"   load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                check(runs[form, engine][0]["result"], r["result"], f"{form} {engine} round {i} vs round 1")
            if len(engines) == 2 and runs[form, "chdb"]:
                last = runs[form, "hourglass"][-1]["result"], runs[form, "chdb"][-1]["result"]
                check(*last, f"{form}, hourglass vs chdb, round {i}")

    print()
    busy = [r for v in runs.values() for r in v if r.get("other") is not None and r["other"] >= QUIET]
    if busy:
        print(f"note: {len(busy)} runs shared the machine with other processes (other CPU >= {QUIET:.0%})")
    print(f"{'form':>6}  " + "  ".join(f"{e:>16}" for e in engines))
    for form in forms:
        cells = []
        for engine in engines:
            walls = [r["seconds"] for r in runs[form, engine]]
            cpus = [r.get("cpu", 0.0) for r in runs[form, engine]]
            cells.append(
                f"{statistics.median(walls):8.3f} s (min {min(walls):.3f}), "
                f"CPU {statistics.median(cpus):.3f} s"
                if walls
                else " " * 16
            )
        print(f"{form:>6}  " + "  ".join(cells))
    print()

    def secs(form: str, engine: str, key: str = "seconds") -> list[float]:
        return [r.get(key, 0.0) for r in runs.get((form, engine), [])]

    def quiet(form: str, engine: str) -> list[bool]:
        return [r.get("other") is not None and r["other"] < QUIET for r in runs.get((form, engine), [])]

    out = []
    for what, num, den, den_engine, target in TARGETS:
        a, b = secs(num, "hourglass"), secs(den, den_engine)
        if not a or not b:
            continue
        ratio = statistics.median(a) / statistics.median(b)
        rounds = statistics.median(x / y for x, y in zip(a, b, strict=False))
        worst, best = max(ratio, rounds), min(ratio, rounds)
        verdict = "met" if worst <= target else "mixed" if best <= target else "NOT met"
        cpu_a, cpu_b = secs(num, "hourglass", "cpu"), secs(den, den_engine, "cpu")
        cpu_ratio = statistics.median(cpu_a) / statistics.median(cpu_b) if all(cpu_b) else float("nan")
        both = [
            x / y
            for x, y, qa, qb in zip(a, b, quiet(num, "hourglass"), quiet(den, den_engine), strict=False)
            if qa and qb
        ]
        quiet_note = f"quiet rounds {len(both)}" + (f": {statistics.median(both):.2f}" if both else "")
        print(
            f"{what:<26} {ratio:5.2f} (per-round median {rounds:5.2f}; CPU {cpu_ratio:.2f}; {quiet_note})"
            f"   target <= {target:g}: {verdict}"
        )
        out.append((what, ratio, rounds, target, verdict))
    return out


if __name__ == "__main__":
    main()
