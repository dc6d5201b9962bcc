"""Validation: every problem of a source at once, as counts and sample rows (never silently dropped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from hourglass.ingest.normalize import PARSED, Parsed, epoch_in_range, strip
from hourglass.ingest.shown import SHOWN_CHARS
from hourglass.ingest.sources import FILE_COLUMN

__all__ = [
    "CHECKS",
    "NOTES",
    "TIME_RANGE",
    "Check",
    "Problem",
    "ValidationReport",
    "checks_for",
    "count_expr",
    "future_bound",
    "notes_for",
    "samples_expr",
]


@dataclass(frozen=True)
class Check:
    code: str
    role: str
    what: str  # "is empty", "cannot be read as a timestamp", ...
    hint: str


CHECKS: tuple[Check, ...] = (
    Check(
        "HG401",
        "customer",
        "is empty",
        "every event needs a customer id (text or a number, not a JSON object or list); "
        "fill or remove these rows",
    ),
    Check(
        "HG402",
        "event",
        "is empty",
        "every event needs a name (text, not a JSON object or list); fill or remove these rows",
    ),
    Check("HG403", "timestamp", "is empty", "every event needs a time; fill or remove these rows"),
    Check(
        "HG404",
        "timestamp",
        "cannot be read as a timestamp",
        "use ISO 8601 (2024-01-31 10:00:00, optionally with +03:00 or Z), or epoch numbers with --time-unit",
    ),
    Check(
        "HG409",
        "timestamp",
        "is an epoch number outside 1900-2200 in the time unit",
        "the numbers are in another unit: --time-unit ms or us (the default is s), or fix these rows",
    ),
    Check(
        "HG412",
        "timestamp",
        "is before 1900 or after 2199 (a placeholder such as 0001-01-01 or 9999-12-31?)",
        "give these events their real time or remove the rows: hourglass reads times in 1900-2200, and "
        "a time outside it is nearly always a placeholder for 'unknown' or a wrong unit",
    ),
    Check(
        "HG405",
        "revenue",
        "cannot be read as a number",
        "use plain numbers such as 19.99 (no currency signs)",
    ),
)


_HG409 = next(c for c in CHECKS if c.code == "HG409")

#: What validation notes without failing (the rows are read, and the note says how): a time after
#: tomorrow (one row dated 2199 moves the default as-of date, the last event's time, to 2199), and a
#: local time with a zone name that does not exist (02:30 on a spring-forward day, read as 03:30).
NOTES: tuple[Check, ...] = (
    Check(
        "future",
        "timestamp",
        "is after today",
        "the default as-of date (lifecycle, followers, clv, journey) is the last event's time",
    ),
    Check(
        "gap",
        "timestamp",
        "is a local time that does not exist in its time zone (the clocks went forward)",
        "read as the same time after the gap (02:30 on a spring-forward day is 03:30 of the new "
        "offset); check how these times were written",
    ),
)


def future_bound() -> str:
    """Times after this (tomorrow, UTC) are noted as after today."""
    return (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")


@ibis.udf.scalar.builtin(  # type: ignore[untyped-decorator]
    name="timezone", signature=((dt.string, dt.Timestamp(timezone="UTC")), dt.Timestamp())
)
def _local_time(zone: str, ts: Any) -> Any:  # DuckDB's timezone(zone, instant): its local time
    ...


_ZONE = r"\s([A-Za-z_]+/[A-Za-z_/+-]+)$"


def _skipped_local_time(raw: ir.StringValue) -> ir.BooleanValue:
    """Text with a zone name (``2024-03-31 02:30:00 Europe/Berlin``) whose written local time is not
    the local time of the instant it was read as: the clocks skipped it. DuckDB only."""
    zone = raw.re_extract(_ZONE, 1)
    written = raw.re_extract(r"^(.*\S)\s+[A-Za-z_]+/[A-Za-z_/+-]+$", 1).try_cast(dt.Timestamp())
    instant = raw.try_cast(dt.Timestamp(timezone="UTC"))
    named = raw.contains("/") & (zone != "") & instant.notnull() & written.notnull()
    return ibis.cases((named, _local_time(zone, instant) != written), else_=False)


#: The times hourglass reads: [1900-01-01, 2200-01-01) UTC (the epoch numbers' range, HG409).
TIME_RANGE = ("1900-01-01 00:00:00", "2200-01-01 00:00:00")


#: The "unit" of a numeric time column read as YYYYMMDD dates (ingest/normalize.py, DATE_DIGITS).
_DIGITS = "yyyymmdd"


def _unit(parsed: Parsed) -> str:
    return _DIGITS if parsed.date_digits else parsed.roles.time_unit


def _condition(check: Check, t: ir.Table, raw_col: str, unit: str = "s") -> ir.BooleanValue:
    """The rows ``check`` reports (``unit``: the time unit of epoch numbers)."""
    parsed = t[f"{PARSED}{check.role}"]
    raw = t[raw_col]
    if check.code in ("HG401", "HG402"):
        return parsed.isnull()
    if check.code == "HG403":
        return raw.isnull()
    if check.code == "future":
        return parsed.notnull() & (parsed > ibis.timestamp(future_bound()))
    if check.code == "gap":
        return parsed.notnull() & _skipped_local_time(raw)
    if check.code == "HG412":  # a time that was read, outside the range (epoch numbers are HG409's)
        lo, hi = (ibis.timestamp(b) for b in TIME_RANGE)
        return parsed.notnull() & ((parsed < lo) | (parsed >= hi))
    # epoch numbers (not YYYYMMDD dates: every value there that is no date is HG404's)
    numeric_time = check.role == "timestamp" and raw.type().is_numeric() and unit != _DIGITS
    if check.code == "HG409":  # finite epoch numbers out of range (NaN is HG404's)
        finite = raw.notnull() & ~raw.isnan() if raw.type().is_floating() else raw.notnull()
        return finite & ~epoch_in_range(raw, unit)
    not_blank = raw.notnull()
    if numeric_time:
        not_blank = not_blank & ~_condition(_HG409, t, raw_col, unit)
    if raw.type().is_string():
        not_blank = not_blank & (strip(raw) != "")
    return not_blank & parsed.isnull()


def checks_for(parsed: Parsed) -> list[tuple[Check, str]]:
    """The checks that apply, with the raw column each one reads."""
    out = []
    for check in CHECKS:
        col = parsed.roles.columns.get(check.role)
        if col is None:
            continue
        if check.code == "HG409" and (not parsed.table[col].type().is_numeric() or parsed.date_digits):
            continue  # only epoch numbers have a plausible range to check
        out.append((check, col))
    return out


def notes_for(parsed: Parsed, backend: str) -> list[tuple[Check, str]]:
    """The notes that apply (:data:`NOTES`), with the raw column each one reads: skipped local
    times only in text times on DuckDB (its time zone function)."""
    col = parsed.roles.columns["timestamp"]
    text = parsed.table[col].type().is_string()
    return [(n, col) for n in NOTES if n.code != "gap" or (text and backend == "duckdb")]


def count_expr(parsed: Parsed, backend: str = "") -> ir.Table:
    """One row: ``rows``, one count per check (``HG401``...) and per note (``future``...),
    ``last_time``, and ``event_ids`` (distinct (customer, event id) pairs: an id is a customer's,
    normalize.dedupe). ``backend``: the engine's name (which notes apply)."""
    t = parsed.table
    aggs: dict[str, ir.Value] = {"rows": t.count()}
    for check, col in checks_for(parsed) + notes_for(parsed, backend):
        aggs[check.code] = _condition(check, t, col, _unit(parsed)).sum().coalesce(0)
    aggs["last_time"] = t[f"{PARSED}timestamp"].max()
    if "event_id" in parsed.roles.columns:
        ids = t[f"{PARSED}event_id"]
        customer = t[f"{PARSED}customer"]
        # the pair as one text: the customer's length first, so that no two pairs give the same text
        pair = customer.length().cast("string") + ":" + customer + ":" + ids
        aggs["event_ids"] = pair.nunique()
        aggs["with_event_id"] = (ids.notnull() & customer.notnull()).sum().coalesce(0)
    return t.aggregate(**aggs)


