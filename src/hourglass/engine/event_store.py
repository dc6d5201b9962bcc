"""The event store: validated canonical events in a DuckDB file, each event name's rows together and
clustered by customer and time, with compact types (``hourglass ingest SOURCE --into store.duckdb``).

Layout of the file (version 1):

- ``hg_events``: ``customer`` (an integer key), ``event`` (an ENUM ``hg_event_name`` of the
  event names, in name order; past ``ENUM_MAX_NAMES`` names the names as text, VARCHAR: DuckDB
  reads an ENUM's value list whenever the file is attached), ``timestamp`` (BIGINT microseconds
  since 1970-01-01 UTC), then the optional roles and the properties as ingested; rows ordered by
  (event, customer, timestamp): each event name's rows are contiguous and clustered by customer
  and time, so a funnel reads only its steps' row groups (DuckDB's zone maps on the ENUM code) and
  finds them grouped by customer;
  past ``ENUM_MAX_NAMES`` names also the names' numbers and each row's place in its customer's
  sequence (engine/store_codes.py);
- ``hg_customers``: ``key``, ``id`` (the canonical customer id, text), ``events`` (his events), one
  row per customer, keys numbered 0, 1, ... (dense: the fast path counts customers with a bitstring)
  in id order, the customers of more than ``HEAVY_EVENTS`` events last (engine/fastpath_heavy.py);
- ``hg_store``: one row: ``version``, ``source``, ``rows``, ``customers``, ``duplicates_collapsed``,
  ``roles`` (JSON: role -> the source's column, as ingested), ``time_unit`` (of epoch numbers) and
  ``heavy_from`` (the first heavy customer's key; ``customers`` when none; the last three are absent
  from stores written before them);
- view ``events``: the canonical events again (original ids, event names, timestamps), so any DuckDB
  client, and every hourglass analysis, can read ``store.duckdb`` (or ``store.duckdb:events``);
- view ``hg_keyed``: the same events with the integer customer key, for the engine's fast path.

Reading a store skips validation (it was validated when written). Writing one: one writer at a
time (a lock next to it, engine/store_files.py: a second ingest into the same store stops with
HG426), written next to it and renamed when complete (a killed ingest's temporaries are removed by
the next), holding exactly the rows validated (a source that changed meanwhile: HG209, nothing
written); a write that fails (a full disk, a read-only directory) is HG425 naming the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from hourglass.engine import fastpath_heavy
from hourglass.engine._values import sql_literal as _lit
from hourglass.engine.errors import translated
from hourglass.engine.load import Events
from hourglass.engine.session import Engine
from hourglass.engine.store_codes import CODE_COLUMN, SEQ_COLUMN, numbered_names, seq_item
from hourglass.engine.store_files import Progress, polled, remove_stale, store_lock, temp_path
from hourglass.ingest.outputs import cannot_write
from hourglass.ingest.sources import Source
from hourglass.ingest.validate import ValidationReport
from hourglass.model.errors import SchemaError, SourceError
from hourglass.model.schema import OPTIONAL_ROLES, ROLES, ColumnMapping

__all__ = ["ENUM_MAX_NAMES", "STORE_VERSION", "StoreInfo", "open_store", "write_store"]

STORE_VERSION = 1
#: the most event names stored as an ENUM; a log with more keeps them as text (VARCHAR): DuckDB
#: reads an ENUM's whole value list whenever the store is attached (~9 s at 10^6 names)
ENUM_MAX_NAMES = 10_000
_FLAG = {r: f"--{r.replace('_', '-')}-col" for r in ROLES}
MARKER = "hg_store"


@dataclass(frozen=True)
class StoreInfo:
    """What :func:`write_store` wrote."""

    path: str
    rows: int
    customers: int
    event_names: int
    duplicates_collapsed: int
    seconds: float


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _count(raw: Any, table: str) -> int:
    row = raw.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def write_store(
    events: Events, into: str | Path, *, overwrite: bool = False, progress: Progress | None = None
) -> StoreInfo:
    """Write ``events`` (validated, on the DuckDB engine) as a store at ``into``. The file appears
    only when complete (written next to it, then renamed) and holds exactly the rows validated (a
    source that changed since: HG209, nothing written). One writer at a time (another ingest into
    the same store: HG426); a write that fails (a full disk, a read-only directory) is HG425 naming
    the store; a killed ingest's temporaries are removed by the next (engine/store_files.py)."""
    started = time.perf_counter()
    target = Path(into)
    if not target.name.lower().endswith((".duckdb", ".ddb", ".db")):
        raise SourceError(
            f"{target}: a store is a DuckDB file", code="HG421", hint="name it e.g. store.duckdb"
        )
    if events.report.kind in ("duckdb", "store") and Path(events.report.source.rpartition(":")[0]) == target:
        raise SourceError(f"{target} is the source itself", code="HG422", hint="write to another file")
    _exists(target, overwrite)  # before the directory is made: nothing to undo
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise cannot_write(target, e, "--into") from e
    with store_lock(target):
        _exists(target, overwrite)  # again, now that no other ingest can make it
        remove_stale(target)
        tmp = temp_path(target)
        with translated(events.report.source, target=str(target), option="--into"):
            rows, customers, names = _write(events, tmp, progress)
        try:
            os.replace(tmp, target)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise cannot_write(target, e, "--into") from e
    return StoreInfo(
        str(target),
        rows,
        customers,
        names,
        events.report.duplicates_collapsed,
        time.perf_counter() - started,
    )


