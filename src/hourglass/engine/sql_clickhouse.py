"""ClickHouse SQL that runs: Ibis's generated SQL, adjusted for ClickHouse's analyzer and settings.

ClickHouse (the analyzer, mandatory since 26.9) makes the aliases of an outer SELECT visible inside
its subqueries, and an alias wins over a table name in a qualified asterisk: Ibis names its
subqueries ``t0``, ``t1``, ..., so an outer column called ``t3`` (a funnel's step time) turns an inner
``"t3".* EXCEPT (...)`` into "Unknown identifier" (no setting turns this scoping off). The subqueries
are renamed to names no column uses. Settings then pin what would otherwise depend on the server.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["CLICKHOUSE_SETTINGS", "clickhouse_sql"]

# join_use_nulls: an unmatched LEFT JOIN row gets NULL (as on every other engine), not 0 / 1970-01-01.
# session_timezone: literal timestamps (the epoch Ibis subtracts for microseconds) are read in UTC.
CLICKHOUSE_SETTINGS: dict[str, Any] = {"join_use_nulls": 1, "session_timezone": "UTC"}

_GENERATED = re.compile(r"t\d+")


def _fresh_prefix(taken: set[str]) -> str:
    prefix = "hg_"
    while any(name.startswith(prefix) for name in taken):
        prefix = "_" + prefix
    return prefix


def _alias_identifier(node: Any) -> Any:
    """The identifier that names a relation (``FROM x AS t0``, ``(...) AS t1``, ``WITH t2 AS``)."""
    from sqlglot import exp

    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias):
        alias = alias.args.get("this")
    return alias if isinstance(alias, exp.Identifier) else None


def _walk(tree: Any) -> list[Any]:
    """Every node of ``tree``, each once, including the nodes Ibis keeps in tuples (a window's
    ``PARTITION BY`` and ``ORDER BY`` keys), which sqlglot's ``find_all`` does not visit."""
    from sqlglot import exp

    seen: set[int] = set()
    out: list[Any] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(reversed(node))
            continue
        if not isinstance(node, exp.Expression) or id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        stack.extend(reversed(list(node.args.values())))
    return out


def _find(tree: Any, *types: type) -> list[Any]:
    return [n for n in _walk(tree) if isinstance(n, types)]


def _rename_relations(tree: Any) -> Any:
    """Every subquery/table/CTE alias Ibis generated (``t<n>``) and its uses, under a prefix no
    identifier of the query starts with."""
    from sqlglot import exp

    relations = (exp.Subquery, exp.Table, exp.CTE)
    named = [i for n in _find(tree, *relations) if (i := _alias_identifier(n)) is not None]
    aliases = {i.name for i in named if _GENERATED.fullmatch(i.name)}
    if not aliases:
        return tree
    ctes = {c.alias for c in _find(tree, exp.CTE)}
    prefix = _fresh_prefix({i.name for i in _find(tree, exp.Identifier)})

    def rename(ident: Any) -> None:
        if isinstance(ident, exp.Identifier) and ident.name in aliases:
            ident.set("this", prefix + ident.name)

    for ident in named:
        rename(ident)
    for node in _find(tree, exp.Column, exp.Table):
        if isinstance(node, exp.Column):
            rename(node.args.get("table"))
        elif not node.args.get("db") and node.name in ctes:
            rename(node.args.get("this"))
    return tree


# a RANGE frame's offset must be below 2^31 - 1 in ClickHouse (ClickHouse/ClickHouse#72227)
_MAX_OFFSET = 2**31 - 2


def _offset(node: Any) -> int | None:
    from sqlglot import exp

    if isinstance(node, exp.Literal) and not node.is_string:
        return int(node.this) if str(node.this).isdigit() else None
    return None


