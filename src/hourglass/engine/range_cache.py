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

__all__ = ["MAX_KEPT", "kept"]

T = TypeVar("T")
MAX_KEPT = 4  #: arrays kept (two kinds of the last two ranges: ~0.3 GB at 10M events)

_kept: OrderedDict[tuple[int, Hashable], tuple[weakref.ref[Any], Any]] = OrderedDict()
_lock = threading.Lock()


def kept(owner: Any, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` kept per ``owner`` (a loaded source's report: its identity) and ``key``; None
    is not kept (the caller's other path)."""
    try:
        ref = weakref.ref(owner)
        full = (id(owner), key)
        hash(full)
    except TypeError:  # an owner without weak references, a key that is no key: computed
        return compute()
    with _lock:
        found = _kept.get(full)
        if found is not None and found[0]() is owner:
            _kept.move_to_end(full)
            return found[1]  # type: ignore[no-any-return]
    value = compute()
    if value is not None:
        with _lock:
            for gone in [key for key, (r, _) in _kept.items() if r() is None]:
                del _kept[gone]  # a source no longer loaded
            _kept[full] = (ref, value)
            while len(_kept) > MAX_KEPT:
                _kept.popitem(last=False)
    return value
