"""The report's parts of the main model's funnel beyond its steps: the funnel over time and "why
customers drop" (docs/report.md). Both read the funnel's best chains: the report builds and computes
them once for the two (issue 11, the report on small data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hourglass.analyses.funnel_trend import SharedChains
from hourglass.analyses.plan import Materialize
from hourglass.engine.load import Events
from hourglass.engine.plan import cached
from hourglass.ingest.config import Config
from hourglass.interfaces.api import build_spec
from hourglass.interfaces.report_sections import FunnelOptions
from hourglass.model.errors import HourglassError
from hourglass.model.journey import JourneyModel
from hourglass.model.results import FunnelResult

__all__ = ["funnel_explained_part_of", "funnel_parts", "funnel_time_part_of", "shared_chains"]

DEFAULTS = FunnelOptions()  # the funnels' default options (no --hold, --count uniques)


def funnel_time_part_of(
    ev: Events,
    key: str,
    jm: JourneyModel,
    window: str,
    since: Any,
    until: Any,
    cfg: Config,
    options: FunnelOptions = DEFAULTS,
    chain: SharedChains | None = None,
) -> Any:
    """The "funnel over time" part of the main model (docs/semantics-funnel-time.md): its funnel per
    period of entry (the period chosen from the span: days, weeks or months), the time to each
    step and the events needed to convert (a session gap of 30m, the CLI's default), in one plan.
    Raises the views' HourglassError when they cannot be drawn (HG145 under --count totals: the views
    follow customers). ``chain``: the funnel's chains shared with "why customers drop"."""
    from hourglass.interfaces.funnel_views_api import trend_time_events
    from hourglass.interfaces.reports._funnel_time import funnel_time_part

    trend, times, counts = trend_time_events(
        ev, model=jm, window=window, since=since, until=until, config=cfg, chain=chain, **options.kwargs()
    )
    label = jm.label or jm.name or key
    return funnel_time_part(
        trend.to_dict(), times.to_dict(), label, jm.sale, hold=options.hold, events=counts.to_dict()
    )


def funnel_explained_part_of(
    ev: Events,
    key: str,
    jm: JourneyModel,
    result: FunnelResult,
    window: str,
    since: Any,
    until: Any,
    cfg: Config,
    options: FunnelOptions = DEFAULTS,
    chain: SharedChains | None = None,
) -> Any:
    """The "why customers drop" part of the main model (docs/semantics-funnel-explore.md, F3's): at
    its largest loss, the drop-off paths and the correlation of the held funnel under --hold; None
    when nobody was lost. Under --count totals, the views' HG152 (they follow customers, not chains),
    even when no step lost anything. ``chain``: the funnel's chains shared with the funnel over time."""
    from hourglass.interfaces.funnel_explore_api import funnel_explore_part_of

    if options.totals:  # the views' own refusal (HG152: they follow customers, not chains)
        from hourglass.model.funnel_explore import ExploreOptions

        ExploreOptions(at=1).check(build_spec(None, model=jm, config=cfg, **options.kwargs()))
    return funnel_explore_part_of(
        ev, key, jm, result, window, since, until, cfg, chain=chain, **options.kwargs()
    )


def shared_chains(
    ev: Events,
    jm: JourneyModel,
    window: str,
    since: Any,
    until: Any,
    cfg: Config,
    options: FunnelOptions,
    materialize: Materialize,
) -> SharedChains | None:
    """The main model's best chains for both the funnel over time and "why customers drop", with the
    ``materialize`` of a context that outlives both plans: built and computed once (the two read
    the same chains). None when the funnel cannot be built (each part then says why on its own)."""
    try:
        spec = build_spec(
            None, model=jm, config=cfg, window=window, since=since, until=until, **options.kwargs()
        )
    except HourglassError:
        return None
    return SharedChains(spec, ev.table, fixed=materialize)


def funnel_parts(
    ev: Events,
    key: str,
    jm: JourneyModel,
    result: FunnelResult,
    window: str,
    since: Any,
    until: Any,
    cfg: Config,
    say: Callable[[str], None],
    options: FunnelOptions = DEFAULTS,
) -> tuple[list[Any], dict[str, str]]:
    """The main model's parts drawn after the journeys: the funnel over time and why customers drop
    (each may be None: nobody lost), and the reasons of those that cannot be drawn (under the
    report's --hold or --count: the views' own coded reason). Both read the funnel's best chains,
    computed once for the two."""
    parts: list[Any] = []
    why: dict[str, str] = {}
    with cached() as materialize:
        chain = shared_chains(ev, jm, window, since, until, cfg, options, materialize)
        runs: list[tuple[str, str, Callable[[], Any]]] = [
            (
                "funnel-time",
                "funnel over time",
                lambda: funnel_time_part_of(ev, key, jm, window, since, until, cfg, options, chain),
            ),
            (
                "funnel-explained",
                "why customers drop",
                lambda: funnel_explained_part_of(
                    ev, key, jm, result, window, since, until, cfg, options, chain
                ),
            ),
        ]
        for name, message, run in runs:
            say(f"{message}: {key}")
            try:
                part = run()
            except HourglassError as e:
                why[name] = f"{e.message}: {e.hint}" if e.hint else e.message
                continue
            if part is not None:
                parts.append(part)
    return parts, why
