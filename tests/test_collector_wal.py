"""The collector's write-ahead log (issue 13, docs/collector.md "Durability"): group commit shares
fsyncs and answers only after them; recovery keeps exactly the complete, valid records whatever the
crash cut or a disk damaged; a failed write stores nothing and the log goes on."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hourglass.interfaces.server.segment import (
    HEADER,
    encode_record,
    read_rows,
    scan_segment,
    segment_name,
    segments,
)
from hourglass.interfaces.server.wal import WalUnavailable, WriteAheadLog
from hourglass.model.errors import SourceError


def _rows(i: int, n: int = 1, pad: int = 10) -> list[dict[str, object]]:
    return [{"event_id": f"e{i}-{k}", "customer": "c", "event": "x" * pad} for k in range(n)]


def _segment(payload_sizes: list[int], number: int = 0) -> tuple[bytes, list[int]]:
    """A segment's bytes with one record per size, and each record's start offset."""
    data, starts = b"", []
    for i, size in enumerate(payload_sizes, start=1):
        starts.append(len(data))
        data += encode_record(number << 24 | i, bytes([65 + i % 26]) * size)
    return data, starts


def test_appends_survive_a_reopen_and_each_restart_starts_a_new_segment(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal" / "c1")
    wal.open()
    seqs = [wal.append_sync(_rows(i, 3)) for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    wal.close()
    wal = WriteAheadLog(tmp_path / "wal" / "c1")
    recovery = wal.open()
    assert (recovery.segment, recovery.records, recovery.truncated_bytes) == (0, 5, 0)
    assert wal.segment == 1
    later = wal.append_sync(_rows(9))
    assert later > seqs[-1]  # sequence numbers grow across restarts
    wal.close()
    (n, path), *_ = segments(tmp_path / "wal" / "c1")
    scan = scan_segment(path.read_bytes(), n)
    assert [read_rows(p) for _, p in scan.records] == [_rows(i, 3) for i in range(5)]


def test_concurrent_appends_share_fsyncs_and_none_returns_before_its_fsync(tmp_path: Path) -> None:
    directory = tmp_path / "wal" / "c1"
    durable = {"size": 0}
    calls = []

    def slow_fsync(fd: int) -> None:
        time.sleep(0.01)  # a disk's fsync: appends queue up meanwhile
        os.fsync(fd)
        durable["size"] = os.fstat(fd).st_size
        calls.append(fd)

    wal = WriteAheadLog(directory, fsync=slow_fsync)
    wal.open()
    seg = directory / segment_name(wal.segment)
    n = 60

    async def one(i: int) -> None:
        seq = await wal.append(_rows(i))
        # what was fsync'ed when the append returned holds its record
        done = scan_segment(seg.read_bytes()[: durable["size"]], 0)
        assert seq in {s for s, _ in done.records}

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(n)))

    asyncio.run(main())
    wal.close()
    appends_fsyncs = wal.fsyncs
    assert 1 <= appends_fsyncs < n / 3, appends_fsyncs
    assert len(scan_segment(seg.read_bytes(), 0).records) == n


def test_threads_appending_at_once_each_get_their_record(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "w")
    wal.open()
    got: list[int] = []
    threads = [threading.Thread(target=lambda i=i: got.append(wal.append_sync(_rows(i)))) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wal.close()
    assert len(set(got)) == 20
    (n, path), *_ = segments(tmp_path / "w")
    assert sorted(s for s, _ in scan_segment(path.read_bytes(), n).records) == sorted(got)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=6))
def test_a_cut_at_every_byte_of_the_last_record_keeps_exactly_the_complete_ones(sizes: list[int]) -> None:
    data, starts = _segment(sizes)
    for cut in range(starts[-1], len(data) + 1):
        scan = scan_segment(data[:cut], 0)
        expected = len(sizes) if cut == len(data) else len(sizes) - 1
        assert len(scan.records) == expected
        assert scan.end == (len(data) if cut == len(data) else starts[-1])
        assert not scan.damaged_inside


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 200), min_size=2, max_size=5), data=st.data())
def test_a_flipped_byte_loses_only_its_own_record(sizes: list[int], data: st.DataObject) -> None:
    raw, starts = _segment(sizes)
    victim = data.draw(st.integers(0, len(sizes) - 1))
    end = starts[victim + 1] if victim + 1 < len(sizes) else len(raw)
    at = data.draw(st.integers(starts[victim], end - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(raw)
    damaged[at] ^= 1 << bit
    scan = scan_segment(bytes(damaged), 0)
    kept = [s & 0xFFFFFF for s, _ in scan.records]
    assert kept == [i for i in range(1, len(sizes) + 1) if i != victim + 1]
    assert scan.damaged and (scan.damaged_inside or victim == len(sizes) - 1)


def test_recovery_truncates_the_torn_tail_at_sampled_offsets_and_never_raises(tmp_path: Path) -> None:
    data, starts = _segment([5, 40, 300, 77])
    last = len(data) - starts[-1]
    for cut in sorted({0, 1, HEADER - 1, HEADER, HEADER + 1, last // 2, last - 1}):
        directory = tmp_path / f"cut{cut}"
        directory.mkdir()
        (directory / segment_name(0)).write_bytes(data[: starts[-1] + cut])
        wal = WriteAheadLog(directory)
        recovery = wal.open()
        wal.close()
        assert (recovery.records, recovery.truncated_bytes) == (3, cut)
        assert (directory / segment_name(0)).stat().st_size == starts[-1]


def test_garbage_is_never_a_record() -> None:
    rng = __import__("random").Random(7)
    for _ in range(200):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        assert scan_segment(junk, 0).records == []


def test_a_failed_fsync_stores_nothing_and_the_log_goes_on(tmp_path: Path) -> None:
    fail = {"on": False}

    def fsync(fd: int) -> None:
        if fail["on"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.fsync(fd)

    directory = tmp_path / "w"
    wal = WriteAheadLog(directory, fsync=fsync)
    wal.open()
    wal.append_sync(_rows(1))
    fail["on"] = True
    with pytest.raises(WalUnavailable) as info:
        wal.append_sync(_rows(2))
    assert info.value.code == "HG451" and "No space left" in str(info.value)

    async def refused() -> None:
        with pytest.raises(WalUnavailable):
            await wal.append(_rows(3))

    asyncio.run(refused())
    fail["on"] = False
    wal.append_sync(_rows(4))
    wal.close()
    rows = [
        read_rows(p)[0]["event_id"]
        for n, path in segments(directory)
        for _, p in scan_segment(path.read_bytes(), n).records
    ]
    assert rows == ["e1-0", "e4-0"]


def test_a_second_collector_with_the_same_log_is_refused(tmp_path: Path) -> None:
    first = WriteAheadLog(tmp_path / "w")
    first.open()
    with pytest.raises(SourceError) as info:
        WriteAheadLog(tmp_path / "w").open()
    assert info.value.code == "HG452" and str(os.getpid()) in str(info.value)
    first.close()
    with pytest.raises(WalUnavailable):
        first.append_sync(_rows(1))


def test_segments_roll_by_size_and_on_demand(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "w", segment_bytes=200)
    wal.open()
    for i in range(6):
        wal.append_sync(_rows(i, pad=60))
    closed = wal.roll()
    assert wal.segment == closed + 1
    wal.close()
    found = segments(tmp_path / "w")
    assert len(found) >= 4
    total = sum(len(scan_segment(p.read_bytes(), n).records) for n, p in found)
    assert total == 6


def test_a_new_log_numbers_after_the_files_its_id_already_compacted(tmp_path: Path) -> None:
    day = tmp_path / "events" / "shop" / "dt=2026-12-04"
    day.mkdir(parents=True)
    (day / "c1-000000000041.parquet").write_bytes(b"")
    wal = WriteAheadLog.for_collector(tmp_path, "c1")
    wal.open()
    assert wal.segment == 42
    wal.close()


def test_a_record_the_scan_could_not_read_back_is_never_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hourglass.interfaces.server import wal as module

    monkeypatch.setattr(module, "MAX_PAYLOAD", 100)
    log = WriteAheadLog(tmp_path / "w")
    log.open()
    log.append_sync(_rows(1))
    with pytest.raises(WalUnavailable, match="larger than a log record"):
        log.append_sync(_rows(2, n=5))
    log.close()


def test_the_log_uses_a_faster_encoder_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import types

    from hourglass.interfaces.server import wal as module

    def dumps(records: object) -> bytes:
        if records == _rows(2):
            raise TypeError("what orjson cannot encode")  # orjson.JSONEncodeError is a TypeError
        return b"[" + json.dumps(records)[1:].encode()

    monkeypatch.setattr(module, "_orjson", types.SimpleNamespace(dumps=dumps))
    log = WriteAheadLog(tmp_path / "w")
    log.open()
    for i in range(3):
        log.append_sync(_rows(i))
    log.close()
    (n, path), *_ = segments(tmp_path / "w")
    assert [read_rows(p) for _, p in scan_segment(path.read_bytes(), n).records] == [
        _rows(i) for i in range(3)
    ]


def test_a_log_that_cannot_start_a_segment_is_hg451_and_releases_its_lock(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    directory.mkdir()
    (directory / segment_name(0)).mkdir()  # the next segment's name is taken by a directory: EISDIR
    wal = WriteAheadLog(directory)
    with pytest.raises(WalUnavailable) as info:
        wal.open()
    assert info.value.code == "HG451"
    (directory / segment_name(0)).rmdir()
    again = WriteAheadLog(directory)
    again.open()  # the lock was released
    again.close()
