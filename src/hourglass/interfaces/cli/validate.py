"""``hourglass validate``: every problem of a source at once."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from hourglass.interfaces.cli._common import (
    Formats,
    handle_errors,
    mapping_from,
    source_options,
)
from hourglass.model.errors import HourglassError

if TYPE_CHECKING:
    from hourglass.ingest.validate import Problem, ValidationReport

__all__ = ["validate_cmd"]


def _samples(report: ValidationReport, p: Problem) -> list[dict[str, Any]]:
    """The sample rows of a problem or a note: their file (several files), line or row, value."""
    files = p.files or [""] * len(p.samples)
    return [
        {**({"file": f} if f else {}), "where": report.line_of(r, f), "value": v}
        for (r, v), f in zip(p.samples, files, strict=True)
    ]


@click.command("validate")
@click.argument("source")
@click.option(
    "--format",
    "fmt",
    type=Formats(["table", "json"]),
    default="table",
    show_default=True,
    help="table: the report for people; json: the same for scripts (printed even when the source "
    "cannot be read)",
)
@source_options
@handle_errors
def validate_cmd(source: str, fmt: str, **kw: Any) -> None:
    """Check a source against the event schema; exit 1 if any row is bad.

    Reports the column roles found, every kind of problem with its count and the first rows
    (line numbers for CSV and JSON Lines, row numbers for Parquet and tables), and how many rows
    share an event id (collapsed into one event each).

    \b
    Examples:
      hourglass validate events.csv
      hourglass validate shop.parquet --customer-col user_id --format json
      hourglass validate shop.duckdb:analytics.events --time-unit ms
    """
    mapping = mapping_from(kw)
    from hourglass.interfaces import api  # here, not at import: `hourglass --help` stays fast

    try:
        report = api.validate(
            source, columns=mapping, engine=kw["engine"], table=kw["table"], config=kw["config_path"]
        )
    except HourglassError as e:
        if fmt == "json":  # scripts get JSON on stdout too; the coded error follows on stderr
            error = {"code": e.code, "message": e.message, "hint": e.hint}
            click.echo(json.dumps({"source": source, "ok": False, "error": error}, indent=2))
        raise
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "source": report.source,
                    "rows": report.rows,
                    "roles": report.roles,
                    "ok": report.ok,
                    "duplicates_collapsed": report.duplicates_collapsed,
                    "problems": [
                        {
                            "code": p.code,
                            "column": p.column,
                            "problem": p.what,
                            "count": p.count,
                            "samples": _samples(report, p),
                            "hint": p.hint,
                        }
                        for p in report.problems
                    ],
                    # read, but worth a look (never make ok false): times after today, local times
                    # a clock change skipped; remarks: how the time column was read when not plain
                    "notes": [
                        {
                            "note": p.code,
                            "column": p.column,
                            "what": p.what,
                            "count": p.count,
                            "samples": _samples(report, p),
                            "hint": p.hint,
                        }
                        for p in report.notes
                    ],
                    "remarks": list(report.remarks),
                },
                indent=2,
            )
        )
    else:
        click.echo(report.describe())
    if not report.ok:
        sys.exit(1)
