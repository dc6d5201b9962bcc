"""The referral loop's and the channels' customer table of a range with its referrers, from numpy
arrays (issue 12: a new date range on the dashboard's hourglass page).

analyses/referrals.py ``with_referrers`` adds to the customer facts each customer's chosen
referrer (his earliest claim by another, ties to the least referrer text), whether he referred
himself, his referrer when that one is a customer of the range, the referrer's first purchase and
how many customers he referred: five joins of the range's customers (1.5M at 10M events) carrying
every column, and the table written (1.5-1.8 CPU-s at 10M). On a store, with the ``referrer``
column (not the referral-event mode), the claims are read once (the rows with a referrer in the
range, each referrer text looked up in the store's customer table: a small join) and the rest is
numpy over the dense keys, on the facts of engine/facts_arrays.py; the table goes back to DuckDB
as Arrow, with the plan's types (tests/test_referrals_facts.py compares it with the plan's)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hourglass.engine._arrow import from_numpy
from hourglass.engine._pages import small_pages
from hourglass.engine.range_cache import remembered

__all__ = ["with_referrers_arrow"]

_BIG = np.iinfo(np.int64).max


def _referrer_keys(raw: Any, alias: str, table: str) -> tuple[pa.Array, pa.Array]:
    """Every referrer text of the store that is a customer's id, and that customer's key."""
    got = raw.sql(
        'SELECT k.id AS r, k."key" AS rk FROM (SELECT DISTINCT referrer FROM '
        f"{table} WHERE referrer IS NOT NULL) AS d "
        f'JOIN "{alias}".hg_customers AS k ON k.id = d.referrer'
    ).to_arrow_table()
    return got.column("r").combine_chunks(), got.column("rk").combine_chunks()


def _claims(raw: Any, alias: str, table: str, bounds: str, owner: Any = None) -> pa.Table | None:
    """The range's rows with a referrer: the referee's key, the time, the referrer's text and his
    key (null: not a customer of the store); None when the referrer column is not text. With
    ``owner`` (the loaded source's report), the store's referrer texts are looked up in its
    customer table once (engine/range_cache.py ``remembered``) and each range's texts among them
    (at 10M events the join of a range's claims with the 2.4M customers' ids was ~0.15 CPU-s of
    its 0.2-0.3)."""
    kind = raw.execute(f"SELECT typeof(referrer) FROM {table} LIMIT 1").fetchall()
    if kind and str(kind[0][0]) != "VARCHAR":
        return None
    if owner is not None:
        claims: pa.Table = raw.sql(
            f'SELECT customer AS c, "timestamp" AS ts, referrer AS r FROM {table} '
            f"WHERE referrer IS NOT NULL{bounds}"
        ).to_arrow_table()
        texts, keys = remembered(owner, ("referrer keys", alias), lambda: _referrer_keys(raw, alias, table))
        at = pc.index_in(claims.column("r"), value_set=texts)  # (null: not a customer's id)
        return claims.append_column("rk", keys.take(at))
    on_e = bounds.replace('"timestamp"', 'e."timestamp"')
    sql = (
        'SELECT e.customer AS c, e."timestamp" AS ts, e.referrer AS r, k."key" AS rk '
        f'FROM {table} AS e LEFT JOIN "{alias}".hg_customers AS k ON k.id = e.referrer '
        f"WHERE e.referrer IS NOT NULL{on_e}"
    )
    got: pa.Table = raw.sql(sql).to_arrow_table()
    return got


def with_referrers_arrow(
    raw: Any,
    alias: str,
    table: str,
    bounds: str,
    facts: pa.Table,
    schema: dict[str, Any],
    owner: Any = None,
) -> pa.Table | None:
    """``facts`` (engine/facts_arrays.py, ``customer`` a key) with ``with_referrers``' columns, in
    ``schema``'s order and types (the plan's ``customers``); None where this path does not apply.
    ``owner``: the loaded source's report (:func:`_claims`: the referrers' keys looked up once)."""
    added = ["raw_referrer", "is_self", "referrer", "referrer_first_purchase", "n_referees"]
    if list(schema) != [*facts.column_names, *added]:
        return None
    with small_pages():
        claims = _claims(raw, alias, table, bounds, owner)
        if claims is None:
            return None
        keys = np.asarray(facts.column("customer").to_numpy(), dtype=np.int64)
        ce = np.asarray(claims.column("c").to_numpy(), dtype=np.int64)
        cts = np.asarray(claims.column("ts").to_numpy(), dtype=np.int64)
        rk = np.asarray(claims.column("rk").fill_null(-1).to_numpy(), dtype=np.int64)
        size = 1 + max(int(a.max()) if len(a) else 0 for a in (keys, ce, rk))
        # the referrer texts' ranks in byte order (as DuckDB orders text)
        encoded = pc.dictionary_encode(claims.column("r").combine_chunks())
        order = np.asarray(pc.sort_indices(encoded.dictionary).to_numpy(), dtype=np.int64)
        rank_of = np.empty(len(order), dtype=np.int64)
        rank_of[order] = np.arange(len(order))
        texts = encoded.dictionary.take(pa.array(order))
        rank = rank_of[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
        same = rk == ce
        is_self = np.zeros(size, dtype=bool)
        is_self[ce[same]] = True
        other = ~same
        oc, ots, orank = ce[other], cts[other], rank[other]
        at = np.full(size, _BIG, dtype=np.int64)
        np.minimum.at(at, oc, ots)
        tied = ots == at[oc]
        best = np.full(size, _BIG, dtype=np.int64)
        np.minimum.at(best, oc[tied], orank[tied])
        key_of = np.full(len(order) + 1, -1, dtype=np.int64)  # a text's key (-1: none); last: no claim
        key_of[rank] = rk
        chosen = best[keys]
        has = chosen != _BIG
        ck = key_of[np.where(has, chosen, len(order))]
        in_facts = np.zeros(size + 1, dtype=bool)
        in_facts[keys] = True
        known = (ck >= 0) & in_facts[np.where(ck >= 0, ck, size)]
        fp = facts.column("first_purchase")
        first_purchase = np.full(size + 1, _BIG, dtype=np.int64)
        first_purchase[keys] = np.asarray(fp.fill_null(_BIG).to_numpy(), dtype=np.int64)
        referrer = np.where(known, ck, size)
        rfp = first_purchase[referrer]
        n_referees = np.bincount(ck[known], minlength=size + 1)[keys]
    columns = dict(zip(facts.column_names, facts.columns, strict=True))
    columns["raw_referrer"] = texts.take(from_numpy(np.where(has, chosen, 0), has, pa.int64()))
    columns["is_self"] = pa.array(is_self[keys].astype(np.int64))
    columns["referrer"] = from_numpy(np.where(known, ck, 0), known, pa.int64())
    columns["referrer_first_purchase"] = from_numpy(np.where(rfp != _BIG, rfp, 0), rfp != _BIG, pa.int64())
    columns["n_referees"] = pa.array(n_referees.astype(np.int64))
    out = {}
    for name, typ in schema.items():
        out[name] = columns[name].cast(typ.to_pyarrow())
    return pa.table(out)
