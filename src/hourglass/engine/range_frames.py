"""The dashboard's per-customer tables of a range (issue 12: the hourglass page's people), on a
store from the numpy arrays of the range's own figures instead of a decoded GROUP BY.

The hourglass page lists the customers behind a stage (the stage table per customer,
``lifecycle_api.lifecycle_table``) and behind a channel cell (every customer's channel, purchaser
flag and stages). As Ibis expressions executed to pandas they were the GROUP BY of the range's
events again, the join of every customer with his id and the conversion of that join: at 10M events
the stage table computed ahead took 12.6 CPU-s and held up the page's next clicks (O's trace,
session 9). On a store they are the same arrays the range's lifecycle reads
(engine/stage_firsts.py: the stages' first entries; engine/facts_arrays.py: the channels' customer
facts), the ids taken by key from the store's customer table read once (engine/scan_levels.py
``store_ids``), and the Arrow table converted once. Elsewhere (another source, a stage with a
filter or a glob): None, the caller executes the expression as before. Equal to it customer by
customer (tests/test_lifecycle_frames.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from hourglass.analyses.lifecycle import in_range
from hourglass.engine.errors import translated
from hourglass.engine.facts_arrays import facts_arrow
from hourglass.engine.keyed import keyed, model_reads
from hourglass.engine.load import Events
from hourglass.engine.run_lifecycle import as_of
from hourglass.engine.scan_levels import store_ids
from hourglass.engine.stage_firsts import stage_arrow, store_alias
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle import LifecycleSpec
from hourglass.model.referrals import sale_definition

__all__ = ["channel_frame", "stage_frame"]


def _decoded(events: Events, table: pa.Table) -> Any:
    """``table`` (its ``customer`` a store's key) with the customer's id, as pandas."""
    ids = store_ids(events).take(table.column("customer"))
    return table.set_column(table.schema.get_field_index("customer"), "customer", ids).to_pandas()


def stage_frame(events: Events, spec: LifecycleSpec) -> Any:
    """The stage table per customer of ``spec``'s range (pandas, as ``lifecycle_table`` executed),
    or None where the arrays do not apply."""
    k = keyed(events, model_reads(spec.model))
    if k is None or store_alias(k) is None or spec.as_of is not None:
        return None
    now = as_of(events, spec, in_range(spec, k.table), k.table)
    with translated():
        found = stage_arrow(events.engine.con.con, k, spec, now, events.report)
    return None if found is None else _decoded(events, found[0])


def channel_frame(
    events: Events, model: JourneyModel, column: str, since: datetime | None, until: datetime | None
) -> Any:
    """Every customer of the range [since, until) with his acquisition channel (``column``'s first
    value), ``purchaser`` (the model's sale stage) and ``s0``, ``s1``, ... (entered each stage):
    pandas, as the channels' plan's customers executed; or None where the arrays do not apply."""
    k = keyed(events, model_reads(model, column))
    if k is None:
        return None
    sale = sale_definition(model, None).step
    purchase = model.purchase_step or sale
    with translated():
        stages, con, owner = model.stages, events.engine.con, events.report
        found = facts_arrow(con, k, k.table, sale, purchase, stages, column, since, until, owner)
    if found is None:
        return None
    flags = [f"s{i}" for i in range(len(model.stages))]
    return _decoded(events, found[0].select(["customer", "channel", "purchaser", *flags]))
