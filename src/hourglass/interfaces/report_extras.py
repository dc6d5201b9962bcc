"""The report's sections of the analyses beyond the funnel, the lifecycle and the journeys: the
flywheel's momentum, friction and the weak stages, retention cohorts, customer lifetime value and
multi-touch attribution (docs/report.md). Each runs on the report's already loaded events through
its own Python API function and is drawn by its own part builder; a section the source cannot
measure (no revenue for lifetime value, no channel column for attribution, no purchases...) is
listed as not measured with the analysis's own coded reason, never drawn with zeros."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hourglass.engine.load import Events
from hourglass.interfaces.reports._parts import Part
from hourglass.model.errors import HourglassError, SpecError
from hourglass.model.journey import JourneyModel

__all__ = [
    "EXTRAS",
    "Context",
    "Extra",
    "check_extras",
    "computed",
    "extra_parts",
    "friction_blocks",
    "part_of",
    "reason_of",
]


@dataclass(frozen=True)
class Context:
    """What every extra section shares with the rest of the report."""

    model: JourneyModel | str
    spend: Any = None
    since: Any = None
    until: Any = None
    #: what-if changes of the friction section ("trial->sale +10%", "friction delivery_late -50%"):
    #: with any, the section also forecasts them (hourglass whatif, 12 months, seeded bands)
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Extra:
    """One section: its name (a key of the report's ``sections`` / ``not_measured``), the progress
    message, how to compute its result dict, and the part builder that draws it."""

    name: str
    message: str
    compute: Callable[[Events, Context], Mapping[str, Any]]
    part: Callable[[Mapping[str, Any]], Part]


def _flywheel(ev: Events, ctx: Context) -> Mapping[str, Any]:
    from hourglass.interfaces.flywheel_api import flywheel

    return flywheel(ev, ctx.model, spend=ctx.spend, since=ctx.since, until=ctx.until).to_dict()


def friction_blocks(ev: Events, ctx: Context, *, frictions: Any = None) -> Mapping[str, Any]:
    """``{"friction": ..., "diagnose": ..., "whatif": ...}`` for the friction section (what-if only
    with ``ctx.changes``); a block the source cannot measure is null with its ``<block>_reason``
    (friction and diagnose both: the friction's coded error)."""
    from hourglass.interfaces.friction_api import diagnose, friction, friction_and_diagnose, whatif

    out: dict[str, Any] = {}
    failed: list[HourglassError] = []
    runs: list[tuple[str, Callable[[], Any]]] = [
        ("friction", lambda: friction(ev, ctx.model, frictions=frictions, since=ctx.since, until=ctx.until)),
        ("diagnose", lambda: diagnose(ev, ctx.model, since=ctx.since, until=ctx.until)),
    ]
    if isinstance(ctx.model, JourneyModel):  # both in one plan (one stage table); each alone on an error
        with contextlib.suppress(HourglassError):
            both = friction_and_diagnose(ev, ctx.model, frictions=frictions, since=ctx.since, until=ctx.until)
            if both is not None:
                out["friction"], out["diagnose"] = (r.to_dict() for r in both)
                runs = []
    if ctx.changes:
        runs.append(("whatif", lambda: whatif(ev, ctx.model, changes=ctx.changes, frictions=frictions)))
    for key, run in runs:
        try:
            out[key] = run().to_dict()
        except HourglassError as e:  # the other blocks may still be measured
            out[key], out[f"{key}_reason"] = None, reason_of(e)
            failed.append(e)
    if out["friction"] is None and out["diagnose"] is None:
        raise failed[0]
    return out


def _friction(ev: Events, ctx: Context) -> Mapping[str, Any]:
    """The report's friction events: the lifecycle's negative-experience events (late delivery,
    complaint, return, cancel: ``AfterSaleSpec.negative_events``) that the source has."""
    from hourglass.engine.event_names import top_event_names
    from hourglass.model.lifecycle import AfterSaleSpec

    present = {name for name, _ in top_event_names(ev)}
    frictions = [e for e in AfterSaleSpec().negative_events if e in present]
    return friction_blocks(ev, ctx, frictions=frictions or None)


def _retention(ev: Events, ctx: Context) -> Mapping[str, Any]:
    from hourglass.interfaces.retention_api import retention

    return retention(ev, model=ctx.model, since=ctx.since, until=ctx.until).to_dict()


def _clv(ev: Events, ctx: Context) -> Mapping[str, Any]:
    from hourglass.interfaces.clv_api import clv

    return clv(ev, model=ctx.model, spend=ctx.spend).to_dict()


def _attribution(ev: Events, ctx: Context) -> Mapping[str, Any]:
    from hourglass.interfaces.attribution_api import attribution

    return attribution(ev, ctx.model, spend=ctx.spend, since=ctx.since, until=ctx.until).to_dict()


def _builders() -> dict[str, Callable[[Mapping[str, Any]], Part]]:
    from hourglass.interfaces.reports._attribution import attribution_part
    from hourglass.interfaces.reports._clv import clv_part
    from hourglass.interfaces.reports._flywheel import flywheel_part
    from hourglass.interfaces.reports._friction import friction_part
    from hourglass.interfaces.reports._retention import retention_part

    return {
        "flywheel": flywheel_part,
        "friction": friction_part,
        "retention": retention_part,
        "clv": clv_part,
        "attribution": attribution_part,
    }


def part_of(name: str, result: Mapping[str, Any]) -> Part:
    """The section ``name`` (one of EXTRAS) drawn from its result dict."""
    return _builders()[name](result)


def _parts() -> tuple[Extra, ...]:
    build = _builders()
    return (
        Extra("flywheel", "flywheel: momentum and the loop", _flywheel, build["flywheel"]),
        Extra("friction", "friction and the weak stages", _friction, build["friction"]),
        Extra("retention", "retention cohorts", _retention, build["retention"]),
        Extra("clv", "customer lifetime value", _clv, build["clv"]),
        Extra("attribution", "multi-touch attribution", _attribution, build["attribution"]),
    )


EXTRAS: tuple[str, ...] = ("flywheel", "friction", "retention", "clv", "attribution")


def check_extras(extras: Sequence[str] | str | None) -> tuple[str, ...]:
    """The sections asked for: None is all of EXTRAS; a comma list or names; ``none`` is none.
    An unknown name is HG109 with "did you mean"."""
    if extras is None:
        return EXTRAS
    names = [n.strip() for n in (extras.split(",") if isinstance(extras, str) else extras) if n.strip()]
    if names == ["none"]:
        return ()
    for name in names:
        if name not in EXTRAS:
            from hourglass.model._suggest import did_you_mean

            raise SpecError(
                f"no report section '{name}'{did_you_mean(name, EXTRAS)}",
                code="HG109",
                hint="the sections beyond the funnels, the lifecycle and the journeys are "
                + ", ".join(EXTRAS)
                + " (or none)",
            )
    return tuple(dict.fromkeys(names))


def reason_of(e: HourglassError) -> str:
    """A section's reason for not being measured: its coded error's message and hint."""
    return f"{e.message}: {e.hint}" if e.hint else e.message


def computed(name: str, ev: Events, ctx: Context) -> Mapping[str, Any]:
    """The result dict of the section ``name`` (raises its HourglassError when not measurable)."""
    (extra,) = [e for e in _parts() if e.name == name]
    return extra.compute(ev, ctx)


def extra_parts(
    ev: Events,
    ctx: Context,
    *,
    only: Sequence[str] = EXTRAS,
    say: Callable[[str], None] = lambda _msg: None,
    helper: Any = None,
) -> tuple[list[Part], dict[str, str]]:
    """The parts of the sections in ``only`` that the source can measure, and the reasons of those
    it cannot (name -> reason: the analysis's own coded error message and hint). ``helper``: a
    running :class:`~hourglass.interfaces.report_helper.Helper` started with ``ctx`` computes its
    sections meanwhile; this process computes the others first, then takes the helper's, claiming
    and computing itself any the helper has not started."""
    helped = [n for n in helper.names if n in only] if helper is not None and helper.context == ctx else []
    if helper is not None and not helped:
        helper.cancel()
    done: dict[str, tuple[Mapping[str, Any] | None, str | None]] = {}
    chosen = [e for e in _parts() if e.name in only]
    # the helper's sections last, from the end of its list: it computes them from the start, so
    # the report claims (and computes) those it has not started and waits only for one it has
    last = {name: i for i, name in enumerate(reversed(helped))}
    for extra in sorted(chosen, key=lambda e: last.get(e.name, -1)):
        if extra.name in last:
            got = helper.take(extra.name)
            if got is not None:
                say(extra.message)
                done[extra.name] = got
                continue
        say(extra.message)
        try:
            done[extra.name] = (extra.compute(ev, ctx), None)
        except HourglassError as e:
            done[extra.name] = (None, reason_of(e))
    parts: list[Part] = []
    not_measured: dict[str, str] = {}
    for extra in chosen:  # in the report's order
        result, why = done[extra.name]
        if result is None:
            not_measured[extra.name] = why or "not measured"
        else:
            parts.append(extra.part(result))
    return parts, not_measured
