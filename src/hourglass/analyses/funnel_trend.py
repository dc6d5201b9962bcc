"""The funnel per period of entry (docs/semantics-funnel-time.md): customers per step by the UTC day
of their best chain's entry, folded into days, weeks or months by the model layer. Never executes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir

from hourglass.analyses._match import micros, micros_of
from hourglass.analyses.funnel import funnel_plan
from hourglass.analyses.funnel_closed import best_chains
from hourglass.analyses.plan import Materialize, Plan, Rows
from hourglass.model.funnel_trend import FunnelTrend, check_period, check_view_spec, trend_from_days
from hourglass.model.spec import FunnelSpec

__all__ = ["DAY_US", "SharedChains", "chains", "chains_of", "counted", "entry_day", "trend_plan"]

DAY_US = 86_400 * 1_000_000
#: days added before the integer division so that times before 1970 (down to 1770) divide as after it
_SHIFT_DAYS = 73_000


def entry_day(ts_us: ir.IntegerValue) -> ir.IntegerValue:
    """The UTC day (days since 1970-01-01) of a time in µs, in integer arithmetic on every backend
    (``//`` compiles to FLOOR of a float division)."""
    x = ts_us + _SHIFT_DAYS * DAY_US
    whole = x - x % DAY_US  # a multiple of a day: exact as a double, so the division is too
    return (whole / DAY_US).round().cast("int64") - _SHIFT_DAYS


def chains(spec: FunnelSpec, events: ir.Table) -> ir.Table:
    """The customers with a chain (level >= 1) of the funnel's per-customer table (``level``,
    ``entry_ts``, ``t{k}``). Each view reads it in one query, so it is not materialised (a
    persisted DataFrame costs Spark more than the one query that reads it)."""
    per = funnel_plan(spec, events).customers if spec.open else best_chains(spec, events)
    return per.filter(per.level >= 1)


@dataclass(eq=False)
class SharedChains:
    """The funnel's chains (:func:`chains`) of ``spec`` on ``events``, built and materialised once for
    every plan that reads them: a plan's ``build`` calls it with its ``materialize``; the first call
    builds and materialises them (with ``fixed`` when given: a caller's own ``materialize``, whose
    table outlives one plan's run, so that several plans share it: the report's funnel over time and
    "why customers drop"), later calls with the same function get the same table."""

    spec: FunnelSpec
    events: ir.Table
    fixed: Materialize | None = None
    _held: list[Any] = field(default_factory=list, repr=False)

    def __call__(self, materialize: Materialize) -> ir.Table:
        use = self.fixed or materialize
        if not self._held or self._held[0] is not use:
            self._held[:] = [use, use(chains(self.spec, self.events))]
        return self._held[1]

    def fits(self, spec: FunnelSpec, events: ir.Table) -> bool:
        """Whether these are the chains of ``spec`` on ``events`` (else a plan builds its own)."""
        return self.spec == spec and (self.events is events or self.events.equals(events))


def chains_of(
    spec: FunnelSpec,
    events: ir.Table,
    materialize: Materialize,
    *,
    shared: bool = False,
    chain: SharedChains | None = None,
) -> ir.Table:
    """A plan's chains table: ``chain``'s when it holds the chains of ``spec`` on ``events``, else
    :func:`chains` (materialised with ``shared``)."""
    if chain is not None and chain.fits(spec, events):
        return chain(materialize)
    return materialize(chains(spec, events)) if shared else chains(spec, events)


def counted(spec: FunnelSpec, per: ir.Table, k: int) -> ir.BooleanValue:
    """Whether the funnel counts the customer at step k: ``level >= k`` for a required step, the
    chain's ``o{k}`` flag for an optional one (docs/semantics.md, optional steps)."""
    return per[f"o{k}"] if spec.steps[k - 1].optional else per.level >= k


def trend_plan(
    spec: FunnelSpec,
    events: ir.Table,
    period: str = "week",
    *,
    shared: bool = False,
    chain: SharedChains | None = None,
) -> Plan[FunnelTrend]:
    """Customers at each step per period of entry; ``as_of`` is the log's last event time (the
    completeness of the last periods is judged against it). ``shared``: the chains table is
    materialised; ``chain``: the chains shared with other plans (analyses/funnel_time.py
    ``trend_time_plan``)."""
    check_period(period)
    check_view_spec(spec, "trend")
    n = len(spec.steps)

    def build(materialize: Materialize) -> Mapping[str, ir.Expr]:
        per = chains_of(spec, events, materialize, shared=shared, chain=chain)
        per = per.mutate(day=entry_day(per.entry_ts))
        aggs = {f"c{k}": counted(spec, per, k).ifelse(1, 0).sum() for k in range(1, n + 1)}
        return {
            "days": per.group_by("day").aggregate(**aggs),
            "as_of": micros(events.timestamp).max(),
        }

    def assemble(rows: Rows) -> FunnelTrend:
        as_of = rows["as_of"][0]["value"] if rows["as_of"] else None
        return trend_from_days(
            [(s.name, s.label) for s in spec.steps],
            rows["days"],
            period=period,
            window=spec.window,
            as_of=None if as_of is None else int(as_of),
            since=None if spec.since is None else micros_of(spec.since),
            optional=[s.optional for s in spec.steps],
            until=None if spec.until is None else micros_of(spec.until),
        )

    return Plan(build, assemble)
