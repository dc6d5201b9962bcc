"""``hourglass flywheel``: the flywheel's momentum per period (growth accounting, the loop's share)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.console import Group
from rich.text import Text

from hourglass.interfaces.cli._common import handle_errors, rich_table, source_options
from hourglass.interfaces.cli._options import (
    emit_result,
    format_option,
    load,
    out_option,
    referral_options,
    since_until,
)

__all__ = ["flywheel_cmd"]


def _count(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


def _neg(v: Any) -> str:
    return "-" if v is None else ("0" if v == 0 else f"−{v:,}")


def _x(v: Any) -> str:
    return "-" if v is None else f"{v:.2f}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _money(v: Any) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _days(v: Any) -> str:
    return "-" if v is None else f"{v / 86400:.1f} d"


def _table(result: Any) -> Any:
    cols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("period", "period", str),
        ("active", "active", _count),
        ("new", "new", _count),
        ("retained", "retained", _count),
        ("resurrected", "resurrected", _count),
        ("churned", "churned", _neg),
        ("quick_ratio", "quick ratio", _x),
        ("revenue", "revenue", _money),
        ("revenue_quick_ratio", "rev. QR", _x),
        ("net_revenue_retention", "NRR", _pct),
        ("loop_share", "loop share", _pct),
        ("k_factor", "K", _x),
        ("cycle_time_median_s", "cycle time", _days),
    ]
    parts: list[Any] = []
    groups = [result.total] if result.total is not None else list(result.groups)
    for m in groups:
        rows = [dict(r, period=r["period"] + ("" if r["complete"] else " *")) for r in m.periods]
        title = f"flywheel · per {result.period_unit}"
        if result.breakdown:
            title += f" · {result.breakdown} = {m.value}"
        parts.append(rich_table(rows, cols, title=title))
        parts.append(Text(result.headline(m)))
    parts.append(
        Text(
            "* not a complete period of the range; churned: customers lost (shown negative); "
            "loop share = (referred + word of mouth) / new, hourglass's own composite",
            style="dim",
        )
    )
    return Group(*parts)


@click.command("flywheel")
@click.argument("source")
@click.option(
    "--model",
    default="hourglass",
    show_default=True,
    help="a built-in model (hourglass models) or a model file: its purchases and word-of-mouth stage",
)
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    default="month",
    show_default=True,
    help="the calendar period (UTC; weeks start on Monday) of the growth accounting",
)
@click.option(
    "--activity",
    type=click.Choice(["all", "purchases"]),
    default="all",
    show_default=True,
    help="which events make a customer active: all events, or the model's purchase events",
)
@click.option(
    "--activity-events",
    metavar="EVENTS",
    help="comma-separated events (names or globs) that make a customer active, instead of --activity",
)
@click.option(
    "--new",
    "new",
    type=click.Choice(["first-activity", "first-seen"]),
    default="first-activity",
    show_default=True,
    help="a customer is new in the period of his first counted activity, or of his first event of any "
    "kind (first-seen, PostHog's) when he is active in it",
)
@since_until
@click.option(
    "--by",
    metavar="COLUMN",
    help="per value of this column at the customer's first event (top 10 values + other)",
)
@click.option(
    "--spend",
    type=click.Path(dir_okay=False),
    help="CSV of channel, period, cost: new customers of its channels count as paid",
)
@referral_options
@format_option(csv="one row per period")
@out_option
@source_options
@handle_errors
def flywheel_cmd(
    source: str,
    model: str,
    period: str,
    activity: str,
    activity_events: str | None,
    new: str,
    since: str | None,
    until: str | None,
    by: str | None,
    spend: str | None,
    acquisition_col: str | None,
    referral_event: str | None,
    referee_col: str | None,
    fmt: str,
    out: str | None,
    **kw: Any,
) -> None:
    """The flywheel's momentum: growth accounting per period.

    Active customers split into new, retained and resurrected, churned ones and the quick ratio; the
    same on revenue (expansion, contraction, net revenue retention); the loop's share of new customers
    (referred, word of mouth, paid, organic); K-factor, cycle time and the viral curve they imply
    (docs/semantics-flywheel.md).

    \b
    Examples:
      hourglass flywheel events.parquet
      hourglass flywheel shop.duckdb --period week --activity purchases --format json
      hourglass flywheel events.parquet --spend spend.csv --since 2024-01-01 --by channel
      hourglass flywheel events.csv --new first-seen --format csv --out momentum.csv
    """
    src = load(kw)
    from hourglass.interfaces.flywheel_api import flywheel  # `hourglass --help` stays fast

    result = flywheel(
        source,
        model,
        period=period,
        activity=activity,
        activity_events=activity_events,
        new=new,
        since=since,
        until=until,
        by=by,
        spend=spend,
        channel_column=acquisition_col,
        referral_event=referral_event,
        referee_column=referee_col,
        **src,
    )
    emit_result(fmt, result, _table, out)
