"""A replay whose recorded page loads things from another origin, and that other origin.

The recorded page's image, stylesheet, background image and web font all point at a counting
HTTP server on 127.0.0.1 (another port, so another origin): replaying the page must not make
the browser ask it for anything (the pages' Content-Security-Policy).
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import orjson

from replaystore.fixtures import SDK_NAME, SDK_VERSION


class Counter:
    """Requests that reached the other origin."""

    def __init__(self) -> None:
        self.paths: list[str] = []


@contextlib.contextmanager
def other_origin() -> Iterator[tuple[str, Counter]]:
    """An HTTP server on a free 127.0.0.1 port answering 200 to anything; counts requests."""
    counter = Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            counter.paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", counter
    finally:
        httpd.shutdown()
        httpd.server_close()


def _node(node_id: int, tag: str, attrs: dict[str, str], *children: dict) -> dict:
    return {
        "type": 2,
        "tagName": tag,
        "attributes": attrs,
        "childNodes": list(children),
        "id": node_id,
    }


def _text(node_id: int, text: str, **extra: Any) -> dict:
    return {"type": 3, "textContent": text, "id": node_id, **extra}


def recording(origin: str, start_ms: int) -> list[dict]:
    """rrweb events: a page with an image, a stylesheet, a background and a font elsewhere."""
    css = (
        f"@font-face {{ font-family: Remote; src: url({origin}/font.woff2); }}"
        f" body {{ font-family: Remote; background: url({origin}/background.png); }}"
    )
    head = _node(
        4,
        "head",
        {},
        _node(5, "link", {"rel": "stylesheet", "href": f"{origin}/site.css"}),
        _node(6, "style", {}, _text(7, css, isStyle=True)),
    )
    body = _node(
        8,
        "body",
        {},
        _node(9, "h1", {"id": "third-party-title"}, _text(10, "Tracked page")),
        _node(11, "img", {"id": "pixel", "src": f"{origin}/pixel.png", "alt": "pixel"}),
    )
    html = _node(3, "html", {"lang": "en"}, head, body)
    snapshot = {
        "type": 0,
        "childNodes": [{"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 2}, html],
        "id": 1,
    }
    meta = {"href": "https://tracked.example/", "width": 1280, "height": 720}
    full = {"node": snapshot, "initialOffset": {"left": 0, "top": 0}}
    move = {"source": 1, "positions": [{"x": 10, "y": 10, "id": 9, "timeOffset": 0}]}
    return [
        {"type": 4, "data": meta, "timestamp": start_ms},
        {"type": 2, "data": full, "timestamp": start_ms + 10},
        {"type": 3, "data": move, "timestamp": start_ms + 3000},
    ]


def envelope(origin: str, dsn: str) -> tuple[str, bytes]:
    """(replay id, envelope body) of a one-segment replay that ended a minute ago."""
    replay_id = uuid.uuid4().hex
    start = time.time() - 60
    event = {
        "type": "replay_event",
        "replay_start_timestamp": round(start, 3),
        "timestamp": round(start + 3, 3),
        "error_ids": [],
        "trace_ids": [],
        "urls": ["https://tracked.example/"],
        "replay_id": replay_id,
        "segment_id": 0,
        "replay_type": "session",
        "event_id": replay_id,
        "environment": "third-party-test",
        "sdk": {"name": SDK_NAME, "version": SDK_VERSION},
        "platform": "javascript",
    }
    events = recording(origin, int(start * 1000))
    payload = b'{"segment_id":0}\n' + zlib.compress(orjson.dumps(events))
    headers = {"event_id": replay_id, "sdk": {"name": SDK_NAME, "version": SDK_VERSION}, "dsn": dsn}
    items = [
        orjson.dumps(headers),
        orjson.dumps({"type": "replay_event"}),
        orjson.dumps(event),
        orjson.dumps({"type": "replay_recording", "length": len(payload)}),
        payload,
    ]
    return replay_id, b"\n".join(items)
