"""Hostile envelopes: valid SDK-shaped ones, then truncated, mis-framed, badly compressed,
bombs, huge or deeply nested JSON, invalid UTF-8 and wrong types in every field.

`envelope_case(rng)` returns the body and the request headers to POST with it.
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from replaystore.ingest.inflate import MAX_DECOMPRESSED
from tests.robustness.corpus import CORPUS
from tests.robustness.generators import random_text

# One "now" per run: generation must be a pure function of the rng (hypothesis replays it).
NOW = time.time()
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari"


@dataclass(frozen=True)
class EnvelopeCase:
    body: bytes
    headers: dict[str, str]
    mutation: str


def replay_event(replay_id: str, segment_id: int, now: float) -> dict[str, Any]:
    return {
        "type": "replay_event",
        "replay_start_timestamp": now - 5,
        "timestamp": now,
        "error_ids": [],
        "trace_ids": [uuid.uuid4().hex],
        "urls": ["https://acme.test/fuzz"],
        "replay_id": replay_id,
        "segment_id": segment_id,
        "replay_type": "session",
        "request": {"url": "https://acme.test/fuzz", "headers": {"User-Agent": UA}},
        "contexts": {"culture": {"locale": "en-US"}},
        "event_id": replay_id,
        "environment": "fuzz",
        "release": "1.0",
        "tags": {"plan": "fuzz"},
        "sdk": {"name": "sentry.javascript.browser", "version": "11.12.0"},
        "user": {"id": "fuzz-user", "email": "fuzz@acme.test", "ip_address": "{{auto}}"},
        "platform": "javascript",
    }


def rrweb_events(now: float) -> list[dict[str, Any]]:
    ms = int(now * 1000)
    click = {
        "type": 5,
        "timestamp": ms + 10,
        "data": {
            "tag": "breadcrumb",
            "payload": {
                "timestamp": now + 0.01,
                "type": "default",
                "category": "ui.click",
                "message": "body > button#ok",
                "data": {"nodeId": 4, "node": {"id": 4, "tagName": "button", "attributes": {}}},
            },
        },
    }
    return [{"type": 4, "data": {"href": "https://acme.test/fuzz"}, "timestamp": ms}, click]


def dumps(value: Any) -> bytes:
    """JSON bytes; the stdlib writes what orjson refuses (integers past 64 bits, surrogates)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def frame(headers: Any, items: list[tuple[Any, bytes]]) -> bytes:
    lines = [headers if isinstance(headers, bytes) else dumps(headers)]
    for header, payload in items:
        lines.append(header if isinstance(header, bytes) else dumps(header))
        lines.append(payload)
    return b"\n".join(lines)


def valid_envelope(
    rng: random.Random, *, replay_id: str | None = None, segment_id: int = 0
) -> tuple[dict, dict, bytes]:
    """(envelope headers, replay event, recording payload) of one SDK-shaped segment."""
    replay_id = replay_id or f"{rng.getrandbits(128):032x}"
    now = NOW - rng.uniform(0, 3600)
    event = replay_event(replay_id, segment_id, now)
    body = dumps(rrweb_events(now))
    recording = dumps({"segment_id": segment_id}) + b"\n" + rng.choice((zlib.compress, bytes))(body)
    headers = {"event_id": replay_id, "sent_at": "2026-01-01T00:00:00.000Z"}
    return headers, event, recording


def assemble(headers: Any, event: Any, recording: bytes, length: Any = ...) -> bytes:
    rec_header: dict[str, Any] = {"type": "replay_recording"}
    rec_header["length"] = len(recording) if length is ... else length
    if length is None:
        del rec_header["length"]
    return frame(
        headers,
        [({"type": "replay_event"}, dumps(event)), (rec_header, recording)],
    )


