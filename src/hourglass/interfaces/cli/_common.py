"""Shared CLI pieces: source and column-role options, error handling, output formats."""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import io
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from hourglass.model.errors import EngineError, HourglassError, SchemaError, SpecError
from hourglass.model.schema import ROLES, ColumnMapping

__all__ = [
    "FORMATS",
    "Formats",
    "check_outputs",
    "csv_text",
    "emit",
    "handle_errors",
    "mapping_from",
    "rich_table",
    "source_options",
    "stderr",
    "stdout_console",
]

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "csv")
stderr = Console(stderr=True, highlight=False)

#: old spellings of option values: (option, old value) -> the new spelling
_RENAMED_VALUES = {("--format", "text"): "table"}


class Formats(click.Choice):  # type: ignore[type-arg]
    """``--format``'s choices; a renamed value (validate's and ingest's old ``text``) stops with HG150
    naming the new one, as soon as it is read (before a missing option is reported), instead of
    click's "not one of" that does not say what to write."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        new = _RENAMED_VALUES.get(("--format", value)) if isinstance(value, str) else None
        if new is not None:
            _report(
                SpecError(
                    f"--format {value} is now --format {new}", code="HG150", hint=f"write --format {new}"
                )
            )
            sys.exit(2)
        return super().convert(value, param, ctx)


class _StdoutGone(BrokenPipeError):
    """Standard output's reader has gone."""


class _Stdout(Console):
    """Standard output's console: a reader that has gone (``| head``) stops the command quietly
    with status 141 (handle_errors), as every other output does (rich's own: status 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise _StdoutGone(errno.EPIPE, "Broken pipe")


def stdout_console(width: int = 130) -> Console:
    """Terminals get their own width; pipes and files whole rows (``width``)."""
    return _Stdout(width=None if sys.stdout.isatty() else width)


def check_outputs(
    source: Any,
    table: str | None,
    outputs: Mapping[str, str | None],
    inputs: Mapping[str, str | None] | None = None,
) -> None:
    """Before any work: every output file (option name -> path) is in an existing directory and is
    none of the source's files, none of the other ``inputs`` (option -> file: --config, --spend,
    --model) and not another output (ingest/outputs.py)."""
    given = {opt: path for opt, path in outputs.items() if path}
    if not given:
        return
    from hourglass.ingest.outputs import check_output, source_files  # `hourglass --help` stays fast

    files = source_files(source, table=table)
    others = {opt: path for opt, path in (inputs or {}).items() if path and os.path.isfile(path)}
    for opt, path in given.items():
        earlier = {o: p for o, p in given.items() if o < opt}  # each pair once
        check_output(path, option=opt, sources=files, inputs={**others, **earlier})


#: the options whose files a command reads besides the source (keyword -> flag)
_INPUTS = {"config_path": "--config", "spend": "--spend", "model": "--model"}


def _guard_outputs(f: F) -> F:
    """Run check_outputs on the command's SOURCE, --table, its output files (--out, lifecycle's
    --customers) and its other input files (--config or ./hourglass.toml, --spend, a --model file)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outputs = {
            f"--{name}": value for name in ("out", "customers") if isinstance(value := kwargs.get(name), str)
        }
        inputs = {flag: value for key, flag in _INPUTS.items() if isinstance(value := kwargs.get(key), str)}
        inputs.setdefault("--config", "hourglass.toml")  # read when present and no --config is given
        check_outputs(kwargs.get("source"), kwargs.get("table"), outputs, inputs)
        return f(*args, **kwargs)

    return handle_errors(wrapper)  # type: ignore[return-value]


def source_options(f: F) -> F:
    """--<role>-col flags, --time-unit, --table, --engine, --config; and, before the command runs,
    the check that its output files (--out, --customers) can be written and are not the source."""
    f = _guard_outputs(f)
    for role in reversed(ROLES):
        flags = [f"--{role.replace('_', '-')}-col"] + (["--time-col"] if role == "timestamp" else [])
        f = click.option(
            *flags, f"{role}_col", metavar="COLUMN", help=f"the source's {role.replace('_', ' ')} column"
        )(f)
    f = click.option(
        "--time-unit",
        type=click.Choice(["s", "ms", "us"]),
        default=None,
        help="unit of integer (epoch) timestamps [default: s]",
    )(f)
    f = click.option(
        "--table",
        metavar="NAME",
        help="a table: of a DuckDB database file (shop.duckdb --table events), or of the engine's "
        "database with SOURCE its schema (schema.table works) [default: events]",
    )(f)
    f = click.option(
        "--engine",
        metavar="ENGINE",
        default=None,
        help="where to run: duckdb (default), a DuckDB file, spark, spark://HOST:PORT, sc://HOST:PORT, "
        "postgres://..., clickhouse://... [default: [engine] of hourglass.toml, else duckdb]",
    )(f)
    f = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="hourglass.toml with [columns], [models], [lifecycle] and [engine] "
        "(default: ./hourglass.toml if present)",
    )(f)
    return f


