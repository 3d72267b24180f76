"""Small builders for envelopes, replay events and rrweb recordings used by the ingest tests."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson

REPLAY_ID = "a1b2c3d4e5f64789a0b1c2d3e4f5a6b7"
ERROR_ID = "0123456789abcdef0123456789abcdef"
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36"
)
T0 = 1795678256.164  # 2026-11-26T07:30:56.164Z


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def envelope(headers: dict | bytes, *items: tuple[dict | bytes, bytes], end: bytes = b"") -> bytes:
    """Header line, then each item's header line and payload, joined by newlines."""
    lines = [headers if isinstance(headers, bytes) else dumps(headers)]
    for header, payload in items:
        lines.append(header if isinstance(header, bytes) else dumps(header))
        lines.append(payload)
    return b"\n".join(lines) + end


def replay_event(**overrides: Any) -> dict:
    event: dict[str, Any] = {
        "type": "replay_event",
        "replay_start_timestamp": T0,
        "timestamp": T0 + 1,
        "error_ids": [],
        "trace_ids": [],
        "urls": ["http://127.0.0.1:8001/index.html"],
        "replay_id": REPLAY_ID,
        "segment_id": 0,
        "replay_type": "session",
        "request": {"url": "http://127.0.0.1:8001/index.html", "headers": {"User-Agent": UA}},
        "event_id": REPLAY_ID,
        "environment": "production",
        "sdk": {"name": "sentry.javascript.browser", "version": "11.12.0"},
        "user": {"id": "user-1"},
        "platform": "javascript",
    }
    for key, value in overrides.items():
        if value is ...:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def compress(body: bytes, how: str) -> bytes:
    return {"zlib": zlib.compress, "gzip": gzip.compress, "plain": bytes}[how](body)


def recording(segment_id: int, events: list[dict], how: str = "zlib") -> bytes:
    return dumps({"segment_id": segment_id}) + b"\n" + compress(dumps(events), how)


def replay_envelope(
    event: dict | None = None,
    events: list[dict] | None = None,
    *,
    how: str = "zlib",
    headers: dict | None = None,
) -> bytes:
    """A replay envelope as the SDK sends it: replay_event without length, recording with."""
    event = replay_event() if event is None else event
    payload = recording(event.get("segment_id", 0), events or [], how)
    return envelope(
        headers or {"event_id": REPLAY_ID, "sent_at": "2026-11-26T07:30:57.028Z"},
        ({"type": "replay_event"}, dumps(event)),
        ({"type": "replay_recording", "length": len(payload)}, payload),
    )


def node(node_id: int = 4, tag: str = "button", **attributes: str) -> dict:
    return {"id": node_id, "tagName": tag, "textContent": "**", "attributes": attributes}


def breadcrumb(category: str, ts: float, node_: Any = None, **data: Any) -> dict:
    """An rrweb custom event (type 5) holding a click breadcrumb."""
    payload_data = dict(data)
    if node_ is not None:
        payload_data["node"] = node_
        payload_data["nodeId"] = node_.get("id") if isinstance(node_, dict) else None
    return {
        "type": 5,
        "timestamp": int(ts * 1000),
        "data": {
            "tag": "breadcrumb",
            "payload": {
                "timestamp": ts,
                "type": "default",
                "category": category,
                "message": "body > button",
                "data": payload_data,
            },
        },
    }


def slow_click(ts: float, node_: dict, count: int = 1, after: int = 7000, reason: str = "timeout"):
    return breadcrumb(
        "ui.slowClickDetected",
        ts,
        node_,
        url="http://127.0.0.1:8001/index.html",
        timeAfterClickMs=after,
        endReason=reason,
        clickCount=count,
    )
