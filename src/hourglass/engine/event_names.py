"""A model or funnel checked against the source's event names (docs/models.md, "The check"): a
stage or step that matches no event is a note with the closest names (the usual cause is a typo
or another shop's names, which a query cannot tell from a real zero), a model that matches no event
at all is an error; and the evidence ``hourglass models suggest`` drafts a model from."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

import ibis

from hourglass.analyses._match import step_predicate
from hourglass.analyses.event_profile import event_profile_expr
from hourglass.engine.errors import translated
from hourglass.engine.load import Events
from hourglass.engine.raw_names import known_counts, raw_names
from hourglass.model.errors import SpecError
from hourglass.model.event_stats import EventProfile, EventStat
from hourglass.model.journey import JourneyModel
from hourglass.model.results import FunnelResult
from hourglass.model.spec import FunnelSpec
from hourglass.model.steps import Step

__all__ = ["check_model_events", "event_profile", "missing_event_notes", "top_event_names"]

#: "did you mean" looks among at most this many names, the most common by customers (difflib over a
#: million names takes seconds per name); whether a name exists is decided by the engine, exactly
_MAX_NAMES = 10_000


def _glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?")


def top_event_names(events: Events, limit: int = _MAX_NAMES) -> list[tuple[str, int]]:
    """The source's event names with their customers, the most common first (ties by name)."""
    t = events.table
    expr = (
        t.group_by("event")
        .aggregate(customers=t.customer.nunique())
        .order_by([ibis.desc("customers"), "event"])
        .limit(limit)
    )
    with translated():
        df = events.engine.execute(expr)
    return [(str(e), int(c)) for e, c in zip(df["event"], df["customers"], strict=True) if e is not None]


def _pool(events: Events) -> tuple[list[str], bool]:
    """Names for "did you mean": a store's (free) when few enough, else the most common; and whether
    the source has more names than that (then :func:`_closest` looks further)."""
    if events.codes is not None and len(events.codes) <= _MAX_NAMES:
        return list(events.codes), False
    names = [name for name, _ in top_event_names(events)]
    return names, len(names) >= _MAX_NAMES


