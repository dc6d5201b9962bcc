"""``hourglass lifecycle``: the whole hourglass, from awareness through the sale to referrals."""

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
    goal_option,
    load,
    model_option,
    out_option,
    referral_options,
    since_until,
)
from hourglass.model.errors import SpecError
from hourglass.model.lifecycle_result import LifecycleResult
from hourglass.model.results import format_duration, format_percent

__all__ = ["lifecycle_cmd"]


def _count(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


def _ci(row: dict[str, Any]) -> str:
    lo, hi = row.get("conversion_low"), row.get("conversion_high")
    return "-" if lo is None or hi is None else f"{100 * lo:.1f}–{100 * hi:.1f}"


def _entered(v: Any) -> str:
    return "not measured" if v is None else f"{v:,}"


_STAGE_COLS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("entered", "ever entered", _entered),
    ("entered_share", "of all", format_percent),
    ("furthest", "furthest", _count),
    ("current", "current", _count),
    ("conversion", "went further", format_percent),
    ("ci", "95% CI", str),
    ("lost", "lost", _count),
    ("median_time_in_stage_s", "median in stage", lambda s: format_duration(s, " ")),
]


def _render(result: LifecycleResult) -> Any:
    rows = [dict(r, ci=_ci(r)) for r in result.stage_dicts()]
    cols: list[tuple[str, str, Callable[[Any], str]]] = [("stage", "stage", str), *_STAGE_COLS]
    title = (
        f"lifecycle · {result.model} · {result.customers:,} customers · "
        "counts: ever entered the stage (any order, no window)"
    )
    parts: list[Any] = [rich_table(rows, cols, title=title)]
    if result.breakdown is not None:
        parts.append(_groups_table(result))
    parts.extend(Text(line) for line in result.summary_lines())
    channels = result.to_dict().get("channels") or []
    if channels:
        parts.append(_channel_table(channels, [st.stage for st in result.stages]))
        shown = ["conversion_to_sale", "repeat_rate", "referral_rate", "revenue_per_customer"]
        shown += ["cac", "roi"] if any("cost" in c for c in channels) else []
        reasons = dict.fromkeys(str(c[f"{k}_reason"]) for c in channels for k in shown if f"{k}_reason" in c)
        parts.extend(Text(f"-: not measured ({why})") for why in reasons)
    return Group(*parts)


def _groups_table(result: LifecycleResult) -> Any:
    """Per value of --by: customers, how many ever entered each stage, and the share who bought
    (--format json/csv: every stage's whole row per group)."""
    by = str(result.breakdown)
    rows = []
    for g in result.group_dicts():
        row: dict[str, Any] = {"group": "(none)" if g["value"] is None else str(g["value"])}
        row["customers"] = g["customers"]
        for r in g["stages"]:
            row[f"stage:{r['stage']}"] = r["entered"]
        purchasers = g["purchasers"]
        row["bought"] = None if purchasers is None or not g["customers"] else purchasers / g["customers"]
        rows.append(row)
    cols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("group", by, str),
        ("customers", "customers", _count),
    ]
    cols += [(f"stage:{st.stage}", st.stage.replace("_", " "), _entered) for st in result.stages]
    if result.sale is not None:
        cols.append(("bought", "bought", format_percent))
    title = (
        f"by {by}: customers who ever entered each stage, by the value of {by} at their first event "
        "(top 10 and (other))"
    )
    return rich_table(rows, cols, title=title)


def _money(v: Any) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _channel_table(channels: list[dict[str, Any]], stages: list[str]) -> Any:
    """Channel × stage: customers entering each stage, then conversion, repeat, referral, money."""
    rows = []
    for c in channels:
        row = dict(c)
        for s in c.get("stages") or []:
            row[f"stage:{s['stage']}"] = s["entered"]
        rows.append(row)
    cols: list[tuple[str, str, Callable[[Any], str]]] = [("channel", "channel", str)]
    cols += [("customers", "customers", _count)]
    cols += [(f"stage:{s}", s.replace("_", " "), _count) for s in stages]
    cols += [
        ("conversion_to_sale", "to sale", format_percent),
        ("repeat_rate", "repeat rate", format_percent),
        ("referral_rate", "referral rate", format_percent),
        ("revenue_per_customer", "revenue/cust.", _money),
    ]
    if any("cost" in c for c in channels):  # a spend table was given
        cols += [("cac", "CAC", _money), ("roi", "ROI", format_percent)]
    return rich_table(rows, cols, title="channels across the hourglass (acquisition channel)")


