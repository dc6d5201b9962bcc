"""Every analysis on one engine, as JSON: run by tests/test_spark_cluster.py in its own process on a
Spark standalone cluster (one SparkSession per process: the suite's local session cannot share the
test process with a cluster's), and in the test process on DuckDB, for the comparison.

    python tests/spark_cluster_run.py spark://127.0.0.1:PORT events.parquet out.json

First the CLI form of issue 17's "done when" (``hourglass lifecycle LOG --engine spark://... --format
json``), then the Python API's analyses on the same engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other tests' cases

import hourglass
from hourglass.interfaces import journeys_api
from test_attribution_parity import _cases as attribution_cases
from test_journeys_parity import CASES as JOURNEY_CASES
from test_parity import CASES as FUNNEL_CASES

__all__ = ["cli_lifecycle", "run_all"]


def _plain(value: Any) -> Any:
    """JSON's view of a result (dates as text, tuples as lists), as both sides compare it."""
    return json.loads(json.dumps(value, default=str))


_T0 = [0.0]


def _step(label: str) -> None:
    """Progress on stderr (a slow cluster run says where it is)."""
    import time

    now = time.monotonic()
    print(f"{now - _T0[0]:7.1f}s {label}", file=sys.stderr, flush=True)


def _dict(result: Any) -> dict[str, Any]:
    d = dict(result.to_dict())
    d.pop("meta", None)
    return _plain(d)  # type: ignore[no-any-return]


def cli_lifecycle(source: str, engine: str) -> dict[str, Any]:
    """``hourglass lifecycle SOURCE --engine ENGINE --format json`` (the CLI in this process), meta
    removed (it names the engine and the time taken)."""
    from click.testing import CliRunner

    from hourglass.interfaces.cli import cli

    res = CliRunner().invoke(cli, ["lifecycle", source, "--engine", engine, "--format", "json"])
    if res.exit_code != 0:
        raise RuntimeError(f"hourglass lifecycle failed ({res.exit_code}): {res.output}")
    data: dict[str, Any] = json.loads(res.stdout)
    data.pop("meta", None)
    return data


def run_all(source: str, engine: Any, *, every: bool = True) -> dict[str, Any]:
    """The analyses of the simulated shop at ``source`` on ``engine``: the funnel in every mode and,
    with ``every``, lifecycle, journeys, paths, transitions, journey, followers, flywheel, friction,
    retention, clv and attribution. The events are loaded once."""
    ev = hourglass.events(source, engine=engine)
    _step("events loaded")
    out: dict[str, Any] = {"funnel": [_plain(hourglass.funnel(ev, **case).rows()) for case in FUNNEL_CASES]}
    _step("funnel, every mode")
    if not every:
        return out
    settings = {"repeat_within": "60d", "gap_within": "7d"}
    out["lifecycle"] = [
        _dict(hourglass.lifecycle(ev, "hourglass", since="2024-02-01", after_sale=settings, by="channel")),
    ]
    _step("lifecycle")
    journeys = []
    for name, kw in JOURNEY_CASES:
        kw = dict(kw)
        model = kw.pop("model")
        journeys.append(_dict(getattr(journeys_api, name)(ev, model, **kw)))
        _step(name)
    out["journeys"] = journeys
    out["flywheel"] = [_dict(hourglass.flywheel(ev, by="channel", period="quarter"))]
    _step("flywheel")
    out["friction"] = [_dict(hourglass.friction(ev, "hourglass"))]
    _step("friction")
    out["retention"] = [_dict(hourglass.retention(ev, period="month", start="purchase", by="channel"))]
    _step("retention")
    out["clv"] = [_dict(hourglass.clv(ev))]
    _step("clv")
    out["attribution"] = _plain(attribution_cases(ev, engine))  # type: ignore[arg-type]
    _step("attribution")
    return out


def main(argv: list[str]) -> None:
    """ENGINE SOURCE OUT.json [funnel|every]: the CLI's lifecycle JSON, then the analyses."""
    import time

    master, source, target, *which = argv
    _T0[0] = time.monotonic()
    result: dict[str, Any] = {"cli_lifecycle": cli_lifecycle(source, master)}  # starts the session
    _step("hourglass lifecycle --engine " + master)
    engine = hourglass.connect(master)
    result["api"] = run_all(source, engine, every=(which or ["every"])[0] == "every")
    result["master"] = engine._spark.sparkContext.master if engine._spark is not None else engine.name
    result["seconds"] = round(time.monotonic() - _T0[0], 1)
    Path(target).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
