"""A store and the processes that write it (issue 19, items 2, 5 and 11): two ingests into one store
at once (the second stops with a code, never reports success), a killed ingest's temporaries
(removed by the next), a DuckDB file another process holds open for writing (HG426, not "check the
file is complete"), and a source that changes while it is ingested (HG209, nothing written)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from hourglass.engine.store_files import lock_path, temp_path
from hourglass.interfaces.store_api import ingest
from hourglass.model.errors import HourglassError

HOURGLASS = [sys.executable, "-m", "hourglass.interfaces.cli"]
if Path(sys.executable).with_name("hourglass").exists():
    HOURGLASS = [str(Path(sys.executable).with_name("hourglass"))]

#: a child that ingests SOURCE into STORE and, once it writes (holding the store's lock, if any),
#: says so in the file READY and waits until the file GO exists (or 20 s pass)
CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    from hourglass.interfaces.store_api import ingest
    from hourglass.model.errors import HourglassError
    source, store, ready, go = sys.argv[1:5]
    def progress(phase, done):
        if phase == "customers" and done == 0.0:
            open(ready, "w").close()
            end = time.monotonic() + 20
            while not os.path.exists(go) and time.monotonic() < end:
                time.sleep(0.02)
    try:
        info = ingest(source, store, progress=progress)
    except HourglassError as e:
        print(json.dumps({"code": e.code, "message": e.message}))
        sys.exit(2)
    print(json.dumps({"rows": info.rows}))
    """
)


def _csv(path: Path, customers: int, event: str) -> str:
    rows = [f"c{i},{event},2024-01-01 10:00" for i in range(customers)]
    path.write_text("customer_id,event,timestamp\n" + "\n".join(rows) + "\n")
    return str(path)


