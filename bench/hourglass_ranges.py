"""A new date range on the dashboard's hourglass page, server side, in a fresh process: the lifecycle
as the page computes it (``lifecycle_api.lifecycle`` with the referral loop and the channels), on a
store, for a first range and then new ranges (each not computed before), wall and CPU seconds
(user+sys of the whole process, DuckDB's threads included; the system part apart) and the load
average.

    .venv/bin/python bench/hourglass_ranges.py bench/data/shop-1000000-7.duckdb --ranges 6
    PYTHONPATH=/path/to/other/src .venv/bin/python bench/hourglass_ranges.py ...   # another version

The ranges are the page's presets' kind: the last N days of the data, from an instant to the end
(N = 90 days plus a few seconds more each time, so that none is a cache hit anywhere)."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--ranges", type=int, default=6, help="new ranges after the first")
    ap.add_argument("--days", type=int, default=90, help="each range: the last DAYS days (and seconds)")
    args = ap.parse_args()
    from hourglass.interfaces import lifecycle_api
    from hourglass.interfaces.dashboard.data import load_source

    src = load_source(args.store)
    assert src.last is not None
    times: list[tuple[float, float, float]] = []
    for i in range(args.ranges + 1):
        since = (src.last - timedelta(days=args.days, seconds=7 * i + 1)).isoformat(timespec="seconds")
        cpu, wall, sys_ = time.process_time(), time.perf_counter(), os.times().system
        result = lifecycle_api.lifecycle(src.events, src.default_model, since=since, config=src.config)
        times.append((time.perf_counter() - wall, time.process_time() - cpu, os.times().system - sys_))
        assert result.channels is not None and result.referrals is not None
    first, rest = times[0], times[1:]
    print(f"{src.rows:,} events · {args.days}d ranges · load {os.getloadavg()[0]:.1f}")
    print(f"first range:  wall {first[0]:.3f} s  CPU {first[1]:.3f} s (system {first[2]:.3f})")
    if rest:
        wall = statistics.median(t[0] for t in rest)
        cpu = statistics.median(t[1] for t in rest)
        sys_ = statistics.median(t[2] for t in rest)
        print(f"next ranges (median of {len(rest)}):  wall {wall:.3f} s  CPU {cpu:.3f} s (system {sys_:.3f})")


if __name__ == "__main__":
    main()
