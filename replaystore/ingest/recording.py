"""A `replay_recording` payload: `{"segment_id":N}\\n` + a zlib, gzip or plain rrweb body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from replaystore.ingest import limits
from replaystore.ingest import values as v
from replaystore.ingest.inflate import GZIP, ZLIB, inflate, is_gzip, is_zlib
from replaystore.ingest.replay_event import segment_id as read_segment_id


@dataclass(frozen=True)
class Recording:
    segment_id: int
    body: bytes  # exactly as received: what the blob stores
    events: list[Any]  # the decoded rrweb event list


def decode_body(body: bytes, limit: int, counter: limits.ValueCounter | None = None) -> bytes:
    """The rrweb JSON text of a recording body (zlib, gzip, or plain JSON starting with `[`),
    its JSON values counted by `counter` while it is inflated."""
    watch = counter.add if counter is not None else None
    if is_zlib(body):
        return inflate(body, ZLIB, limit, field="recording", watch=watch)
    if is_gzip(body):
        return inflate(body, GZIP, limit, field="recording", watch=watch)
    if body.lstrip()[:1] == b"[":
        if len(body) > limit:
            raise limits.refuse(
                "decompressed_size", "recording", f"size exceeds the limit of {limit} bytes", 413
            )
        if watch is not None:
            watch(body)
        return body
    raise v.fail("recording", f"body is neither zlib, gzip nor a JSON array (starts {body[:8]!r})")


def parse_rrweb(text: bytes, counted: int | None = None) -> list[Any]:
    try:
        events = limits.loads(text, "recording", counted=counted)
    except orjson.JSONDecodeError as error:
        raise v.fail("recording", f"invalid rrweb JSON ({error})") from None
    if not isinstance(events, list):
        raise v.fail(
            "recording", f"expected a JSON array of rrweb events, got {v.describe(events)[:40]}"
        )
    if len(events) > limits.MAX_RRWEB_EVENTS:
        raise limits.refuse(
            "rrweb_events",
            "recording",
            f"{len(events)} rrweb events: the limit is {limits.MAX_RRWEB_EVENTS} per segment",
            413,
        )
    return events


def decode_rrweb(body: bytes, limit: int) -> list[Any]:
    """The rrweb events of a recording body, every limit checked while it is decoded."""
    counter = limits.ValueCounter("recording")
    return parse_rrweb(decode_body(body, limit, counter), counter.count)


def parse_recording_payload(payload: bytes, limit: int) -> Recording:
    """Split the header line from the body, read `segment_id`, decode and parse the body."""
    newline = payload.find(b"\n")
    if newline < 0:
        raise v.fail("segment_id", "no newline after the recording header line")
    try:
        header = limits.loads(payload[:newline], "recording header")
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict):
        raise v.fail(
            "segment_id",
            f"recording header line is not a JSON object: {v.describe(payload[:newline][:60])}",
        )
    if header.get("segment_id") is None:
        raise v.fail("segment_id", "required in the recording header line")
    number = read_segment_id(header["segment_id"])
    body = payload[newline + 1 :]
    return Recording(segment_id=number, body=body, events=decode_rrweb(body, limit))


def recording_from_events(segment: int, events: list[Any]) -> Recording:
    """A recording built from an already-decoded event list (JSONL `rrweb` form)."""
    return Recording(segment_id=segment, body=orjson.dumps(events), events=events)
