"""The funnel explained (docs/semantics-funnel-explore.md): what the explore views ask
(:class:`ExploreOptions`), their results (drop-off and between-step paths, correlation) and the
exact statistics of a 2x2 table (odds ratio with Haldane's correction, Fisher's exact test, the
chi-square test, Benjamini-Hochberg). Pure Python: no data, no I/O."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model.errors import SpecError
from hourglass.model.funnel_explore_stats import (
    FISHER_MAX,
    benjamini_hochberg,
    chi2_p,
    fisher_p,
    format_p,
    odds_ratio,
    significant,
)
from hourglass.model.spec import FunnelSpec

__all__ = [
    "FISHER_MAX",
    "VIEWS",
    "CorrelationItem",
    "ExploreOptions",
    "FunnelCorrelation",
    "FunnelPaths",
    "PathRow",
    "benjamini_hochberg",
    "chi2_p",
    "fisher_p",
    "format_p",
    "odds_ratio",
]

VIEWS: tuple[str, ...] = ("dropoff", "between", "correlation")


def _int_in(value: Any, lo: int, hi: int, what: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise SpecError(
            f"{what} must be a whole number from {lo} to {hi}, got {value!r}", code="HG151", hint=hint
        )
    return value


@dataclass(frozen=True)
class ExploreOptions:
    """``at``: the step K (1-based) whose customers are explored; ``to``: the step L they convert
    to (default K+1; correlation only: ``to=n`` with ``at=1`` is the whole funnel). ``depth``:
    events per path; ``top``: paths or items shown; ``properties``: the property columns of the
    correlation (None: every text or true/false property column); ``max_values``: values tested
    per column; ``max_events``: event names tested."""

    at: int = 1
    to: int | None = None
    depth: int = 3
    top: int = 10
    properties: tuple[str, ...] | None = None
    max_values: int = 50
    max_events: int = 100

    def __post_init__(self) -> None:
        _int_in(self.at, 1, 29, "--at", "give the step whose customers to explore: 1 for the first step")
        if self.to is not None:
            _int_in(self.to, 2, 30, "--to", "give a later step than --at (default: the next one)")
        _int_in(self.depth, 1, 20, "--depth", "give the number of events per path, e.g. --depth 3")
        _int_in(self.top, 1, 1000, "--top", "give how many paths or items to show, e.g. --top 10")
        _int_in(
            self.max_values, 1, 1000, "max_values", "give how many values of each column to test, e.g. 50"
        )
        _int_in(self.max_events, 1, 10000, "max_events", "give how many event names to test, e.g. 100")

    @property
    def target(self) -> int:
        """Step L (after :meth:`resolved`: the next required step after ``at`` when not given)."""
        return self.to if self.to is not None else self.at + 1

    def resolved(self, spec: FunnelSpec) -> ExploreOptions:
        """These options checked against the funnel, with ``to`` set (default: the next required
        step after ``at``)."""
        self.check(spec)
        if self.to is not None:
            return self
        return dataclasses.replace(self, to=spec.next_required(self.at))

    def check(self, spec: FunnelSpec) -> None:
        """HG151 when the steps do not fit the funnel, HG152 when its mode has no step events (open,
        any_order) or it counts chains (``--count totals``)."""
        n = len(spec.steps)
        if spec.open or spec.mode == "any_order":
            what = "an open funnel" if spec.open else "an any_order funnel"
            raise SpecError(
                f"the drop-off paths and the correlation need each customer's step events: {what} has none",
                code="HG152",
                hint="run them on the ordered (default) or strict_order funnel: drop --open, any_order",
            )
        if getattr(spec, "count", "uniques") == "totals":
            raise SpecError(
                "the drop-off paths and the correlation follow customers (their best chain): "
                "--count totals is the steps view's",
                code="HG152",
                hint="drop --count (these views count unique customers)",
            )
        if n < 2:
            raise SpecError(
                "a funnel of one step has no drop-off to explore",
                code="HG151",
                hint="give at least two steps",
            )
        required, nxt = spec.required, spec.next_required(self.at)
        starts = [k for k in required if k < required[-1]]
        if self.at not in starts:
            if not 1 <= self.at <= n:
                what = f"the funnel has {n} steps"
            elif self.at not in required:
                what = (
                    f"step {self.at} ({spec.steps[self.at - 1].name}) is optional: it is not on every chain"
                )
            else:
                name = spec.steps[self.at - 1].name
                what = f"step {self.at} ({name}) is the last required step: nobody drops after it"
            raise SpecError(
                f"--at {self.at}: {what}",
                code="HG151",
                hint="give --at as one of the steps "
                + ", ".join(str(k) for k in starts)
                + " (a required step with a required one after it)"
                if starts
                else "give at least two required steps",
            )
        target = self.to if self.to is not None else nxt
        if target is None or target not in required or not self.at < target <= n:
            raise SpecError(
                f"--to {target} must be a required step after --at {self.at}",
                code="HG151",
                hint="give --to as one of the steps "
                + ", ".join(str(k) for k in required if k > self.at)
                + " (default: the next required step)",
            )

    def describe(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "to": self.to,
            "depth": self.depth,
            "top": self.top,
            "properties": None if self.properties is None else list(self.properties),
            "max_values": self.max_values,
            "max_events": self.max_events,
        }


@dataclass(frozen=True)
class PathRow:
    """One path: its events in order (at most ``depth``), ``ended`` when the customer had no
    further event (the path ends: "left"), ``customers`` and ``share`` of the view's customers."""

    path: tuple[str, ...]
    ended: bool
    customers: int
    share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": list(self.path),
            "ended": self.ended,
            "customers": self.customers,
            "share": self.share,
        }


