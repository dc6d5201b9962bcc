"""Compaction of the collector's log (issue 13, docs/collector.md "Compaction"): Parquet per project and
received day, typed and sorted; duplicates dropped within the window, across segments and collectors;
killed at any point, a re-run converges with no loss and no duplicate; damaged records reported and
their segment kept; the store refreshed by the store writer while old readers keep reading."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from hourglass.interfaces.server import compact as compaction
from hourglass.interfaces.server.compact import compact
from hourglass.interfaces.server.dataset import init_data_dir
from hourglass.interfaces.server.segment import encode_record, segment_name, segments
from hourglass.interfaces.server.wal import WriteAheadLog

DAY = 86_400_000_000
T0 = int(datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp() * 1_000_000)


def row(
    eid: str, customer: str, event: str = "visit", *, at: int = T0, project: str = "shop"
) -> dict[str, Any]:
    return {
        "event_id": eid,
        "project": project,
        "customer": customer,
        "user_id": customer,
        "anonymous_id": None,
        "event": event,
        "type": "track",
        "timestamp": at - 5_000_000,
        "received_at": at,
        "channel": "ads",
        "revenue": 9.5 if event == "purchase" else None,
        "referrer": None,
        "properties": '{"plan":"pro"}',
        "context": "{}",
    }


def logged(data: Path, cid: str, *requests: list[dict[str, Any]], keep_open: bool = False) -> WriteAheadLog:
    """A collector ``cid``'s log holding ``requests`` (one segment each), closed unless ``keep_open``."""
    init_data_dir(data)
    wal = WriteAheadLog.for_collector(data, cid)
    wal.open()
    for rows in requests:
        wal.append_sync(rows)
        wal.roll()
    if not keep_open:
        wal.close()
    return wal


def dataset(data: Path, project: str = "shop") -> pa.Table:
    root = data / "events" / project
    return ds.dataset(str(root), format="parquet", partitioning="hive").to_table() if root.exists() else None


def ids(data: Path, project: str = "shop") -> list[tuple[str, str]]:
    table = dataset(data, project)
    return sorted(zip(table["customer"].to_pylist(), table["event_id"].to_pylist(), strict=True))


def test_files_per_project_and_received_day_typed_sorted_and_the_open_segment_left(tmp_path: Path) -> None:
    data = tmp_path / "d"
    wal = logged(
        data,
        "c1",
        [row("a", "zed", at=T0 + 3), row("b", "amy", at=T0 + 2), row("c", "amy", "purchase", at=T0 + 1)],
        [row("d", "bob", at=T0 + DAY), row("e", "amy", project="blog")],
        keep_open=True,
    )
    wal.append_sync([row("f", "open", at=T0)])  # the segment being written: not compacted
    report = compact(data, refresh=False)
    assert (report.segments, report.rows_read, report.rows_written, report.duplicates) == (2, 5, 5, 0)
    files = sorted(str(Path(f).relative_to(data)) for f in report.files)
    assert files == [
        "events/blog/dt=2026-12-01/c1-000000000001.parquet",
        "events/shop/dt=2026-12-01/c1-000000000000.parquet",
        "events/shop/dt=2026-12-02/c1-000000000001.parquet",
    ]
    first = pq.read_table(data / files[1])
    assert first.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert first.schema.field("revenue").type == pa.float64()
    # sorted by (customer, timestamp)
    assert first["customer"].to_pylist() == ["amy", "amy", "zed"]
    assert first["event_id"].to_pylist() == ["c", "b", "a"]
    assert [n for n, _ in segments(data / "wal" / "c1")] == [wal.segment]  # only the open one is left
    wal.close()
    assert compact(data, refresh=False).rows_written == 1  # stopped: its last segment is compacted too
    assert ("open", "f") in ids(data)


def test_duplicates_within_the_window_across_segments_and_collectors(tmp_path: Path) -> None:
    data = tmp_path / "d"
    logged(data, "c1", [row("x", "amy"), row("x", "amy"), row("x", "bob")], [row("y", "amy")])
    logged(
        data,
        "c2",
        [row("x", "amy", at=T0 + 6 * DAY), row("y", "amy", at=T0 - DAY)],  # retries to another collector
        [row("x", "amy", at=T0 + 8 * DAY)],  # past the 7 days: an event again
    )
    report = compact(data, refresh=False)
    assert report.duplicates == 3
    assert ids(data) == [("amy", "x"), ("amy", "x"), ("amy", "y"), ("bob", "x")]
    # the same log again (a second pass, another window): nothing new
    logged(data, "c3", [row("x", "amy", at=T0 + 9 * DAY)])
    assert compact(data, refresh=False, dedupe_window=timedelta(days=2)).duplicates == 1


