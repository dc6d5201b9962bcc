"""The collector's HTTP service (issue 13, docs/collector.md): every path, the SDKs' bodies (text/plain
JSON, gzip by magic bytes, posthog-js's base64 form), CORS, keys (401, revoked at once, projects
apart), limits (413 before and while reading, 429), 400 all or nothing, 503 when the log cannot
write; every refused request stores nothing. One test runs a real server with the real log."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from hourglass.interfaces.dashboard.server import start_in_thread
from hourglass.interfaces.server.app import PATHS, create_app
from hourglass.interfaces.server.keys import KeyStore, key_hash
from hourglass.interfaces.server.limits import Limits
from hourglass.interfaces.server.wal import WalUnavailable

ORIGIN = "http://shop.test:3000"


class FakeWal:
    def __init__(self) -> None:
        self.records: list[list[dict[str, Any]]] = []
        self.fail = False

    async def append(self, records: Sequence[dict[str, Any]]) -> int:
        if self.fail:
            raise WalUnavailable("the disk is full", hint="free space")
        self.records.append(list(records))
        return len(self.records)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for record in self.records for row in record]


@contextlib.contextmanager
def _serving(app: Starlette) -> Iterator[httpx.Client]:
    """The app on a loopback port (uvicorn in a thread), and a client of it."""
    running = start_in_thread(app)
    try:
        with httpx.Client(base_url=running.url) as client:
            yield client
    finally:
        running.stop()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[httpx.Client, FakeWal, KeyStore, str, str]]:
    store = KeyStore(tmp_path)
    shop, _ = store.create("shop")
    other, _ = store.create("other")
    wal = FakeWal()
    with _serving(
        create_app(tmp_path, collector_id="t", wal=wal, keys=store, limits=Limits(rate=0))
    ) as client:
        yield client, wal, store, shop, other


def _segment(key: str | None = None, **fields: Any) -> dict[str, Any]:
    event = {"type": "track", "event": "visit", "anonymousId": "a1", "messageId": "m1", **fields}
    return {**event, "writeKey": key} if key else event


def _posthog(key: str, n: int = 1) -> dict[str, Any]:
    events = [
        {"event": "$pageview", "uuid": f"u{i}", "properties": {"distinct_id": "d1", "token": key}}
        for i in range(n)
    ]
    return {"api_key": key, "batch": events, "sent_at": "2026-12-04T10:00:00Z"}


def test_every_path_takes_its_sdks_body(setup: Any) -> None:
    client, wal, _, shop, _ = setup
    for path, route in sorted(PATHS.items()):
        if route == "posthog":
            body = _posthog(shop)
        elif route == "segment:batch":
            body = {"writeKey": shop, "batch": [_segment(), _segment(type="page")]}
        else:
            body = _segment(shop)
        before = len(wal.rows)
        answer = client.post(path, content=json.dumps(body), headers={"Content-Type": "text/plain"})
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["status"] == "ok"
        assert len(wal.rows) == before + (2 if route == "segment:batch" else 1), path
    assert {r["project"] for r in wal.rows} == {"shop"}
    assert {r["type"] for r in wal.rows} == {
        "track",
        "page",
        "identify",
        "screen",
        "group",
        "alias",
        "capture",
    }


def test_basic_auth_bodies_and_project_isolation(setup: Any) -> None:
    client, wal, _, shop, other = setup
    basic = "Basic " + base64.b64encode(f"{other}:".encode()).decode()
    assert client.post("/v1/t", json=_segment(), headers={"Authorization": basic}).status_code == 200
    raw = json.dumps(_posthog(shop, 3)).encode()
    assert (
        client.post("/e/", content=gzip.compress(raw), headers={"Content-Type": "text/plain"}).status_code
        == 200
    )
    form = b"data=" + base64.b64encode(raw).replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")
    answer = client.post(
        "/e/?compression=base64", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 200, answer.text
    assert (
        client.post("/batch", content=gzip.compress(raw), headers={"Content-Encoding": "gzip"}).status_code
        == 200
    )
    assert [r["project"] for r in wal.rows] == ["other"] + ["shop"] * 9


def _refused(
    client: httpx.Client, wal: FakeWal, status: int, code: str, path: str, **request: Any
) -> httpx.Response:
    before = list(wal.records)
    answer = client.post(path, **request)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code and answer.json()["status"] == "error"
    assert wal.records == before, "a refused request stored something"
    return answer


def test_keys_refused_with_401_and_revoked_at_once(setup: Any) -> None:
    client, wal, store, shop, other = setup
    _refused(client, wal, 401, "unauthorized", "/v1/track", json=_segment())
    _refused(client, wal, 401, "unauthorized", "/v1/track", json=_segment("hgk_nope"))
    _refused(client, wal, 401, "unauthorized", "/i/v0/e/", json={"event": "e", "distinct_id": "d"})
    _refused(client, wal, 400, "mixed_keys", "/v1/batch", json={"writeKey": shop, "batch": [_segment(other)]})
    assert client.post("/v1/track", json=_segment(shop)).status_code == 200
    store.revoke(store.records()[0].id)
    _refused(client, wal, 401, "unauthorized", "/v1/track", json=_segment(shop))
    assert client.post("/v1/track", json=_segment(other)).status_code == 200


def test_bad_events_400_all_or_nothing(setup: Any) -> None:
    client, wal, _, shop, _ = setup
    batch = {"writeKey": shop, "batch": [_segment(), _segment(event=None), _segment(timestamp="soon")]}
    answer = _refused(client, wal, 400, "invalid_events", "/v1/batch", json=batch)
    assert [(e["index"], e["code"], e["field"]) for e in answer.json()["errors"]] == [
        (1, "missing_event", "event"),
        (2, "invalid_timestamp", "timestamp"),
    ]
    _refused(client, wal, 400, "invalid_json", "/v1/track", content=b'{"writeKey": "' + shop.encode() + b'",')
    _refused(client, wal, 400, "invalid_body", "/e", json={"api_key": shop, "batch": []})
    _refused(client, wal, 400, "unsupported_compression", "/e/?compression=lz64", content=b"data=N4Ig")


def test_sizes_413_before_and_while_reading(setup: Any) -> None:
    client, wal, _, shop, _ = setup
    big = _segment(shop, properties={"x": "y" * 33_000})
    _refused(client, wal, 413, "payload_too_large", "/v1/track", json=big)
    event = _segment(properties={"x": "y" * 33_000})
    answer = _refused(
        client,
        wal,
        413,
        "event_too_large",
        "/v1/batch",
        json={"writeKey": shop, "batch": [_segment(), event]},
    )
    assert answer.json()["errors"][0]["index"] == 1

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield json.dumps({"writeKey": shop, "batch": [_segment()] * 2})[:-1].encode()
        for _ in range(600):
            yield b" " * 1024

    _refused(client, wal, 413, "payload_too_large", "/v1/batch", content=chunks())
    accents = {"writeKey": shop, "batch": [_segment(properties={"x": "é" * 12_000})]}  # 24 KB as UTF-8
    assert client.post("/v1/batch", json=accents).status_code == 200  # (72 KB with ASCII escapes)
    huge = _posthog(shop, 2)
    huge["batch"][1]["properties"]["x"] = "y" * (2 * 2**20 + 1)  # over 2 MB once decompressed
    answer = _refused(
        client, wal, 413, "event_too_large", "/e/", content=gzip.compress(json.dumps(huge).encode())
    )
    assert answer.json()["errors"][0]["index"] == 1
    large = _posthog(shop, 2000)  # ~300 KB: decoded and checked off the event loop
    assert client.post("/batch/", json=large).json() == {"status": "ok", "events": 2000}
    bomb = gzip.compress(json.dumps(_posthog(shop)).encode()[:-1] + b" " * (21 * 2**20) + b"}")
    _refused(client, wal, 413, "payload_too_large", "/e/", content=bomb)


def test_rate_limit_429_with_retry_after(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    key, _ = store.create("shop")
    wal = FakeWal()
    with _serving(
        create_app(tmp_path, collector_id="t", wal=wal, keys=store, limits=Limits(rate=5))
    ) as client:
        assert client.post("/v1/batch", json={"writeKey": key, "batch": [_segment()] * 10}).status_code == 200
        answer = _refused(client, wal, 429, "rate_limited", "/v1/track", json=_segment(key))
        assert int(answer.headers["Retry-After"]) >= 1


def test_503_when_the_log_cannot_write(setup: Any) -> None:
    client, wal, _, shop, _ = setup
    wal.fail = True
    answer = _refused(client, wal, 503, "unavailable", "/v1/track", json=_segment(shop))
    assert answer.headers["Retry-After"] == "1"


def test_cors_preflight_and_answers(setup: Any) -> None:
    client, _, _, shop, _ = setup
    preflight = client.options(
        "/v1/p",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-retry-count",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert "POST" in preflight.headers["access-control-allow-methods"]
    for answer in (
        client.post("/e/", json=_posthog(shop), headers={"Origin": ORIGIN}),
        client.post("/e/", json={}, headers={"Origin": ORIGIN}),
    ):
        assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert client.get("/v1/track").status_code == 405
    assert client.post("/v2/track", json={}).json()["code"] == "not_found"


def test_a_real_server_with_the_real_log(tmp_path: Path) -> None:
    from hourglass.interfaces.server.segment import read_rows, scan_segment, segments
    from hourglass.interfaces.server.wal import WriteAheadLog

    store = KeyStore(tmp_path)
    key, _ = store.create("shop")
    wal = WriteAheadLog.for_collector(tmp_path, "t")
    wal.open()

    def stored() -> list[dict[str, Any]]:
        found = segments(wal.directory)
        return [
            r
            for n, p in found
            for _, payload in scan_segment(p.read_bytes(), n).records
            for r in read_rows(payload)
        ]

    try:
        with _serving(create_app(tmp_path, collector_id="t", wal=wal, keys=store)) as http:
            basic = {
                "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
                "Content-Type": "text/plain",
            }
            assert (
                http.post("/v1/p", content=json.dumps(_segment(type="page")), headers=basic).status_code
                == 200
            )
            raw = gzip.compress(json.dumps(_posthog(key, 2)).encode())
            assert http.post("/e/", content=raw, headers={"Content-Type": "text/plain"}).status_code == 200
            assert [r["event"] for r in stored()] == ["page", "$pageview", "$pageview"]
            assert http.post("/v1/t", json=_segment("hgk_wrong")).status_code == 401
            assert http.post("/v1/t", json=_segment(key, userId=[1])).status_code == 400
            assert len(stored()) == 3
    finally:
        wal.close()


_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_field = st.sampled_from(
    ["type", "event", "userId", "anonymousId", "timestamp", "sentAt", "properties", "distinct_id", "offset"]
)
_event = st.dictionaries(_field, _value | st.just("2026-12-04T10:00:00Z"), max_size=6)


async def _asgi_post(app: Starlette, path: str, raw: bytes) -> int:
    """One request straight to the ASGI app (no socket): its status."""
    scope = {
        "type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"content-length", str(len(raw)).encode())], "http_version": "1.1", "scheme": "http",
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": "",
    }  # fmt: skip
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(sorted(PATHS)), events=st.lists(_event, max_size=3), garbage=st.binary(max_size=30)
)
def test_any_body_gets_a_coded_answer_and_stores_only_on_200(
    tmp_path: Path, path: str, events: list[dict[str, Any]], garbage: bytes
) -> None:
    key_text = "hgk_property_test"
    keys_file = tmp_path / "keys.json"  # one file for every example (the fixture is the test's)
    if not keys_file.exists():
        record = {
            "id": "k_0",
            "sha256": key_hash(key_text),
            "project": "p",
            "name": "",
            "created": "",
            "revoked": None,
        }
        keys_file.write_text(json.dumps({"version": 1, "keys": [record]}))
    store = KeyStore(tmp_path)
    wal = FakeWal()
    app = create_app(tmp_path, collector_id="t", wal=wal, keys=store, limits=Limits(rate=0))
    route = PATHS[path]
    if route == "posthog":
        body: Any = {"api_key": key_text, "batch": events}
    elif route == "segment:batch":
        body = {"writeKey": key_text, "batch": events}
    else:
        body = {**(events[0] if events else {}), "writeKey": key_text}
    for raw in (json.dumps(body).encode(), garbage):
        status = asyncio.run(_asgi_post(app, path, raw))
        assert status in (200, 400, 401, 413)
        assert (status == 200) == bool(wal.records), status
        wal.records.clear()


def test_503_from_the_real_log_when_its_disk_fails(tmp_path: Path) -> None:
    import errno

    from hourglass.interfaces.server.segment import scan_segment, segments
    from hourglass.interfaces.server.wal import WriteAheadLog

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    store = KeyStore(tmp_path)
    key, _ = store.create("shop")
    wal = WriteAheadLog(tmp_path / "wal" / "t", fsync=full_disk)
    wal.open()
    try:
        with _serving(create_app(tmp_path, collector_id="t", wal=wal, keys=store)) as client:
            answer = _refused(client, FakeWal(), 503, "unavailable", "/v1/track", json=_segment(key))
            assert answer.headers["Retry-After"] == "1"
        assert [r for n, p in segments(wal.directory) for r in scan_segment(p.read_bytes(), n).records] == []
    finally:
        wal.close()


def test_large_bodies_wait_for_a_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import concurrent.futures

    from hourglass.interfaces.server import app as app_module

    monkeypatch.setattr(app_module, "_LARGE_AT_ONCE", 1)
    store = KeyStore(tmp_path)
    key, _ = store.create("shop")
    wal = FakeWal()
    body = json.dumps(_posthog(key, 12_000)).encode()  # ~1.5 MB: one at a time
    assert len(body) > app_module._LARGE_BYTES
    with (
        _serving(
            create_app(tmp_path, collector_id="t", wal=wal, keys=store, limits=Limits(rate=0))
        ) as client,
        concurrent.futures.ThreadPoolExecutor(3) as pool,
    ):
        answers = list(pool.map(lambda _: client.post("/batch/", content=body).status_code, range(3)))
    assert answers == [200, 200, 200] and len(wal.rows) == 36_000
