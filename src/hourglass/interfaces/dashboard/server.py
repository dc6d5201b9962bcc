"""Running the app: uvicorn in the foreground (``hourglass serve``) or in a thread on a free
loopback port (tests, bench/dashboard.py)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

__all__ = ["Running", "free_port", "run", "start_in_thread"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")


def run(app: Any, host: str, port: int) -> None:
    """Serve until Ctrl-C, working ahead (``Views.warm``, dashboard/ahead.py)."""
    views = getattr(app.state, "views", None)
    if views is not None:
        views.warm()
    try:
        uvicorn.Server(_config(app, host, port)).run()
    finally:
        _stop(app)


def _stop(app: Any) -> None:
    """Stop the work ahead and the views being computed (a DuckDB query still running at exit
    would abort the process)."""
    views = getattr(getattr(app, "state", None), "views", None)
    if views is not None:
        views.ahead.stop()
    progress = getattr(getattr(app, "state", None), "progress", None)
    if progress is not None and views is not None:
        progress.stop()
        with contextlib.suppress(Exception):
            views.src.events.engine.con.con.interrupt()


@dataclass
class Running:
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        _stop(self.server.config.app)


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int | None = None) -> Running:
    """Start uvicorn in a daemon thread and wait until it accepts connections."""
    port = port or free_port(host)
    server = uvicorn.Server(_config(app, host, port))
    thread = threading.Thread(target=server.run, name="hourglass-dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard did not start on {host}:{port}")
        time.sleep(0.02)
    return Running(server, thread, f"http://{host}:{port}")