def mapping_from(kwargs: dict[str, Any]) -> ColumnMapping:
    """The column flags given (``--<role>-col``, ``--time-unit``) as a mapping; an empty column name
    is HG301 (it names no column)."""
    data = {r: kwargs.pop(f"{r}_col", None) for r in ROLES}
    for role, given in data.items():
        if given is not None and not given.strip():
            flag = f"--{role.replace('_', '-')}-col"
            raise SchemaError(
                f"{flag}: an empty column name",
                code="HG301",
                hint="give the column's name, or leave the flag out",
            )
    unit = kwargs.pop("time_unit", None)
    if unit:
        data["time_unit"] = unit
    return ColumnMapping.from_dict({k: v for k, v in data.items() if v is not None})


def _report(e: HourglassError) -> None:
    stderr.print(f"[bold red]error[/] [{e.code}] ", end="")
    stderr.print(e.message, markup=False, soft_wrap=True)
    if e.hint:
        stderr.print(f"  hint: {e.hint}", markup=False, soft_wrap=True)


#: errors of a write that are the disk's, never a bug (a full disk, a quota, a read-only file system)
_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


def _quiet_stdout() -> None:
    """Standard output cannot take more (its reader has gone, ``| head``, or its disk is full): what
    is still buffered goes nowhere, so that Python's own flush at exit prints no "Exception ignored"."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _on_stdout(e: BaseException) -> bool:
    """Whether ``e`` was raised writing standard output: by click.echo, a rich console or the
    flush that ends a command (the last Python frame it passed through)."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    where = code.co_filename.replace(os.sep, "/")
    return where.endswith(("/click/utils.py", "/rich/console.py")) or code.co_name == "wrapper"


def _write_failure(e: OSError) -> HourglassError | None:
    """An OSError that is the disk's fault, as HG425 naming what could not be written: standard
    output, or the file the error names; None for any other error. (Every file hourglass writes
    itself names its path: ingest/outputs.py.)"""
    from hourglass.ingest.outputs import cannot_write

    disk = e.errno in _DISK_ERRORS or (
        e.errno is None and any(os.strerror(n) in str(e) for n in _DISK_ERRORS)
    )
    if not disk:
        return None
    if e.filename is None and _on_stdout(e):
        _quiet_stdout()
        return cannot_write("standard output", e)
    return cannot_write(e.filename or "a file", e)


def handle_errors(f: F) -> F:
    """A user's mistake is a message with its code and a hint, and exit status 2; never a traceback.
    Anything else is a bug: reported as HG699 with exit status 3 (HOURGLASS_DEBUG=1: the traceback);
    Ctrl-C stops quietly with status 130. Standard output's reader gone (``| head``) stops quietly
    with status 141 (as SIGPIPE would); a full disk (``> /dev/full``) is HG425."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hourglass.engine.snapshot import watching  # here, not at import: --help stays fast

        try:
            with watching():  # a source file that changed while it was read: HG209 (engine/snapshot.py)
                result = f(*args, **kwargs)
            sys.stdout.flush()  # here, not at exit: a full disk is an error with a code, not a warning
            return result
        except HourglassError as e:
            _report(e)
            sys.exit(2)
        except KeyboardInterrupt:
            stderr.print("interrupted")
            sys.exit(130)
        except Exception as e:
            if isinstance(e, _StdoutGone) or (isinstance(e, BrokenPipeError) and _on_stdout(e)):
                _quiet_stdout()
                sys.exit(141)
            if isinstance(e, OSError) and (coded := _write_failure(e)) is not None:
                _report(coded)
                sys.exit(2)
            if os.environ.get("HOURGLASS_DEBUG"):
                raise
            first = (str(e).strip().splitlines() or [""])[0]
            _report(
                EngineError(
                    f"internal error: {type(e).__name__}: {first}",
                    code="HG699",
                    hint="this is a bug in hourglass, not in your data: please report it with the command "
                    "you ran (HOURGLASS_DEBUG=1 shows the traceback)",
                )
            )
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """``rows`` as CSV text (a header of the first row's keys); empty for no rows."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def rich_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str, Callable[[Any], str]]],
    title: str | None = None,
) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, (_, label, _fmt) in enumerate(columns):
        table.add_column(label, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(fmt(row.get(key)) for key, _, fmt in columns))
    return table


def emit(
    fmt: str,
    *,
    data: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    table: Callable[[], Any],
    out: str | None = None,
) -> None:
    """Write json (``data``), csv (``rows``) or a rich table to stdout or ``out``; not when a file of
    the source changed while it was read (HG209: the result would include rows nobody validated)."""
    from hourglass.engine.snapshot import check_unchanged

    check_unchanged()
    if fmt == "json":
        text = json.dumps(data, indent=2, default=str) + "\n"
    elif fmt == "csv":
        text = csv_text(rows)
    elif out:
        buf = io.StringIO()  # rendered first: a failing table leaves no half-written file
        Console(file=buf, width=150).print(table())  # files get whole rows
        text = buf.getvalue()
    else:
        stdout_console(150).print(table())  # pipes get whole rows
        return
    if out:
        from hourglass.ingest.outputs import write_text_atomically

        write_text_atomically(out, text, option="--out")  # whole or not at all; HG425 when it fails
    else:
        click.echo(text, nl=False)
