"""The real browser SDKs against a real collector (issue 13): analytics.js (@segment/analytics-next) and
posthog-js, pinned in tests/sdk/package-lock.json and installed by `make test` (npm ci), load in headless
Chromium from a loopback static server, send page/identify/track events to a `hourglass collect`
subprocess with only their configuration changed (tests/sdk/*.html: analytics.js one event a request
and with its batching delivery, posthog-js batched and gzipped, and by sendBeacon); after a clean stop
and `hourglass compact`, every event is in the compacted dataset unchanged (id, name, type, customer,
ids, properties, time) and the funnel reads it from the collector's directory. No console error, no
request outside 127.0.0.1, no answer but 200."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from test_report_html import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SDK = ROOT / "tests" / "sdk"
NODE_MODULES = SDK / "node_modules"
BUNDLES = {  # URL prefix -> directory: each SDK's browser build as published on npm
    "/analytics-next/bundles/": NODE_MODULES / "@segment" / "analytics-next" / "dist" / "umd",
    "/posthog-js/": NODE_MODULES / "posthog-js" / "dist",
    "/": SDK,
}
TYPES = {".html": "text/html; charset=utf-8", ".js": "application/javascript"}
PROJECT = "shop"
PAGES = ("segment", "segment-batching", "posthog")  # tests/sdk/<page>.html


def load_bench() -> ModuleType:
    """bench/collector.py (its Collector and key helpers are the ones the benchmark uses)."""
    name = "bench_collector"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "collector.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Static(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        for prefix, root in BUNDLES.items():
            if path.startswith(prefix):
                target = (root / path[len(prefix) :]).resolve()
                if target.is_relative_to(root.resolve()) and target.is_file():
                    body = target.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", TYPES.get(target.suffix, "application/octet-stream"))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
        self.send_error(404)


@dataclass
class Run:
    """What one page did: the events the SDK sent, the collector's answers, what went wrong."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    acked: int = 0  # events in the requests the collector answered 200 (its "events": N, or counted)
    statuses: list[int] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # "<resource type> <path>" of each POST answered
    problems: list[str] = field(default_factory=list)


def _events_in(body: bytes | None) -> int:
    """How many events a request body (JSON, or gzip as posthog-js sends it) carries."""
    if not body:
        return 0
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    sent = json.loads(body)
    if isinstance(sent, dict) and isinstance(sent.get("batch"), list):
        return len(sent["batch"])
    return len(sent) if isinstance(sent, list) else 1


@dataclass
class Collected:
    data: Path
    runs: dict[str, Run]
    rows: dict[str, dict[str, Any]]  # the compacted dataset's rows by event_id


def _drive(browser: Any, base: str, page_name: str, collector: str, key: str) -> Run:
    run = Run()
    context = browser.new_context()
    page = context.new_page()

    def on_console(m: Any) -> None:
        if m.type in ("error", "warning"):
            run.problems.append(f"console {m.type}: {m.text}")

    def on_request(r: Any) -> None:
        if not r.url.startswith(("http://127.0.0.1:", "data:")):
            run.problems.append(f"request outside loopback: {r.url}")

    answers: list[Any] = []  # read outside the handler (Playwright's sync API does not nest)

    def on_response(r: Any) -> None:
        if r.url.startswith(collector) and r.request.method == "POST":
            answers.append(r)

    def count() -> None:
        while answers:
            r = answers.pop(0)
            run.statuses.append(r.status)
            kind = r.request.resource_type
            run.requests.append(f"{kind} {r.url[len(collector) :].split('?')[0]}")
            if r.status == 200 and kind == "ping":  # no answer body for a beacon, and Playwright keeps
                run.acked += _events_in(r.request.post_data_buffer) or 1  # no request body: the page's one
            elif r.status == 200:
                run.acked += r.json()["events"]

    page.on("console", on_console)
    page.on("pageerror", lambda e: run.problems.append(f"page error: {e}"))
    page.on("request", on_request)
    page.on("response", on_response)
    page.goto(f"{base}/{page_name}?collector={collector}&key={key}")
    page.wait_for_function("window.hgDone === true", timeout=20_000)
    run.sent = page.evaluate("window.hgSent")
    deadline = 20_000
    while deadline > 0 and not any(s != 200 for s in run.statuses):
        count()
        if run.acked >= len(run.sent):
            break
        page.wait_for_timeout(50)
        deadline -= 50
    run.sent = page.evaluate("window.hgSent")
    context.close()
    return run


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collected]:
    if not (NODE_MODULES / "posthog-js").is_dir() or not (NODE_MODULES / "@segment").is_dir():
        pytest.skip("tests/sdk/node_modules is missing: run `npm ci --prefix tests/sdk` (make test does)")
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed")
    from playwright.sync_api import sync_playwright

    bench = load_bench()
    data = tmp_path_factory.mktemp("collector")
    key = bench.make_key(data, PROJECT)
    collector = bench.Collector(data, collector_id="sdk", extra=())  # as a shop would start it
    collector.start()
    static = ThreadingHTTPServer(("127.0.0.1", 0), _Static)
    thread = threading.Thread(target=static.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{static.server_address[1]}"
    url = f"http://127.0.0.1:{collector.port}"
    runs: dict[str, Run] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, "--disable-quic"]
            )
            try:
                for sdk in PAGES:
                    runs[sdk] = _drive(browser, base, f"{sdk}.html", url, key)
            finally:
                browser.close()
    finally:
        static.shutdown()
        static.server_close()
        code = collector.stop()
    assert code == 0, collector.tail()
    load_bench().compact(data)
    import pyarrow.dataset as ds

    table = ds.dataset(data / "events" / PROJECT, format="parquet", partitioning="hive").to_table()
    rows = {r["event_id"]: r for r in table.to_pylist()}
    yield Collected(data, runs, rows)
    shutil.rmtree(data, ignore_errors=True)