def _settings(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(
                f"--set {item!r}: write key=value",
                code="HG120",
                hint="e.g. --set remorse_within=30d --set remorse_events=return,refund",
            )
        out[key.strip()] = value.strip()
    return out


@click.command("lifecycle")
@click.argument("source")
@model_option
@since_until
@click.option(
    "--as-of",
    metavar="TIME",
    help="'now' for days in the current stage [default: --until, else the last event]",
)
@goal_option
@click.option(
    "--by",
    metavar="COLUMN",
    help="the stage table per value of this column at the customer's first event (top 10 values + other)",
)
@click.option("--sale-stage", "old_sale_stage", hidden=True, help="renamed: --goal")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="an after-sale setting, e.g. remorse_within=30d, support_events=ticket, remorse_events=refund "
    "(repeatable)",
)
@click.option(
    "--customers", type=click.Path(dir_okay=False), help="write the stage table per customer (.parquet/.csv)"
)
@click.option("--spend", type=click.Path(dir_okay=False), help="CSV of channel, period, cost: CAC and ROI")
@referral_options
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    default="month",
    show_default=True,
    help="periods of the share of new customers who came by referral",
)
@click.option(
    "--max-depth",
    type=click.IntRange(1, 50),
    default=10,
    show_default=True,
    help="deepest referral generation (1 to 50)",
)
@click.option(
    "--top",
    type=click.IntRange(0, 10_000),
    default=10,
    show_default=True,
    help="how many top referrers to list (0 to 10000)",
)
@click.option("--no-referrals", is_flag=True, help="skip the referral loop")
@click.option("--no-channels", is_flag=True, help="skip the channel table")
@format_option(
    text="table (for people), json (every number, null with a reason when not measured) or csv (stage rows)"
)
@out_option
@source_options
@handle_errors
def lifecycle_cmd(
    source: str,
    model: str,
    since: str | None,
    until: str | None,
    as_of: str | None,
    goal: str | None,
    by: str | None,
    old_sale_stage: str | None,
    settings: tuple[str, ...],
    customers: str | None,
    spend: str | None,
    acquisition_col: str | None,
    referral_event: str | None,
    referee_col: str | None,
    period: str,
    max_depth: int,
    top: int,
    no_referrals: bool,
    no_channels: bool,
    fmt: str,
    out: str | None,
    **kw: Any,
) -> None:
    """Stages entered, where customers are lost, after the sale, referrals and channels.

    Counts are "ever entered the stage": customers with one of its events in the range, in any
    order and with no window (a funnel counts who reached a step in order within its window). A
    metric whose events or columns the source does not have says "not measured" and how to map
    them (json: null with a <key>_reason), never 0.

    \b
    Examples:
      hourglass lifecycle events.parquet --model hourglass
      hourglass lifecycle shop.csv --model my_model.yaml --goal checkout --by channel
      hourglass lifecycle shop.duckdb --customers stages.parquet --format json
      hourglass lifecycle events.csv --spend spend.csv --set remorse_events=refund
    """
    if old_sale_stage is not None:
        raise SpecError(
            "--sale-stage is now --goal",
            code="HG144",
            hint=f"write --goal {old_sale_stage} (the stage that makes a purchaser)",
        )
    src = load(kw)
    from hourglass.interfaces.lifecycle_api import lifecycle

    result = lifecycle(
        source,
        model,
        since=since,
        until=until,
        as_of=as_of,
        goal=goal,
        by=by,
        after_sale=_settings(settings),
        customers=customers,
        referrals=not no_referrals,
        channels=not no_channels,
        spend=spend,
        channel_column=acquisition_col,
        referral_options={
            "referral_event": referral_event,
            "referee_column": referee_col,
            "period": period,
            "max_depth": max_depth,
            "top": top,
        },
        **src,
    )
    emit_result(fmt, result, _render, out)
