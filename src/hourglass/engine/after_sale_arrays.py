"""The after-sale metrics of a store's range from numpy arrays (issue 12: the hourglass page's date
range). analyses/after_sale.py ``after_sale_plan`` (the reference) joins the range's events with the
purchasers and runs six aggregates (at 10M events a 90-day range: ~0.9 CPU-s with the events
present). Here they come from the range's events as engine/range_events.py read them for the stage
table (key, µs, name code): only the events of the names the metrics read (a slice per name in the
store's order; at 10M ~0.3M of 5.75M), the purchasers and sale instants of the stage table
(engine/stage_firsts.py), and, read once per loaded source, the offer events' texts and the events'
revenue. "The latest purchase at or before" and "the first resolution at or after" (the plan's
window frames) are a sort by (purchaser, time, kind) and a running index of the other kind's rows.
The loyalty's revenue sums add in another order than DuckDB's (whose parallel sums vary too); every
count and percentile is the plan's (tests/test_lifecycle_after_arrays.py). Only for a stage table
of the arrays and a purchase step of plain names without a filter; else None (the plan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from hourglass.analyses._match import micros_of
from hourglass.engine._values import sql_literal as _literal
from hourglass.engine.keyed import Keyed
from hourglass.engine.range_cache import remembered
from hourglass.engine.range_events import bounds_sql, in_range, range_events, revenue_events
from hourglass.engine.stage_firsts import EVENTS, plain_step, quantiles, store_alias
from hourglass.model.after_sale import after_sale_names
from hourglass.model.lifecycle import AfterSaleSpec, LifecycleSpec

__all__ = ["AfterArrays", "after_arrays"]

DAY_US = 86400 * 1_000_000
Rows = list[dict[str, Any]]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _beside(p: np.ndarray, ts: np.ndarray, kind: np.ndarray, *, nxt: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per row (in the given order), in the order (purchaser ``p``, ``ts``, ``kind``) of its
    purchaser's rows: the time of the last row of kind 0 at or before it (``nxt`` False: a window
    over rows up to the current one) or of the first row of kind 1 at or after it (``nxt``: from the
    current one on), and whether there is one."""
    n = len(p)
    order = np.lexsort((kind, ts, p))
    ps, tss = p[order], ts[order]
    at = np.arange(n, dtype=np.int64)
    if nxt:
        idx = np.where(kind[order] == 1, at, n)
        idx = np.minimum.accumulate(idx[::-1])[::-1]
        ok = idx < n
        idx = np.minimum(idx, n - 1)
    else:
        idx = np.where(kind[order] == 0, at, -1)
        idx = np.maximum.accumulate(idx)
        ok = idx >= 0
        idx = np.maximum(idx, 0)
    ok &= ps[idx] == ps
    found, has = np.empty(n, dtype=np.int64), np.empty(n, dtype=bool)
    found[order], has[order] = tss[idx], ok
    return found, has


def _purchaser(keys: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Each key of ``c``: its index among the purchasers' ``keys`` (ascending), -1 if none."""
    if not len(keys):
        return np.full(len(c), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, c), len(keys) - 1)
    return np.where(keys[at] == c, at, -1)


def _among(p: np.ndarray, some: np.ndarray, n_p: int) -> np.ndarray:
    """A mask of ``p`` (purchaser indices) of the purchasers in ``some`` (the windows sort these only)."""
    mark = np.zeros(n_p + 1, dtype=bool)
    mark[some] = True
    return np.asarray(mark[p], dtype=bool)  # (-1, no purchaser: the last, False)


def _offer_events(
    raw: Any, table: str, names: tuple[str, ...], offer: str | None, owner: Any
) -> tuple[Any, ...]:
    """The source's events of ``names`` (the offers sent and redeemed): key, µs, name code, and the
    offer's text (``offer_column`` as text, else ``(none)``; no such column: ``(all)``) as an index
    into the texts; read once per loaded source ``owner`` (a few per cent of the events)."""

    def read() -> tuple[Any, ...]:
        # (DuckDB prunes the store's row groups by an OR of equalities, not by an IN list)
        match = " OR ".join(f"event = {_literal(n)}" for n in names)
        text = f"COALESCE(CAST({_q(offer)} AS VARCHAR), '(none)')" if offer else "'(all)'"
        sql = f'SELECT customer AS c, "timestamp" AS ts, enum_code(event) AS e, {text} AS o FROM {table}'
        got = raw.sql(f"{sql} WHERE {match}").to_arrow_table()
        enc = got.column("o").combine_chunks().dictionary_encode()
        return (
            np.asarray(got.column("c").to_numpy(), dtype=np.int64),
            np.asarray(got.column("ts").to_numpy(), dtype=np.int64),
            np.asarray(got.column("e").to_numpy(), dtype=np.int64),
            np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64),
            [str(x) for x in enc.dictionary.to_pylist()],
        )

    return remembered(owner, ("after_sale_offers", table, names, offer), read)


