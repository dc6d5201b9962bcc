"""The collector under load and under kill -9 (issue 13), on loopback only.

    .venv/bin/python bench/collector.py                      # load (batches of 100 and of 1), then crash
    .venv/bin/python bench/collector.py --seconds 20 --conns 128 --sdk segment,posthog
    .venv/bin/python bench/collector.py --only crash --kills 5 --crash-events 20000

One real ``hourglass collect`` process (``--rate 0``: no rate limit; ``--compact-every 24h``: no
compaction while measuring, the clean stop compacts everything and is timed) on a free 127.0.0.1 port
and a fresh data directory with one project's key (``hourglass keys create``). The clients are raw
asyncio HTTP/1.1 on keep-alive connections (``--procs`` processes x ``--conns`` connections each),
posting Segment ``/v1/batch`` bodies of 100 track events, then ``/v1/track`` bodies of one (``--sdk
posthog``: ``/batch`` and ``/capture``); every event has its own id. A request counts when its answer
is 2xx; its latency is from the first byte written to the last byte of the answer read. events/s =
events acknowledged / wall time of the phase. The server's CPU time over the phase (/proc) gives its
cost per request and the rate it would reach with a core of its own ("per server core"): on a shared
machine the measured rate is the share of a core it got times that.

Crash: clients send batches with deterministic ids (``crash-<client>-<n>``), paced so that the server
lives ``--min-life`` s or more between kills (its compactor runs every ``--compact-every``, so a kill
may land in a compaction); ``--collectors`` servers (default 2) share one data directory, each with
its own ``--id``; they are killed in turn with SIGKILL ``--kills`` times under load and restarted with
the same ``--id`` (the write-ahead log is recovered); a client retries a batch that got no 2xx
(refused connection, reset, 503) with the same ids on the next collector (as behind a load
balancer: one event may land in two logs) until it is acknowledged. Meanwhile
``hourglass compact`` processes run one after another, each killed with SIGKILL at a random moment
(``--no-kill-compactions``: not). Then the server is stopped (SIGTERM), ``hourglass compact`` runs,
and the compacted Parquet dataset (``DIR/events/<project>/``) is counted: acknowledged ids missing
(must be 0), ids stored more than once (must be 0), ids stored that no client sent (must be 0).
tests/test_collector_crash.py runs a bounded form (3 kills, 2 000 events) in ``make test``.
``$HOURGLASS_BIN`` runs another hourglass command.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Collector", "CrashReport", "crash", "load", "make_key", "stored_ids"]

# the hourglass command: the venv's, or $HOURGLASS_BIN (another install, a wrapper)
HOURGLASS = os.environ.get("HOURGLASS_BIN") or str(Path(sys.executable).with_name("hourglass"))
PROJECT = "bench"
KEY_RE = re.compile(r"hgk_[A-Za-z0-9_-]{20,}")
EPOCH_ISO = "2026-01-05T10:00:00.000Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_key(data: Path, project: str = PROJECT) -> str:
    """A write key of ``project`` made by ``hourglass keys create`` (the key is printed once)."""
    out = subprocess.run(
        [HOURGLASS, "keys", "create", "--data", str(data), "--project", project],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = KEY_RE.search(out)
    if not found:
        raise RuntimeError(f"hourglass keys create printed no key: {out!r}")
    return found.group(0)


@dataclass
class Collector:
    """One ``hourglass collect`` subprocess on a fixed loopback port; restartable after kill -9."""

    data: Path
    port: int = field(default_factory=free_port)
    collector_id: str = "bench"
    extra: tuple[str, ...] = ("--rate", "0")
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    start_s: float = 0.0  # how long the last start took

    @property
    def log(self) -> Path:
        return self.data / f"collect-{self.collector_id}.log"

    def start(self, timeout: float = 60.0) -> float:
        """Starts the server and waits until it accepts connections; the seconds that took."""
        t0 = time.perf_counter()
        args = [HOURGLASS, "collect", "--data", str(self.data), "--host", "127.0.0.1"]
        args += ["--port", str(self.port), "--id", self.collector_id, *self.extra]
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts}: {' '.join(args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hourglass collect exited {self.proc.returncode}: {self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    self.start_s = time.perf_counter() - t0
                    return self.start_s
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"hourglass collect did not listen within {timeout} s: {self.tail()}")

    def kill9(self, sig: int = signal.SIGKILL) -> None:
        """Sends ``sig`` (SIGKILL: no clean-up at all) and waits for the process to end."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a clean stop flushes the log); its exit code. Raises if it does not stop."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"hourglass collect ignored SIGTERM for {timeout} s: {self.tail()}") from None

    def tail(self, n: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


class Http:
    """A keep-alive HTTP/1.1 connection, raw asyncio: the client must not be the bottleneck."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
            f"Authorization: {self.auth}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            self.writer.write(head.encode() + body)
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
            answer = await self.reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, answer
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _event(event_id: str, n: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": ("visit", "view", "signup", "purchase")[n % 4],
        "userId": f"u{n % 5000}",
        "anonymousId": f"a{n % 5000}",
        "messageId": event_id,
        "timestamp": EPOCH_ISO,
        "properties": {"revenue": 9.5, "channel": "ads", "sku": f"sku-{n % 97}", "n": n},
        "context": {"library": {"name": "bench", "version": "1"}, "page": {"path": "/p"}},
    }


def _posthog_event(event_id: str, n: int) -> dict[str, Any]:
    return {
        "event": ("$pageview", "view", "signup", "purchase")[n % 4],
        "uuid": event_id,
        "timestamp": EPOCH_ISO,
        "properties": {
            "distinct_id": f"u{n % 5000}",
            "revenue": 9.5,
            "channel": "ads",
            "sku": f"sku-{n % 97}",
            "n": n,
            "$lib": "bench",
            "$current_url": "https://shop.example/p",
        },
    }


def batch_body(ids: list[str], start: int, *, sdk: str = "segment", key: str = "") -> tuple[str, bytes]:
    """The path and body of a request carrying ``ids``. Segment: /v1/track for one, /v1/batch for
    more (the key goes as HTTP Basic); PostHog: /capture for one, /batch for more (``key`` in the body)."""
    if sdk == "posthog":
        events = [_posthog_event(i, start + k) for k, i in enumerate(ids)]
        if len(events) == 1:
            return "/capture", json.dumps({"api_key": key, **events[0], "sent_at": EPOCH_ISO}).encode()
        return "/batch", json.dumps({"api_key": key, "batch": events, "sent_at": EPOCH_ISO}).encode()
    events = [_event(i, start + k) for k, i in enumerate(ids)]
    if len(events) == 1:
        return "/v1/track", json.dumps({**events[0], "sentAt": EPOCH_ISO}).encode()
    return "/v1/batch", json.dumps({"batch": events, "sentAt": EPOCH_ISO}).encode()


# ---------------------------------------------------------------- load


async def _load_client(
    port: int, key: str, sdk: str, batch: int, until: float, tag: str, out: dict[str, Any]
) -> None:
    http = Http(port, key)
    n = 0
    # the body is made once: each request only puts its own number into the ids (<tag>-<n>-<k>), so the
    # client spends its CPU on HTTP, not on JSON (it shares the 2 cores with the server)
    path, template = batch_body([f"@ID@-{k}" for k in range(batch)], 0, sdk=sdk, key=key)
    try:
        while time.perf_counter() < until:
            body = template.replace(b"@ID@", f"{tag}-{n}".encode())
            t0 = time.perf_counter()
            try:
                status, _ = await http.post(path, body)
            except (OSError, asyncio.IncompleteReadError):
                out["errors"] += 1
                await asyncio.sleep(0.01)
                continue
            if 200 <= status < 300:
                out["lat"].append(time.perf_counter() - t0)
                out["events"] += batch
                n += batch
            else:
                out["errors"] += 1
                out.setdefault("statuses", Counter())[status] += 1
    finally:
        http.close()


def _load_proc(
    port: int, key: str, sdk: str, batch: int, conns: int, seconds: float, proc_no: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"lat": [], "events": 0, "errors": 0}
    salt = f"{os.getpid()}-{random.getrandbits(32):08x}"

    async def main() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_load_client(port, key, sdk, batch, until, f"l{proc_no}-{c}-{salt}", out) for c in range(conns))
        )

    out["t0"], cpu = time.time(), time.process_time()
    asyncio.run(main())
    out["t1"], out["cpu"] = time.time(), time.process_time() - cpu
    out["statuses"] = dict(out.get("statuses", {}))
    return out


def _quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] if xs else float("nan")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(
    collector: Collector,
    key: str,
    *,
    batch: int,
    seconds: float,
    procs: int,
    conns: int,
    sdk: str = "segment",
) -> dict[str, Any]:
    """events/s, requests/s, p50/p99 (ms) of ``procs`` x ``conns`` clients for ``seconds``; the CPU the
    server used per event and per request (µs): what the rate would be with a whole core for it."""
    assert collector.proc is not None
    ctx = multiprocessing.get_context("spawn")
    server_cpu = cpu_seconds(collector.proc.pid)
    with ctx.Pool(procs) as pool:
        parts = pool.starmap(
            _load_proc, [(collector.port, key, sdk, batch, conns, seconds, p) for p in range(procs)]
        )
    wall = max(p["t1"] for p in parts) - min(p["t0"] for p in parts)  # from the first start to the last end
    server_cpu = cpu_seconds(collector.proc.pid) - server_cpu  # (a little of the pool's start-up too)
    lat = [x for p in parts for x in p["lat"]]
    events = sum(p["events"] for p in parts)
    statuses: Counter[int] = Counter()
    for p in parts:
        statuses.update(p["statuses"])
    return {
        "sdk": sdk,
        "batch": batch,
        "clients": procs * conns,
        "seconds": round(wall, 1),
        "requests": len(lat),
        "events": events,
        "events_per_s": round(events / wall),
        "requests_per_s": round(len(lat) / wall),
        "p50_ms": round(_quantile(lat, 0.5) * 1000, 2),
        "p99_ms": round(_quantile(lat, 0.99) * 1000, 2),
        "errors": sum(p["errors"] for p in parts),
        "statuses": dict(statuses),
        "server_cores": round(server_cpu / wall, 2),
        "server_us_per_request": round(server_cpu / max(len(lat), 1) * 1e6),
        "server_us_per_event": round(server_cpu / max(events, 1) * 1e6, 1),
        "events_per_core_s": round(events / server_cpu) if server_cpu else None,  # with a core of its own
        "client_us_per_request": round(sum(p["cpu"] for p in parts) / max(len(lat), 1) * 1e6),
        "load_avg_1m": os.getloadavg()[0],
    }


# ---------------------------------------------------------------- crash


@dataclass
class CrashReport:
    """What a crash run counted; ``ok`` when nothing acknowledged was lost and nothing doubled."""

    clients: int
    batch: int
    collectors: int = 1
    sent: int = 0  # distinct ids the clients sent
    acknowledged: int = 0  # distinct ids answered 2xx
    stored: int = 0  # distinct ids in the compacted dataset
    missing: int = 0  # acknowledged, not stored: must be 0
    duplicates: int = 0  # stored rows beyond the first of their id: must be 0
    unknown: int = 0  # stored ids no client sent: must be 0
    kills: int = 0
    compactions_killed: int = 0  # `hourglass compact` processes killed with SIGKILL midway
    compactions_done: int = 0  # ... that ended by themselves first
    compaction_errors: list[str] = field(default_factory=list)  # the stderr of those that failed
    retries: int = 0  # requests sent again after no 2xx
    statuses: dict[int, int] = field(default_factory=dict)  # the non-2xx answers seen (0: no answer)
    restart_s: list[float] = field(default_factory=list)
    stop_code: int | None = None
    compact_s: float = 0.0
    compact_rows: int = 0  # rows the last pass read from the log (all of them if the server compacted none)
    compact_duplicates: int = 0  # of those, dropped as already stored: requests stored, then not answered
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        lost_or_doubled = self.missing or self.duplicates or self.unknown
        return not lost_or_doubled and self.stop_code == 0 and not self.compaction_errors


@dataclass
class _Burst:
    """Set just before a kill: the clients stop pacing themselves; ``in_flight``: requests sent and
    not answered yet."""

    clients: int
    event: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0


async def _crash_client(
    ports: list[int],
    key: str,
    cid: int,
    events: int,
    batch: int,
    rate: float,
    acked: set[str],
    report: CrashReport,
    burst: _Burst,
) -> None:
    """Sends ``events`` ids in batches (at most ``rate`` events/s when > 0, unless ``burst`` is set:
    as fast as answered); a batch without a 2xx
    is sent again, same ids, until it is acknowledged: to the next collector when there are several
    (as a load balancer would), so one event may be in two collectors' logs."""
    conns = [Http(port, key) for port in ports]
    at = cid % len(conns)
    n = 0
    due = time.perf_counter()
    while n < events:
        if rate > 0 and not burst.event.is_set():  # no catching up after a kill: the pace stays even
            with contextlib.suppress(TimeoutError):  # a burst (just before a kill) ends the wait
                await asyncio.wait_for(burst.event.wait(), max(0.0, due - time.perf_counter()))
            due = max(due, time.perf_counter()) + batch / rate
        ids = [f"crash-{cid}-{n + k}" for k in range(min(batch, events - n))]
        path, body = batch_body(ids, n)
        attempt = 0
        while True:
            answer = b""
            try:
                burst.in_flight += 1
                try:
                    status, answer = await asyncio.wait_for(conns[at].post(path, body), timeout=30)
                finally:
                    burst.in_flight -= 1
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                conns[at].close()
                status = 0
            if 200 <= status < 300:
                break
            if status not in (0, 429, 503):
                raise RuntimeError(f"POST {path} answered {status}: {answer[:500]!r}")
            report.statuses[status] = report.statuses.get(status, 0) + 1
            report.retries += 1
            attempt += 1
            at = (at + 1) % len(conns)
            await asyncio.sleep(min(0.02 * attempt, 0.25))
        acked.update(ids)
        n += len(ids)
    for http in conns:
        http.close()


async def _killer(
    collectors: list[Collector],
    acked: set[str],
    total: int,
    kills: int,
    min_life: float,
    report: CrashReport,
    burst: _Burst,
    sig: int = signal.SIGKILL,
) -> None:
    """kill -9 (the collectors in turn) when the acknowledged count passes total*(k+1)/(kills+1)
    (jittered) and the last restart is ``min_life`` s old (jittered: the compactor runs at
    --compact-every, so a kill may land in a compaction), in a burst of every client (once each has a
    request in flight, or 5-60 ms into it: some requests written but not answered yet), but never
    once every event is acknowledged: always under load."""
    rng = random.Random(kills * 7919 + total)
    born = time.perf_counter()
    for k in range(kills):
        mark = total * (k + 1 + rng.uniform(-0.3, 0.3)) / (kills + 1)
        life = min_life * rng.uniform(0.8, 1.2)
        while len(acked) < mark or time.perf_counter() - born < life:
            if len(acked) >= total:
                return
            await asyncio.sleep(0.002)
        burst.event.set()  # every client unpaced: requests in flight at the kill, some in the log already
        until = time.perf_counter() + rng.uniform(0.005, 0.06)  # not always at a request boundary
        while burst.in_flight < burst.clients and time.perf_counter() < until:  # all of them sending
            await asyncio.sleep(0.001)
        if len(acked) >= total:
            return
        collector = collectors[k % len(collectors)]
        await asyncio.to_thread(collector.kill9, sig)
        burst.event.clear()
        report.kills += 1
        report.restart_s.append(round(await asyncio.to_thread(collector.start), 2))
        born = time.perf_counter()


async def _kill_compactions(data: Path, done: asyncio.Event, report: CrashReport) -> None:
    rng = random.Random(len(str(data)))
    while not done.is_set():
        proc = await asyncio.create_subprocess_exec(
            HOURGLASS, "compact", "--data", str(data), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=rng.uniform(0.5, 8.0))
        except TimeoutError:
            proc.kill()
            report.compactions_killed += 1
        _, err = await proc.communicate()
        if proc.returncode == 0:
            report.compactions_done += 1
        elif proc.returncode != -signal.SIGKILL:
            report.compaction_errors.append(err.decode(errors="replace")[-500:])


def stored_ids(data: Path, project: str = PROJECT) -> Counter[str]:
    """How many rows of each event_id the compacted dataset ``DIR/events/<project>/`` holds."""
    import pyarrow.dataset as ds

    root = data / "events" / project
    if not root.exists():
        return Counter()
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table(columns=["event_id"])
    return Counter(table.column("event_id").to_pylist())


def compact(data: Path) -> dict[str, Any]:
    """One ``hourglass compact --data DIR`` pass; its figures (``--format json``)."""
    args = [HOURGLASS, "compact", "--data", str(data), "--format", "json"]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"hourglass compact exited {done.returncode}: {done.stdout}{done.stderr}")
    return dict(json.loads(done.stdout))


