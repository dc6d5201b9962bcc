"""The people behind the journeys' and the channels' numbers: a Sankey node, a transition cell, a
channel's cell. Each list is an expression of ``analyses/people.py`` for the page's own spec (the
same model, dates, depth, top paths), executed by the engine, or a Sankey node's from the per-customer
paths of the journeys fast path's numpy kernels (engine/paths_people.py); here only the names are put
back on the engine's values (a stage's index becomes its name, a key its id) for the rows shown."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from hourglass.analyses.channels import channel_plan
from hourglass.analyses.lifecycle import decoded
from hourglass.analyses.people import channel_customers, paths_per_customer, transition_people
from hourglass.engine.keyed import keyed, model_reads
from hourglass.engine.paths_people import (
    CustomerMoves,
    CustomerPaths,
    customer_paths_np,
    decode_keys,
    transition_people_np,
)
from hourglass.engine.range_frames import channel_frame as channel_arrays
from hourglass.ingest.config import load_model
from hourglass.model.channels import ChannelSpec
from hourglass.model.errors import SpecError
from hourglass.model.journey import JourneyModel
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec
from hourglass.model.referrals import ReferralSpec, sale_definition
from hourglass.model.spec import parse_time

from .data import DashboardSource
from .query import PageQuery, integer

__all__ = [
    "NONE",
    "People",
    "channel_frame",
    "channel_table",
    "journey_frame",
    "paths_table",
    "people_params",
    "who_context",
    "who_people",
]

Cached = Callable[[str, Hashable, Callable[[], Any]], Any]
NONE = "(none)"  # the channel of customers without one, as the channels table names it
END = "(end)"


@dataclass(frozen=True)
class People:
    """A list's title, its rows (pandas) and its parameters (the link and the CSV's)."""

    title: str
    frame: Any
    params: dict[str, str]
    shown: Callable[[Any], Any] | None = None  # the rows as shown (names for values): of a page only

    def rows(self, start: int | None = None, stop: int | None = None) -> Any:
        """Rows ``start``..``stop`` as shown (all: the CSV)."""
        part = self.frame.iloc[start:stop]
        return part if self.shown is None else self.shown(part)


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


def journey_frame(
    src: DashboardSource, q: PageQuery, params: Mapping[str, str], paths: Mapping[str, Any], cached: Cached
) -> People:
    """A Sankey node (``node``, ``node_step``) or a transition (``move_from``, ``move_to``; the
    end: ``move_to=(end)``) of the journeys page's model and dates. ``paths``: the page's paths
    (its top paths and Sankey); a node's people are read from the per-customer paths, which the
    engine computes once per model, dates, depth and anchor (then any node is a filter)."""
    jm = load_model(q.model, src.config)
    since, until = parse_time(q.since, what="since"), parse_time(q.until, what="until")
    chosen = people_params(params)
    if "node" in chosen:
        node = _stage(jm, chosen["node"], "node")
        step = integer(params, "node_step", 1, 1, 64, "HG109")
        spec, table = paths_table(src, q, cached)
        title = f"customers of the top paths at step {step}: {node}"
        chosen_params = {"node": node, "node_step": str(step)}
        if isinstance(table, CustomerPaths):
            return _node_people(src, jm, spec, table, paths, step, node, title, chosen_params)
        frame = _on_top_paths(table, jm, spec.steps, spec.direction == "reverse", paths, step, node)
        cols = [f"p{i}" for i in range(spec.steps)]

        def shown(part: Any) -> Any:
            named = [_names(jm, part[c]) for c in cols]
            out = part[["customer"]].copy()
            out["path"] = [" \u2192 ".join(n for n in path if n) for path in zip(*named, strict=True)]
            out["goes_on"] = part["more"].astype(bool)
            return out

        return People(title, frame.reset_index(drop=True), chosen_params, shown)
    if "move_from" in chosen:
        source = _stage(jm, chosen["move_from"], "move_from")
        raw_to = chosen.get("move_to") or END
        target = None if raw_to == END else _stage(jm, raw_to, "move_to")
        tspec = TransitionsSpec.build(jm, level="stage", collapse=True, since=since, until=until)
        what = "whose journey ended at " + source if target is None else f"who went from {source} to {target}"
        chosen_params = {"move_from": source, "move_to": raw_to}
        index = {s.name: i + 1 for i, s in enumerate(jm.stages)}
        to = None if target is None else index[target]
        fast = src.run(lambda: transition_people_np(src.events, tspec, index[source], to))
        if fast is not None:  # the numpy kernels (engine/paths_people.py): ids decoded for the rows shown
            return _moves_people(src, fast, f"customers {what}", chosen_params)
        expr = transition_people(tspec, src.events.table, source, target)
        frame = src.run(lambda: src.events.engine.execute(expr))
        out = frame[["customer", "moves"]].copy()
        import pandas as pd

        out["first_move_at"] = pd.to_datetime(frame["first_at"], unit="us") if len(frame) else []
        return People(f"customers {what}", out, chosen_params)
    raise _bad(
        "people: say which number (a Sankey node or a transition)",
        "click a node of the paths or a cell of the transitions, or give node and node_step, or "
        "move_from and move_to",
    )


def paths_table(src: DashboardSource, q: PageQuery, cached: Cached) -> tuple[PathsSpec, Any]:
    """The paths' spec of the journeys page and its per-customer paths, computed by the engine once
    per model, dates, depth and anchor (then any Sankey node's people are a filter of it): on the
    fast path's numpy kernels (engine/paths_people.py ``CustomerPaths``, in the store's key order:
    10M events 8.9 -> 1.1 CPU-s, bench/PEOPLE.md), else analyses/people.py's expression executed
    (a frame: ``customer``, ``p0`` .., ``more``)."""
    jm = load_model(q.model, src.config)
    since, until = parse_time(q.since, what="since"), parse_time(q.until, what="until")
    spec = PathsSpec.build(
        jm, level="stage", depth=q.depth, top=q.top, collapse=True,
        start=q.start or None, end=q.end or None, since=since, until=until,
    )  # fmt: skip

    def compute() -> Any:
        # the fast path's elements and numpy order (engine/paths_people.py), else the portable plan
        fast = customer_paths_np(src.events, spec)
        if fast is not None:
            return fast
        # keyed() reads the source (DESCRIBE): under src.run's lock like every query on its connection
        k = keyed(src.events, model_reads(jm))
        if k is None:
            expr = paths_per_customer(spec, src.events.table)
        else:  # a store: on the integer customer keys, the ids decoded at the end (as channel_table)
            expr = decoded(paths_per_customer(spec, k.table), k.ids)
        return src.events.engine.execute(expr)

    table = cached(
        "paths-customers",
        (q.model, q.since, q.until, q.depth, q.start, q.end),
        lambda: src.run(compute),
    )
    return spec, table


def _moves_people(src: DashboardSource, fast: CustomerMoves, title: str, params: dict[str, str]) -> People:
    """A transition cell's people from the numpy kernels, in the store's key order: the ids and
    times put on the rows shown only."""
    import numpy as np
    import pandas as pd

    def shown(part: Any) -> Any:
        picked = part["row"].to_numpy()
        return pd.DataFrame(
            {
                "customer": decode_keys(src.events, fast.keys[picked]),
                "moves": fast.moves[picked],
                "first_move_at": pd.to_datetime(fast.first_at[picked], unit="us"),
            }
        )

    return People(title, pd.DataFrame({"row": np.arange(len(fast.keys))}), params, shown)


def _top_rows(
    jm: JourneyModel, steps: int, reverse: bool, paths: Mapping[str, Any], step: int
) -> tuple[list[list[int]], int]:
    """``paths``' top paths as the per-customer rows hold them (1-based stages, -1 past the end;
    a reverse path, up to its ``to`` stage, right-aligned on the longest top path) and the column
    of the Sankey's ``step``: column ``s`` is ``p{width - s}`` (reverse) or ``p{s - 1}``."""
    index = {s.name: i + 1 for i, s in enumerate(jm.stages)}
    tops = []
    for p in paths.get("top") or []:
        values = [index[str(n)] for n in p["path"]]
        values = values[::-1] if reverse else values
        tops.append(values + [-1] * (steps - len(values)))
    nodes = (paths.get("sankey") or {}).get("nodes") or []
    width = max((int(n["step"]) for n in nodes), default=0)
    return tops, width - step if reverse else step - 1


