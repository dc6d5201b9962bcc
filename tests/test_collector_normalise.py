"""The collector's normaliser (issue 13, docs/collector.md "Field mapping", "Errors"): the real SDKs'
payloads as rows, the clock-skew correction, one coded error per bad event (all or nothing), the
body decoder (gzip, posthog-js's base64 form), and, for any JSON, nothing but a coded answer."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hourglass.ingest.collector import ROUTES, BodyError, decode_body, keys_in, normalise

NOW = datetime(2026, 12, 4, 19, 0, 0, tzinfo=UTC)
US = 1_000_000


def _us(at: datetime) -> int:
    return int((at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * US)


# analytics.js (@segment/analytics-next 1.x) posts this to {apiHost}/t: the event built by its
# event factory, then plugins/segmentio/normalize.ts (writeKey, sentAt, _metadata)
ANALYTICS_JS_TRACK: dict[str, Any] = {
    "timestamp": "2026-12-04T18:59:59.500Z",
    "integrations": {},
    "type": "track",
    "properties": {"revenue": 42.5, "utm_source": "newsletter", "sku": "A-1"},
    "event": "Order Completed",
    "messageId": "ajs-next-1796410799500-4c1f0b7e-9a47-4c63-9a44-2f4a9c1b6f10",
    "anonymousId": "8d0e3cb0-5a3e-4d5e-8f7a-1d2c3b4a5f60",
    "userId": None,
    "context": {
        "page": {
            "path": "/checkout",
            "referrer": "https://www.google.com/",
            "search": "",
            "title": "Checkout",
            "url": "http://127.0.0.1:8000/checkout",
        },
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36",
        "locale": "en-US",
        "library": {"name": "analytics.js", "version": "npm:next-1.76.0"},
        "campaign": {"source": "ads"},
    },
    "writeKey": "hgk_test",
    "sentAt": "2026-12-04T19:00:09.500Z",  # the browser's clock is 10 s ahead
    "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
}

# posthog-js (request.ts, capture-body mode): the request queue's batch, each event's `timestamp`
# replaced by `offset` (ms before sending), wrapped as {api_key, batch, sent_at}
POSTHOG_JS_BATCH: dict[str, Any] = {
    "api_key": "hgk_test",
    "batch": [
        {
            "uuid": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "event": "$pageview",
            "properties": {
                "$os": "Linux",
                "$browser": "Chrome",
                "$current_url": "http://127.0.0.1:8000/",
                "$host": "127.0.0.1:8000",
                "$pathname": "/",
                "$lib": "web",
                "$lib_version": "1.200.2",
                "$referrer": "$direct",
                "$device_id": "0193a1b2-0000-7000-8000-000000000001",
                "$user_state": "anonymous",
                "distinct_id": "0193a1b2-0000-7000-8000-000000000001",
                "token": "hgk_test",
                "utm_source": "twitter",
                "title": "Shop",
            },
            "offset": 1500,
            "$set_once": {"$initial_referrer": "$direct"},
        },
        {
            "uuid": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
            "event": "$identify",
            "properties": {
                "distinct_id": "user-7",
                "$anon_distinct_id": "0193a1b2-0000-7000-8000-000000000001",
                "token": "hgk_test",
                "$lib": "web",
                "revenue": "19.90",
            },
            "offset": 20,
            "$set": {"email": "a@example.com"},
        },
    ],
    "sent_at": "2026-12-04T19:00:00.000Z",
}


def _normalise(route: str, body: Any) -> Any:
    return normalise(route, body, project="shop", received_at=NOW, now=NOW)


def test_analytics_js_track_maps_every_field_and_corrects_the_clock() -> None:
    batch = _normalise("segment:track", ANALYTICS_JS_TRACK)
    assert batch.ok, batch.errors
    (row,) = batch.rows
    assert row["event_id"] == ANALYTICS_JS_TRACK["messageId"]
    assert (row["project"], row["customer"], row["user_id"]) == (
        "shop",
        ANALYTICS_JS_TRACK["anonymousId"],
        None,
    )
    assert (row["event"], row["type"], row["revenue"], row["channel"]) == (
        "Order Completed",
        "track",
        42.5,
        "newsletter",
    )
    assert row["timestamp"] == _us(NOW - timedelta(seconds=10))  # received - (sentAt - timestamp)
    assert row["received_at"] == _us(NOW)
    assert row["referrer"] is None  # a page's referrer URL is not a customer: it stays in context
    context = json.loads(row["context"])
    assert context["page"]["referrer"] == "https://www.google.com/"
    assert context["_top"] == {"integrations": {}, "_metadata": ANALYTICS_JS_TRACK["_metadata"]}
    assert json.loads(row["properties"]) == ANALYTICS_JS_TRACK["properties"]
    assert "hgk_test" not in row["properties"] + row["context"]  # the write key is never stored


def test_segment_calls_and_batch() -> None:
    identify = {
        "type": "identify",
        "userId": 7,
        "traits": {"email": "a@b.c"},
        "timestamp": "2026-12-04T18:00:00",
    }
    page = {"anonymousId": "a1", "name": "Home", "properties": {"referrer_id": "u9"}, "channel": "web"}
    body = {
        "batch": [identify, {**page, "type": "page"}],
        "sentAt": "2026-12-04T18:00:00Z",
        "context": {"ip": "1.2.3.4"},
    }
    rows = _normalise("segment:batch", body).rows
    assert [(r["event"], r["type"], r["customer"], r["user_id"]) for r in rows] == [
        ("identify", "identify", "7", "7"),
        ("page", "page", "a1", None),
    ]
    assert json.loads(rows[0]["properties"]) == {"email": "a@b.c"}
    assert rows[0]["timestamp"] == _us(NOW)  # sentAt == timestamp: sent at once, received now
    assert rows[1]["timestamp"] == _us(NOW)  # no timestamp: received_at
    assert rows[1]["referrer"] == "u9" and json.loads(rows[1]["properties"])["name"] == "Home"
    assert json.loads(rows[1]["context"]) == {"ip": "1.2.3.4", "_top": {"channel": "web"}}
    assert _normalise("segment:alias", {"userId": "u", "previousId": "a"}).rows[0]["event"] == "alias"


def test_posthog_js_batch_with_offsets() -> None:
    rows = _normalise("posthog", POSTHOG_JS_BATCH).rows
    assert [(r["event"], r["type"], r["customer"]) for r in rows] == [
        ("$pageview", "capture", "0193a1b2-0000-7000-8000-000000000001"),
        ("$identify", "capture", "user-7"),
    ]
    assert rows[0]["timestamp"] == _us(NOW - timedelta(milliseconds=1500))
    assert rows[0]["anonymous_id"] == rows[0]["customer"] and rows[0]["user_id"] is None
    for flag, ids in ((False, (None, "d")), (True, ("d", None))):  # posthog-js 1.449: $is_identified
        event = {"event": "view", "properties": {"distinct_id": "d", "$is_identified": flag}}
        assert tuple(_normalise("posthog", event).rows[0][k] for k in ("user_id", "anonymous_id")) == ids
    assert (rows[1]["user_id"], rows[1]["anonymous_id"]) == ("user-7", "0193a1b2-0000-7000-8000-000000000001")
    assert rows[0]["channel"] == "twitter" and rows[1]["revenue"] == 19.9
    assert json.loads(rows[0]["properties"]) == {"utm_source": "twitter", "title": "Shop"}
    context = json.loads(rows[0]["context"])
    assert context["$current_url"] == "http://127.0.0.1:8000/" and "$set_once" in context
    assert "token" not in rows[0]["properties"] + rows[0]["context"]
    assert keys_in("posthog", POSTHOG_JS_BATCH) == {"hgk_test"}


def test_posthog_capture_api_and_old_array_form() -> None:
    single = {"api_key": "k", "event": "signup", "distinct_id": 12, "timestamp": "2026-12-04T17:00:00+01:00"}
    (row,) = _normalise("posthog", single).rows
    assert (row["customer"], row["timestamp"]) == ("12", _us(NOW - timedelta(hours=3)))
    old = [
        {
            "event": "$pageview",
            "properties": {"distinct_id": "d", "token": "k"},
            "timestamp": "2026-12-04T18:59:00Z",
        }
    ]
    assert _normalise("posthog", old).rows[0]["timestamp"] == _us(NOW - timedelta(minutes=1))


@pytest.mark.parametrize(
    ("route", "event", "code", "field"),
    [
        ("segment:track", {"userId": "u"}, "missing_event", "event"),
        ("segment:track", {"event": "e"}, "missing_user", "userId"),
        ("segment:track", {"event": "e", "userId": ["u"]}, "wrong_type", "userId"),
        ("segment:track", {"event": "e", "userId": "u", "properties": "x"}, "wrong_type", "properties"),
        (
            "segment:track",
            {"event": "e", "userId": "u", "timestamp": "yesterday"},
            "invalid_timestamp",
            "timestamp",
        ),
        (
            "segment:track",
            {"event": "e", "userId": "u", "timestamp": 1733338800},
            "invalid_timestamp",
            "timestamp",
        ),
        (
            "segment:track",
            {"event": "e", "userId": "u", "timestamp": "2026-12-07T00:00:00Z"},
            "timestamp_in_future",
            "timestamp",
        ),
        (
            "segment:track",
            {"event": "e", "userId": "u", "timestamp": "1850-01-01T00:00:00Z"},
            "invalid_timestamp",
            "timestamp",
        ),
        (
            "segment:track",
            {"event": "e", "userId": "u", "properties": {"revenue": "lots"}},
            "invalid_revenue",
            "properties.revenue",
        ),
        (
            "segment:track",
            {"event": "e", "userId": "u", "properties": {"revenue": True}},
            "invalid_revenue",
            "properties.revenue",
        ),
        ("segment:track", {"event": "\ud800", "userId": "u"}, "invalid_text", "event"),
        ("segment:track", {"event": "a\x00b", "userId": "u"}, "invalid_text", "event"),
        (
            "posthog",
            {"event": "e", "properties": {"distinct_id": "d\x00", "channel": "x"}},
            "invalid_text",
            "properties.distinct_id",
        ),
        (
            "posthog",
            {"event": "e", "properties": {"distinct_id": "d", "channel": "é\x00"}},
            "invalid_text",
            "properties.channel",
        ),
        ("posthog", {"properties": {"distinct_id": "d"}}, "missing_event", "event"),
        ("posthog", {"event": "e", "properties": {}}, "missing_user", "distinct_id"),
        ("posthog", {"event": "e", "distinct_id": "d", "offset": "5"}, "wrong_type", "offset"),
    ],
)
def test_a_bad_event_has_its_code_and_field(route: str, event: dict[str, Any], code: str, field: str) -> None:
    batch = _normalise(route, event)
    assert batch.rows == []
    assert [(e.index, e.code, e.field) for e in batch.errors] == [(0, code, field)]
    assert batch.errors[0].message


def test_future_is_judged_after_the_skew_correction() -> None:
    # a browser clock 3 days ahead: timestamp and sentAt both ahead, the event is from now
    event = {
        "event": "e",
        "userId": "u",
        "timestamp": "2026-12-07T19:00:00Z",
        "sentAt": "2026-12-07T19:00:01Z",
    }
    assert _normalise("segment:track", event).rows[0]["timestamp"] == _us(NOW - timedelta(seconds=1))


def test_a_batch_is_all_or_nothing() -> None:
    good = {"type": "track", "event": "e", "userId": "u"}
    batch = _normalise(
        "segment:batch", {"batch": [good, {"type": "track", "userId": "u"}, good, "x", {"type": "bogus"}]}
    )
    assert batch.rows == []
    assert [(e.index, e.code) for e in batch.errors] == [
        (1, "missing_event"),
        (3, "not_an_object"),
        (4, "invalid_type"),
    ]
    for body in ({"batch": []}, {"batch": {}}, [], "text", 5, None):
        assert (
            _normalise("segment:batch" if isinstance(body, dict) else "posthog", body).code == "invalid_body"
        )


def test_body_decoding() -> None:
    doc = {"batch": [{"event": "é"}]}
    text = json.dumps(doc).encode()
    assert decode_body(gzip.compress(text), limit=10_000) == doc  # magic bytes, no header (posthog-js)
    assert decode_body(gzip.compress(text), limit=10_000, content_encoding="gzip") == doc
    form = b"data=" + quote(base64.b64encode(text).decode()).encode()
    assert decode_body(form, limit=10_000, compression="base64") == doc
    assert decode_body(text, limit=10_000, content_type="text/plain") == doc
    cases = [
        (b"{", {}, "invalid_json"),
        (b"", {}, "invalid_json"),
        (b'{"a": NaN}', {}, "invalid_json"),
        (b"\xff\xfe", {}, "invalid_json"),
        (b"data=%%%", {"compression": "base64"}, "invalid_json"),
        (b"data=abc", {"compression": "lz64"}, "unsupported_compression"),
        (text, {"content_encoding": "br"}, "unsupported_compression"),
        (gzip.compress(b"[" * 10 + b"0" * 20_000), {}, "payload_too_large"),  # a bomb: held to the limit
        (b"[" * 100_000 + b"]" * 100_000, {}, "invalid_json"),  # too deep
    ]
    for raw, options, code in cases:
        with pytest.raises(BodyError) as info:
            decode_body(raw, limit=10_000, **options)
        assert info.value.code == code, raw[:20]
        assert info.value.status == (413 if code == "payload_too_large" else 400)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=10,
)
_keys = st.sampled_from(
    [
        "type",
        "event",
        "userId",
        "anonymousId",
        "messageId",
        "timestamp",
        "sentAt",
        "sent_at",
        "offset",
        "properties",
        "context",
        "traits",
        "distinct_id",
        "uuid",
        "batch",
        "revenue",
        "channel",
    ]
)
_eventish = st.dictionaries(_keys, _json, max_size=8)
_bodies = (
    _json
    | _eventish
    | st.lists(_eventish, max_size=4)
    | st.fixed_dictionaries({"batch": st.lists(_eventish, max_size=4)})
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), body=_bodies)
def test_any_json_gives_rows_or_coded_errors(route: str, body: Any) -> None:
    batch = normalise(route, body, project="p", received_at=NOW, now=NOW)
    assert (batch.code is None) or batch.rows == []
    assert not (batch.rows and batch.errors)
    for error in batch.errors:
        assert error.code and error.message
    for row in batch.rows:
        json.dumps(row, ensure_ascii=False).encode("utf-8")  # what the log writes
        assert not any("\x00" in v for v in row.values() if isinstance(v, str))  # NUL cuts SQL text
        assert (
            isinstance(row["customer"], str)
            and isinstance(row["event"], str)
            and isinstance(row["timestamp"], int)
        )
    keys_in(route, body)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_decode_or_raise_a_coded_body_error(raw: bytes) -> None:
    try:
        decode_body(raw, limit=1000)
        decode_body(b"data=" + raw, limit=1000, compression="base64")
    except BodyError as e:
        assert e.code in {"invalid_json", "payload_too_large", "unsupported_compression"}


@pytest.mark.parametrize("fast", [True, False], ids=["orjson", "stdlib"])
def test_what_orjson_refuses_the_standard_library_decides(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With or without orjson (ingest/collector/_json.py), the same answers."""
    from hourglass.ingest.collector import _json

    if not fast:
        monkeypatch.setattr(_json, "_orjson", None)
    elif _json._orjson is None:
        pytest.skip("orjson is not installed")
    batch = _normalise(
        "segment:batch", decode_body(json.dumps({"batch": [ANALYTICS_JS_TRACK]}).encode(), limit=10**6)
    )
    assert json.loads(batch.rows[0]["properties"]) == ANALYTICS_JS_TRACK["properties"]
    assert json.loads(batch.rows[0]["context"])["page"] == ANALYTICS_JS_TRACK["context"]["page"]
    assert decode_body(b'{"big": 123456789012345678901234567890}', limit=1000) == {
        "big": 123456789012345678901234567890
    }
    assert decode_body('{"a": "é"}'.encode("utf-16"), limit=1000) == {"a": "é"}
    event = {"event": "e", "userId": "u", "properties": {"big": 10**30, "odd": "\ud800", "ok": "ü"}}
    props = json.loads(_normalise("segment:track", event).rows[0]["properties"])
    assert props == {"big": 10**30, "odd": "\ud800", "ok": "ü"}
    for bad in (b'{"a": NaN}', b'{"a": Infinity}', b"[" * 5000 + b"]" * 5000):
        with pytest.raises(BodyError):
            decode_body(bad, limit=100_000)


