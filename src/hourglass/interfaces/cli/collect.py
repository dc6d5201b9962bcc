"""``hourglass collect``: the event collector, an HTTP service for Segment's and PostHog's SDKs
(docs/collector.md)."""

from __future__ import annotations

import errno
import re
import signal
import socket
from pathlib import Path
from types import FrameType

import click

from hourglass.interfaces.cli._common import handle_errors, stderr
from hourglass.model.errors import SourceError, SpecError

__all__ = ["collect_cmd"]

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _collector_id(given: str | None, port: int) -> str:
    if given is None:
        host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname()).strip("-.") or "collector"
        return f"{host}-{port}"
    if not _ID_RE.fullmatch(given):
        raise SpecError(
            f"invalid collector id {given!r}",
            code="HG466",
            hint="an id is 1 to 100 letters, digits, '_', '.' or '-' (it names the log's directory "
            "DIR/wal/ID/ and the collector's Parquet files)",
        )
    return given


class _Terminated(Exception):
    """SIGTERM, after uvicorn's graceful shutdown."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _check_listen(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            why = "the port is in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            raise SourceError(
                f"cannot listen on {host}:{port}: {why}",
                code="HG465",
                hint="choose another --port (or stop the program that holds it), and a --host of this "
                "machine (127.0.0.1, 0.0.0.0)",
            ) from e


@click.command("collect")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="the collector's data directory: keys, write-ahead log, events, stores (created if missing)",
)
@click.option(
    "--host", metavar="ADDR", default="127.0.0.1", show_default=True, help="the address to listen on"
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    metavar="N",
    default=8080,
    show_default=True,
    help="the port to listen on",
)
@click.option(
    "--id",
    "collector_id",
    metavar="NAME",
    help="this collector's name: its log is DIR/wal/NAME/ (default: HOSTNAME-PORT); several collectors "
    "may share DIR, each with its own name",
)
@click.option(
    "--compact-every",
    metavar="DURATION",
    default="30s",
    show_default=True,
    help="how often the log is compacted into the Parquet dataset and the stores (30s, 5m)",
)
@click.option(
    "--rate",
    metavar="N/s",
    default="10000/s",
    show_default=True,
    help="the per-key rate limit in events per second (or /m); 0 turns it off",
)
@handle_errors
def collect_cmd(
    data: Path, host: str, port: int, collector_id: str | None, compact_every: str, rate: str
) -> None:
    """Collect events over HTTP from Segment's and PostHog's SDKs (analytics.js, posthog-js, their
    server SDKs and HTTP APIs): point their API host at this service. A 200 answer means the events
    are on disk; they reach the stores that 'hourglass funnel DIR' reads at each compaction.

    Requests need a write key (hourglass keys create). Ctrl-C or SIGTERM stops it cleanly: the
    requests under way are answered and a last compaction runs.

    \b
    Examples:
      hourglass collect --data collector/
      hourglass collect --data collector/ --host 0.0.0.0 --port 8080 --id web-1
      hourglass collect --data collector/ --rate 500/s --compact-every 5m
    """
    import uvicorn

    from hourglass.interfaces.server.app import create_app
    from hourglass.interfaces.server.compact import Compactor
    from hourglass.interfaces.server.dataset import init_data_dir
    from hourglass.interfaces.server.keys import KeyStore, check_data_dir
    from hourglass.interfaces.server.limits import Limits, parse_rate
    from hourglass.interfaces.server.wal import WriteAheadLog
    from hourglass.model.spec import parse_window

    limits = Limits(rate=parse_rate(rate))
    every_s = parse_window(compact_every, what="--compact-every") / 1_000_000
    name = _collector_id(collector_id, port)
    check_data_dir(data)
    _check_listen(host, port)
    init_data_dir(data)
    keys = KeyStore(data)
    projects = sorted({r.project for r in keys.records() if r.revoked is None})
    wal = WriteAheadLog.for_collector(data, name)
    wal.open()
    try:
        compactor = Compactor(data, collector_id=name, every_s=every_s, wal=wal)
        app = create_app(data, collector_id=name, wal=wal, keys=keys, limits=limits, compactor=compactor)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        stderr.print(
            f"collector {name}: http://{shown}:{port}/  (Ctrl-C stops)", markup=False, soft_wrap=True
        )
        stderr.print(
            f"projects: {', '.join(projects)}"
            if projects
            else "no write keys yet: every request gets 401; create one with hourglass keys create "
            f"--data {data} --project NAME",
            markup=False,
            soft_wrap=True,
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
            # per request, less work: no X-Forwarded-* parsing (the client's address is not used), no
            # Server and Date headers (C3's measurement: 237 -> 224 us of CPU per one-event request)
            proxy_headers=False,
            server_header=False,
            date_header=False,
        )
        previous = signal.signal(signal.SIGTERM, _terminated)  # uvicorn re-raises it once stopped
        try:
            uvicorn.Server(config).run()
        except (KeyboardInterrupt, _Terminated):
            pass  # uvicorn has stopped gracefully: every request in flight was answered
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        wal.close()
    state = app.state.collector
    stderr.print(f"stopped: {state.stored_events:,} events stored by this run", markup=False)
