"""What a friction analysis asks (docs/semantics-friction.md): the frictions, the stall targets per
stage, the conversion window, the cohort period and the strata, checked where they are given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.spec import check_period, format_window, parse_time, parse_window

__all__ = ["PERIODS", "US", "FrictionSpec"]

#: cohort periods: name -> Ibis truncate unit
PERIODS: dict[str, str] = {"day": "D", "week": "W", "month": "M", "quarter": "Q"}
US = 1_000_000


def _seconds(value: Any, *, what: str) -> float:
    try:
        return parse_window(value) / US
    except SpecError as e:
        raise SpecError(f"{what}: {e.message}", code="HG165", hint=e.hint) from None


@dataclass(frozen=True)
class FrictionSpec:
    """Stalls of every stage of ``model`` and the effect of each ``frictions`` event on the step
    out of each stage. ``targets``: stage -> seconds (a stall is longer than the target; default
    the stage's p90). ``within``: a conversion counts only within this many seconds of entering the
    stage, and only customers observed that long count. ``period``: the cohort period (a stratum);
    ``strata``: ``channel`` and/or ``cohort``."""

    model: JourneyModel
    frictions: tuple[str, ...] = ()
    targets: tuple[tuple[str, float], ...] = ()
    within_s: float | None = None
    period: str = "month"
    strata: tuple[str, ...] = ("channel", "cohort")
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    min_group: int = 10

    @classmethod
    def build(
        cls,
        model: JourneyModel,
        *,
        frictions: Sequence[str] | str | None = None,
        targets: Mapping[str, Any] | Sequence[str] | str | None = None,
        within: Any = None,
        period: str = "month",
        strata: Sequence[str] | str | None = ("channel", "cohort"),
        since: Any = None,
        until: Any = None,
        as_of: Any = None,
        min_group: int = 10,
    ) -> FrictionSpec:
        names = [s.name for s in model.stages]
        if isinstance(frictions, str):
            frictions = [f.strip() for f in frictions.split(",")]
        fr = tuple(dict.fromkeys(f for f in (frictions or ()) if f))
        tg: dict[str, float] = {}
        items: list[tuple[str, Any]]
        if isinstance(targets, Mapping):
            items = list(targets.items())
        else:
            raw = [targets] if isinstance(targets, str) else list(targets or ())
            items = []
            for text in raw:
                for part in str(text).split(","):
                    if not part.strip():
                        continue
                    if "=" not in part:
                        raise SpecError(
                            f"--target: cannot read {part.strip()!r}",
                            code="HG165",
                            hint="write STAGE=DURATION, e.g. --target trial=3d",
                        )
                    k, v = part.split("=", 1)
                    items.append((k.strip(), v.strip()))
        for stage, value in items:
            if stage not in names:
                raise SpecError(
                    f"--target: model '{model.name}' has no stage '{stage}'{did_you_mean(stage, names)}",
                    code="HG166",
                    hint="its stages: " + ", ".join(names),
                )
            tg[stage] = _seconds(value, what=f"--target {stage}")
        if period not in PERIODS:
            raise SpecError(
                f"--period: unknown period '{period}'{did_you_mean(period, PERIODS)}",
                code="HG167",
                hint="one of: " + ", ".join(PERIODS),
            )
        if isinstance(strata, str):
            strata = [s.strip() for s in strata.split(",") if s.strip() and s.strip() != "none"]
        st = tuple(dict.fromkeys(strata or ()))
        for s in st:
            if s not in ("channel", "cohort"):
                raise SpecError(
                    f"strata: unknown stratum '{s}'{did_you_mean(s, ('channel', 'cohort'))}",
                    code="HG167",
                    hint="strata are channel and cohort (or none)",
                )
        spec = cls(
            model=model,
            frictions=fr,
            targets=tuple(tg.items()),
            within_s=None if within is None else _seconds(within, what="--within"),
            period=period,
            strata=st,
            since=parse_time(since, what="since"),
            until=parse_time(until, what="until"),
            as_of=parse_time(as_of, what="as_of"),
            min_group=int(min_group),
        )
        if spec.min_group < 1:
            raise SpecError("min_group must be at least 1", code="HG167", hint="e.g. min_group=10")
        check_period(spec.since, spec.until)
        return spec

    def target(self, stage: str) -> float | None:
        return dict(self.targets).get(stage)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "stages": [s.name for s in self.model.stages],
            "frictions": list(self.frictions),
            "targets": {k: format_window(round(v * US)) for k, v in self.targets},
            "within": None if self.within_s is None else format_window(round(self.within_s * US)),
            "period": self.period,
            "strata": list(self.strata),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "min_group": self.min_group,
        }
