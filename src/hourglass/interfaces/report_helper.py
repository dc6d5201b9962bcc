"""A helper process for the report: it computes some of the later sections (the flywheel and
friction, which compile the most Ibis expressions, and lifetime value, which imports scipy and
fits) on its own load of the same file while the report computes the funnels, the lifecycle, the
journeys and the other sections, so a small
source's report uses both CPUs of a small machine (issue 11: ``hourglass report`` on a 32k-event
CSV within 3 s; bench/README.md, "Small data").

Only for a small file source (CSV, Parquet, JSON lines up to ``READ_ONCE_BYTES``) on the default
DuckDB engine: the helper reads the file itself, so both processes see the same events and the
sections are the ones a single process computes. Anything else (an in-memory table, a store, a
server engine, a big file: DuckDB's own threads already use the CPUs there; a machine with no idle
CPU) runs in the report's process as before, and so does every section when the helper fails in
any way: the helper can only make the report faster, never different. ``HOURGLASS_REPORT_HELPER=0``
turns it off.

The request and the results cross a pipe pickled: the helper is this package started by the
report itself (``python -m hourglass.interfaces.report_helper``), never another program."""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HELPED", "Helper", "start_helper"]

#: the sections the helper computes (the rest, and all of them when it cannot run, stay in the
#: report's process): about as much CPU as the report's own work after the helper starts
HELPED: tuple[str, ...] = ("flywheel", "friction", "clv")


@dataclass
class Helper:
    """A running helper: :meth:`results` waits for its sections' result dicts."""

    proc: subprocess.Popen[bytes]
    names: tuple[str, ...]
    #: the request: the model and settings it was started with (the report checks them still hold)
    context: Any
    _done: dict[str, tuple[Mapping[str, Any] | None, str | None]] | None = field(default=None, repr=False)

    def results(self) -> dict[str, tuple[Mapping[str, Any] | None, str | None]]:
        """Section -> (result dict, None) or (None, why it is not measured). A section the helper
        could not compute (any other failure) is absent: the report computes it itself."""
        if self._done is None:
            try:
                out, _ = self.proc.communicate(timeout=600)
                self._done = pickle.loads(out) if self.proc.returncode == 0 and out else {}
            except Exception:  # noqa: BLE001 - the helper only saves time; the report computes it
                self.cancel()
        return self._done or {}

    def cancel(self) -> None:
        """Stop the helper if it still runs, and reap it and close its pipe (its results are not
        wanted, or were read)."""
        if self._done is not None:
            return
        self._done = {}
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(Exception):  # a pipe already closed: nothing left to release
            self.proc.communicate()


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
    if os.environ.get("HOURGLASS_REPORT_HELPER", "1") == "0" or not _idle_cpu():
        return False
    if engine not in (None, "duckdb") or not isinstance(source, str | os.PathLike):
        return False
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


def start_helper(
    source: Any,
    *,
    only: Sequence[str],
    context: Any,
    columns: Any = None,
    engine: Any = None,
    table: str | None = None,
    config: Any = None,
) -> Helper | None:
    """Start the helper for the sections of :data:`HELPED` in ``only``, or None when it cannot
    help (see the module's docstring)."""
    names = tuple(n for n in HELPED if n in only)
    if not names or not _helpable(source, engine, table):
        return None
    request = {
        "source": os.fspath(source),
        "columns": columns,
        "table": table,
        "config": config,
        "context": context,
        "names": names,
    }
    try:
        payload = pickle.dumps(request)
        proc = subprocess.Popen(
            [sys.executable, "-m", "hourglass.interfaces.report_helper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except Exception:  # noqa: BLE001 - not picklable, no process: the report computes it all
        return None
    assert proc.stdin is not None
    try:
        proc.stdin.write(payload)
        proc.stdin.close()
        proc.stdin = None  # written and closed: communicate() only reads
    except OSError:
        proc.kill()
        proc.communicate()
        return None
    return Helper(proc, names, context)


def _run(request: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any] | None, str | None]]:
    """The helper's work: load the source as the report does, compute the sections."""
    import dataclasses

    from hourglass.engine.run_journeys import cached
    from hourglass.ingest.sources import is_read_once
    from hourglass.interfaces import api
    from hourglass.interfaces.report_extras import computed, reason_of
    from hourglass.model.errors import HourglassError

    ev = api.events(
        request["source"], columns=request["columns"], table=request["table"], config=request["config"]
    )
    out: dict[str, tuple[Mapping[str, Any] | None, str | None]] = {}
    with cached() as materialize:
        if ev.report.kind != "store" and not is_read_once(ev.table):  # as the report does
            keyed = None if ev.keyed is None else materialize(ev.keyed)
            ev = dataclasses.replace(ev, table=materialize(ev.table), keyed=keyed)
        for name in request["names"]:
            try:
                out[name] = (computed(name, ev, request["context"]), None)
            except HourglassError as e:  # not measured: its reason (a coded error's message and hint)
                out[name] = (None, reason_of(e))
    return out


def main() -> None:
    """``python -m hourglass.interfaces.report_helper``: a pickled request on stdin, the pickled
    results on stdout."""
    request = pickle.loads(sys.stdin.buffer.read())
    results = _run(request)
    sys.stdout.buffer.write(pickle.dumps(results))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
