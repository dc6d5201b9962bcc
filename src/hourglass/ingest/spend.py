"""Reading and validating a spend table (CSV with ``channel``, ``period``, ``cost``; or an in-memory
pandas/Arrow table with those columns) into a :class:`~hourglass.model.channels.Spend`.

Every problem is reported at once with its file, line and column; nothing is dropped silently."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hourglass.ingest.shown import quoted
from hourglass.model._suggest import did_you_mean
from hourglass.model.channels import Spend, SpendRow, parse_period
from hourglass.model.errors import DataError, SchemaError, SourceError

__all__ = ["SPEND_COLUMNS", "read_spend"]

SPEND_COLUMNS: tuple[str, ...] = ("channel", "period", "cost")
_MAX_SHOWN = 10


def _rows_from_file(path: str) -> tuple[str, list[str], list[tuple[int, list[str]]]]:
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{path}: no such file", code="HG203", hint="check the path of the spend table")
    if p.is_dir() or not p.name.lower().endswith((".csv", ".tsv", ".txt")):
        raise SourceError(
            f"{path}: a spend table is a CSV file",
            code="HG202",
            hint="write it as CSV with the columns channel, period, cost",
        )
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        line = p.read_bytes()[: e.start].count(b"\n") + 1
        raise SourceError(
            f"{path}: line {line} is not UTF-8 text",
            code="HG206",
            hint="save the spend table as CSV UTF-8 (Excel: 'CSV UTF-8 (comma delimited)')",
        ) from None
    first = text.split("\n", 1)[0]
    if p.name.lower().endswith(".tsv"):
        delimiter = "\t"
    elif ";" in first and "," not in first:
        delimiter = ";"  # a European spreadsheet's CSV
    else:
        delimiter = ","
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for values in reader:
        if not header:
            header = values
            continue
        if not any(v.strip() for v in values):
            continue
        rows.append((reader.line_num, values))
    return path, header, rows


def _rows_from_table(obj: Any, name: str) -> tuple[str, list[str], list[tuple[int, list[Any]]]]:
    if type(obj).__module__.startswith("pandas"):
        header = [str(c) for c in obj.columns]
        data = [list(r) for r in obj.itertuples(index=False, name=None)]
    elif hasattr(obj, "to_pylist") and hasattr(obj, "column_names"):
        header = [str(c) for c in obj.column_names]
        data = [[r[c] for c in obj.column_names] for r in obj.to_pylist()]
    else:
        raise SourceError(
            f"cannot read a spend table from a {type(obj).__name__}",
            code="HG201",
            hint="pass a CSV path or a pandas/Arrow table with the columns channel, period, cost",
        )
    return name, header, [(i, row) for i, row in enumerate(data, start=1)]


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _cost(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        x = float(value)
    else:
        text = _text(value)
        if "_" in text:  # float() would read 1_000
            return None
        try:
            x = float(text)
        except ValueError:
            return None
    return x if math.isfinite(x) and x >= 0 else None


def _columns(header: Sequence[str], source: str) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    out: dict[str, int] = {}
    for col in SPEND_COLUMNS:
        if col not in names:
            raise SchemaError(
                f"{source}: the spend table has no column '{col}'{did_you_mean(col, names)}",
                code="HG343",
                hint="a spend table has the columns channel, period (2024-01, 2024-Q1, 2024 or "
                "2024-01-31), cost; its columns: " + (", ".join(header) or "none"),
            )
        out[col] = names.index(col)
    return out


def read_spend(source: Any, *, name: str | None = None) -> Spend:
    """A validated :class:`Spend` from a CSV path or a pandas/Arrow table (a Spend passes through).

    Raises SchemaError HG343 (a column is missing) or DataError HG440-HG444 listing every bad row."""
    if isinstance(source, Spend):
        return source
    if isinstance(source, str | os.PathLike):
        where, header, raw = _rows_from_file(os.fspath(source))
        unit = "line"
    else:
        where, header, raw = _rows_from_table(source, name or "the spend table")
        unit = "row"
    cols = _columns(header, where)
    problems: list[tuple[str, str]] = []
    rows: list[SpendRow] = []
    for line, values in raw:

        def cell(col: str, values: Sequence[Any] = values) -> Any:
            i = cols[col]
            return values[i] if i < len(values) else None

        at = f"{unit} {line}"
        channel, period, cost_raw = _text(cell("channel")), _text(cell("period")), cell("cost")
        span = parse_period(period)
        cost = _cost(cost_raw)
        if not channel:
            problems.append(("HG440", f"{at}, column 'channel': empty"))
        if span is None:
            problems.append(
                (
                    "HG441",
                    f"{at}, column 'period': {quoted(str(period))} is not a year, quarter, month or day",
                )
            )
        if cost is None:
            problems.append(
                ("HG442", f"{at}, column 'cost': {quoted(str(_text(cost_raw)))} is not a number >= 0")
            )
        if channel and span is not None and cost is not None:
            rows.append(SpendRow(channel, period, span[0], span[1], cost, line))
    problems.extend(_overlaps(rows, unit))
    if not raw:
        problems.append(("HG444", "no rows"))
    if problems:
        shown = "\n".join(f"  [{code}] {text}" for code, text in problems[:_MAX_SHOWN])
        more = f"\n  ... and {len(problems) - _MAX_SHOWN} more" if len(problems) > _MAX_SHOWN else ""
        raise DataError(
            f"{where}: {len(problems)} problem(s) in the spend table:\n{shown}{more}",
            code=problems[0][0],
            hint="one row per channel and period: channel (text), period (2024-01, 2024-Q1, 2024 or "
            "2024-01-31), cost (a number >= 0); periods of one channel must not overlap",
        )
    return Spend(tuple(rows), where)


def _overlaps(rows: Iterable[SpendRow], unit: str) -> list[tuple[str, str]]:
    """Two rows of one channel whose periods overlap (a repeated period included)."""
    out: list[tuple[str, str]] = []
    by_channel: dict[str, list[SpendRow]] = {}
    for r in rows:
        by_channel.setdefault(r.channel, []).append(r)
    for channel, group in by_channel.items():
        group.sort(key=lambda r: (r.start, r.line))
        latest = group[0]
        for r in group[1:]:
            if r.start < latest.end:
                out.append(
                    (
                        "HG443",
                        f"{unit} {r.line}, column 'period': {channel} {r.period} overlaps {latest.period} "
                        f"({unit} {latest.line})",
                    )
                )
            if r.end > latest.end:
                latest = r
    return out
