"""Envelopes (as POSTed by a Sentry SDK or read from `.envelope` files) → one `WriteBatch`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from replaystore.errors import IngestError
from replaystore.ingest import values as v
from replaystore.ingest.assemble import Collector, located
from replaystore.ingest.framing import Envelope, Item, parse_envelope, parse_json_object
from replaystore.ingest.inflate import MAX_DECOMPRESSED, decode_content, first_line
from replaystore.ingest.limits import MAX_HEADER_LINE
from replaystore.ingest.links import link_row
from replaystore.ingest.origin import Origin
from replaystore.ingest.recording import parse_recording_payload
from replaystore.ingest.replay_event import normalise_replay_event
from replaystore.storage.batch import WriteBatch

_PROJECT_ID = re.compile(r"\d+")


@dataclass(frozen=True)
class EnvelopeInput:
    """One envelope body plus what its HTTP request said about it."""

    body: bytes
    project_id: int | None = None  # None: the id at the end of the envelope header's `dsn`
    client_ip: str | None = None
    user_agent: str | None = None
    content_encoding: str | None = None
    received: datetime | None = None  # None: when build_batch runs
    name: str = "envelope"  # names the envelope in error messages
    live: bool = False  # POSTed to the public endpoint: Relay's clock bounds apply


def dsn_project_id(dsn: Any) -> int | None:
    """The project id of a DSN `proto://key@host[/path]/PID`: leading digits of the last part."""
    if not isinstance(dsn, str):
        return None
    try:
        path = urlsplit(dsn).path
    except ValueError:
        return None
    match = _PROJECT_ID.match(path.rstrip("/").rsplit("/", 1)[-1])
    return int(match.group()) if match else None


def dsn_public_key(dsn: Any) -> str | None:
    """The public key of a DSN `proto://key@host/PID` (the SDK's tunnel form), or None."""
    if not isinstance(dsn, str):
        return None
    try:
        key = urlsplit(dsn).username
    except ValueError:
        return None
    return key or None


def envelope_headers(body: bytes, content_encoding: str | None = None) -> dict[str, Any]:
    """The envelope header object, or {} when the body has no readable one; only its first
    line is decompressed, and a line longer than `MAX_HEADER_LINE` is not read."""
    try:
        header = first_line(body, content_encoding, MAX_HEADER_LINE)
        value = orjson.loads(header) if header is not None else None
    except (IngestError, orjson.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def envelope_event_id(body: bytes, content_encoding: str | None = None) -> str | None:
    """The envelope header's `event_id` (32 hex), or None; for the HTTP 200 body `{"id": ...}`."""
    try:
        return v.optional_uuid_hex(
            envelope_headers(body, content_encoding).get("event_id"), "event_id"
        )
    except IngestError:
        return None


def envelope_items_summary(body: bytes) -> list[str]:
    """The item types of a well-formed, uncompressed envelope, in order (for logs and tests)."""
    return [item.type for item in parse_envelope(body).items]


def envelope_project_id(envelope: EnvelopeInput, headers: dict[str, Any]) -> int:
    if envelope.project_id is not None:
        return envelope.project_id
    found = dsn_project_id(headers.get("dsn"))
    if found is None:
        raise IngestError(
            "field 'dsn': no project id: give one, or a `dsn` ending in the project id",
            item="header",
            field="dsn",
        )
    return found


def _replay_items(envelope: Envelope) -> tuple[Item | None, Item | None]:
    events = [item for item in envelope.items if item.type == "replay_event"]
    recordings = [item for item in envelope.items if item.type == "replay_recording"]
    for kind, found in (("replay_event", events), ("replay_recording", recordings)):
        if len(found) > 1:
            extra = found[1]
            raise IngestError(
                f"field 'type': at most one {kind} item per envelope",
                item=f"item {extra.index}",
                field="type",
            )
    return (events[0] if events else None), (recordings[0] if recordings else None)


def _in_item(item: Item, error: IngestError) -> IngestError:
    return located(error, f"item {item.index} ({item.type})")


def _collect_replay(envelope: Envelope, origin: Origin, collector: Collector, limit: int) -> None:
    event_item, recording_item = _replay_items(envelope)
    replay_id: str | None = None
    segment: int | None = None
    if event_item is not None:
        try:
            event = parse_json_object(event_item.payload, "replay_event")
            row = normalise_replay_event(event, origin)
        except IngestError as error:
            raise _in_item(event_item, error) from None
        replay_id, segment = row["replay_id"], row["segment_id"]
        collector.add_segment(row)
    if recording_item is None:
        return
    try:
        recording = parse_recording_payload(recording_item.payload, limit)
        if segment is not None and recording.segment_id != segment:
            raise v.fail(
                "segment_id",
                f"recording segment {recording.segment_id} != replay_event segment {segment}",
            )
        if replay_id is None:
            # Without its event, the recording belongs to the envelope's event_id (Relay).
            header_id = envelope.headers.get("event_id")
            if header_id is None:
                raise v.fail("event_id", "a recording without replay_event needs a header event_id")
            replay_id = v.uuid_hex(header_id, "event_id")
    except IngestError as error:
        raise _in_item(recording_item, error) from None
    collector.add_recording(
        origin.project_id, replay_id, recording, origin.received if origin.live else None
    )


def _collect_links(envelope: Envelope, origin: Origin, collector: Collector) -> None:
    for item in envelope.items:
        if item.type != "event":
            continue
        try:
            row = link_row(parse_json_object(item.payload, "event"), envelope.headers, origin)
        except IngestError as error:
            raise _in_item(item, error) from None
        if row is not None:
            collector.add_link(row)


def collect_envelope_items(
    envelope: EnvelopeInput, collector: Collector, *, now: datetime, limit: int
) -> None:
    """Validate one envelope and add its rows; errors name the item, not the envelope."""
    body = decode_content(envelope.body, envelope.content_encoding, limit)
    parsed = parse_envelope(body)
    origin = Origin(
        project_id=envelope_project_id(envelope, parsed.headers),
        received=v.aware_utc(envelope.received) if envelope.received else now,
        client_ip=envelope.client_ip,
        user_agent=envelope.user_agent,
        live=envelope.live,
    )
    _collect_replay(parsed, origin, collector, limit)
    _collect_links(parsed, origin, collector)


def collect_envelope(
    envelope: EnvelopeInput, collector: Collector, *, now: datetime, limit: int
) -> None:
    """Validate one envelope and add its rows to `collector`; errors name the envelope."""
    try:
        collect_envelope_items(envelope, collector, now=now, limit=limit)
    except IngestError as error:
        raise located(error, f"envelope {envelope.name!r}") from None


def build_batch(
    envelopes: Iterable[EnvelopeInput], *, max_decompressed: int = MAX_DECOMPRESSED
) -> WriteBatch:
    """Validate every envelope, then return their rows and blobs as one deduplicated batch.

    Raises IngestError (naming the envelope, item and field) on the first bad item; then
    nothing is returned. Item types other than replay_event, replay_recording and event are
    accepted and ignored.
    """
    collector = Collector()
    now = datetime.now(UTC)
    for envelope in envelopes:
        collect_envelope(envelope, collector, now=now, limit=max_decompressed)
    return collector.build()
