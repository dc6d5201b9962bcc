"""Benchmark: the lifecycle and a funnel inside PostgreSQL against pulling the table into a DuckDB
store first (issue 17), on the simulated shop (``ingest/simulator.py``: the hourglass model's
events, repeat purchases, referrals, channels).

The events are loaded into a PostgreSQL table ``events`` (``COPY``; not timed). Then, in this order:

- inside PostgreSQL: ``hourglass.funnel(TABLE, engine=postgres://...)`` and ``hourglass.lifecycle``;
  each call loads (validates) the table and runs the analysis in the server;
- ingest: ``hourglass ingest postgres://.../events --into store.duckdb`` (streamed out of the server,
  validated, written), then the same funnel and lifecycle on the store.

Each call is timed once, in this process (imports are paid before the clock starts). Without
``--url`` a PostgreSQL server is started on loopback for the run (tests/_servers.py; the machine's
PostgreSQL 15, fsync off).

    .venv/bin/python bench/postgres.py --events 1M
    .venv/bin/python bench/postgres.py --events 10M --url postgres://me@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
#: the simulated shop has about 4.2 events per customer
EVENTS_PER_CUSTOMER = 4.17
FUNNEL: dict[str, Any] = {"steps": ["visit", "signup", "purchase"], "window": "30d"}


def _count(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


def shop(events: int, seed: int = 7) -> Path:
    """The simulated shop of about ``events`` events as Parquet, cached under bench/data/."""
    customers = round(events / EVENTS_PER_CUSTOMER)
    path = ROOT / "data" / f"sim-{customers}-{seed}.parquet"
    if not path.exists():
        import pyarrow.parquet as pq

        from hourglass.ingest.simulator import simulate_shop

        table, _ = simulate_shop(customers, seed=seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
    return path


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT.parent / "tests"))
    from _servers import postgres_server

    with postgres_server() as started:
        yield started


def load(url: str, parquet: Path, name: str = "events") -> int:
    """The Parquet file as the table ``name`` (replaced), by COPY of CSV batches; its rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    import hourglass

    engine = hourglass.connect(url)  # the process's connection to the server (kept by hourglass)
    con = engine.con
    arrow = pq.ParquetFile(parquet)
    ibis_schema = hourglass.connect("duckdb").con.read_parquet(str(parquet)).schema()
    con.create_table(name, schema=ibis_schema, overwrite=True)
    rows = 0
    with con.con.cursor() as cur, cur.copy(f'COPY "{name}" FROM STDIN (FORMAT csv)') as copy:
        for batch in arrow.iter_batches(batch_size=200_000):
            buf = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), buf, pacsv.WriteOptions(include_header=False))
            copy.write(buf.getvalue())
            rows += batch.num_rows
    with con.con.cursor() as cur:
        cur.execute(f'ANALYZE "{name}"')
    return rows


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def run(url: str, store: Path) -> list[tuple[str, float]]:
    import hourglass
    from hourglass.interfaces.store_api import ingest

    out: list[tuple[str, float]] = []
    engine = hourglass.connect(url)
    t, f_pg = timed(lambda: hourglass.funnel("events", engine=engine, **FUNNEL))
    out.append(("postgres: funnel (load + run)", t))
    print(f"{out[-1][0]}: {t:.1f} s", flush=True)
    t, l_pg = timed(lambda: hourglass.lifecycle("events", "hourglass", engine=engine))
    out.append(("postgres: lifecycle (load + run)", t))
    print(f"{out[-1][0]}: {t:.1f} s", flush=True)
    t, info = timed(lambda: ingest(f"{url}/events", store, overwrite=True))
    out.append((f"duckdb store: ingest ({info.rows:,} events)", t))
    t, f_st = timed(lambda: hourglass.funnel(str(store), **FUNNEL))
    out.append(("duckdb store: funnel", t))
    t, l_st = timed(lambda: hourglass.lifecycle(str(store), "hourglass"))
    out.append(("duckdb store: lifecycle", t))
    for what, a, b in (("funnel", f_pg.rows(), f_st.rows()), ("lifecycle", l_pg.to_dict(), l_st.to_dict())):
        diff = _diff(_strip(a), _strip(b))
        print(f"{what}: {'the same in both' if diff is None else 'DIFFERS: ' + diff}", flush=True)
    return out


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "meta"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _diff(a: Any, b: Any, where: str = "") -> str | None:
    """Where two results differ (floats to 1e-9), or None."""
    if isinstance(b, dict) and isinstance(a, dict) and a.keys() == b.keys():
        return next((d for k in b if (d := _diff(a[k], b[k], f"{where}.{k}")) is not None), None)
    if isinstance(b, list) and isinstance(a, list) and len(a) == len(b):
        return next(
            (d for i, (x, y) in enumerate(zip(a, b, strict=True)) if (d := _diff(x, y, f"{where}[{i}]"))),
            None,
        )
    if isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
        return None
    return None if a == b else f"{where}: {a!r} vs {b!r}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", default="1M", help="about how many events (1M, 10M)")
    ap.add_argument("--url", help="a PostgreSQL database to use (default: start one on loopback)")
    args = ap.parse_args(argv)
    parquet = shop(_count(args.events))
    print(f"{parquet.name}: {parquet.stat().st_size / 2**20:.0f} MB; cores {os.cpu_count()}", flush=True)
    with server(args.url) as url, tempfile.TemporaryDirectory(prefix="hg-bench-pg-") as tmp:
        t, rows = timed(lambda: load(url, parquet))
        print(f"loaded {rows:,} events into PostgreSQL in {t:.1f} s (COPY; not counted below)", flush=True)
        results = run(url, Path(tmp) / "store.duckdb")
    width = max(len(n) for n, _ in results)
    print(f"{'step':<{width}}  seconds")
    for name, seconds in results:
        print(f"{name:<{width}}  {seconds:7.1f}")
    by = dict(results)
    inside = by["postgres: funnel (load + run)"] + by["postgres: lifecycle (load + run)"]
    ingest_then = sum(v for k, v in by.items() if k.startswith("duckdb store"))
    print(
        f"funnel + lifecycle inside PostgreSQL: {inside:.1f} s; "
        f"ingest + both on the store: {ingest_then:.1f} s"
    )


if __name__ == "__main__":
    main()
