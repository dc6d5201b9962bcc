"""Parquet files: the frame of each file checked at load (its magic bytes and footer length: two
small reads per file), the engine's errors on a damaged file as HG206 "not a complete Parquet file"
naming the file (never HG699, never "the column named above"; issue 19 item 7), and the validation
counts read from the footers' statistics when they settle every check (no scan)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hourglass.engine.errors import translated
from hourglass.ingest.sources import Source
from hourglass.model.errors import HourglassError, SourceError

if TYPE_CHECKING:  # (not at import: engine/snapshot.py imports this module, and needs no Ibis)
    from hourglass.engine.session import Engine
    from hourglass.ingest.normalize import Parsed

__all__ = [
    "check_parquet_frames",
    "damage_error",
    "from_parquet_statistics",
    "parquet_errors",
    "read_every_value",
]

_MAGIC = b"PAR1"
_HINT = (
    "the file is damaged or was cut short (an interrupted copy, download or write?): write or copy it again"
)


def _frame_problem(path: str) -> str | None:
    """What is wrong with the frame of the Parquet file ``path`` (its magic bytes at both ends and the
    footer's length), or None."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4)
            if size < 12:
                return f"{size} bytes, too small for a Parquet file"
            f.seek(size - 8)
            tail = f.read(8)
    except OSError:
        return None  # the reader reports it
    if head != _MAGIC:
        return "it does not start as a Parquet file does"
    if tail[4:] != _MAGIC:
        return "its end is missing (no footer)"
    footer = int.from_bytes(tail[:4], "little")
    if footer <= 0 or footer > size - 12:
        return f"its footer's length ({footer:,} bytes) does not fit in the file ({size:,} bytes)"
    return None


def _damaged(path: str, why: str) -> SourceError:
    return SourceError(f"{path}: not a complete Parquet file ({why})", code="HG206", hint=_HINT)


def check_parquet_frames(src: Source) -> None:
    """Every file of a Parquet source ends with a footer of a length that fits (HG206 otherwise)."""
    if src.kind != "parquet":
        return
    for path in src.paths:
        why = _frame_problem(path)
        if why is not None:
            raise _damaged(path, why)


def _unreadable_file(src: Source) -> SourceError | None:
    """The first file of ``src`` whose footer pyarrow cannot read, or (several files) whose data a
    fresh DuckDB cannot read whole; only on an error path (pyarrow's import, a scan per file)."""
    import duckdb
    import pyarrow.parquet as pq

    for path in src.paths:
        why = _frame_problem(path)
        if why is None:
            try:
                pq.read_metadata(path)
            except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad footer
                if not os.path.isfile(path):
                    continue  # gone: not a damage this can name
                why = f"its footer cannot be read: {_first_line(e)}"
        if why is None and len(src.paths) > 1:
            try:
                with duckdb.connect() as con:
                    con.execute("SELECT max(hash(t)) FROM read_parquet(?) t", [path]).fetchall()
            except Exception as e:  # noqa: BLE001 - any failure of this one file names it
                why = f"its data cannot be read: {_first_line(e)}"
        if why is not None:
            return _damaged(path, why)
    return None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:160] if text else type(e).__name__


#: What DuckDB says when a Parquet file's bytes are not what its footer describes.
_DAMAGE_TEXT = re.compile(
    r"TProtocolException|don't know what type|magic bytes|[Ff]ooter|too small to be a Parquet file|"
    r"Could not read enough bytes|Invalid unicode|[Cc]orrupt|decompress|Snappy|ZSTD|Out of buffer|"
    r"invalid TType"
)


def damage_error(src: Source, e: BaseException) -> SourceError | None:
    """HG206 naming the damaged file of the Parquet source ``src`` when ``e`` is the engine's failure
    to read its bytes (or naming the source, when pyarrow reads every footer but the engine cannot
    read the data); None for another error or source."""
    if src.kind != "parquet":
        return None
    if isinstance(e, HourglassError) and e.code not in ("HG206", "HG407"):
        return None
    text = e.message if isinstance(e, HourglassError) else str(e)
    if not _DAMAGE_TEXT.search(text):
        return None  # not about the file's bytes (memory, a bug): engine/errors.py's or HG699
    return _unreadable_file(src) or SourceError(
        f"{src.name}: not a complete Parquet file: its data cannot be read ({_first_line(e)})",
        code="HG206",
        hint=_HINT,
    )


