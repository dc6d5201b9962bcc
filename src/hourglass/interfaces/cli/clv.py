"""``hourglass clv``: customer lifetime value from the purchases (BG/NBD or Pareto/NBD, Gamma-Gamma).

The model flag is ``--fit`` (not ``--model``): ``--model`` is a journey model everywhere else (here
too: its sale stage defines the purchases); and ``--period day|week`` (not ``--time-unit``, which is
the unit of epoch timestamps for every command reading a source)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hourglass.interfaces.cli._common import handle_errors, rich_table, source_options, stdout_console
from hourglass.interfaces.cli._options import emit_result, format_option, load
from hourglass.model.clv import FITS, ClvResult

__all__ = ["clv_cmd"]


def _num(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _tables(result: ClvResult) -> Any:
    from rich.console import Group

    fmt3: Callable[[Any], str] = _num
    d = result.to_dict()
    params = [{"parameter": r["parameter"], **r} for r in result.rows()]
    title = (
        f"clv · {result.spec.fit} · calibration {d['calibration']['first_day']} to "
        f"{d['calibration']['calibration_end']} · {d['totals']['customers']:,} customers, period "
        f"{result.spec.period}"
    )
    parts: list[Any] = [
        title,
        rich_table(
            params,
            [
                ("model", "model", str),
                ("parameter", "parameter", str),
                ("value", "value", fmt3),
                ("std_error", "std. error", fmt3),
            ],
            title="parameters (maximum likelihood)",
        ),
    ]
    t = d["totals"]
    clv_text = (
        f"mean CLV {t['mean_clv']:,.2f} over {result.spec.horizon_days} days at "
        f"{result.spec.discount_rate:.0%}/year"
        if t["mean_clv"] is not None
        else f"CLV not measured ({t['mean_clv_reason']})"
    )
    if result.retention is not None:
        surv = result.retention["survival"]
        shown = ", ".join(f"{v:.3f}" for v in surv[:9])
        parts.append(
            f"{t['lost']:,} lost, {t['alive']:,} alive · projected share alive after 0, 1, 2, ... "
            f"{result.spec.period}s: {shown}{', ...' if len(surv) > 9 else ''}"
        )
        return Group(*parts)
    parts.append(
        f"mean P(alive) {t['mean_p_alive']:.3f} · expected purchases over the horizon "
        f"{t['expected_purchases']:,.1f} · {clv_text}"
    )
    if result.holdout is not None:
        parts.append(
            rich_table(
                result.holdout,
                [
                    ("repeat_purchases", "calibration repeats", str),
                    ("customers", "customers", str),
                    ("actual", "actual", _num),
                    ("expected", "expected", _num),
                ],
                title=f"hold-out: purchases per customer, {d['calibration']['holdout_periods']:g} "
                f"{result.spec.period}s",
            )
        )
    else:
        parts.append(f"hold-out not measured ({result.holdout_reason})")
    if result.channels is not None:
        parts.append(
            rich_table(
                result.channels,
                [
                    ("channel", "channel", str),
                    ("customers", "customers", str),
                    ("mean_clv", "mean CLV", lambda v: _num(v, ",.2f")),
                    ("cac", "CAC", lambda v: _num(v, ",.2f")),
                    ("clv_to_cac", "CLV/CAC", lambda v: _num(v, ".2f")),
                ],
                title="CLV by acquisition channel",
            )
        )
    else:
        parts.append(f"CLV by channel not measured ({result.channels_reason})")
    return Group(*parts)


@click.command("clv")
@click.argument("source")
@click.option(
    "--fit",
    type=click.Choice(FITS),
    default="bgnbd",
    show_default=True,
    help="bgnbd (BG/NBD) or paretonbd (Pareto/NBD) for purchases, with Gamma-Gamma for spend; sbg: "
    "contractual retention (shifted-beta-geometric; a purchase in a period is a renewal)",
)
@click.option(
    "--model",
    metavar="NAME|FILE",
    default="hourglass",
    show_default=True,
    help="a model whose sale stage makes purchases",
)
@click.option(
    "--purchase-events", metavar="LIST", help="comma-separated purchase events (instead of --model)"
)
@click.option(
    "--calibration-end",
    metavar="TIME",
    help="last day of the calibration period; the days after it are the hold-out check "
    "[default: the end of the data]",
)
@click.option(
    "--period",
    type=click.Choice(["day", "week"]),
    default="week",
    show_default=True,
    help="the time unit of recency, T and the fitted rates",
)
@click.option(
    "--horizon",
    metavar="DURATION",
    default="52w",
    show_default=True,
    help="how far CLV looks ahead: 52w, 365d",
)
@click.option(
    "--discount-rate",
    metavar="RATE",
    type=float,
    default=0.1,
    show_default=True,
    help="yearly discount rate of future spend",
)
@click.option(
    "--customers",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="write the per-customer predictions (.csv, .parquet)",
)
@click.option(
    "--spend",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="spend table (CSV of channel, period, cost) for CAC",
)
@format_option(csv="one row per parameter")
@click.option(
    "--out", metavar="FILE", type=click.Path(dir_okay=False), help="write to this file instead of stdout"
)
@source_options
@handle_errors
def clv_cmd(
    source: str,
    fit: str,
    model: str,
    purchase_events: str | None,
    calibration_end: str | None,
    period: str,
    horizon: str,
    discount_rate: float,
    customers: str | None,
    spend: str | None,
    fmt: str,
    out: str | None,
    **kw: Any,
) -> None:
    """Customer lifetime value: who is still a customer, how much they will buy, and what they are worth.

    \b
    Examples:
      hourglass clv cdnow.csv --purchase-events purchase --calibration-end 1997-09-30
      hourglass clv shop.duckdb --fit paretonbd --horizon 26w --customers clv.csv
      hourglass clv events.parquet --spend spend.csv --format json
    """
    src = load(kw)
    from hourglass.interfaces.clv_api import clv  # here, not at import: `hourglass --help` stays fast

    events = [e.strip() for e in purchase_events.split(",") if e.strip()] if purchase_events else None
    result = clv(
        source,
        fit,
        model=model,
        purchase_events=events,
        period=period,
        calibration_end=calibration_end,
        horizon=horizon,
        discount_rate=discount_rate,
        spend=spend,
        customers=customers,
        **src,
    )
    if fmt == "table" and not out:
        stdout_console().print(_tables(result))
    else:
        emit_result(fmt, result, _tables, out)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