def _on_top_paths(
    table: Any, jm: JourneyModel, steps: int, reverse: bool, paths: Mapping[str, Any], step: int, node: str
) -> Any:
    """The customers (rows of the per-customer paths) on one of ``paths``' top paths whose node at
    the Sankey's column ``step`` is ``node`` (:func:`_top_rows`)."""
    import pandas as pd

    tops, at = _top_rows(jm, steps, reverse, paths, step)
    index = {s.name: i + 1 for i, s in enumerate(jm.stages)}
    cols = [f"p{i}" for i in range(steps)]
    if not tops or not 0 <= at < steps:
        return table.iloc[0:0]
    keys = table[cols].fillna(-1).astype("int64")
    on_top = keys.merge(pd.DataFrame(tops, columns=cols).drop_duplicates(), how="left", indicator=True)
    keep = (on_top["_merge"] == "both").to_numpy() & (keys[f"p{at}"] == index[node]).to_numpy()
    return table.loc[keep].sort_values("customer", kind="stable")


def _node_people(
    src: DashboardSource,
    jm: JourneyModel,
    spec: PathsSpec,
    table: CustomerPaths,
    paths: Mapping[str, Any],
    step: int,
    node: str,
    title: str,
    params: dict[str, str],
) -> People:
    """A Sankey node's people from the per-customer paths of the numpy kernels: the rows are a
    filter of them (in the store's key order), the ids and the stages' names put on the rows
    shown only (a page; all of them for the CSV)."""
    import numpy as np
    import pandas as pd

    tops, at = _top_rows(jm, spec.steps, spec.direction == "reverse", paths, step)
    index = {s.name: i + 1 for i, s in enumerate(jm.stages)}
    rows = table.on_paths(tops, at, index[node])
    frame = pd.DataFrame({"row": rows})
    names = [s.name for s in jm.stages]

    def shown(part: Any) -> Any:
        picked = part["row"].to_numpy()
        ids = decode_keys(src.events, table.keys[picked])
        paths, inverse = table.distinct_paths(picked)
        named = np.array(
            [" \u2192 ".join(names[v - 1] for v in r if v > 0) for r in paths.tolist()], dtype=object
        )
        return pd.DataFrame({"customer": ids, "path": named[inverse], "goes_on": table.more[picked]})

    return People(title, frame, params, shown)


