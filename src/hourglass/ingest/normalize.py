"""From a raw source table to the canonical event table (docs/semantics.md, "Events")."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from hourglass.ingest.roles import ResolvedRoles
from hourglass.model.errors import SchemaError
from hourglass.model.schema import OPTIONAL_ROLES, TIME_UNITS

__all__ = [
    "DATE_DIGITS",
    "EDGE_SPACE",
    "EPOCH_RANGE_S",
    "ID_ROLES",
    "TRIM_PATTERN",
    "Parsed",
    "bad_offset",
    "blank_edge",
    "canonical",
    "dedupe",
    "epoch_in_range",
    "integer_customers",
    "looks_like_date_digits",
    "parse",
    "strip",
]

#: Columns added to the raw table while parsing (``__hg_<role>``).
PARSED = "__hg_"


@dataclass(frozen=True)
class Parsed:
    """The raw table with one parsed column per role (``__hg_customer`` ...), and its roles."""

    table: ir.Table
    roles: ResolvedRoles
    source: str
    #: the time column holds integers read as YYYYMMDD dates (:data:`DATE_DIGITS`)
    date_digits: bool = False


#: The roles that hold ids: an id written as an integral float (``1.0``, as pandas writes an integer
#: column with a missing value) is the integer's text (``1``), in every source and format.
ID_ROLES = ("customer", "referrer", "event_id")

#: A numeric time column at least half of whose first rows are whole numbers in this range, [19000101,
#: 22000101), holds dates written as YYYYMMDD (20240131), not epoch numbers (as epoch seconds they
#: would be 1970-08-09 to 1970-09-12). Every value of it must then be a calendar date in that form:
#: another (20241301, 2024013, an epoch number) cannot be read (HG404, with its line).
DATE_DIGITS = (19_000_101, 22_000_101)


#: the white space characters the trim regex strips (``\s``: RE2's is " \t\n\f\r", Java's adds \v)
EDGE_SPACE = (" ", "\t", "\n", "\v", "\f", "\r")

#: the trim regex of :func:`strip` (leading and trailing ``\s``)
TRIM_PATTERN = r"^\s+|\s+$"


def strip(s: ir.StringValue) -> ir.StringValue:
    """Trim white space (a regex: ibis's TRIM quotes \\v wrongly for Spark and eats 'v's).

    The regex runs only on values that are empty, start with a character <= ' ' or end with a white
    space character of either regex dialect (``EDGE_SPACE``: RE2's ``\\s`` and Java's); the others are
    returned as they are, which is what the regex would return. Comparing text is byte-wise, so
    ``s < '!'`` is "empty or the first byte is <= 0x20" and costs a fraction of the regex (a 10M-row
    funnel spent 31% of its CPU here); the end is told by ``ends_with`` of each character, not
    ``right(s, 1) <= ' '``, which counted the characters of every value (0.7 of the 1.3 CPU-s of a
    funnel's step match on a Parquet file of 10^6 event names, issue 18)."""
    return ibis.cases((blank_edge(s), s.re_replace(TRIM_PATTERN, "")), else_=s)


def blank_edge(s: ir.StringValue) -> ir.BooleanValue:
    """Whether :func:`strip` runs its regex on ``s``: empty, a first character <= ' ' or a last one
    of :data:`EDGE_SPACE`; where it is false, ``strip(s)`` is ``s`` and ``s`` is not empty (the
    funnel's step match on the raw text relies on that: engine/raw_step.py)."""
    edge = s < "!"
    for c in EDGE_SPACE:
        edge |= s.endswith(c)
    return edge


def _whole_text(s: ir.StringValue) -> ir.StringValue:
    """An id written as an integral float (``1.0``, ``-3.0``, as pandas, Python's json and Spark write
    one) as the integer's text; others as they are (the regex runs only on values ending in ``.0``)."""
    whole = s.endswith(".0") & s.re_search(r"^-?[0-9]+\.0$")
    return ibis.cases((whole, s.substr(0, s.find("."))), else_=s)


def _role_text(col: ir.Value, *, json_text: bool = False, ident: bool = False) -> ir.StringValue:
    """A role value as trimmed text, NULL when empty. ``json_text``: the column holds JSON values
    read as text (JSON lines): an object or a list (``{...}``, ``[...]``) is not a value. ``ident``:
    an id (:data:`ID_ROLES`), whose integral-float text is the integer's."""
    t = col.type()
    if t.is_integer():  # an integer's text has no blanks and is never empty
        return col.cast("string")
    if t.is_floating():
        # ids read as floats (a pandas column with a missing value): 7.0 is the id "7", so that a
        # float referrer column matches integer customer ids
        # (NaN is not whole: it is a missing id, HG401; only whole values are cast to integers, so
        # that a NaN or a huge float never reaches the cast)
        # (x % 1 == 0, not x == floor(x): Ibis's floor casts to BIGINT, which fails on NaN or 1e20)
        whole = (~col.isnan() & (col.abs() < 2**53) & (col % 1 == 0)).fill_null(False)
        as_int = whole.ifelse(col, 0).cast("int64").cast("string")
        other = col.isnan().ifelse(ibis.null("string"), col.cast("string"))
        return ibis.cases((whole, as_int), else_=other)
    if t.is_json():
        # a JSON-lines column whose values are not all strings: a string's text without its quotes (so
        # that 1 and "1" are one customer), a number's or boolean's text; an object or array is not a
        # value (NULL: validation lists its rows as empty)
        as_text = col.cast("string")
        nested = as_text.startswith("{") | as_text.startswith("[")
        s = ibis.cases((col.str.notnull(), col.str), (nested, ibis.null("string")), else_=as_text)
    else:
        s = col if t.is_string() else col.cast("string")
        if json_text and t.is_string():
            s = ibis.cases((s.startswith("{") | s.startswith("["), ibis.null("string")), else_=s)
    text = strip(s)
    return (_whole_text(text) if ident else text).nullif("")


def bad_offset(s: ir.StringValue) -> ir.BooleanValue:
    """A time written with a UTC offset out of range: hours above 18 or minutes above 59 (``+25:00``,
    ``+99:99``, ``+05:75``); the engine would shift the time by it. The regex runs only on values
    longer than a time without an offset (2024-01-01 10:00:00Z: 20 characters), so that a plain time
    costs one length."""
    pattern = r":[0-9]{2}(\.[0-9]*)?\s*[+-]((19|2[0-9]|[3-9][0-9])(:?[0-9]{2})?|[0-9]{2}:?[6-9][0-9])$"
    return ((s.length() > 21) & s.re_search(pattern)).fill_null(False)


def _date_digits(col: ir.NumericValue) -> ir.TimestampValue:
    """Integers written as YYYYMMDD as the midnight of that date; NULL when not a calendar date."""
    lo, hi = DATE_DIGITS
    ok = (col >= lo) & (col < hi)
    if col.type().is_floating():
        ok = ok & ~col.isnan() & (col % 1 == 0)
    digits = ok.fill_null(False).ifelse(col, lo).cast("int64").cast("string")
    iso = digits.substr(0, 4) + "-" + digits.substr(4, 2) + "-" + digits.substr(6, 2)
    return ok.fill_null(False).ifelse(iso.try_cast(dt.Timestamp()), ibis.null(dt.Timestamp()))


def looks_like_date_digits(raw: ir.Table, column: str, sample: int | None = None) -> ir.Table:
    """One row, ``dates``: at least half of the values of the numeric ``column`` (of its first
    ``sample`` rows) are whole numbers in :data:`DATE_DIGITS` (the rule that reads the column as
    dates: engine/load.py asks it of the first 1,000 rows; a typo among them is then HG404, not a
    reason to read every date as 1970)."""
    t = raw if sample is None else raw.limit(sample)
    col = t[column]
    lo, hi = DATE_DIGITS
    inside = (col >= lo) & (col < hi)
    if col.type().is_floating():
        inside = inside & ~col.isnan() & (col % 1 == 0)
    dates = inside.fill_null(False).sum().coalesce(0)
    return t.aggregate(dates=(dates > 0) & (2 * dates >= col.count()))


def _timestamp(
    col: ir.Value, unit: str, *, role: str, source: str, backend: str, date_digits: bool = False
) -> ir.TimestampValue:
    t = col.type()
    if t.is_timestamp():
        return col if t.timezone is None else col.cast(dt.Timestamp())
    if t.is_date():
        return col.cast(dt.Timestamp())
    if t.is_string():
        # text with a zone name (2024-03-31 10:00:00 Europe/Berlin) is cast apart from the rest: in
        # one cast, DuckDB 1.5 reads the naive times that follow a zone name in that zone
        utc = dt.Timestamp(timezone="UTC")
        zoned = col.contains("/").fill_null(False)
        both = ibis.cases((zoned, col.concat("").try_cast(utc)), else_=col.try_cast(utc))
        ts = both.cast(dt.Timestamp())
        return bad_offset(col).ifelse(ibis.null(dt.Timestamp()), ts)  # HG404 lists the rows
    if (t.is_integer() or t.is_floating()) and date_digits:
        return _date_digits(col)
    if t.is_integer() or t.is_floating():
        if backend != "duckdb" and unit != "s":
            raise SchemaError(
                f"{source}: epoch timestamps in {unit} are read by the duckdb engine only",
                code="HG305",
                hint="store timestamps as a timestamp type in Parquet",
            )
        ok = epoch_in_range(col, unit)  # else NULL: validation lists the rows (HG409)
        safe = ok.ifelse(col, 0)
        if backend == "duckdb":
            micros = (safe * TIME_UNITS[unit]).cast("int64")
            ts = ibis.timestamp("1970-01-01 00:00:00") + micros.as_interval("us")
        else:
            ts = safe.cast("int64").as_timestamp("s")
        return ok.ifelse(ts, ibis.null(dt.Timestamp()))
    raise SchemaError(
        f"{source}: the {role} column '{col.get_name()}' has type {t}, not a time",
        code="HG304",
        hint="give a timestamp, a date, ISO 8601 text or epoch numbers",
    )


#: Epoch numbers are read in [1900-01-01, 2200-01-01): outside it, they are in another unit (epoch
#: milliseconds read as seconds land in the year 55970; seconds read as milliseconds in 1970).
EPOCH_RANGE_S = (-2_208_988_800, 7_258_118_400)


def epoch_in_range(col: ir.NumericValue, unit: str) -> ir.BooleanValue:
    """A finite epoch number in :data:`EPOCH_RANGE_S` in ``unit``."""
    per_second = 1_000_000 // TIME_UNITS[unit]
    lo, hi = (b * per_second for b in EPOCH_RANGE_S)
    ok = (col >= lo) & (col < hi)
    if col.type().is_floating():
        ok = ~col.isnan() & ok
    return ok.fill_null(False)


def _finite(x: ir.FloatingValue) -> ir.FloatingValue:
    """NaN and infinities are not amounts: NULL (validation lists them, HG405)."""
    return (x.isnan() | x.isinf()).ifelse(ibis.null("float64"), x)


def parse(
    raw: ir.Table,
    roles: ResolvedRoles,
    *,
    source: str,
    backend: str,
    json_text: bool = False,
    date_digits: bool = False,
) -> Parsed:
    """Add the parsed role columns; the raw ones stay for validation messages. ``json_text``: the
    role columns are JSON values read as text (JSON lines). ``date_digits``: the numeric time column
    holds YYYYMMDD dates (:func:`looks_like_date_digits` decides it from the data)."""
    cols = roles.columns

    def _text(col: ir.Value, ident: bool = False) -> ir.StringValue:
        return _role_text(col, json_text=json_text, ident=ident)

    exprs: dict[str, ir.Value] = {
        f"{PARSED}customer": _text(raw[cols["customer"]], ident=True),
        f"{PARSED}event": _text(raw[cols["event"]]),
        f"{PARSED}timestamp": _timestamp(
            raw[cols["timestamp"]],
            roles.time_unit,
            role="timestamp",
            source=source,
            backend=backend,
            date_digits=date_digits,
        ),
    }
    for role in OPTIONAL_ROLES:
        if role not in cols:
            continue
        col = raw[cols[role]]
        if role == "revenue":
            ctype = col.type()
            if ctype.is_string():
                exprs[f"{PARSED}revenue"] = _finite(_text(col).try_cast("float64"))
            elif ctype.is_numeric() or ctype.is_boolean():
                exprs[f"{PARSED}revenue"] = _finite(col.cast("float64"))
            else:
                raise SchemaError(
                    f"{source}: the revenue column '{cols[role]}' has type {ctype}",
                    code="HG304",
                    hint="revenue must be a number",
                )
        else:
            exprs[f"{PARSED}{role}"] = _text(col, ident=role in ID_ROLES)
    return Parsed(raw.mutate(**exprs), roles, source, date_digits=date_digits)


def integer_customers(parsed: Parsed) -> bool:
    """True when the customer column is an integer: its canonical text is its decimal digits, so
    grouping by the integer is grouping by the text (a cheaper key for the engine's fast path)."""
    return bool(parsed.table[parsed.roles.columns["customer"]].type().is_integer())


def canonical(parsed: Parsed, *, integer_key: bool = False) -> ir.Table:
    """The canonical event table: roles under their names, then the properties. ``integer_key``
    (only when :func:`integer_customers`) keeps the customer as the source's integer."""
    t = parsed.table
    sel: dict[str, ir.Value] = {
        "customer": t[parsed.roles.columns["customer"]] if integer_key else t[f"{PARSED}customer"],
        "event": t[f"{PARSED}event"],
        "timestamp": t[f"{PARSED}timestamp"],
    }
    for role in OPTIONAL_ROLES:
        if role in parsed.roles.columns:
            sel[role] = t[f"{PARSED}{role}"]
    for out, src in parsed.roles.properties.items():
        sel[out] = t[src]
    return t.select(**sel)


def dedupe(events: ir.Table) -> ir.Table:
    """One row per customer and non-null ``event_id``: the earliest timestamp, then the smallest event
    name. An id is a customer's: the same id on two customers' rows is two events (ids that are not
    unique across customers, or an event-type code in a column called event_id, never merge
    customers)."""
    if "event_id" not in events.columns:
        return events
    rn = ibis.row_number().over(
        group_by=[events.customer, events.event_id], order_by=[events.timestamp, events.event]
    )
    marked = events.mutate(__hg_dup=rn)
    return marked.filter(marked.event_id.isnull() | (marked.__hg_dup == 0)).drop("__hg_dup")