def _n(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def _median(values: np.ndarray) -> float | None:
    return quantiles(np.asarray(values, dtype=np.float64), (0.5,))[0]


@dataclass(frozen=True)
class _Events:
    """The range's events of the names asked for: purchaser index (-1: not a purchaser), µs, code."""

    p: np.ndarray
    ts: np.ndarray
    e: np.ndarray

    def of(self, codes: set[int]) -> np.ndarray:
        """A mask of the events whose name's code is one of ``codes``."""
        return np.isin(self.e, np.fromiter(codes, dtype=np.int64, count=len(codes)))


@dataclass(frozen=True)
class AfterArrays:
    """The range's after-sale inputs as arrays: ``present`` (the after-sale names the range has),
    then :meth:`rows` (the plan's rows per block, as ``run.rows`` gives them)."""

    spec: AfterSaleSpec
    present: frozenset[str]
    codes: dict[str, int]
    buy: set[int]
    ev: _Events
    sale: np.ndarray  #: per purchaser: his sale instant (µs)
    keys: np.ndarray  #: per purchaser: his key (ascending)
    now: int
    raw: Any
    table: str
    lo: int | None  #: the range's start (µs), if any
    hi: int | None  #: its end (µs, excluded), if any
    owner: Any  #: the loaded source's report (engine/range_cache.py): its offers and revenue read once
    offer: str | None  #: the offer column, if the events have it
    revenue: bool  #: the events have a revenue column

    def _codes(self, names: tuple[str, ...]) -> set[int]:
        return {self.codes[n] for n in names if n in self.codes}

    def rows(self, missing: Any) -> dict[str, Rows]:
        a, ev = self.spec, self.ev
        n_p = len(self.keys)
        mine = ev.p >= 0
        since_sale = ev.ts - self.sale[np.maximum(ev.p, 0)]  # (µs; a non-purchaser's row: not mine)
        after = mine & (since_sale >= 0)
        buy = ev.of(self.buy)
        # purchase_customers: per purchaser his purchases in the range, the k-th's instant in (ts, event)
        mine_buy = mine & buy
        bp, bts = ev.p[mine_buy], ev.ts[mine_buy]
        order = np.lexsort((bts, bp))
        bp, bts = bp[order], bts[order]
        n = np.bincount(bp, minlength=n_p)
        rank = np.arange(len(bp)) - np.searchsorted(bp, bp, "left")
        t = np.zeros((a.nth + 1, n_p), dtype=np.int64)
        has = np.zeros((a.nth + 1, n_p), dtype=bool)
        for k in range(1, a.nth + 1):
            sel = rank == k - 1
            t[k, bp[sel]], has[k, bp[sel]] = bts[sel], True
        repeater = has[2].copy()
        observed = np.ones(n_p, dtype=bool)
        if a.repeat_within is not None:
            repeater &= t[2] - t[1] <= a.repeat_within
            observed = has[1] & (t[1] + a.repeat_within <= self.now)
        ps: dict[str, Any] = {"all_purchasers": n_p, "purchasers": _n(observed)}
        ps |= {"repeaters": _n(observed & repeater), "purchases": int(n.sum())}
        for k in range(2, a.nth + 1):
            ps[f"c{k}"] = _n(has[k])
            ps[f"d{k}"] = _median((t[k] - t[1])[has[k]].astype(np.float64) / DAY_US)
        out: dict[str, Rows] = {"purchases": [ps]}
        if "remorse" not in missing:
            out["remorse"] = [self._remorse(after, buy)]
        if "support" not in missing:
            out["support"] = [self._support(after)]
        if "experience_gap" not in missing:
            out["experience_gap"] = [self._gap(after, since_sale, buy, observed, repeater)]
        if "win_back" not in missing:
            out["win_back"] = self._offers(bp, bts)
        if "loyalty" not in missing:
            out["loyalty"] = self._loyalty(observed, repeater)
        return out

    def _remorse(self, after: np.ndarray, buy: np.ndarray) -> dict[str, Any]:
        """A remorse event within ``remorse_within`` after the latest purchase at or before it."""
        ev = self.ev
        remorse = after & ev.of(self._codes(self.spec.remorse_events)) & ~buy
        sel = after & (buy | remorse) & _among(ev.p, ev.p[remorse], len(self.keys))
        p, ts, kind = ev.p[sel], ev.ts[sel], np.where(buy[sel], 0, 1)
        last, has = _beside(p, ts, kind, nxt=False)
        hit = (kind == 1) & has & (ts - last <= self.spec.remorse_within)
        return {"events": _n(hit), "customers": len(np.unique(p[hit]))}

    def _support(self, after: np.ndarray) -> dict[str, Any]:
        """Each contact resolved by the first resolved event at or after it."""
        ev = self.ev
        contact = ev.of(self._codes(self.spec.support_events))
        sel = after & (contact | ev.of(self._codes(self.spec.resolved_events)))
        sel &= _among(ev.p, ev.p[after & contact], len(self.keys))
        p, ts, kind = ev.p[sel], ev.ts[sel], np.where(contact[sel], 0, 1)
        res, has = _beside(p, ts, kind, nxt=True)
        c = kind == 0
        wait = (res[c & has] - ts[c & has]).astype(np.float64) / 1_000_000
        out = {"contacts": _n(c), "customers": len(np.unique(p[c])), "resolved": _n(c & has)}
        return out | {"median_s": _median(wait)}

    def _gap(
        self,
        after: np.ndarray,
        since_sale: np.ndarray,
        buy: np.ndarray,
        observed: np.ndarray,
        repeater: np.ndarray,
    ) -> dict[str, Any]:
        """The first negative event after the sale (within ``gap_within``) and the last purchase."""
        ev, n_p = self.ev, len(self.keys)
        neg = after & ev.of(self._codes(self.spec.negative_events))
        if self.spec.gap_within is not None:
            neg &= since_sale <= self.spec.gap_within
        none = np.iinfo(np.int64).max
        first_neg = np.full(n_p, none, dtype=np.int64)
        np.minimum.at(first_neg, ev.p[neg], ev.ts[neg])
        last_buy = np.full(n_p, np.iinfo(np.int64).min, dtype=np.int64)
        after_buy = after & buy
        np.maximum.at(last_buy, ev.p[after_buy], ev.ts[after_buy])
        had = first_neg != none
        got = [had, had & (last_buy > first_neg), observed & had, observed & had & repeater]
        got += [observed & ~had, observed & ~had & repeater]
        names = ("negative", "recovered", "obs_neg", "rep_neg", "obs_pos", "rep_pos")
        return {name: _n(x) for name, x in zip(names, got, strict=True)}

    def _offers(self, bp: np.ndarray, bts: np.ndarray) -> Rows:
        """Per offer: the (purchaser, offer) pairs sent after the sale (at their first sending),
        redeemed at or after it, and followed by a purchase within ``offer_within``. ``bp``, ``bts``:
        the purchasers' purchases in the range (one after a sending is after the sale)."""
        a = self.spec
        sent_c, red_c = self._codes(a.offer_sent_events), self._codes(a.offer_redeemed_events)
        wanted = sent_c | red_c
        if not wanted:
            return []
        names = tuple(sorted(n for n, code in self.codes.items() if code in wanted))
        got = _offer_events(self.raw, self.table, names, self.offer, self.owner)
        c, ts, e, o, texts = in_range(got, self.lo, self.hi)
        p = _purchaser(self.keys, c)
        mine = p >= 0
        mine[mine] = ts[mine] >= self.sale[p[mine]]
        width = max(len(texts), 1)
        is_sent = mine & np.isin(e, list(sent_c))
        key = p[is_sent] * width + o[is_sent]
        pairs, inv = np.unique(key, return_inverse=True)
        sent_at = np.full(len(pairs), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(sent_at, inv, ts[is_sent])
        is_red = mine & np.isin(e, list(red_c))
        rkey = p[is_red] * width + o[is_red]
        at = np.minimum(np.searchsorted(pairs, rkey), max(len(pairs) - 1, 0))
        redeemed = np.zeros(len(pairs), dtype=bool)
        if len(pairs):
            hit = (pairs[at] == rkey) & (ts[is_red] >= sent_at[at])
            redeemed[at[hit]] = True
        # the first purchase after the sending: at or after its next µs (not at its instant)
        keep = _among(bp, pairs // width, len(self.keys))
        bp, bts = bp[keep], bts[keep]
        kind = np.concatenate([np.ones(len(bp), dtype=np.int64), np.zeros(len(pairs), dtype=np.int64)])
        both_p = np.concatenate([bp, pairs // width])
        both_ts = np.concatenate([bts, sent_at + 1])
        nxt, has = _beside(both_p, both_ts, kind, nxt=True)
        nxt, has = nxt[len(bp) :], has[len(bp) :]
        returned = has & (nxt <= sent_at + a.offer_within)
        offer_of = pairs % width
        per = [(texts[int(i)], offer_of == i) for i in np.unique(offer_of)]
        return [
            {"offer": text, "sent": _n(sel), "redeemed": _n(redeemed & sel), "returned": _n(returned & sel)}
            for text, sel in per
        ]

    def _loyalty(self, observed: np.ndarray, repeater: np.ndarray) -> Rows:
        """Observed purchasers by membership (a loyalty event in the range), their revenue in it."""
        ev, n_p = self.ev, len(self.keys)
        member = np.zeros(n_p, dtype=bool)
        loyal = (ev.p >= 0) & ev.of(self._codes(self.spec.loyalty_events))
        member[ev.p[loyal]] = True
        rev: np.ndarray = np.zeros(n_p, dtype=np.float64)
        if self.revenue:
            c, _ts, r = in_range(revenue_events(self.raw, self.table, self.owner), self.lo, self.hi)
            p = _purchaser(self.keys, c)
            keep = p >= 0
            rev = np.bincount(p[keep], weights=r[keep], minlength=n_p)
        per = [(m, observed & (member == m)) for m in (False, True)]
        return [
            {"member": m, "n": _n(sel), "repeaters": _n(sel & repeater)}
            | {"rev": float(rev[sel].sum()), "rev_sq": float((rev[sel] * rev[sel]).sum())}
            for m, sel in per
            if np.any(sel)
        ]


def after_arrays(
    raw: Any,
    k: Keyed | None,
    spec: LifecycleSpec,
    stage: pa.Table,
    now: datetime,
    owner: Any = None,
    channel: str | None = None,
) -> AfterArrays | None:
    """The range's after-sale inputs from its events as engine/range_events.py reads them (the same
    arguments as the stage table's, engine/stage_firsts.py: found there, not read again) and the
    stage ``table`` (its keys and ``<sale>_at``); None where this path does not apply."""
    buy_names = None if spec.model.purchase_step is None else plain_step(spec.model.purchase_step)
    sale = spec.model.sale
    if k is None or buy_names is None or sale is None or spec.as_of is not None:
        return None
    if (
        spec.after_sale.offer_column == "timestamp"
    ):  # the store's µs, not the events' instant: its text differs
        return None
    alias = store_alias(k)
    if alias is None:
        return None
    table = f'"{alias}"."{EVENTS}"'
    read = range_events(raw, table, channel, bounds_sql(spec.since, spec.until), owner)
    if read is None:
        return None
    events, codes = read[0], {n: i for i, n in enumerate(read[1])}
    wanted = sorted({codes[n] for n in (*after_sale_names(spec.after_sale), *buy_names) if n in codes})
    e = events.column("e").to_numpy()
    if len(e) > 1 and bool(np.all(e[1:] >= e[:-1])):  # the store's order: a slice per name
        parts = []
        for code in wanted:
            at = e.dtype.type(code)
            parts.append(np.arange(np.searchsorted(e, at, "left"), np.searchsorted(e, at, "right")))
        rows = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    else:
        member = np.zeros(len(codes) + 1, dtype=bool)
        member[wanted] = True
        rows = np.flatnonzero(member[e])
    c = np.asarray(events.column("c").to_numpy()[rows], dtype=np.int64)
    ts = np.asarray(events.column("ts").to_numpy()[rows], dtype=np.int64)
    ec = np.asarray(e[rows], dtype=np.int64)
    at_col = stage.column(f"{sale}_at").combine_chunks()
    valid = np.asarray(at_col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    keys = np.asarray(stage.column("customer").to_numpy(), dtype=np.int64)[valid]
    sale_us = np.asarray(at_col.cast(pa.int64()).fill_null(0).to_numpy(), dtype=np.int64)[valid]
    seen = set(np.unique(ec).tolist())
    present = frozenset(n for n, i in codes.items() if i in seen)
    columns = set(k.table.columns)
    offer = spec.after_sale.offer_column
    return AfterArrays(
        spec=spec.after_sale,
        present=present,
        codes=codes,
        buy={codes[n] for n in buy_names if n in codes},
        ev=_Events(_purchaser(keys, c), ts, ec),
        sale=sale_us,
        keys=keys,
        now=micros_of(now),
        raw=raw,
        table=table,
        lo=None if spec.since is None else micros_of(spec.since),
        hi=None if spec.until is None else micros_of(spec.until),
        owner=owner,
        offer=offer if offer in columns else None,
        revenue="revenue" in columns,
    )
