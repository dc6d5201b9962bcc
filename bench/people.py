"""The journeys page's first view and a Sankey node's people, part by part, in a fresh process
(bench/PEOPLE.md): wall and CPU seconds (user+sys) of each part of the page's compute path, then
the per-customer paths table a node's people are read from and one click.

    nice -n 10 .venv/bin/python bench/people.py bench/data/shop-1000000-7.duckdb [--parts ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Callable
from typing import Any

__all__ = ["main"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(what: str, fn: Callable[[], Any], out: dict[str, Any]) -> Any:
    """``fn()``, its wall and CPU seconds recorded under ``what``."""
    w0, c0 = time.perf_counter(), _cpu()
    got = fn()
    out[what] = {"wall_s": round(time.perf_counter() - w0, 3), "cpu_s": round(_cpu() - c0, 3)}
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("store", help="a store (bench/data/shop-*-7.duckdb)")
    ap.add_argument("--model", default="hourglass", help="the journeys page's model")
    ap.add_argument("--clicks", type=int, default=3, help="nodes clicked after the table")
    args = ap.parse_args()
    from hourglass.engine.journeys_numpy import fast_journeys
    from hourglass.ingest.config import load_model
    from hourglass.interfaces import journeys_api
    from hourglass.interfaces.dashboard import load_source
    from hourglass.interfaces.dashboard.pages import all_paths, top_paths
    from hourglass.interfaces.dashboard.people_view import journey_frame, paths_table
    from hourglass.interfaces.dashboard.query import PageQuery
    from hourglass.model.journeys_spec import JourneysSpec
    from hourglass.model.spec import parse_time

    out: dict[str, Any] = {"store": args.store, "load": os.getloadavg()[0]}
    memo: dict[Any, Any] = {}

    def cached(name: str, key: Any, fn: Callable[[], Any]) -> Any:
        if (name, key) not in memo:
            memo[name, key] = fn()
        return memo[name, key]

    src = timed("load_source", lambda: load_source(args.store), out)
    q = PageQuery.parse({}, src.last, src.default_model)
    dates: dict[str, Any] = {"since": q.since, "until": q.until, "config": src.config}
    ev = src.events
    timed("journeys", lambda: journeys_api.journeys(ev, q.model, **dates).to_dict(), out)
    spec = JourneysSpec.build(
        load_model(q.model, src.config),
        since=parse_time(q.since, what="since"),
        until=parse_time(q.until, what="until"),
    )
    timed("journeys_numpy", lambda: fast_journeys(ev, spec), out)  # engine/journeys_numpy.py
    timed("transitions", lambda: journeys_api.transitions(ev, q.model, **dates).to_dict(), out)
    paths = timed("paths", lambda: top_paths(all_paths(src, q, cached), q.top).to_dict(), out)
    timed("people_table", lambda: paths_table(src, q, cached), out)
    nodes = sorted(paths["sankey"]["nodes"], key=lambda n: -n["customers"])[: args.clicks]
    for i, n in enumerate(nodes):
        params = {"node": n["name"], "node_step": str(n["step"])}
        people = timed(f"click{i}", lambda p=params: journey_frame(src, q, p, paths, cached), out)
        assert len(people.frame) == n["customers"], (n, len(people.frame))
        timed(f"click{i}_page", lambda p=people: p.rows(0, 50), out)
    out["cpu_total_s"] = round(_cpu(), 3)
    out["load_end"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
