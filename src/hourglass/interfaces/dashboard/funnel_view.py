"""The funnel builder's result and the people behind a step: thin wrappers of ``api.funnel`` and
of the funnel plan's per-customer table (the engine filters and pages; the browser never counts).

A breakdown shows the ``top`` groups with the most customers at the first step and one "(other)"
group: a customer is in exactly one group (docs/semantics.md, ``--by``), so the other group's
counts are the sums of the rest, exactly; its times are not measured (medians do not add up)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hourglass.interfaces import api
from hourglass.interfaces.overview_api import breakdown_funnel
from hourglass.model.errors import SpecError
from hourglass.model.results import FunnelGroup, FunnelResult, StepCounts, step_rows
from hourglass.model.steps import parse_filter

from .data import DashboardSource
from .query import FunnelQuery

__all__ = ["NULL", "OTHER", "FunnelGroupRows", "FunnelView", "compute_funnel", "levels_table", "people_frame"]

OTHER = "(other)"
NULL = "(null)"
KINDS = ("reached", "dropped")
TIME_REASON = "medians do not add up across groups: pick a value in the breakdown, or raise top"


@dataclass(frozen=True)
class FunnelGroupRows:
    label: str  # what is shown (a value, "(null)", "(other)", "" without a breakdown)
    group: str | None  # the people views' ``group`` parameter
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class FunnelView:
    query: FunnelQuery
    result: FunnelResult
    by: str | None  # the canonical column
    steps: list[str]
    labels: list[str]
    groups: list[FunnelGroupRows]
    top_values: tuple[Any, ...]  # the values shown on their own (the rest is "(other)")
    notes: list[str]


def _label(value: Any) -> str:
    return NULL if value is None else str(value)


def _summed(groups: Sequence[FunnelGroup]) -> tuple[StepCounts, ...]:
    first = groups[0].steps
    out = []
    for k, s in enumerate(first):
        cont = [g.steps[k].continued for g in groups]
        out.append(
            StepCounts(
                step=s.step,
                customers=sum(g.steps[k].customers for g in groups),
                label=s.label,
                continued=None if all(c is None for c in cont) else sum(c or 0 for c in cont),
            )
        )
    return tuple(out)


def _other_rows(
    groups: Sequence[FunnelGroup], open_funnel: bool, unmeasured: Sequence[str | None]
) -> list[dict[str, Any]]:
    rows = step_rows(_summed(groups), open_funnel=open_funnel, unmeasured=unmeasured)
    for i, row in enumerate(rows):
        if i:
            row["median_time_from_previous_s_reason"] = TIME_REASON
            row["p90_time_from_previous_s_reason"] = TIME_REASON
    return rows


def funnel_kwargs(src: DashboardSource, q: FunnelQuery) -> dict[str, Any]:
    """``api.funnel``'s arguments for the query: with property filters, the steps (or the model's
    stages) with the filters added to each step's own."""
    kwargs = q.api_kwargs()
    if q.where:
        filters = tuple(parse_filter(w) for w in q.where)
        spec = api.build_spec(kwargs.pop("steps"), model=kwargs.pop("model"), config=src.config)
        kwargs["steps"] = [dataclasses.replace(s, where=s.where + filters) for s in spec.steps]
        kwargs["model"] = None
    return kwargs


def compute_funnel(src: DashboardSource, q: FunnelQuery) -> FunnelView:
    by = api.by_column(src.events, q.by) if q.by else None
    kwargs = funnel_kwargs(src, q)
    if by:  # the scan where a customer has one value (overview_api.py), else the fast path's joins
        result = src.run(lambda: breakdown_funnel(src.events, by, config=src.config, **kwargs))
    else:
        result = src.run(lambda: api.funnel(src.events, config=src.config, **kwargs))
    steps = [s.step for s in result.steps] or (
        [s.step for s in result.groups[0].steps] if result.groups else []
    )
    first = result.groups[0].steps if result.groups else result.steps
    labels = [s.label or s.step for s in first]
    groups: list[FunnelGroupRows] = []
    top_values: tuple[Any, ...] = ()
    missing = result.unmeasured_at()  # a step no event matches: not measured, never 0 (ADR 0006)
    if result.breakdown is None:
        groups.append(
            FunnelGroupRows(
                "", None, step_rows(result.steps, open_funnel=result.open_funnel, unmeasured=missing)
            )
        )
    else:
        shown, rest = list(result.groups[: q.top]), list(result.groups[q.top :])
        top_values = tuple(g.value for g in shown)
        for g in shown:
            rows = step_rows(g.steps, open_funnel=result.open_funnel, unmeasured=missing)
            groups.append(FunnelGroupRows(_label(g.value), _label(g.value), rows))
        if rest:
            groups.append(FunnelGroupRows(OTHER, OTHER, _other_rows(rest, result.open_funnel, missing)))
    notes = [str(n) for n in result.meta.get("notes", [])]
    return FunnelView(q, result, by, steps, labels, groups, top_values, notes)


