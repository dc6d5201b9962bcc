"""The report's sections as the plain dicts ``write_report`` reads: a model's funnel (with the steps
the source cannot measure marked, not zeroed), a model that matches nothing, the journey analyses of
the main model, and which lifecycle blocks the result has (docs/report.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hourglass.engine.load import Events
from hourglass.ingest.config import Config
from hourglass.interfaces import journeys_api
from hourglass.model.errors import HourglassError
from hourglass.model.journey import JourneyModel
from hourglass.model.results import MEASURES, FunnelResult

__all__ = [
    "PATH_DEPTH",
    "funnel_explained_part_of",
    "funnel_parts",
    "funnel_section",
    "funnel_time_part_of",
    "journeys_block",
    "lifecycle_blocks",
    "map_hint",
    "not_measured_model",
]

PATH_DEPTH = 8  # the Sankey's longest path


def map_hint(model: str) -> str:
    """How to map a model to the source's events."""
    return (
        "map it to your events: 'hourglass models suggest SOURCE --out my_model.yaml' writes a model of "
        f"your event names, or copy this one with 'hourglass models show {model} > my_model.yaml' and "
        "edit its events; then 'hourglass report SOURCE --model my_model.yaml'"
    )


def _events(jm: JourneyModel, limit: int = 6) -> str:
    names = list(dict.fromkeys(e for s in jm.stages for e in s.events))
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def _base(key: str, jm: JourneyModel, window: str) -> dict[str, Any]:
    return {
        "model": key,
        "label": jm.label or jm.name,
        "kind": jm.kind,
        "description": jm.description,
        "window": window,
        "sale": jm.sale,
        "count_label": f"reached in order within {window}",
    }


def not_measured_model(key: str, jm: JourneyModel, window: str, where: str) -> dict[str, Any]:
    """The section of a model none of whose events is in the source: no funnel, a reason."""
    reason = f"none of its events ({_events(jm)}) is in {where}; {map_hint(key)}"
    return {**_base(key, jm, window), "funnel": None, "not_measured": reason}


def funnel_section(
    key: str, jm: JourneyModel, result: FunnelResult, window: str, hits: list[bool], *, main: bool
) -> dict[str, Any]:
    """A model's funnel section. From the first stage that matches no event of the source on, the
    ordered funnel cannot count anyone: those steps are null with a reason, never 0."""
    funnel = result.to_dict()
    steps = [dict(s) for s in funnel.get("steps", [])]
    unmeasured: dict[str, str] = {}
    gap: str | None = None
    for stage, hit, row in zip(jm.stages, hits, steps, strict=False):
        if gap is None and hit:
            continue
        if gap is None:
            gap = stage.name
            why = f"no event of stage '{stage.name}' ({', '.join(stage.events)}) is in the source"
        else:
            why = f"follows '{gap}', which matches no event of the source"
        unmeasured[str(row.get("step"))] = why
        row.update({k: None for k in MEASURES if k in row})
        row["customers_reason"] = why
    funnel["steps"] = steps
    section = {**_base(key, jm, window), "funnel": funnel, "main": main}
    if unmeasured:
        section["unmeasured_steps"] = unmeasured
        section["unmeasured_hint"] = map_hint(key)
    return section


def funnel_time_part_of(
    ev: Events, key: str, jm: JourneyModel, window: str, since: Any, until: Any, cfg: Config
) -> Any:
    """The "funnel over time" part of the main model (docs/semantics-funnel-time.md): its funnel per
    period of entry (the period chosen from the span: days, weeks or months) and the time to each
    step. Raises the views' HourglassError when they cannot be drawn."""
    from hourglass.interfaces.funnel_views_api import trend_and_time
    from hourglass.interfaces.reports._funnel_time import funnel_time_part

    trend, times = trend_and_time(ev, model=jm, window=window, since=since, until=until, config=cfg)
    return funnel_time_part(trend.to_dict(), times.to_dict(), jm.label or jm.name or key, jm.sale)


def funnel_explained_part_of(
    ev: Events,
    key: str,
    jm: JourneyModel,
    result: FunnelResult,
    window: str,
    since: Any,
    until: Any,
    cfg: Config,
) -> Any:
    """The "why customers drop" part of the main model (docs/semantics-funnel-explore.md, F3's): at
    its largest loss, the drop-off paths and the correlation; None when nobody was lost."""
    from hourglass.interfaces.funnel_explore_api import funnel_explore_part_of

    return funnel_explore_part_of(ev, key, jm, result, window, since, until, cfg)


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
) -> tuple[list[Any], dict[str, str]]:
    """The main model's parts drawn after the journeys: the funnel over time and why customers drop
    (each may be None: nobody lost), and the reasons of those that cannot be drawn."""
    parts: list[Any] = []
    why: dict[str, str] = {}
    runs: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "funnel-time",
            "funnel over time",
            lambda: funnel_time_part_of(ev, key, jm, window, since, until, cfg),
        ),
        (
            "funnel-explained",
            "why customers drop",
            lambda: funnel_explained_part_of(ev, key, jm, result, window, since, until, cfg),
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


def lifecycle_blocks(life: Mapping[str, Any] | None) -> dict[str, str | None]:
    """``lifecycle``, ``referrals`` and ``channels``: None when in the result, else the reason."""
    if life is None:
        return {}
    out: dict[str, str | None] = {"lifecycle": None}
    defaults = {
        "referrals": "no referral data: map who brought whom with --referrer-col",
        "channels": "no channel column: map one with --channel-col",
    }
    for name, default in defaults.items():
        value = life.get(name)
        out[name] = None if value else str(life.get(f"{name}_reason") or default)
    return out


def journeys_block(
    ev: Events,
    model: JourneyModel,
    by: str | None,
    since: Any,
    until: Any,
    cfg: Config,
    life: Mapping[str, Any] | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The journey analyses of the report (dicts): entry and skips (by ``by``), stage transitions,
    the top paths of up to PATH_DEPTH stages, and the journey map of the top referrer (a customer
    who went through the whole hourglass), else typical journeys."""
    when = {"since": since, "until": until, "config": cfg}
    out: dict[str, Any] = {}
    say("journeys: entry, skips, back-steps")
    out["journeys"] = journeys_api.journeys(ev, model, by=by, **when).to_dict()
    say("journeys: transitions")
    out["transitions"] = journeys_api.transitions(ev, model, **when).to_dict()
    say("journeys: top paths")
    out["paths"] = journeys_api.paths(ev, model, top=10, depth=PATH_DEPTH, **when).to_dict()
    say("journeys: one customer's map")
    referrals = (life or {}).get("referrals")
    top = (referrals.get("top_referrers") if isinstance(referrals, Mapping) else None) or []
    if top:
        jm = journeys_api.journey(ev, model, customer=str(top[0]["customer"]), **when)
    else:
        jm = journeys_api.journey(ev, model, sample=1, clusters=5, **when)
    out["journey"] = jm.to_dict()
    return out
