"""What-if's request (docs/semantics-friction.md, "What-if"): the periods (month, week), a change
in words ("trial->sale +10%", "friction late_delivery -50%", "spend ads +20%"), the horizon, and the
checked spec. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.spec import check_period, parse_time

__all__ = [
    "LMAX",
    "MAX_HORIZON",
    "MAX_RANK_SIZE",
    "REFERRED",
    "Change",
    "WhatIfSpec",
    "parse_change",
    "parse_horizon",
    "period_index",
    "period_label",
    "period_start",
]

REFERRED = "(referred)"  #: the pseudo-channel of customers with a referrer
MAX_HORIZON = 120  #: the longest forecast, in periods (10 years of months)
MAX_RANK_SIZE = 10_000  #: the largest --rank-size, in percent
LMAX = 12  #: transitions later than this many periods after entering a stage are not modelled
_WEEK0 = datetime(1969, 12, 29)  # a Monday: weeks start on Mondays
_UNITS = {"month": ("m", "mo", "month", "months"), "week": ("w", "week", "weeks")}


def period_index(ts: datetime, period: str) -> int:
    if period == "month":
        return ts.year * 12 + ts.month - 1
    return (ts - _WEEK0) // timedelta(days=7)


def period_start(idx: int, period: str) -> datetime:
    if period == "month":
        return datetime(idx // 12, idx % 12 + 1, 1)
    return _WEEK0 + timedelta(days=7 * idx)


def period_label(idx: int, period: str) -> str:
    d = period_start(idx, period)
    return f"{d:%Y-%m}" if period == "month" else f"{d:%Y-%m-%d}"


@dataclass(frozen=True)
class Change:
    """``kind`` is ``step`` (``stage`` -> ``to``: the hazards of that step times 1 + ``rel``; ``to``
    ``*``: every step out of the stage), ``friction`` (the event's incidence times 1 + ``rel``) or
    ``spend`` (the channel's acquisitions times 1 + ``rel``)."""

    kind: str
    target: str
    to: str | None
    rel: float
    text: str


_STEP = re.compile(r"^\s*([\w.-]+)\s*->\s*([\w.*-]+)\s+([+-]\d+(?:\.\d+)?)\s*%\s*$")
_OTHER = re.compile(r"^\s*(friction|spend)\s+(\S+)\s+([+-]\d+(?:\.\d+)?)\s*%\s*$")


def parse_change(text: str) -> Change:
    m = _STEP.match(text)
    if m:
        return Change("step", m[1], m[2], _rel(m[3], text, "trial->sale -50%"), text.strip())
    m = _OTHER.match(text)
    if m:
        return Change(m[1], m[2], None, _rel(m[3], text, "friction late_delivery -50%"), text.strip())
    raise SpecError(
        f"--change: cannot read {text!r}",
        code="HG172",
        hint='write "trial->sale +10%", "trial->* +10%", "friction late_delivery -50%" or "spend ads +20%"',
    )


def _rel(percent: str, text: str, example: str) -> float:
    """A change's size as a fraction: -100% (none left) at the least; a step change of -500% made the
    hazards negative and was simulated anyway."""
    rel = float(percent) / 100
    if rel < -1:
        raise SpecError(f"--change {text!r}: cannot go below -100%", code="HG172", hint=f"e.g. {example}")
    return rel


def parse_horizon(value: Any, period: str) -> int:
    """Periods ahead: ``12`` (periods), ``12m``/``12mo`` (months), ``8w`` (weeks) in the period's
    unit (a horizon is never minutes)."""
    text = str(value).strip().lower()
    m = re.match(r"^(\d+)\s*([a-z]*)$", text)
    if m and (not m[2] or m[2] in _UNITS[period]) and (len(m[1]) > 6 or int(m[1]) > MAX_HORIZON):
        raise SpecError(
            f"--horizon {text[:12]}{'...' if len(text) > 12 else ''}: at most {MAX_HORIZON} {period}s ahead",
            code="HG172",
            hint=f"give 1 to {MAX_HORIZON} {period}s, e.g. {'12m' if period == 'month' else '26w'}",
        )
    if m and int(m[1]) > 0 and (not m[2] or m[2] in _UNITS[period]):
        return int(m[1])
    unit = "12m (months)" if period == "month" else "8w (weeks)"
    raise SpecError(
        f"--horizon: cannot read {value!r} as {period}s",
        code="HG172",
        hint=f"write a number of {period}s, e.g. {unit}, or change --period",
    )


@dataclass(frozen=True)
class WhatIfSpec:
    model: JourneyModel
    changes: tuple[Change, ...] = ()
    horizon: int = 12
    period: str = "month"
    runs: int = 200
    seed: int = 0
    rank: bool = False
    rank_size: float = 0.10
    frictions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    backtest: bool = True

    @classmethod
    def build(
        cls,
        model: JourneyModel,
        *,
        changes: Sequence[str] = (),
        horizon: Any = 12,
        period: str = "month",
        runs: int = 200,
        seed: int = 0,
        rank: bool = False,
        rank_size: float = 10.0,
        frictions: Sequence[str] | str | None = None,
        since: Any = None,
        until: Any = None,
        backtest: bool = True,
    ) -> WhatIfSpec:
        if period not in _UNITS:
            raise SpecError(
                f"--period: what-if works per month or week, not '{period}'{did_you_mean(period, _UNITS)}",
                code="HG172",
                hint="--period month or --period week",
            )
        if model.sale is None:
            raise SpecError(
                f"what-if forecasts purchasers and revenue, and model '{model.name}' names no sale stage",
                code="HG173",
                hint="give --goal STAGE (stages: " + ", ".join(s.name for s in model.stages) + ")",
            )
        if runs < 10 or runs > 10_000:
            raise SpecError(f"--runs must be 10..10000, got {runs}", code="HG172", hint="e.g. --runs 200")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SpecError(
                f"--seed must be a whole number from 0, got {seed!r}", code="HG172", hint="e.g. --seed 1"
            )
        size = float(rank_size)
        if not -100 <= size <= MAX_RANK_SIZE:  # also NaN ('+nan%' changes) and inf (HG699)
            raise SpecError(
                f"--rank-size must be a percent from -100 to {MAX_RANK_SIZE}, got {rank_size!r}",
                code="HG172",
                hint="e.g. --rank-size 10 (every step and friction 10% better)",
            )
        parsed = tuple(parse_change(c) for c in changes)
        names = [s.name for s in model.stages]
        for c in parsed:
            if c.kind != "step":
                continue
            for stage in (c.target, c.to):
                if stage != "*" and stage not in names:
                    raise SpecError(
                        f"--change {c.text!r}: model '{model.name}' has no stage '{stage}'"
                        f"{did_you_mean(str(stage), names)}",
                        code="HG173",
                        hint="its stages: " + ", ".join(names),
                    )
            if c.to != "*" and names.index(str(c.to)) <= names.index(c.target):
                raise SpecError(
                    f"--change {c.text!r}: a step goes to a later stage",
                    code="HG173",
                    hint=f"stages in order: {', '.join(names)}",
                )
        if isinstance(frictions, str):
            frictions = [f.strip() for f in frictions.split(",")]
        fr = tuple(
            dict.fromkeys(
                [*(f for f in (frictions or ()) if f), *(c.target for c in parsed if c.kind == "friction")]
            )
        )
        s0, s1 = parse_time(since, what="since"), parse_time(until, what="until")
        check_period(s0, s1)
        return cls(
            model=model,
            changes=parsed,
            horizon=parse_horizon(horizon, period),
            period=period,
            runs=int(runs),
            seed=int(seed),
            rank=rank,
            rank_size=size / 100,
            frictions=fr,
            since=s0,
            until=s1,
            backtest=backtest,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "changes": [c.text for c in self.changes],
            "horizon": self.horizon,
            "period": self.period,
            "runs": self.runs,
            "seed": self.seed,
            "rank": self.rank,
            "rank_size": self.rank_size,
            "frictions": list(self.frictions),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


# --- the fitted model -----------------------------------------------------------------------------------
