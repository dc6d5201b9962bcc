"""A small file's funnel on the raw DuckDB connection, without Ibis (issue 11: ``hourglass funnel`` on
a 32k-event CSV in at most 0.5 s, of which Ibis's import alone took 0.16-0.27 s).

This is the DuckDB fast path of engine/fastpath.py (``fast_sql``) run on a DuckDB connection of its
own, over the file's canonical events loaded by hand-written SQL, for the common case only: one
local CSV or Parquet file of at most ``READ_ONCE_BYTES`` (ingest/sources.py), a funnel the fast path
answers with steps of plain event names, on the in-memory DuckDB engine. A CSV is sniffed once
(``sniff_csv``) and read with that dialect and those types, the role columns as text (as
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
from hourglass.engine.snapshot import Fingerprint, fingerprint, watch
from hourglass.ingest import sources
from hourglass.ingest.roles import ResolvedRoles, resolve_roles
from hourglass.ingest.sources import Source, resolve_source
from hourglass.model.schema import OPTIONAL_ROLES, ColumnMapping
from hourglass.model.spec import FunnelSpec

__all__ = ["QuickLoad", "canonical_sql", "counts_sql", "load_small_file", "parse_sql", "small_funnel"]

#: the role columns read as text (engine/load.py: every role of a CSV, but a numeric time)
_TEXT_ROLES = ("customer", "timestamp", "revenue", "event_id", "referrer", "event", "channel")
#: the roles that hold ids (ingest/normalize.py ID_ROLES): ``1.0`` is the id ``1``
_ID_ROLES = ("customer", "referrer", "event_id")
#: a UTC offset out of range (ingest/normalize.py ``bad_offset``)
_BAD_OFFSET = r":[0-9]{2}(\.[0-9]*)?\s*[+-]((19|2[0-9]|[3-9][0-9])(:?[0-9]{2})?|[0-9]{2}:?[6-9][0-9])$"
#: the white space the trim regex strips (ingest/normalize.py EDGE_SPACE, not imported: it imports Ibis)
_EDGE_SPACE = (" ", "\t", "\n", "\v", "\f", "\r")
#: the times hourglass reads (ingest/validate.py TIME_RANGE)
_TIME_RANGE = ("1900-01-01 00:00:00", "2200-01-01 00:00:00")
#: ingest/normalize.py's prefix of the parsed role columns
_PARSED = "__hg_"
#: a file up to this size is sniffed, read, checked and funnelled on one DuckDB thread (engine/load.py
#: ONE_THREAD_BYTES: more threads only wait for each other on such a file; measured on the 32k-event
#: CSV, CPU 0.15 s on one thread, 0.21 s on two; its Parquet file 0.08 s and 0.14 s)
_ONE_THREAD_BYTES = 8 * 2**20


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _strip(x: str) -> str:
    """ingest/normalize.py ``strip``: white space trimmed, the regex only where an edge is blank."""
    regex = f"REGEXP_REPLACE({x}, '^\\s+|\\s+$', '', 'g')"
    ends = " OR ".join(f"SUFFIX({x}, chr({ord(c)}))" for c in _EDGE_SPACE)
    return f"CASE WHEN ({x} < '!') OR {ends} THEN {regex} ELSE {x} END"


def _whole(s: str) -> str:
    """An id written as an integral float (``7.0``) as the integer's text (``_whole_text``)."""
    return (
        f"CASE WHEN SUFFIX({s}, '.0') AND REGEXP_MATCHES({s}, '^-?[0-9]+\\.0$') "
        f"THEN SUBSTRING({s}, 1, STRPOS({s}, '.') - 1) ELSE {s} END"
    )


def _time(c: str) -> str:
    """Text as a naive UTC timestamp (``_timestamp`` of a string column)."""
    bad = f"COALESCE((LENGTH({c}) > 21) AND REGEXP_MATCHES({c}, '{_BAD_OFFSET}'), FALSE)"
    cast = (
        f"CASE WHEN COALESCE(CONTAINS({c}, '/'), FALSE) THEN TRY_CAST({c} || '' AS TIMESTAMPTZ) "
        f"ELSE TRY_CAST({c} AS TIMESTAMPTZ) END"
    )
    return f"CASE WHEN {bad} THEN CAST(NULL AS TIMESTAMP) ELSE CAST({cast} AS TIMESTAMP) END"


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


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclasses.dataclass(frozen=True)
class Sniffed:
    """How DuckDB's CSV sniffer reads a file (``sniff_csv``): its dialect and its columns' types."""

    path: str
    types: dict[str, str]
    options: dict[str, str]  # read_csv's options of that dialect, as SQL literals

    def read_sql(self, text: tuple[str, ...]) -> str:
        """``read_csv`` of the file without a second sniff, the ``text`` columns as VARCHAR: the
        rows of ingest/sources.py's ``_read_csv_sql(src, text)`` (its auto-detection finds this
        dialect and these types again)."""
        columns = ", ".join(
            f"{_lit(c)}: {_lit('VARCHAR' if c in text else t)}" for c, t in self.types.items()
        )
        options = "".join(f", {k} = {v}" for k, v in self.options.items())
        return (
            f"read_csv({_lit(self.path)}, auto_detect = false{options}, columns = {{{columns}}}, "
            "header = true)"
        )


