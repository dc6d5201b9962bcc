"""``hourglass whatif``: what a change is worth, forecast with and without it
(docs/semantics-friction.md, "What-if")."""

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
)
from hourglass.model.results import format_percent
from hourglass.model.whatif import WhatIfResult

__all__ = ["whatif_cmd"]


def _whatif_table(result: WhatIfResult) -> Any:
    metrics = list(result.baseline)
    rows = []
    for i, p in enumerate(result.periods):
        row: dict[str, Any] = {"period": p}
        for m in metrics:
            b, s = result.baseline[m], result.scenario[m]
            row[m] = f"{b['median'][i]:,.0f} → {s['median'][i]:,.0f}"
            row[f"{m}_band"] = f"{s['low'][i]:,.0f}–{s['high'][i]:,.0f}"
        rows.append(row)
    cols: list[tuple[str, str, Callable[[Any], str]]] = [("period", "period", str)]
    for m in metrics:
        cols += [(m, f"{m.replace('_', ' ')}: baseline → scenario", str), (f"{m}_band", "90% band", str)]
    changes = "; ".join(result.changes) or "no change"
    parts: list[Any] = [rich_table(rows, cols, title=f"what-if · {result.model} · {changes}")]
    tot = []
    for m in metrics:
        t = result.totals[m]
        tot.append(
            {
                "metric": m,
                "baseline": f"{t['baseline']:,.0f}",
                "scenario": f"{t['scenario']:,.0f}",
                "difference": f"{t['difference']:+,.0f}",
                "band": f"{t['difference_low']:+,.0f} to {t['difference_high']:+,.0f}",
            }
        )
    tcols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("metric", "over the horizon", str),
        ("baseline", "baseline", str),
        ("scenario", "scenario", str),
        ("difference", "difference", str),
        ("band", "90% band", str),
    ]
    parts.append(rich_table(tot, tcols, title="totals (mean of the runs; the same draws for both)"))
    bt = result.backtest
    if bt:
        brows = []
        for m, v in bt["metrics"].items():
            if m.endswith("_reason") or v is None:
                continue
            brows.append(
                {
                    "metric": m,
                    "observed": f"{sum(v['observed']):,.0f}",
                    "forecast": f"{sum(v['forecast']):,.0f}",
                    "mape": format_percent(v["mape"]),
                    "total": "-" if v["total_error"] is None else f"{100 * v['total_error']:+.1f}%",
                }
            )
        bcols: list[tuple[str, str, Callable[[Any], str]]] = [
            ("metric", "metric", str),
            ("observed", "observed", str),
            ("forecast", "forecast", str),
            ("mape", "mean abs % error", str),
            ("total", "error of the total", str),
        ]
        title = f"back-test · fit until {bt['fit_until'][:10]} · forecast {', '.join(bt['periods'])}"
        parts.append(rich_table(brows, bcols, title=title))
    if result.ranking:
        rrows = [dict(r) for r in result.ranking]
        key = "revenue" if "revenue" in result.baseline else "purchasers"
        rcols: list[tuple[str, str, Callable[[Any], str]]] = [
            ("rank", "#", str),
            ("change", "change", str),
            ("difference", f"{key} difference", lambda v: "not measured" if v is None else f"{v:+,.0f}"),
            ("difference_low", "5%", lambda v: "-" if v is None else f"{v:+,.0f}"),
            ("difference_high", "95%", lambda v: "-" if v is None else f"{v:+,.0f}"),
        ]
        parts.append(rich_table(rrows, rcols, title="ranked: every change of the same size"))
    parts += [f"note: {n}" for n in result.notes]
    parts += [f"{k}: {v}" for k, v in result.reasons.items()]
    return Group(*parts)


@click.command("whatif")
@click.argument("source")
@model_option
@click.option(
    "--change",
    "changes",
    multiple=True,
    metavar="CHANGE",
    help='a change (repeatable): "trial->sale +10%", "trial->* +10%", "friction late_delivery -50%", '
    '"spend ads +20%"',
)
@click.option(
    "--horizon",
    default="12",
    show_default=True,
    metavar="N",
    help="periods ahead: 12, or 12m (months) / 8w (weeks) in the unit of --period",
)
@click.option(
    "--period",
    type=click.Choice(["month", "week"]),
    default="month",
    show_default=True,
    help="the period of the model and the forecast",
)
@click.option("--runs", type=int, default=200, show_default=True, help="simulation runs (for the 90% bands)")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="the random seed of the simulation",
)
@click.option(
    "--rank", is_flag=True, help="try every stage's steps and every friction at the same size, ranked"
)
@click.option(
    "--rank-size",
    type=float,
    default=10.0,
    show_default=True,
    help="the size of the --rank changes, in percent",
)
@click.option(
    "--friction",
    "frictions",
    metavar="LIST",
    help="friction events for --rank (comma list; also from --change)",
)
@click.option("--since", metavar="TIME", help="fit on events at or after this time (ISO 8601)")
@click.option("--until", metavar="TIME", help="fit on events before this time (ISO 8601)")
@goal_option
@format_option(csv="per period and metric")
@out_option
@source_options
@handle_errors
def whatif_cmd(
    source: str,
    model: str,
    changes: tuple[str, ...],
    horizon: str,
    period: str,
    runs: int,
    seed: int,
    rank: bool,
    rank_size: float,
    frictions: str | None,
    since: str | None,
    until: str | None,
    goal: str | None,
    fmt: str,
    out: str | None,
    **kw: Any,
) -> None:
    """What a change is worth: a stage-transition model of the log, forecast with and without it.

    Fits the steps between stages per channel (hazards per period, with the customers still in a
    stage), acquisition per period, revenue per purchaser by age and referrals per purchaser;
    back-tests it (fit on the first two thirds, forecast the rest); then simulates the horizon with
    and without the changes (seeded, 90% bands) (docs/semantics-friction.md, "What-if").

    \b
    Examples:
      hourglass whatif shop.duckdb --change "trial->sale +10%" --horizon 12m
      hourglass whatif events.parquet --change "friction delivery_late -50%" --change "spend ads +20%"
      hourglass whatif events.parquet --rank --friction delivery_late,complaint --format json
    """
    src = load(kw)
    from hourglass.interfaces.friction_api import whatif  # not at import: `hourglass --help` stays fast

    result = whatif(
        source,
        model,
        changes=list(changes),
        horizon=horizon,
        period=period,
        runs=runs,
        seed=seed,
        rank=rank,
        rank_size=rank_size,
        frictions=frictions,
        since=since,
        until=until,
        goal=goal,
        **src,
    )
    emit_result(fmt, result, _whatif_table, out)
    print_notes(result.meta)
