"""The people behind a transition cell on the journeys fast path's numpy kernels (issue 12,
bench/PEOPLE.md): the customers who moved from one stage to the next (or whose sequence ended at
it), how many times, and when first, as analyses/people.py ``transition_people`` counts them, from
the paths' elements in the order (customer, ts, stage) (engine/paths_people.py ``per_customer``).

Exact as engine/paths_people.py's paths: the runs are the portable plan's (a run's time is its first
element's), a move is a run and the next run of the same customer, the end a customer's last run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hourglass.engine.journeys_ranges import runs_of_keys
from hourglass.engine.journeys_seq import I64
from hourglass.engine.load import Events
from hourglass.engine.paths_people import per_customer
from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = ["CustomerMoves", "moves_of_runs", "transition_people_np"]


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
    moves = np.concatenate([p[0] for p in parts])
    first = np.concatenate([p[1] for p in parts])
    if len(moves) != len(keys):  # the ranges did not come in customer order: declined
        return None
    keep = np.flatnonzero(moves > 0)
    return CustomerMoves(keys[keep], moves[keep], first[keep] + t_min)
