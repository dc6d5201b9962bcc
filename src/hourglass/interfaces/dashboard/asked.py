"""The page and each page's view asked for last, so that the work ahead of a page or a view left
behind does not take the cores the one a person looks at needs (dashboard/ahead.py computes what a
click will ask for next; this says whether that click can still come).

Measured at 10M events in Chromium (bench/dashboard.py, a timeline of the work ahead): the
hourglass page's stage table, computed ahead for a click on a stage, started while the person was
already on the journeys page and ran 35 s wall (12.6 CPU-s) through the journeys and the overview;
the overview's period before then waited behind it, and "overview: compare with the period before"
took 8.8 s (0.55 s with nothing beside it). And the period before of the overview's first view (its
90-day window) ran beside the request of a new window, which needed the other one.

- :meth:`Asked.only`: a job of a page's work ahead starts only while that page is the one asked for
  last (a job already running goes on: ahead.py can interrupt a query, not this).
- :meth:`Asked.newest`: whether a page's view is still the one asked for last; the overview's period
  before asks it between its read and each range of its scan (engine/models_scan.py) and stops
  (:class:`~hourglass.engine.models_scan.Stopped`, an error: nothing is cached, and a request that
  needs it computes it then)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from .ahead import Job
from .data import DashboardSource

__all__ = ["Asked"]


class Asked:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.page: str | None = None  # the page asked for last
        self._views: dict[str, Hashable] = {}  # each page's view asked for last

    def ask(self, page: str, view: Hashable = None) -> None:
        """A request for ``page``'s ``view`` (a page's first request or a form change)."""
        with self._lock:
            self.page = page
            self._views[page] = view

    def newest(self, page: str, view: Hashable) -> Callable[[], bool]:
        """Whether ``page`` and its ``view`` are still the ones asked for last (asked at each call)."""

        def still() -> bool:
            with self._lock:
                return self.page == page and self._views.get(page) == view

        return still

    def only(self, page: str, *jobs: Job) -> list[Job]:
        """``jobs``, each run only if ``page`` is still the page asked for last when it starts."""

        def guarded(job: Job) -> Job:
            def run(src: DashboardSource) -> Any:
                return job(src) if self.page == page else None

            return run

        return [guarded(job) for job in jobs]
