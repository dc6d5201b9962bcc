"""The overview, lifecycle and journeys pages' results: calls of the public API on the loaded
events, nothing computed here. The lifecycle and journeys are rendered by the HTML report's own
parts (interfaces/reports), so the dashboard and the report show the same thing."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from hourglass.ingest.config import load_model
from hourglass.interfaces import journeys_api, lifecycle_api
from hourglass.interfaces.overview_api import model_funnels
from hourglass.model.errors import HourglassError, SpecError
from hourglass.model.presets import PRESETS
from hourglass.model.stats import ratio

from .data import DashboardSource
from .query import PageQuery

__all__ = [
    "PATHS_TOP",
    "STAGE_KINDS",
    "ModelSummary",
    "all_paths",
    "compute_journeys",
    "compute_lifecycle",
    "compute_overview",
    "stage_people",
    "stage_table",
    "top_paths",
]

MAP_HINT = (
    "map your events to its stages with a model file: hourglass models suggest SOURCE --out my.yaml, "
    "then hourglass serve SOURCE --model my.yaml"
)


@dataclass(frozen=True)
class Loss:
    source: str
    target: str
    lost: int
    share: float | None


@dataclass(frozen=True)
class ModelSummary:
    """One built-in model's funnel on the source, or why it is not measured."""

    name: str
    label: str
    kind: str
    description: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    loss: Loss | None = None
    reason: str | None = None  # not measured: why, and how to map it
    notes: list[str] = field(default_factory=list)

    @property
    def entered(self) -> int | None:
        return int(self.steps[0]["customers"]) if self.steps else None

    @property
    def _last_required(self) -> dict[str, Any] | None:
        """The last step a chain must reach (a trailing optional step never blocks it)."""
        required = [s for s in self.steps if not s.get("optional")] or self.steps
        return required[-1] if required else None

    @property
    def reached(self) -> int | None:
        last = self._last_required
        return int(last["customers"]) if last is not None else None

    @property
    def overall(self) -> float | None:
        last = self._last_required
        return last["conversion_from_first"] if last is not None else None


def _largest_loss(rows: list[dict[str, Any]]) -> Loss | None:
    """The step where the most customers were lost (by count, then by share)."""
    best: Loss | None = None
    for prev, row in itertools.pairwise(rows):
        if row["dropped"] is None:  # a step no event matches: not measured, no loss to rank
            continue
        lost = int(row["dropped"])
        conv = row["conversion_from_previous"]
        loss = Loss(str(prev.get("label") or prev["step"]), str(row.get("label") or row["step"]), lost, None)
        if conv is not None:
            loss = Loss(loss.source, loss.target, lost, 1 - conv)
        if lost > 0 and (best is None or lost > best.lost):
            best = loss
    return best


def compute_overview(
    src: DashboardSource,
    window: str,
    since: str | None,
    until: str | None,
    wanted: Callable[[], bool] | None = None,
) -> list[ModelSummary]:
    """Every model's funnel (``serve --model``'s first, then the built-in ones), computed together
    (interfaces/overview_api.py: on a store, their events read once), or why it is not measured;
    ``wanted``: the work ahead's, asked between the read and the scan's ranges (engine/models_scan.py
    ``Stopped`` once it says no)."""
    given = {name: load_model(name, src.config) for name in src.models}  # ``serve --model``: first
    models = {**given, **PRESETS}
    results = src.run(
        lambda: model_funnels(
            src.events,
            list(models),
            window=window,
            since=since,
            until=until,
            config=src.config,
            wanted=wanted,
        )
    )
    out: list[ModelSummary] = []
    for (name, jm), result in zip(models.items(), results, strict=True):
        base: dict[str, Any] = {
            "name": name,
            "label": jm.label,
            "kind": jm.kind,
            "description": jm.description,
        }
        if isinstance(result, HourglassError):
            if result.code in (
                "HG107",
                "HG108",
            ):  # the window or the dates: the page's error, not the model's
                raise result
            out.append(ModelSummary(**base, reason=f"{result.message} ({result.code}); {MAP_HINT}"))
            continue
        rows = result.to_dict()["steps"]
        notes = [str(n) for n in result.meta.get("notes", [])]
        if not rows or not rows[0]["customers"]:
            why = notes[0] if notes else "no customer entered its first stage"
            out.append(ModelSummary(**base, reason=f"{why}; {MAP_HINT}", notes=notes))
            continue
        out.append(ModelSummary(**base, steps=rows, loss=_largest_loss(rows), notes=notes))
    return out


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    return name in inspect.signature(fn).parameters


def compute_lifecycle(src: DashboardSource, q: PageQuery, *, stages_only: bool = False) -> dict[str, Any]:
    """The lifecycle result's ``to_dict()`` (stages, after the sale, referrals, channels);
    ``stages_only``: without the referral loop and the channels (a comparison's other period
    reads only the stages: a quarter of the time)."""
    kwargs: dict[str, Any] = {"since": q.since, "until": q.until, "config": src.config, "spend": src.spend}
    if stages_only:
        kwargs |= {"channels": False, "referrals": False, "spend": None}
        if _accepts(lifecycle_api.lifecycle, "stages_only"):  # nor the after-sale queries
            kwargs["stages_only"] = True
    if q.goal:
        kwargs["goal" if _accepts(lifecycle_api.lifecycle, "goal") else "sale_stage"] = q.goal
    result = src.run(lambda: lifecycle_api.lifecycle(src.events, q.model, **kwargs))
    return dict(result.to_dict())


