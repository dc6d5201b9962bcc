"""Matching events to steps, the canonical order and exclusion epochs (docs/semantics.md, "Steps")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
from ibis.common.exceptions import IbisTypeError

from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SchemaError, SpecError
from hourglass.model.steps import Filter, Step

__all__ = ["EPOCH_US", "annotate", "bit", "in_period", "micros", "micros_of", "step_predicate"]

EPOCH_US = ibis.timestamp("1970-01-01 00:00:00")


def micros(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Integer microseconds since 1970-01-01 (all window arithmetic uses these)."""
    return ts.delta(EPOCH_US, unit="microsecond")


def micros_of(value: datetime) -> int:
    """A naive UTC datetime as integer microseconds since 1970-01-01 (a literal for ``micros``)."""
    return (value - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def in_period(events: ir.Table, since: datetime | None, until: datetime | None) -> ir.Table:
    """The events with ``since <= timestamp < until`` (either bound optional)."""
    if since is not None:
        events = events.filter(micros(events.timestamp) >= micros_of(since))
    if until is not None:
        events = events.filter(micros(events.timestamp) < micros_of(until))
    return events


def _regex(pattern: str) -> str:
    """A glob (``*`` any run, ``?`` one character) as an anchored regular expression."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return "^" + "".join(parts) + "$"


def _filter(f: Filter, t: ir.Table) -> ir.BooleanValue:
    if f.column not in t.columns:
        raise SchemaError(
            f"a step filter uses the column '{f.column}', which the events do not have"
            f"{did_you_mean(f.column, t.columns)}",
            code="HG306",
            hint="columns: " + ", ".join(t.columns),
        )
    col = t[f.column]
    value = f.value
    try:
        values = value if isinstance(value, tuple) else (value,)
        if col.type().is_numeric() and any(isinstance(v, str) for v in values):
            raise IbisTypeError("text compared with a number")  # the engine would fail on the cast
        if f.op in ("in", "not_in"):
            assert isinstance(value, tuple)
            cond = col.isin(list(value))
            expr = cond if f.op == "in" else ~cond
        else:
            ops = {
                "==": "__eq__",
                "!=": "__ne__",
                ">": "__gt__",
                ">=": "__ge__",
                "<": "__lt__",
                "<=": "__le__",
            }
            expr = getattr(col, ops[f.op])(value)
    except (IbisTypeError, TypeError):
        kind = _KINDS.get(type(col.type()).__name__, f"values of type {col.type()}")
        raise SpecError(
            f"the step filter '{f}' cannot compare the column '{f.column}' ({kind}) with "
            + ", ".join(repr(v) for v in values),
            code="HG103",
            hint=f"'{f.column}' holds {kind}: compare it with {kind} (or filter on another column)",
        ) from None
    return col.notnull() & expr


#: how a filter's error names a column's type
_KINDS = {
    **{n: "numbers" for n in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")},
    **{n: "numbers" for n in ("Float16", "Float32", "Float64", "Decimal")},
    "String": "text",
    "Boolean": "true or false",
    "Timestamp": "times",
    "Date": "dates",
}


def step_predicate(step: Step, t: ir.Table) -> ir.BooleanValue:
    """True where the event matches the step (a name/pattern, and every filter)."""
    names = [p for p in step.events if not any(c in p for c in "*?")]
    patterns = [p for p in step.events if any(c in p for c in "*?")]
    conds: list[ir.BooleanValue] = []
    if names:
        conds.append(t.event.isin(names))
    conds.extend(t.event.re_search(_regex(p)) for p in patterns)
    match = conds[0]
    for c in conds[1:]:
        match = match | c
    for f in step.where:
        match = match & _filter(f, t)
    return match


def bit(k: int) -> int:
    """The mask bit of step k (1-based)."""
    return 1 << (k - 1)


def annotate(
    events: ir.Table,
    steps: Sequence[Step],
    *,
    exclude: Sequence[str] = (),
    keep: Sequence[str] = (),
    tiebreak: str | Sequence[str] | None = None,
    matched_only: bool = True,
) -> ir.Table:
    """Per event: ``customer``, ``ts`` (µs), ``mask`` (matched steps), ``first`` (first matched step,
    n+1 for none), ``epoch`` (exclusion epoch) and ``pos`` (1-based position in the canonical order
    within the customer), plus the ``keep`` columns (``keep_<name>``). An excluded event matches no
    step. ``tiebreak`` (kept columns: ``by``, then ``hold``; NULL last) orders events equal on the
    canonical key. Keeps only matching events if ``matched_only``."""
    n = len(steps)
    excluded = events.event.isin(list(exclude)) if exclude else ibis.literal(False)
    preds = [step_predicate(s, events) & ~excluded for s in steps]
    flags = [p.ifelse(bit(k), 0) for k, p in enumerate(preds, start=1)]
    mask = flags[0]
    for f in flags[1:]:
        mask = mask + f
    first = ibis.cases(*[(p, k) for k, p in enumerate(preds, start=1)], else_=n + 1)
    cols: dict[str, ir.Value] = {
        "customer": events.customer,
        "event": events.event,
        "ts": micros(events.timestamp),
        "mask": mask.cast("int64"),
        "first": first.cast("int64"),
    }
    if exclude:
        cols["excluded"] = excluded
    for c in keep:
        cols[f"keep_{c}"] = events[c]
    t = events.select(**cols)
    if exclude:
        w = ibis.window(group_by=t.customer, order_by=t.ts, range=(None, 0))
        t = t.mutate(epoch=t.excluded.sum().over(w))
        # excluded events only set epochs; in strict_order they still break adjacency
        t = t.filter(~t.excluded).drop("excluded") if matched_only else t.drop("excluded")
    else:
        t = t.mutate(epoch=ibis.literal(0, "int64"))
    if matched_only:
        t = t.filter(t["mask"] > 0)
    order = [t.ts, t["first"], t["mask"], t.event]
    ties = [tiebreak] if isinstance(tiebreak, str) else list(tiebreak or ())
    for column in ties:  # NULL last, as the reference orders them
        order += [t[f"keep_{column}"].isnull(), t[f"keep_{column}"]]
    return t.mutate(pos=ibis.row_number().over(group_by=t.customer, order_by=order) + 1)