def test_compaction_killed_at_any_point_converges_without_loss_or_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "template"
    logged(
        template,
        "c1",
        [row("a", "amy"), row("b", "bob", at=T0 + DAY), row("c", "cat", project="blog")],
        [row("a", "amy"), row("d", "dan")],
    )
    logged(template, "c2", [row("d", "dan"), row("e", "eve", at=T0 + DAY)])
    want = [("amy", "a"), ("bob", "b"), ("dan", "d"), ("eve", "e")]
    steps: list[str] = []
    monkeypatch.setattr(compaction, "_checkpoint", steps.append)
    shutil.copytree(template, tmp_path / "count")
    compact(tmp_path / "count", refresh=False)
    assert len(steps) >= 8
    for kill_at in range(1, len(steps) + 1):
        data = tmp_path / f"kill{kill_at}"
        shutil.copytree(template, data)
        calls = iter(range(1, 10_000))

        def die(step: str, kill_at: int = kill_at, calls: Any = calls) -> None:
            if next(calls) == kill_at:
                raise KeyboardInterrupt(step)  # as a kill: nothing after it runs

        monkeypatch.setattr(compaction, "_checkpoint", die)
        with pytest.raises(KeyboardInterrupt):
            compact(data, refresh=False)
        monkeypatch.setattr(compaction, "_checkpoint", lambda step: None)
        compact(data, refresh=False)
        assert ids(data) == want, kill_at
        assert ids(data, "blog") == [("cat", "c")]
        assert not list(data.glob("events/*/dt=*/.*.tmp"))
        assert not list(data.glob("events/*/dt=*/.merge.json*"))
        assert sorted(p.parent.name for p in data.glob("events/shop/dt=*/*.parquet")) == [
            "dt=2026-12-01",  # past days: their files merged into one
            "dt=2026-12-02",
        ]
        assert compact(data, refresh=False).rows_written == 0  # converged


def test_a_damaged_record_inside_a_closed_segment_is_skipped_and_the_segment_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """HG450: the records before and after the damaged one are compacted; the segment is renamed
    NNN.wal.damaged for inspection, never deleted."""
    import json

    data = tmp_path / "d"
    init_data_dir(data)
    log_dir = data / "wal" / "c1"
    log_dir.mkdir(parents=True)
    records = [encode_record(i, json.dumps([row(f"r{i}", "amy")]).encode()) for i in (1, 2, 3)]
    damaged = bytearray(b"".join(records))
    damaged[len(records[0]) + 30] ^= 0x01  # inside the second record's payload
    (log_dir / segment_name(0)).write_bytes(bytes(damaged))
    (log_dir / segment_name(1)).write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="hourglass.collector"):
        report = compact(data, refresh=False)
    assert ids(data) == [("amy", "r1"), ("amy", "r3")]
    assert report.damaged == [str(log_dir / segment_name(0))]
    assert (log_dir / (segment_name(0) + ".damaged")).read_bytes() == bytes(damaged)
    assert "HG450" in caplog.text
    assert compact(data, refresh=False).rows_written == 0  # set aside: not read again


def test_rows_missing_a_field_are_kept_aside_not_dropped(tmp_path: Path) -> None:
    data = tmp_path / "d"
    bad = {**row("b", "bob"), "timestamp": "yesterday"}
    nul = row("d", "dee", "x\x00y'); DROP TABLE hg_events; --")  # no SQL text can hold a NUL
    logged(data, "c1", [row("a", "amy"), bad, {**row("c", "cy"), "customer": None}, nul])
    report = compact(data)
    assert (report.rows_written, report.rejected) == (1, 3)
    assert report.stores == {"shop": 1} and report.store_errors == {}
    aside = list((data / "wal" / "c1").glob("*.rejected.jsonl"))
    assert len(aside) == 1 and len(aside[0].read_text().splitlines()) == 3


def test_a_stopped_collector_numbers_on_after_its_compacted_segments(tmp_path: Path) -> None:
    data = tmp_path / "d"
    logged(data, "c1", [row("a", "amy")])
    no_merge = date(1970, 1, 1)
    compact(data, refresh=False, merge_before=no_merge)
    wal = WriteAheadLog.for_collector(data, "c1")
    wal.open()
    wal.append_sync([row("b", "bob")])
    wal.close()
    compact(data, refresh=False, merge_before=no_merge)
    names = sorted(p.name for p in data.glob("events/shop/dt=*/*.parquet"))
    assert len(names) == 2 and len(set(names)) == 2
    assert ids(data) == [("amy", "a"), ("bob", "b")]


def test_the_store_is_refreshed_and_its_old_readers_keep_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    monkeypatch.chdir(tmp_path)  # a collector started next to a shop's own settings: not the dataset's
    (tmp_path / "hourglass.toml").write_text('[columns]\ncustomer = "user_id"\nchannel = "utm"\n')
    data = tmp_path / "d"
    logged(data, "c1", [row("a", "amy"), row("b", "amy", "purchase")])
    report = compact(data)
    assert report.stores == {"shop": 2} and report.store_errors == {}
    store = data / "stores" / "shop.duckdb"
    old = duckdb.connect(str(store), read_only=True)
    assert old.execute("SELECT count(*) FROM events").fetchone() == (2,)
    logged(data, "c1", [row("c", "bob")])
    assert compact(data).stores == {"shop": 3}
    assert old.execute("SELECT count(*) FROM events").fetchone() == (2,)  # the old file, still whole
    old.close()
    with duckdb.connect(str(store), read_only=True) as new:
        assert new.execute("SELECT count(*), count(DISTINCT customer) FROM events").fetchone() == (3, 2)
    assert not list((data / "stores").glob(".*.stale"))
    assert compact(data).stores == {}  # nothing new: no refresh


