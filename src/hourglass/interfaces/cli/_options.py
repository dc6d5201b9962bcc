"""Options and output helpers written the same way by several commands (flywheel, friction, diagnose,
whatif, retention, clv, attribution, lifecycle): one definition each, so the same flag keeps one help
text (docs/cli.md). A command whose flag means something slightly different keeps its own option."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from hourglass.interfaces.cli._common import FORMATS, emit, mapping_from

__all__ = [
    "emit_result",
    "format_option",
    "goal_option",
    "load",
    "model_option",
    "out_option",
    "print_notes",
    "referral_options",
    "since_until",
]

F = Callable[..., Any]


def model_option(f: F) -> F:
    """--model, the journey model (no metavar: the help names both kinds)."""
    return click.option(
        "--model",
        default="hourglass",
        show_default=True,
        help="a built-in model (hourglass models) or a model file",
    )(f)


def since_until(f: F) -> F:
    """--since and --until, on the events read."""
    f = click.option("--until", metavar="TIME", help="only events before this time (ISO 8601)")(f)
    return click.option("--since", metavar="TIME", help="only events at or after this time (ISO 8601)")(f)


def goal_option(f: F) -> F:
    return click.option(
        "--goal", metavar="STAGE", help="the stage that makes a purchaser [default: the model's sale stage]"
    )(f)


def referral_options(f: F) -> F:
    """--acquisition-col, --referral-event and --referee-col: where customers came from."""
    f = click.option(
        "--referee-col", metavar="COLUMN", help="the column of --referral-event naming the referee"
    )(f)
    f = click.option(
        "--referral-event", metavar="EVENT", help="a referral event carrying the referee (with --referee-col)"
    )(f)
    return click.option(
        "--acquisition-col",
        metavar="COLUMN",
        help="the acquisition channel column [default: the first touch's channel]",
    )(f)


def format_option(csv: str | None = None, *, text: str | None = None) -> Callable[[F], F]:
    """--format table|json|csv; ``csv`` says what its rows are (or ``text`` is the whole help)."""
    text = text or f"table (for people), json (every number, with nulls and reasons) or csv ({csv})"
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help=text
    )


def out_option(f: F) -> F:
    return click.option(
        "--out", type=click.Path(dir_okay=False), help="write to this file instead of standard output"
    )(f)


def load(kw: dict[str, Any]) -> dict[str, Any]:
    """The API's source keywords (columns, engine, table, config) from the command's source options."""
    mapping = mapping_from(kw)
    return {"columns": mapping, "engine": kw["engine"], "table": kw["table"], "config": kw["config_path"]}


def print_notes(meta: Mapping[str, Any]) -> None:
    """The result's notes (a model stage that matches no event of the source, with the closest
    names) on stderr after the output, as funnel does: they were only in the JSON's meta."""
    for note in meta.get("notes", ()):
        click.echo(f"note: {note}", err=True)


def emit_result(fmt: str, result: Any, render: Callable[[Any], Any], out: str | None) -> None:
    """emit() a result with ``to_dict()`` and ``rows()``; its table drawn by ``render(result)``."""
    emit(fmt, data=result.to_dict(), rows=result.rows(), table=lambda: render(result), out=out)