@contextlib.contextmanager
def parquet_errors(src: Source) -> Iterator[None]:
    """A reader's failure on a Parquet source as HG206 naming the damaged file (:func:`damage_error`)."""
    try:
        yield
    except Exception as e:
        damaged = damage_error(src, e)
        if damaged is not None:
            raise damaged from None
        raise


def read_every_value(engine: Engine, src: Source) -> None:
    """Read every value of a Parquet source once (each column's pages decoded): HG206 naming a file
    whose data is damaged. For ``hourglass validate``, which vouches for what the analyses will read
    (a load validated from the footers' statistics reads the pages only when an analysis does)."""
    if src.kind != "parquet" or engine.name != "duckdb":
        return
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in src.paths) + "]"
    with translated(src.name), parquet_errors(src):
        engine.con.con.execute(f"SELECT max(hash(t)) FROM read_parquet({files}, union_by_name = true) t")


def _in_range(stat: Any) -> bool:
    """A Parquet statistic of a time column ('2024-01-31 10:00:00', '9999-12-31', '0044-03-15
    (BC)', '2024-01-01 08:00:00+00') inside TIME_RANGE; False when it cannot be told."""
    from hourglass.ingest.validate import TIME_RANGE

    text = str(stat or "")
    year = text.split("-", 1)[0]
    if len(year) != 4 or not year.isdigit() or "(BC)" in text:
        return False
    return TIME_RANGE[0][:4] <= year < TIME_RANGE[1][:4]


def from_parquet_statistics(engine: Engine, src: Source, parsed: Parsed) -> dict[str, Any] | None:
    """The validation counts read from Parquet footers instead of a scan, when the statistics settle
    every check: the row count; no NULLs in the role columns; and no blank text, because every
    row group's minimum is >= '!' (text compares byte-wise, so no value is empty or starts with a
    blank, and a blank value is all blanks). None when a check needs the data (text timestamps or
    revenue, event ids, other types, missing statistics)."""
    if engine.name != "duckdb" or src.kind != "parquet":
        return None
    from hourglass.ingest.validate import checks_for, future_bound

    raw = parsed.table
    need: dict[str, bool] = {}  # source column -> must its minimum be >= '!'
    ranged: set[str] = set()  # time columns whose minimum and maximum must be in TIME_RANGE
    for check, col in checks_for(parsed):
        t = raw[col].type()
        if check.code in ("HG401", "HG402"):
            if not (t.is_integer() or t.is_string()):
                return None
            need[col] = need.get(col, False) or t.is_string()
        elif check.code == "HG403":
            need.setdefault(col, False)
        elif check.code == "HG412":
            if not (t.is_timestamp() or t.is_date()):
                return None
            ranged.add(col)
            need.setdefault(col, False)
        else:  # HG404 (a time that cannot be read), HG405 (revenue that is not a number)
            time_ok = t.is_timestamp() or t.is_date()
            if not (time_ok if check.code == "HG404" else t.is_numeric() or t.is_boolean()):
                return None
    if "event_id" in parsed.roles.columns:
        return None
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in src.paths) + "]"
    with translated(src.name), parquet_errors(src):
        meta = engine.con.con.execute(
            "SELECT file_name, row_group_id, any_value(row_group_num_rows), "
            "list({'col': path_in_schema, 'nulls': stats_null_count, 'min': stats_min_value, "
            "'max': stats_max_value}) "
            f"FROM parquet_metadata({files}) GROUP BY file_name, row_group_id"
        ).fetchall()
    rows = 0
    for _, _, n, columns in meta:
        rows += int(n)
        stats = {c["col"]: c for c in columns}
        for col, text in need.items():
            st = stats.get(col)
            if st is None or st["nulls"] is None or int(st["nulls"]) != 0:
                return None
            if text and int(n) > 0 and (st["min"] is None or not str(st["min"]) >= "!"):
                return None
            if col in ranged and int(n) > 0 and not (_in_range(st["min"]) and _in_range(st["max"])):
                return None
            if col in ranged and int(n) > 0 and not str(st["max"]) <= future_bound():
                return None  # a time after today: the scan finds its rows for the note
    if not meta:
        return None
    return {"rows": rows, **{c.code: 0 for c, _ in checks_for(parsed)}}
