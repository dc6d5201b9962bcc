"""The dashboard's pages of the analyses beyond the funnel, the hourglass and the journeys: the
flywheel, friction and the weak stages, retention, lifetime value and attribution. Each page is
a form of that analysis's own options (read from the query string, so every view is a URL) and
the same section the HTML report draws (interfaces/report_extras.py): one renderer per analysis
for both, no analysis logic here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hourglass.interfaces import report_extras
from hourglass.interfaces.dashboard.data import DashboardSource
from hourglass.interfaces.dashboard.query import date_range
from hourglass.interfaces.reports._parts import Part
from hourglass.model.errors import SpecError

__all__ = ["PAGES", "Field", "Page", "page_key", "run_page"]


@dataclass(frozen=True)
class Field:
    """One option of a page's form: the query parameter (also the API's keyword unless ``arg``),
    its label, the choices of a select (else a text box) and the help shown on hover."""

    name: str
    label: str
    choices: tuple[str, ...] = ()
    help: str = ""
    arg: str | None = None
    size: int = 10

    def value(self, params: Mapping[str, str]) -> str | None:
        raw = (params.get(self.name) or "").strip()
        if not raw:
            return None
        if self.choices and raw not in self.choices:
            from hourglass.model._suggest import did_you_mean

            raise SpecError(
                f"{self.name}: unknown value '{raw}'{did_you_mean(raw, self.choices)}",
                code="HG109",
                hint=f"{self.name} is one of " + ", ".join(self.choices),
            )
        return raw


@dataclass(frozen=True)
class Page:
    """A page: its path, title, description, form fields and the API call behind its section."""

    name: str
    title: str
    description: str
    fields: tuple[Field, ...]
    compute: Callable[..., Mapping[str, Any]]
    part: str  # the report part builder's name in report_extras


def _flywheel(ev: Any, model: str, spend: Any, since: Any, until: Any, **kw: Any) -> Mapping[str, Any]:
    from hourglass.interfaces.flywheel_api import flywheel

    return flywheel(ev, model, spend=spend, since=since, until=until, **kw).to_dict()


def _friction(ev: Any, model: str, spend: Any, since: Any, until: Any, **kw: Any) -> Mapping[str, Any]:
    changes = tuple(c.strip() for c in (kw.get("changes") or "").split(";") if c.strip())
    ctx = report_extras.Context(model, spend=spend, since=since, until=until, changes=changes)
    return report_extras.friction_blocks(ev, ctx, frictions=kw.get("frictions"))


def _retention(ev: Any, model: str, spend: Any, since: Any, until: Any, **kw: Any) -> Mapping[str, Any]:
    from hourglass.interfaces.retention_api import retention

    return retention(ev, model=model, since=since, until=until, **kw).to_dict()


def _clv(ev: Any, model: str, spend: Any, since: Any, until: Any, **kw: Any) -> Mapping[str, Any]:
    from hourglass.interfaces.clv_api import clv

    return clv(ev, model=model, spend=spend, **kw).to_dict()


def _attribution(ev: Any, model: str, spend: Any, since: Any, until: Any, **kw: Any) -> Mapping[str, Any]:
    from hourglass.interfaces.attribution_api import attribution

    if "markov_order" in kw:
        kw["markov_order"] = int(kw["markov_order"])
    return attribution(ev, model, spend=spend, since=since, until=until, **kw).to_dict()


PERIODS = ("day", "week", "month", "quarter", "year")
PAGES: tuple[Page, ...] = (
    Page(
        "flywheel",
        "The flywheel",
        "Momentum per period: active customers split into new, retained, resurrected and churned, the "
        "quick ratio, revenue accounting, and how much of the growth the loop itself brings (referrals "
        "and word of mouth) against paid and organic acquisition.",
        (
            Field("period", "Period", PERIODS, "the period of the growth accounting"),
            Field("activity", "Activity", ("all", "purchases"), "which events make a customer active"),
            Field("new", "New is", ("first-activity", "first-seen"), "first counted event, or first event"),
        ),
        _flywheel,
        "flywheel",
    ),
    Page(
        "friction",
        "Friction and the weak stages",
        "Where customers stall and what friction events cost: conversion with vs without each friction "
        "event among customers in the same stage, stratified by channel and cohort, and the stages to "
        "fix first, each with the remedy the models suggest; and what a change would be worth (a "
        "fitted stage-transition model, back-tested, with seeded 90% bands).",
        (
            Field("frictions", "Friction events", help="comma list, e.g. delivery_late,complaint", size=24),
            Field(
                "changes",
                "What if",
                help="changes separated by ;, e.g. trial->sale +10%; friction delivery_late -50%",
                size=32,
            ),
        ),
        _friction,
        "friction",
    ),
    Page(
        "retention",
        "Retention cohorts",
        "Who comes back, period by period: cohorts by the period of a start event, the share who return "
        "in each later period, the average curve, and revenue retention.",
        (
            Field("period", "Period", ("day", "week", "month"), "the cohort and return period"),
            Field("start", "Start", help="first, purchase, a stage or an event", size=12),
            Field("return_event", "Return", help="any, purchase, a stage or an event", size=12),
            Field("mode", "Count", ("nth", "unbounded"), "in exactly period N, or in N or later"),
            Field("cohorts", "Cohorts", ("first", "recurring"), "each customer once, or every period"),
        ),
        _retention,
        "retention",
    ),
    Page(
        "clv",
        "Customer lifetime value",
        "BG/NBD or Pareto/NBD for purchases and Gamma-Gamma for spend, fitted by maximum likelihood: "
        "the parameters, the hold-out check, and lifetime value by acquisition channel next to CAC.",
        (
            Field("fit", "Fit", ("bgnbd", "paretonbd"), "the purchase model: BG/NBD or Pareto/NBD"),
            Field("calibration_end", "Calibration end", help="ISO date; the rest is the hold-out", size=12),
        ),
        _clv,
        "clv",
    ),
    Page(
        "attribution",
        "Attribution",
        "Which channels brought the conversions: first and last touch, linear, time decay, "
        "position-based, the Markov removal effect and the Shapley value, side by side, with cost per "
        "conversion and ROI.",
        (
            Field("conversion", "Conversion", help="sale, repeat, referral, a stage or an event", size=12),
            Field("lookback", "Lookback", help="e.g. 30d", size=6),
            Field("markov_order", "Markov order", ("1", "2", "3"), "states are the last 1-3 channels"),
            Field(
                "credit_model",
                "Stages by",
                ("shapley", "linear", "first_touch", "last_touch", "position_based", "time_decay", "markov"),
                "add the hourglass stages per channel, credited by this model",
            ),
        ),
        _attribution,
        "attribution",
    ),
)


def _request(
    src: DashboardSource, page: Page, params: Mapping[str, str]
) -> tuple[str, Any, Any, dict[str, str]]:
    _rng, since, until = date_range(params, src.last)
    model = (params.get("model") or "").strip() or src.default_model
    kwargs = {f.arg or f.name: v for f in page.fields if (v := f.value(params)) is not None}
    return model, since, until, kwargs


def page_key(src: DashboardSource, page: Page, params: Mapping[str, str]) -> tuple[Any, ...]:
    """The normalised request of a page: its cache key (unknown parameters ignored)."""
    model, since, until, kwargs = _request(src, page, params)
    return (page.name, model, since, until, tuple(sorted(kwargs.items())))


def run_page(src: DashboardSource, page: Page, params: Mapping[str, str]) -> Part:
    """The page's section for the query string ``params`` (model, dates and its own fields)."""
    model, since, until, kwargs = _request(src, page, params)
    result = src.run(lambda: page.compute(src.events, model, src.spend, since, until, **kwargs))
    return report_extras.part_of(page.part, result)