def samples_expr(parsed: Parsed, check: Check, col: str, numbered: ir.Table, limit: int = 5) -> ir.Table:
    """The first ``limit`` offending rows of ``numbered`` (the parsed table with ``__hg_row``): the
    row, the value's first characters (a message cuts it: ingest/shown.py) and its length."""
    bad = numbered.filter(_condition(check, numbered, col, _unit(parsed)))
    text = bad[col].cast("string")
    cols: dict[str, Any] = {
        "row": bad.__hg_row,
        "value": text.substr(0, SHOWN_CHARS),
        "length": text.length(),
    }
    if FILE_COLUMN in bad.columns:
        cols["file"] = bad[FILE_COLUMN]
        return bad.select(**cols).order_by(["file", "row"]).limit(limit)
    return bad.select(**cols).order_by("row").limit(limit)


def numbered(parsed: Parsed) -> ir.Table:
    """The parsed table with a 1-based row number in source order (DuckDB keeps insertion order)."""
    t = parsed.table.mutate(__hg_row=ibis.row_number() + 1)
    if FILE_COLUMN in t.columns:  # rows are read file by file: number them within each file
        first = t.__hg_row.min().over(ibis.window(group_by=t[FILE_COLUMN]))
        t = t.mutate(__hg_first=first)
        t = t.mutate(__hg_row=t.__hg_row - t.__hg_first + 1)
    return t


