"""A range's per-customer arrays kept for the clicks that follow it (issue 12: the hourglass page).

A new range's lifecycle computes, on a store, the stage table (engine/stage_firsts.py) and the
channels' customer facts (engine/facts_arrays.py) as Arrow tables; the page's people lists
(engine/range_frames.py: a stage's customers, a channel cell's) are the same tables with the ids
decoded. They are kept here for the last few ranges, so that the people lists of the range just
shown read the store no more (at 10M events about 1 CPU-s each).

Kept per loaded source, not per file: the key holds the source's validation report (the object
itself, shared by the connections of one load: engine/second_connection.py copies the events with
it), so a store written again at its path and loaded again is another source, and a source still
reading the old file keeps its own arrays. The arrays are read-only once computed (Arrow)."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["MAX_KEPT", "MAX_REMEMBERED", "MAX_SHARED", "kept", "remembered", "shared"]

T = TypeVar("T")
MAX_KEPT = 4  #: arrays kept (two kinds of the last two ranges: ~0.3 GB at 10M events)
MAX_REMEMBERED = 64  #: small values kept (a source's last instant: engine/run_lifecycle.py)
MAX_SHARED = 1  #: a range's events read once for both sides of its lifecycle (engine/range_events.py)


class _Shelf:
    """Values kept per loaded source (its report, weakly) and key, the last ``limit`` of them."""

    def __init__(self, limit: int, *, once: bool = False) -> None:
        self.limit = limit
        self.items: OrderedDict[tuple[int, Hashable], tuple[weakref.ref[Any], Any]] = OrderedDict()
        self.lock = threading.Lock()
        self.once = once  # a value being computed: another caller waits for it, not computes it too
        self.computing: dict[tuple[int, Hashable], threading.Lock] = {}

    def get(self, owner: Any, key: Hashable, compute: Callable[[], T]) -> T:
        try:
            ref = weakref.ref(owner)
            full = (id(owner), key)
            hash(full)
        except TypeError:  # an owner without weak references, a key that is no key: computed
            return compute()
        if not self.once:
            return self._get(owner, ref, full, compute)
        with self.lock:
            one = self.computing.setdefault(full, threading.Lock())
        try:
            with one:  # (the first caller computes; the next find its value, or None: compute)
                return self._get(owner, ref, full, compute)
        finally:
            with self.lock:
                if self.computing.get(full) is one and not one.locked():
                    del self.computing[full]

    def _get(
        self, owner: Any, ref: weakref.ref[Any], full: tuple[int, Hashable], compute: Callable[[], T]
    ) -> T:
        with self.lock:
            found = self.items.get(full)
            if found is not None and found[0]() is owner:
                self.items.move_to_end(full)
                return found[1]  # type: ignore[no-any-return]
        value = compute()
        if value is not None:
            with self.lock:
                for gone in [key for key, (r, _) in self.items.items() if r() is None]:
                    del self.items[gone]  # a source no longer loaded
                self.items[full] = (ref, value)
                while len(self.items) > self.limit:
                    self.items.popitem(last=False)
        return value


_arrays = _Shelf(MAX_KEPT)
_small = _Shelf(MAX_REMEMBERED)
_shared = _Shelf(MAX_SHARED, once=True)


def kept(owner: Any, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` kept per ``owner`` (a loaded source's report: its identity) and ``key``; None
    is not kept (the caller's other path)."""
    return _arrays.get(owner, key, compute)


def remembered(owner: Any, key: Hashable, compute: Callable[[], T]) -> T:
    """As :func:`kept`, for small values, on a shelf of their own (they do not push a range's arrays
    out)."""
    return _small.get(owner, key, compute)


def shared(owner: Any, key: Hashable, compute: Callable[[], T]) -> T:
    """As :func:`kept`, on a shelf of its own holding the last value only, computed once: a caller
    asking while another computes it waits for that one (two threads of one new range,
    engine/range_events.py); an error or None lets the next caller compute it."""
    return _shared.get(owner, key, compute)