def _left(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_two_ingests_at_once(tmp_path: Path) -> None:
    # both start, both validate; whichever reaches the write first holds the store: the other one
    # must stop with a code (HG426 while the first writes, HG420 once it exists), never report
    # success with the store holding the other's events
    out = tmp_path / "out"
    out.mkdir()
    store = out / "new.duckdb"
    go = tmp_path / "go"
    sources = [_csv(tmp_path / "x.csv", 3, "visit"), _csv(tmp_path / "y.csv", 5, "signup")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, src, str(store), str(tmp_path / f"ready{i}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, src in enumerate(sources)
    ]
    # the first to finish (the loser, stopped at the lock; on unlocked code nobody finishes until
    # both write) lets the other go; both writing at once lets both go
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if any(p.poll() is not None for p in procs) or all((tmp_path / f"ready{i}").exists() for i in (0, 1)):
            break
        time.sleep(0.02)
    go.touch()
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr
        results.append((p.returncode, json.loads(stdout.strip().splitlines()[-1])))
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    (won, rows) = next((i, r["rows"]) for i, (rc, r) in enumerate(results) if rc == 0)
    lost = next(r for rc, r in results if rc != 0)
    assert lost["code"] in ("HG426", "HG420"), lost
    con = duckdb.connect(str(store), read_only=True)
    try:
        stored = con.execute("SELECT count(*), min(event) FROM events").fetchone()
    finally:
        con.close()
    assert stored == (rows, ["visit", "signup"][won])
    assert _left(out) == {"new.duckdb"}  # no lock file, no temporary


def test_an_ingest_while_another_writes_the_store_stops(tmp_path: Path) -> None:
    import fcntl

    from click.testing import CliRunner

    from hourglass.interfaces.cli import cli

    store = tmp_path / "s.duckdb"
    source = _csv(tmp_path / "x.csv", 2, "visit")
    fd = os.open(lock_path(store), os.O_RDWR | os.O_CREAT)  # held as another ingest holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242\n")
        result = CliRunner().invoke(cli, ["ingest", source, "--into", str(store), "--force"])
    finally:
        os.close(fd)
    assert result.exit_code == 2 and result.stdout == ""
    err = " ".join(result.stderr.split())
    assert f"[HG426] {store} is being written by another hourglass ingest (PID 4242)" in err
    assert not store.exists()


def test_a_killed_ingest_leaves_nothing_for_long(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    source = _csv(tmp_path / "x.csv", 3, "visit")
    ready, go = tmp_path / "ready", tmp_path / "go"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, source, str(store), str(ready), str(go)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    end = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < end and child.poll() is None:
        time.sleep(0.02)
    assert ready.exists()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    stale = temp_path(store, child.pid)
    assert stale.exists()  # what a killed ingest leaves
    stale.with_name(stale.name + ".wal").write_bytes(b"")  # and a .wal, as a kill mid-write leaves
    ours = temp_path(store, os.getppid())  # a live process's (not ours to remove)
    ours.write_bytes(b"")
    info = ingest(source, store)
    assert info.rows == 3
    assert _left(tmp_path) - {"x.csv", "ready"} == {"s.duckdb", ours.name}


def test_a_database_another_process_writes_is_locked_not_damaged(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))  # this process holds it open for writing
    try:
        con.execute(
            "CREATE TABLE events AS SELECT 'a' AS customer_id, 'visit' AS event, "
            "TIMESTAMP '2024-01-01' AS timestamp"
        )
        con.commit()
        run = subprocess.run(
            [*HOURGLASS, "funnel", str(db), "--steps", "visit"], capture_output=True, text=True
        )
    finally:
        con.close()
    err = " ".join(run.stderr.split())
    assert run.returncode == 2, err
    assert f"[HG426] {db} is locked by another process (PID {os.getpid()}" in err
    assert "complete" not in err and "HG206" not in err


def test_a_source_rewritten_while_it_is_ingested_is_not_stored(tmp_path: Path) -> None:
    # validated: 2 good rows; by the time the store is written the file holds 4, two of them
    # without a time: the store must not hold rows nobody validated (nor NULL times)
    source = tmp_path / "ev.parquet"
    good = pd.DataFrame(
        {"customer_id": ["a", "b"], "event": ["visit", "visit"], "timestamp": ["2024-01-01 10:00"] * 2}
    )
    good.to_parquet(source)
    grown = pd.concat(
        [good, pd.DataFrame({"customer_id": ["c", "d"], "event": ["visit"] * 2, "timestamp": [None, "x"]})]
    )

    def progress(phase: str, done: float | None) -> None:
        if phase == "customers" and done == 0.0:
            grown.to_parquet(source)
            os.utime(source, ns=(time.time_ns() + 10**9,) * 2)  # a rewrite within a clock tick

    store = tmp_path / "s.duckdb"
    with pytest.raises(HourglassError) as err:
        ingest(str(source), store, progress=progress)
    assert err.value.code == "HG209" and "changed while it was read" in err.value.message
    assert _left(tmp_path) == {"ev.parquet"}


def test_a_json_lines_file_growing_while_it_is_ingested(tmp_path: Path) -> None:
    # the store holds exactly what was validated (or nothing, HG209): never the appended rows
    source = tmp_path / "ev.jsonl"
    line = '{"customer_id": "%s", "event": "visit", "timestamp": %s}\n'
    source.write_text(line % ("a", '"2024-01-01 10:00"') + line % ("b", '"2024-01-01 11:00"'))

    def progress(phase: str, done: float | None) -> None:
        if phase == "customers" and done == 0.0:
            with source.open("a") as fh:
                fh.write(line % ("c", '"not a time"') + line % ("", "null"))

    store = tmp_path / "s.duckdb"
    try:
        info = ingest(str(source), store, progress=progress)
    except HourglassError as e:
        assert e.code == "HG209"
        assert not store.exists()
        return
    assert info.rows == 2
    con = duckdb.connect(str(store), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(timestamp) FROM events").fetchone() == (2, 2)
    finally:
        con.close()
