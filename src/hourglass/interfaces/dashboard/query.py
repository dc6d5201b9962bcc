"""A view's state is its query string: read it into the API's arguments, and normalise it (the
cache key, the links). Unknown parameters are ignored; unreadable values are coded errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from hourglass.model.errors import SpecError

__all__ = ["RANGES", "FunnelQuery", "PageQuery", "date_range", "integer", "split"]

#: Date-range presets, relative to the last event of the source ("the last 30 days of the data").
RANGES = {"all": None, "7d": 7, "30d": 30, "90d": 90, "custom": None}
FALSE = ("", "0", "false", "off", "no")


def split(value: str | None) -> tuple[str, ...]:
    """A comma list (``visit, signup,purchase``) as names, empty items dropped."""
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


def integer(params: Mapping[str, str], key: str, default: int, low: int, high: int, code: str) -> int:
    raw = (params.get(key) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SpecError(
            f"{key}: '{raw}' is not a whole number from {low} to {high}",
            code=code,
            hint=f"give {key} as a number from {low} to {high}",
        )
    return value


def date_range(params: Mapping[str, str], last: datetime | None) -> tuple[str, str | None, str | None]:
    """(range, since, until): a preset is the last N days of the data; custom keeps since/until."""
    since = (params.get("since") or "").strip() or None
    until = (params.get("until") or "").strip() or None
    rng = (params.get("range") or "").strip() or ("custom" if since or until else "all")
    if rng not in RANGES:
        raise SpecError(
            f"range: unknown date range '{rng}'",
            code="HG108",
            hint="range is one of " + ", ".join(RANGES) + " (custom: give since and until, ISO 8601)",
        )
    days = RANGES[rng]
    if rng == "all":
        return rng, None, None
    if days is not None:
        if last is None:
            return rng, None, None
        start = last - timedelta(days=days)
        return rng, start.isoformat(timespec="seconds"), None
    return rng, since, until


@dataclass(frozen=True)
class FunnelQuery:
    """The funnel builder's state (and the people views' spec)."""

    steps: tuple[str, ...] = ()
    model: str = ""
    window: str = "7d"
    mode: str = "ordered"
    open: bool = False
    exclude: tuple[str, ...] = ()
    hold: str = ""  # a column whose value a chain's events share (docs/semantics.md)
    count: str = "uniques"  # or totals: every chain
    range: str = "all"
    since: str | None = None
    until: str | None = None
    by: str = ""
    top: int = 5
    where: tuple[str, ...] = ()  # property filters on every step's events (``country = DE``)
    compare: str = ""  # "", previous or custom (compare.py)
    since2: str | None = None
    until2: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str], last: datetime | None) -> FunnelQuery:
        rng, since, until = date_range(params, last)
        return cls(
            steps=split(params.get("steps")),
            model=(params.get("model") or "").strip(),
            window=(params.get("window") or "").strip() or "7d",
            mode=(params.get("mode") or "").strip() or "ordered",
            open=(params.get("open") or "").strip().lower() not in FALSE,
            exclude=split(params.get("exclude")),
            hold=(params.get("hold") or "").strip(),
            count=(params.get("count") or "").strip() or "uniques",
            range=rng,
            since=since,
            until=until,
            by=(params.get("by") or "").strip(),
            top=integer(params, "top", 5, 1, 50, "HG109"),
            where=tuple(w.strip() for w in (params.get("where") or "").split(";") if w.strip()),
            compare=(params.get("compare") or "").strip(),
            since2=(params.get("since2") or "").strip() or None,
            until2=(params.get("until2") or "").strip() or None,
        )

    @property
    def empty(self) -> bool:
        return not self.steps and not self.model

    def api_kwargs(self) -> dict[str, Any]:
        """Arguments of ``api.funnel`` / ``api.build_spec`` (without ``by``)."""
        return {
            "steps": list(self.steps) or None,
            "model": self.model or None,
            "window": self.window,
            "mode": self.mode,
            "open": self.open,
            "since": self.since,
            "until": self.until,
            "exclude": list(self.exclude),
            "hold": self.hold or None,
            "count": self.count,
        }

    def params(self) -> dict[str, str]:
        """The normalised query parameters (defaults left out)."""
        out: dict[str, str] = {}
        if self.steps:
            out["steps"] = ",".join(self.steps)
        if self.model:
            out["model"] = self.model
        if self.window != "7d":
            out["window"] = self.window
        if self.mode != "ordered":
            out["mode"] = self.mode
        if self.open:
            out["open"] = "1"
        if self.exclude:
            out["exclude"] = ",".join(self.exclude)
        if self.hold:
            out["hold"] = self.hold
        if self.count != "uniques":
            out["count"] = self.count
        if self.range != "all":
            out["range"] = self.range
        if self.range == "custom":
            out.update({k: v for k, v in (("since", self.since), ("until", self.until)) if v})
        if self.by:
            out["by"] = self.by
            if self.top != 5:
                out["top"] = str(self.top)
        if self.where:
            out["where"] = "; ".join(self.where)
        if self.compare:
            out["compare"] = self.compare
            if self.compare == "custom":
                out.update({k: v for k, v in (("since2", self.since2), ("until2", self.until2)) if v})
        return out

    def key(self) -> tuple[tuple[str, str], ...]:
        """The cache key: the normalised parameters plus the resolved dates (a preset's dates
        depend on the data)."""
        resolved = {**self.params(), "_since": self.since or "", "_until": self.until or ""}
        return tuple(sorted(resolved.items()))

    def query(self, **extra: Any) -> str:
        return urlencode({**self.params(), **{k: str(v) for k, v in extra.items() if v is not None}})


@dataclass(frozen=True)
class PageQuery:
    """The lifecycle and journeys pages' state: a model, a goal, a date range, path options and a
    customer to map."""

    model: str = "hourglass"
    goal: str = ""
    range: str = "all"
    since: str | None = None
    until: str | None = None
    depth: int | None = None  # None: the API's default (room for the goal)
    top: int = 10
    customer: str = ""
    start: str = ""  # paths from the first of this stage (``from``) ...
    end: str = ""  # ... or up to the first of this one (``to``)
    default: str = "hourglass"  # the model when the URL names none (``serve --model``)
    compare: str = ""  # "", previous or custom (compare.py): the page's other period
    since2: str | None = None
    until2: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str], last: datetime | None, default: str = "hourglass") -> PageQuery:
        rng, since, until = date_range(params, last)
        return cls(
            compare=(params.get("compare") or "").strip(),
            since2=(params.get("since2") or "").strip() or None,
            until2=(params.get("until2") or "").strip() or None,
            model=(params.get("model") or "").strip() or default,
            default=default,
            goal=(params.get("goal") or "").strip(),
            range=rng,
            since=since,
            until=until,
            depth=integer(params, "depth", 0, 1, 8, "HG132") or None,
            top=integer(params, "top", 10, 1, 1000, "HG132"),
            customer=(params.get("customer") or "").strip(),
            start=(params.get("from") or "").strip(),
            end=(params.get("to") or "").strip(),
        )

    def params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.model != self.default:
            out["model"] = self.model
        if self.goal:
            out["goal"] = self.goal
        if self.range != "all":
            out["range"] = self.range
        if self.range == "custom":
            out.update({k: v for k, v in (("since", self.since), ("until", self.until)) if v})
        if self.depth is not None:
            out["depth"] = str(self.depth)
        if self.top != 10:
            out["top"] = str(self.top)
        if self.customer:
            out["customer"] = self.customer
        if self.start:
            out["from"] = self.start
        if self.end:
            out["to"] = self.end
        if self.compare:
            out["compare"] = self.compare
            if self.compare == "custom":
                out.update({k: v for k, v in (("since2", self.since2), ("until2", self.until2)) if v})
        return out

    def alone(self) -> PageQuery:
        """The view without its comparison (A's results do not depend on B)."""
        return replace(self, compare="", since2=None, until2=None)

    def on(self, period: tuple[str | None, str | None]) -> PageQuery:
        """The same view on other dates (B), without a comparison."""
        return replace(self.alone(), range="custom", since=period[0], until=period[1])

    def presets(self, last: datetime | None) -> list[PageQuery]:
        """The same view on the other date presets (the page's range menu: a likely next change)."""
        out = []
        for rng in ("all", "90d", "30d", "7d"):
            if rng != self.range:
                since = date_range({"range": rng}, last)[1]
                out.append(replace(self, range=rng, since=since, until=None))
        return out

    def key(self) -> tuple[tuple[str, str], ...]:
        """The cache key of the view's own results (the comparison is left out: A is A with or
        without a B beside it)."""
        own = self.alone()
        return tuple(sorted({**own.params(), "_since": self.since or "", "_until": self.until or ""}.items()))
