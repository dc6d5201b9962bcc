"""Specs of the non-linear journey analyses (docs/semantics-journeys.md): journeys (entry, skips,
back-steps, conformance), transitions, paths, one customer's journey map and the followers.
Frozen and validated; no data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from hourglass.model._suggest import check_keys, did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.spec import check_period, parse_time

__all__ = [
    "LEVELS",
    "MAX_PATH_STEPS",
    "OTHER",
    "TOP_VALUES",
    "FollowersSpec",
    "JourneyMapSpec",
    "JourneysSpec",
    "PathsSpec",
    "TransitionsSpec",
    "default_depth",
    "goal_index",
]

LEVELS: tuple[str, ...] = ("stage", "event")
OTHER = "(other)"  # the --by group of the values after the 10 most common ones
TOP_VALUES = 10
MAX_PATH_STEPS = 8


def goal_index(model: JourneyModel, goal: str | None) -> int:
    """1-based index of the goal stage: ``goal``, else the model's sale stage, else its last stage."""
    if goal is not None:
        model.stage(goal)  # HG106 with "did you mean" for an unknown stage
        name = goal
    else:
        name = model.sale or model.stages[-1].name
    return [s.name for s in model.stages].index(name) + 1


def _options(cls: type, options: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check the keys, drop Nones, parse since/until/as_of."""
    check_keys(options, [f.name for f in fields(cls)], where=where)
    kwargs = {k: v for k, v in options.items() if v is not None}
    for key in ("since", "until", "as_of"):
        if key in kwargs:
            kwargs[key] = parse_time(kwargs[key], what=f"--{key.replace('_', '-')}")
    return kwargs


def _count(value: int, name: str, low: int, high: int, code: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(
            f"{name} must be a whole number from {low} to {high}, got {value!r}",
            code=code,
            hint="give a whole number in that range",
        )


@dataclass(frozen=True)
class JourneysSpec:
    """Entry stages, the skip matrix, back-steps and conformance for ``model``. ``goal`` is the
    stage whose reachers are the purchasers (default: the sale stage, else the last stage); ``by``
    breaks the entry stages down by a column's value at the entry event; ``deviations`` is how many
    of the most common deviations to describe."""

    model: JourneyModel
    goal: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    by: str | None = None
    deviations: int = 10

    def __post_init__(self) -> None:
        check_period(self.since, self.until)
        goal_index(self.model, self.goal)
        _count(self.deviations, "deviations", 0, 1000, "HG130")

    @classmethod
    def build(cls, model: JourneyModel, **options: Any) -> JourneysSpec:
        return cls(model=model, **_options(cls, options, "the journeys options"))

    @property
    def goal_index(self) -> int:
        return goal_index(self.model, self.goal)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "stages": [s.name for s in self.model.stages],
            "goal": self.model.stages[self.goal_index - 1].name,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
        }


def _level(level: str, model: JourneyModel | None) -> None:
    if level not in LEVELS:
        raise SpecError(
            f"unknown level '{level}'{did_you_mean(level, LEVELS)}",
            code="HG131",
            hint="levels: stage (a model's stages) or event (event names)",
        )
    if level == "stage" and model is None:
        raise SpecError(
            "the stage level needs a model",
            code="HG131",
            hint="give --model (e.g. --model hourglass) or use --level event",
        )


@dataclass(frozen=True)
class TransitionsSpec:
    """Transition matrix between consecutive nodes (stages or event names) of each customer's
    sequence; ``collapse`` merges consecutive repeats of a node first."""

    level: str = "stage"
    model: JourneyModel | None = None
    collapse: bool = True
    since: datetime | None = None
    until: datetime | None = None
    by: str | None = None

    def __post_init__(self) -> None:
        _level(self.level, self.model)
        check_period(self.since, self.until)

    @classmethod
    def build(cls, model: JourneyModel | None = None, **options: Any) -> TransitionsSpec:
        return cls(model=model, **_options(cls, options, "the transitions options"))

    def describe(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "model": self.model.name if self.model else None,
            "collapse": self.collapse,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
        }


def default_depth(level: str, model: JourneyModel | None, end: str | None) -> int:
    """Nodes per path when ``--depth`` is not given: at the stage level room for the ideal path to
    the ``--to`` stage (else the goal: the sale stage, else the last stage) and two detours, at least
    5 and at most 8; 5 at the event level. So a buyer's path from the start is not cut before the
    purchase by a back-step or two, and a ``--to`` path shows where it came from."""
    if level != "stage" or model is None:
        return 5
    names = [s.name for s in model.stages]
    goal = names.index(end) + 1 if end in names else goal_index(model, None)
    return max(5, min(MAX_PATH_STEPS, goal + 2))


@dataclass(frozen=True)
class PathsSpec:
    """Each customer's path of up to ``depth`` nodes: from the start of his sequence, or from his
    first ``start`` node onwards, or up to his first ``end`` node (the last ``depth`` nodes up to
    it); the ``top`` most common paths and an "other" bucket. ``depth`` None: see
    :func:`default_depth`. ``by`` breaks the paths down by a column's value at the customer's first
    element."""

    level: str = "stage"
    model: JourneyModel | None = None
    depth: int | None = None
    top: int = 10
    collapse: bool = True
    start: str | None = None
    end: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    by: str | None = None

    def __post_init__(self) -> None:
        _level(self.level, self.model)
        check_period(self.since, self.until)
        if self.depth is None:
            object.__setattr__(self, "depth", default_depth(self.level, self.model, self.end))
        _count(self.steps, "--depth", 1, MAX_PATH_STEPS, "HG132")
        _count(self.top, "--top", 1, 1000, "HG132")
        if self.start is not None and self.end is not None:
            raise SpecError(
                "give --from or --to, not both",
                code="HG133",
                hint="run paths once with --from and once with --to",
            )
        anchor = self.anchor
        if anchor is not None and self.level == "stage":
            assert self.model is not None
            self.model.stage(anchor)  # HG106 for an unknown stage
        if anchor is not None and self.steps < 2:
            raise SpecError(
                "--from/--to need --depth 2 or more (the anchor is the first node)",
                code="HG132",
                hint="add --depth 2 or more",
            )

    @classmethod
    def build(cls, model: JourneyModel | None = None, **options: Any) -> PathsSpec:
        options = dict(options)
        steps = options.pop("steps", None)  # the old name of depth, still accepted
        if options.get("depth") is None and steps is not None:
            options["depth"] = steps
        return cls(model=model, **_options(cls, options, "the paths options"))

    @property
    def steps(self) -> int:
        """The resolved ``depth`` (nodes per path)."""
        assert self.depth is not None
        return self.depth

    @property
    def anchor(self) -> str | None:
        return self.start if self.start is not None else self.end

    @property
    def direction(self) -> str:
        """``forward`` (from the start or from ``start``) or ``reverse`` (up to ``end``)."""
        return "reverse" if self.end is not None else "forward"

    def describe(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "model": self.model.name if self.model else None,
            "depth": self.depth,
            "top": self.top,
            "collapse": self.collapse,
            "from": self.start,
            "to": self.end,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
        }


@dataclass(frozen=True)
class JourneyMapSpec:
    """One customer's timeline (``customer``), or ``sample`` typical customers for each of the
    ``clusters`` largest clusters of customers with the same collapsed stage path."""

    model: JourneyModel
    customer: str | None = None
    sample: int | None = None
    clusters: int = 5
    limit: int = 200
    goal: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if (self.customer is None) == (self.sample is None):
            raise SpecError(
                "give --customer ID or --sample N (not both)",
                code="HG134",
                hint="--customer ID: one customer's journey; --sample N: N typical journeys per cluster",
            )
        if self.customer is not None and not str(self.customer):
            raise SpecError(
                "--customer must not be empty",
                code="HG134",
                hint="give a customer id, e.g. --customer u42 (or --sample N for a sample)",
            )
        if self.sample is not None:
            _count(self.sample, "--sample", 1, 100, "HG134")
        _count(self.clusters, "--clusters", 1, 100, "HG134")
        _count(self.limit, "--limit", 1, 100_000, "HG134")
        goal_index(self.model, self.goal)
        check_period(self.since, self.until)

    @classmethod
    def build(cls, model: JourneyModel, **options: Any) -> JourneyMapSpec:
        kwargs = _options(cls, options, "the journey options")
        if "customer" in kwargs:
            kwargs["customer"] = str(kwargs["customer"])
        return cls(model=model, **kwargs)

    @property
    def goal_index(self) -> int:
        return goal_index(self.model, self.goal)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "customer": self.customer,
            "sample": self.sample,
            "clusters": self.clusters,
            "limit": self.limit,
            "goal": self.model.stages[self.goal_index - 1].name,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True)
class FollowersSpec:
    """Customers active in the stages before the goal who never reached it (seed 002's followers
    who are not customers yet), and how long they have been there as of ``as_of`` (default: the
    latest event of the period)."""

    model: JourneyModel
    goal: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None

    def __post_init__(self) -> None:
        check_period(self.since, self.until)
        if self.goal_index == 1:
            raise SpecError(
                f"the goal '{self.model.stages[0].name}' is the first stage: nobody can be before it",
                code="HG135",
                hint="give a later stage with --goal",
            )

    @classmethod
    def build(cls, model: JourneyModel, **options: Any) -> FollowersSpec:
        return cls(model=model, **_options(cls, options, "the followers options"))

    @property
    def goal_index(self) -> int:
        return goal_index(self.model, self.goal)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "goal": self.model.stages[self.goal_index - 1].name,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }
