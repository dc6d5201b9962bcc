"""``hourglass compact``: one compaction pass of a collector's data directory (docs/collector.md,
"Compaction")."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from hourglass.interfaces.cli._common import Formats, handle_errors
from hourglass.model.errors import SourceError

__all__ = ["compact_cmd"]


@click.command("compact")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="the collector's data directory (hourglass collect --data DIR)",
)
@click.option(
    "--id",
    "collector_id",
    default=None,
    metavar="NAME",
    help="compact only this collector's log (default: every collector's log in DIR)",
)
@click.option(
    "--dedupe-window",
    "dedupe_window",
    default="7d",
    show_default=True,
    metavar="DURATION",
    help="an event id (of one customer) received again within this time is a duplicate",
)
@click.option(
    "--format",
    "fmt",
    type=Formats(["table", "json"]),
    default="table",
    show_default=True,
    help="table: one line for people; json: the pass's figures for scripts",
)
@handle_errors
def compact_cmd(data: Path, collector_id: str | None, dedupe_window: str, fmt: str) -> None:
    """Compact a collector's closed log segments into its Parquet dataset and refresh its stores.

    Each collector's log segments become Parquet files
    DIR/events/PROJECT/dt=YYYY-MM-DD/ID-SEGMENT.parquet (the day the events were received), without
    the events already there (the same customer and event id received within --dedupe-window); then
    each project's store DIR/stores/PROJECT.duckdb is rebuilt, which 'hourglass funnel DIR' (or
    DIR:PROJECT) reads. A running collector does this by itself every --compact-every; run it by
    hand to see the events at once (running collectors are asked to close the segment they write
    first; up to 10 s) or after a collector stopped. Safe to run at any time, and again after it
    was interrupted.

    \b
    Examples:
      hourglass compact --data collector/
      hourglass compact --data collector/ --id web-1 --format json
      hourglass funnel collector/ --steps page,signup,purchase
    """
    from hourglass.interfaces.server.compact import close_open_segments, compact
    from hourglass.model.spec import parse_window

    window = timedelta(microseconds=parse_window(dedupe_window, what="--dedupe-window"))
    if not (data / "collector.json").is_file():
        raise SourceError(
            f"{data} is not a collector's data directory (it has no collector.json)",
            code="HG455",
            hint="give the DIR of 'hourglass collect --data DIR'",
        )
    if collector_id is not None and not (data / "wal" / collector_id).is_dir():
        known = sorted(p.name for p in (data / "wal").glob("*") if p.is_dir())
        raise SourceError(
            f"{data}: no log of a collector '{collector_id}'",
            code="HG455",
            hint="its collectors: " + (", ".join(known) or "none yet") + " (or drop --id: every collector)",
        )
    silent = close_open_segments(data, collector_id)  # a running collector's newest events too
    report = compact(data, collector_id=collector_id, dedupe_window=window)
    if fmt == "json":
        figures = {k: v for k, v in vars(report).items() if k != "seconds"} | {"not_closed": silent}
        click.echo(json.dumps({**figures, "seconds": round(report.seconds, 3)}, indent=2))
        return
    line = (
        f"{data}: {_n(report.segments, 'segment')}, {_n(report.rows_read, 'event')} read, "
        f"{report.rows_written:,} written, {_n(report.duplicates, 'duplicate')} dropped"
    )
    if report.stores:
        line += "; stores: " + ", ".join(f"{p} ({n:,} events)" for p, n in sorted(report.stores.items()))
    click.echo(line + f" in {report.seconds:.1f} s")
    for cid in silent:
        click.echo(
            f"note: collector {cid} is running and did not close its segment in time: its newest events "
            "are compacted at its next pass",
            err=True,
        )
    for path in report.damaged:
        click.echo(f"warning [HG450] {path}: a damaged record skipped; kept as {path}.damaged", err=True)
    if report.rejected:
        click.echo(f"warning [HG450] {report.rejected} rows without a required field kept aside", err=True)
    for project, error in sorted(report.store_errors.items()):
        click.echo(f"error: the store of {project} was not refreshed: {error}", err=True)
    if report.store_errors:
        raise SystemExit(2)


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
