"""The SQL of engine/quick.py's small-file load, without Ibis: one sniff of a CSV, the parse of the
role columns as ingest/normalize.py's Ibis load compiles it (trim, ids, times, revenue), the
canonical events (one row per event id) and ingest/validate.py's counts (docs in engine/quick.py;
tests/test_quick_funnel.py checks them against the Ibis load on random files)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from hourglass.engine._values import sql_literal as lit
from hourglass.ingest.roles import ResolvedRoles
from hourglass.model.schema import OPTIONAL_ROLES

__all__ = ["TEXT_ROLES", "Sniffed", "canonical_sql", "counts_sql", "lit", "parse_sql", "sniff", "type_kind"]

#: the role columns read as text (engine/load.py: every role of a CSV, but a numeric time)
TEXT_ROLES = ("customer", "timestamp", "revenue", "event_id", "referrer", "event", "channel")
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
class Sniffed:
    """How DuckDB's CSV sniffer reads a file (``sniff_csv``): its dialect and its columns' types."""

    path: str
    types: dict[str, str]
    options: dict[str, str]  # read_csv's options of that dialect, as SQL literals

    def read_sql(self, text: tuple[str, ...]) -> str:
        """``read_csv`` of the file without a second sniff, the ``text`` columns as VARCHAR: the
        rows of ingest/sources.py's ``_read_csv_sql(src, text)`` (its auto-detection finds this
        dialect and these types again)."""
        columns = ", ".join(f"{lit(c)}: {lit('VARCHAR' if c in text else t)}" for c, t in self.types.items())
        options = "".join(f", {k} = {v}" for k, v in self.options.items())
        return (
            f"read_csv({lit(self.path)}, auto_detect = false{options}, columns = {{{columns}}}, "
            "header = true)"
        )


def sniff(con: Any, path: str) -> Sniffed:
    """One sniff of a CSV file (as ``DESCRIBE read_csv(...)`` does, with ``header = true``)."""
    # (a literal, not a parameter: DuckDB imports pandas to convert a Python parameter, 0.3 s)
    cur = con.execute(f"SELECT * FROM sniff_csv({lit(path)}, header = true)")
    names = [d[0] for d in cur.description]
    row = dict(zip(names, cur.fetchone() or (), strict=True))

    def text(value: Any) -> str:
        return "" if value in (None, "(empty)") else str(value)

    options = {
        "delim": lit(text(row["Delimiter"])),
        "quote": lit(text(row["Quote"])),
        "escape": lit(text(row["Escape"])),
        "new_line": lit(text(row["NewLineDelimiter"])),
        "skip": str(int(row["SkipRows"] or 0)),
        "comment": lit(text(row["Comment"])),
    }
    for key, option in (("DateFormat", "dateformat"), ("TimestampFormat", "timestampformat")):
        if row.get(key):
            options[option] = lit(str(row[key]))
    types = {str(c["name"]): str(c["type"]) for c in row["Columns"]}
    return Sniffed(path, types, options)


#: DuckDB's integer types
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT")  # fmt: skip


def type_kind(duckdb_type: str) -> str:
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
    kinds = {r: type_kind(types[c]) for r, c in cols.items()}
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
            f" AND {_strip(col)} <> ''" if type_kind(types[cols[role]]) == "text" else ""
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
