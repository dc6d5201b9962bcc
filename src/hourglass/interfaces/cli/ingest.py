"""``hourglass ingest``: validate a source once and keep it as a fast store."""

from __future__ import annotations

import json
from typing import Any

import click

from hourglass.interfaces.cli._common import (
    Formats,
    handle_errors,
    mapping_from,
    source_options,
    stderr,
)
from hourglass.model.errors import UnsupportedError

__all__ = ["ingest_cmd"]


@click.command("ingest")
@click.argument("source")
@click.option(
    "--into",
    "into",
    required=True,
    metavar="STORE.duckdb",
    help="the store to write (a DuckDB file)",
)
@click.option("--force", is_flag=True, help="replace the store if it exists")
@click.option(
    "--format",
    "fmt",
    type=Formats(["table", "json"]),
    default="table",
    show_default=True,
    help="table: one line for people; json: the store's figures for scripts",
)
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@source_options
@handle_errors
def ingest_cmd(source: str, into: str, force: bool, fmt: str, quiet: bool, **kw: Any) -> None:
    """Validate SOURCE and write its events to a store that every analysis reads fast.

    The store is a DuckDB file holding the canonical events, each event name's rows together and
    clustered by customer and time (a funnel reads only its steps' rows), with integer customer keys
    (a table maps them back to the ids), event names as an ENUM (as text past 10,000 names) and
    integer microsecond timestamps. Give it as the source of any command (store.duckdb, or
    store.duckdb:events); results show the original customer ids and event names. Bad rows stop the
    ingest as they stop an analysis ('hourglass validate SOURCE' lists them); nothing is written.
    A store's columns are fixed here: read it without column flags.

    SOURCE may be a PostgreSQL table: postgres://USER@HOST:PORT/DB/TABLE, or TABLE (SCHEMA.TABLE)
    with --engine postgres://USER@HOST:PORT/DB. Its rows are streamed out of the server and
    validated like a file's; the store is the same as of the same events in a Parquet file.

    \b
    Examples:
      hourglass ingest events.csv --into store.duckdb
      hourglass ingest 'logs/*.parquet' --into store.duckdb --customer-col user_id --force
      hourglass ingest postgres://me@db:5432/shop/events --into store.duckdb
      hourglass ingest analytics.events --engine postgres://me@db:5432/shop --into store.duckdb
      hourglass funnel store.duckdb --steps visit,signup,purchase
    """
    from hourglass.interfaces.store_api import ingest, server_table  # here: `hourglass --help` stays fast

    if kw["engine"] not in (None, "duckdb") and server_table(source, kw["engine"]) is None:
        raise UnsupportedError(
            "ingest writes a DuckDB store and runs on the duckdb engine; of the other engines it reads "
            "a PostgreSQL table",
            code="HG521",
            hint="drop --engine; Spark can read the source itself (or the store exported to Parquet); a "
            "PostgreSQL table: hourglass ingest TABLE --engine postgres://USER@HOST:PORT/DB --into STORE",
        )
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    mapping = mapping_from(kw)
    show = not quiet and fmt == "table" and stderr.is_terminal
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=stderr,
        disable=not show,
        transient=True,
    ) as bar:
        task = bar.add_task("validating", total=1.0)

        def progress(phase: str, done: float | None) -> None:
            bar.update(task, description=phase, completed=done or 0.0)

        info = ingest(
            source,
            into,
            columns=mapping,
            config=kw["config_path"],
            table=kw["table"],
            engine=kw["engine"],
            overwrite=force,
            progress=progress,
        )
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "store": info.path,
                    "rows": info.rows,
                    "customers": info.customers,
                    "event_names": info.event_names,
                    "duplicates_collapsed": info.duplicates_collapsed,
                    "seconds": round(info.seconds, 3),
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"{info.path}: {info.rows:,} events of {info.customers:,} customers "
        f"({info.event_names} event names) in {info.seconds:.1f} s"
        + (
            f"; {info.duplicates_collapsed:,} duplicate event ids collapsed"
            if info.duplicates_collapsed
            else ""
        )
    )
