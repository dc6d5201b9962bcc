"""Running the journey map (one customer, or typical journeys per cluster) and the followers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hourglass.analyses._match import micros_of
from hourglass.analyses.followers import as_of_expr, followers_plan
from hourglass.analyses.journey_map import customer_plan, sample_events, sample_plan
from hourglass.engine.load import Events
from hourglass.engine.run_journeys import fetch, meta_of
from hourglass.model.errors import SpecError
from hourglass.model.followers import FollowersResult, build_followers_result
from hourglass.model.journey import JourneyModel
from hourglass.model.journey_map import JourneyMapResult, customer_journey, group_timeline
from hourglass.model.journeys_spec import MAX_PATH_STEPS, FollowersSpec, JourneyMapSpec

__all__ = ["run_followers", "run_journey_map"]


def _iso(us: int) -> str:
    """Microseconds since 1970 (UTC) as ISO 8601 text. Times beyond Python's years 1-9999 (a far-future
    placeholder such as 9999-12-31T23:00-05:00 is year 10000 in UTC) are computed on the proleptic
    Gregorian calendar, with as many year digits as needed (a minus sign before year 0)."""
    us = int(us)
    try:
        return (datetime(1970, 1, 1) + timedelta(microseconds=us)).isoformat()
    except OverflowError:
        return _proleptic_iso(us)


def _proleptic_iso(us: int) -> str:
    """``datetime.isoformat`` of any number of microseconds since 1970, by arithmetic."""
    days, rest = divmod(us, 86_400_000_000)
    secs, micro = divmod(rest, 1_000_000)
    # days since 1970-01-01 -> (year, month, day): H. Hinnant's civil_from_days
    z = days + 719_468
    era, doe = divmod(z, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    sign = "-" if year < 0 else ""
    clock = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}" + (f".{micro:06d}" if micro else "")
    return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}T{clock}"


def _touchpoints(model: JourneyModel, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = [s.name for s in model.stages]
    return [
        {
            "timestamp": _iso(r["ts"]),
            "event": r["event"],
            "channel": r["channel"],
            "revenue": r["revenue"],
            "stages": [n for k, n in enumerate(names, start=1) if r[f"m{k}"]],
        }
        for r in sorted(rows, key=lambda r: int(r["i"]))
    ]


def _customer(events: Events, spec: JourneyMapSpec) -> JourneyMapResult:
    plan = customer_plan(spec, events.table)
    total = int(fetch(events, plan.count)[0]["events"] or 0)
    if total == 0:
        raise SpecError(
            f"no events for customer '{spec.customer}'"
            + (" in the period" if spec.since or spec.until else ""),
            code="HG136",
            hint="customer ids are compared exactly, as text",
        )
    summary = fetch(events, plan.summary)
    path = [int(r["stage"]) for r in sorted(fetch(events, plan.path), key=lambda r: int(r["rpos"]))]
    journey = customer_journey(
        spec.model,
        spec.goal_index,
        str(spec.customer),
        summary[0] if summary else {},
        path,
        _touchpoints(spec.model, fetch(events, plan.events)),
        total,
    )
    return JourneyMapResult(
        goal=spec.model.stages[spec.goal_index - 1].name,
        journey=journey,
        meta=meta_of(events, spec.describe(), None),
    )


def _sample(events: Events, spec: JourneyMapSpec) -> JourneyMapResult:
    plan = sample_plan(spec, events.table)
    names = [s.name for s in spec.model.stages]
    total = int(fetch(events, plan.totals)[0]["customers"] or 0)
    keys = [f"p{i}" for i in range(MAX_PATH_STEPS)]

    def key(r: dict[str, Any]) -> tuple[int, ...]:
        return tuple(0 if r[k] is None else int(r[k]) for k in keys)

    clusters = fetch(events, plan.clusters)
    clusters.sort(key=lambda r: (-int(r["customers"]), key(r)))
    samples = fetch(events, plan.samples)
    chosen = sorted({str(s["customer"]) for s in samples})
    timelines: dict[str, list[dict[str, Any]]] = {c: [] for c in chosen}
    if chosen:
        for r in fetch(events, sample_events(spec, events.table, chosen)):
            timelines[str(r["customer"])].append(r)
    out = []
    for c in clusters:
        mine = sorted((s for s in samples if key(s) == key(c)), key=lambda s: int(s["rank"]))
        path = [int(x) for x in key(c) if x]
        js = []
        for s in mine:
            cid = str(s["customer"])
            tl = _touchpoints(spec.model, timelines[cid])
            j = {
                "customer": cid,
                "stage_events": int(s["n"]),
                "shown": len(tl),
                "path": [names[k - 1] for k in path],
                "groups": group_timeline(tl),
                "timeline": tl,
            }
            js.append(j)
        out.append(
            {
                "path": [names[k - 1] for k in path],
                "customers": int(c["customers"]),
                "share": int(c["customers"]) / total if total else None,
                "continued": int(c["continued"] or 0),
                "median_events": float(c["median_events"]),
                "samples": js,
            }
        )
    return JourneyMapResult(
        goal=names[spec.goal_index - 1],
        clusters=tuple(out),
        customers=total,
        meta=meta_of(events, spec.describe(), None),
    )


def run_journey_map(events: Events, spec: JourneyMapSpec) -> JourneyMapResult:
    return _customer(events, spec) if spec.customer is not None else _sample(events, spec)


def run_followers(events: Events, spec: FollowersSpec, meta: dict[str, Any] | None = None) -> FollowersResult:
    if spec.as_of is not None:
        as_of = micros_of(spec.as_of)
    else:
        latest = fetch(events, as_of_expr(spec, events.table))
        as_of = int(latest[0]["as_of"]) if latest and latest[0]["as_of"] is not None else 0
    plan = followers_plan(spec, events.table, as_of)
    summary = fetch(events, plan.summary)
    return build_followers_result(
        [s.name for s in spec.model.stages],
        spec.goal_index,
        _iso(as_of),
        summary[0] if summary else {},
        fetch(events, plan.by_stage),
        meta=meta_of(events, spec.describe(), meta),
    )