def test_the_background_compactor_rolls_compacts_and_survives_a_failed_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    data = tmp_path / "d"
    wal = logged(data, "c1", keep_open=True)
    real = compaction.compact
    failures = iter([OSError("disk on fire")])

    def flaky(*args: Any, **kwargs: Any) -> compaction.CompactReport:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(compaction, "compact", flaky)
    worker = compaction.Compactor(data, collector_id="c1", every_s=0.05, wal=wal)
    worker.start()
    wal.append_sync([row("a", "amy"), row("b", "bob")])
    deadline = time.monotonic() + 30
    while not (data / "stores" / "shop.duckdb").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    wal.close()
    assert worker.errors == 1
    assert ids(data) == [("amy", "a"), ("bob", "b")]
    assert (data / "stores" / "shop.duckdb").exists()


@pytest.mark.parametrize("path", ["arrow", "python"])
def test_rows_the_store_would_refuse_are_set_apart_on_both_paths(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyarrow's JSON reader (a segment whose values fit the schema) and the row-by-row path (one
    that does not) keep and set apart the same rows."""
    import json

    from hourglass.interfaces.server import rows as reading

    if path == "python":
        monkeypatch.setattr(reading, "_fast", lambda payloads: None)
    good = [row("a", "amy"), {**row("b", "bob"), "revenue": 3}, {**row("c", "cy"), "anonymous_id": "x"}]
    bad = [
        row("d", "  "),  # a blank customer: HG401 in the store
        row("e", "eve", "\t"),
        row("f", "fay", "a\x00b"),
        {**row("g", "gus"), "timestamp": -2_300_000_000_000_000},  # 1897: HG412 in the store
        row("h", "hal", project="../x"),
        {**row("i", "ida"), "event_id": None},
    ]
    table, aside = reading.rows_table(
        [json.dumps(good[:2] + bad[:3]).encode(), json.dumps(bad[3:] + good[2:]).encode()]
    )
    assert table.column("event_id").to_pylist() == ["a", "b", "c"]
    assert table.column("revenue").to_pylist() == [None, 3.0, None]
    assert sorted(r["event_id"] or "-" for r in aside) == ["-", "d", "e", "f", "g", "h"]


def test_hourglass_compact_asks_a_running_collector_to_close_its_segment(tmp_path: Path) -> None:
    data = tmp_path / "d"
    wal = logged(data, "c1", keep_open=True)
    wal.append_sync([row("a", "amy")])
    # no compactor answers: the request times out and is withdrawn
    assert compaction.close_open_segments(data, timeout_s=0.3) == ["c1"]
    assert not (data / "wal" / "c1" / compaction.ROLL_REQUEST).exists()
    assert compact(data, refresh=False).rows_written == 0  # the open segment is left alone
    worker = compaction.Compactor(data, collector_id="c1", every_s=3600, wal=wal)
    worker.start()
    try:
        assert compaction.close_open_segments(data) == []
        report = compact(data, refresh=False)
    finally:
        worker.stop()
        wal.close()
    assert (report.segments, report.rows_written) == (1, 1)
    assert worker.last is None  # the collector only closed it: the pass asked for it compacted it


def test_a_past_days_files_are_merged_into_one_and_a_late_file_merged_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hourglass.interfaces.server import merge

    data = tmp_path / "d"
    logged(data, "c1", *[[row(f"e{i}", f"c{9 - i}", at=T0 + i)] for i in range(5)])
    today = date(2026, 12, 1)  # the day is not over: its files stay
    assert compact(data, refresh=False, merge_before=today).merged == []
    day = data / "events" / "shop" / "dt=2026-12-01"
    assert len(list(day.glob("*.parquet"))) == 5
    monkeypatch.setattr(merge, "MERGE_AT", 5)  # ... until they pile up
    report = compact(data, refresh=False, merge_before=today)
    assert report.merged == [str(day)]
    (merged,) = day.glob("*.parquet")
    assert merged.name == "merged-000001.parquet"
    table = pq.read_table(merged)
    assert table["customer"].to_pylist() == [f"c{i}" for i in range(5, 10)]  # sorted
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    logged(data, "c2", [row("late", "zoe", at=T0 + 9)])  # a collector back after days away
    compact(data, refresh=False, merge_before=today + timedelta(days=1))
    assert [p.name for p in day.glob("*.parquet")] == ["merged-000002.parquet"]
    assert len(ids(data)) == 6


def test_a_refresh_killed_midway_is_done_by_the_next_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hourglass.interfaces import store_api

    data = tmp_path / "d"
    logged(data, "c1", [row("a", "amy")])
    real = store_api.ingest

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt("killed while the store was written")

    monkeypatch.setattr(store_api, "ingest", killed)
    with pytest.raises(KeyboardInterrupt):
        compact(data)
    monkeypatch.setattr(store_api, "ingest", real)
    assert compact(data).stores == {"shop": 1}  # the stale marker outlived the kill
