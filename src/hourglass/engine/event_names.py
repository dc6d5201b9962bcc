"""Event names a funnel asks for that the source never has: the usual cause of a step with no
customers is a typo (``--steps visit,sigup``), which a query cannot tell from a real zero."""

from __future__ import annotations

from fnmatch import fnmatchcase

from hourglass.engine.errors import translated
from hourglass.engine.load import Events
from hourglass.model._suggest import did_you_mean
from hourglass.model.results import FunnelResult
from hourglass.model.spec import FunnelSpec

__all__ = ["missing_event_notes"]

#: At most this many distinct names are read for suggestions (a log with more has no typo we could
#: usefully point at).
_MAX_NAMES = 10_000


def _names(events: Events) -> list[str] | None:
    """The source's distinct event names (a store knows them), None when there are too many."""
    if events.codes is not None:
        return list(events.codes)
    t = events.table
    with translated():
        names = events.engine.execute(t.select("event").distinct().limit(_MAX_NAMES + 1))["event"]
    out = [str(n) for n in names if n is not None]
    return None if len(out) > _MAX_NAMES else out


def _zero_steps(result: FunnelResult) -> bool:
    """A step with no customers at all (with a breakdown: in no group)."""
    if not result.groups:
        return any(s.customers == 0 for s in result.steps)
    totals = [
        sum(group.steps[k].customers for group in result.groups) for k in range(len(result.groups[0].steps))
    ]
    return any(total == 0 for total in totals)


def missing_event_notes(events: Events, spec: FunnelSpec, result: FunnelResult) -> list[str]:
    """One note per step name or pattern that matches no event of the source, with the closest
    name. Read only when a step has no customers, or for free from a store."""
    if events.codes is None and not _zero_steps(result):
        return []
    names = _names(events)
    if names is None:
        return []
    notes: list[str] = []
    asked = [(f"step '{s.name}'", e) for s in spec.steps for e in s.events]
    asked += [("--exclude", e) for e in spec.exclude]
    for where, pattern in dict.fromkeys(asked):
        glob = any(c in pattern for c in "*?[")
        if any(fnmatchcase(n, pattern) for n in names) if glob else pattern in names:
            continue
        what = "event matches" if glob else "event named"
        notes.append(f"{where}: no {what} '{pattern}' in the source{did_you_mean(pattern, names)}")
    return notes
