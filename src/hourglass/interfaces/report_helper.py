"""A helper process for the report: it computes some of the report's sections (the lifecycle when
asked, then lifetime value, friction, the flywheel, attribution and retention) on its own load of
the same file while the report computes the funnels, the funnel over time and the journeys, so a
small source's report uses both CPUs of a small machine (issue 11: ``hourglass report`` on a
32k-event CSV within 3 s; bench/README.md, "Small data").

The helper computes its sections one after another and sends each result as soon as it has it.
When the report wants a section the helper has not started, it claims it and computes it itself
(the helper skips a claimed section): the report never waits for a helper that is behind, and the
two share the work however fast each one is. On Linux the helper is a fork of the report's process
taken before anything is loaded (no DuckDB in the process yet): it starts with the report's imports
(~1 s of CPU less than a new Python); elsewhere, or when forking is not safe, it is ``python -m
hourglass.interfaces.report_helper``. Each process runs DuckDB on one thread: two processes on a
small file keep both CPUs busy, and DuckDB's threads on 32k rows only wait for each other.

Only for a small file source (CSV, Parquet, JSON lines up to ``READ_ONCE_BYTES``) on the default
DuckDB engine: the helper reads the file itself, so both processes see the same events and the
sections are the ones a single process computes. Anything else (an in-memory table, a store, a
server engine, a big file: DuckDB's own threads already use the CPUs there; a machine with no idle
CPU) runs in the report's process as before, and so does every section when the helper fails in
any way: the helper can only make the report faster, never different. ``HOURGLASS_REPORT_HELPER=0``
turns it off; ``=always`` starts it even when no CPU is idle (to measure it on a busy machine).

Requests and results cross pipes pickled: the helper is this package (a fork of the report, or
started by it), never another program."""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

__all__ = ["HELPED", "LIFECYCLE", "Helper", "start_helper"]

#: the report's extra sections the helper may compute, in the order it computes them (the report
#: claims from the end of the list those the helper has not started)
HELPED: tuple[str, ...] = ("clv", "friction", "flywheel", "attribution", "retention")
#: the main model's lifecycle: computed first when ``start_helper`` is given its arguments
LIFECYCLE = "lifecycle"
_TIMEOUT = 600.0  # seconds the report waits for a section the helper has started

Outcome = tuple[Any, str | None]  # (result, None) or (None, why it is not measured)


@dataclass
class Helper:
    """A running helper. :meth:`take` gives one section's outcome, waiting only for a section the
    helper is computing; None means "compute it yourself" (claimed from the helper, failed, or
    the helper is gone)."""

    pid: int
    #: the sections it computes, in its order
    names: tuple[str, ...]
    #: the request: the model and settings it was started with (the report checks them still hold)
    context: Any
    #: the lifecycle's arguments (model, spend, since, until, after_sale) when it computes it
    lifecycle_args: Mapping[str, Any] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _fd: int = field(default=-1, repr=False)  # the results' pipe, read end
    _claims: int = field(default=-1, repr=False)  # the claims' pipe, write end
    _buf: bytearray = field(default_factory=bytearray, repr=False)
    _done: dict[str, Outcome] = field(default_factory=dict, repr=False)
    _started: set[str] = field(default_factory=set, repr=False)
    _gone: set[str] = field(default_factory=set, repr=False)  # claimed or failed
    closed: bool = False

    def take(self, name: str) -> Outcome | None:
        """The outcome of section ``name``, or None: the caller computes it (the helper does not
        have it; when it had not started it, it will not)."""
        if name not in self.names or name in self._gone:
            return None
        self._read(block=False)
        while name not in self._done:
            if self.closed or name in self._gone:
                return None
            if name not in self._started:  # not started: the report computes it, the helper skips it
                self._gone.add(name)
                with contextlib.suppress(OSError):
                    os.write(self._claims, name.encode() + b"\n")
                return None
            self._read(block=True)
        return self._done[name]

    def lifecycle(self, **args: Any) -> Any:
        """The lifecycle result when the helper computed it with these arguments, else None."""
        if self.lifecycle_args is None or dict(self.lifecycle_args) != args:
            return None
        got = self.take(LIFECYCLE)
        if got is None or got[0] is None:  # a coded error: the report's own call raises it
            return None
        return got[0]

    def results(self) -> dict[str, Outcome]:
        """Every section's outcome, waiting for the helper to finish (those it could not compute
        are absent)."""
        while not self.closed:
            self._read(block=True)
        return dict(self._done)

    def running(self) -> bool:
        """Whether the helper's process still runs."""
        if self.proc is not None:
            return self.proc.poll() is None
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    def cancel(self) -> None:
        """Stop the helper if it still runs, reap it and close its pipes (its results are not
        wanted, or were read)."""
        if self.closed:
            return
        self.closed = True
        for fd in (self._fd, self._claims):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):  # already reaped: nothing left to release
            if self.proc is not None:
                self.proc.wait()
            else:
                os.waitpid(self.pid, 0)

    def _read(self, *, block: bool) -> None:
        """Read what the helper sent (at least one frame when ``block``); at its end, reap it."""
        while not self.closed:
            wait = _TIMEOUT if block else 0.0
            try:
                ready, _, _ = select.select([self._fd], [], [], wait)
                chunk = os.read(self._fd, 1 << 16) if ready else None
            except OSError:
                chunk = b""
            if chunk is None:
                if block:  # the helper hangs: the report computes the rest
                    self.cancel()
                return
            if not chunk:
                self.cancel()
                return
            self._buf += chunk
            if self._frames() and block:
                block = False

    def _frames(self) -> int:
        """Decode the complete frames in the buffer; how many."""
        n = 0
        while len(self._buf) >= 4:
            size = int.from_bytes(self._buf[:4], "big")
            if len(self._buf) < 4 + size:
                break
            frame = pickle.loads(bytes(self._buf[4 : 4 + size]))
            del self._buf[: 4 + size]
            n += 1
            kind, name = frame[0], frame[1]
            if kind == "start":
                self._started.add(name)
            elif kind == "done":
                self._done[name] = frame[2]
            else:  # failed: the report computes it
                self._gone.add(name)
        return n


