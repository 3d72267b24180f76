"""Acceptance: the real SDK 11.12.0 capture, ingested from the JSONL and from the envelope files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from replaystore.ingest import EnvelopeInput, build_batch, export_jsonl, parse_jsonl
from replaystore.ingest.capture import capture_inputs, write_envelope_files
from replaystore.storage.batch import WriteBatch

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = Path("/work/shared/fixtures/sdk-capture-11.12.0.jsonl")
FILES = ROOT / "data" / "fixtures" / "sdk-capture"
REPLAY_ID = "dd6eede9d2ae4e18aa22002dfdfbb9e3"
ERROR_ID = "1ddbdea540664f5c9969a9b86cbe6951"
RECEIVED = datetime(2026, 11, 26, 7, 32, tzinfo=UTC)
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36"
)


def _from_capture() -> list[EnvelopeInput]:
    if not CAPTURE.exists():
        pytest.skip("shared capture not present")
    return [EnvelopeInput(**{**e.__dict__, "received": RECEIVED}) for e in capture_inputs(CAPTURE)]


def _from_files() -> list[EnvelopeInput]:
    return [
        EnvelopeInput(
            body=path.read_bytes(),
            project_id=42,
            client_ip="127.0.0.1",
            user_agent=UA,
            received=RECEIVED,
            name=path.name,
        )
        for path in sorted(FILES.glob("*.envelope"))
    ]


@pytest.fixture(params=["capture-jsonl", "envelope-files"])
def batch(request: pytest.FixtureRequest) -> WriteBatch:
    inputs = _from_capture() if request.param == "capture-jsonl" else _from_files()
    assert len(inputs) == 8
    return build_batch(inputs)


def test_segment_rows_of_one_replay(batch: WriteBatch) -> None:
    rows = batch.segments.to_pylist()
    assert {(r["project_id"], r["replay_id"]) for r in rows} == {(42, REPLAY_ID)}
    assert sorted(r["segment_id"] for r in rows) == [0, 1, 2, 3, 4]
    assert all(r["has_blob"] for r in rows)
    assert {r["month"] for r in rows} == {"2026-11"}


def test_segment_zero_is_normalised(batch: WriteBatch) -> None:
    (first,) = [r for r in batch.segments.to_pylist() if r["segment_id"] == 0]
    expected = {
        "browser_name": "Chrome",
        "browser_version": "156.0.0",
        "os_name": "Linux",
        "device_family": "",
        "urls": ["http://127.0.0.1:8001/index.html"],
        "user_id": "user-1",
        "user_email": "u1@example.com",
        "user_ip": "127.0.0.1",
        "environment": "capture-test",
        "release": "capture@1.0.0",
        "platform": "javascript",
        "replay_type": "session",
        "sdk_name": "sentry.javascript.browser",
        "sdk_version": "11.12.0",
        "received": RECEIVED,
        "timestamp": datetime(2026, 11, 26, 7, 30, 57, 13000, tzinfo=UTC),
        "replay_start_timestamp": datetime(2026, 11, 26, 7, 30, 56, 164300, tzinfo=UTC),
    }
    assert {key: first[key] for key in expected} == expected


def test_exactly_one_error_id(batch: WriteBatch) -> None:
    links = batch.links.to_pylist()
    assert [(r["replay_id"], r["event_id"], r["level"]) for r in links] == [
        (REPLAY_ID, ERROR_ID, "error")
    ]
    from_segments = {i for r in batch.segments.to_pylist() for i in r["error_ids"]}
    assert from_segments | {r["event_id"] for r in links} == {ERROR_ID}


def test_three_clicks_after_dedup(batch: WriteBatch) -> None:
    clicks = sorted(batch.clicks.to_pylist(), key=lambda r: r["timestamp"])
    summary = [(r["id"], r["is_dead"], r["is_rage"], r["segment_id"]) for r in clicks]
    assert summary == [
        ("ok-btn", False, False, 1),
        ("dead-btn", True, False, 3),
        ("rage-btn", True, True, 4),
    ]
    ok = clicks[0]
    assert ok["class"] == ["btn", "btn-primary"]
    assert ok["testid"] == "ok-button"
    assert ok["component_name"] == "ConfirmButton"
    assert ok["timestamp"] == datetime(2026, 11, 26, 7, 30, 58, 133000, tzinfo=UTC)
    assert {r["environment"] for r in clicks} == {"capture-test"}


def test_blobs_keep_the_bytes_as_received(batch: WriteBatch) -> None:
    assert sorted(b.segment_id for b in batch.blobs) == [0, 1, 2, 3, 4]
    assert all(b.data[:2] == b"\x78\x9c" for b in batch.blobs)


def test_twice_in_one_batch_equals_once() -> None:
    once = build_batch(_from_capture())
    twice = build_batch(_from_capture() + _from_capture())
    for name, table in once.tables().items():
        assert twice.tables()[name].to_pylist() == table.to_pylist(), name
    assert twice.blobs == once.blobs


def test_jsonl_export_round_trip() -> None:
    once = build_batch(_from_capture())
    again = parse_jsonl(export_jsonl(_from_capture()), name="capture.jsonl")
    for name, table in once.tables().items():
        assert again.tables()[name].to_pylist() == table.to_pylist(), name
    assert again.blobs == once.blobs


def test_files_match_the_capture(tmp_path: Path) -> None:
    if not CAPTURE.exists():
        pytest.skip("shared capture not present")
    written = write_envelope_files(CAPTURE, tmp_path)
    assert [p.name for p in written] == sorted(p.name for p in FILES.glob("*.envelope"))
    for path in written:
        assert path.read_bytes() == (FILES / path.name).read_bytes()