def _exists(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise SourceError(
            f"{target} already exists", code="HG420", hint="choose another path, or --force to replace it"
        )


def _unchanged(events: Events, raw: Any, table: str) -> int:
    """The rows written (``table``): exactly the rows validated, none of them without a customer, an
    event or a time, else HG209 (the source changed after it was validated: rows nobody checked)."""
    got = raw.execute(
        f'SELECT count(*), count(*) FILTER (WHERE "timestamp" IS NULL OR event IS NULL) FROM {table}'
    ).fetchone()
    rows, empty = (int(got[0]), int(got[1])) if got else (0, 0)
    check = getattr(events, "check_unchanged", None)  # the files' fingerprints (engine/load.py)
    if check is not None:
        check()
    if events.report.rows < 0:  # not validated (validate=False): nothing to compare with
        return rows
    expected = events.report.rows  # a store's rows: its events, duplicates already collapsed
    if events.report.kind != "store":
        expected -= events.report.duplicates_collapsed
    if rows != expected or empty:
        what = f"{expected:,} rows validated, {rows:,} read to be written" if rows != expected else ""
        what = what or f"{empty:,} rows read without an event or a time"
        raise SourceError(
            f"{events.report.source} changed while it was read ({what}): the store would hold rows "
            "that were not validated; nothing was written",
            code="HG209",
            hint="run again when the file is complete: a file that is still being written cannot be "
            "ingested (copy it first)",
        )
    return rows


def _write(events: Events, tmp: Path, progress: Progress | None) -> tuple[int, int, int]:
    """Write the store's tables and views into ``tmp``; (rows, customers, event names). On any
    failure ``tmp`` (and its .wal) is removed."""
    con = events.engine.con
    raw = con.con
    hook = getattr(con, "_run_pre_execute_hooks", None)
    if hook is not None:
        hook(events.table)
    canon = con.compile(events.table)
    cols = list(events.table.columns)
    rest = [c for c in cols if c not in ("customer", "event", "timestamp")]
    alias = "hg_out_" + ibis.util.gen_name("s").split("_")[-1]
    (printing,) = raw.execute("SELECT current_setting('enable_progress_bar_print')").fetchone() or (True,)
    attached = False
    try:
        raw.execute(f"ATTACH {_lit(tmp.as_posix())} AS {alias}")
        attached = True
        raw.execute("SET enable_progress_bar_print = false")  # the caller shows progress, if anyone
        with polled(raw, "customers", progress):
            # the heavy customers (more than HEAVY_EVENTS events) numbered last: the fast path tells
            # them by their key (engine/fastpath_heavy.py)
            raw.execute(
                f"CREATE TABLE {alias}.hg_customers AS SELECT "
                f"(row_number() OVER (ORDER BY n > {fastpath_heavy.HEAVY_EVENTS}, id) - 1) AS key, id, "
                f"n AS events FROM (SELECT customer AS id, count(*) AS n FROM ({canon}) AS src "
                "GROUP BY customer) AS d"
            )
        customers = _count(raw, f"{alias}.hg_customers")
        light = raw.execute(
            f"SELECT count(*) FROM {alias}.hg_customers WHERE events <= {fastpath_heavy.HEAVY_EVENTS}"
        ).fetchone()
        key_type = "INTEGER" if customers < 2**31 else "BIGINT"
        with polled(raw, "event names", progress):
            names = [
                r[0]
                for r in raw.execute(f"SELECT DISTINCT event FROM ({canon}) AS src ORDER BY event").fetchall()
            ]
        event = "src.event"
        code, code_join = "", ""
        # a name holding a NUL byte cannot be written in the ENUM's SQL text: such a log keeps text
        if len(names) <= ENUM_MAX_NAMES and not any("\x00" in str(n) for n in names):
            raw.execute(
                f"CREATE TYPE {alias}.hg_event_name AS ENUM ({', '.join(_lit(n) for n in names) or _lit('')})"
            )
            event = f"CAST(src.event AS {alias}.hg_event_name)"
        elif CODE_COLUMN not in rest:  # text names: numbered too (engine/store_codes.py)
            with polled(raw, "event names", progress):
                code, code_join = numbered_names(raw, alias, names)
            if SEQ_COLUMN not in rest:  # each row's place in his customer's sequence
                code += seq_item("k.key", 'epoch_us(src."timestamp")', events.report.rows)
        extra = "".join(f", src.{_q(c)}" for c in rest)
        with polled(raw, "events", progress):
            raw.execute(
                f"CREATE TABLE {alias}.hg_events AS SELECT CAST(k.key AS {key_type}) AS customer, "
                f"{event} AS event, "
                'epoch_us(src."timestamp") AS "timestamp"'
                f"{extra}{code} FROM ({canon}) AS src JOIN {alias}.hg_customers AS k ON k.id = src.customer"
                f"{code_join} ORDER BY 2, 1, 3"
            )
        rows = _unchanged(events, raw, f"{alias}.hg_events")
        raw.execute(
            f"CREATE TABLE {alias}.{MARKER} AS SELECT {STORE_VERSION} AS version, "
            f"{_lit(events.report.source)} AS source, {rows}::BIGINT AS rows, "
            f"{customers}::BIGINT AS customers, "
            f"{int(events.report.duplicates_collapsed)}::BIGINT AS duplicates_collapsed, "
            f"{_lit(json.dumps(events.report.roles))} AS roles, "
            f"{_lit(events.report.time_unit)} AS time_unit, "
            f"{int(light[0]) if light else customers}::BIGINT AS heavy_from"
        )
        sel_rest = "".join(f", e.{_q(c)}" for c in rest)
        raw.execute(f"USE {alias}")
        try:
            raw.execute(
                "CREATE VIEW events AS SELECT k.id AS customer, CAST(e.event AS VARCHAR) AS event, "
                f'make_timestamp(e."timestamp") AS "timestamp"{sel_rest} FROM hg_events AS e '
                "JOIN hg_customers AS k ON k.key = e.customer"
            )
            raw.execute(
                "CREATE VIEW hg_keyed AS SELECT e.customer, CAST(e.event AS VARCHAR) AS event, "
                f'make_timestamp(e."timestamp") AS "timestamp"{sel_rest} FROM hg_events AS e'
            )
        finally:
            raw.execute("USE memory")
        raw.execute(f"DETACH {alias}")
        attached = False
    except BaseException:
        if attached:
            with contextlib.suppress(Exception):
                raw.execute(f"DETACH {alias}")
        for left in (tmp, tmp.with_name(tmp.name + ".wal")):
            with contextlib.suppress(OSError):
                left.unlink()
        raise
    finally:
        raw.execute(f"SET enable_progress_bar_print = {'true' if printing else 'false'}")
    return rows, customers, len(names)


def _fixed_columns(path: str, info: dict[str, Any], columns: list[str], mapping: ColumnMapping) -> None:
    """A store's roles were fixed at ingest: a column flag (or ``[columns]`` setting) that names
    another column than the one ingested for its role is an error (HG310), never ignored. The same
    mapping as at ingest (a config file used for both) passes; so does a role's canonical name."""
    recorded = json.loads(info["roles"]) if info.get("roles") else None
    for role, given in mapping.explicit().items():
        if given == role and role in columns:
            continue
        if recorded is not None:
            if recorded.get(role) == given:
                continue
            was = recorded.get(role)
        elif given not in columns:  # an older store: the source's names are not recorded
            continue
        else:
            was = None
        ingested = f" (ingested from '{was}')" if was and was != role else ""
        raise SchemaError(
            f"{path}: a store's columns were fixed when it was ingested: its {role} is the column "
            f"'{role}'{ingested}; {_FLAG[role]} {given} cannot change it",
            code="HG310",
            hint=f"drop {_FLAG[role]} when reading the store, or ingest the source again with "
            f"{_FLAG[role]} {given}",
        )
    unit = info.get("time_unit")
    if unit and mapping.time_unit != "s" and mapping.time_unit != unit:
        raise SchemaError(
            f"{path}: a store's times were read when it was ingested (--time-unit {unit}); "
            f"--time-unit {mapping.time_unit} cannot change them",
            code="HG310",
            hint=f"drop --time-unit when reading the store, or ingest the source again with "
            f"--time-unit {mapping.time_unit}",
        )


def _table(engine: Engine, alias: str, name: str) -> tuple[ir.Table, set[str]]:
    """The table or view ``name`` of the attached store ``alias`` as an Ibis table, and its ENUM
    columns: Ibis sees them as strings (their SQL type stays the ENUM: the fast path uses its codes),
    so an ENUM's value list never reaches Ibis's type parser (sqlglot: ~60 s, 1.5 GB at 10^6 names)."""
    raw = engine.con.con
    cur = raw.execute(f"DESCRIBE {alias}.{_q(name)}")
    cols = [d[0] for d in cur.description]
    mapper = engine.con.compiler.type_mapper
    schema: dict[str, dt.DataType] = {}
    enums: set[str] = set()
    for row in cur.fetchall():
        col = dict(zip(cols, row, strict=True))
        typ, nullable, name_ = str(col["column_type"]), col["null"] == "YES", str(col["column_name"])
        if typ.startswith("ENUM(") or typ.split(".")[-1] == "hg_event_name":
            enums.add(name_)
        schema[name_] = (
            dt.String(nullable=nullable) if name_ in enums else mapper.from_string(typ, nullable=nullable)
        )
    table = ops.DatabaseTable(
        name, schema=ibis.schema(schema), source=engine.con, namespace=ops.Namespace(database=alias)
    ).to_expr()
    return table, enums


def open_store(engine: Engine, src: Source, mapping: ColumnMapping | None = None) -> Events | None:
    """The events of a store (``store.duckdb`` or ``store.duckdb:events``) on the DuckDB engine, or
    None when ``src`` is not a store's events. ``mapping``: the column flags given, checked against
    the roles fixed at ingest (HG310)."""
    if engine.name != "duckdb" or src.kind != "duckdb" or src.table not in ("events", "main.events"):
        return None
    alias = "hg_store_" + ibis.util.gen_name("s").split("_")[-1]
    raw = engine.con.con
    # attached in the engine's own connection (a second connection just to look costs ~15 ms)
    try:
        raw.execute(f"ATTACH {_lit(src.paths[0])} AS {alias} (READ_ONLY)")
    except Exception:  # noqa: BLE001 - not readable as DuckDB: the ordinary source path reports it
        return None
    try:
        with translated(src.name):  # a damaged file fails here, with the file's name and a code
            found = raw.execute(
                "SELECT count(*) FROM duckdb_tables() "
                f"WHERE database_name = {_lit(alias)} AND table_name = '{MARKER}'"
            ).fetchone()
            if not (found and found[0]):
                raw.execute(f"DETACH {alias}")
                return None
            meta = raw.execute(f"SELECT * FROM {alias}.{MARKER}").fetchone()
            names = [d[0] for d in raw.description]
            info = dict(zip(names, meta or (), strict=True))
            if int(info.get("version", 0)) != STORE_VERSION:
                raise SourceError(
                    f"{src.paths[0]}: store version {info.get('version')}; "
                    f"this hourglass reads version {STORE_VERSION}",
                    code="HG423",
                    hint="ingest the source again with this version",
                )
            table, _ = _table(engine, alias, "events")
            if mapping is not None:
                _fixed_columns(src.paths[0], info, list(table.columns), mapping)
            # the fast path reads the clustered table itself: integer keys, ENUM codes, integer µs
            keyed, enums = _table(engine, alias, "hg_events")
            codes = None
            if "event" in enums:  # not in a store of more than ENUM_MAX_NAMES names (text)
                codes = raw.execute(f"SELECT enum_range(NULL::{alias}.hg_event_name)").fetchone()
    except BaseException:
        with contextlib.suppress(Exception):
            raw.execute(f"DETACH {alias}")
        raise
    roles = {r: r for r in ("customer", "event", "timestamp", *OPTIONAL_ROLES) if r in table.columns}
    report = ValidationReport(
        source=src.name,
        kind="store",
        rows=int(info["rows"]),
        roles=roles,
        duplicates_collapsed=int(info["duplicates_collapsed"]),
    )
    return Events(
        table,
        engine,
        report,
        keyed,
        tuple(codes[0]) if codes else None,
        f"{alias}.hg_event_name" if codes else None,
        int(info["customers"]),
    )
