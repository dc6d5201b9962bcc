"""The report's sections as the plain dicts ``write_report`` reads: a model's funnel (with the steps
the source cannot measure marked, not zeroed), a model that matches nothing, the journey analyses of
the main model, and which lifecycle blocks the result has (docs/report.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hourglass.engine.load import Events
from hourglass.ingest.config import Config
from hourglass.interfaces import journeys_api
from hourglass.interfaces.api import by_column
from hourglass.interfaces.report_helper import Helper
from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import HourglassError, SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle_result import LifecycleResult
from hourglass.model.results import MEASURES, FunnelResult
from hourglass.model.spec import FunnelSpec

__all__ = [
    "PATH_DEPTH",
    "FunnelOptions",
    "draft_of",
    "funnel_section",
    "journeys_block",
    "lifecycle_args",
    "lifecycle_blocks",
    "lifecycle_of",
    "map_hint",
    "not_counted_model",
    "not_measured_model",
]

PATH_DEPTH = 8  # the Sankey's longest path
#: the report's sections that are not funnels: --hold and --count do not apply to them
NOT_FUNNELS = "the lifecycle, the journeys, the flywheel, friction, retention, lifetime value and attribution"


@dataclass(frozen=True)
class FunnelOptions:
    """The report's ``hold`` and ``count`` (docs/semantics.md "Hold a property", "Totals"): they apply
    to every funnel of the report (the models' funnels, the funnel over time, why customers drop);
    the other sections count customers as always."""

    hold: str | None = None
    count: str = "uniques"

    @property
    def totals(self) -> bool:
        return self.count == "totals"

    @property
    def noun(self) -> str:
        """What a funnel's counts are: customers (uniques) or chains (totals)."""
        return "chains" if self.totals else "customers"

    @classmethod
    def checked(cls, hold: str | None, count: str) -> FunnelOptions:
        """``hold`` and ``count`` checked as the funnel checks them (HG109), before the source is read."""
        FunnelSpec.build(["-"], hold=hold, count=count)
        return cls(hold=hold, count=count)

    def held(self, ev: Events) -> FunnelOptions:
        """These options with ``hold`` as a column of the events (a role column's source name is the
        role's column), or the funnel's own HG306 naming the source's columns (as ``funnel --hold``)."""
        if self.hold is None:
            return self
        column = by_column(ev, self.hold)
        if column not in ev.table.columns:
            raise SpecError(
                f"--hold: no column '{self.hold}'{did_you_mean(self.hold, ev.table.columns)}",
                code="HG306",
                hint="columns: " + ", ".join(ev.table.columns),
            )
        return replace(self, hold=column)

    def head(self) -> dict[str, Any]:
        """The overview's figures of these options (none for the defaults)."""
        out: dict[str, Any] = {}
        if self.totals:
            out["funnels count"] = "chains (totals)"
        if self.hold:
            out["funnels hold"] = self.hold
        return out

    def kwargs(self) -> dict[str, Any]:
        """The funnel options of ``hourglass.funnel`` and its views."""
        return {"hold": self.hold, "count": self.count}

    def count_label(self, window: str) -> str:
        """What a funnel's count column counts."""
        if self.totals:
            return f"chains that reached the step in order within {window}"
        return f"reached in order within {window}"

    def notes(self) -> list[str]:
        """One line per option given (none for the defaults): what the funnels count and hold."""
        out = []
        if self.totals:
            out.append(
                "Funnels count chains (--count totals), not customers: every entry starts a chain; chains "
                "may overlap, and an event is counted once per step (docs/semantics.md, Totals)."
            )
        if self.hold:
            out.append(
                f"Funnels hold {self.hold} (--hold {self.hold}): events of one chain share the same "
                f"{self.hold}."
            )
        if out:
            out.append(f"Not funnels, so unchanged by these options: {NOT_FUNNELS} (they count customers).")
        return out


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


def _base(key: str, jm: JourneyModel, window: str, options: FunnelOptions) -> dict[str, Any]:
    return {
        "model": key,
        "label": jm.label or jm.name,
        "kind": jm.kind,
        "description": jm.description,
        "window": window,
        "sale": jm.sale,
        "count_label": options.count_label(window),
        "count_noun": options.noun,
        "hold": options.hold,
        "options_notes": options.notes()[:-1],
    }


def draft_of(ev: Events, taken: Sequence[str]) -> JourneyModel | None:
    """A model drafted from the source's event names (``hourglass models suggest``), labelled as a
    draft; None when no event moves customers forward."""
    from hourglass.engine.event_names import event_profile
    from hourglass.model.draft import draft_model

    name = "suggested"
    while name in taken:
        name += "_"
    try:
        model = draft_model(event_profile(ev, 30), name=name).model
    except SpecError:
        return None
    note = (
        "A draft from your event names, not a model you chose: check and edit it with 'hourglass models "
        "suggest SOURCE --out my_model.yaml', then 'hourglass report SOURCE --model my_model.yaml'."
    )
    return replace(model, description=f"{model.description} {note}".strip())


def not_measured_model(
    key: str, jm: JourneyModel, window: str, where: str, options: FunnelOptions = FunnelOptions()
) -> dict[str, Any]:
    """The section of a model none of whose events is in the source: no funnel, a reason."""
    reason = f"none of its events ({_events(jm)}) is in {where}; {map_hint(key)}"
    return {**_base(key, jm, window, options), "funnel": None, "not_measured": reason}


def not_counted_model(
    key: str, jm: JourneyModel, window: str, error: HourglassError, options: FunnelOptions
) -> dict[str, Any]:
    """The section of a model the funnel refuses under the report's options (HG126: --count totals
    and a model with optional stages): no funnel, the funnel's own coded reason."""
    reason = f"{error.message} ({error.code}): {error.hint}" if error.hint else error.message
    return {**_base(key, jm, window, options), "funnel": None, "not_measured": reason, "refused": True}


def funnel_section(
    key: str,
    jm: JourneyModel,
    result: FunnelResult,
    window: str,
    hits: list[bool],
    *,
    main: bool,
    options: FunnelOptions = FunnelOptions(),
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
    section = {**_base(key, jm, window, options), "funnel": funnel, "main": main}
    if unmeasured:
        section["unmeasured_steps"] = unmeasured
        section["unmeasured_hint"] = map_hint(key)
    return section


def lifecycle_of(
    ev: Events,
    model: JourneyModel,
    spend: str | Path | None,
    since: Any,
    until: Any,
    cfg: Config,
    after_sale: Mapping[str, Any] | None = None,
    helper: Helper | None = None,
) -> LifecycleResult:
    """The lifecycle of the main model (its channel table is by acquisition channel); the helper
    process's when it computed it with the same arguments."""
    from hourglass.interfaces.lifecycle_api import lifecycle

    if helper is not None:
        got = helper.lifecycle(**lifecycle_args(model, spend, since, until, after_sale))
        if got is not None:
            return got  # type: ignore[no-any-return]
    spend = None if spend is None else str(spend)
    return lifecycle(
        ev, model, spend=spend, since=since, until=until, config=cfg, after_sale=after_sale or None
    )


def lifecycle_args(
    model: JourneyModel, spend: Any, since: Any, until: Any, after_sale: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The lifecycle's arguments as the helper takes them (start_helper's ``lifecycle``)."""
    return {
        "model": model,
        "spend": spend,
        "since": since,
        "until": until,
        "after_sale": dict(after_sale or {}),
    }


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
