"""Small clean event logs, written as CSV, JSON lines or Parquet, and the ways to damage them.

A *keeping* change leaves the file's meaning whole (rows reordered, CRLF line ends, every field quoted,
a BOM, columns reordered, another timestamp spelling): the answer must equal the clean file's. A
*damaging* change (bytes flipped, truncated, another encoding or delimiter, a stray quote, a huge
field, NUL bytes, a ragged row, an empty file) may make any answer right; then only a coded error or
an answer that agrees with ``validate`` is right."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

__all__ = [
    "COLUMNS",
    "CSV_DAMAGE",
    "CSV_KEEPING",
    "JSON_DAMAGE",
    "PARQUET_DAMAGE",
    "STEPS",
    "Log",
    "csv_bytes",
    "expected_funnel",
    "jsonl_bytes",
    "logs",
    "parquet_bytes",
]

STEPS = ["visit", "signup", "purchase"]
EVENTS = [*STEPS, "support_contact"]
CHANNELS = ["ads", "search", "email"]
COLUMNS = ["customer_id", "event", "timestamp", "channel", "revenue"]
BASE = datetime(2024, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Log:
    """Rows of (customer, event, time, channel, revenue); times are whole seconds in UTC."""

    rows: tuple[tuple[str, str, datetime, str, float | None], ...]

    def as_records(self) -> list[dict[str, object]]:
        return [dict(zip(COLUMNS, r, strict=True)) for r in self.rows]


@st.composite
def logs(draw: st.DrawFn, max_rows: int = 24) -> Log:
    n = draw(st.integers(1, max_rows))
    rows = []
    for _ in range(n):
        customer = f"c{draw(st.integers(0, 7))}"
        event = draw(st.sampled_from(EVENTS))
        when = BASE + timedelta(seconds=draw(st.integers(0, 40 * 86_400)))
        revenue = float(draw(st.integers(1, 90))) if event == "purchase" else None
        rows.append((customer, event, when, draw(st.sampled_from(CHANNELS)), revenue))
    return Log(tuple(rows))


def expected_funnel(log: Log) -> list[int | None]:
    """The ordered funnel's customers per step, no window (each step after the previous one's
    earliest possible match; ties in time count as in order, as docs/semantics.md says). A step whose
    event the log never has is not measured (None), and so is every step after it (ADR 0006)."""
    by: dict[str, list[tuple[datetime, str]]] = {}
    for customer, event, when, _, _ in log.rows:
        by.setdefault(customer, []).append((when, event))
    counts = [0] * len(STEPS)
    for events in by.values():
        reached, last = 0, None
        for i, step in enumerate(STEPS):
            times = [t for t, e in events if e == step and (last is None or t >= last)]
            if not times:
                break
            last, reached = min(times), i + 1
        for i in range(reached):
            counts[i] += 1
    seen = {r[1] for r in log.rows}
    missing = next((i for i, step in enumerate(STEPS) if step not in seen), len(STEPS))
    return [c if i < missing else None for i, c in enumerate(counts)]


# --- writers ----------------------------------------------------------------------------------------------


def _time_text(when: datetime, style: int) -> str:
    return [
        when.strftime("%Y-%m-%d %H:%M:%S"),
        when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        when.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        (when + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
        when.strftime("%Y-%m-%d %H:%M:%S.000"),
    ][style]


def csv_bytes(
    log: Log,
    *,
    order: list[int] | None = None,
    columns: list[str] | None = None,
    newline: str = "\n",
    quote_all: bool = False,
    time_style: int = 0,
    final_newline: bool = True,
) -> bytes:
    columns = columns or COLUMNS
    rows = [log.rows[i] for i in (order or range(len(log.rows)))]

    def cell(value: object) -> str:
        if isinstance(value, datetime):
            text = _time_text(value, time_style)
        else:
            text = "" if value is None else str(value)
        return f'"{text}"' if quote_all else text

    lines = [",".join(f'"{c}"' if quote_all else c for c in columns)]
    for row in rows:
        record = dict(zip(COLUMNS, row, strict=True))
        lines.append(",".join(cell(record[c]) for c in columns))
    text = newline.join(lines) + (newline if final_newline else "")
    return text.encode("utf-8")


def jsonl_bytes(log: Log, *, time_style: int = 0, ids: Callable[[str], object] = str) -> bytes:
    out = []
    for customer, event, when, channel, revenue in log.rows:
        record = {"customer_id": ids(customer), "event": event, "timestamp": _time_text(when, time_style)}
        record |= {"channel": channel, "revenue": revenue}
        out.append(json.dumps(record))
    return ("\n".join(out) + "\n").encode("utf-8")


def parquet_bytes(log: Log, *, time_type: str = "us") -> bytes:
    """The log as Parquet; ``time_type``: us/ms/s (timestamps), tz (with UTC), text."""
    times: list[datetime] = [r[2] for r in log.rows]
    if time_type == "text":
        ts = pa.array([_time_text(t, 0) for t in times], pa.string())
    elif time_type == "tz":
        ts = pa.array(times, pa.timestamp("us", tz="UTC"))
    else:
        ts = pa.array([t.replace(tzinfo=None) for t in times], pa.timestamp(time_type))
    table = pa.table(
        {
            "customer_id": pa.array([r[0] for r in log.rows], pa.string()),
            "event": pa.array([r[1] for r in log.rows], pa.string()),
            "timestamp": ts,
            "channel": pa.array([r[3] for r in log.rows], pa.string()),
            "revenue": pa.array([r[4] for r in log.rows], pa.float64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# --- keeping changes (the answer must not change) ---------------------------------------------------------


def _keeping(log: Log, rnd: random.Random) -> tuple[str, bytes]:
    order = list(range(len(log.rows)))
    rnd.shuffle(order)
    columns = COLUMNS[:]
    if rnd.random() < 0.5:
        rnd.shuffle(columns)
    newline = rnd.choice(["\n", "\r\n"])
    quote_all = rnd.random() < 0.5
    time_style = rnd.randrange(5)
    final = rnd.random() < 0.8
    data = csv_bytes(
        log,
        order=order,
        columns=columns,
        newline=newline,
        quote_all=quote_all,
        time_style=time_style,
        final_newline=final,
    )
    what = f"shuffled, columns {columns}, newline {newline!r}, quoted {quote_all}, times {time_style}"
    if rnd.random() < 0.3:
        data, what = b"\xef\xbb\xbf" + data, what + ", a UTF-8 BOM"
    return what, data


CSV_KEEPING = _keeping


# --- damaging changes -------------------------------------------------------------------------------------


def _flip(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    out = bytearray(data)
    spots = [rnd.randrange(len(out)) for _ in range(rnd.randint(1, 6))]
    for i in spots:
        out[i] = rnd.randrange(256)
    return f"bytes changed at {spots}", bytes(out)


def _truncate(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    cut = rnd.randrange(len(data))
    return f"truncated at {cut} of {len(data)}", data[:cut]


def _nul(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    i = rnd.randrange(len(data) + 1)
    return f"NUL bytes at {i}", data[:i] + b"\x00" * rnd.randint(1, 3) + data[i:]


def _encoding(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    text = data.decode("utf-8").replace("visit", "visité").replace("c1,", "Ĉ1,")
    name = rnd.choice(["latin-1", "utf-16", "utf-16-le", "utf-32", "utf-8-sig", "cp1252", "utf-8"])
    return f"non-ASCII text in {name}", text.encode(name, errors="replace")


def _delimiter(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    sep = rnd.choice([";", "\t", "|", " "])
    return f"delimiter {sep!r}", data.replace(b",", sep.encode())


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _stray_quote(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    lines = _lines(data)
    i = rnd.randrange(len(lines))
    j = rnd.randrange(len(lines[i]) + 1)
    lines[i] = lines[i][:j] + b'"' + lines[i][j:]
    return f"a quote in line {i + 1} at {j}", b"\n".join(lines)


def _huge(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    lines = _lines(data)
    i = rnd.randrange(1, max(2, len(lines) - 1))
    fields = lines[i].split(b",") if i < len(lines) else [b""]
    k = rnd.randrange(len(fields))
    size = rnd.choice([70_000, 1_100_000, 2_200_000])
    fields[k] = rnd.choice([b"x", b"7", b"\xc3\xa9"]) * size
    if i < len(lines):
        lines[i] = b",".join(fields)
    return f"a field of {size} in line {i + 1}, column {k + 1}", b"\n".join(lines)


def _ragged(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    lines = _lines(data)
    i = rnd.randrange(len(lines))
    fields = lines[i].split(b",")
    if rnd.random() < 0.5 and len(fields) > 1:
        fields.pop(rnd.randrange(len(fields)))
    else:
        fields.insert(rnd.randrange(len(fields) + 1), b"extra")
    lines[i] = b",".join(fields)
    return f"line {i + 1} ragged", b"\n".join(lines)


def _empty(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    choice = rnd.choice([b"", b"\n", b"   \n\n", _lines(data)[0] + b"\n", b"\xef\xbb\xbf", b"\r\n\r\n"])
    return f"empty-ish file {choice[:40]!r}", choice


def _cell(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    """A cell replaced by an odd value: a date as an integer, an offset out of range, a placeholder."""
    lines = _lines(data)
    i = rnd.randrange(1, max(2, len(lines) - 1))
    if i >= len(lines) or not lines[i]:
        return "nothing", data
    fields = lines[i].split(b",")
    k = rnd.randrange(len(fields))
    value = rnd.choice(
        [
            b"",
            b"20240101",
            b"1709251200",
            b"2024-03-01T10:00:00+99:99",
            b"2024-03-01T10:00:00+25:00",
            b"0001-01-01",
            b"9999-12-31",
            b"NaN",
            b"inf",
            b"-1e308",
            b"1.0",
            b"null",
            b"2024-02-30",
            b"2024-03-10 02:30:00",
            b"true",
            b"\xff\xfe",
            b"  ",
        ]
    )
    fields[k] = value
    lines[i] = b",".join(fields)
    return f"line {i + 1}, column {k + 1} = {value!r}", b"\n".join(lines)


def _header(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    lines = _lines(data)
    names = lines[0].split(b",")
    k = rnd.randrange(len(names))
    names[k] = rnd.choice([b"", b"customer_id", b"event", b"timestamp", b"user_id", b"time", b" event "])
    lines[0] = b",".join(names)
    return f"header {lines[0]!r}", b"\n".join(lines)


CSV_DAMAGE: list[Callable[[bytes, random.Random], tuple[str, bytes]]] = [
    _flip,
    _truncate,
    _nul,
    _encoding,
    _delimiter,
    _stray_quote,
    _huge,
    _ragged,
    _empty,
    _cell,
    _header,
]


def _json_value(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    lines = [ln for ln in _lines(data) if ln]
    i = rnd.randrange(len(lines))
    record = json.loads(lines[i])
    key = rnd.choice(list(record))
    record[key] = rnd.choice(
        [None, 1, 1.0, 1.5, True, [], {}, ["a"], {"a": 1}, "", 20240101, 1709251200, 1e300, "x" * 70_000, -1]
    )
    lines[i] = json.dumps(record).encode()
    return f"line {i + 1}: {key} = {str(record[key])[:40]}", b"\n".join(lines) + b"\n"


def _json_line(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    lines = _lines(data)
    i = rnd.randrange(len(lines) + 1)
    junk = rnd.choice([b"[1, 2]", b"{", b"}", b"null", b"42", b'"text"', b"{}", b'{"a": 1} {"b": 2}', b"  "])
    lines.insert(i, junk)
    return f"line {i + 1} = {junk!r}", b"\n".join(lines)


def _json_bom(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    return "a UTF-8 BOM", b"\xef\xbb\xbf" + data


JSON_DAMAGE: list[Callable[[bytes, random.Random], tuple[str, bytes]]] = [
    _flip,
    _truncate,
    _nul,
    _encoding,
    _empty,
    _json_value,
    _json_line,
    _json_bom,
]


def _footer(data: bytes, rnd: random.Random) -> tuple[str, bytes]:
    """Bytes changed in the last 200 (the footer and its length)."""
    out = bytearray(data)
    spots = [len(out) - 1 - rnd.randrange(min(200, len(out))) for _ in range(rnd.randint(1, 4))]
    for i in spots:
        out[i] = rnd.randrange(256)
    return f"footer bytes changed at {spots}", bytes(out)


PARQUET_DAMAGE: list[Callable[[bytes, random.Random], tuple[str, bytes]]] = [_flip, _truncate, _footer, _nul]
