"""The result of ``followers``: customers active in the stages before the goal who have not reached
it yet, where they are and how long they have been there (docs/semantics-journeys.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model._text import pct, ratio, text_table, uniform
from hourglass.model.journeys_reasons import NO_CUSTOMERS, measured

__all__ = ["TENURE_BUCKETS", "FollowersResult", "build_followers_result"]

TENURE_BUCKETS: tuple[str, ...] = ("0-7d", "7-30d", "30-90d", "90d+")


def _days(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} d"


@dataclass(frozen=True)
class FollowersResult:
    """``followers`` out of ``active`` customers (any stage event); ``by_stage``: per furthest
    stage before the goal; ``tenure``: per bucket of days since the first stage event."""

    goal: str
    as_of: str
    active: int
    purchasers: int
    followers: int
    tenure_median_days: float | None
    tenure_p90_days: float | None
    idle_median_days: float | None
    by_stage: tuple[dict[str, Any], ...]
    tenure: tuple[dict[str, Any], ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "goal": self.goal,
            "as_of": self.as_of,
            "active": self.active,
            "purchasers": self.purchasers,
            "followers": self.followers,
        }
        measured(out, "followers_share", ratio(self.followers, self.active), NO_CUSTOMERS)
        none = f"no followers: every active customer has reached {self.goal}"
        for key in ("tenure_median_days", "tenure_p90_days", "idle_median_days"):
            measured(out, key, getattr(self, key), none)
        out.update(by_stage=list(self.by_stage), tenure=list(self.tenure), meta=self.meta)
        return out

    def rows(self) -> list[dict[str, Any]]:
        flat = [{"section": "stage", **r} for r in self.by_stage]
        flat += [{"section": "tenure", **r} for r in self.tenure]
        return uniform(flat)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        title = (
            f"{self.followers} followers who have not reached {self.goal} "
            f"({pct(ratio(self.followers, self.active))} of {self.active} active customers; "
            f"as of {self.as_of}); "
            f"median {_days(self.tenure_median_days)} since their first touch"
        )
        stages = text_table(
            ("furthest stage", "followers", "share", "median tenure", "p90 tenure", "median idle"),
            [
                (
                    r["stage"],
                    str(r["followers"]),
                    pct(r["share"]),
                    _days(r["tenure_median_days"]),
                    _days(r["tenure_p90_days"]),
                    _days(r["idle_median_days"]),
                )
                for r in self.by_stage
            ],
            title=title,
        )
        tenure = text_table(
            ("since first touch", "followers", "share"),
            [(r["bucket"], str(r["followers"]), pct(r["share"])) for r in self.tenure],
        )
        return stages + "\n\n" + tenure

    def __str__(self) -> str:
        return self.to_text()


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def build_followers_result(
    names: Sequence[str],
    goal: int,
    as_of: str,
    summary: dict[str, Any],
    by_stage: Sequence[dict[str, Any]],
    meta: dict[str, Any] | None = None,
) -> FollowersResult:
    followers = int(summary.get("followers") or 0)
    none = f"no followers: every active customer has reached {names[goal - 1]}"
    per = {int(r["furthest"]): r for r in by_stage}
    stage_rows = []
    for k in range(1, goal):
        n = int(per[k]["followers"]) if k in per else 0
        row: dict[str, Any] = {"stage": names[k - 1], "followers": n}
        measured(row, "share", ratio(n, followers), none)
        here = f"no follower is furthest at {names[k - 1]}"
        for key, col in (
            ("tenure_median_days", "tenure_median"),
            ("tenure_p90_days", "tenure_p90"),
            ("idle_median_days", "idle_median"),
        ):
            measured(row, key, _f(per[k][col]) if k in per else None, here)
        stage_rows.append(row)
    tenure = []
    for i, b in enumerate(TENURE_BUCKETS):
        n = int(summary.get(f"t{i}") or 0)
        row = {"bucket": b, "followers": n}
        measured(row, "share", ratio(n, followers), none)
        tenure.append(row)
    return FollowersResult(
        goal=names[goal - 1],
        as_of=as_of,
        active=int(summary.get("active") or 0),
        purchasers=int(summary.get("purchasers") or 0),
        followers=followers,
        tenure_median_days=_f(summary.get("tenure_median")),
        tenure_p90_days=_f(summary.get("tenure_p90")),
        idle_median_days=_f(summary.get("idle_median")),
        by_stage=tuple(stage_rows),
        tenure=tuple(tenure),
        meta=meta or {},
    )