def _far_closest(events: Events, name: str) -> str | None:
    """The closest of all the source's names to ``name`` by edit distance (at most a third of its
    length, at least 2): past the most common names, where difflib would take seconds. One query
    over the source's distinct names."""
    k = max(2, len(name) // 3)
    t = events.table
    names = t.select(event=t.event.cast("string")).distinct()
    names = names.filter(names.event.notnull())
    near = names.filter((names.event.length() - len(name)).abs() <= k)
    near = near.mutate(d=near.event.levenshtein(ibis.literal(name)))
    best = near.filter(near.d <= k).order_by(["d", "event"]).limit(1).select("event")
    with translated():
        rows = events.engine.execute(best)
    return str(rows["event"].iloc[0]) if len(rows) else None


#: the last answer of :func:`_matched` (the funnel asks it for its result's unmeasured steps, then
#: for its notes): (a weak reference to the events it was for: holding them would keep their
#: connection, and a store attached to it, alive; the key; the flags), replaced as one tuple (the
#: dashboard's threads read it)
_LAST: tuple[Any, Any, dict[str, bool] | None] = (None, None, None)


def _matched(events: Events, steps: Sequence[Step], exclude: Sequence[str]) -> dict[str, bool] | None:
    """:func:`_matched_once`, asked once for the same events, steps and exclusions in a row."""
    global _LAST
    key = (id(events), tuple(repr(s) for s in steps), tuple(exclude))
    last_ref, last_key, last_flags = _LAST
    if last_ref is not None and last_ref() is events and last_key == key:
        return None if last_flags is None else dict(last_flags)
    flags = _matched_once(events, steps, exclude)
    _LAST = (weakref.ref(events), key, None if flags is None else dict(flags))
    return flags


def _matched_once(events: Events, steps: Sequence[Step], exclude: Sequence[str]) -> dict[str, bool] | None:
    """Per step (``s<k>``), its names alone for steps with filters (``n<k>``), and per excluded event
    (``x<j>``): does any event match? One aggregate query, or names alone on a store (its event
    names are known). None when the source has no events."""
    flags: dict[str, bool] = {}
    exprs: dict[str, Any] = {}
    t = events.table
    raw = None if events.codes is not None else _raw_codes(events, steps, exclude)
    if raw is not None and not raw[1]:
        return None
    codes = set(events.codes) if events.codes is not None else raw[0] if raw is not None else None
    for k, step in enumerate(steps):
        bare = Step(step.name, step.events)
        if codes is not None:
            by_name = any(
                any(fnmatchcase(c, p) for c in codes) if _glob(p) else p in codes for p in step.events
            )
            flags[f"n{k}"] = flags[f"s{k}"] = by_name
            if by_name and step.where:
                exprs[f"s{k}"] = step_predicate(step, t).any()
        else:
            exprs[f"s{k}"] = step_predicate(step, t).any()
            if step.where:
                exprs[f"n{k}"] = step_predicate(bare, t).any()
    for j, name in enumerate(exclude):
        if codes is not None:
            flags[f"x{j}"] = name in codes
        else:
            exprs[f"x{j}"] = (t.event == name).any()
    if exprs:
        exprs["rows"] = t.count()
        with translated():
            row = events.engine.execute(t.aggregate(**exprs)).iloc[0].to_dict()
        if not int(row.pop("rows") or 0):
            return None
        flags.update({k: bool(v) if v is not None and v == v else False for k, v in row.items()})
    elif events.codes is not None and not codes:
        return None
    return flags


def _raw_codes(events: Events, steps: Sequence[Step], exclude: Sequence[str]) -> tuple[set[str], int] | None:
    """The names of ``steps`` and ``exclude`` that occur and the source's rows, from the raw
    column's distinct values (engine/raw_names.py), when no step has a pattern; else None."""
    if any(_glob(p) for s in steps for p in s.events):
        return None
    names = [*dict.fromkeys([*(p for s in steps for p in s.events), *exclude])]
    # counted by the stage rows' own scan (engine/raw_stages.py), else the raw column's query
    got = known_counts(events, names) or raw_names(events, names)
    if got is None:
        return None
    return set(got.counts), got.rows


def _closest(patterns: Sequence[str], pool: Sequence[str], events: Events | None = None) -> str:
    """' (did you mean ...?)' with the closest name of ``pool`` to each pattern; ``events``: the pool
    is only the most common names, so a pattern with none close there is looked up among them all."""
    import difflib

    close: list[str] = []
    for p in patterns:
        bare = p.replace("*", "").replace("?", "")
        found = difflib.get_close_matches(bare, pool, n=1, cutoff=0.6)
        if not found and events is not None and bare:
            far = _far_closest(events, bare)
            found = [far] if far is not None else []
        close += found
    close = list(dict.fromkeys(close))
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)" if close else ""


def _listed(patterns: Sequence[str]) -> str:
    quoted = [f"'{p}'" for p in patterns]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _notes(
    events: Events, steps: Sequence[Step], exclude: Sequence[str], word: str
) -> tuple[list[str], int] | None:
    """The notes, and how many steps matched an event (None: the source has no events)."""
    flags = _matched(events, steps, exclude)
    if flags is None:
        return None
    matched = sum(flags[f"s{k}"] for k in range(len(steps)))
    missing = [k for k in range(len(steps)) if not flags[f"s{k}"]]
    missing_x = [e for j, e in enumerate(exclude) if not flags[f"x{j}"]]
    if not missing and not missing_x:
        return [], matched
    pool, more = _pool(events)
    further = events if more else None
    notes: list[str] = []
    for k in missing:
        step = steps[k]
        if step.where and flags[f"n{k}"]:
            where = " and ".join(str(f) for f in step.where)
            named = "matching" if all(_glob(p) for p in step.events) else "named"
            notes.append(f"{word} '{step.name}': events {named} {_listed(step.events)} are in the source, "
                         f"but none with {where}")  # fmt: skip
            continue
        what = "event matches" if all(_glob(p) for p in step.events) else "event named"
        close = _closest(step.events, pool, further)
        notes.append(f"{word} '{step.name}': no {what} {_listed(step.events)} in the source{close}")
    for name in dict.fromkeys(missing_x):
        notes.append(f"--exclude: no event named '{name}' in the source{_closest([name], pool, further)}")
    return notes, matched


