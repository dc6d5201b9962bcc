"""A store's events with the integer customer key, for the lifecycle, the referral loop and the
channels (issues 12 and 18).

A store's ``events`` view decodes every row's customer key into its text id (a join of every
event with the customer table), and every per-customer GROUP BY, window and join then works on
text: at 10M events a per-customer aggregate of the decoded view took 1.7 s against 0.3 s on the
keys, a per-customer window 4.3 s against 1.1 s. The analyses are the same expressions either way
(grouping by the key equals grouping by the id: one key per id); given ``ids`` they map the
referrer ids to keys and decode only the customers they show (analyses/referrals.py). A file whose
customer ids are integers gets the same: its keys are the ids themselves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from hourglass.engine.load import Events
from hourglass.model.journey import JourneyModel

__all__ = ["Keyed", "keyed", "model_reads"]

KEYED_VIEW = "hg_keyed"  #: the store's events with the customer key (engine/event_store.py)
CUSTOMERS = "hg_customers"  #: the store's ``key`` -> ``id`` table


@dataclass(frozen=True)
class Keyed:
    """``table``: the events with ``customer`` an integer key (every other column as the
    ``events`` view's); ``ids``: ``key``, ``id`` (one row per customer of the store)."""

    table: ir.Table
    ids: ir.Table


def _store_alias(events: Events) -> str | None:
    """The attached store's alias when ``events.table`` is its ``events`` view as opened (not
    filtered, renamed or mapped: then the keyed view would not be the same events)."""
    if events.keyed is None or events.key_count is None:
        return None
    op, keyed_op = events.table.op(), events.keyed.op()
    if not isinstance(op, ops.DatabaseTable) or not isinstance(keyed_op, ops.DatabaseTable):
        return None
    alias = op.namespace.database
    if op.name != "events" or not alias or keyed_op.namespace.database != alias:
        return None
    return str(alias)


def _integer_ids(events: Events) -> Keyed | None:
    """A source whose customer ids are integers (``events.keyed``: the same events with the source's
    integer, whose canonical text is its decimal digits): the ids are the keys' text."""
    k = events.keyed
    if k is None or events.key_count is not None or not k.customer.type().is_integer():
        return None
    if list(k.columns) != list(events.table.columns):
        return None
    ids = k.select(key=k.customer, id=k.customer.cast("string")).distinct()
    return Keyed(k, ids)


def model_reads(model: JourneyModel, *columns: str | None) -> list[str]:
    """The columns an analysis of ``model`` reads besides the events' own: its stages' filters and
    ``columns`` (a breakdown, the referee or channel column; None skipped)."""
    return [f.column for stage in model.stages for f in stage.where] + [c for c in columns if c]


def keyed(events: Events, reads: Iterable[str] = ()) -> Keyed | None:
    """The keyed events of a store, or of a source with integer customer ids, on DuckDB; or None
    (any other source: the analyses read the events as they are). ``reads``: the columns the
    analysis reads besides the events' own (:func:`model_reads`); one of them the customer (a
    breakdown by customer, a stage's filter on it, the referee column) is None too: on the keys it
    would read the key, not the id."""
    if events.engine.name != "duckdb" or "customer" in set(reads):
        return None
    alias = _store_alias(events)
    if alias is None:
        return _integer_ids(events)
    schema = dict(events.table.schema().items())
    described = events.engine.con.con.execute(f"DESCRIBE {alias}.{KEYED_VIEW}").fetchall()
    if [str(r[0]) for r in described] != list(schema):
        return None
    mapper = events.engine.con.compiler.type_mapper
    schema["customer"] = mapper.from_string(str(described[0][1]), nullable=True)
    if not schema["customer"].is_integer():
        return None
    ns = ops.Namespace(database=alias)
    table = ops.DatabaseTable(KEYED_VIEW, schema=ibis.schema(schema), source=events.engine.con, namespace=ns)
    described = events.engine.con.con.execute(f"DESCRIBE {alias}.{CUSTOMERS}").fetchall()
    columns = {str(r[0]): mapper.from_string(str(r[1]), nullable=True) for r in described}
    ids = ops.DatabaseTable(CUSTOMERS, schema=ibis.schema(columns), source=events.engine.con, namespace=ns)
    return Keyed(table.to_expr(), ids.to_expr().select("key", "id"))
