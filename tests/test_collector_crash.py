"""Nothing acknowledged is lost, nothing is stored twice, when the collector is killed under load
(issue 13): a bounded form of bench/collector.py's crash part. A real `hourglass collect` process
(compacting every second) is killed with SIGKILL 3 times while 4 clients post 2 000 events in
batches of 10, each life long enough for its compactor to run (a kill may land in a compaction); it
is restarted with the same id (its write-ahead log recovered), and the clients retry every request
that got no 2xx with the same event ids. After a clean stop and `hourglass compact`, the Parquet
dataset holds every event exactly once."""

from __future__ import annotations

import shutil
from pathlib import Path

from test_collector_sdk import load_bench


def test_kill_9_under_load_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    bench = load_bench()
    data = tmp_path / "collector"
    key = bench.make_key(data, bench.PROJECT)
    collector = bench.Collector(data, collector_id="crash", extra=("--rate", "0", "--compact-every", "1s"))
    collector.start()
    try:
        report = bench.crash(collector, key, clients=4, events=2000, batch=10, kills=3, min_life=1.0)
    finally:
        if collector.proc is not None and collector.proc.poll() is None:
            collector.proc.kill()
            collector.proc.wait()
    print(report)
    assert report.missing == 0, report  # acknowledged, then lost
    assert report.duplicates == 0, report  # stored twice
    assert report.unknown == 0, report
    assert report.acknowledged == report.sent == 2000, report
    assert report.kills == 3, report  # each kill came while the clients were sending
    assert report.retries > 0, report  # and was felt: requests without an answer were sent again
    assert report.stop_code == 0, collector.tail()
    shutil.rmtree(data, ignore_errors=True)