def _idle_cpu() -> bool:
    """Whether a CPU is free for the helper: the 1-minute load average is below the CPU count
    (on a machine whose CPUs are all busy a second process only adds its start and its
    load: bench/README.md measured the report 17% slower with it at load 24 on 2 CPUs). True when
    the system does not tell."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return True
    return load < (os.cpu_count() or 1)


def _helpable(source: Any, engine: Any, table: str | None) -> bool:
    setting = os.environ.get("HOURGLASS_REPORT_HELPER", "1")
    if setting == "0" or (setting != "always" and not _idle_cpu()):
        return False
    if engine not in (None, "duckdb") or not isinstance(source, str | os.PathLike):
        return False
    if not hasattr(os, "pipe") or sys.platform == "win32":
        return False  # the pipes are handed to the helper by number
    from hourglass.ingest.sources import READ_ONCE_BYTES, resolve_source, source_bytes
    from hourglass.model.errors import HourglassError

    try:
        src = resolve_source(source, table=table)
    except HourglassError:
        return False  # the report's own load says what is wrong
    if src.kind not in ("csv", "parquet", "jsonl"):
        return False
    size = source_bytes(src)
    return size is not None and size <= READ_ONCE_BYTES


def _can_fork() -> bool:
    """Forking is safe here: Linux, and no DuckDB in this process yet (its worker threads would not
    exist in the fork). From Python 3.12, also only one thread (it warns about forking more)."""
    if sys.platform != "linux" or "duckdb" in sys.modules:
        return False
    if sys.version_info < (3, 12):
        return True
    try:
        with open("/proc/self/status") as f:
            threads = next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    except (OSError, StopIteration, ValueError):
        return False
    return threads == 1


def _preload() -> None:
    """Import before the fork what both processes import next anyway (pandas, numpy, pyarrow: the
    first query's results cross them): the report's process pays it a moment earlier, the helper
    not at all (~0.35 s of CPU). Their idle threads (OpenBLAS's, jemalloc's) are fork-aware; DuckDB,
    whose worker threads are not, is imported after the fork by each process."""
    with contextlib.suppress(ImportError):
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401


def start_helper(
    source: Any,
    *,
    only: Sequence[str],
    context: Any,
    columns: Any = None,
    engine: Any = None,
    table: str | None = None,
    config: Any = None,
    lifecycle: Mapping[str, Any] | None = None,
) -> Helper | None:
    """Start the helper for the sections of :data:`HELPED` in ``only`` (and, with ``lifecycle``:
    the keyword arguments ``model``, ``spend``, ``since``, ``until``, ``after_sale`` of the
    report's lifecycle, that first), or None when it cannot help (see the module's docstring)."""
    names = ((LIFECYCLE,) if lifecycle is not None else ()) + tuple(n for n in HELPED if n in only)
    if not names or not _helpable(source, engine, table):
        return None
    request = {
        "source": os.fspath(source),
        "columns": columns,
        "table": table,
        "config": config,
        "context": context,
        "names": names,
        "lifecycle": None if lifecycle is None else dict(lifecycle),
    }
    try:
        payload = pickle.dumps(request)
    except Exception:  # noqa: BLE001 - not picklable: the report computes it all
        return None
    res_r, res_w = os.pipe()
    claims_r, claims_w = os.pipe()
    proc: subprocess.Popen[bytes] | None = None
    try:
        if _can_fork():
            _preload()
            pid = os.fork()
            if pid == 0:  # the helper: never returns
                _child(request, res_w, claims_r, (res_r, claims_w))
        else:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hourglass.interfaces.report_helper", str(res_w), str(claims_r)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(res_w, claims_r),
            )
            pid = proc.pid
            assert proc.stdin is not None
            with proc.stdin:
                proc.stdin.write(payload)
            proc.stdin = None  # written and closed
    except Exception:  # noqa: BLE001 - no process: the report computes it all
        for fd in (res_r, res_w, claims_r, claims_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if proc is not None:
            proc.kill()
            proc.wait()
        return None
    os.close(res_w)
    os.close(claims_r)
    return Helper(pid, names, context, lifecycle, proc, res_r, claims_w)


def _child(request: Mapping[str, Any], out: int, claims: int, parents: tuple[int, ...]) -> NoReturn:
    """The forked helper: fresh standard streams (a thread of the report may have held theirs at
    the fork), serve, and leave without running any of the report's exit handlers."""
    code = 1
    try:
        for fd in parents:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        sys.stdin = open(os.devnull)  # noqa: SIM115 - for the process's life
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        _serve(request, out, claims)
        code = 0
    finally:
        os._exit(code)


def _serve(request: Mapping[str, Any], out: int, claims: int) -> None:
    """The helper's work: load the source as the report does, then compute the sections in order,
    skipping those the report claimed, and send each outcome as soon as it has it."""
    import dataclasses

    from hourglass.engine.plan import cached
    from hourglass.ingest.sources import is_read_once
    from hourglass.interfaces import api
    from hourglass.interfaces.report_extras import computed, reason_of
    from hourglass.model.errors import HourglassError

    def send(frame: tuple[Any, ...]) -> None:
        data = pickle.dumps(frame)
        view = memoryview(len(data).to_bytes(4, "big") + data)
        while view:
            view = view[os.write(out, view) :]

    os.set_blocking(claims, False)
    claimed: set[str] = set()

    def read_claims() -> None:
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(claims, 4096):
                claimed.update(chunk.decode().split())

    cfg = request["config"]
    ev = api.events(request["source"], columns=request["columns"], table=request["table"], config=cfg)
    if ev.engine.name == "duckdb":
        ev.engine.con.raw_sql("SET threads = 1")  # the report's process has the other CPU
    ctx = request["context"]
    with cached() as materialize:
        if ev.report.kind != "store" and not is_read_once(ev.table):  # as the report does
            keyed = None if ev.keyed is None else materialize(ev.keyed)
            ev = dataclasses.replace(ev, table=materialize(ev.table), keyed=keyed)
        for name in request["names"]:
            read_claims()
            if name in claimed:
                continue
            send(("start", name))
            try:
                if name == LIFECYCLE:
                    outcome: Outcome = (_lifecycle(ev, cfg, request["lifecycle"]), None)
                else:
                    outcome = (computed(name, ev, ctx), None)
            except HourglassError as e:  # not measured: its reason (a coded error's message and hint)
                outcome = (None, reason_of(e))
            except Exception:  # noqa: BLE001 - the report computes it itself
                send(("failed", name))
                continue
            send(("done", name, outcome))


def _lifecycle(ev: Any, cfg: Any, args: Mapping[str, Any]) -> Any:
    """The report's lifecycle call (report_sections.lifecycle_of, without a helper)."""
    from hourglass.interfaces.report_sections import lifecycle_of

    return lifecycle_of(
        ev,
        args["model"],
        args.get("spend"),
        args.get("since"),
        args.get("until"),
        cfg,
        args.get("after_sale"),
    )


def main() -> None:
    """``python -m hourglass.interfaces.report_helper RESULTS_FD CLAIMS_FD``: a pickled request on
    stdin; the outcomes as frames on RESULTS_FD, the report's claims read from CLAIMS_FD."""
    request = pickle.loads(sys.stdin.buffer.read())
    _serve(request, int(sys.argv[1]), int(sys.argv[2]))


if __name__ == "__main__":
    main()