def sniff(con: Any, path: str) -> Sniffed:
    """One sniff of a CSV file (as ``DESCRIBE read_csv(...)`` does, with ``header = true``)."""
    # (a literal, not a parameter: DuckDB imports pandas to convert a Python parameter, 0.3 s)
    cur = con.execute(f"SELECT * FROM sniff_csv({_lit(path)}, header = true)")
    names = [d[0] for d in cur.description]
    row = dict(zip(names, cur.fetchone() or (), strict=True))

    def text(value: Any) -> str:
        return "" if value in (None, "(empty)") else str(value)

    options = {
        "delim": _lit(text(row["Delimiter"])),
        "quote": _lit(text(row["Quote"])),
        "escape": _lit(text(row["Escape"])),
        "new_line": _lit(text(row["NewLineDelimiter"])),
        "skip": str(int(row["SkipRows"] or 0)),
        "comment": _lit(text(row["Comment"])),
    }
    for key, option in (("DateFormat", "dateformat"), ("TimestampFormat", "timestampformat")):
        if row.get(key):
            options[option] = _lit(str(row[key]))
    types = {str(c["name"]): str(c["type"]) for c in row["Columns"]}
    return Sniffed(path, types, options)


#: DuckDB's integer types
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT")  # fmt: skip


def _kind(duckdb_type: str) -> str:
    """``text``, ``integer``, ``number`` (floating or decimal), ``boolean``, ``timestamp`` (naive),
    ``zoned`` (with a time zone), ``date`` or ``other``."""
    t = duckdb_type.upper()
    if t == "VARCHAR":
        return "text"
    if t.startswith(_INTEGERS):
        return "integer"
    if t.startswith(("FLOAT", "DOUBLE", "DECIMAL", "REAL")):
        return "number"
    if t == "BOOLEAN":
        return "boolean"
    if t == "TIMESTAMP WITH TIME ZONE":
        return "zoned"
    if t == "DATE":
        return "date"
    if t in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
        return "timestamp"
    return "other"


#: the kinds of role column read here as ingest/normalize.py reads them (others: the Ibis load, which
#: decides, e.g., whether numbers are epoch times or YYYYMMDD dates)
_READS = {
    "customer": ("text", "integer"),
    "event": ("text", "integer"),
    "event_id": ("text", "integer"),
    "referrer": ("text", "integer"),
    "channel": ("text", "integer"),
    "revenue": ("text", "integer", "number", "boolean"),
    "timestamp": ("text", "timestamp", "zoned", "date"),
}


def parse_sql(read: str, types: Mapping[str, str], roles: ResolvedRoles) -> str | None:
    """The SELECT of the parsed table: the columns of ``read`` (a table function of the file, whose
    columns have ``types``), then one parsed column per role (ingest/normalize.py ``parse``); None
    when a role column's type is one the Ibis load must read (floating ids, epoch numbers...)."""
    cols = roles.columns
    kinds = {r: _kind(types[c]) for r, c in cols.items()}
    if any(kind not in _READS[r] for r, kind in kinds.items()):
        return None
    stripped = {r: _strip(_q(cols[r])) for r in cols if r != "timestamp" and kinds[r] == "text"}
    inner = "".join(f", {x} AS {_q(_PARSED + 's_' + r)}" for r, x in stripped.items())
    parsed = []
    for role in ("customer", "event", "timestamp", *OPTIONAL_ROLES):
        if role not in cols:
            continue
        col, kind = _q(cols[role]), kinds[role]
        if role == "timestamp":
            expr = {"text": _time(col), "timestamp": col}.get(kind, f"CAST({col} AS TIMESTAMP)")
        elif role == "revenue":
            text = f"TRY_CAST(NULLIF({_q(_PARSED + 's_revenue')}, '') AS DOUBLE)"
            num = text if kind == "text" else f"CAST({col} AS DOUBLE)"
            expr = f"CASE WHEN ISNAN({num}) OR ISINF({num}) THEN CAST(NULL AS DOUBLE) ELSE {num} END"
        elif kind == "integer":  # an integer's text has no blanks and is never empty
            expr = f"CAST({col} AS VARCHAR)"
        else:
            s = _q(_PARSED + "s_" + role)
            expr = f"NULLIF({_whole(s) if role in _ID_ROLES else s}, '')"
        parsed.append(f"{expr} AS {_q(_PARSED + role)}")
    helpers = ", ".join(_q(_PARSED + "s_" + r) for r in stripped)
    exclude = f" EXCLUDE ({helpers})" if helpers else ""
    return f"SELECT *{exclude}, {', '.join(parsed)} FROM (SELECT *{inner} FROM {read}) AS t"


