"""Ingest limits: Relay's clock bounds, the decoding limits (each a 4xx with a detail, counted),
the shared budget, and the capped first line read for a tunnel's key."""

from __future__ import annotations

import gzip
import threading
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from replaystore.errors import ApiError, IngestError
from replaystore.ingest import EnvelopeInput, build_batch, limits
from replaystore.ingest.clock import MAX_IN_FUTURE, MAX_IN_PAST
from replaystore.ingest.inflate import first_line
from replaystore.metrics import REGISTRY
from tests.ingest.builders import (
    REPLAY_ID,
    T0,
    breadcrumb,
    dumps,
    envelope,
    node,
    replay_envelope,
    replay_event,
)

RECEIVED = datetime.fromtimestamp(T0, UTC)


def _batch(body: bytes, *, live: bool = True):
    return build_batch([EnvelopeInput(body, project_id=1, received=RECEIVED, live=live)])


def _segment(batch) -> dict:
    return batch.segments.to_pylist()[0]


@pytest.mark.parametrize(
    ("offset", "kept"),
    [
        (timedelta(0), True),
        (MAX_IN_FUTURE - timedelta(seconds=1), True),
        (MAX_IN_FUTURE + timedelta(seconds=1), False),
        (-MAX_IN_PAST + timedelta(minutes=1), True),
        (-MAX_IN_PAST - timedelta(minutes=1), False),
        (timedelta(days=4 * 365), False),  # the hide attack: a replay dated years ahead
    ],
)
def test_live_timestamps_outside_relays_bounds_become_the_receive_time(
    offset: timedelta, kept: bool
) -> None:
    moment = (RECEIVED + offset).timestamp()
    event = replay_event(timestamp=moment, replay_start_timestamp=moment)
    row = _segment(_batch(replay_envelope(event)))
    expected = RECEIVED + offset if kept else RECEIVED
    assert abs(row["timestamp"] - expected) < timedelta(milliseconds=1)
    assert abs(row["replay_start_timestamp"] - expected) < timedelta(milliseconds=1)
    assert row["month"] == expected.strftime("%Y-%m")


def test_imported_envelopes_keep_their_timestamps() -> None:
    far = RECEIVED + timedelta(days=1000)
    event = replay_event(timestamp=far.timestamp())
    row = _segment(_batch(replay_envelope(event), live=False))
    assert abs(row["timestamp"] - far) < timedelta(milliseconds=1)


def test_live_clicks_outside_the_bounds_are_dropped_and_error_times_clamped() -> None:
    near, far = T0 + 2, T0 + 10 * 86400
    events = [breadcrumb("ui.click", near, node(4)), breadcrumb("ui.click", far, node(5))]
    batch = _batch(replay_envelope(events=events))
    assert [c["node_id"] for c in batch.clicks.to_pylist()] == [4]
    error = {"event_id": "0" * 31 + "1", "timestamp": far, "level": "error"}
    error["contexts"] = {"replay": {"replay_id": REPLAY_ID}}
    links = _batch(envelope({"event_id": error["event_id"]}, ({"type": "event"}, dumps(error))))
    assert links.links.to_pylist()[0]["timestamp"] == RECEIVED


def _refused(reason: str) -> float:
    for line in generate_latest(REGISTRY).decode().splitlines():
        if line.startswith(f'replaystore_ingest_refused_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _recording_envelope(body: bytes) -> bytes:
    payload = b'{"segment_id":0}\n' + body
    return envelope(
        {"event_id": REPLAY_ID},
        ({"type": "replay_event"}, dumps(replay_event())),
        ({"type": "replay_recording", "length": len(payload)}, payload),
    )


@pytest.mark.parametrize(
    ("reason", "body", "status", "words"),
    [
        ("rrweb_events", b"[" + b"0," * limits.MAX_RRWEB_EVENTS + b"0]", 413, "rrweb events"),
        ("json_values", zlib.compress(b"[" + b"{}," * limits.MAX_JSON_VALUES + b"{}]"), 413,
         "JSON values"),
        ("json_depth", zlib.compress(b"[" * 5000 + b"]" * 5000), 400, "nested deeper"),
        ("decompressed_size", zlib.compress(b" " * (21 * 1024 * 1024)), 413, "exceeds the limit"),
    ],
)  # fmt: skip
def test_each_decoding_limit_is_a_clear_4xx_and_counted(
    reason: str, body: bytes, status: int, words: str
) -> None:
    before = _refused(reason)
    with pytest.raises(IngestError) as raised:
        _batch(_recording_envelope(body))
    assert raised.value.status == status
    assert words in raised.value.detail and "item 1 (replay_recording)" in raised.value.detail
    assert _refused(reason) == before + 1


def test_a_huge_header_line_is_refused() -> None:
    body = dumps({"event_id": REPLAY_ID, "pad": "x" * limits.MAX_HEADER_LINE}) + b"\n"
    with pytest.raises(IngestError) as raised:
        _batch(body)
    assert raised.value.status == 413 and "header line" in raised.value.detail


def test_the_first_line_is_read_without_inflating_the_rest() -> None:
    head = dumps({"dsn": "http://key@host/1"})
    body = gzip.compress(head + b"\n" + b"0" * (50 * 1024 * 1024))
    assert first_line(body, "gzip", 1024) == head
    assert first_line(gzip.compress(b"x" * 5000 + b"\n"), "gzip", 1024) is None
    assert first_line(head + b"\nrest", None, 1024) == head
    assert first_line(b"\x1f\x8bgarbage", "gzip", 1024) is None


def test_the_budget_makes_requests_wait_then_answers_429() -> None:
    budget = limits.Budget(capacity=100, wait=0.3)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with budget.hold(80):
            holding.set()
            release.wait(10)

    first = threading.Thread(target=hold)
    first.start()
    assert holding.wait(10)
    with pytest.raises(ApiError) as raised, budget.hold(50):
        pass
    assert raised.value.status == 429
    waited = threading.Timer(0.1, release.set)
    waited.start()
    with budget.hold(50):  # waits for the first request instead of failing
        limits.charge(10)
        assert budget.used == 60
    first.join()
    assert budget.used == 0
