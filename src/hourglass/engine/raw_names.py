"""The source's event names through its raw column's distinct values (a Parquet column's dictionary):
the canonical name (trimmed text, NULL when empty: ingest/normalize.py) is a function of one raw
column, so grouping the raw values first and canonicalising the few distinct ones answers "which
names occur, how often" without canonicalising every row (10M events, 18 names: 0.07 CPU-s against
0.36 for one predicate per stage over the canonical column). The model check (engine/event_names.py)
and the stage level of the journeys' fast path (engine/journeys_fast.py: the stage looked up on the
raw value, the filter pushed into the scan) read it.

Only when the canonical table's rows are the raw relation's one-to-one (no deduplication, no
filter) and its event a plain function of one raw text column; else None and the callers keep
their canonical-column queries.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from hourglass.engine.errors import translated
from hourglass.engine.load import Events
from hourglass.ingest.normalize import EDGE_SPACE, blank_edge, strip

__all__ = [
    "RawNames",
    "known_counts",
    "many_values",
    "raw_codes_sql",
    "raw_event_table",
    "raw_names",
    "remember_counts",
]


@dataclass(frozen=True)
class RawNames:
    """The raw values whose canonical names are among the names asked (``raw`` -> ``name``),
    each name's rows (``counts``, names that occur only) and the source's rows (``rows``)."""

    raw: dict[str, str]
    counts: dict[str, int]
    rows: int


def _canonical_event(table: ir.Table) -> tuple[ops.Field, ops.Value] | None:
    """The raw text field the canonical event is computed from, and that computation, when the
    table's rows are that field's relation's rows one-to-one; else None."""
    outer = table.op()
    if not isinstance(outer, ops.Project):
        return None
    ev = outer.values.get("event")
    inner = outer.parent
    if not isinstance(ev, ops.Field) or ev.rel is not inner or not isinstance(inner, ops.Project):
        return None
    expr = inner.values.get(ev.name)
    if expr is None or not expr.dtype.is_string():
        return None
    fields = set(expr.find(ops.Field, filter=lambda n: not isinstance(n, ops.Relation)))
    if len(fields) != 1:
        return None
    (field,) = fields
    if field.rel is not inner.parent or not field.dtype.is_string():
        return None
    bad = (ops.Reduction, ops.WindowFunction, ops.Analytic, ops.Subquery, ops.Impure)
    if expr.find(bad, filter=lambda n: not isinstance(n, ops.Relation)):
        return None
    return field, expr


def raw_event_table(table: ir.Table) -> ir.Table | None:
    """``table`` with its ``event`` column the raw value (untrimmed, empty text kept), or None
    (see the module's doc); rows and other columns unchanged."""
    found = _canonical_event(table)
    if found is None:
        return None
    field, expr = found
    out: ir.Table = table.op().replace({expr: field}).to_expr()
    return out


#: the last answer of :func:`raw_names` (the model check, then the journeys' fast path): (a weak
#: reference to the events, the names, the answer), replaced as one tuple
_LAST: tuple[Any, Any, RawNames | None] = (None, None, None)


def raw_names(events: Events, names: Sequence[str]) -> RawNames | None:
    """The raw values of ``names`` and each name's rows, from one query over the raw column's
    distinct values; None when the source is not of that form (module doc) or not on DuckDB."""
    global _LAST
    key = (id(events), tuple(names))
    ref, last_key, last = _LAST
    if ref is not None and ref() is events and last_key == key:
        return last
    got = _raw_names(events, names)
    _LAST = (weakref.ref(events), key, got)
    return got


#: the names that occur, counted by another scan of every row (engine/raw_stages.py's one scan),
#: for the model check's next :func:`known_counts`: (a weak reference to the events, the names,
#: the answer: its ``raw`` empty, not a lookup table), replaced as one tuple
_COUNTED: tuple[Any, Any, RawNames | None] = (None, None, None)


def remember_counts(events: Events, names: Sequence[str], got: RawNames) -> None:
    """Keep ``got`` (each of ``names`` that occurs, its rows, and the source's rows, counted over
    every row of ``events``) for :func:`known_counts`."""
    global _COUNTED
    _COUNTED = (weakref.ref(events), tuple(names), got)


def known_counts(events: Events, names: Sequence[str]) -> RawNames | None:
    """The counts :func:`remember_counts` kept for these events and these names (in any order),
    or None."""
    ref, kept, got = _COUNTED
    if (
        ref is None
        or ref() is not events
        or got is None
        or set(kept) != set(names)
        or len(kept) != len(names)
    ):
        return None
    return got


def many_values(events: Events) -> bool:
    """The source's raw event column has very many distinct values (:func:`_many_values`); False
    when engine/raw_names.py's form does not apply."""
    if events.engine.name != "duckdb":
        return False
    found = _canonical_event(events.table)
    if found is None:
        return False
    field = found[0]
    return _many_values(events, field.rel.to_expr(), field.name)


def _stored_names(events: Events, names: Sequence[str]) -> RawNames | None:
    """A store's names (written canonical; its rows ordered by event, so the filter reads only the
    names' row groups), when its event column is text (a store of too many names for an ENUM)."""
    keyed = events.keyed
    if keyed is None or events.codes is not None or not keyed.event.type().is_string():
        return None
    t = keyed.filter(keyed.event.isin(list(names))) if names else keyed.filter(ibis.literal(False))
    got = _fetch(events, t.group_by("event").aggregate(n=t.count()))
    counts = {str(e): int(n) for e, n in got}
    return RawNames({n: n for n in counts}, counts, max(events.report.rows, 0))


def _fetch(events: Events, expr: ir.Table) -> list[tuple[Any, ...]]:
    con = events.engine.con
    hook = getattr(con, "_run_pre_execute_hooks", None)
    if hook is not None:  # registers in-memory tables the expression may hold
        hook(expr)
    with translated():
        return list(con.con.execute(str(con.compile(expr))).fetchall())


