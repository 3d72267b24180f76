"""The JSON-lines export format (docs/jsonl-format.md): reading it, and writing envelopes to it."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from replaystore.errors import IngestError
from replaystore.ingest import values as v
from replaystore.ingest.api_replay import ReplayRows
from replaystore.ingest.assemble import Collector, located
from replaystore.ingest.envelopes import (
    EnvelopeInput,
    collect_envelope,
    collect_envelope_items,
    envelope_project_id,
)
from replaystore.ingest.framing import parse_envelope
from replaystore.ingest.inflate import MAX_DECOMPRESSED, decode_content
from replaystore.ingest.links import link_row
from replaystore.ingest.origin import Origin
from replaystore.ingest.recording import (
    Recording,
    decode_body,
    parse_rrweb,
    recording_from_events,
)
from replaystore.ingest.replay_event import normalise_replay_event, segment_id
from replaystore.storage.batch import WriteBatch

LINE_TYPES = ("replay_event", "replay_recording", "event", "envelope", "replay")


def _project_id(line: Mapping[str, Any], required: bool = True) -> int | None:
    value = line.get("project_id")
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise v.fail("project_id", f"expected an integer >= 0, got {v.describe(value)}")
    return value


def _origin(line: Mapping[str, Any], now: datetime) -> Origin:
    project_id = _project_id(line)
    assert project_id is not None
    return Origin(
        project_id=project_id,
        received=v.optional_timestamp(line.get("received"), "received") or now,
        client_ip=v.text(line.get("client_ip"), "client_ip") or None,
        user_agent=v.text(line.get("user_agent"), "user_agent") or None,
    )


def _base64(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise v.fail(field, f"expected a base64 string, got {v.describe(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise v.fail(field, "not valid base64") from None


def _recording(line: Mapping[str, Any], limit: int) -> Recording:
    if "segment_id" not in line:
        raise v.fail("segment_id", "required")
    number = segment_id(line["segment_id"])
    if ("rrweb" in line) == ("body_b64" in line):
        raise v.fail("rrweb", "give exactly one of `rrweb` and `body_b64`")
    if "rrweb" in line:
        events = line["rrweb"]
        if not isinstance(events, list):
            raise v.fail("rrweb", f"expected a list of rrweb events, got {v.describe(events)}")
        return recording_from_events(number, events)
    body = _base64(line["body_b64"], "body_b64")
    return Recording(number, body, parse_rrweb(decode_body(body, limit)))


def _collect_line(
    line: Mapping[str, Any], collector: Collector, name: str, now: datetime, limit: int
) -> None:
    kind = line.get("type")
    if kind == "envelope":
        body = _base64(line.get("body_b64"), "body_b64")
        envelope = EnvelopeInput(
            body=body,
            project_id=_project_id(line, required=False),
            client_ip=v.text(line.get("client_ip"), "client_ip") or None,
            user_agent=v.text(line.get("user_agent"), "user_agent") or None,
            received=v.optional_timestamp(line.get("received"), "received"),
            name=name,
        )
        collect_envelope_items(envelope, collector, now=now, limit=limit)
        return
    if kind not in LINE_TYPES:
        raise v.fail("type", f"expected one of {', '.join(LINE_TYPES)}, got {v.describe(kind)}")
    origin = _origin(line, now)
    if kind == "replay":
        collector.add_replay(ReplayRows(line, origin.project_id, origin.received))
        return
    if kind == "replay_recording":
        replay_id = v.uuid_hex(line.get("replay_id"), "replay_id")
        collector.add_recording(origin.project_id, replay_id, _recording(line, limit))
        return
    event = v.obj(line.get("event"), "event")
    if kind == "replay_event":
        collector.add_segment(normalise_replay_event(event, origin))
        return
    headers = {"trace": v.obj(line.get("trace"), "trace")}
    row = link_row(event, headers, origin)
    if row is not None:
        collector.add_link(row)


def parse_jsonl(
    lines: Iterable[bytes | str],
    name: str = "export",
    *,
    max_decompressed: int = MAX_DECOMPRESSED,
) -> WriteBatch:
    """Validate every line of an export, then return its rows as one deduplicated batch.

    Blank lines are skipped; an error names the line (1-based) and field.
    """
    collector = Collector()
    now = datetime.now(UTC)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{name} line {number}"
        try:
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise IngestError(f"invalid JSON ({error})") from None
            if not isinstance(line, dict):
                raise IngestError(f"expected a JSON object, got {v.describe(line)[:40]}")
            _collect_line(line, collector, where, now, max_decompressed)
        except IngestError as error:
            raise located(error, where) from None
    return collector.build()


def _encode(line: dict[str, Any]) -> str:
    return orjson.dumps(line).decode()


def _line_extras(envelope: EnvelopeInput) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if envelope.received is not None:
        extras["received"] = v.aware_utc(envelope.received).isoformat()
    if envelope.client_ip:
        extras["client_ip"] = envelope.client_ip
    if envelope.user_agent:
        extras["user_agent"] = envelope.user_agent
    return extras


def export_lines(envelope: EnvelopeInput, *, max_decompressed: int = MAX_DECOMPRESSED) -> list[str]:
    """The export lines of one envelope: its replay_event, replay_recording and event items.

    The envelope is validated first (IngestError as `build_batch`); other item types are left
    out, since nothing is stored for them.
    """
    collect_envelope(envelope, Collector(), now=datetime.now(UTC), limit=max_decompressed)
    body = decode_content(envelope.body, envelope.content_encoding, max_decompressed)
    parsed = parse_envelope(body)
    base = {"project_id": envelope_project_id(envelope, parsed.headers), **_line_extras(envelope)}
    replay_id = parsed.headers.get("event_id")
    lines: list[dict[str, Any]] = []
    for item in parsed.items:
        if item.type == "replay_event":
            event = orjson.loads(item.payload)
            replay_id = event["replay_id"]
            lines.append({"type": "replay_event", **base, "event": event})
        elif item.type == "event":
            event = orjson.loads(item.payload)
            if event.get("event_id") is None and parsed.headers.get("event_id") is not None:
                event["event_id"] = parsed.headers["event_id"]  # the link's id
            line = {"type": "event", **base, "event": event}
            if isinstance(parsed.headers.get("trace"), dict):
                line["trace"] = parsed.headers["trace"]
            lines.append(line)
    for item in parsed.items:
        if item.type == "replay_recording":
            header, _, body = item.payload.partition(b"\n")
            recording = {"segment_id": orjson.loads(header)["segment_id"]}
            encoded = base64.b64encode(body).decode()
            lines.append(
                {"type": "replay_recording", **base, "replay_id": replay_id, **recording}
                | {"body_b64": encoded}
            )
    return [_encode(line) for line in lines]


def export_jsonl(
    envelopes: Iterable[EnvelopeInput], *, max_decompressed: int = MAX_DECOMPRESSED
) -> Iterator[str]:
    """Export lines (without newlines) for every envelope, in order; see docs/jsonl-format.md."""
    for envelope in envelopes:
        yield from export_lines(envelope, max_decompressed=max_decompressed)
