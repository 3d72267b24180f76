"""The JSON-lines export format: every line type, errors naming the line, the exporter."""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from replaystore.errors import IngestError
from replaystore.ingest import EnvelopeInput, build_batch, export_jsonl, parse_jsonl
from tests.ingest.builders import (
    ERROR_ID,
    REPLAY_ID,
    T0,
    breadcrumb,
    node,
    replay_envelope,
    replay_event,
)

TAG = {"replayId": REPLAY_ID}
CLICK = breadcrumb("ui.click", T0, node(4, id="b"))
RECEIVED = "2026-11-26T08:00:00+00:00"


def line(**fields: Any) -> bytes:
    return orjson.dumps(fields)


def test_every_line_type() -> None:
    body = zlib.compress(orjson.dumps([CLICK]))
    lines = [
        line(type="replay_event", project_id=42, received=RECEIVED, event=replay_event()),
        line(type="replay_recording", project_id=42, replay_id=REPLAY_ID, segment_id=0, rrweb=[]),
        line(
            type="replay_recording",
            project_id=42,
            replay_id=REPLAY_ID,
            segment_id=1,
            body_b64=base64.b64encode(body).decode(),
        ),
        b"",
        line(
            type="event",
            project_id=42,
            event={"event_id": ERROR_ID, "tags": {"replayId": REPLAY_ID}},
        ),
        line(type="envelope", project_id=43, body_b64=base64.b64encode(replay_envelope()).decode()),
    ]
    batch = parse_jsonl(lines)
    segments = batch.segments.to_pylist()
    assert [(r["project_id"], r["segment_id"], r["has_blob"]) for r in segments] == [
        (42, 0, True),
        (43, 0, True),
    ]
    assert segments[0]["received"] == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert {(b.project_id, b.segment_id): b.data for b in batch.blobs} == {
        (42, 0): b"[]",
        (42, 1): body,
        (43, 0): zlib.compress(b"[]"),
    }
    assert [(r["segment_id"], r["id"]) for r in batch.clicks.to_pylist()] == [(1, "b")]
    assert batch.links.column("event_id").to_pylist() == [ERROR_ID]


def test_str_lines_and_client_fields() -> None:
    text = line(
        type="replay_event",
        project_id=1,
        client_ip="192.0.2.1",
        user_agent="Mozilla/5.0 (Windows NT 10.0; rv:120.0) Gecko/20100101 Firefox/120.0",
        event=replay_event(request=..., user={"ip_address": "{{auto}}"}),
    ).decode()
    (row,) = parse_jsonl([text + "\n"]).segments.to_pylist()
    assert (row["user_ip"], row["browser_name"]) == ("192.0.2.1", "Firefox")


def test_event_line_trace_header() -> None:
    lines = [
        line(
            type="event",
            project_id=1,
            trace={"replay_id": REPLAY_ID},
            event={"event_id": ERROR_ID, "level": "info"},
        )
    ]
    assert parse_jsonl(lines).links.column("level").to_pylist() == ["info"]