def _raw_names(events: Events, names: Sequence[str]) -> RawNames | None:
    if events.engine.name != "duckdb":
        return None
    if events.report.kind == "store":
        return _stored_names(events, names)
    found = _canonical_event(events.table)
    if found is None:
        return None
    field, expr = found
    raw = field.rel.to_expr()
    none = ibis.null("string")
    if names and _many_values(events, raw, field.name):
        plain = _plain_filter(events, raw, field, expr, names)
        if plain is not None:
            return plain
        # 10^6 distinct values (the wide log): grouping them costs more than canonicalising each
        # row (10M rows, load 14: 1.7-2.2 CPU-s against 0.9); the other rows as one group
        t = raw.select(raw=raw[field.name], name=expr.to_expr())
        wanted = t.name.isin(list(names))
        keyed = t.mutate(raw=wanted.ifelse(t.raw, none), name=wanted.ifelse(t.name, none))
        expr_out = keyed.group_by(["raw", "name"]).aggregate(n=keyed.count())
    else:
        distinct = raw.group_by(__hg_raw=raw[field.name]).aggregate(__hg_n=raw.count())
        swapped = expr.replace({field: distinct.__hg_raw.op()}).to_expr()
        t = distinct.select(raw=distinct.__hg_raw, name=swapped, n=distinct.__hg_n)
        wanted = t.name.isin(list(names)) if names else ibis.literal(False)
        # the other values (10^6 on a wide log) as one row: only the source's rows are needed of them
        keyed = t.mutate(raw=wanted.ifelse(t.raw, none), name=wanted.ifelse(t.name, none))
        expr_out = keyed.group_by(["raw", "name"]).aggregate(n=keyed.n.sum())
    got = _fetch(events, expr_out)
    out_raw: dict[str, str] = {}
    counts: dict[str, int] = {}
    rows = 0
    for r, name, n in got:
        rows += int(n)
        if isinstance(name, str) and isinstance(r, str):
            out_raw[r] = name
            counts[name] = counts.get(name, 0) + int(n)
    return RawNames(out_raw, counts, rows)


def _plain_filter(
    events: Events, raw: ir.Table, field: ops.Field, expr: ops.Value, names: Sequence[str]
) -> RawNames | None:
    """The wide log's names without canonicalising every row: where the event is
    ``NULLIF(strip(raw), '')`` and every name is its own canonical form (no blank edge), a raw
    value canonicalises to a name exactly when it is that name or has a blank edge and its
    canonical text is the name (``strip`` changes only values with a blank edge: engine/raw_step.py).
    So the scan keeps the rows whose raw value is a name or has a blank edge (comparisons, not a
    regex per row) and groups those few (10M rows of 10^6 names, alternated, load 11: 0.88 against
    1.03 CPU-s); the source's rows from its validation (else one count). None when the form does
    not apply."""
    if expr != strip(field.to_expr()).nullif("").op():
        return None
    if not all(n >= "!" and not n.endswith(EDGE_SPACE) for n in names):
        return None
    v = raw[field.name]
    wanted = list(names)
    # the kept values grouped first, canonicalised after (the groups: the names and the values
    # with a blank edge; the regex on each group, not on each row)
    kept = raw.filter(v.isin(wanted) | blank_edge(v))
    grouped = kept.group_by(__hg_raw=kept[field.name]).aggregate(__hg_n=kept.count())
    swapped = expr.replace({field: grouped.__hg_raw.op()}).to_expr()
    t = grouped.select(raw=grouped.__hg_raw, name=swapped, n=grouped.__hg_n)
    got = _fetch(events, t.filter(t.name.isin(wanted)))
    rows = events.report.rows
    if rows < 0:
        rows = int(_fetch(events, raw.aggregate(n=raw.count()))[0][0])
    out_raw = {str(r): str(name) for r, name, _ in got}
    counts: dict[str, int] = {}
    for _, name, n in got:
        counts[str(name)] = counts.get(str(name), 0) + int(n)
    return RawNames(out_raw, counts, rows)


#: the rows sampled (the source's first) and the distinct raw values among them past which the
#: names are found row by row, not by grouping the distinct values (:func:`_many_values`)
_SAMPLE = 1 << 16
_MANY = 4096


def _many_values(events: Events, raw: ir.Table, column: str) -> bool:
    """The raw column has very many distinct values (more than ``_MANY`` among the first
    ``_SAMPLE`` rows): a log of 10^6 event names, whose column a Parquet writer no longer keeps as
    a dictionary. A heuristic of cost only (both forms give the same answer)."""
    sample = raw.select(v=raw[column]).limit(_SAMPLE)
    got = _fetch(events, sample.aggregate(n=sample.v.approx_nunique()))
    return bool(got) and int(got[0][0] or 0) > _MANY


def raw_codes_sql(events: Events) -> str | None:
    """SQL of ``raw`` (every raw event value whose canonical name is not null) and ``name`` (that
    name), in name order (DuckDB's), from the raw column's distinct values; None when the source is
    not of that form (module doc) or not on DuckDB."""
    if events.engine.name != "duckdb":
        return None
    found = _canonical_event(events.table)
    if found is None:
        return None
    field, expr = found
    raw = field.rel.to_expr()
    distinct = raw.select(__hg_raw=raw[field.name]).distinct()
    swapped = expr.replace({field: distinct.__hg_raw.op()}).to_expr()
    t = distinct.select(raw=distinct.__hg_raw, name=swapped)
    t = t.filter(t.name.notnull())
    base = str(events.engine.con.compile(t))
    return f"SELECT raw, name FROM ({base}) AS d ORDER BY name"