def canonical_sql(table: str, roles: ResolvedRoles, *, dedupe: bool = True) -> str:
    """The canonical events of the parsed ``table`` (ingest/normalize.py ``canonical`` and
    ``dedupe``: one row per customer and non-null event id, the earliest, then the smallest name).
    ``dedupe=False``: no two rows share a customer and an event id (the counts say so), the rows as
    they are."""
    sel = [f"{_q(_PARSED + r)} AS {_q(r)}" for r in ("customer", "event", "timestamp")]
    sel += [f"{_q(_PARSED + r)} AS {_q(r)}" for r in OPTIONAL_ROLES if r in roles.columns]
    sel += [f"{_q(src)} AS {_q(out)}" for out, src in roles.properties.items()]
    canon = f"SELECT {', '.join(sel)} FROM {_q(table)}"
    if "event_id" not in roles.columns or not dedupe:
        return canon
    return (
        f"SELECT * EXCLUDE (__hg_dup) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY customer, event_id "
        f'ORDER BY "timestamp" ASC, event ASC) AS __hg_dup FROM ({canon}) AS c) AS d '
        "WHERE event_id IS NULL OR __hg_dup = 1"
    )


def counts_sql(table: str, roles: ResolvedRoles, types: Mapping[str, str]) -> str:
    """One row: ``rows``, the validation problems' counts (ingest/validate.py ``count_expr``, the
    checks of the role columns :func:`parse_sql` reads; ``types``: the file's columns' types),
    ``zoned`` (text times with a zone name: the notes' gap check), ``last_time``, ``event_ids`` and
    ``with_event_id``."""
    cols = roles.columns
    ts, pts = _q(cols["timestamp"]), _q(_PARSED + "timestamp")
    lo, hi = _TIME_RANGE

    def written(role: str) -> str:  # a value is there (text: not blank)
        col = _q(cols[role])
        return f"{col} IS NOT NULL" + (
            f" AND {_strip(col)} <> ''" if _kind(types[cols[role]]) == "text" else ""
        )

    aggs = {
        "rows": "count(*)",
        "HG401": f"count_if({_q(_PARSED + 'customer')} IS NULL)",
        "HG402": f"count_if({_q(_PARSED + 'event')} IS NULL)",
        "HG403": f"count_if({ts} IS NULL)",
        "HG404": f"count_if({written('timestamp')} AND {pts} IS NULL)",
        "HG412": f"count_if({pts} IS NOT NULL AND ({pts} < TIMESTAMP '{lo}' OR {pts} >= TIMESTAMP '{hi}'))",
        "zoned": f"count_if({pts} IS NOT NULL AND CONTAINS(CAST({ts} AS VARCHAR), '/'))",
        "last_time": f"max({pts})",
    }
    if "revenue" in cols:
        aggs["HG405"] = f"count_if({written('revenue')} AND {_q(_PARSED + 'revenue')} IS NULL)"
    if "event_id" in cols:
        c, e = _q(_PARSED + "customer"), _q(_PARSED + "event_id")
        aggs["event_ids"] = f"count(DISTINCT CAST(LENGTH({c}) AS VARCHAR) || ':' || {c} || ':' || {e})"
        aggs["with_event_id"] = f"count_if({e} IS NOT NULL AND {c} IS NOT NULL)"
    return "SELECT " + ", ".join(f"{v} AS {_q(k)}" for k, v in aggs.items()) + f" FROM {_q(table)}"


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
        read = f"read_parquet([{_lit(path)}])"
        types = {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {read}").fetchall()}
    names = list(types)
    if len(names) < 3 or any(n.startswith("__hg") or any(c in n for c in "\x00\r\n") for n in names):
        return None  # (a control character in a name is HG311: ingest/sources.py describe_csv)
    if any("_" in n and n.rsplit("_", 1)[1].isdigit() and n.rsplit("_", 1)[0] in names for n in names):
        return None  # maybe a repeated name (engine/text_checks.py repeated_csv_names)
    roles = resolve_roles(names, mapping, source=src.name)
    if src.kind == "csv":  # the role columns as text, as engine/load.py reads them (not a numeric time)
        if _kind(types[roles.columns["timestamp"]]) in ("integer", "number"):
            return None  # epoch numbers or YYYYMMDD dates: the Ibis load decides which
        text = tuple(roles.columns[r] for r in _TEXT_ROLES if r in roles.columns)
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
