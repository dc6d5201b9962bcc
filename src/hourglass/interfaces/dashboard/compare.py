"""Compare two periods on the funnel builder: the same funnel on the page's dates (A) and on another
period (B: the one of the same length just before, or custom dates), step by step, with the
two-proportion test of each conversion (model/stats.py); a change is significant at p < 0.05."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hourglass.model.errors import SpecError
from hourglass.model.spec import parse_time
from hourglass.model.stats import ratio, two_proportion_p

__all__ = [
    "ALPHA",
    "COMPARE",
    "Comparison",
    "compare_counts",
    "compare_rows",
    "other_period",
    "paths_compared",
    "stages_compared",
]

ALPHA = 0.05
COMPARE = ("previous", "custom")


@dataclass(frozen=True)
class Comparison:
    a: tuple[str | None, str | None]  # the page's period (since, until)
    b: tuple[str | None, str | None]  # the other one
    rows: list[dict[str, Any]]


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def other_period(
    mode: str,
    since: str | None,
    until: str | None,
    since2: str | None,
    until2: str | None,
    last: datetime | None,
) -> tuple[str | None, str | None]:
    """Period B: ``previous`` is the period of A's length that ends where A starts (A without an end
    ends at the last event); ``custom`` is ``since2``/``until2``."""
    if mode not in COMPARE:
        raise SpecError(
            f"compare: '{mode}' is neither previous nor custom",
            code="HG108",
            hint="compare=previous (the period before) or compare=custom with since2 and until2",
        )
    if mode == "custom":
        if not since2 and not until2:
            raise SpecError(
                "compare=custom needs the other period's dates",
                code="HG108",
                hint="give since2 and until2 (ISO 8601), or compare=previous",
            )
        return since2 or None, until2 or None
    start = parse_time(since, what="since")
    if start is None:
        raise SpecError(
            "compare=previous needs a start date: the period before all the data is empty",
            code="HG108",
            hint="pick a date range (the last 30 days, or custom since/until), or compare=custom",
        )
    end = parse_time(until, what="until") or ((last + timedelta(microseconds=1)) if last else None)
    if end is None or end <= start:
        raise SpecError(
            "compare=previous: the period has no length", code="HG108", hint="give since before until"
        )
    return _iso(start - (end - start)), _iso(start)


def _share(k: int, n: int) -> float | None:
    return ratio(k, n) if n else None


def compare_rows(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per step: customers and conversion from the first step in A and B, the change (points) and
    the two-proportion p-value; a step without customers in a period is not measured there."""
    out: list[dict[str, Any]] = []
    a1, b1 = (a[0]["customers"] or 0 if a else 0), (b[0]["customers"] or 0 if b else 0)
    for i, (ra, rb) in enumerate(zip(a, b, strict=True)):
        if ra["customers"] is None or rb["customers"] is None:  # a step no event matches
            why = ra.get("customers_reason") or rb.get("customers_reason") or "no such event"
            out.append({"step": ra.get("label") or ra["step"], "a_customers": ra["customers"],
                        "b_customers": rb["customers"], "a_conversion": None, "b_conversion": None,
                        "change": None, "change_reason": why, "p": None, "p_reason": why,
                        "significant": False})  # fmt: skip
            continue
        pa, pb = _share(ra["customers"], a1), _share(rb["customers"], b1)
        row: dict[str, Any] = {
            "step": ra.get("label") or ra["step"],
            "a_customers": ra["customers"],
            "b_customers": rb["customers"],
            "a_conversion": pa,
            "b_conversion": pb,
            "change": None if pa is None or pb is None else pa - pb,
            "p": None if i == 0 else two_proportion_p(ra["customers"], a1, rb["customers"], b1),
        }
        if pa is None or pb is None:
            row["change_reason"] = "no customer at the first step in " + ("A" if pa is None else "B")
        if i == 0:
            row["p_reason"] = "the first step is 100% in both"
        row["significant"] = row["p"] is not None and row["p"] < ALPHA
        out.append(row)
    return out


def compare_counts(
    labels: Sequence[str],
    a: Sequence[int | None],
    a_total: int,
    b: Sequence[int | None],
    b_total: int,
    *,
    of: str = "of all",
) -> list[dict[str, Any]]:
    """Per label: customers in A and B, their share of each period's ``a_total``/``b_total`` (the
    customers the shares are of), the change in points and the two-proportion p-value; a count a
    period cannot give (``None``) is not measured there, with why."""
    out: list[dict[str, Any]] = []
    for label, ka, kb in zip(labels, a, b, strict=True):
        pa = None if ka is None else _share(ka, a_total)
        pb = None if kb is None else _share(kb, b_total)
        row: dict[str, Any] = {
            "step": label,
            "a_customers": ka,
            "b_customers": kb,
            "a_conversion": pa,
            "b_conversion": pb,
            "change": None if pa is None or pb is None else pa - pb,
            "p": None if ka is None or kb is None else two_proportion_p(ka, a_total, kb, b_total),
            "of": of,
        }
        if pa is None or pb is None:
            row["change_reason"] = "not measured in " + ("A" if pa is None else "B")
            row["p_reason"] = row["change_reason"]
        row["significant"] = row["p"] is not None and row["p"] < ALPHA
        out.append(row)
    return out


Period = tuple[str | None, str | None]


def stages_compared(a: Period, b: Period, data: Mapping[str, Any], other: Mapping[str, Any]) -> Comparison:
    """The hourglass's stages in A (``data``, a lifecycle's dict) and B (``other``): customers who
    ever entered each of A's stages, of all the period's customers."""
    stages_a, stages_b = data.get("stages") or [], {s.get("stage"): s for s in other.get("stages") or []}
    labels = [str(s.get("label") or s.get("stage")) for s in stages_a]
    counts_a = [s.get("entered") for s in stages_a]
    counts_b = [(stages_b.get(s.get("stage")) or {}).get("entered") for s in stages_a]
    total_a, total_b = int(data.get("customers") or 0), int(other.get("customers") or 0)
    return Comparison(a, b, compare_counts(labels, counts_a, total_a, counts_b, total_b))


def paths_compared(a: Period, b: Period, paths: Mapping[str, Any], other: Mapping[str, Any]) -> Comparison:
    """A's top paths (``paths``, a paths result's dict) and the customers who took each in B
    (``other``: B's paths; a path absent from B's list is 0 when the list is complete, else not
    measured)."""
    counts = {tuple(p["path"]): int(p["customers"]) for p in other.get("top") or []}
    complete = len(counts) >= int(other.get("distinct_paths") or 0)  # every path of B is listed
    labels, counts_a, counts_b = [], [], []
    for p in paths.get("top") or []:
        labels.append(" \u2192 ".join(str(n) for n in p["path"]))
        counts_a.append(int(p["customers"]))
        counts_b.append(counts.get(tuple(p["path"]), 0 if complete else None))
    total_a, total_b = int(paths.get("customers") or 0), int(other.get("customers") or 0)
    return Comparison(a, b, compare_counts(labels, counts_a, total_a, counts_b, total_b))