def _exact_key(order: Any, unit: int) -> Any:
    """``order`` (integer) as a Float64 key in which a step of ``unit`` is 1 and that compares
    exactly: ``floor(x / unit) + (x mod unit) / 2^j`` with ``2^j > unit`` (both parts exact in a
    double while ``|x| + offset < 2^52``; for µs timestamps, years 1827..2112). Rows ``y - x <= m *
    unit`` are exactly the keys ``ky <= kx + m``, so a RANGE frame of ``m`` in the key is the frame of
    ``m * unit`` in the integer."""
    from sqlglot import exp

    def fn(name: str, *args: Any) -> Any:
        return exp.Anonymous(this=name, expressions=list(args))

    u = exp.Literal.number(unit)
    rem = fn("positiveModulo", order.copy(), u.copy())
    quotient = fn("intDiv", exp.Sub(this=order.copy(), expression=rem.copy()), u.copy())
    scale = exp.Literal.number(float(1 << unit.bit_length()))
    return exp.Add(this=quotient, expression=exp.Div(this=rem, expression=scale))


def _small_range_frames(tree: Any) -> Any:
    """RANGE frames whose offsets ClickHouse rejects, rewritten over an exact scaled key."""
    from math import gcd

    from sqlglot import exp

    for win in _find(tree, exp.Window):
        spec = win.args.get("spec")
        if spec is None or str(spec.args.get("kind", "")).upper() != "RANGE":
            continue
        ends = {k: _offset(spec.args.get(k)) for k in ("start", "end")}
        offsets = [v for v in ends.values() if v]
        if not offsets or max(offsets) <= _MAX_OFFSET:
            continue
        order = win.args.get("order")
        if order is None or len(order.expressions) != 1 or order.expressions[0].args.get("desc"):
            continue
        unit = 0
        for offset in offsets:
            unit = gcd(unit, offset)
        if max(offsets) // unit > _MAX_OFFSET:  # two offsets without a common unit: left to ClickHouse
            continue
        # Ibis shares nodes between windows (in tuples, which copy() keeps): build new ones
        old = order.expressions[0]
        key = exp.Ordered(
            this=_exact_key(old.this, unit), desc=False, nulls_first=old.args.get("nulls_first")
        )
        win.set("order", exp.Order(expressions=[key]))
        spec = spec.copy()
        win.set("spec", spec)
        for side, value in ends.items():
            if value:
                spec.set(side, exp.Literal.number(value // unit))
    return tree


def _exact_quantiles(tree: Any) -> Any:
    """Ibis's ``quantile`` (exact, linear interpolation on DuckDB and Spark) compiles to ClickHouse's
    sampling ``quantile``; ``quantileExactInclusive`` is the exact one with the same interpolation."""
    from sqlglot import exp

    for agg in _find(tree, exp.ParameterizedAgg):
        if str(agg.name).lower() == "quantile":
            agg.set("this", "quantileExactInclusive")
    return tree


def _nullable_lags(tree: Any) -> Any:
    """``lagInFrame(x)`` / ``leadInFrame(x, n)`` without a default give the type's default (0, '')
    past the partition's edge on ClickHouse where DuckDB and Spark give NULL (``LAG``'s meaning);
    ``toNullable(x)`` makes ClickHouse's default NULL too."""
    from sqlglot import exp

    for fn in _find(tree, exp.Anonymous):
        name = str(fn.this).lower()
        args = fn.expressions
        if name in ("laginframe", "leadinframe") and args and len(args) < 3:
            wrapped = exp.Anonymous(this="toNullable", expressions=[args[0].copy()])
            fn.set("expressions", [wrapped, *args[1:]])  # not .replace(): Ibis shares column nodes
    return tree


def clickhouse_sql(tree: Any, dialect: Any, *, pretty: bool = True) -> str:
    """The SQL text of Ibis's sqlglot ``tree`` for ClickHouse: relations renamed, exact quantiles,
    NULL past a lag's edge, RANGE frames ClickHouse accepts, and the settings appended."""
    tree = _small_range_frames(_nullable_lags(_exact_quantiles(_rename_relations(tree))))
    sql = str(tree.sql(dialect=dialect, pretty=pretty))
    settings = ", ".join(
        f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in CLICKHOUSE_SETTINGS.items()
    )
    return f"{sql}\nSETTINGS {settings}"
