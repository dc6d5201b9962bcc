"""A view that takes long is shown as progress, then filled in: ``hourglass serve`` computes a
view's fragment in the background and answers at most ``wait_s`` later; what is not ready by then is
a progress note (HTTP 202) that the page asks for again (hg.js: ``data-hg-poll``, the same URL)
until the view is there. A second request for a view being computed (the page asking again, another
tab) waits for the same computation; a computation counts as a request being answered, so the work
that may wait (dashboard/ahead.py) does not take the cores meanwhile.

The fragment is computed by the same function as without progress (the views' results cached per
source version and query, data.py), so what is shown in the end is what would have been shown."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from .ahead import Ahead

__all__ = ["KEEP_DONE_S", "Pending", "Progress"]

KEEP_DONE_S = 120.0  # a finished view nobody asked for again is dropped after this
MAX_KEPT = 64


@dataclass
class Pending(Exception):
    """The view is not ready: being computed for ``elapsed`` seconds."""

    what: str
    elapsed: float


@dataclass
class _Running:
    future: Future[str]
    what: str
    started: float
    done_at: float | None = None


class Progress:
    def __init__(self, ahead: Ahead, wait_s: float, workers: int = 8) -> None:
        self.ahead = ahead
        self.wait_s = wait_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hourglass-view")
        self._running: OrderedDict[Hashable, _Running] = OrderedDict()
        self._lock = threading.Lock()

    def _compute(self, compute: Callable[[], str], entry_key: Hashable) -> str:
        self.ahead.request_started()  # the work that may wait keeps waiting
        try:
            return compute()
        finally:
            self.ahead.request_done()
            with self._lock:
                entry = self._running.get(entry_key)
                if entry is not None:
                    entry.done_at = time.monotonic()

    def _drop_old(self) -> None:
        now = time.monotonic()
        for key, entry in list(self._running.items()):
            if entry.done_at is not None and now - entry.done_at > KEEP_DONE_S:
                del self._running[key]
        while len(self._running) > MAX_KEPT:
            oldest = next((k for k, e in self._running.items() if e.done_at is not None), None)
            if oldest is None:
                break
            del self._running[oldest]

    def run(self, key: Hashable, what: str, compute: Callable[[], str]) -> str:
        """The view's fragment, or :class:`Pending` when it is not ready within ``wait_s`` (it goes
        on being computed; ask again with the same ``key``). Its errors are raised here."""
        with self._lock:
            self._drop_old()
            entry = self._running.get(key)
            if entry is None:
                future = self._pool.submit(self._compute, compute, key)
                entry = self._running[key] = _Running(future, what, time.monotonic())
        try:
            out = entry.future.result(timeout=self.wait_s)
        except FutureTimeout:
            raise Pending(what, time.monotonic() - entry.started) from None
        except BaseException:
            self._forget(key, entry)  # an error is shown once; asking again computes again
            raise
        self._forget(key, entry)  # shown: a later request is a new one (the results stay cached)
        return out

    def _forget(self, key: Hashable, entry: _Running) -> None:
        with self._lock:
            if self._running.get(key) is entry:
                del self._running[key]

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
