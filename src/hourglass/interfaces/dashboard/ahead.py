"""Work done before it is asked for (``hourglass serve`` and bench/dashboard.py turn it on): when a
view is asked for, what a click on it will ask for next (the people behind its numbers, the period
before for a comparison) is computed once it is answered; after start, each page's first view.

On DuckDB the work runs on a second connection to the same database
(engine/second_connection.py), so that a request never waits for the connection: the first
connection answers the request, the second computes ahead, each query of either holding its own
connection's lock (a job that started before a request runs on beside it). A result is computed
once either way (``ResultCache``: a request for a result being computed ahead waits for it).
Without a second connection (another engine, a small CSV read into a temporary table) the work
waits for a pause of ``IDLE_S`` between requests, as the one connection runs one query at a time.

Two lanes, each a worker with its own second connection: the next clicks' work, as soon as no
request is being answered (not beside the answer a person waits for: on two cores it took half of
them; a funnel's people, submitted with their view, at once), and the work that may wait (the
other date presets, the pages' first views at start), in the pauses between requests only (a
guess must not take the cores a person waits on); a long job of the second never holds up the
first's. In each lane the newest view's jobs run first (in the order given), then older ones';
only the last ``MAX_BATCHES`` views' jobs are kept. A funnel's people still being computed when
another funnel is asked for are stopped (their query interrupted): the new funnel gets the cores,
and a click on the older funnel's bar, if it comes, computes them then."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

from hourglass.engine.second_connection import interrupt, second_connection

from .data import DashboardSource

__all__ = ["IDLE_S", "MAX_BATCHES", "Ahead", "Job"]

IDLE_S = 1.5  # seconds without a request before work starts on the one connection
ANSWERED_POLL_S = 0.01  # how often a job waiting for the requests being answered looks again
STOP_POLL_S = 0.05  # how often a job being stopped is interrupted again
MAX_BATCHES = 8
#: a job computes results into the cache, on the source it is given (the second connection's)
Job = Callable[[DashboardSource], Any]


class _Lane:
    """One worker thread and its queue of batches (the newest first)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.batches: deque[list[tuple[int, Job]]] = deque()
        self.running = 0
        self.worker: threading.Thread | None = None
        self.second: DashboardSource | None = None  # its own second connection
        self.batch = 0  # the number of the newest batch submitted
        self.running_batch: int | None = None  # the batch of the job running now
        self.tags: dict[int, tuple[str, Hashable]] = {}  # a batch's view: (kind, key)
        self.waits: set[int] = set()  # tagged batches that still wait for the answer (``at_once=False``)
        self.pages: dict[int, str] = {}  # a batch's page (the first lane's)
        self.current: tuple[int, Job] | None = None  # the job running now and its batch
        self.again: tuple[int, Job] | None = None  # the running job, stopped: queued again once done