def _source(events: Events) -> str:
    """The source as a command line names it (an in-memory table: SOURCE)."""
    kind = events.report.kind
    return events.report.source if kind not in ("memory", "ibis") and events.report.source else "SOURCE"


def _no_match(events: Events, model: JourneyModel) -> SpecError:
    top = top_event_names(events, 8)
    listed = ", ".join(f"{name} ({n:,})" for name, n in top)
    return SpecError(
        f"the model '{model.name}' matches no event of the source: none of its stages' events "
        f"({', '.join(e for s in model.stages for e in s.events[:2])}) occur in it",
        code="HG117",
        hint=f"the source's most common events (customers): {listed}. Draft a model from them: "
        f"hourglass models suggest {_source(events)} --out my_model.yaml, "
        "then --model my_model.yaml",
    )


def check_model_events(
    events: Events, model: JourneyModel, *, stages: Sequence[Step] | None = None, exclude: Sequence[str] = ()
) -> list[str]:
    """Notes for the stages (default: all the model's) that match no event of the source, with the
    closest names, and for ``exclude`` names it never has. Raises HG117 when no stage matches any
    event. One aggregate query (or none on a store); a second only when something is missing."""
    found = _notes(events, list(stages or model.stages), exclude, "stage")
    if found is None:
        return []
    notes, matched = found
    if not matched:
        raise _no_match(events, model)
    return notes + _suggest(events, len(stages or model.stages), matched)


def _suggest(events: Events, stages: int, matched: int) -> list[str]:
    """A pointer to ``models suggest`` when most stages match nothing (another shop's names)."""
    if 2 * matched > stages:
        return []
    return [
        f"{stages - matched} of the model's {stages} stages match no event of the source: draft a model "
        f"from its events with: hourglass models suggest {_source(events)} --out my_model.yaml"
    ]


def missing_event_notes(
    events: Events, spec: FunnelSpec, result: FunnelResult, *, model: JourneyModel | None = None
) -> list[str]:
    """The funnel's notes: one per step (a model's: stage) that matches no event, and per
    ``--exclude`` name the source never has. Steps are checked only when a step has no customers
    (a step that matches nothing has none) or on a store (names for free); HG117 when the steps are
    a model's stages and none matches."""
    steps = list(spec.steps) if events.codes is not None or _zero_steps(result) else []
    if not steps and not spec.exclude:
        return []
    found = _notes(events, steps, list(spec.exclude), "stage" if model else "step")
    if found is None:
        return []
    notes, matched = found
    if model is not None and steps and not matched:
        raise _no_match(events, model)
    return notes + (_suggest(events, len(steps), matched) if model is not None and steps else [])


def _zero_steps(result: FunnelResult) -> bool:
    """A step with no customers at all (with a breakdown: in no group)."""
    if not result.groups:
        return any(s.customers == 0 for s in result.steps)
    totals = [
        sum(group.steps[k].customers for group in result.groups) for k in range(len(result.groups[0].steps))
    ]
    return any(total == 0 for total in totals)


def event_profile(events: Events, top: int = 30) -> EventProfile:
    """The evidence for ``hourglass models suggest``: the ``top`` event names by customers."""
    with translated():
        df = events.engine.execute(event_profile_expr(events.table, top))
    rows = df.to_dict("records")
    stats = tuple(
        EventStat(
            event=str(r["event"]),
            events=int(r["events"]),
            customers=int(r["customers"]),
            first_customers=int(r["first_customers"]),
            position=None
            if r["position"] is None or r["position"] != r["position"]
            else float(r["position"]),
        )
        for r in rows
        if r["event"] is not None
    )
    first = rows[0] if rows else {}
    return EventProfile(
        stats,
        customers=int(first.get("all_customers") or 0),
        events=int(first.get("all_events") or 0),
        names=int(first.get("names") or 0),
        source=events.report.source,
    )