STAGE_KINDS = ("entered", "furthest", "current")


def stage_table(src: DashboardSource, q: PageQuery) -> Any:
    """The lifecycle's stage table per customer (``lifecycle_api.lifecycle_frame``: on a store from
    the range's numpy arrays, engine/range_frames.py; else ``lifecycle_table`` executed), once per
    model and dates (pandas)."""
    return src.run(
        lambda: lifecycle_api.lifecycle_frame(
            src.events, q.model, since=q.since, until=q.until, config=src.config
        )
    )


def stage_people(table: Any, stages: list[str], stage: str, kind: str) -> Any:
    """Customers who ever entered ``stage``, got no further than it (``furthest``: the stage's
    lost), or are in it now (``current``); by customer id, with their furthest and current stage."""
    if stage not in stages:
        from hourglass.model._suggest import did_you_mean

        raise SpecError(
            f"stage: no stage '{stage}' in the model{did_you_mean(stage, stages)}",
            code="HG106",
            hint="stages: " + ", ".join(stages),
        )
    if kind not in STAGE_KINDS:
        raise SpecError(
            f"kind: '{kind}' is not one of " + ", ".join(STAGE_KINDS),
            code="HG109",
            hint="give kind=entered, kind=furthest or kind=current",
        )
    keep = table[f"{stage}_at"].notna() if kind == "entered" else table[kind] == stage
    columns = ["customer", "furthest", "current", "days_in_current", f"{stage}_at"]
    out = table.loc[keep, [c for c in columns if c in table.columns]]
    return out.sort_values("customer", kind="stable").reset_index(drop=True)


Cached = Callable[[str, Hashable, Callable[[], Any]], Any]
PATHS_TOP = 1000  # the paths are computed once with the most the page shows, then cut to its top


def top_paths(result: Any, top: int) -> Any:
    """The paths result as the API gives it with ``top`` paths: its first ``top`` paths (the engine
    orders them: most customers, then the paths' nodes), the rest counted as "other" (customers
    and distinct paths are totals, so the other bucket is their difference, exactly)."""
    kept = tuple(result.top[:top])
    if len(kept) == len(result.top):
        return result
    rest = result.customers - sum(int(r["customers"]) for r in kept)
    other = {
        "customers": rest,
        "share": ratio(rest, result.customers),
        "paths": result.distinct_paths - len(kept),
    }
    return dataclasses.replace(result, top=kept, other=other)


def all_paths(src: DashboardSource, q: PageQuery, cached: Cached) -> Any:
    """The paths result of the page's model, dates, depth and anchor with ``PATHS_TOP`` paths
    (cached; the page's top is cut from it)."""
    pkw: dict[str, Any] = {"top": PATHS_TOP, "start": q.start or None, "end": q.end or None}
    pkw |= {"since": q.since, "until": q.until, "config": src.config}
    if q.depth is not None:
        pkw["depth" if _accepts(journeys_api.paths, "depth") else "steps"] = q.depth
    return cached(
        "paths",
        (q.model, q.since, q.until, q.depth, q.start, q.end),
        lambda: src.run(lambda: journeys_api.paths(src.events, q.model, **pkw)),
    )


def compute_journeys(src: DashboardSource, q: PageQuery, cached: Cached) -> dict[str, Any]:
    """The dicts of journeys, transitions, paths and (with a customer id) one journey map; each
    cached on its own parameters (a new number of top paths recomputes only the paths)."""
    dates: dict[str, Any] = {"since": q.since, "until": q.until, "config": src.config}
    jkw: dict[str, Any] = dict(dates)
    if q.goal:
        jkw["goal"] = q.goal
    base = (q.model, q.since, q.until)
    goal = (*base, q.goal)

    def part(name: str, key: Hashable, fn: Callable[[], Any]) -> Any:
        return cached(name, key, lambda: src.run(lambda: fn().to_dict()))

    out: dict[str, Any] = {
        "journeys": part("journeys", goal, lambda: journeys_api.journeys(src.events, q.model, **jkw)),
        "transitions": part(
            "transitions", base, lambda: journeys_api.transitions(src.events, q.model, **dates)
        ),
        "paths": top_paths(all_paths(src, q, cached), q.top).to_dict(),
        "journey": None,
    }
    if q.customer:  # an unknown id is said next to the journeys, which stay shown
        try:
            out["journey"] = part(
                "journey",
                (*goal, q.customer),
                lambda: journeys_api.journey(src.events, q.model, customer=q.customer, **jkw),
            )
        except HourglassError as e:
            out["journey_error"] = {"code": e.code, "message": e.message, "hint": e.hint}
    return out