def _bad(what: str, hint: str) -> SpecError:
    return SpecError(what, code="HG109", hint=hint)


def levels_table(src: DashboardSource, view: FunnelView) -> Any:
    """Every customer of the funnel with his level (open funnels: ``r{j}``/``k{j}``) and group, as
    the engine computes them for the same spec (``api.funnel_levels``; one run per funnel, then
    filtered)."""
    kwargs = funnel_kwargs(src, view.query)
    return src.run(lambda: api.funnel_levels(src.events, by=view.by or None, config=src.config, **kwargs))


def people_frame(levels: Any, view: FunnelView, step: int, kind: str, group: str | None) -> Any:
    """The customers behind a number of step ``step`` (1-based): ``reached`` (those it counts: an
    optional step's, those it counted for on their chain), or ``dropped`` (the number shown after
    it: those who reached the last required step up to it and not the next step). Under ``--count
    totals`` with ``chains``: each customer's chains counted there (their sum is the number). In one
    breakdown group (a value, ``(null)`` or ``(other)``); by customer id."""
    n = len(view.steps)
    if not 1 <= step <= n:
        raise _bad(f"step: no step {step} in a funnel of {n} steps", f"give step as a number from 1 to {n}")
    if kind not in KINDS:
        raise _bad(f"kind: '{kind}' is neither reached nor dropped", "give kind=reached or kind=dropped")
    if kind == "dropped" and step == n:
        raise _bad("nobody drops after the last step", "pick an earlier step, or kind=reached")
    if group is not None and view.by is None:
        raise _bad("group: the funnel has no breakdown", "add by=COLUMN, or drop group")
    first = view.result.groups[0].steps if view.result.groups else view.result.steps
    if kind == "dropped" and first[step].optional:
        raise _bad(
            f"step {step + 1} ({view.labels[step]}) is optional: skipping it loses no one, "
            "nobody dropped there",
            "click the number of a required step",
        )
    if view.query.count == "totals":
        return _chains(levels, step, kind)
    if view.query.open:
        keep = levels[f"r{step}"].fillna(False).astype(bool)
        if kind == "dropped":
            keep &= ~levels[f"k{step + 1}"].fillna(False).astype(bool)
    elif kind == "reached":
        keep = levels[f"o{step}"].astype(bool) if first[step - 1].optional else levels["level"] >= step
    else:  # reached the last required step up to ``step`` and not the next (required) one
        last = max(k for k in range(1, step + 1) if not first[k - 1].optional)
        keep = levels["level"] == last
    if group is not None:
        by = levels["by"]
        if group == OTHER:
            shown = [v for v in view.top_values if v is not None]
            rest = ~by.isin(shown) & by.notna()
            keep &= rest | by.isna() if None not in view.top_values else rest
        elif group == NULL:
            keep &= by.isna()
        else:
            if group not in {_label(g.value) for g in view.result.groups}:
                raise _bad(f"group: no group '{group}' in the breakdown by {view.by}", "click a bar or a row")
            keep &= by.notna() & (by.astype(str) == group)
    out = levels.loc[keep, [c for c in ("customer", "level", "by") if c in levels.columns]]
    return out.sort_values("customer", kind="stable").reset_index(drop=True)


def _chains(levels: Any, step: int, kind: str) -> Any:
    """``--count totals``: the customers with chains counted at ``step`` (``reached``) or lost after
    it (``dropped``: his step-``step`` events minus his next step's), with ``chains``: how many."""
    chains = levels[f"n{step}"] - (levels[f"n{step + 1}"] if kind == "dropped" else 0)
    out = levels.loc[chains > 0, ["customer", "level"]].assign(chains=chains[chains > 0].astype("int64"))
    return out.sort_values("customer", kind="stable").reset_index(drop=True)
