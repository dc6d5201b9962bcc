"""A small file's funnel on the raw DuckDB connection, without Ibis (issue 11: ``hourglass funnel`` on
a 32k-event CSV in at most 0.5 s, of which Ibis's import alone took 0.16-0.27 s).

This is the DuckDB fast path of engine/fastpath.py (``fast_sql``) run on a DuckDB connection of its
own, over the file's canonical events loaded by hand-written SQL (engine/quick_sql.py), for the
common case only: one local CSV or Parquet file of at most ``READ_ONCE_BYTES`` (ingest/sources.py), a
funnel the fast path answers with steps of plain event names, on the in-memory DuckDB engine. A CSV
is sniffed once (``sniff_csv``) and read with that dialect and those types, the role columns as text (as
engine/load.py reads them; a numeric time column, epoch numbers or YYYYMMDD dates, is left to it);
a Parquet file's role columns may be text, integers (ids), times with or without a zone or dates,
and numbers or booleans (revenue). The file is parsed into one temporary table by the SQL the Ibis
load compiles to (ingest/normalize.py ``parse``, ``canonical``, ``dedupe``; ingest/validate.py
``count_expr``): the same text per role (trimmed, an integral float id as the integer, NULL when
empty), the same times (a UTC offset out of range is not a time), the same revenue, the same row
kept per event id. tests/test_quick_funnel.py checks the parsed values, the validation counts and
the canonical events against the Ibis load on random files, and the funnel against the portable
plan on random logs.

It answers only when the Ibis load would have answered the same thing without a word: no
validation problem, no validation note (a time after today; a zone name in a text time, whose
skipped local times need the notes' check), at least one event, and every step with customers (a
step that matches nothing gets a note with the closest names). In every other case (and on any
error) :func:`small_funnel` returns None and the caller runs the usual load, which gives the coded
errors with their files, columns and lines, and the notes. The analyses stay Ibis expressions; the
portable plan stays the reference."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hourglass.engine.connect import parse_engine
from hourglass.engine.quick_sql import TEXT_ROLES, canonical_sql, counts_sql, lit, parse_sql, sniff, type_kind
from hourglass.engine.snapshot import Fingerprint, fingerprint, watch
from hourglass.ingest import sources
from hourglass.ingest.roles import ResolvedRoles, resolve_roles
from hourglass.ingest.sources import Source, resolve_source
from hourglass.model.schema import OPTIONAL_ROLES, ColumnMapping
from hourglass.model.spec import FunnelSpec

__all__ = ["QuickLoad", "canonical_sql", "counts_sql", "load_small_file", "parse_sql", "small_funnel"]

#: a file up to this size is sniffed, read, checked and funnelled on one DuckDB thread (engine/load.py
#: ONE_THREAD_BYTES: more threads only wait for each other on such a file; measured on the 32k-event
#: CSV, CPU 0.15 s on one thread, 0.21 s on two; its Parquet file 0.08 s and 0.14 s)
_ONE_THREAD_BYTES = 8 * 2**20


@dataclasses.dataclass(frozen=True)
class QuickLoad:
    """A small file loaded into the temporary table ``table`` of a raw DuckDB connection: the raw
    columns and the parsed ones (``__hg_<role>``), as the Ibis load's parsed table."""

    con: Any
    source: Source
    roles: ResolvedRoles
    table: str
    types: dict[str, str]  # the file's columns as read (a CSV's role columns as text)
    #: a Parquet file's size and time before it was read (engine/snapshot.py): its usual load reads
    #: it again with each query, so a command checks it when done (HG209); a CSV is read once anyway
    fingerprint: Fingerprint | None = None


