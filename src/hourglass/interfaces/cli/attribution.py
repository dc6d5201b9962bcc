"""``hourglass attribution``: which channels bring the conversions, under every model side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hourglass.interfaces.cli._common import handle_errors, rich_table, source_options
from hourglass.interfaces.cli._options import emit_result, format_option, load, print_notes, since_until
from hourglass.model.attribution import MODELS
from hourglass.model.attribution_result import LABELS, AttributionResult

__all__ = ["attribution_cmd"]


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _credit(v: Any) -> str:
    """A credited share (two decimals) or a whole count of customers (no decimals)."""
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else _num(v)


def _money(v: Any) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _tables(result: AttributionResult) -> Any:
    from rich.console import Group

    d = result.to_dict()
    rows = result.rows()
    cols: list[tuple[str, str, Callable[[Any], str]]] = [("channel", "channel", str)]
    cols += [(m, LABELS[m], _num) for m in MODELS]
    title = (
        f"attribution · {d['conversion']} · {d['conversions_attributed']:,} of {d['conversions']:,} "
        f"conversions with a touch · {d['non_converting_journeys']:,} non-converting journeys · "
        f"lookback {d['spec']['lookback']} · Markov order {d['markov']['order']}"
    )
    parts: list[Any] = [rich_table(rows, cols, title=title)]
    if d["revenue"] is not None:
        rcols: list[tuple[str, str, Callable[[Any], str]]] = [("channel", "channel", str)]
        rcols += [(f"revenue_{m}", LABELS[m], _money) for m in MODELS]
        parts.append(rich_table(rows, rcols, title=f"revenue credited (of {d['revenue_attributed']:,.2f})"))
    else:
        parts.append(f"revenue: not measured ({d['revenue_reason']})")
    if d["has_spend"]:
        ccols: list[tuple[str, str, Callable[[Any], str]]] = [
            ("channel", "channel", str),
            ("cost", "cost", _money),
        ]
        ccols += [(f"cpa_{m}", LABELS[m], _money) for m in MODELS]
        parts.append(rich_table(rows, ccols, title="cost per attributed conversion"))
        if d["revenue"] is not None:
            ocols: list[tuple[str, str, Callable[[Any], str]]] = [("channel", "channel", str)]
            ocols += [(f"roi_{m}", LABELS[m], _pct) for m in MODELS]
            parts.append(rich_table(rows, ocols, title="ROI ((revenue credited - cost) / cost)"))
    else:
        parts.append("cost per conversion and ROI: not measured (give --spend FILE)")
    block = d["stages"]
    if block is not None:
        scols: list[tuple[str, str, Callable[[Any], str]]] = [("channel", "channel", str)]
        scols += [(s["stage"], s["stage"], _credit) for s in block["stages"]]
        parts.append(
            rich_table(
                result.stage_rows(),
                scols,
                title=f"hourglass stages per channel · {LABELS[block['credit_model']]} · customers who "
                f"entered each stage, credited by their touches in the {block['lookback']} before they "
                "entered it (- : no event of the stage)",
            )
        )
        if d["has_spend"]:
            crow: list[dict[str, Any]] = []
            for c in block["channels"]:
                crow.append(
                    {"channel": c}
                    | {s["stage"]: (s["cost_per_customer"] or {}).get(c) for s in block["stages"]}
                )
            ccols2: list[tuple[str, str, Callable[[Any], str]]] = [("channel", "channel", str)]
            ccols2 += [(s["stage"], s["stage"], _money) for s in block["stages"]]
            parts.append(
                rich_table(crow, ccols2, title="cost per customer credited to the channel, per stage")
            )
    return Group(*parts)


@click.command("attribution")
@click.argument("source")
@click.option(
    "--model",
    metavar="NAME|FILE",
    default="hourglass",
    show_default=True,
    help="a built-in model or a model file (its sale stage)",
)
@click.option(
    "--conversion",
    metavar="NAME",
    default="sale",
    show_default=True,
    help="what converts: sale (the model's sale stage), repeat (every purchase after the first), referral "
    "(every --referral-event), or a stage of the model or an event name",
)
@click.option(
    "--touch-events",
    metavar="LIST",
    help="only these comma-separated events are touches [default: every event with a channel]",
)
@click.option(
    "--lookback",
    metavar="DURATION",
    default="30d",
    show_default=True,
    help="touches at most this long before a conversion",
)
@click.option(
    "--half-life",
    metavar="DURATION",
    default="7d",
    show_default=True,
    help="time decay: a touch this much older counts half",
)
@click.option(
    "--position",
    metavar="SHARES",
    default="0.4,0.2,0.4",
    show_default=True,
    help="position-based shares of the first, middle and last touches (adding up to 1)",
)
@click.option(
    "--direct",
    metavar="LIST",
    default="direct,none,(none)",
    show_default=True,
    help="channel values that are not a marketing touch, for the last non-direct model",
)
@click.option(
    "--markov-order",
    metavar="N",
    type=click.IntRange(1, 3),
    default=1,
    show_default=True,
    help="Markov states are the last 1 to 3 channels of a journey",
)
@click.option(
    "--referral-event",
    metavar="EVENT",
    default="referral_sent",
    show_default=True,
    help="the event that is a referral, for --conversion referral",
)
@click.option(
    "--stages",
    "stages",
    is_flag=True,
    help="add the hourglass stages per channel: each stage's customers credited to the channels that "
    "touched them before they entered it",
)
@click.option(
    "--credit-model",
    metavar="MODEL",
    type=click.Choice([*MODELS, "position"]),
    help="the model that credits the stages (implies --stages) [default: shapley]",
)
@click.option(
    "--spend",
    type=click.Path(dir_okay=False),
    help="a CSV of channel, period, cost: cost per attributed conversion and ROI per channel and model",
)
@since_until
@format_option(csv="one row per channel")
@click.option(
    "--out", metavar="FILE", type=click.Path(dir_okay=False), help="write to this file instead of stdout"
)
@source_options
@handle_errors
def attribution_cmd(
    source: str,
    model: str,
    conversion: str,
    touch_events: str | None,
    lookback: str,
    half_life: str,
    position: str,
    direct: str,
    markov_order: int,
    referral_event: str,
    stages: bool,
    credit_model: str | None,
    spend: str | None,
    since: str | None,
    until: str | None,
    fmt: str,
    out: str | None,
    **kw: Any,
) -> None:
    """Credit conversions to the channels that touched the customer before them: first touch, last
    touch, last non-direct, linear, time decay, position-based, Markov removal effect and Shapley
    value side by side (channels as rows, models as columns; docs/semantics-attribution.md). With
    --stages, the hourglass stages per channel under one model.

    \b
    Examples:
      hourglass attribution shop.duckdb
      hourglass attribution events.parquet --conversion repeat --lookback 60d --markov-order 2
      hourglass attribution events.csv --touch-events visit,ad_click --spend spend.csv --format json
      hourglass attribution events.parquet --conversion signup --since 2024-03-01 --format csv --out a.csv
      hourglass attribution shop.duckdb --stages --credit-model markov
    """
    src = load(kw)
    from hourglass.interfaces.attribution_api import attribution  # `hourglass --help` stays fast

    result = attribution(
        source,
        model,
        conversion=conversion,
        touch_events=touch_events,
        lookback=lookback,
        half_life=half_life,
        position=position,
        direct=direct,
        markov_order=markov_order,
        referral_event=referral_event,
        stages=stages,
        credit_model=credit_model,
        spend=spend,
        since=since,
        until=until,
        **src,
    )
    emit_result(fmt, result, _tables, out)
    print_notes(result.meta)
