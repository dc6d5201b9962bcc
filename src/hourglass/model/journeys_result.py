"""The result of ``journeys``: entry stages, the skip matrix, back-steps, conformance and the most
common deviations in marketing words (docs/semantics-journeys.md). Built from the small aggregates
the engine returns; renders itself as a dict (JSON), flat rows (CSV, pandas) and text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hourglass.model._text import pct, ratio, text_table, uniform
from hourglass.model.deviations import deviations_in_words
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_reasons import (
    NO_CUSTOMERS,
    NO_MOVES,
    goal_reason,
    measured,
    not_measured,
    with_share,
)

__all__ = ["JourneysResult", "build_journeys_result"]

BUCKET_NAMES = ("0-25%", "25-50%", "50-75%", "75-100%", "100%")


@dataclass(frozen=True)
class JourneysResult:
    """``entry``, ``entry_by``, ``skips``, ``backsteps``, ``conformance`` and ``deviations`` as in
    the JSON shape of docs/semantics-journeys.md; ``reasons``: block -> why it is not measured
    (``deviations`` when nobody reached the goal)."""

    stages: tuple[str, ...]
    goal: str
    customers: int
    entry: tuple[dict[str, Any], ...]
    skips: tuple[dict[str, Any], ...]
    backsteps: tuple[dict[str, Any], ...]
    conformance: dict[str, Any]
    deviations: tuple[dict[str, Any], ...]
    entry_by: tuple[dict[str, Any], ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stages": list(self.stages),
            "goal": self.goal,
            "customers": self.customers,
            "entry": list(self.entry),
        }
        if self.entry_by is not None:
            out["entry_by"] = list(self.entry_by)
        out.update(
            skips=list(self.skips),
            backsteps=list(self.backsteps),
            conformance=self.conformance,
            deviations=list(self.deviations),
        )
        if "deviations" in self.reasons:  # nobody reached the goal: not measured, not "none"
            out["deviations"] = None
            out["deviations_reason"] = self.reasons["deviations"]
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per number: ``section`` (entry, entry_by, skip, backstep, fitness,
        deviation), then the keys that section uses."""
        flat: list[dict[str, Any]] = []
        for e in self.entry:
            flat.append(
                {
                    "section": "entry",
                    "stage": e["stage"],
                    "customers": e["customers"],
                    "share": e["share"],
                    "note": e.get("share_reason"),
                }
            )
        for g in self.entry_by or ():
            for e in g["stages"]:
                flat.append(
                    {
                        "section": "entry_by",
                        "value": g["value"],
                        "stage": e["stage"],
                        "customers": e["customers"],
                        "share": e["share"],
                    }
                )
        for s in self.skips:
            for k in s["skipped"]:
                flat.append(
                    {
                        "section": "skip",
                        "stage": s["stage"],
                        "other_stage": k["stage"],
                        "customers": k["customers"],
                        "share": k["share"],
                        "note": k.get("share_reason"),
                    }
                )
        for b in self.backsteps:
            flat.append(
                {
                    "section": "backstep",
                    "stage": b["from"],
                    "other_stage": b["to"],
                    "customers": b["customers"],
                    "moves": b["moves"],
                }
            )
        for bucket in self.conformance["fitness_buckets"]:
            flat.append(
                {
                    "section": "fitness",
                    "value": bucket["fitness"],
                    "customers": bucket["customers"],
                    "share": bucket["share"],
                    "note": bucket.get("share_reason"),
                }
            )
        for d in self.deviations:
            flat.append(
                {
                    "section": "deviation",
                    "value": d["kind"],
                    "stage": d["stage"],
                    "other_stage": d.get("to"),
                    "customers": d["customers"],
                    "share": d["share"],
                    "text": d["text"],
                }
            )
        return uniform(flat)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        parts = [
            text_table(
                ("entry stage", "customers", "share"),
                [(e["stage"], str(e["customers"]), pct(e["share"])) for e in self.entry],
                title=f"{self.customers} customers; goal: {self.goal}",
            ),
            text_table(
                ("reached", "customers", *(f"skipped {s}" for s in self.stages[:-1])),
                [
                    (
                        s["stage"],
                        str(s["reached"]),
                        *(pct(k["share"]) for k in s["skipped"]),
                        *("" for _ in range(len(self.stages) - 1 - len(s["skipped"]))),
                    )
                    for s in self.skips
                ],
            ),
        ]
        if self.backsteps:
            parts.append(
                text_table(
                    ("back-step", "moves", "customers", "then"),
                    [
                        (
                            f"{b['from']} -> {b['to']}",
                            str(b["moves"]),
                            str(b["customers"]),
                            ", ".join(f"{n['stage'] or '(end)'} {pct(n['share'])}" for n in b["next"][:3]),
                        )
                        for b in self.backsteps
                    ],
                )
            )
        c = self.conformance
        fitness = not_measured(c, "fitness_mean") or (
            f"fitness: mean {pct(c['fitness_mean'])}, median {pct(c['fitness_median'])} over "
            f"{c['customers_with_moves']} customers with moves"
        )
        if fitness.startswith("not"):
            fitness = "fitness: " + fitness
        ideal = not_measured(c, "purchasers_ideal_share")
        ideal = (
            f"ideal order to {self.goal}: {ideal}"
            if ideal
            else f"{c['purchasers_ideal']} of {c['purchasers']} purchasers "
            f"({pct(c['purchasers_ideal_share'])}) followed the ideal order to {self.goal}"
        )
        lines = [f"{fitness}; {ideal}", *(f"- {d['text']}" for d in self.deviations)]
        if "deviations" in self.reasons:
            lines.append("deviations: not measured (" + self.reasons["deviations"].split(":", 1)[0] + ")")
        parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return self.to_text()


