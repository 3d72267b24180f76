"""build_batch: pairing, dedup, project ids, error links, ignored items, and error messages."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from replaystore.errors import IngestError
from replaystore.ingest import EnvelopeInput, build_batch, envelope_event_id
from tests.ingest.builders import (
    ERROR_ID,
    REPLAY_ID,
    T0,
    breadcrumb,
    dumps,
    envelope,
    node,
    recording,
    replay_envelope,
    replay_event,
)

RECEIVED = datetime(2026, 11, 26, 8, tzinfo=UTC)
HEADERS = {"event_id": REPLAY_ID}
CLICK = breadcrumb("ui.click", T0, node(4, id="b"))


def one(body: bytes, **kwargs: Any) -> Any:
    kwargs.setdefault("project_id", 5)
    kwargs.setdefault("received", RECEIVED)
    return build_batch([EnvelopeInput(body, name="test.envelope", **kwargs)])


@pytest.mark.parametrize("how", ["zlib", "gzip", "plain"])
def test_recording_encodings(how: str) -> None:
    batch = one(replay_envelope(events=[CLICK], how=how))
    (blob,) = batch.blobs
    assert (blob.project_id, blob.replay_id, blob.segment_id) == (5, REPLAY_ID, 0)
    assert blob.data == recording(0, [CLICK], how).split(b"\n", 1)[1]  # kept as received
    assert batch.clicks.column("id").to_pylist() == ["b"]
    assert batch.segments.column("has_blob").to_pylist() == [True]


def test_plain_recording_with_newlines_and_length() -> None:
    body = b'{"segment_id":0}\n[\n{"type":4,"data":{},"timestamp":1}\n]'
    batch = one(envelope(HEADERS, ({"type": "replay_recording", "length": len(body)}, body)))
    assert batch.blobs[0].data == body.split(b"\n", 1)[1]


def test_row_columns_set_by_the_batch() -> None:
    batch = one(replay_envelope(replay_event(timestamp="2026-12-31T23:59:59Z")))
    (row,) = batch.segments.to_pylist()
    assert (row["received"], row["month"], row["project_id"]) == (RECEIVED, "2026-12", 5)


def test_received_defaults_to_now() -> None:
    before = datetime.now(UTC)
    batch = build_batch([EnvelopeInput(replay_envelope(), project_id=1)])
    assert before <= batch.segments.column("received")[0].as_py() <= datetime.now(UTC)


def test_naive_received_is_utc() -> None:
    batch = one(replay_envelope(), received=datetime(2026, 1, 1, 12))
    assert batch.segments.column("received")[0].as_py() == datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("dsn", "given", "expected"),
    [
        ("http://key@127.0.0.1:8002/42", None, 42),
        ("https://key@example.test/ingest/7", None, 7),
        ("http://key@host/9/", None, 9),
        ("http://key@host/42", 3, 3),
        (None, 3, 3),
    ],
    ids=["tunnel-dsn", "path-prefix", "trailing-slash", "explicit-wins", "explicit-only"],
)
def test_project_id(dsn: str | None, given: int | None, expected: int) -> None:
    headers = {"event_id": REPLAY_ID, **({"dsn": dsn} if dsn else {})}
    batch = one(replay_envelope(headers=headers), project_id=given)
    assert batch.segments.column("project_id").to_pylist() == [expected]


@pytest.mark.parametrize("dsn", [None, "http://key@host/", "not a dsn", 42], ids=str)
def test_no_project_id(dsn: Any) -> None:
    headers = {"event_id": REPLAY_ID, **({"dsn": dsn} if dsn is not None else {})}
    with pytest.raises(IngestError) as caught:
        one(replay_envelope(headers=headers), project_id=None)
    assert caught.value.field == "dsn"
    assert "test.envelope" in str(caught.value)


def test_recording_without_event_keeps_blob_and_clicks() -> None:
    payload = recording(3, [CLICK])
    body = envelope(HEADERS, ({"type": "replay_recording", "length": len(payload)}, payload))
    batch = one(body)
    assert batch.segments.num_rows == 0
    assert [(b.replay_id, b.segment_id) for b in batch.blobs] == [(REPLAY_ID, 3)]
    (click,) = batch.clicks.to_pylist()
    assert (click["segment_id"], click["environment"]) == (3, "")


def test_recording_without_event_takes_environment_from_the_replay() -> None:
    payload = recording(3, [CLICK])
    alone = envelope(HEADERS, ({"type": "replay_recording", "length": len(payload)}, payload))
    batch = build_batch(
        [
            EnvelopeInput(alone, project_id=5),
            EnvelopeInput(replay_envelope(replay_event(environment="staging")), project_id=5),
        ]
    )
    assert batch.clicks.column("environment").to_pylist() == ["staging"]


def test_event_without_recording_has_no_blob() -> None:
    body = envelope(HEADERS, ({"type": "replay_event"}, dumps(replay_event())))
    batch = one(body)
    assert batch.segments.column("has_blob").to_pylist() == [False]
    assert batch.blobs == []


def test_duplicate_segment_keeps_the_last() -> None:
    first = replay_envelope(replay_event(urls=["http://a"]), events=[CLICK])
    second = replay_envelope(replay_event(urls=["http://b"]), events=[], how="plain")
    batch = build_batch([EnvelopeInput(first, project_id=5), EnvelopeInput(second, project_id=5)])
    assert batch.segments.column("urls").to_pylist() == [["http://b"]]
    assert [b.data for b in batch.blobs] == [b"[]"]


def test_same_replay_in_two_projects_is_two_rows() -> None:
    body = replay_envelope()
    batch = build_batch([EnvelopeInput(body, project_id=1), EnvelopeInput(body, project_id=2)])
    assert sorted(batch.segments.column("project_id").to_pylist()) == [1, 2]
    assert len(batch.blobs) == 2


def _error(headers: dict | None = None, **event: Any) -> bytes:
    payload = {"event_id": ERROR_ID, "timestamp": T0, "level": "error", **event}
    return envelope(headers or {"event_id": ERROR_ID}, ({"type": "event"}, dumps(payload)))


TAG = {"replayId": REPLAY_ID}
DASHED = "a1b2c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7"
LINKS: list[tuple[str, bytes, tuple[str, str] | None]] = [
    ("trace-header", _error({"trace": {"replay_id": REPLAY_ID}}), (REPLAY_ID, "error")),
    ("contexts-replay", _error(contexts={"replay": {"replay_id": DASHED}}), (REPLAY_ID, "error")),
    ("tag-object", _error(tags={"replayId": REPLAY_ID}), (REPLAY_ID, "error")),
    ("tag-pairs", _error(tags=[["replayId", REPLAY_ID]]), (REPLAY_ID, "error")),
    ("dashed-id", _error(tags={"replayId": DASHED}), (REPLAY_ID, "error")),
    ("warning", _error(tags=TAG, level="warning"), (REPLAY_ID, "warning")),
    ("level-default", _error(tags=TAG, level=None), (REPLAY_ID, "error")),
    ("level-critical", _error(tags=TAG, level="critical"), (REPLAY_ID, "fatal")),
    ("level-unknown", _error(tags=TAG, level="loud"), (REPLAY_ID, "error")),
    ("no-replay", _error(), None),
    ("bad-tag-skipped", _error(tags={"replayId": "nope"}), None),
    ("bad-tag-then-context", _error({"trace": {"replay_id": "x"}}, tags={"replayId": REPLAY_ID}),
     (REPLAY_ID, "error")),
]  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in LINKS], ids=[c[0] for c in LINKS])
def test_error_links(body: bytes, expected: tuple[str, str] | None) -> None:
    rows = one(body).links.to_pylist()
    if expected is None:
        assert rows == []
        return
    (row,) = rows
    assert (row["replay_id"], row["level"]) == expected
    assert (row["event_id"], row["project_id"]) == (ERROR_ID, 5)
    assert row["timestamp"] == datetime(2026, 11, 26, 7, 30, 56, 164000, tzinfo=UTC)


def test_error_event_id_from_envelope_header() -> None:
    body = envelope(
        {"event_id": ERROR_ID.upper(), "trace": {"replay_id": REPLAY_ID}},
        ({"type": "event"}, dumps({"message": "x"})),
    )
    (row,) = one(body).links.to_pylist()
    assert (row["event_id"], row["timestamp"]) == (ERROR_ID, RECEIVED)


IGNORED = ["session", "sessions", "client_report", "attachment", "transaction", "span", "feedback"]


@pytest.mark.parametrize("kind", IGNORED)
def test_other_items_are_ignored(kind: str) -> None:
    body = envelope(
        {"event_id": ERROR_ID},
        ({"type": kind}, b"\x00 not even json"),
        ({"type": "event"}, dumps({"event_id": ERROR_ID, "tags": {"replayId": REPLAY_ID}})),
    )
    batch = one(body)
    assert batch.segments.num_rows == 0 and batch.clicks.num_rows == 0
    assert batch.links.num_rows == 1


def test_transaction_with_replay_is_not_a_link() -> None:
    payload = dumps({"event_id": ERROR_ID, "contexts": {"replay": {"replay_id": REPLAY_ID}}})
    body = envelope({"trace": {"replay_id": REPLAY_ID}}, ({"type": "transaction"}, payload))
    assert one(body).is_empty()


def test_gzip_request_body() -> None:
    batch = one(gzip.compress(replay_envelope()), content_encoding="gzip")
    assert batch.segments.num_rows == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (replay_envelope(), REPLAY_ID),
        (b'{"event_id":"A1B2C3D4-E5F6-4789-A0B1-C2D3E4F5A6B7"}', REPLAY_ID),
        (b'{"sent_at":"2026-01-01T00:00:00Z"}\n{"type":"session"}\n{}', None),
        (b'{"event_id":"nope"}', None),
        (b"garbage", None),
        (b"[1]\n", None),
    ],
    ids=["replay", "dashed", "absent", "not-uuid", "garbage", "not-object"],
)
def test_envelope_event_id(body: bytes, expected: str | None) -> None:
    assert envelope_event_id(body) == expected
    assert envelope_event_id(gzip.compress(body), "gzip") == expected


def test_envelope_event_id_of_a_bad_encoding() -> None:
    assert envelope_event_id(replay_envelope(), "gzip") is None


def _recording_item(payload: bytes) -> bytes:
    return envelope(
        HEADERS,
        ({"type": "replay_event"}, dumps(replay_event())),
        ({"type": "replay_recording", "length": len(payload)}, payload),
    )


BAD: list[tuple[str, bytes, dict[str, Any], str, str, str]] = [
    # (id, body, EnvelopeInput extras, item, field, words in the message)
    ("truncated-length", replay_envelope()[:-5], {}, "item 1", "length", "past the end"),
    ("bad-envelope-header", b"{oops\n", {}, "header", None, "not a JSON object"),
    ("bad-event-json", envelope(HEADERS, ({"type": "replay_event"}, b"{nope")),
     {}, "item 0 (replay_event)", "replay_event", "invalid JSON"),
    ("event-not-object", envelope(HEADERS, ({"type": "replay_event"}, b"[]")),
     {}, "item 0 (replay_event)", "replay_event", "expected a JSON object"),
    ("non-uuid-replay-id", replay_envelope(replay_event(replay_id="123")),
     {}, "item 0 (replay_event)", "replay_id", "not a UUID"),
    ("bad-segment-id", replay_envelope(replay_event(segment_id="zero")),
     {}, "item 0 (replay_event)", "segment_id", "expected an integer"),
    ("wrong-type-urls", replay_envelope(replay_event(urls={"a": 1})),
     {}, "item 0 (replay_event)", "urls", "expected a list"),
    ("wrong-type-user", replay_envelope(replay_event(user=[1])),
     {}, "item 0 (replay_event)", "user", "expected an object"),
    ("bad-zlib", _recording_item(b'{"segment_id":0}\n\x78\x9cnot-zlib'),
     {}, "item 1 (replay_recording)", "recording", "corrupt compressed data"),
    ("truncated-zlib", _recording_item(b'{"segment_id":0}\n' + zlib.compress(b"[]" * 50)[:-6]),
     {}, "item 1 (replay_recording)", "recording", "truncated"),
    ("bomb", _recording_item(b'{"segment_id":0}\n' + zlib.compress(b"[" + b" " * 5000 + b"]")),
     {"limit": 4096}, "item 1 (replay_recording)", "recording", "exceeds the limit of 4096"),
    ("plain-over-limit", _recording_item(b'{"segment_id":0}\n[' + b" " * 5000 + b"]"),
     {"limit": 4096}, "item 1 (replay_recording)", "recording", "exceeds the limit"),
    ("body-bomb", gzip.compress(replay_envelope() + b"\n" * 5000),
     {"content_encoding": "gzip", "limit": 4096}, "", "content-encoding", "exceeds the limit"),
    ("not-rrweb-body", _recording_item(b'{"segment_id":0}\nhello'),
     {}, "item 1 (replay_recording)", "recording", "neither zlib, gzip nor a JSON array"),
    ("rrweb-not-array", _recording_item(b'{"segment_id":0}\n' + zlib.compress(b'{"a":1}')),
     {}, "item 1 (replay_recording)", "recording", "expected a JSON array"),
    ("rrweb-bad-json", _recording_item(b'{"segment_id":0}\n[{"a":'),
     {}, "item 1 (replay_recording)", "recording", "invalid rrweb JSON"),
    ("no-recording-header", _recording_item(b"[]"),
     {}, "item 1 (replay_recording)", "segment_id", "no newline"),
    ("recording-header-junk", _recording_item(b"segment 0\n[]"),
     {}, "item 1 (replay_recording)", "segment_id", "header line is not a JSON object"),
    ("recording-segment-string", _recording_item(b'{"segment_id":"0"}\n[]'),
     {}, "item 1 (replay_recording)", "segment_id", "expected an integer"),
    ("recording-segment-missing", _recording_item(b"{}\n[]"),
     {}, "item 1 (replay_recording)", "segment_id", "required"),
    ("segment-mismatch", _recording_item(b'{"segment_id":1}\n[]'),
     {}, "item 1 (replay_recording)", "segment_id", "!= replay_event segment 0"),
    ("recording-alone-no-id", envelope({}, ({"type": "replay_recording", "length": 19},
                                            b'{"segment_id":0}\n[]')),
     {}, "item 0 (replay_recording)", "event_id", "needs a header event_id"),
    ("two-recordings", envelope(HEADERS, ({"type": "replay_recording"}, b'{"segment_id":0}'),
                                ({"type": "replay_recording"}, b'{"segment_id":0}')),
     {}, "item 1", "type", "at most one replay_recording"),
    ("error-bad-json", envelope(HEADERS, ({"type": "event"}, b"{")),
     {}, "item 0 (event)", "event", "invalid JSON"),
    ("error-bad-event-id", _error(tags={"replayId": REPLAY_ID}, event_id="e"),
     {}, "item 0 (event)", "event_id", "not a UUID"),
    ("error-bad-timestamp", _error(tags={"replayId": REPLAY_ID}, timestamp={}),
     {}, "item 0 (event)", "timestamp", "expected a number"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "extras", "item", "field", "words"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_malformed_input(
    body: bytes, extras: dict[str, Any], item: str, field: str | None, words: str
) -> None:
    limit = extras.pop("limit", 10_000_000)
    good = EnvelopeInput(replay_envelope(), project_id=5, name="good.envelope")
    bad = EnvelopeInput(body, project_id=5, name="bad.envelope", **extras)
    with pytest.raises(IngestError) as caught:
        build_batch([good, bad], max_decompressed=limit)
    error = caught.value
    assert error.item == f"envelope 'bad.envelope' {item}".rstrip()
    assert error.field == field
    assert str(error).startswith(error.item + ":")
    assert words in str(error)
    if field is not None:
        assert field in str(error)


@pytest.mark.parametrize(
    ("transaction", "kept"),
    [("/checkout", "/checkout"), (None, ""), (7, "7"), ("x" * 300, "x" * 200)],
)
def test_error_links_keep_the_events_transaction(transaction: Any, kept: str) -> None:
    """replay-count's `transaction:[...]` counts replays by it (issue 14)."""
    extra = {} if transaction is None else {"transaction": transaction}
    (row,) = one(_error(tags=TAG, **extra)).links.to_pylist()
    assert row["transaction"] == kept
