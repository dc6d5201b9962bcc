"""The referral loop's five aggregates of a store's range from its customer table as Arrow (issue
12: a new date range on the dashboard's hourglass page).

analyses/referrals.py ``referral_plan`` (the reference) reads its customer table (one row per
customer of the range with his referrer: engine/referrers_arrays.py builds it as Arrow on a store)
five times: the summary, the distribution of referees per customer, the referral generations (a
chain of ``max_depth`` self-joins), the new customers per period and the top referrers (at 10M
events a 90-day range, 1.47M customers: ~0.35 CPU-s). Here the same rows come from the Arrow
table's columns in numpy: counts, a ``bincount`` per group, the generations by following each
referee's referrer index ``max_depth`` times, the periods by truncating the first instants as
DuckDB's ``date_trunc`` does (a week starts on Monday), the percentiles as ``quantile_cont``
(engine/stage_firsts.py ``quantiles``). The top referrers are named by their referees' referrer
text, which is the referrer's id (the claims are matched to the store's text ids by equality).
Sums of revenue add in another order than DuckDB's (whose parallel sums vary too); every count and
percentile is the plan's (tests/test_referrals_arrays.py compares them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from hourglass.engine.stage_firsts import quantiles
from hourglass.model.referrals import ReferralSpec

__all__ = ["referral_rows"]

US = 1_000_000
DAY_US = 86400 * US
_EPOCH = datetime(1970, 1, 1)
Rows = list[dict[str, Any]]


def _ints(t: pa.Table, name: str, none: int = 0) -> np.ndarray:
    col = t.column(name).combine_chunks()
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.int64())
    return np.asarray(col.fill_null(none).to_numpy(zero_copy_only=False), dtype=np.int64)


def _valid(t: pa.Table, name: str) -> np.ndarray:
    return np.asarray(t.column(name).is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _n(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def _period_units(us: np.ndarray, unit: str) -> np.ndarray:
    """The start of each µs's period (DuckDB's ``date_trunc(unit, ts)``; a week from Monday) in days
    (day, week) or months (the others) since 1970."""
    if unit in ("day", "week"):
        days = us // DAY_US
        return days - (days + 3) % 7 if unit == "week" else days  # 1970-01-01 was a Thursday
    months = us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    return months - months % {"month": 1, "quarter": 3, "year": 12}[unit]


def _period_starts(us: np.ndarray, unit: str) -> np.ndarray:
    """:func:`_period_units` in µs."""
    return _period_starts_of(_period_units(us, unit), unit)


def _period_starts_of(starts: np.ndarray, unit: str) -> np.ndarray:
    """Periods' starts in days or months (:func:`_period_units`) in µs."""
    if unit in ("day", "week"):
        return starts * DAY_US
    return starts.astype("datetime64[M]").astype("datetime64[us]").astype(np.int64)


