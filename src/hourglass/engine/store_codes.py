"""A store's event names numbered at ingest, when it keeps them as text (more than
``ENUM_MAX_NAMES``, engine/event_store.py): ``hg_events`` gets a last column ``hg_event_code``
(INTEGER: the name's rank in DuckDB's order of the text, dense from 0, as an ENUM's codes) and the
store a table ``hg_event_names`` (``code``, ``name``), so the journeys' event level reads integers
(engine/journeys_codes.py). Stores written before them have neither and still open (the journeys then
number the names as they read them); a source column of that name stays a property (no numbers).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

__all__ = ["CODE_COLUMN", "NAMES_TABLE", "SEQ_COLUMN", "numbered_names", "seq_item"]

CODE_COLUMN = "hg_event_code"
NAMES_TABLE = "hg_event_names"
SEQ_COLUMN = "hg_seq"


def numbered_names(raw: Any, alias: str, names: Sequence[str | None]) -> tuple[str, str]:
    """Write the names table into the attached store ``alias``: ``names`` are the canonical events'
    distinct names in DuckDB's order (engine/event_store.py reads them once, for the ENUM or this
    table), each numbered by its place; the select list's item and the join that add each row's
    number to ``hg_events``'s query (the canonical events aliased ``src`` by the caller)."""
    import pyarrow as pa

    codes = pa.array(range(len(names)), type=pa.int32())
    table = pa.table({"code": codes, "name": pa.array(list(names), type=pa.string())})
    view = "hg_names_" + uuid.uuid4().hex
    raw.register(view, table)
    try:
        raw.execute(f"CREATE TABLE {alias}.{NAMES_TABLE} AS SELECT code, name FROM {view} ORDER BY code")
    finally:
        raw.unregister(view)
    # a LEFT JOIN: a row without a name (null) stays, as before, and is reported (HG209)
    return f", n.code AS {CODE_COLUMN}", f" LEFT JOIN {alias}.{NAMES_TABLE} AS n ON n.name = src.event"


def seq_item(key: str, micros: str, rows: int) -> str:
    """The select list's item of ``hg_seq``: the row's place among its customer's rows (``key``: his
    integer key) in the order (``micros``, name number), from 0; with :func:`numbered_names`'s join
    (``n.code``). INTEGER but past 2^31 rows (``rows``; unknown: < 0)."""
    kind = "INTEGER" if 0 <= rows < 2**31 else "BIGINT"
    place = f"row_number() OVER (PARTITION BY {key} ORDER BY {micros}, n.code) - 1"
    return f", CAST({place} AS {kind}) AS {SEQ_COLUMN}"