class Ahead:
    def __init__(self, src: DashboardSource) -> None:
        self.src = src
        self.on = False
        # the next clicks' work, and the work that may wait (other date presets, first views): a
        # long job of the second lane never holds up the first's
        self._lanes = (_Lane("hourglass-ahead"), _Lane("hourglass-later"))
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = threading.Lock()
        self.active = 0  # requests being answered
        self.last_request = 0.0  # time.monotonic() of the last request's start or end

    @property
    def second(self) -> DashboardSource | None:
        """The events on the first lane's second connection (None: work waits for pauses)."""
        return self._lanes[0].second

    def start(self, *, second: bool = True) -> None:
        """Turn it on; ``second``: on second connections when the engine has them."""
        self.on = True
        for lane in self._lanes:
            events = second_connection(self.src.events) if second else None
            if events is not None:
                lane.second = dataclasses.replace(
                    self.src, events=events, lock=threading.Lock(), closed=threading.Event()
                )

    def submit(
        self,
        *jobs: Job,
        later: bool = False,
        view: tuple[str, Hashable] | None = None,
        page: str | None = None,
        at_once: bool = True,
    ) -> None:
        """Run ``jobs`` in this order, before the jobs of the views asked for earlier (nothing
        when it is off); ``later``: on the lane of work that may wait. ``view`` (kind, key): a job
        of another view of the same kind still running is stopped (a new funnel makes the last
        one's people a guess that costs the cores the new funnel needs), and its jobs start at
        once, beside the answer (a funnel's people: the bar is clicked as soon as it is drawn);
        without ``view`` they start once no request is being answered. ``page`` (the first lane's):
        the queued jobs of another page are dropped and its running job is stopped (a person who
        went to another page clicks that page's numbers next; a request that needs the job's
        result computes it then). ``at_once=False``: a ``view``'s jobs wait for the answer as
        untagged ones do, and the queued jobs of another view of the same kind are dropped (the
        hourglass page: a new date range makes the last range's people and period before a guess
        whose clicks will not come; at 10M its stage table computed ahead took a core from the new
        range's answer)."""
        if not self.on or not jobs:
            return
        lane = self._lanes[1 if later else 0]
        with self._cond:
            lane.batch += 1
            lane.batches.appendleft([(lane.batch, job) for job in jobs])
            while len(lane.batches) > MAX_BATCHES:
                lane.batches.pop()
            if view is not None:
                lane.tags[lane.batch] = view
                if not at_once:
                    lane.waits.add(lane.batch)
                    kept = [(b, lane.tags.get(b[0][0])) for b in lane.batches]
                    lane.batches = deque(b for b, t in kept if t is None or t[0] != view[0] or t == view)
            lane.tags = {b: t for b, t in lane.tags.items() if b > lane.batch - 4 * MAX_BATCHES}
            lane.waits = {b for b in lane.waits if b in lane.tags}
            if page is not None and lane is self._lanes[0]:
                lane.pages[lane.batch] = page
                lane.pages = {b: p for b, p in lane.pages.items() if b > lane.batch - 4 * MAX_BATCHES}
                lane.batches = deque(b for b in lane.batches if lane.pages.get(b[0][0], page) == page)
            self._cond.notify_all()
            number = lane.running_batch
            running = lane.tags.get(number) if number is not None else None
            other = number is not None and page is not None and lane.pages.get(number, page) != page
            older = view is not None and running is not None and running[0] == view[0] and running != view
            if other or older:
                self._stop(lane)  # asked for again, it is computed then
            if lane.worker is None:
                lane.worker = threading.Thread(target=self._work, args=(lane,), name=lane.name, daemon=True)
                lane.worker.start()

    def request_started(self) -> None:
        """A request is being answered: the work that may wait, if running, is stopped (its query
        interrupted, on the lane's connection and its companions) and queued again, to run in the
        next pause (at 1M events a preset's lifecycle computed ahead took a core for 0.5 s beside
        the click a person waited for)."""
        with self._busy:
            self.active += 1
            self.last_request = time.monotonic()
        lane = self._lanes[1]
        with self._cond:
            if lane.current is None or lane.second is None or lane.again is not None:
                return
            lane.again = lane.current
        self._stop(lane)

    def _stop(self, lane: _Lane) -> None:
        """Stop the lane's running job: its query interrupted, and each next one until the job
        ends (one interrupt meets only the query running, or none in a job's numpy phase: the
        job's later queries ran on, O's 10M timeline), on the lane's connection and its
        companions (engine/second_connection.py)."""
        job, second = lane.current, lane.second
        if job is None or second is None:
            return

        def keep_stopping() -> None:
            while lane.current is job and not self._stopped:
                interrupt(second.events)
                time.sleep(STOP_POLL_S)

        threading.Thread(target=keep_stopping, name=f"{lane.name}-stop", daemon=True).start()

    def request_done(self) -> None:
        with self._busy:
            self.active -= 1
            self.last_request = time.monotonic()

    def _wait_idle(self) -> bool:
        """Until no request has run for ``IDLE_S`` (one connection: a job must not start while a
        person waits for an answer); False when stopped meanwhile."""
        while True:
            with self._busy:
                quiet = self.active == 0 and time.monotonic() - self.last_request >= IDLE_S
            if quiet or self._stopped:
                return not self._stopped
            time.sleep(0.1)

    def _next(self, lane: _Lane) -> Job | None:
        """The next job: the newest batch's first. While a request is being answered, on the first
        lane with a second connection, the newest tagged batch's first (a funnel's people start at
        once, beside the answer), and an untagged one waits in the queue for the answer, holding
        up no tagged job submitted meanwhile: a view's next clicks' work starts once the view
        itself is computed (at 1M events a new hourglass range's work ahead, a channel cell's and a
        stage's customers and the period before, cost 1.7 CPU-s beside the range's own 1.5 on the
        same two cores), and a later click's answer goes before the older view's work. None when
        stopped."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(lane.batches) or self._stopped)
                if self._stopped:
                    return None
                pick: int | None = 0
                if lane.second is not None and lane is self._lanes[0] and self.active:
                    pick = next(
                        (
                            i
                            for i, b in enumerate(lane.batches)
                            if b[0][0] in lane.tags and b[0][0] not in lane.waits
                        ),
                        None,
                    )
                if pick is not None:
                    batch = lane.batches[pick]
                    number, job = batch.pop(0)
                    if not batch:
                        del lane.batches[pick]
                    lane.running += 1
                    lane.running_batch = number
                    lane.current = (number, job)
                    return job
            time.sleep(ANSWERED_POLL_S)

    def _work(self, lane: _Lane) -> None:
        while True:
            job = self._next(lane)
            if job is None:
                return
            src = lane.second
            try:
                # speculative: not while a person waits
                if (src is not None and lane is self._lanes[0]) or self._wait_idle():
                    with contextlib.suppress(Exception):  # the request that needs it computes it again
                        job(src or self.src)
            finally:
                with self._cond:
                    lane.running -= 1
                    lane.running_batch = None
                    if lane.again is not None and not self._stopped:  # stopped by a request
                        lane.batches.appendleft([lane.again])
                    lane.current = lane.again = None
                    self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop working ahead: the queued jobs are dropped, the running queries interrupted, and the
        workers end (before the process does: a DuckDB query running on at exit aborts it)."""
        with self._cond:
            self.on, self._stopped = False, True
            for lane in self._lanes:
                lane.batches.clear()
            self._cond.notify_all()
        for lane in self._lanes:
            if lane.second is not None:
                lane.second.closed.set()  # no next query either
                with contextlib.suppress(Exception):
                    lane.second.events.engine.con.con.interrupt()
        for lane in self._lanes:
            if lane.worker is not None:
                lane.worker.join(timeout)

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until every job is done (tests, the bench); False on ``timeout``."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not any(lane.batches or lane.running for lane in self._lanes), timeout
            )
