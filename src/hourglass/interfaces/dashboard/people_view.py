"""The people behind the journeys' and the channels' numbers: a Sankey node, a transition cell, a
channel's cell. Each list is an expression of ``analyses/people.py`` for the page's own spec (the
same model, dates, depth, top paths), executed by the engine; here only the names are put back on
the engine's values (a stage's index becomes its name) for the table and the CSV."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hourglass.analyses.people import channel_people, path_node_people, transition_people
from hourglass.ingest.config import load_model
from hourglass.model.channels import ChannelSpec
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec
from hourglass.model.spec import parse_time

from .data import DashboardSource
from .query import PageQuery, integer

__all__ = ["NONE", "People", "channel_frame", "journey_frame", "people_params"]

NONE = "(none)"  # the channel of customers without one, as the channels table names it
END = "(end)"


@dataclass(frozen=True)
class People:
    """A list's title, its rows (pandas) and its parameters (the link and the CSV's)."""

    title: str
    frame: Any
    params: dict[str, str]


def _bad(what: str, hint: str, code: str = "HG109") -> SpecError:
    return SpecError(what, code=code, hint=hint)


def _stage(jm: JourneyModel, name: str, what: str) -> str:
    names = [s.name for s in jm.stages]
    if name not in names:
        from hourglass.model._suggest import did_you_mean

        raise _bad(
            f"{what}: no stage '{name}' in the model{did_you_mean(name, names)}",
            "stages: " + ", ".join(names),
            "HG106",
        )
    return name


def _names(jm: JourneyModel, values: Any) -> list[str | None]:
    names = [s.name for s in jm.stages]
    return [None if v is None or v != v else names[int(v) - 1] for v in values]


def people_params(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters that name a journeys or channel list (kept on its links and CSV)."""
    keys = ("node", "node_step", "move_from", "move_to", "channel", "stage")
    return {k: v for k in keys if (v := (params.get(k) or "").strip())}


def journey_frame(src: DashboardSource, q: PageQuery, params: Mapping[str, str], width: int) -> People:
    """A Sankey node (``node``, ``node_step``) or a transition (``move_from``, ``move_to``; the
    end: ``move_to=(end)``) of the journeys page's model and dates."""
    jm = load_model(q.model, src.config)
    since, until = parse_time(q.since, what="since"), parse_time(q.until, what="until")
    chosen = people_params(params)
    if "node" in chosen:
        node = _stage(jm, chosen["node"], "node")
        step = integer(params, "node_step", 1, 1, 64, "HG109")
        spec = PathsSpec.build(
            jm, level="stage", depth=q.depth, top=q.top, collapse=True,
            start=q.start or None, end=q.end or None, since=since, until=until,
        )  # fmt: skip
        expr = path_node_people(spec, src.events.table, step, node, width)
        frame = src.run(lambda: src.events.engine.execute(expr))
        cols = [f"p{i}" for i in range(spec.steps)]
        named = [_names(jm, frame[c]) for c in cols]
        paths = [" \u2192 ".join(n for n in path if n) for path in zip(*named, strict=True)] if cols else []
        out = frame[["customer"]].copy()
        out["path"] = paths if len(frame) else []
        out["goes_on"] = frame["more"].astype(bool) if len(frame) else []
        title = f"customers of the top paths at step {step}: {node}"
        return People(title, out, {"node": node, "node_step": str(step)})
    if "move_from" in chosen:
        source = _stage(jm, chosen["move_from"], "move_from")
        raw_to = chosen.get("move_to") or END
        target = None if raw_to == END else _stage(jm, raw_to, "move_to")
        tspec = TransitionsSpec.build(jm, level="stage", collapse=True, since=since, until=until)
        expr = transition_people(tspec, src.events.table, source, target)
        frame = src.run(lambda: src.events.engine.execute(expr))
        out = frame[["customer", "moves"]].copy()
        import pandas as pd

        out["first_move_at"] = pd.to_datetime(frame["first_at"], unit="us") if len(frame) else []
        what = "whose journey ended at " + source if target is None else f"who went from {source} to {target}"
        return People(f"customers {what}", out, {"move_from": source, "move_to": raw_to})
    raise _bad(
        "people: say which number (a Sankey node or a transition)",
        "click a node of the paths or a cell of the transitions, or give node and node_step, or "
        "move_from and move_to",
    )


def channel_frame(src: DashboardSource, q: PageQuery, channel: str, stage: str | None) -> People:
    """The customers a channel acquired (``(none)``: without a channel), and with ``stage`` only
    those who entered it: the channels table's cell, for the page's model and dates."""
    jm = load_model(q.model, src.config)
    if q.goal:  # the lifecycle's purchasers are those of its goal stage
        jm = dataclasses.replace(jm, sale=_stage(jm, q.goal, "goal"))
    if stage:
        _stage(jm, stage, "stage")
    if "channel" not in src.events.table.columns:
        raise _bad(
            "channel: the events have no channel column",
            "map one with --channel-col COLUMN when starting the dashboard",
            "HG342",
        )
    spec = ChannelSpec("channel", None, parse_time(q.since, what="since"), parse_time(q.until, what="until"))
    value = None if channel == NONE else channel
    expr = channel_people(spec, src.events.table, jm, value, stage or None)
    frame = src.run(lambda: src.events.engine.execute(expr))
    names = [s.name for s in jm.stages]
    out = frame[["customer", "channel"]].copy()
    out["purchaser"] = frame["purchaser"].astype(bool) if len(frame) else []
    entered = [
        ", ".join(n for i, n in enumerate(names) if row[i] == 1)
        for row in frame[[f"s{i}" for i in range(len(names))]].itertuples(index=False)
    ]
    out["stages_entered"] = entered if len(frame) else []
    title = f"customers acquired by {channel}" + (f" who entered {stage}" if stage else "")
    return People(title, out, {"channel": channel} | ({"stage": stage} if stage else {}))