def _int(row: dict[str, Any], key: str) -> int:
    return int(row.get(key) or 0)


def _next(model: JourneyModel, rows: Sequence[dict[str, Any]], moves: int) -> list[dict[str, Any]]:
    names = [s.name for s in model.stages]
    out = [
        {
            "stage": None if r["next_stage"] is None else names[int(r["next_stage"]) - 1],
            "moves": _int(r, "moves"),
            "share": ratio(_int(r, "moves"), moves),
            "_k": r["next_stage"],
        }
        for r in rows
    ]
    out.sort(key=lambda x: (-x["moves"], x["_k"] is None, x["_k"] or 0))
    for x in out:
        del x["_k"]
    return out


def build_journeys_result(
    model: JourneyModel,
    goal: int,
    summary: dict[str, Any],
    entry: Sequence[dict[str, Any]],
    backsteps: Sequence[dict[str, Any]],
    back_next: Sequence[dict[str, Any]],
    *,
    by: bool = False,
    deviations: int = 10,
    meta: dict[str, Any] | None = None,
) -> JourneysResult:
    """The result from the engine's rows (analyses/journeys.py ``JourneysPlan``)."""
    names = [s.name for s in model.stages]
    n, total = len(names), _int(summary, "customers")
    per_stage = {k: 0 for k in range(1, n + 1)}
    for e in entry:
        per_stage[int(e["entry"])] += _int(e, "customers")
    entry_rows = tuple(
        with_share({"stage": names[k - 1], "customers": c}, c, total, NO_CUSTOMERS)
        for k, c in per_stage.items()
    )
    entry_by = None
    if by:
        groups: dict[Any, dict[int, int]] = {}
        for e in entry:
            groups.setdefault(e["entry_by"], {k: 0 for k in range(1, n + 1)})[int(e["entry"])] += _int(
                e, "customers"
            )
        order = sorted(groups, key=lambda v: (-sum(groups[v].values()), v is None, str(v)))
        entry_by = tuple(
            {
                "value": v,
                "customers": sum(groups[v].values()),
                "stages": [
                    {"stage": names[k - 1], "customers": c, "share": ratio(c, sum(groups[v].values()))}
                    for k, c in groups[v].items()
                ],
            }
            for v in order
        )
    skips = tuple(
        {
            "stage": names[j - 1],
            "reached": _int(summary, f"r{j}"),
            "skipped": [
                with_share(
                    {"stage": names[k - 1], "customers": _int(summary, f"s{k}_{j}")},
                    _int(summary, f"s{k}_{j}"),
                    _int(summary, f"r{j}"),
                    f"nobody reached {names[j - 1]}",
                )
                for k in range(1, j)
            ],
        }
        for j in range(1, n + 1)
    )
    backs = sorted(backsteps, key=lambda b: (-_int(b, "moves"), int(b["from_stage"]), int(b["to_stage"])))
    back_rows = tuple(
        {
            "from": names[int(b["from_stage"]) - 1],
            "to": names[int(b["to_stage"]) - 1],
            "moves": _int(b, "moves"),
            "customers": _int(b, "customers"),
            "purchasers": _int(b, "purchasers"),
            "next": _next(
                model,
                [
                    x
                    for x in back_next
                    if (x["from_stage"], x["to_stage"]) == (b["from_stage"], b["to_stage"])
                ],
                _int(b, "moves"),
            ),
        }
        for b in backs
    )
    with_moves, purchasers = _int(summary, "with_moves"), _int(summary, f"r{goal}")
    buckets = [_int(summary, f"b{i}") for i in range(len(BUCKET_NAMES))]
    conformance: dict[str, Any] = {"customers_with_moves": with_moves}
    measured(conformance, "fitness_mean", summary.get("fitness_mean") if with_moves else None, NO_MOVES)
    measured(conformance, "fitness_median", summary.get("fitness_median") if with_moves else None, NO_MOVES)
    conformance["fitness_buckets"] = [
        with_share({"fitness": name, "customers": c}, c, with_moves, NO_MOVES)
        for name, c in zip(BUCKET_NAMES, buckets, strict=True)
    ]
    conformance["conformant"] = _int(summary, "conformant")
    measured(conformance, "conformant_share", ratio(_int(summary, "conformant"), total), NO_CUSTOMERS)
    conformance["purchasers"] = purchasers
    conformance["purchasers_ideal"] = _int(summary, "purchasers_ideal")
    measured(
        conformance,
        "purchasers_ideal_share",
        ratio(_int(summary, "purchasers_ideal"), purchasers),
        goal_reason(model, goal),
    )
    conformance["moves"] = {
        k: _int(summary, f)
        for k, f in (
            ("total", "moves"),
            ("ideal", "ideal_moves"),
            ("back", "back_moves"),
            ("skip", "skip_moves"),
        )
    }
    reasons = {"deviations": goal_reason(model, goal)} if purchasers == 0 else {}
    return JourneysResult(
        stages=tuple(names),
        goal=names[goal - 1],
        customers=total,
        entry=entry_rows,
        entry_by=entry_by,
        skips=skips,
        backsteps=back_rows,
        conformance=conformance,
        deviations=tuple(deviations_in_words(model, goal, summary, entry, backsteps, deviations)),
        meta=meta or {},
        reasons=reasons,
    )
