"""The collector's HTTP service (docs/collector.md): plain Starlette routes for Segment's and PostHog's
paths. Per request: the size limit (before reading when Content-Length says so, else while reading),
the body decoded, the write key (401), the per-event size (413), the key's rate (429), every event
checked (400, all or nothing), then one write-ahead-log record, fsync'ed before the 200 (503 when the
log cannot write). Every answer carries the CORS headers the browser SDKs need."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hourglass.ingest.collector import SEGMENT_TYPES, BodyError, decode_sized, events_of, normalise
from hourglass.interfaces.server.auth import Denied, authenticate
from hourglass.interfaces.server.keys import KeyStore
from hourglass.interfaces.server.limits import Limits, RateLimiter

__all__ = ["PATHS", "Appender", "Background", "create_app"]

log = logging.getLogger("hourglass.collector")


class Appender(Protocol):
    async def append(self, records: Sequence[dict[str, Any]]) -> int: ...


class Background(Protocol):
    def start(self) -> None: ...
    def stop(self, *, final: bool = False) -> None: ...


def _paths() -> dict[str, str]:
    paths = {f"/v1/{t}": f"segment:{t}" for t in SEGMENT_TYPES}
    paths.update({f"/v1/{t[0]}": f"segment:{t}" for t in SEGMENT_TYPES})  # analytics.js: /v1/t, /v1/p, ...
    paths.update({p: "segment:batch" for p in ("/v1/batch", "/v1/b", "/v1/import")})
    paths.update({p: "posthog" for p in ("/e", "/i/v0/e", "/capture", "/track", "/batch")})
    return {**paths, **{p + "/": r for p, r in paths.items()}}


#: path -> route of the normaliser (every path also with a trailing slash)
PATHS = _paths()
_ALLOWED_HEADERS = "Authorization, Content-Type, Content-Encoding, X-Retry-Count, X-Requested-With"


def _cors(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def _answer(
    request: Request, status: int, content: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(content, separators=(",", ":")).encode()
    return Response(body, status, {**_cors(request), **(headers or {})}, media_type="application/json")


def _error(request: Request, status: int, code: str, message: str, **extra: Any) -> Response:
    headers = extra.pop("headers", None)
    return _answer(request, status, {"status": "error", "code": code, "message": message, **extra}, headers)


#: bodies over this size (or of unknown size) are handled a few at a time: a 20 MB PostHog batch takes
#: some 200 MB once parsed, so many at once would exhaust memory
_LARGE_BYTES = 1024 * 1024
_LARGE_AT_ONCE = 4
#: a body larger than this is decoded and normalised in a worker thread: the loop goes on answering
_OFF_LOOP_BYTES = 256 * 1024
T = TypeVar("T")


async def _off_loop(size: int, work: Callable[[], T]) -> T:
    if size <= _OFF_LOOP_BYTES:
        return work()
    return await anyio.to_thread.run_sync(work)


class _TooLarge(Exception):
    pass


async def _read(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large_event(route: str, body: Any, limit: int) -> int | None:
    """The index of the first event whose JSON is over ``limit`` bytes, or None."""
    events, _, code, _ = events_of(route, body)
    if code is not None:
        return None
    for index, event in enumerate(events):
        text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)  # its size as sent (UTF-8)
        if len(text.encode("utf-8", "surrogatepass")) > limit:
            return index
    return None


class _Collector:
    def __init__(self, *, collector_id: str, wal: Appender, keys: KeyStore, limits: Limits) -> None:
        self.collector_id = collector_id
        self.wal = wal
        self.keys = keys
        self.limits = limits
        self.rates = RateLimiter(limits.rate, limits.burst_s)
        self.stored_events = 0
        self._large = asyncio.Semaphore(_LARGE_AT_ONCE)

    async def collect(self, request: Request) -> Response:
        """One request, answered (a large body waits for one of a few slots: bounded memory)."""
        length = request.headers.get("content-length")
        small = request.method != "POST" or (
            length is not None and length.strip().isdigit() and int(length) <= _LARGE_BYTES
        )
        if small:
            return await self._collect(request)
        async with self._large:
            return await self._collect(request)

    async def _collect(self, request: Request) -> Response:
        route = PATHS.get(request.url.path)
        if route is None:
            return await self.not_found(request, None)
        if request.method == "OPTIONS":
            return self.preflight(request)
        if request.method != "POST":
            return _error(
                request, 405, "method_not_allowed", "send events with POST", headers={"Allow": "POST"}
            )
        received_at = datetime.now(UTC)
        limit = self.limits.request_limit(route)
        try:
            raw = await _read(request, limit)
            body, size = await _off_loop(
                len(raw),
                functools.partial(
                    decode_sized,
                    raw,
                    limit=limit,
                    content_encoding=request.headers.get("content-encoding"),
                    content_type=request.headers.get("content-type"),
                    compression=request.query_params.get("compression"),
                ),
            )
        except _TooLarge:
            return _error(request, 413, "payload_too_large", f"the request is larger than {limit:,} bytes")
        except BodyError as e:
            return _error(request, e.status, e.code, e.message)
        auth = authenticate(route, body, request.headers.get("authorization"), self.keys)
        if isinstance(auth, Denied):
            headers = {"WWW-Authenticate": 'Basic realm="hourglass"'} if auth.status == 401 else None
            return _error(request, auth.status, auth.code, auth.message, headers=headers)
        event_limit = self.limits.event_limit(route)
        if size > event_limit:  # else no event can be over the limit
            index = _too_large_event(route, body, event_limit)
            if index is not None:
                return _error(
                    request, 413, "event_too_large", f"event {index} is larger than {event_limit:,} bytes",
                    errors=[{"index": index, "code": "event_too_large", "field": "", "message": "too large"}],
                )  # fmt: skip
        events, _, _, _ = events_of(route, body)
        wait = self.rates.take(auth.id, max(1, len(events)))
        if wait is not None:
            return _error(
                request, 429, "rate_limited", f"over the key's rate of {self.limits.rate:g} events/s",
                headers={"Retry-After": str(int(wait))},
            )  # fmt: skip
        batch = await _off_loop(
            len(raw),
            functools.partial(
                normalise, route, body, project=auth.project, received_at=received_at, now=datetime.now(UTC)
            ),
        )
        if batch.code is not None:
            return _error(request, 400, batch.code, batch.message)
        if batch.errors:
            return _error(
                request, 400, "invalid_events",
                f"{len(batch.errors)} of {len(events)} events are invalid; nothing was stored",
                errors=[e.as_dict() for e in batch.errors],
            )  # fmt: skip
        try:
            await self.wal.append(batch.rows)
        except OSError as e:  # WalUnavailable is an OSError (a SourceError)
            log.error("503: %s", getattr(e, "message", e))  # the detail (paths) for the operator only
            return _error(
                request, 503, "unavailable", "the collector cannot store events now; nothing was stored, "
                "retry later", headers={"Retry-After": "1"},
            )  # fmt: skip
        self.stored_events += len(batch.rows)
        return _answer(request, 200, {"status": "ok", "events": len(batch.rows)})

    def preflight(self, request: Request) -> Response:
        asked = request.headers.get("access-control-request-headers")
        headers = {
            **_cors(request),
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": asked or _ALLOWED_HEADERS,
            "Access-Control-Max-Age": "86400",
        }
        if not headers.get("Access-Control-Allow-Origin"):
            headers["Access-Control-Allow-Origin"] = "*"
        return Response(None, 204, headers)

    async def health(self, request: Request) -> Response:
        return _answer(
            request, 200, {"status": "ok", "collector": self.collector_id, "stored": self.stored_events}
        )

    async def not_found(self, request: Request, exc: Exception | None) -> Response:
        return _error(
            request, 404, "not_found", f"no such path {request.url.path!r} (docs/collector.md, Endpoints)"
        )


def create_app(
    data_dir: Path,
    *,
    collector_id: str,
    wal: Appender,
    keys: KeyStore | None = None,
    limits: Limits | None = None,
    compactor: Background | None = None,
) -> Starlette:
    """The collector's ASGI app. A ``compactor`` is started with the app and stopped with it, after
    a last pass (the events acknowledged so far reach the stores)."""
    state = _Collector(
        collector_id=collector_id, wal=wal, keys=keys or KeyStore(data_dir), limits=limits or Limits()
    )
    methods = ["POST", "OPTIONS", "GET", "PUT", "DELETE", "PATCH"]
    # one route for every path: a dict lookup, not 80 patterns tried in turn (PATHS)
    routes = [
        Route("/", state.health, methods=["GET"]),
        Route("/{path:path}", state.collect, methods=methods),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if compactor is not None:
            compactor.start()
        try:
            yield
        finally:
            if compactor is not None:
                try:  # a last pass: what was acknowledged is in the stores once the collector stops
                    compactor.stop(final=True)
                except Exception:  # the log keeps the events: the next collector or compact reads them
                    log.exception("the last compaction failed (hourglass compact --data DIR retries it)")

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: state.not_found})
    app.router.redirect_slashes = False
    app.state.collector = state
    return app