@dataclass(frozen=True)
class Problem:
    code: str
    column: str
    what: str
    count: int
    samples: list[tuple[int, str | None]]
    hint: str
    files: list[str] = field(default_factory=list)  # the file of each sample, for multi-file sources


@dataclass(frozen=True)
class ValidationReport:
    source: str
    kind: str
    rows: int
    roles: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    duplicates_collapsed: int = 0
    #: the physical line of sample rows of a text source, by (file or "", row): readers skip empty
    #: lines and a quoted CSV field may span lines, so a record's number is not its line's
    lines: dict[tuple[str, int], int] = field(default_factory=dict)
    #: the unit epoch-number times were read in (a store records it with the roles)
    time_unit: str = "s"
    #: what was read but is worth a look (rows after today, skipped local times), as Problems whose
    #: code is the note's name; and how the time column was read when it is not plain
    notes: list[Problem] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line_of(self, row: int, file: str = "") -> str:
        """Where sample ``row`` (1-based record) is: its line in a text file, else its row."""
        line = self.lines.get((file, row))
        if line is not None:
            return f"line {line}"
        if self.kind == "csv":
            return f"line {row + 1}"  # the header is line 1
        if self.kind == "jsonl":
            return f"line {row}"
        return f"row {row}"

    def _where(self, p: Problem) -> str:
        """The sample rows of ``p`` with their lines and values, and how many more."""
        files = p.files or [""] * len(p.samples)
        where = ", ".join(
            f"{f + ' ' if f else ''}{self.line_of(r, f)}{f' ({v!r})' if v is not None else ''}"
            for (r, v), f in zip(p.samples, files, strict=True)
        )
        return where + (f" and {p.count - len(p.samples)} more" if p.count > len(p.samples) else "")

    @staticmethod
    def _rows(p: Problem) -> str:
        return "1 row" if p.count == 1 else f"{p.count} rows"

    def describe(self) -> str:
        lines = [
            f"{self.source}: {self.rows} rows; roles: " + ", ".join(f"{r}={c}" for r, c in self.roles.items())
        ]
        if self.duplicates_collapsed:
            lines.append(
                f"  {self.duplicates_collapsed} duplicate event_id row(s) collapsed (one event kept per id)"
            )
        for p in self.problems:
            lines.append(f"  [{p.code}] column '{p.column}' {p.what} in {self._rows(p)}: {self._where(p)}")
            lines.append(f"      hint: {p.hint}")
        for p in self.notes:
            lines.append(f"  note: column '{p.column}' {p.what} in {self._rows(p)}: {self._where(p)}")
            lines.append(f"      {p.hint}")
        lines += [f"  note: {r}" for r in self.remarks]
        if self.ok:
            lines.append("  ok: no problems found")
        return "\n".join(lines)
