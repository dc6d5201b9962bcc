"""``hourglass report``: the self-contained HTML report of any source (docs/report.md)."""

from __future__ import annotations

from typing import Any

import click

from hourglass.interfaces.cli._common import mapping_from, source_options, stderr, stdout_console

__all__ = ["report_cmd"]


def _short(reason: str) -> str:
    """A reason up to its first ';' (the how-to-map part is in the report and docs/report.md)."""
    return reason.split(";", 1)[0]


def _check_flags(
    window: str, since: str | None, until: str | None, after_sale: dict[str, Any], changes: tuple[str, ...]
) -> None:
    """The flags' values, read before the source is: a bad --window, --since, --set or --whatif failed
    only after a dozen seconds of sections (a bad --whatif was a "not measured" section, exit 0)."""
    from hourglass.model.lifecycle import AfterSaleSpec
    from hourglass.model.spec import check_period, parse_time, parse_window
    from hourglass.model.whatif_spec import parse_change

    parse_window(window)
    start, end = parse_time(since, what="--since"), parse_time(until, what="--until")
    check_period(start, end)
    AfterSaleSpec.build(after_sale)
    for change in changes:
        parse_change(change)


@click.command("report")
@click.argument("source")
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="NAME|FILE",
    help="a built-in model or a model file, repeatable; the first is the main model of the lifecycle "
    "and journey sections [default: every built-in model and the config's; main: hourglass]",
)
@click.option(
    "--out",
    default="report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="the HTML file to write",
)
@click.option(
    "--spend",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV of channel, period, cost: CAC and ROI per channel",
)
@click.option(
    "--window",
    default="90d",
    show_default=True,
    metavar="DURATION",
    help="the funnels' window: longest time from a chain's first to its last step (30m, 12h, 7d, 2w)",
)
@click.option(
    "--by",
    metavar="COLUMN",
    default=None,
    help="break the journeys' entry stages down by this column's value at the entry event [default: channel]",
)
@click.option(
    "--goal",
    metavar="STAGE",
    default=None,
    help="the main model's stage that makes a purchaser [default: the model's sale stage]",
)
@click.option("--title", metavar="TEXT", default=None, help="the report's title")
@click.option("--since", metavar="TIME", default=None, help="only events at or after this time (ISO 8601)")
@click.option("--until", metavar="TIME", default=None, help="only events before this time (ISO 8601)")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="an after-sale setting of the hourglass section, as in hourglass lifecycle (e.g. "
    "remorse_events=refund, support_events=ticket, remorse_within=30d; repeatable)",
)
@click.option(
    "--with",
    "extras",
    metavar="LIST",
    default=None,
    help="the sections beyond the funnels, the lifecycle and the journeys: flywheel, friction, "
    "retention, clv, attribution [default: all of them; none: no extra section]",
)
@click.option(
    "--whatif",
    "changes",
    multiple=True,
    metavar="CHANGE",
    help="a change the friction section forecasts, repeatable: 'trial->sale +10%', "
    "'friction delivery_late -50%', 'spend ads +20%' (12 months, as hourglass whatif)",
)
@click.option(
    "--hold",
    metavar="COLUMN",
    help="every funnel of the report holds a property constant: all of a chain's events share this "
    "column's value (NULL never matches); the other sections are unchanged",
)
@click.option(
    "--count",
    type=click.Choice(["uniques", "totals"]),
    default="uniques",
    show_default=True,
    help="the funnels' counts: uniques: customers per step; totals: chains per step (docs/semantics.md); "
    "the other sections count customers",
)
@source_options
def report_cmd(
    source: str,
    models: tuple[str, ...],
    out: str,
    spend: str | None,
    window: str,
    by: str | None,
    goal: str | None,
    title: str | None,
    since: str | None,
    until: str | None,
    settings: tuple[str, ...],
    extras: str | None,
    changes: tuple[str, ...],
    hold: str | None,
    count: str,
    engine: str,
    table: str | None,
    config_path: str | None,
    **kwargs: Any,
) -> None:
    """Write the HTML report of SOURCE: the funnel of every model, the whole hourglass (stages,
    after the sale, referrals, channels), the real journeys of the main model, the flywheel,
    friction, retention, lifetime value and attribution. Self-contained:
    it opens offline. A model none of whose events is in SOURCE is "not measured", with how to map
    it (hourglass models suggest SOURCE), never a table of zeros.

    \b
    Examples:
      hourglass report shop.csv
      hourglass report shop.csv --model my_model.yaml --out shop.html
      hourglass report events.parquet --model hourglass --model aida --spend spend.csv --by channel
      hourglass report events.parquet --model flywheel --goal engage
      hourglass report shop.csv --model my_model.yaml --set remorse_events=refund
      hourglass report shop.csv --with retention,clv
      hourglass report events.parquet --whatif "trial->sale +10%" --whatif "friction delivery_late -50%"
      hourglass report shop.csv --model my_model.yaml --hold device --count totals
    """
    from hourglass.interfaces.cli.lifecycle import _settings as after_sale_settings

    columns = mapping_from(kwargs)
    after_sale = after_sale_settings(settings)  # a malformed --set fails before the source is read
    _check_flags(window, since, until, after_sale, changes)

    import gc

    from hourglass.interfaces.report_gc import GC_YOUNGEST

    # the imports below allocate a lot too: the process's collector as the report's (report_gc.py);
    # every object is frozen at exit by the CLI's main (cli/__init__.py)
    gc.set_threshold(GC_YOUNGEST, *gc.get_threshold()[1:])

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from hourglass.interfaces.report_api import report  # not at import: `--help` stays fast

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)
        result = report(
            source,
            list(models) or None,
            out=out,
            spend=spend,
            window=window,
            by=by,
            goal=goal,
            columns=columns,
            engine=engine,
            table=table,
            config=config_path,
            title=title,
            since=since,
            until=until,
            after_sale=after_sale,
            extras=extras,
            whatif=changes,
            hold=hold,
            count=count,
            step=lambda msg: progress.update(task, description=msg),
        )
    console = stdout_console()
    funnels = [s.removeprefix("funnel:") for s in result.sections if s.startswith("funnel:")]
    others = [s for s in result.sections if not s.startswith("funnel:")]
    console.print(
        f"report · {result.events:,} events, {result.customers:,} customers · main model "
        f"{result.main_model} · {result.seconds:.1f} s",
        markup=False,
    )
    if result.suggested:
        console.print(
            f"main model '{result.suggested}': drafted from the event names, as no model matched them "
            f"(to check and edit it: hourglass models suggest {source} --out my_model.yaml)",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"funnels:  {', '.join(funnels) or 'none'}", markup=False)
    for note in result.notes:  # what the funnels count and hold under --count/--hold
        console.print(f"  {note}", markup=False, soft_wrap=True)
    console.print(f"sections: {', '.join(others) or 'none'}", markup=False)
    events = ", ".join(result.top_events) + (", ..." if len(result.top_events) >= 10 else "")
    by_reason: dict[str, list[str]] = {}
    for name, reason in result.not_measured.items():
        if name.startswith("funnel:") and reason.startswith("none of its events"):
            reason = f"none of the model's events is in the source, whose events are {events}"
        by_reason.setdefault(_short(reason), []).append(name.removeprefix("funnel:"))
    for reason, names in by_reason.items():
        console.print(f"not measured: {', '.join(names)} ({reason})", markup=False, soft_wrap=True)
    if any(
        (k.startswith("funnel:") and v.startswith("none of its events")) or k == "lifecycle"
        for k, v in result.not_measured.items()
    ):
        console.print(
            f"  map your events: hourglass models suggest {source} --out my_model.yaml, then "
            f"hourglass report {source} --model my_model.yaml",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"report: {result.path.resolve()}", markup=False, soft_wrap=True)
