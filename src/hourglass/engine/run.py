"""Running analyses: the engine's chokepoint between Ibis expressions and result objects.

Imported without Ibis (:func:`funnel_result` serves engine/quick.py's funnel too): the analyses, the
loaded events and Ibis itself are imported by the functions that use them."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from hourglass.engine._values import number
from hourglass.model.errors import UnsupportedError
from hourglass.model.results import FunnelGroup, FunnelResult, StepCounts
from hourglass.model.spec import FunnelSpec

if TYPE_CHECKING:
    from hourglass.engine.load import Events

__all__ = ["funnel_result", "run_funnel", "run_funnel_levels", "to_sql"]


def _counts(spec: FunnelSpec, row: dict[str, Any]) -> tuple[StepCounts, ...]:
    out = []
    for k, step in enumerate(spec.steps, start=1):
        out.append(
            StepCounts(
                step=step.name,
                label=step.label,
                customers=int(row.get(f"c{k}") or 0),
                continued=int(row.get(f"k{k}") or 0) if spec.open and k > 1 else None,
                median_time_s=number(row.get(f"med{k}")),
                p90_time_s=number(row.get(f"p90{k}")),
                optional=step.optional,
            )
        )
    return tuple(out)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _plan(events: Events, spec: FunnelSpec, plan: str | None) -> tuple[str, str | None]:
    """The plan (``fast`` or ``portable``: engine/fastpath.py decides) and, for the portable plan,
    why (``meta.plan_reason``): what the fast path does not answer, else that the portable plan was
    asked for."""
    from hourglass.engine.fastpath import PLAN_ENV, _why_not, plan_for

    chosen = plan_for(events, spec, plan)  # an unknown plan is HG109; a forced fast one that cannot: HG520
    if chosen == "fast":
        return chosen, None
    why = _why_not(events, spec)
    if why is not None:
        return chosen, f"the fast path does not answer {why}"
    return chosen, f"{PLAN_ENV}=portable" if plan is None else "plan='portable' was asked"


#: above this many required steps, DuckDB plans the portable funnel without its filter pushdown
PUSHDOWN_STEPS = 8


@contextlib.contextmanager
def _planner_for(events: Events, spec: FunnelSpec) -> Iterator[None]:
    """DuckDB's filter pushdown takes time exponential in the nesting of the ordered plan's window
    passes (one per step: planning 12 steps took 8 s, 16 steps 150 s; without it 0.2 s), so a
    funnel of more than PUSHDOWN_STEPS required steps is planned without it (its filters stay where
    the plan puts them); the setting is restored after."""
    if events.engine.name != "duckdb" or len(spec.required) <= PUSHDOWN_STEPS:
        yield
        return
    con = events.engine.con
    before = con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchone()[0]
    off = ",".join(x for x in (before or "", "filter_pushdown") if x)
    con.raw_sql(f"SET disabled_optimizers = '{off}'")
    try:
        yield
    finally:
        con.raw_sql(f"SET disabled_optimizers = '{before or ''}'")


def run_funnel(
    events: Events,
    spec: FunnelSpec,
    meta: dict[str, Any] | None = None,
    *,
    plan: str | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> FunnelResult:
    """The funnel's result. ``plan``: ``auto`` (default; or $HOURGLASS_PLAN) takes the DuckDB fast
    path when it can answer the spec (engine/fastpath.py), else the portable Ibis plan; ``portable``
    forces the latter; ``fast`` raises where the fast path cannot run. ``rows``: the fast path's
    summary rows computed already (engine/funnel_batch.py: several funnels reading a store once)."""
    from hourglass.engine.fastpath import fast_funnel

    chosen, reason = ("fast", None) if rows is not None else _plan(events, spec, plan)
    if rows is not None:
        raw = rows
    elif chosen == "fast":
        raw = fast_funnel(events, spec)
    else:
        from hourglass.analyses.funnel import funnel_plan  # the portable plan's imports, not the fast path's

        with _planner_for(events, spec):
            raw = events.engine.execute(funnel_plan(spec, events.table).summary).to_dict("records")
    info = {
        "engine": events.engine.name,
        "plan": chosen,
        "plan_reason": reason,
        "spec": spec.describe(),
        "source": events.report.source,
        "duplicates_collapsed": events.report.duplicates_collapsed,
        **(meta or {}),
    }
    return funnel_result(spec, raw, info, lambda totals: _missing(events, spec, totals))


def funnel_result(
    spec: FunnelSpec,
    raw: list[dict[str, Any]],
    info: dict[str, Any],
    missing: Callable[[tuple[StepCounts, ...]], tuple[str, ...]],
) -> FunnelResult:
    """The result of the summary rows ``raw`` (``c{k}``, ``med{k}``, ``p90{k}``, and ``by``; one row
    per ``by`` value) with ``info`` as its meta; ``missing(totals)``: the steps no event matches by
    name."""
    rows = [{k: _plain(v) for k, v in r.items()} for r in raw]
    if not spec.by:
        steps = _counts(spec, rows[0] if rows else {})
        return FunnelResult(steps, open_funnel=spec.open, meta=info, missing=missing(steps))
    groups = [FunnelGroup(r["by"], _counts(spec, r)) for r in rows]
    groups.sort(key=lambda g: (-g.steps[0].customers, g.value is None, str(g.value)))
    total = tuple(
        StepCounts(s.name, sum(g.steps[i].customers for g in groups), s.label, optional=s.optional)
        for i, s in enumerate(spec.steps)
    )
    return FunnelResult(
        total,
        open_funnel=spec.open,
        breakdown=spec.by,
        groups=tuple(groups),
        meta=info,
        missing=missing(total),
    )


def _missing(events: Events, spec: FunnelSpec, totals: tuple[StepCounts, ...]) -> tuple[str, ...]:
    """The steps no event of the source matches by name (not measured: docs/adr/0006). Asked only
    when a step has no customers at all: a step with customers has events matching its name (its
    ``where`` only narrows them), so nothing is missing (on a store too: the check's imports were
    ~7 ms of every fresh-process funnel). A step whose events exist but none passes its ``where``
    is a real zero."""
    if all(s.customers for s in totals):
        return ()
    from hourglass.engine.event_names import _matched  # the check of `funnel`'s notes

    flags = _matched(events, spec.steps, ())
    if flags is None:  # no events at all: nothing to tell a typo from
        return ()
    named = [flags.get(f"n{k}", flags[f"s{k}"]) for k in range(len(spec.steps))]
    return tuple(step.name for step, hit in zip(spec.steps, named, strict=True) if not hit)


def run_funnel_levels(events: Events, spec: FunnelSpec) -> Any:
    """Per-customer levels (pandas), for inspection and tests."""
    from hourglass.analyses.funnel import funnel_plan

    plan = funnel_plan(spec, events.table)
    if spec.open:
        return events.engine.execute(plan.customers)
    return events.engine.execute(plan.customers.select("customer", "level"))


def to_sql(expr: Any, dialect: str, table_name: str | None = None) -> str:
    """The SQL of ``expr`` for ``dialect``; with ``table_name``, the source table (a file's view, an
    in-memory table) is read as a table of that name with the source's columns, so that the SQL runs
    wherever such a table exists."""
    import ibis
    import ibis.expr.operations as ops

    from hourglass.engine import _lazy_ibis  # noqa: F401 - before a compiler is imported

    if table_name:
        sources = set(expr.op().find((ops.DatabaseTable, ops.InMemoryTable)))
        named = {t: ops.UnboundTable(name=table_name, schema=t.schema) for t in sources}
        expr = expr.op().replace(named).to_expr()
    if dialect == "pyspark":
        from ibis.backends.pyspark import Backend

        Backend.register_options()
    try:
        if dialect == "clickhouse":
            import ibis.backends.sql.compilers as sc

            from hourglass.engine.sql_clickhouse import clickhouse_sql

            compiler = sc.clickhouse.compiler
            return clickhouse_sql(compiler.to_sqlglot(expr.unbind()), compiler.dialect)
        return str(ibis.to_sql(expr, dialect=dialect))
    except ValueError as e:
        if "nknown dialect" not in str(e):
            raise
        raise UnsupportedError(
            f"unknown SQL dialect '{dialect}'",
            code="HG505",
            hint="e.g. duckdb, pyspark, clickhouse, postgres, snowflake, bigquery, trino",
        ) from None
