"""The result of ``journey``: one customer's timeline of touchpoints grouped by stage and channel,
with his path, fitness and deviations; or typical journeys per cluster (``--sample N``)
(docs/semantics-journeys.md, "Journey map")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from hourglass.model._text import pct, ratio, text_table, uniform
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_reasons import measured, not_measured

__all__ = ["JourneyMapResult", "customer_journey", "group_timeline"]


def group_timeline(timeline: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive touchpoints with the same stage (the first stage an event matches; None for
    none) and channel, as one group: first and last time, count, event names with counts."""
    groups: list[dict[str, Any]] = []
    for e in timeline:
        stage = e["stages"][0] if e["stages"] else None
        if groups and (groups[-1]["stage"], groups[-1]["channel"]) == (stage, e["channel"]):
            g = groups[-1]
            g["last"], g["events"] = e["timestamp"], g["events"] + 1
            g["names"][e["event"]] = g["names"].get(e["event"], 0) + 1
        else:
            groups.append(
                {
                    "stage": stage,
                    "channel": e["channel"],
                    "first": e["timestamp"],
                    "last": e["timestamp"],
                    "events": 1,
                    "names": {e["event"]: 1},
                }
            )
    return groups


def customer_journey(
    model: JourneyModel,
    goal: int,
    customer: str,
    summary: dict[str, Any],
    path: Sequence[int],
    timeline: Sequence[dict[str, Any]],
    total_events: int,
) -> dict[str, Any]:
    """One customer's journey (the JSON shape's ``customer`` object)."""
    names = [s.name for s in model.stages]
    moves, ideal = int(summary.get("moves") or 0), int(summary.get("ideal") or 0)
    f_goal = summary.get(f"f{goal}")
    skipped = [
        names[k - 1]
        for k in range(1, goal)
        if f_goal is not None and (summary.get(f"f{k}") is None or summary[f"f{k}"] > f_goal)
    ]
    backs = [
        {"from": names[a - 1], "to": names[b - 1]}
        for a, b in pairwise(path)
        if b < a and not (model.kind == "flywheel" and a == len(names) and b == 1)
    ]
    out: dict[str, Any] = {
        "customer": customer,
        "events": total_events,
        "shown": len(timeline),
        "entry": names[int(summary["entry"]) - 1] if summary.get("entry") else None,
        "path": [names[k - 1] for k in path],
        "moves": moves,
        "ideal_moves": ideal,
    }
    if not path:
        out["entry_reason"] = "none of his events belongs to a stage of the model"
    measured(out, "fitness", ratio(ideal, moves), "no moves: his path has a single stage or none")
    out["reached_goal"] = f_goal is not None
    # before the goal is only defined for a customer who reached it: not measured, not "no"
    not_yet = f"he never reached {names[goal - 1]}"
    reached = f_goal is not None
    ideal_to_goal = summary.get("grpos") == goal and summary.get("good") == goal
    measured(out, "ideal_to_goal", ideal_to_goal if reached else None, not_yet)
    measured(out, "skipped_before_goal", skipped if reached else None, not_yet)
    out.update(backsteps=backs, groups=group_timeline(timeline), timeline=list(timeline))
    return out


def _journey_text(j: dict[str, Any]) -> str:
    if "events" in j:
        head = f"customer {j['customer']}: {j['events']:,} events" + (
            f" (first {j['shown']} shown)" if j["shown"] < j["events"] else ""
        )
        fitness = not_measured(j, "fitness", short=False) or pct(j["fitness"])
        head += f"; path {' > '.join(j['path']) or '-'}; fitness {fitness}"
    else:
        head = f"customer {j['customer']}: {j['stage_events']:,} stage events"
    notes = []
    if j.get("skipped_before_goal"):
        notes.append("skipped " + ", ".join(j["skipped_before_goal"]))
    notes.extend(f"went back from {b['from']} to {b['to']}" for b in j.get("backsteps", ()))
    channels = any(g["channel"] is not None for g in j["groups"])  # a source without one: no column
    lines = [
        (
            g["stage"] or "-",
            *((g["channel"] or "-",) if channels else ()),
            str(g["first"]).split(".", 1)[0],  # to the second: microseconds only crowd a table
            str(g["events"]),
            ", ".join(f"{k} x{v}" if v > 1 else k for k, v in g["names"].items()),
        )
        for g in j["groups"]
    ]
    head_row = ("stage", *(("channel",) if channels else ()), "from", "events", "touchpoints")
    table = text_table(head_row, lines)
    return "\n".join([head, *(f"  {n}" for n in notes), table])


@dataclass(frozen=True)
class JourneyMapResult:
    """``journey`` (one customer) or ``clusters`` (``--sample``: [{path, customers, share,
    median_events, samples: [journey, ...]}])."""

    goal: str
    journey: dict[str, Any] | None = None
    clusters: tuple[dict[str, Any], ...] | None = None
    customers: int = 0
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"goal": self.goal}
        if self.journey is not None:
            out["customer"] = self.journey
        else:
            out["customers"] = self.customers
            out["clusters"] = list(self.clusters or ())
        out["meta"] = self.meta
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per touchpoint (with the cluster's path and rank for samples)."""
        flat: list[dict[str, Any]] = []
        journeys: list[tuple[dict[str, Any], dict[str, Any]]] = []
        if self.journey is not None:
            journeys.append(({}, self.journey))
        for i, c in enumerate(self.clusters or (), start=1):
            journeys.extend(({"cluster": i, "cluster_path": " > ".join(c["path"])}, j) for j in c["samples"])
        for extra, j in journeys:
            for e in j["timeline"]:
                flat.append(
                    {
                        **extra,
                        "customer": j["customer"],
                        "timestamp": e["timestamp"],
                        "event": e["event"],
                        "channel": e["channel"],
                        "revenue": e["revenue"],
                        "stages": ",".join(e["stages"]),
                    }
                )
        return uniform(flat)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_text(self) -> str:
        if self.journey is not None:
            return _journey_text(self.journey)
        parts = []
        for i, c in enumerate(self.clusters or (), start=1):
            more = " ..." if c["continued"] else ""
            parts.append(
                f"cluster {i}: {' > '.join(c['path'])}{more} — {c['customers']:,} "
                f"customers ({pct(c['share'])}), median {c['median_events']:g} stage events"
            )
            parts.extend("\n".join("  " + x for x in _journey_text(j).splitlines()) for j in c["samples"])
        return "\n".join([f"{self.customers:,} customers with a stage event", *parts])

    def __str__(self) -> str:
        return self.to_text()