def crash(
    collectors: Collector | list[Collector],
    key: str,
    *,
    clients: int = 4,
    events: int = 2000,
    batch: int = 10,
    kills: int = 3,
    min_life: float = 0.0,
    kill_compactions: bool = False,
    sig: int = signal.SIGKILL,
    project: str = PROJECT,
) -> CrashReport:
    """``events`` events from ``clients`` clients (each its share), ``kills`` kill -9 + restarts under
    load, a clean stop, one compaction, then the counts. The collectors must be running, on one data
    directory (each its own ``--id``): a client that got no answer retries on the next one. With
    ``min_life`` the server lives at least ~that many seconds between kills, and the clients are paced
    so that their events outlast the kills (``kills + 1.5`` lives). ``kill_compactions``: meanwhile
    ``hourglass compact`` processes run one after the other, each killed with SIGKILL at a random
    moment (0.5-8 s) unless it ended first. ``sig``: SIGTERM instead of SIGKILL checks the clean stop
    under load the same way."""
    several = collectors if isinstance(collectors, list) else [collectors]
    data = several[0].data
    # the clients stall while their only collector restarts; with several they go on with another
    restart = max(c.start_s for c in several) * 1.5 if len(several) > 1 else 0.0
    rate = events / ((kills + 1.5) * (min_life + restart)) if min_life > 0 else 0.0
    report = CrashReport(clients=clients, batch=batch, collectors=len(several))
    acked: set[str] = set()
    share = [events // clients + (c < events % clients) for c in range(clients)]
    t0 = time.perf_counter()

    async def main() -> None:
        burst = _Burst(clients)
        killer = asyncio.create_task(_killer(several, acked, events, kills, min_life, report, burst, sig))
        done = asyncio.Event()
        compactions = asyncio.create_task(_kill_compactions(data, done, report))
        if not kill_compactions:
            done.set()
        each = rate / clients
        ports = [one.port for one in several]
        await asyncio.gather(
            *(
                _crash_client(ports, key, c, share[c], batch, each, acked, report, burst)
                for c in range(clients)
            )
        )
        await killer
        done.set()
        await compactions

    asyncio.run(main())
    codes = [c.stop() for c in several]
    report.stop_code = next((code for code in codes if code != 0), 0)
    t1 = time.perf_counter()
    figures = compact(data)
    report.compact_s = round(time.perf_counter() - t1, 2)
    report.compact_rows, report.compact_duplicates = figures["rows_read"], figures["duplicates"]
    report.seconds = round(time.perf_counter() - t0, 2)
    sent = {f"crash-{c}-{n}" for c in range(clients) for n in range(share[c])}
    stored = stored_ids(data, project)
    report.sent, report.acknowledged, report.stored = len(sent), len(acked), len(stored)
    report.missing = len(acked - stored.keys())
    report.duplicates = sum(v - 1 for v in stored.values())
    report.unknown = len(stored.keys() - sent)
    return report


# ---------------------------------------------------------------- main


HEADER = (
    "| SDK | events/request | clients | s | requests/s | events/s | p50 ms | p99 ms | errors "
    "| server cores | server µs/request | events/s per server core | client µs/request | load 1m |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _row(r: dict[str, Any]) -> str:
    return (
        f"| {r['sdk']} | {r['batch']} | {r['clients']} | {r['seconds']} | {r['requests_per_s']:,} "
        f"| {r['events_per_s']:,} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} | {r['server_cores']} "
        f"| {r['server_us_per_request']:,} | {r['events_per_core_s']:,} | {r['client_us_per_request']:,} "
        f"| {r['load_avg_1m']:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["load", "crash"], help="one part (default: both)")
    ap.add_argument("--seconds", type=float, default=10.0, help="each load phase (default 10)")
    ap.add_argument("--procs", type=int, default=1, help="client processes (default 1)")
    ap.add_argument("--conns", type=int, default=32, help="connections per client process (default 32)")
    ap.add_argument("--batches", default="100,1", help="events per request, each a phase (default 100,1)")
    ap.add_argument(
        "--sdk", default="segment", help="segment, posthog or both: segment,posthog (default segment)"
    )
    ap.add_argument("--kills", type=int, default=5, help="kill -9 under load in the crash part (default 5)")
    ap.add_argument(
        "--crash-events", type=int, default=20_000, help="events of the crash part (default 20000)"
    )
    ap.add_argument("--crash-clients", type=int, default=8, help="clients of the crash part (default 8)")
    ap.add_argument(
        "--crash-batch", type=int, default=20, help="events per request when crashing (default 20)"
    )
    ap.add_argument("--compact-every", default="1s", help="the server's compaction period when crashing")
    ap.add_argument(
        "--signal", choices=["KILL", "TERM"], default="KILL", help="how to stop them (default KILL)"
    )
    ap.add_argument(
        "--collectors", type=int, default=2, help="collectors on one DIR when crashing (default 2)"
    )
    ap.add_argument("--min-life", type=float, default=2.0, help="seconds between kills, at least (default 2)")
    ap.add_argument(
        "--kill-compactions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="meanwhile run `hourglass compact` processes and kill -9 them midway (default: yes)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the data directory (its path is printed)")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="hg-collector-bench-"))
    ok = True
    try:
        if args.only in (None, "load"):
            data = tmp / "load"
            data.mkdir()
            key = make_key(data)
            # no compaction while measuring (it would take the server's CPU): the stop compacts it all
            col = Collector(data, collector_id="load", extra=("--rate", "0", "--compact-every", "24h"))
            print(f"start: {col.start():.2f} s")
            print(HEADER)
            results = []
            phases = [(sdk, int(b)) for sdk in args.sdk.split(",") for b in args.batches.split(",")]
            for sdk, b in phases:
                r = load(col, key, sdk=sdk, batch=b, seconds=args.seconds, procs=args.procs, conns=args.conns)
                results.append(r)
                print(_row(r), flush=True)
            t0 = time.perf_counter()
            code = col.stop(timeout=600)
            stop_s = time.perf_counter() - t0
            total = sum(r["events"] for r in results)
            print(
                f"stop: exit {code}, {stop_s:.1f} s with its compaction of {total:,} events "
                f"({total / stop_s:,.0f} events/s into Parquet and the store)"
            )
            print(json.dumps({"load": results, "stop_s": round(stop_s, 2), "events": total}))
        if args.only in (None, "crash"):
            data = tmp / "crash"
            data.mkdir()
            key = make_key(data)
            extra = ("--rate", "0", "--compact-every", args.compact_every)
            cols = [Collector(data, collector_id=f"crash-{i}", extra=extra) for i in range(args.collectors)]
            for col in cols:
                col.start()
            rep = crash(
                cols,
                key,
                clients=args.crash_clients,
                events=args.crash_events,
                batch=args.crash_batch,
                kills=args.kills,
                min_life=args.min_life,
                kill_compactions=args.kill_compactions,
                sig=signal.Signals[f"SIG{args.signal}"],
            )
            print(json.dumps({"crash": {**rep.__dict__, "ok": rep.ok}}))
            ok = rep.ok
    finally:
        if args.keep:
            print(f"data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
