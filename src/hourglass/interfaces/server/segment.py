"""The format of a write-ahead log segment (wal.py): records, their checksums, and a scan that keeps
every valid record of a segment, whatever is damaged around it.

    header (18 bytes, little-endian): magic u16 0x4748 | length u32 | crc32 u32 | seq u64
    payload (length bytes): one request's rows as compact JSON (a list of objects, the event schema)

``crc32`` covers the sequence number and the payload; ``seq`` is ``segment << 24 | n`` (n = 1, 2, ...
within the segment), so it grows across segments and restarts without any other state."""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "HEADER",
    "INDEX_BITS",
    "MAGIC",
    "MAX_PAYLOAD",
    "Scan",
    "encode_record",
    "read_rows",
    "scan_segment",
    "segment_name",
    "segment_number",
    "segments",
]

MAGIC = 0x4748
_HEADER = struct.Struct("<HIIQ")
HEADER = _HEADER.size  # 18
_MAGIC_BYTES = struct.pack("<H", MAGIC)
#: the largest payload a record may hold (PostHog's batch limit is 20 MB)
MAX_PAYLOAD = 64 * 2**20
INDEX_BITS = 24
_SUFFIX = ".wal"


def segment_name(number: int) -> str:
    return f"{number:012d}{_SUFFIX}"


def segment_number(path: Path) -> int | None:
    """The number of a segment file (``000000000042.wal`` -> 42), None for any other file."""
    stem, suffix = path.name[: -len(_SUFFIX)], path.name[-len(_SUFFIX) :]
    return int(stem) if suffix == _SUFFIX and len(stem) == 12 and stem.isdigit() else None


def segments(directory: Path) -> list[tuple[int, Path]]:
    """The segments of a log directory, in order."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(n, directory / name) for name in names if (n := segment_number(Path(name))) is not None]
    return sorted(found)


def encode_record(seq: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(struct.pack("<Q", seq)))
    return _HEADER.pack(MAGIC, len(payload), crc, seq) + payload


@dataclass
class Scan:
    """What a segment holds: its valid records (seq, payload) in order, where the last one ends, and
    the byte ranges that are not valid records (a torn tail, a damaged record)."""

    records: list[tuple[int, bytes]] = field(default_factory=list)
    end: int = 0
    size: int = 0
    damaged: list[tuple[int, int]] = field(default_factory=list)

    @property
    def torn_tail(self) -> bool:
        """Invalid bytes after the last valid record only (a crash while writing)."""
        return self.end < self.size

    @property
    def damaged_inside(self) -> bool:
        """Invalid bytes before a valid record (not a crash: a damaged disk or file)."""
        return any(start < self.end for start, _ in self.damaged)


def _valid_at(data: bytes, pos: int, segment: int, last: int) -> tuple[int, int] | None:
    """(seq, end) of a valid record at ``pos``, or None."""
    if pos + HEADER > len(data):
        return None
    magic, length, crc, seq = _HEADER.unpack_from(data, pos)
    end = pos + HEADER + length
    if magic != MAGIC or length > MAX_PAYLOAD or end > len(data) or seq <= last:
        return None
    if seq >> INDEX_BITS != segment:
        return None
    payload = memoryview(data)[pos + HEADER : end]
    if zlib.crc32(payload, zlib.crc32(struct.pack("<Q", seq))) != crc:
        return None
    return seq, end


def scan_segment(data: bytes, segment: int) -> Scan:
    """The valid records of a segment's bytes. An invalid record (cut short, wrong checksum, wrong
    magic or sequence) is skipped: the scan resumes at the next valid record after it, so one damaged
    record never hides the complete ones that follow. Never raises."""
    scan = Scan(size=len(data))
    pos, last, bad_from = 0, segment << INDEX_BITS, -1
    while pos < len(data):
        found = _valid_at(data, pos, segment, last)
        if found is None:
            if bad_from < 0:
                bad_from = pos
            nxt = data.find(_MAGIC_BYTES, pos + 1)
            if nxt < 0:
                break
            pos = nxt
            continue
        if bad_from >= 0:
            scan.damaged.append((bad_from, pos))
            bad_from = -1
        last, end = found
        scan.records.append((last, bytes(data[pos + HEADER : end])))
        pos = scan.end = end
    if bad_from >= 0:
        scan.damaged.append((bad_from, len(data)))
    return scan


def read_rows(payload: bytes) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(payload)
    return rows