def _us(value: Any) -> int:
    """Microseconds since the epoch of an ISO text, a datetime (naive: UTC) or an integer."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return round(value.replace(tzinfo=value.tzinfo or UTC).timestamp() * 1_000_000)
    return int(value)


@pytest.mark.parametrize("sdk", PAGES)
def test_the_page_ran_clean(collected: Collected, sdk: str) -> None:
    run = collected.runs[sdk]
    assert run.problems == []
    assert run.statuses and set(run.statuses) == {200}
    assert len(run.sent) == (5 if sdk == "posthog" else 4)
    assert run.acked == len(run.sent)


def test_each_sdk_used_its_own_paths(collected: Collected) -> None:
    assert collected.runs["segment"].requests == ["fetch /v1/p", "fetch /v1/i", "fetch /v1/t", "fetch /v1/t"]
    assert set(collected.runs["segment-batching"].requests) == {"fetch /v1/b"}
    assert len(collected.runs["segment-batching"].requests) < 4  # several events a request
    assert set(collected.runs["posthog"].requests) == {"fetch /e/", "ping /e/"}  # ping: sendBeacon


def test_analytics_js_events_arrive_unchanged(collected: Collected) -> None:
    sent = collected.runs["segment"].sent
    assert [e["type"] for e in sent] == ["page", "identify", "track", "track"]
    anonymous = sent[0]["anonymousId"]
    for e in sent:
        row = collected.rows.get(e["messageId"])
        assert row is not None, f"{e['type']} {e['messageId']} is not in the dataset"
        assert row["project"] == PROJECT
        assert row["type"] == e["type"]
        assert row["event"] == (e["event"] if e["type"] == "track" else e["type"])
        assert row["user_id"] == e["userId"]
        assert row["anonymous_id"] == e["anonymousId"] == anonymous
        assert row["customer"] == (e["userId"] or anonymous)
        props = json.loads(row["properties"])
        expected = e["traits"] if e["type"] == "identify" else e["properties"]
        assert {k: props.get(k) for k in expected} == expected
        assert abs(_us(row["timestamp"]) - _us(e["timestamp"])) < 5_000_000
    page, _, view, purchase = (collected.rows[e["messageId"]] for e in sent)
    assert page["channel"] == "newsletter"
    assert purchase["revenue"] == 25.0
    assert purchase["referrer"] == "seg-user-0"
    assert view["customer"] == purchase["customer"] == "seg-user-1"
    assert json.loads(view["context"]).get("library", {}).get("name") == "analytics.js"


def test_posthog_js_events_arrive_unchanged(collected: Collected) -> None:
    sent = collected.runs["posthog"].sent
    assert [e["event"] for e in sent] == ["$pageview", "$identify", "view", "purchase", "wishlist"]
    for e in sent:
        row = collected.rows.get(e["uuid"])
        assert row is not None, f"{e['event']} {e['uuid']} is not in the dataset"
        assert row["project"] == PROJECT
        assert row["type"] == "capture"
        assert row["event"] == e["event"]
        assert row["customer"] == e["properties"]["distinct_id"]
        props = json.loads(row["properties"])
        mine = {k: v for k, v in e["properties"].items() if not k.startswith("$") and k not in ("token",)}
        mine.pop("distinct_id", None)
        assert {k: props.get(k) for k in mine} == mine
        if "timestamp" in e:
            assert abs(_us(row["timestamp"]) - _us(e["timestamp"])) < 5_000_000
    pageview, identify, view, purchase, wishlist = (collected.rows[e["uuid"]] for e in sent)
    assert pageview["channel"] == "ads"
    assert purchase["revenue"] == 9.5
    assert purchase["referrer"] == "ph-user-0"
    assert (
        identify["customer"]
        == view["customer"]
        == purchase["customer"]
        == wishlist["customer"]
        == "ph-user-1"
    )
    anonymous = sent[1]["properties"]["$anon_distinct_id"]
    assert pageview["customer"] == pageview["anonymous_id"] == identify["anonymous_id"] == anonymous
    assert pageview["user_id"] is None
    assert json.loads(view["context"]).get("$lib") == "web"


def test_analytics_js_batches_arrive_unchanged(collected: Collected) -> None:
    sent = collected.runs["segment-batching"].sent
    for e in sent:
        row = collected.rows[e["messageId"]]
        assert (row["type"], row["event"]) == (e["type"], e["event"] or e["type"])
        assert row["customer"] == row["user_id"] == e["userId"] == "seg-user-2"
        assert row["anonymous_id"] == e["anonymousId"]
        expected = e["traits"] if e["type"] == "identify" else e["properties"]
        assert {k: json.loads(row["properties"]).get(k) for k in expected} == expected
    purchase = next(collected.rows[e["messageId"]] for e in sent if e["event"] == "purchase")
    assert (purchase["revenue"], purchase["channel"]) == (7.25, "partner")


def test_nothing_else_was_stored(collected: Collected) -> None:
    ids = {e["messageId"] for e in collected.runs["segment"].sent}
    ids |= {e["messageId"] for e in collected.runs["segment-batching"].sent}
    ids |= {e["uuid"] for e in collected.runs["posthog"].sent}
    assert set(collected.rows) == ids


def test_the_funnel_reads_the_collector_directory(collected: Collected) -> None:
    import hourglass

    result = hourglass.funnel(str(collected.data), steps=["view", "purchase"], window="1d")
    assert [s.customers for s in result.steps] == [3, 3]
