"""The people behind a Sankey node and a transition cell on the journeys fast path's numpy kernels
(issue 12, bench/PEOPLE.md): each customer's path (his first ``depth`` runs, or those from or up to his first
anchor run) from the same elements and the same order as the paths answer (engine/journeys_fast.py,
engine/journeys_order.py), kept per customer as one row of node codes; a node's people are then a
numpy filter of those rows, and only the ids of the rows shown are decoded.

Why it is exact. The elements are the fast path's (``c``: the integer customer key, ``ts`` in µs,
``node``: the 1-based stage) in its order (customer, ts, node), which is the portable plan's
sequence (analyses/stages.py orders a customer's events by time, then stage); runs are read from
the sorted keys as the paths' kernel reads them (engine/journeys_ranges.py ``runs_of_keys``); a
path is analyses/paths.py ``customer_paths``'s: ``p{i}`` the node ``i`` runs after (or, up to an
anchor, before) the anchor's first run, ``more`` when a run lies beyond ``p{depth-1}``. The ranges
of customers come in customer order (near keys: engine/journeys_order.py cuts them by value), so
the rows line up with the sorted distinct keys; far keys are declined (None: the caller runs the
portable expression). A transition cell's people: per customer his moves from one stage's run to
the next run (the end: his last run) and the first one's time, as analyses/people.py
``transition_people`` counts them. Tests compare with analyses/people.py ``path_node_people`` and
``transition_people`` (tests/test_people_fast.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from hourglass.engine import grouping, journeys_order
from hourglass.engine.fetched import fetched
from hourglass.engine.journeys_fast import journeys_plan_for, nodes_sql
from hourglass.engine.journeys_order import layout, ordered_ranges
from hourglass.engine.journeys_ranges import runs_of_keys
from hourglass.engine.journeys_seq import I64, small_pages
from hourglass.engine.load import Events
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = [
    "CustomerMoves",
    "CustomerPaths",
    "customer_paths_np",
    "decode_keys",
    "elements",
    "moves_of_runs",
    "per_customer",
    "transition_people_np",
]

R = TypeVar("R")

#: a path's nodes per customer (rows) and step (columns): the 1-based stage, -1 past the path's end
Nodes = npt.NDArray[np.int16]


@dataclass(frozen=True)
class CustomerPaths:
    """Every customer with a path: ``keys`` ascending (a store's customer keys, or the integer
    ids), ``nodes`` (one row per customer, ``steps`` columns) and ``more`` (the journey goes on
    beyond the path)."""

    keys: I64
    nodes: Nodes
    more: npt.NDArray[np.bool_]

    def on_paths(self, paths: list[list[int]], at: int, node: int) -> npt.NDArray[np.intp]:
        """The rows (ascending) whose path is one of ``paths`` (node lists padded with -1 to the
        steps) and whose node at column ``at`` is ``node``: one comparison of each customer's path
        packed in an integer with those of the chosen paths."""
        with small_pages():  # fresh arrays of millions (engine/_pages.py: 0.5 CPU-s of faults at 10M)
            return self._on_paths(paths, at, node)

    def _on_paths(self, paths: list[list[int]], at: int, node: int) -> npt.NDArray[np.intp]:
        steps = self.nodes.shape[1]
        chosen = [p for p in paths if 0 <= at < steps and len(p) == steps and p[at] == node]
        if not chosen or not len(self.keys):
            return np.zeros(0, dtype=np.intp)
        bits = self._bits
        chosen = [p for p in chosen if max(p) + 1 < 1 << bits]  # a node no customer has: none
        if not chosen:
            return np.zeros(0, dtype=np.intp)
        if bits * steps > 62:  # too many nodes to pack: the rows compared column by column
            hit = np.zeros(len(self.keys), dtype=bool)
            for p in {tuple(p) for p in chosen}:
                hit |= (self.nodes == np.asarray(p, dtype=np.int16)).all(axis=1)
            return np.flatnonzero(hit)
        wanted = np.unique(_packed(np.asarray(chosen, dtype=np.int16), bits))
        words = self._words  # a binary search in the few chosen paths (np.isin sorts all words)
        at_ = np.searchsorted(wanted, words)
        np.minimum(at_, len(wanted) - 1, out=at_)
        return np.flatnonzero(wanted[at_] == words)

    def distinct_paths(self, rows: npt.NDArray[np.intp]) -> tuple[Nodes, npt.NDArray[np.intp]]:
        """The distinct paths of ``rows`` and each row's index in them (to name a CSV's millions
        of rows by their few paths)."""
        if not len(rows):
            return self.nodes[:0], np.zeros(0, dtype=np.intp)
        with small_pages():
            return self._distinct_paths(rows)

    def _distinct_paths(self, rows: npt.NDArray[np.intp]) -> tuple[Nodes, npt.NDArray[np.intp]]:
        if self._bits * self.nodes.shape[1] > 62:
            paths, inverse = np.unique(self.nodes[rows], axis=0, return_inverse=True)
            return paths, inverse.reshape(-1)
        _, first, inverse = np.unique(self._words[rows], return_index=True, return_inverse=True)
        return self.nodes[rows[first]], inverse.reshape(-1)

    @cached_property
    def _bits(self) -> int:
        return max(1, (int(self.nodes.max()) + 1).bit_length())

    @cached_property
    def _words(self) -> I64:
        """Each customer's path packed (computed with the table, then kept)."""
        return _packed(self.nodes, self._bits)