def _connect(threads: int | None = None) -> Any:
    """A new in-memory DuckDB connection as engine/session.py makes one (UTC, no progress bar)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar_print = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def load_small_file(source: Any, mapping: ColumnMapping, *, con: Any = None) -> QuickLoad | None:
    """A small CSV or Parquet file parsed into a temporary table of ``con`` (a new DuckDB connection
    by default), or None when it is not such a file or its columns need the Ibis load (a numeric time
    column, floating ids, one column, a repeated name, a name of hourglass's own)."""
    if not isinstance(source, str | os.PathLike):
        return None
    src = resolve_source(source)
    path = src.paths[0] if len(src.paths) == 1 else ""
    if src.kind not in ("csv", "parquet") or src.remote or src.base or not path or path.endswith(".gz"):
        return None
    size = os.path.getsize(path)
    if not 0 < size <= sources.READ_ONCE_BYTES:  # (a larger file's queries read it again: a view)
        return None
    small = size <= _ONE_THREAD_BYTES
    own = con is None
    con = _connect(threads=1 if small else None) if con is None else con
    fp = None
    if src.kind == "csv":
        sniffed = sniff(con, path)
        types = dict(sniffed.types)
    else:
        from hourglass.engine.parquet import check_parquet_frames

        check_parquet_frames(src)  # HG206 (the usual load says it)
        fp = fingerprint(src)
        read = f"read_parquet([{lit(path)}])"
        types = {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()}
    names = list(types)
    if len(names) < 3 or any(n.startswith("__hg") or any(c in n for c in "\x00\r\n") for n in names):
        return None  # (a control character in a name is HG311: ingest/sources.py describe_csv)
    if any("_" in n and n.rsplit("_", 1)[1].isdigit() and n.rsplit("_", 1)[0] in names for n in names):
        return None  # maybe a repeated name (engine/text_checks.py repeated_csv_names)
    roles = resolve_roles(names, mapping, source=src.name)
    if src.kind == "csv":  # the role columns as text, as engine/load.py reads them (not a numeric time)
        if type_kind(types[roles.columns["timestamp"]]) in ("integer", "number"):
            return None  # epoch numbers or YYYYMMDD dates: the Ibis load decides which
        text = tuple(roles.columns[r] for r in TEXT_ROLES if r in roles.columns)
        types.update(dict.fromkeys(text, "VARCHAR"))
        read = sniffed.read_sql(text)
    select = parse_sql(read, types, roles)
    if select is None:
        return None
    one_thread = small and not own  # (a connection of its own is on one thread from the start)
    (threads,) = con.execute("SELECT current_setting('threads')").fetchone()
    if one_thread:
        con.execute("SET threads = 1")
    try:
        con.execute(f"CREATE TEMP TABLE hg_quick AS {select}")
    finally:
        if one_thread:
            con.execute(f"SET threads = {int(threads)}")
    return QuickLoad(con, src, roles, "hg_quick", types, fp if src.kind == "parquet" else None)


def _clean(load: QuickLoad) -> dict[str, Any] | None:
    """The counts of a load with nothing to say (no problem, no note, some rows), else None."""
    cur = load.con.execute(counts_sql(load.table, load.roles, load.types))
    names = [d[0] for d in cur.description]
    counts = dict(zip(names, cur.fetchone() or (), strict=True))
    if any(counts.get(k) for k in ("HG401", "HG402", "HG403", "HG404", "HG412", "HG405", "zoned")):
        return None
    if not counts["rows"]:
        return None
    tomorrow = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)  # validate.future_bound
    if counts["last_time"] is not None and counts["last_time"] > tomorrow.replace(microsecond=0):
        return None  # a time after today: the load notes it
    return counts


def _by_column(spec: FunnelSpec, roles: ResolvedRoles, columns: list[str]) -> FunnelSpec | None:
    """``spec`` with its ``by`` as a canonical column (a role column's source name is the role's
    column: interfaces/api.py ``by_column``), None when it is none (the Ibis path says HG306)."""
    if spec.by is None or spec.by in columns:
        return spec
    for role, column in roles.columns.items():
        if column == spec.by and role in columns:
            return dataclasses.replace(spec, by=role)
    return None


def small_funnel(
    source: Any,
    spec: FunnelSpec,
    mapping: ColumnMapping,
    *,
    engine: Any = None,
    table: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Any:
    """The funnel's result (engine/run.py ``run_funnel``'s, with plan ``fast``) for a small file on
    the in-memory DuckDB engine, without Ibis; None whenever the usual path must answer (see the
    module's docstring): then nothing was reported and the caller loads the source as usual."""
    from hourglass.engine import fastpath
    from hourglass.engine.run import funnel_result

    if table is not None or spec.hold is not None or not isinstance(engine, str | None):
        return None
    if os.environ.get(fastpath.PLAN_ENV, "auto") not in ("auto", "fast", ""):
        return None
    try:
        name = parse_engine(engine or "duckdb")
        if name.kind != "duckdb" or name.target is not None:
            return None
        load = load_small_file(source, mapping)
        if load is None:
            return None
        try:
            counts = _clean(load)
            if counts is None:
                return None
            columns = [
                r for r in ("customer", "event", "timestamp", *OPTIONAL_ROLES) if r in load.roles.columns
            ]
            chosen = _by_column(spec, load.roles, columns + list(load.roles.properties))
            dupes = int(counts.get("with_event_id", 0)) - int(counts.get("event_ids", 0))
            canon = canonical_sql(load.table, load.roles, dedupe=dupes > 0)
            sql = None if chosen is None else fastpath.fast_sql(canon, chosen)
            if chosen is None or sql is None:
                return None
            rows = fastpath.run_fast_sql(load.con, sql, chosen)
            if load.fingerprint is not None and load.fingerprint.changed():
                return None  # rewritten while it was read: the usual load starts again
        finally:
            load.con.close()
    except Exception:  # noqa: BLE001 - a coded error, DuckDB's, a message cut inside a character...
        return None  # ... the usual load reports it, with its code, file and line
    info = {
        "engine": "duckdb",
        "plan": "fast",
        "plan_reason": None,
        "spec": chosen.describe(),
        "source": load.source.name,
        "duplicates_collapsed": dupes,
        **(meta or {}),
    }
    result = funnel_result(chosen, rows, info, lambda totals: ())
    totals = result.steps
    if any(s.customers == 0 for s in totals):
        return None  # a step of no customers: the usual path names the steps that match nothing
    watch(load.fingerprint, load.source)  # a command checks the file again before it shows the result
    return result