def channel_table(
    src: DashboardSource, q: PageQuery, cached: Cached, stage: str | None = None
) -> tuple[JourneyModel, Any]:
    """The hourglass page's model (its goal the sale) and every customer with his channel, purchaser
    flag and stages (``s0`` ..), computed by the engine once per model, goal and dates."""
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

    def compute() -> Any:
        # a store's range: from its numpy arrays, the ids by key (engine/range_frames.py, H's)
        found = channel_arrays(src.events, jm, "channel", spec.since, spec.until)
        if found is not None:
            return found
        # keyed() reads the source (DESCRIBE): under src.run's lock like every query on its connection
        k = keyed(src.events, model_reads(jm, "channel"))
        if k is None:
            expr = channel_customers(spec, src.events.table, jm)
        else:  # a store: the channels' own plan on the integer customer keys, the ids decoded at the end
            sale = sale_definition(jm, None)
            cust = channel_plan(
                spec, k.table, jm, sale.step, None, ReferralSpec(), k.ids, one_pass=True
            ).customers
            flags = [f"s{i}" for i in range(len(jm.stages))]
            expr = decoded(cust.select("customer", "channel", "purchaser", *flags), k.ids)
        return src.events.engine.execute(expr)

    table = cached("channel-customers", (q.model, q.goal, q.since, q.until), lambda: src.run(compute))
    return jm, table


def channel_frame(
    src: DashboardSource, q: PageQuery, channel: str, stage: str | None, cached: Cached
) -> People:
    """The customers a channel acquired (``(none)``: without a channel), and with ``stage`` only
    those who entered it: the channels table's cell, for the page's model and dates. The customers'
    channels and stages are computed by the engine once per model, goal and dates."""
    jm, table = channel_table(src, q, cached, stage)
    names = [s.name for s in jm.stages]
    keep = table["channel"].isna() if channel == NONE else table["channel"] == channel
    if stage:
        keep &= table[f"s{names.index(stage)}"] == 1
    frame = table.loc[keep].sort_values("customer", kind="stable").reset_index(drop=True)

    def shown(part: Any) -> Any:
        out = part[["customer", "channel"]].copy()
        out["purchaser"] = part["purchaser"].astype(bool)
        flags = part[[f"s{i}" for i in range(len(names))]].to_numpy()
        out["stages_entered"] = [
            ", ".join(n for n, f in zip(names, row, strict=True) if f == 1) for row in flags
        ]
        return out

    title = f"customers acquired by {channel}" + (f" who entered {stage}" if stage else "")
    return People(title, frame, {"channel": channel} | ({"stage": stage} if stage else {}), shown)


def who_people(
    src: DashboardSource, q: PageQuery, params: dict[str, str], where: str, cached: Cached
) -> People:
    """The people behind a channel cell (``where="channels"``) or a Sankey node or transition cell
    of the journeys page, cached per page query and chosen cell."""
    from .pages import all_paths, top_paths

    chosen = people_params(params)
    key = (where, q.key(), tuple(sorted(chosen.items())))
    if where == "channels":
        stage = chosen.get("stage")
        return cached(  # type: ignore[no-any-return]
            "who", key, lambda: channel_frame(src, q, chosen.get("channel", ""), stage, cached)
        )
    paths: dict[str, Any] = {}
    if "node" in chosen:  # the page's top paths and Sankey columns
        paths = top_paths(all_paths(src, q, cached), q.top).to_dict()
    return cached("who", key, lambda: journey_frame(src, q, params, paths, cached))  # type: ignore[no-any-return]


def who_context(people: People, q: PageQuery, where: str, page: int, per_page: int) -> dict[str, Any]:
    """who.html's context: a page of ``people``."""
    from urllib.parse import urlencode

    total = len(people.frame)
    return {
        "title": people.title,
        "total": total,
        "rows": people.rows((page - 1) * per_page, page * per_page).to_dict(orient="records"),
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "query": urlencode({**q.params(), **people.params}),
        "base": "/journeys/people" if where == "journeys" else "/lifecycle/channel",
        "model_query": urlencode({k: v for k, v in q.params().items() if k in ("model", "goal")}),
        "first": (page - 1) * per_page + 1,
    }