def _groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``values`` (integers, ascending) and each row's index among them: a count over
    their span (a sort where the span is much larger than the rows)."""
    if not len(values):
        return values, values
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 4 * len(values) + 1024:
        return np.unique(values, return_inverse=True)
    seen = np.zeros(hi - lo + 1, dtype=bool)
    seen[values - lo] = True
    index = np.cumsum(seen) - 1
    return np.flatnonzero(seen) + lo, index[values - lo]


def _generations(row_of_referrer: np.ndarray, max_depth: int) -> Rows:
    """The plan's ``generation_table`` grouped: per referee (a referrer index ``>= 0``), the number
    of links up to a customer with no referrer (None past ``max_depth``) and whether he is his own
    ancestor within ``max_depth`` links."""
    who = np.flatnonzero(row_of_referrer >= 0)
    if not len(who):
        return []
    cur = row_of_referrer[who]  # p1
    generation = np.zeros(len(who), dtype=np.int64)  # 0: none yet
    cycle = np.zeros(len(who), dtype=bool)
    for k in range(1, max_depth + 1):
        cycle |= cur == who  # p_k is the referee himself
        nxt = np.where(cur >= 0, row_of_referrer[np.maximum(cur, 0)], -1)  # p_{k+1}
        generation[(generation == 0) & (nxt < 0)] = k
        cur = nxt
    rows: Rows = []
    for g in np.unique(generation):
        sel = generation == g
        value = None if g == 0 else int(g)
        rows.append({"generation": value, "customers": _n(sel), "on_cycle": _n(sel & cycle)})
    return rows


def referral_rows(cust: pa.Table, spec: ReferralSpec) -> dict[str, Rows]:
    """The rows of ``referral_plan``'s ``summary``, ``distribution``, ``generations``, ``periods`` and
    ``top`` (as ``run.rows`` gives them, in any order) of its customer table ``cust`` (Arrow, the
    customer a key, engine/referrers_arrays.py)."""
    keys = _ints(cust, "customer")
    referred = _valid(cust, "referrer")
    referrer = _ints(cust, "referrer", -1)
    bought = _ints(cust, "purchaser") == 1
    n_referees = _ints(cust, "n_referees")
    first_purchase = _ints(cust, "first_purchase")
    rfp = _ints(cust, "referrer_first_purchase")
    both = bought & _valid(cust, "referrer_first_purchase")
    delta = (first_purchase[both] - rfp[both]).astype(np.float64) / US
    median, p90 = quantiles(delta, (0.5, 0.9))
    summary: dict[str, Any] = {
        "customers": cust.num_rows,
        "purchasers": _n(bought),
        "referees": _n(referred),
        "referred_purchasers": _n(referred & bought),
        "referrers": _n(n_referees > 0),
        "purchasers_referring": _n(bought & (n_referees > 0)),
        "self_referrals": int(_ints(cust, "is_self").sum()),
        "external_referrers": _n(_valid(cust, "raw_referrer") & ~referred),
        "cycle_pairs": _n(both),
        "cycle_negative": _n(both & (first_purchase < rfp)),
        "cycle_median": median,
        "cycle_p90": p90,
    }
    has_rev = "revenue" in cust.column_names
    revenue = np.zeros(cust.num_rows, dtype=np.float64)
    if has_rev:
        revenue = np.asarray(cust.column("revenue").to_numpy(zero_copy_only=False), dtype=np.float64)
        summary["revenue_total"] = float(revenue.sum())
        summary["revenue_referred"] = float(np.where(referred, revenue, 0.0).sum())
    values, inv = _groups(n_referees)
    counts = np.bincount(inv, minlength=len(values))
    distribution = [{"n_referees": int(v), "customers": int(c)} for v, c in zip(values, counts, strict=True)]
    # each referee's referrer as a row (a referrer is a customer of the range: a row of ``cust``)
    ordered = len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1]))  # (the facts' order: by key)
    order = np.arange(len(keys)) if ordered else np.argsort(keys, kind="stable")
    row_of_referrer = np.full(len(keys), -1, dtype=np.int64)
    if len(keys):
        at = np.searchsorted(keys, referrer[referred], sorter=order)
        row_of_referrer[referred] = order[np.minimum(at, len(keys) - 1)]
    generations = _generations(row_of_referrer, spec.max_depth)
    # each customer's first day, then each distinct day's period (a few hundred days, not 1.5M µs)
    days, day_of = _groups(_ints(cust, "first_ts") // DAY_US)
    uniq, at_day = np.unique(_period_units(days * DAY_US, spec.period), return_inverse=True)
    inv = at_day[day_of] if len(days) else day_of
    new = np.bincount(inv, minlength=len(uniq))
    ref = np.bincount(inv, weights=referred, minlength=len(uniq))
    starts = _period_starts_of(uniq, spec.period)
    periods = [
        {"period": _EPOCH + timedelta(microseconds=int(s)), "new_customers": int(n), "referred": int(r)}
        for s, n, r in zip(starts, new, ref, strict=True)
    ]
    return {
        "summary": [summary],
        "distribution": distribution,
        "generations": generations,
        "periods": periods,
        "top": _top(cust, spec.top, referrer, referred, bought, revenue if has_rev else None),
    }


def _top(
    cust: pa.Table,
    top: int,
    referrer: np.ndarray,
    referred: np.ndarray,
    bought: np.ndarray,
    revenue: np.ndarray | None,
) -> Rows:
    """The ``top`` referrers by referees, then referred purchasers, then id (his referees' referrer
    text: his id)."""
    if not top or not np.any(referred):
        return []
    who = np.flatnonzero(referred)
    ids, inv = _groups(referrer[who])
    referees = np.bincount(inv, minlength=len(ids))
    purchasers = np.bincount(inv, weights=bought[who], minlength=len(ids)).astype(np.int64)
    # the candidates: every referrer tied with the top-th by (referees, referred purchasers)
    rank = np.lexsort((-purchasers, -referees))
    last = rank[min(top, len(ids)) - 1]
    cand = np.flatnonzero(
        (referees > referees[last]) | ((referees == referees[last]) & (purchasers >= purchasers[last]))
    )
    first_row = np.full(len(ids), -1, dtype=np.int64)
    first_row[inv[::-1]] = who[::-1]  # a referee of each referrer
    texts = cust.column("raw_referrer").take(pa.array(first_row[cand])).to_pylist()
    rev = None
    if revenue is not None:
        rev = np.bincount(inv, weights=revenue[who], minlength=len(ids))
    rows = []
    for i, text in zip(cand, texts, strict=True):
        row: dict[str, Any] = {"customer": text, "referees": int(referees[i])}
        row["referred_purchasers"] = int(purchasers[i])
        if rev is not None:
            row["referee_revenue"] = float(rev[i])
        rows.append(row)
    rows.sort(key=lambda r: (-r["referees"], -r["referred_purchasers"], str(r["customer"])))
    return rows[:top]
