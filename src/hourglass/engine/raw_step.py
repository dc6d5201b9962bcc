"""The funnel scan's step index of a file's rows matched on the raw event text (issue 18, `wide`).

A file's canonical event is ``NULLIF(strip(raw), '')`` (ingest/normalize.py). Computed for every row
and then looked up among the steps' names, it costs as much as reading the text again on a log of
10^6 names (10M rows: 0.74 CPU-s against 0.39 for the lookup of the raw text). But ``strip`` runs its
regex only where :func:`~hourglass.ingest.normalize.blank_edge` holds, and where it does not the
canonical event *is* the raw text; so the step index is

    CASE WHEN blank_edge(raw) THEN position(NULLIF(regex(raw), '')) ELSE position(raw) END

the same for every row, the regex on the rows with a blank edge only. Exact when the table's event
is exactly that function of one raw text column (checked on the expression) and every step name is
its own canonical form (no blank edge: a raw value equal to it canonicalises to it); else None and
the caller keeps the canonical column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hourglass.engine._values import sql_literal as _literal
from hourglass.engine.raw_names import _canonical_event, raw_event_table
from hourglass.ingest.normalize import EDGE_SPACE, TRIM_PATTERN, blank_edge, strip

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["EDGE_COLUMN", "plain_name", "raw_step"]

#: the raw step table's column of ``blank_edge(event)``
EDGE_COLUMN = "__hg_edge"


def plain_name(name: str) -> bool:
    """Whether ``name`` is its own canonical form with no blank edge (``blank_edge`` false)."""
    return name >= "!" and not name.endswith(EDGE_SPACE)


def _position(steps: Sequence[Sequence[str]], col: str) -> str:
    """The step index (1..n, 0 for none) of the text ``col`` (engine/fastpath.py ``_step_index``)."""
    names = [_literal(n) for step in steps for n in step]
    index = [str(k) for k, step in enumerate(steps, start=1) for _ in step]
    pos = f"coalesce(list_position([{', '.join(names)}], {col}), 0)"
    if all(len(s) == 1 for s in steps):
        return pos
    return f"[0, {', '.join(index)}][{pos} + 1]"


def raw_step(table: ir.Table, steps: Sequence[Sequence[str]]) -> tuple[ir.Table, str] | None:
    """``table`` with its ``event`` the raw text and an :data:`EDGE_COLUMN`, and the SQL of the
    step index over it; None when that would not be exact (module doc)."""
    if not all(plain_name(n) for step in steps for n in step):
        return None
    found = _canonical_event(table)
    if found is None:
        return None
    field, expr = found
    if expr != strip(field.to_expr()).nullif("").op():
        return None
    raw = raw_event_table(table)
    if raw is None:  # (not reached: the same check)
        return None
    out = raw.mutate(**{EDGE_COLUMN: blank_edge(raw.event)})
    trimmed = f"NULLIF(REGEXP_REPLACE(event, {_literal(TRIM_PATTERN)}, '', 'g'), '')"
    step = f'CASE WHEN "{EDGE_COLUMN}" THEN {_position(steps, trimmed)} ELSE {_position(steps, "event")} END'
    return out, step
