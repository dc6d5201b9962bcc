"""``hourglass friction`` (stalls and friction events) and ``hourglass diagnose`` (the weak stages);
``hourglass whatif`` is cli/whatif.py's (re-exported here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.console import Group

from hourglass.interfaces.cli._common import handle_errors, rich_table, source_options
from hourglass.interfaces.cli._options import (
    emit_result,
    format_option,
    goal_option,
    load,
    model_option,
    out_option,
    print_notes,
    since_until,
)
from hourglass.interfaces.cli.whatif import whatif_cmd
from hourglass.model.diagnose import DiagnoseResult
from hourglass.model.friction import FrictionResult
from hourglass.model.results import format_duration, format_percent

__all__ = ["diagnose_cmd", "friction_cmd", "whatif_cmd"]


def _count(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


def _na(row: dict[str, Any], key: str, fmt: Callable[[Any], str]) -> str:
    v = row.get(key)
    if v is None and row.get(f"{key}_reason"):
        return "not measured"
    return fmt(v)


def _ci(row: dict[str, Any], key: str, scale: float = 100.0, sign: bool = False) -> str:
    lo, hi = row.get(f"{key}_low"), row.get(f"{key}_high")
    if lo is None or hi is None:
        return "-"
    f = "+.1f" if sign else ".1f"
    return f"{scale * lo:{f}}–{scale * hi:{f}}"


def _points(v: Any) -> str:
    return "-" if v is None else f"{100 * v:+.1f} pt"


def _money(v: Any) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _p(v: Any) -> str:
    return "-" if v is None else ("<0.001" if v < 0.001 else f"{v:.3f}")


def _friction_table(result: FrictionResult) -> Any:
    stalls = []
    for r in result.stalls:
        row = dict(r)
        for key in ("p50_s", "p90_s", "threshold_s"):
            row[key] = _na(r, key, lambda v: format_duration(v, " ") if v is not None else "-")
        row["over"] = _na(r, "over_share", format_percent)
        row["stalled"] = _na(r, "stalled_now", _count)
        row["share"] = _na(r, "stalled_share", format_percent)
        stalls.append(row)
    cols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("stage", "stage", str),
        ("left", "left it", _count),
        ("p50_s", "p50 in stage", str),
        ("p90_s", "p90", str),
        ("threshold_s", "stall after", str),
        ("over", "left later", str),
        ("current", "in it now", _count),
        ("stalled", "stalled now", str),
        ("share", "of those in it", str),
    ]
    as_of = result.meta.get("as_of", "")
    first = rich_table(stalls, cols, title=f"stalls · {result.model} · as of {as_of[:16]}")
    rows = []
    for r in result.frictions:
        row = dict(r)
        row["with"] = _na(r, "conversion_exposed", format_percent) if r.get("stage") else "not measured"
        row["without"] = _na(r, "conversion_unexposed", format_percent) if r.get("stage") else "-"
        row["diff"] = _na(r, "difference", _points)
        row["ci"] = _ci(r, "difference", sign=True)
        row["lost"] = _na(r, "customers_lost", lambda v: "-" if v is None else f"{v:,.1f}")
        row["revenue"] = _na(r, "revenue_lost", _money)
        row["p"] = _na(r, "p_value", _p)
        row["stage"] = r.get("stage") or "-"
        row["why"] = r.get("difference_reason") or ""
        rows.append(row)
    fcols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("rank", "#", str),
        ("friction", "friction", str),
        ("stage", "while in", str),
        ("exposed", "with it", _count),
        ("with", "went on", str),
        ("without", "without it", str),
        ("diff", "difference (MH)", str),
        ("ci", "95% CI", str),
        ("p", "p", str),
        ("lost", "customers lost", str),
        ("revenue", "revenue lost", str),
    ]
    strata = " x ".join(result.meta.get("strata", [])) or "none"
    second = rich_table(rows, fcols, title=f"friction events · strata: {strata} · ranked by revenue lost")
    notes = [f"{k}: {v}" for k, v in result.reasons.items()]
    notes += [f"{r['friction']}: {r['why']}" for r in rows if r["why"] and r["stage"] == "-"]
    return Group(first, second, *notes)


@click.command("friction")
@click.argument("source")
@model_option
@click.option(
    "--friction",
    "frictions",
    metavar="LIST",
    help="comma list of friction events (delivery_late,complaint,...): conversion with vs without each",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="STAGE=DURATION",
    help="stalled means longer in STAGE than this (trial=3d; repeatable or comma list) "
    "[default: the stage's p90]",
)
@click.option(
    "--within",
    metavar="DURATION",
    help="a step out of a stage counts only within this time of entering it; only customers observed "
    "that long count (60d)",
)
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month", "quarter"]),
    default="month",
    show_default=True,
    help="the cohort period (a stratum: the period the customer entered the stage)",
)
@click.option(
    "--strata",
    default="channel,cohort",
    show_default=True,
    metavar="LIST",
    help="what the friction table is stratified by (Mantel-Haenszel): channel, cohort, both or none",
)
@since_until
@click.option(
    "--as-of", metavar="TIME", help="'now', for customers stalled now [default: --until, else the last event]"
)
@click.option(
    "--customers", type=click.Path(dir_okay=False), help="write the customers stalled now (.parquet/.csv)"
)
@format_option(csv="the friction table")
@out_option
@source_options
@handle_errors
def friction_cmd(
    source: str,
    model: str,
    frictions: str | None,
    targets: tuple[str, ...],
    within: str | None,
    period: str,
    strata: str,
    since: str | None,
    until: str | None,
    as_of: str | None,
    customers: str | None,
    fmt: str,
    out: str | None,
    **kw: Any,
) -> None:
    """Where customers stall, and what friction events cost.

    Stalls: per stage, time in it (p50, p90), who left later than the p90 (or --target) and who is in
    it now for longer. Friction: per friction event and stage, the share who went on with vs without
    the event while in the stage, the Mantel-Haenszel difference over channel x cohort with its 95%
    interval, and the customers and revenue lost (docs/semantics-friction.md).

    \b
    Examples:
      hourglass friction shop.duckdb --friction delivery_late,complaint,return
      hourglass friction events.parquet --target trial=3d --target sale=14d --customers stalled.csv
      hourglass friction events.parquet --model buy.yaml --friction delivery_late --within 60d --format json
    """
    src = load(kw)
    from hourglass.interfaces.friction_api import friction  # not at import: `hourglass --help` stays fast

    result = friction(
        source,
        model,
        frictions=frictions,
        targets=list(targets),
        within=within,
        period=period,
        strata=strata,
        since=since,
        until=until,
        as_of=as_of,
        customers=customers,
        **src,
    )
    emit_result(fmt, result, _friction_table, out)
    print_notes(result.meta)


def _diagnose_table(result: DiagnoseResult) -> Any:
    rows = []
    for r in result.stages:
        row = dict(r)
        row["conv"] = _na(r, "conversion", format_percent)
        row["ci"] = _ci(r, "conversion")
        row["lost_"] = _na(r, "lost", _count)
        row["rev"] = _na(r, "revenue_lost", _money)
        row["remedy_"] = r.get("remedy") or "-"
        rows.append(row)
    cols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("stage", "stage", str),
        ("entered", "entered", _count),
        ("conv", "went on", str),
        ("ci", "95% CI", str),
        ("lost_", "lost", str),
        ("rank_customers", "rank", lambda v: "-" if v is None else str(v)),
        ("rev", "revenue lost", str),
        ("remedy_", "remedy (seeds)", str),
    ]
    parts: list[Any] = [rich_table(rows, cols, title=f"diagnose · {result.model}")]
    if result.comparisons:
        crow = []
        for c in result.comparisons:
            row = dict(c)
            row["now"] = _na(c, "conversion", format_percent)
            row["then"] = format_percent(c.get("baseline_conversion"))
            row["diff"] = _points(c.get("difference"))
            row["p"] = _na(c, "p_value", _p)
            row["q"] = _na(c, "q_value", _p)
            row["flag"] = "yes" if c.get("significant") else ""
            crow.append(row)
        ccols: list[tuple[str, str, Callable[[Any], str]]] = [
            ("stage", "stage", str),
            ("group", "group", str),
            ("now", "went on", str),
            ("then", "baseline" if result.compare == "baseline" else "the others", str),
            ("diff", "difference", str),
            ("p", "p", str),
            ("q", "q (BH)", str),
            ("flag", "flagged", str),
        ]
        parts.append(rich_table(crow, ccols, title=f"compared: {result.compare}"))
    parts += ["", *[f"- {f}" for f in result.findings]]
    parts += [f"{k}: {v}" for k, v in result.reasons.items() if k != "findings"]
    return Group(*parts)


@click.command("diagnose")
@click.argument("source")
@model_option
@click.option("--since", metavar="TIME", help="the period: events at or after this time (ISO 8601)")
@click.option("--until", metavar="TIME", help="the period: events before this time (ISO 8601)")
@click.option(
    "--baseline",
    metavar="SINCE..UNTIL",
    help="compare the period with this one (2024-01-01..2024-03-01; either side may be empty)",
)
@click.option(
    "--by",
    metavar="COLUMN",
    help="compare each value of this column (at the customer's first event) with the others",
)
@goal_option
@format_option(csv="the comparisons")
@out_option
@source_options
@handle_errors
def diagnose_cmd(
    source: str,
    model: str,
    since: str | None,
    until: str | None,
    baseline: str | None,
    by: str | None,
    goal: str | None,
    fmt: str,
    out: str | None,
    **kw: Any,
) -> None:
    """The weak stages: where customers and revenue are lost, what changed, and the remedy.

    Stages ranked by customers lost (entered, went no further) and the revenue they would have brought;
    with --baseline or --by, every stage's share who went on compared (two-proportion tests,
    Benjamini-Hochberg); each finding one sentence with the seeds' remedy (docs/semantics-friction.md).

    \b
    Examples:
      hourglass diagnose shop.duckdb --since 2024-04-01 --baseline 2024-01-01..2024-04-01
      hourglass diagnose events.parquet --by channel --format json
      hourglass diagnose events.parquet --model solis6 --since 2024-03-01 --until 2024-04-01
    """
    src = load(kw)
    from hourglass.interfaces.friction_api import diagnose  # not at import: `hourglass --help` stays fast

    result = diagnose(
        source,
        model,
        since=since,
        until=until,
        baseline=baseline,
        by=by,
        goal=goal,
        **src,
    )
    emit_result(fmt, result, _diagnose_table, out)
    print_notes(result.meta)
