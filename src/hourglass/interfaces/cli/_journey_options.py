"""Options and helpers shared by the journey commands (``journeys``, ``transitions``, ``paths``,
``journey``, ``followers``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hourglass.interfaces.cli._common import FORMATS
from hourglass.interfaces.cli._options import load, print_notes, since_until
from hourglass.model._text import pct
from hourglass.model.journeys_reasons import not_measured

__all__ = [
    "by_option",
    "common",
    "count",
    "days",
    "goal_option",
    "level_options",
    "load",
    "model_option",
    "print_notes",
    "share",
]

F = Callable[..., Any]
count: Callable[[Any], str] = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731


def days(v: Any) -> str:
    return "-" if v is None else f"{v:.1f} d"


def common(f: F) -> F:
    """SOURCE, --since/--until, --format/--out and the source and column-role options."""
    f = click.option("--out", type=click.Path(dir_okay=False), help="write to this file instead of stdout")(f)
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table (for people), json (every number, with nulls and reasons) or csv (flat rows)",
    )(f)
    return click.argument("source")(since_until(f))


def model_option(f: F) -> F:
    return click.option(
        "--model",
        metavar="NAME|FILE",
        default="hourglass",
        show_default=True,
        help="a built-in model (hourglass models) or a model file",
    )(f)


def goal_option(f: F) -> F:
    return click.option(
        "--goal",
        metavar="STAGE",
        help="the stage that makes a purchaser [default: the sale stage, else the last]",
    )(f)


def level_options(f: F) -> F:
    f = click.option(
        "--level",
        type=click.Choice(["stage", "event"]),
        default="stage",
        show_default=True,
        help="stage: the model's stages (an event may match several); event: the raw event names",
    )(f)
    return click.option(
        "--keep-repeats", is_flag=True, help="do not collapse consecutive repeats of a stage/event"
    )(f)


def by_option(f: F) -> F:
    return click.option(
        "--by",
        metavar="COLUMN",
        help="also break down by this column's value at each customer's first event (e.g. channel; "
        "the 10 most common values, the rest as (other))",
    )(f)


def share(row: dict[str, Any], key: str = "share") -> str:
    """A share, or ``not measured (reason)`` when it is null with a reason."""
    return not_measured(row, key) or pct(row.get(key))
