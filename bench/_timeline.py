"""bench/dashboard.py ``--timeline FILE``: when each request and each job of the work ahead
(dashboard/ahead.py) started and ended, with its wall and its thread's CPU time, beside the bench's
interactions, so that a slow click shows what ran beside it or what it waited for (session 9: the
hourglass page's stage table computed ahead ran 35 s through the journeys and the overview at 10M).

A job is named by where its function is defined (``views.py:318``), looked for through the wrappers
of interfaces/dashboard/asked.py. Lines: seconds since the bench started, the calling thread's CPU
seconds, what happened."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Timeline"]


def _name(job: Any) -> str:
    """Where ``job``'s function is defined, through asked.py's wrappers (their first callable)."""
    inner = job
    for _ in range(4):
        code = getattr(inner, "__code__", None)
        cells = getattr(inner, "__closure__", None) or ()
        if code is None or not code.co_filename.endswith("asked.py"):
            break
        found = [c.cell_contents for c in cells if callable(c.cell_contents)]
        if not found:
            break
        inner = found[0]
    code = getattr(inner, "__code__", None)
    return f"{Path(code.co_filename).name}:{code.co_firstlineno}" if code is not None else repr(inner)


class Timeline:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.lines: list[str] = []

    def log(self, *what: Any) -> None:
        now = time.perf_counter() - self.t0
        self.lines.append(f"{now:8.2f} {time.thread_time():7.2f}t " + " ".join(str(w) for w in what))

    def install(self) -> None:
        """Patch the server's work ahead and requests (this process's) to log themselves."""
        from hourglass.interfaces.dashboard import ahead

        log = self.log
        real_next = ahead.Ahead._next
        started, done = ahead.Ahead.request_started, ahead.Ahead.request_done

        def next_job(self: Any, lane: Any) -> Any:
            job = real_next(self, lane)
            if job is None:
                return None
            name = _name(job)

            def timed(src: Any) -> Any:
                wall, cpu = time.perf_counter(), time.thread_time()
                log("  start", lane.name, name)
                try:
                    return job(src)
                finally:
                    took = f"{time.perf_counter() - wall:.2f} s wall, {time.thread_time() - cpu:.2f} CPU-s"
                    log("  end  ", lane.name, name, took)

            return timed

        def request_started(self: Any) -> None:
            log("request")
            started(self)

        def request_done(self: Any) -> None:
            log("answered")
            done(self)

        ahead.Ahead._next = next_job  # type: ignore[method-assign]
        ahead.Ahead.request_started = request_started  # type: ignore[method-assign]
        ahead.Ahead.request_done = request_done  # type: ignore[method-assign]

    def around(self, name: str, action: Callable[[], Any]) -> Any:
        """``action`` between two lines of the bench's (an interaction, a page opened)."""
        cpu = os.times()
        self.log(">>>", name)
        try:
            return action()
        finally:
            now = os.times()
            used = now.user + now.system - cpu.user - cpu.system
            self.log("<<<", name, f"process CPU {used:.2f} s")

    def write(self, path: Path) -> None:
        path.write_text("\n".join(self.lines) + "\n")