# -- hostile values ------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def wrong_value(rng: random.Random) -> Any:
    return rng.choice(
        (
            None,
            True,
            0,
            -1,
            2**64,
            -(2**63) - 1,
            1e308,
            -0.0,
            "",
            "x" * rng.choice((1, 300, 70_000)),
            rng.choice(CORPUS),
            [],
            [None, 1, "a"],
            {},
            {"a": {"b": [1, {"c": None}]}},
            random_text(rng).encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            "2026-13-45T99:99:99Z",
            "not-a-uuid",
            f"{uuid.uuid4()}",
        )
    )


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path inside a JSON value (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(paths(child, (*prefix, index)))
    return found


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


def with_wrong_type(rng: random.Random, value: Any) -> Any:
    choices = paths(value)
    if not choices:
        return wrong_value(rng)
    return replaced(value, rng.choice(choices), wrong_value(rng))


@functools.cache
def zlib_bomb() -> bytes:
    """Zeros that inflate past the decompression limit (a few hundred kB compressed)."""
    engine = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    parts = [engine.compress(chunk) for _ in range(MAX_DECOMPRESSED // len(chunk) + 8)]
    return b"".join(parts) + engine.flush()


@functools.cache
def gzip_bomb() -> bytes:
    return gzip.compress(zlib.decompress(zlib_bomb()), compresslevel=9)


# -- mutations -----------------------------------------------------------------------------

Mutation = Callable[[random.Random, dict, dict, bytes], tuple[bytes, dict[str, str]]]


def _valid(rng, headers, event, recording):
    return assemble(headers, event, recording), {}


def _truncated(rng, headers, event, recording):
    body = assemble(headers, event, recording)
    return body[: rng.randrange(len(body))], {}


def _wrong_length(rng, headers, event, recording):
    length = rng.choice(
        (len(recording) + rng.randint(1, 50), max(0, len(recording) - rng.randint(1, 50)), -1,
         2**63, 1.5, "12", None, True, [])
    )  # fmt: skip
    return assemble(headers, event, recording, length), {}


def _bad_zlib(rng, headers, event, recording):
    head, _, _ = recording.partition(b"\n")
    good = zlib.compress(dumps(rrweb_events(NOW)))
    broken = rng.choice(
        (
            good[: rng.randrange(2, len(good))],
            good[:2] + bytes(rng.getrandbits(8) for _ in range(len(good) - 2)),
            good + b"trailing",
            b"\x78\x9c",
            good[:10] + b"\xff" * 5 + good[15:],
        )
    )
    return assemble(headers, event, head + b"\n" + broken), {}


def _bomb(rng, headers, event, recording):
    head, _, _ = recording.partition(b"\n")
    if rng.random() < 0.5:
        return assemble(headers, event, head + b"\n" + zlib_bomb()), {}
    return gzip_bomb(), {"Content-Encoding": "gzip"}


def _huge_json(rng, headers, event, recording):
    size = rng.choice((100_000, 2_000_000))
    where = rng.choice(("event", "header", "recording"))
    if where == "event":
        event = {**event, rng.choice(("message", "release", "urls", "tags")): "u" * size}
    elif where == "header":
        headers = {**headers, "padding": "h" * size}
    else:
        head, _, _ = recording.partition(b"\n")
        recording = head + b"\n" + dumps([{"type": 3, "data": "r" * size}] * 3)
    return assemble(headers, event, recording), {}


def _deep_json(rng, headers, event, recording):
    depth = rng.choice((200, 1100, 100_000))
    where = rng.choice(("event", "header", "item", "recording"))
    deep = nested(depth)
    if where == "event":
        raw = dumps(event)[:-1] + b',"extra":' + deep + b"}"
        return frame(headers, [({"type": "replay_event"}, raw)]), {}
    if where == "header":
        return dumps(headers)[:-1] + b',"x":' + deep + b"}\n{}", {}
    if where == "item":
        return frame(headers, [(b'{"type":"event","x":' + deep + b"}", b"{}")]), {}
    head, _, _ = recording.partition(b"\n")
    return assemble(headers, event, head + b"\n" + deep), {}


def _invalid_utf8(rng, headers, event, recording):
    raw = dumps(event)
    at = rng.randrange(len(raw))
    bad = rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00"))
    event_bytes = raw[:at] + bad + raw[at:]
    rec_head, _, rec_body = recording.partition(b"\n")
    if rng.random() < 0.5:
        rec_body = b'[{"type":4,"data":{"href":"\xff\xfe"},"timestamp":1}]'
    payload = rec_head + b"\n" + rec_body
    return frame(
        headers,
        [({"type": "replay_event"}, event_bytes),
         ({"type": "replay_recording", "length": len(payload)}, payload)],
    ), {}  # fmt: skip


def _wrong_types(rng, headers, event, recording):
    target = rng.choice(("event", "event", "headers", "recording", "recording_header"))
    if target == "event":
        event = with_wrong_type(rng, event)
    elif target == "headers":
        headers = with_wrong_type(rng, headers)
    elif target == "recording_header":
        head, _, rest = recording.partition(b"\n")
        recording = dumps(with_wrong_type(rng, orjson.loads(head))) + b"\n" + rest
    else:
        head, _, _ = recording.partition(b"\n")
        events = with_wrong_type(rng, rrweb_events(NOW))
        recording = head + b"\n" + dumps(events)
    return assemble(headers, event, recording), {}


def _items(rng, headers, event, recording):
    """Odd item lists: duplicates, unknown types, missing halves, error events, garbage."""
    kinds = [
        ({"type": "replay_event"}, dumps(event)),
        ({"type": "replay_recording", "length": len(recording)}, recording),
        ({"type": "event"}, dumps({"level": wrong_value(rng), "tags": wrong_value(rng)})),
        ({"type": "session"}, b'{"sid":"x"}'),
        ({"type": wrong_value(rng)}, b"{}"),
        (b"not json", b"{}"),
        (b"", b""),
    ]
    items = [rng.choice(kinds) for _ in range(rng.randint(0, 5))]
    return frame(headers if rng.random() < 0.9 else wrong_value(rng), items), {}


def _byte_flips(rng, headers, event, recording):
    body = bytearray(assemble(headers, event, recording))
    for _ in range(rng.randint(1, 8)):
        body[rng.randrange(len(body))] = rng.getrandbits(8)
    return bytes(body), {}


def _encodings(rng, headers, event, recording):
    body = assemble(headers, event, recording)
    coding = rng.choice(("gzip", "deflate", "br", "zstd", "gzip, gzip", "identity", "x" * 300))
    encoded = {"gzip": gzip.compress, "deflate": zlib.compress}.get(coding, bytes)(body)
    if rng.random() < 0.3:
        encoded = encoded[: len(encoded) // 2]
    return encoded, {"Content-Encoding": coding}


def _far_timestamps(rng, headers, event, recording):
    """Times years away, or just outside Relay's bounds (received +60 s, -30 days)."""
    far = rng.choice((NOW + 61, NOW - 31 * 86400, NOW + 4 * 365 * 86400, 0.0, 253402300799.0))
    keys = rng.sample(["timestamp", "replay_start_timestamp"], rng.randint(1, 2))
    return assemble(headers, {**event, **dict.fromkeys(keys, far)}, recording), {}


def _objects_bomb(rng, headers, event, recording):
    head, _, _ = recording.partition(b"\n")
    return assemble(headers, event, head + b"\n" + objects_bomb()), {}


def _random_bytes(rng, headers, event, recording):
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 400))), {}


MUTATIONS: dict[str, Mutation] = {
    "valid": _valid,
    "truncated": _truncated,
    "wrong_length": _wrong_length,
    "bad_zlib": _bad_zlib,
    "bomb": _bomb,
    "huge_json": _huge_json,
    "deep_json": _deep_json,
    "invalid_utf8": _invalid_utf8,
    "wrong_types": _wrong_types,
    "items": _items,
    "byte_flips": _byte_flips,
    "encodings": _encodings,
    "random_bytes": _random_bytes,
    "far_timestamps": _far_timestamps,
    "objects_bomb": _objects_bomb,
}
# Bombs and huge bodies cost the most; they are drawn less often.
WEIGHTS = {"bomb": 1, "objects_bomb": 1, "huge_json": 2, "valid": 4}


def envelope_case(rng: random.Random, mutation: str | None = None) -> EnvelopeCase:
    name = mutation or rng.choices(list(MUTATIONS), [WEIGHTS.get(m, 6) for m in MUTATIONS])[0]
    headers, event, recording = valid_envelope(rng, segment_id=rng.choice((0, 0, 1, 720)))
    body, request_headers = MUTATIONS[name](rng, headers, event, recording)
    return EnvelopeCase(body, request_headers, name)


# -- every costly shape, for the memory ceiling ---------------------------------------------


@functools.cache
def objects_bomb() -> bytes:
    """A zlib rrweb body `[{},{},...]` of 5M objects: ~30 kB that once decoded to ~3 GB."""
    return zlib.compress(b"[" + b"{}," * 5_000_000 + b"{}]", 9)


def _raw_deflate(data: bytes) -> bytes:
    engine = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return engine.compress(data) + engine.flush()


def costly_cases(replay_id: str) -> list[EnvelopeCase]:
    """One case per costly shape: bombs in every compressed position (body gzip, deflate and
    raw deflate, recording zlib and gzip, a bomb inside a gzip body), millions of objects,
    huge arrays in the header, event and recording, deep JSON, and timestamps far away."""
    rng = random.Random(replay_id)
    headers, event, recording = valid_envelope(rng, replay_id=replay_id)
    head = recording.partition(b"\n")[0] + b"\n"
    zeros = zlib.decompress(zlib_bomb())
    bomb_body = assemble(headers, event, head + zlib_bomb())
    huge_array = b"[" + b"0," * 5_000_000 + b"0]"
    far = {**event, "timestamp": 1_900_000_000.0, "replay_start_timestamp": 600_000_000.0}
    cases = [
        (gzip_bomb(), {"Content-Encoding": "gzip"}, "body gzip bomb"),
        (zlib_bomb(), {"Content-Encoding": "deflate"}, "body deflate bomb"),
        (_raw_deflate(zeros), {"Content-Encoding": "deflate"}, "body raw deflate bomb"),
        (bomb_body, {}, "recording zlib bomb"),
        (assemble(headers, event, head + gzip_bomb()), {}, "recording gzip bomb"),
        (gzip.compress(bomb_body), {"Content-Encoding": "gzip"}, "bomb in a gzip body"),
        (assemble(headers, event, head + objects_bomb()), {}, "millions of objects"),
        (gzip.compress(huge_array + b"\n{}"), {"Content-Encoding": "gzip"}, "huge header line"),
        (frame(headers, [({"type": "replay_event"}, huge_array)]), {}, "huge event array"),
        (assemble(headers, event, head + zlib.compress(huge_array)), {}, "huge recording"),
        (assemble(headers, event, head + zlib.compress(nested(100_000))), {}, "deep recording"),
        (assemble(headers, far, recording), {}, "far timestamps"),
    ]
    return [EnvelopeCase(body, extra, name) for body, extra, name in cases]