@dataclass(frozen=True)
class FunnelPaths:
    """``view``: ``dropoff`` (what the customers who reached step ``at`` and not the next did
    after their step-``at`` event) or ``between`` (what those who went on did between the two
    steps). ``customers``: the view's customers; ``paths``: the ``top`` most common, by customers;
    ``none``: customers with no event at all in the view (dropoff: left; between: went straight on);
    ``distinct_paths``: how many different paths there are."""

    view: str
    at: int
    step: str
    next_step: str
    depth: int
    customers: int
    paths: tuple[PathRow, ...]
    none: int
    distinct_paths: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def none_share(self) -> float | None:
        return _share(self.none, self.customers)

    def to_dict(self) -> dict[str, Any]:
        shown = sum(p.customers for p in self.paths)
        return {
            "view": self.view,
            "at": self.at,
            "step": self.step,
            "next_step": self.next_step,
            "depth": self.depth,
            "customers": self.customers,
            "none": self.none,
            "none_share": self.none_share,
            "distinct_paths": self.distinct_paths,
            "other_customers": self.customers - shown,
            "paths": [p.to_dict() for p in self.paths],
            "meta": self.meta,
        }

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "rank": i,
                "path": " > ".join(p.path),
                "ended": p.ended,
                "customers": p.customers,
                "share": p.share,
            }
            for i, p in enumerate(self.paths, start=1)
        ]


def _share(k: int, n: int) -> float | None:
    return None if n == 0 else k / n


@dataclass(frozen=True)
class CorrelationItem:
    """An event (``kind`` ``event``, ``value`` its name) or a property value (``kind`` the column)
    seen before the drop-off point, with its 2x2 table and statistics. ``odds_ratio`` > 1: the
    customers with it converted more often."""

    kind: str
    value: str
    converted_with: int
    dropped_with: int
    converted_without: int
    dropped_without: int
    odds_ratio: float
    odds_ratio_low: float
    odds_ratio_high: float
    p_value: float
    q_value: float
    test: str

    @property
    def direction(self) -> str:
        return "converting" if self.odds_ratio > 1 else "dropping" if self.odds_ratio < 1 else "neither"

    @property
    def label(self) -> str:
        return self.value if self.kind == "event" else f"{self.kind}={self.value}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "converted_with": self.converted_with,
            "dropped_with": self.dropped_with,
            "converted_without": self.converted_without,
            "dropped_without": self.dropped_without,
            "conversion_with": _share(self.converted_with, self.converted_with + self.dropped_with),
            "conversion_without": _share(
                self.converted_without, self.converted_without + self.dropped_without
            ),
            "odds_ratio": self.odds_ratio,
            "odds_ratio_low": self.odds_ratio_low,
            "odds_ratio_high": self.odds_ratio_high,
            "p_value": self.p_value,
            "q_value": self.q_value,
            "test": self.test,
            "direction": self.direction,
        }


@dataclass(frozen=True)
class FunnelCorrelation:
    """Customers who reached step ``at``: ``converted`` reached step ``to``, ``dropped`` did not.
    ``items``: every tested item, ranked (q-value, then the strength of the association);
    ``untested``: items every customer (or none) had, which say nothing."""

    at: int
    to: int
    step: str
    target_step: str
    converted: int
    dropped: int
    items: tuple[CorrelationItem, ...]
    untested: int
    properties: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "to": self.to,
            "step": self.step,
            "target_step": self.target_step,
            "converted": self.converted,
            "dropped": self.dropped,
            "properties": list(self.properties),
            "tested": len(self.items),
            "untested": self.untested,
            "items": [i.to_dict() for i in self.items],
            "meta": self.meta,
        }

    def rows(self) -> list[dict[str, Any]]:
        return [{"rank": r, **i.to_dict()} for r, i in enumerate(self.items, start=1)]

    @classmethod
    def assemble(
        cls,
        counts: Sequence[tuple[str, str, int, int]],
        converted: int,
        dropped: int,
        **info: Any,
    ) -> FunnelCorrelation:
        """The result from each item's ``(kind, value, converted_with, dropped_with)``."""
        tested: list[tuple[str, str, int, int, int, int, float, str]] = []
        untested = 0
        for kind, value, a, b in counts:
            c, d = converted - a, dropped - b
            if a + b in (0, converted + dropped):
                untested += 1
                continue
            p, test = (
                (fisher_p(a, b, c, d), "fisher")
                if a + b + c + d <= FISHER_MAX
                else (chi2_p(a, b, c, d), "chi2")
            )
            tested.append((kind, value, a, b, c, d, p, test))
        qs = benjamini_hochberg([t[6] for t in tested])
        items = []
        for (kind, value, a, b, c, d, p, test), q in zip(tested, qs, strict=True):
            ratio, low, high = odds_ratio(a, b, c, d)
            items.append(CorrelationItem(kind, value, a, b, c, d, ratio, low, high, p, q, test))
        items.sort(
            key=lambda i: (
                significant(i.q_value),
                significant(i.p_value),
                -significant(abs(math.log(i.odds_ratio))),
                i.kind != "event",
                i.kind,
                i.value,
            )
        )
        return cls(converted=converted, dropped=dropped, items=tuple(items), untested=untested, **info)