BAD_ENVELOPE = base64.b64encode(replay_envelope(replay_event(replay_id=1))).decode()
BAD: list[tuple[str, bytes, str, str | None, str]] = [
    ("bad-json", b"{nope", "line 2", None, "invalid JSON"),
    ("not-object", b"[1]", "line 2", None, "expected a JSON object"),
    ("unknown-type", line(type="session", project_id=1), "line 2", "type", "expected one of"),
    ("no-project", line(type="replay_event", event=replay_event()),
     "line 2", "project_id", "integer"),
    ("project-string", line(type="event", project_id="1", event={}),
     "line 2", "project_id", "integer"),
    ("bad-event", line(type="replay_event", project_id=1, event=replay_event(segment_id=-1)),
     "line 2", "segment_id", "out of range"),
    ("event-not-object", line(type="replay_event", project_id=1, event=[]),
     "line 2", "event", "expected an object"),
    ("recording-both", line(type="replay_recording", project_id=1, replay_id=REPLAY_ID,
                            segment_id=0, rrweb=[], body_b64=""),
     "line 2", "rrweb", "exactly one"),
    ("recording-neither", line(type="replay_recording", project_id=1, replay_id=REPLAY_ID,
                               segment_id=0), "line 2", "rrweb", "exactly one"),
    ("rrweb-not-list", line(type="replay_recording", project_id=1, replay_id=REPLAY_ID,
                            segment_id=0, rrweb={}), "line 2", "rrweb", "expected a list"),
    ("bad-base64", line(type="replay_recording", project_id=1, replay_id=REPLAY_ID,
                        segment_id=0, body_b64="!!!"), "line 2", "body_b64", "base64"),
    ("bad-zlib", line(type="replay_recording", project_id=1, replay_id=REPLAY_ID, segment_id=0,
                      body_b64=base64.b64encode(b"\x78\x9cxx").decode()),
     "line 2", "recording", "truncated"),
    ("recording-bad-replay-id", line(type="replay_recording", project_id=1, replay_id="r",
                                     segment_id=0, rrweb=[]), "line 2", "replay_id", "not a UUID"),
    ("recording-no-segment", line(type="replay_recording", project_id=1, replay_id=REPLAY_ID,
                                  rrweb=[]), "line 2", "segment_id", "required"),
    ("bad-received", line(type="event", project_id=1, received="soon", event={}),
     "line 2", "received", "RFC 3339"),
    ("envelope-bad", line(type="envelope", project_id=1, body_b64=base64.b64encode(b"{").decode()),
     "line 2 header", None, "not a JSON object"),
    ("envelope-bad-item", line(type="envelope", project_id=1, body_b64=BAD_ENVELOPE),
     "line 2 item 0 (replay_event)", "replay_id", "not a UUID"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "item", "field", "words"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_errors_name_the_line(bad: bytes, item: str, field: str | None, words: str) -> None:
    good = line(type="replay_event", project_id=1, event=replay_event())
    with pytest.raises(IngestError) as caught:
        parse_jsonl([good, bad, good], name="dump.jsonl")
    assert caught.value.item == f"dump.jsonl {item}"
    assert caught.value.field == field
    assert str(caught.value).startswith(f"dump.jsonl {item}: ")
    assert words in str(caught.value)


def test_export_round_trip() -> None:
    received = datetime(2026, 11, 26, 8, tzinfo=UTC)
    error = (
        b'{"event_id":"%s","trace":{"replay_id":"%s"}}\n{"type":"event"}\n{"level":"warning"}'
        % (ERROR_ID.encode(), REPLAY_ID.encode())
    )
    envelopes = [
        EnvelopeInput(replay_envelope(events=[CLICK]), project_id=3, received=received),
        EnvelopeInput(error, project_id=3, received=received, client_ip="192.0.2.1"),
        EnvelopeInput(b'{}\n{"type":"session"}\n{}', project_id=3),
    ]
    lines = list(export_jsonl(envelopes))
    assert [orjson.loads(x)["type"] for x in lines] == ["replay_event", "replay_recording", "event"]
    direct, exported = build_batch(envelopes), parse_jsonl(lines)
    for name, table in direct.tables().items():
        assert exported.tables()[name].to_pylist() == table.to_pylist(), name
    assert exported.blobs == direct.blobs


def test_export_refuses_invalid_envelopes() -> None:
    with pytest.raises(IngestError):
        list(export_jsonl([EnvelopeInput(b"{", project_id=1)]))


def test_event_line_keeps_the_transaction() -> None:
    lines = [
        line(
            type="event",
            project_id=1,
            trace={"replay_id": REPLAY_ID},
            event={"event_id": ERROR_ID, "transaction": "/cart"},
        )
    ]
    assert parse_jsonl(lines).links.column("transaction").to_pylist() == ["/cart"]