def test_a_right_clock_keeps_its_timestamps_and_their_order() -> None:
    # two requests of one browser whose clock is right: a view, then a purchase 1 ms later, sent
    # separately; the second request's latency is the smaller. Correcting by (sentAt - timestamp)
    # would put the purchase first; within the tolerance the browser's own times are kept.
    view = {"type": "track", "event": "view", "userId": "u", "timestamp": "2026-12-04T18:59:59.000Z"}
    buy = {**view, "event": "purchase", "timestamp": "2026-12-04T18:59:59.001Z"}
    sent = datetime(2026, 12, 4, 18, 59, 59, tzinfo=UTC)
    first = normalise(
        "segment:track", {**view, "sentAt": "2026-12-04T18:59:59.000Z"}, project="shop",
        received_at=sent + timedelta(milliseconds=120), now=NOW,
    )  # fmt: skip
    second = normalise(
        "segment:track", {**buy, "sentAt": "2026-12-04T18:59:59.001Z"}, project="shop",
        received_at=sent + timedelta(milliseconds=30), now=NOW,
    )  # fmt: skip
    assert first.rows[0]["timestamp"] < second.rows[0]["timestamp"]
    assert second.rows[0]["timestamp"] == _us(datetime(2026, 12, 4, 18, 59, 59, 1000, tzinfo=UTC))