def _packed(nodes: Nodes, bits: int) -> I64:
    """Each row's nodes + 1 (0: past the end) in one integer, the first node highest."""
    out = np.zeros(len(nodes), dtype=np.int64)
    node = np.empty(len(nodes), dtype=np.int64)
    for i in range(nodes.shape[1]):
        out <<= bits
        np.add(nodes[:, i], 1, out=node)
        out |= node
    return out


def _why_not(events: Events, spec: PathsSpec) -> str | None:
    if spec.level != "stage" or events.keyed is None:
        return "not a stage level on integer customers"
    from hourglass.model.errors import UnsupportedError

    plain = dataclasses.replace(spec, start=None, end=None)
    try:
        if journeys_plan_for(events, plain) != "fast":
            return "the paths' fast path does not run"
    except UnsupportedError:  # HOURGLASS_PLAN=fast where it cannot run: the portable plan here
        return "the paths' fast path cannot run"
    return None


def _near(c: npt.NDArray[Any], ts: I64, node: npt.NDArray[Any], workers: int) -> bool:
    """engine/journeys_order.py ``ordered_keys`` cuts the customers by value (ranges in customer
    order) rather than by hash: its test, as it makes it."""
    lay = layout(ts, node)
    if lay is None:
        return False
    _, tbits, nbits = lay
    sbits = journeys_order._KEY_BITS - tbits - nbits  # its key budget (tests lower it)
    span = int(c.max()) - int(c.min())
    if len(c) >= 1_000_000 and workers > 1:
        sbits = min(sbits, max(1, (span // (4 * grouping.WORKERS)).bit_length()))
    return span < 1 << 62 and span >> sbits < 1 << 15


def _paths_of_runs(
    new: npt.NDArray[np.bool_], rnode: I64, steps: int, anchor: int | None, reverse: bool
) -> tuple[Nodes, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per customer of one range's runs (``new``: the run starts a customer): his path, ``more``
    and whether he has one (with an anchor: a run of it)."""
    n = len(rnode)
    begin = np.flatnonzero(new)
    end = np.empty_like(begin)
    end[:-1] = begin[1:]
    end[-1] = n
    if anchor is None:
        base, has = begin, np.ones(len(begin), dtype=bool)
    else:
        at = np.flatnonzero(rnode == anchor)
        who = np.cumsum(new, dtype=np.int64)[at] - 1  # the customer of each anchor run
        firsts = np.ones(len(at), dtype=bool)
        firsts[1:] = who[1:] != who[:-1]
        base = np.full(len(begin), -1, dtype=np.int64)
        base[who[firsts]] = at[firsts]
        has = base >= 0
    out = np.full((len(begin), steps), -1, dtype=np.int16)
    for i in range(steps):
        pos = base - i if reverse else base + i
        ok = has & ((pos >= begin) if reverse else (pos < end))
        out[ok, i] = rnode[pos[ok]]
    beyond = base - steps if reverse else base + steps
    more = has & ((beyond >= begin) if reverse else (beyond < end))
    return out, more, has


def elements(events: Events, spec: PathsSpec) -> tuple[npt.NDArray[Any], I64, npt.NDArray[Any]] | None:
    """The fast path's elements (``c`` integer customers, ``ts`` µs, ``node`` the 1-based stage),
    unordered (read-only when the dashboard keeps them: engine/fetched.py); None where the fast
    path does not run or a value is null or a customer text."""
    from hourglass.engine.errors import translated

    if _why_not(events, spec) is not None:
        return None
    hook = getattr(events.engine.con, "_run_pre_execute_hooks", None)
    if hook is not None:  # registers in-memory tables the expression may hold
        hook(events.keyed if events.keyed is not None else events.table)
    sql = f"SELECT c, ts, node FROM ({nodes_sql(events, spec)}) AS n"
    with translated():
        got = fetched(events, sql)  # (the dashboard's: once for the journeys page, engine/fetched.py)
    if any(np.ma.is_masked(v) for v in got.values()):
        return None
    c = np.asarray(got["c"])
    if c.dtype.kind not in "iu":
        return None
    return c, np.asarray(got["ts"], dtype=np.int64), np.asarray(got["node"])


def per_customer(
    events: Events, spec: PathsSpec, each: Callable[[I64, int, int], R]
) -> tuple[I64, list[R], int] | None:
    """``each`` of every range of customers' sorted keys (engine/journeys_order.py
    ``ordered_ranges``), the ranges in customer order, with the distinct customer keys ascending
    (the rows of the ranges' per-customer outputs, concatenated) and the least time (``each``'s
    times are from it); None where the fast path's elements are not there, or a store's keys
    cannot be decoded, or the keys are far (the ranges would come in hash order)."""
    if events.key_count is not None and _database(events) is None:  # no store to decode the keys
        return None
    with small_pages():
        got = elements(events, spec)
        if got is None:
            return None
        c, ts, node = got
        del got
        if not len(c):
            return np.zeros(0, np.int64), [], 0
        workers = grouping.WORKERS
        if not _near(c, ts, node, workers):
            return None
        t_min = int(ts.min())
        parts = ordered_ranges(c, ts, node, each, workers)
        if parts is None:
            return None
        return _distinct(c), parts, t_min


def customer_paths_np(events: Events, spec: PathsSpec) -> CustomerPaths | None:
    """Every customer's path of ``spec`` (analyses/paths.py ``customer_paths``'s rows, in key order),
    from the fast path's elements and the numpy order; None where that does not apply (another
    engine or level, text customers, stages one event matches together, far keys): the caller
    runs analyses/people.py's expression."""
    anchor: int | None = None
    if spec.anchor is not None:
        assert spec.model is not None
        anchor = [s.name for s in spec.model.stages].index(spec.anchor) + 1
    reverse = spec.direction == "reverse"
    steps = spec.steps

    def each(keys: I64, tbits: int, nbits: int) -> tuple[Nodes, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        new, _, rnode = runs_of_keys(keys, tbits, nbits, spec.collapse)
        return _paths_of_runs(new, rnode, steps, anchor, reverse)

    got = per_customer(events, spec, each)
    if got is None:
        return None
    keys, parts, _ = got
    if not parts:
        return CustomerPaths(keys, np.zeros((0, steps), np.int16), np.zeros(0, bool))
    with small_pages():
        nodes = np.concatenate([p[0] for p in parts])
        more = np.concatenate([p[1] for p in parts])
        has = np.concatenate([p[2] for p in parts])
        if len(keys) != len(nodes):  # the ranges did not come in customer order: declined
            return None
        if anchor is not None:
            keys, nodes, more = keys[has], nodes[has], more[has]
        out = CustomerPaths(keys, nodes, more)
        if len(keys) and out._bits * steps <= 62:
            out.__dict__["_words"] = _packed(nodes, out._bits)  # with the table, not at a click
    return out


def _distinct(c: npt.NDArray[Any]) -> I64:
    """The distinct keys ascending (a bincount for near keys, no sort)."""
    lo = int(c.min())
    span = int(c.max()) - lo
    if span < 4 * len(c) + 1024:
        seen = np.bincount(np.subtract(c, lo, dtype=np.int64), minlength=span + 1)
        return np.flatnonzero(seen).astype(np.int64) + lo
    return np.unique(c).astype(np.int64)


def _database(events: Events) -> str | None:
    """The attached store's alias of the keyed events (its ``hg_customers`` decodes the keys)."""
    namespace = getattr(events.keyed.op(), "namespace", None) if events.keyed is not None else None
    database = getattr(namespace, "database", None)
    return str(database) if database else None


def decode_keys(events: Events, keys: I64) -> list[str]:
    """The customer ids of ``keys`` (in their order): a store's ``hg_customers``, or the integer
    ids' text (engine/keyed.py). On its own cursor (the dashboard's pages decode a page at a time)."""
    import pyarrow as pa

    from hourglass.engine.errors import translated

    if events.key_count is None:  # integer ids: their canonical text is their digits
        return [str(k) for k in keys.tolist()]
    database = _database(events)
    if not len(keys):
        return []
    cur = events.engine.con.con.cursor()
    try:
        cur.register("hg_people_keys", pa.table({"c": keys, "i": np.arange(len(keys))}))
        sql = (
            f'SELECT k.id FROM hg_people_keys AS t JOIN "{database}".hg_customers AS k '
            "ON k.key = t.c ORDER BY t.i"
        )
        with translated():
            got = cur.execute(sql).fetchnumpy()["id"]
    finally:
        cur.close()
    return [str(v) for v in got.tolist()]


@dataclass(frozen=True)
class CustomerMoves:
    """The customers of a move (``keys`` ascending), their number of such moves and the first one's
    time (µs since the epoch, the first time of the run it leaves)."""

    keys: I64
    moves: I64
    first_at: I64


def moves_of_runs(
    new: npt.NDArray[np.bool_], rts: I64, rnode: I64, source: int, target: int | None
) -> tuple[I64, I64]:
    """Per customer of one range's runs: his moves from ``source`` to ``target`` (None: the end)
    and the first one's time (-1: none)."""
    m = len(rnode)
    cid = np.cumsum(new, dtype=np.int64) - 1
    customers = int(cid[-1]) + 1 if m else 0
    nxt = np.zeros(m, dtype=np.int64)  # 0: the customer's last run
    nxt[:-1] = rnode[1:]
    nxt[:-1][new[1:]] = 0
    if m:
        nxt[-1] = 0
    hit = np.flatnonzero((rnode == source) & (nxt == (0 if target is None else target)))
    who = cid[hit]
    moves = np.bincount(who, minlength=customers).astype(np.int64)
    first = np.full(customers, -1, dtype=np.int64)
    once = np.ones(len(hit), dtype=bool)
    once[1:] = who[1:] != who[:-1]
    first[who[once]] = rts[hit[once]]
    return moves, first


def transition_people_np(
    events: Events, spec: TransitionsSpec, source: int, target: int | None
) -> CustomerMoves | None:
    """The customers who moved from stage ``source`` to ``target`` (1-based; None: whose sequence
    ended at ``source``), in key order; None where the numpy kernels do not apply (the caller runs
    analyses/people.py ``transition_people``)."""
    if spec.level != "stage" or spec.model is None or spec.by is not None:
        return None
    paths = PathsSpec.build(
        spec.model, level="stage", collapse=spec.collapse, since=spec.since, until=spec.until
    )

    def each(keys: I64, tbits: int, nbits: int) -> tuple[I64, I64]:
        new, rts, rnode = runs_of_keys(keys, tbits, nbits, spec.collapse)
        return moves_of_runs(new, rts, rnode, source, target)

    got = per_customer(events, paths, each)
    if got is None:
        return None
    keys, parts, t_min = got
    if not parts:
        return CustomerMoves(keys, np.zeros(0, np.int64), np.zeros(0, np.int64))
    with small_pages():
        moves = np.concatenate([p[0] for p in parts])
        first = np.concatenate([p[1] for p in parts])
        if len(moves) != len(keys):  # the ranges did not come in customer order: declined
            return None
        keep = np.flatnonzero(moves > 0)
        return CustomerMoves(keys[keep], moves[keep], first[keep] + t_min)
