"""The public ingest endpoint under attack (issue 18): a DSN key cannot rewrite or hide a
stored replay, and no request makes the server hold much more memory than its own size.

Memory is measured with tracemalloc around one request to the server running in this process
(every Python allocation of every thread, decompressed buffers and decoded JSON included).
"""

from __future__ import annotations

import functools
import gzip
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa
import pytest
from prometheus_client import generate_latest

from replaystore.fields import schema
from replaystore.metrics import REGISTRY
from replaystore.server import make_app
from replaystore.storage.batch import Blob, WriteBatch
from replaystore.storage.store import Store
from tests.conftest import BASE, ReplaySpec, build_store, rid, serving
from tests.robustness.conftest import Live
from tests.robustness.envelopes import frame, replay_event
from tests.robustness.wire import Wire, check_answer

# The target replay starts on the last day of the previous month, so "now" is another month.
_MONTH_START = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
TARGET = ReplaySpec(70, start=_MONTH_START - timedelta(hours=12) - BASE, segments=3)
BOMB_TARGET = ReplaySpec(71, start=timedelta(hours=1), segments=1)
KEY = "/api/1/envelope/?sentry_key=webkey"
REPLAY = f"/api/0/projects/acme/web/replays/{TARGET.replay_id}/"
# Far more than any of these requests may cost, far less than what the attacks cost before.
CEILING = 48 * 1024 * 1024


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    store = build_store(tmp_path_factory.mktemp("attacked") / "data", (TARGET, BOMB_TARGET))
    app = make_app(str(store.path))
    with serving(app) as base:
        yield Live(store, app, base, Wire(base, store.tokens["acme"]))


def _segment(replay_id: str, segment_id: int, when: float, **changes: object) -> bytes:
    event = replay_event(replay_id, segment_id, when) | changes
    events = [{"type": 4, "data": {"href": "https://evil.test/"}, "timestamp": int(when * 1000)}]
    recording = (
        orjson.dumps({"segment_id": segment_id}) + b"\n" + zlib.compress(orjson.dumps(events))
    )
    return frame(
        {"event_id": replay_id},
        [
            ({"type": "replay_event"}, orjson.dumps(event)),
            ({"type": "replay_recording", "length": len(recording)}, recording),
        ],
    )


def _post(live: Live, body: bytes, headers: dict[str, str] | None = None, path: str = KEY):
    return live.wire.request("POST", path, body=body, headers=headers or {}, token="")


def _state(live: Live) -> tuple:
    found = live.wire.get(REPLAY)
    assert found.status == 200, found.body
    data = found.json()["data"]
    segments = live.wire.get(f"{REPLAY}recording-segments/")
    ids = [s["segmentId"] for s in segments.json()["data"]]
    return data["count_segments"], data["user"]["email"], data["urls"], data["started_at"], ids


def _listed(live: Live) -> bool:
    page = live.wire.get("/api/0/organizations/acme/replays/?statsPeriod=90d&per_page=100")
    return TARGET.replay_id in [r["id"] for r in page.json()["data"]]


def test_segment_zero_from_another_month_cannot_rewrite_a_replay(attacked: Live) -> None:
    before = _state(attacked)
    assert before[0] == 3 and before[4] == [0, 1, 2]
    evil = {"user": {"email": "mallory@evil.test"}, "urls": ["https://evil.test/"]}
    answer = _post(attacked, _segment(TARGET.replay_id, 0, time.time(), **evil))
    check_answer(answer)
    assert attacked.app.api.ingest.flush(timeout=60)
    assert _state(attacked) == before


def test_timestamps_in_2030_cannot_hide_a_replay(attacked: Live) -> None:
    before = _state(attacked)
    future = datetime(2030, 6, 1, tzinfo=UTC).timestamp()
    for segment_id in (0, 3):
        body = _segment(TARGET.replay_id, segment_id, future, replay_start_timestamp=future)
        check_answer(_post(attacked, body))
    assert attacked.app.api.ingest.flush(timeout=60)
    assert _state(attacked) == before
    assert _listed(attacked)


def _peak(action: Callable[[], object]) -> int:
    """The peak of traced Python memory while `action` runs, above what it started with."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


@functools.cache
def _huge_first_line() -> bytes:
    """A gzip body whose first line is a 40 MB JSON array (a few tens of kB on the wire)."""
    return gzip.compress(b"[" + b"0," * 20_000_000 + b"0]\n", compresslevel=9)


def test_no_key_means_nothing_is_decompressed(attacked: Live) -> None:
    body = _huge_first_line()
    path = "/api/1/envelope/"
    answers = []
    peak = _peak(lambda: answers.append(_post(attacked, body, {"Content-Encoding": "gzip"}, path)))
    assert answers[0].status == 401, answers[0].body
    assert peak < CEILING, peak


def test_a_wrong_key_is_refused_before_the_body_is_read(attacked: Live) -> None:
    body = _huge_first_line()
    answers = []
    path = "/api/1/envelope/?sentry_key=nosuchkey"
    peak = _peak(lambda: answers.append(_post(attacked, body, {"Content-Encoding": "gzip"}, path)))
    assert answers[0].status == 401, answers[0].body
    assert peak < CEILING, peak


def test_a_tunnel_key_is_read_from_a_capped_first_line(attacked: Live) -> None:
    answers = []
    body = _huge_first_line()
    peak = _peak(
        lambda: answers.append(
            _post(attacked, body, {"Content-Encoding": "gzip"}, "/api/1/envelope/")
        )
    )
    assert answers[0].status in (400, 401, 413), answers[0].body
    assert peak < CEILING, peak
    # A genuine tunnel envelope (key in the header's dsn) still works.
    replay_id = rid(7001)
    event = orjson.dumps(replay_event(replay_id, 0, time.time()))
    headers = {"event_id": replay_id, "dsn": "http://webkey@relay.test/1"}
    tunnel = gzip.compress(frame(headers, [({"type": "replay_event"}, event)]))
    answer = _post(attacked, tunnel, {"Content-Encoding": "gzip"}, "/api/1/envelope/")
    assert answer.status == 200, answer.body


def _empty_objects_recording(count: int) -> bytes:
    """A zlib rrweb body `[{},{},...]`: ~100 kB compressed, tens of MB of Python objects."""
    return zlib.compress(b"[" + b"{}," * count + b"{}]", 9)


def _refusals() -> float:
    text = generate_latest(REGISTRY).decode()
    lines = [ln for ln in text.splitlines() if ln.startswith("replaystore_ingest_refused_total{")]
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in lines)


def test_a_recording_of_millions_of_objects_is_refused_cheaply(attacked: Live) -> None:
    replay_id = BOMB_TARGET.replay_id
    recording = b'{"segment_id":1}\n' + _empty_objects_recording(3_000_000)
    body = frame(
        {"event_id": replay_id},
        [({"type": "replay_recording", "length": len(recording)}, recording)],
    )
    before = _refusals()
    answers = []
    peak = _peak(lambda: answers.append(_post(attacked, body)))
    check_answer(answers[0])
    assert answers[0].status in (400, 413), answers[0].body
    assert b"limit" in answers[0].body
    assert peak < CEILING, peak
    assert _refusals() == before + 1


def test_downloads_stream_with_bounded_memory(attacked: Live) -> None:
    """A stored blob that inflates to 64 MB (stored before the limits, or by `ingest`)."""
    spec = ReplaySpec(72, start=timedelta(hours=2))
    huge = zlib.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", 9)
    row = {f.name: None for f in schema.SEGMENTS}
    ts = spec.started_at
    row |= {
        "project_id": 1, "replay_id": spec.replay_id, "segment_id": 0, "timestamp": ts,
        "replay_start_timestamp": ts, "received": ts, "urls": [], "error_ids": [],
        "trace_ids": [], "tags_key": [], "tags_value": [], "has_blob": True,
        "month": ts.strftime("%Y-%m"),
    }  # fmt: skip
    empty = {t: pa.Table.from_pylist([], schema=schema.TABLES[t]) for t in ("clicks", "links")}
    batch = WriteBatch(
        segments=pa.Table.from_pylist([row], schema=schema.SEGMENTS),
        blobs=[Blob(1, spec.replay_id, 0, huge)],
        **empty,
    )
    attacked.app.api.ingest.flush(timeout=60)
    Store.write(attacked.app.store, batch)
    base = f"/api/0/projects/acme/web/replays/{spec.replay_id}/recording-segments/"
    for path in (f"{base}?download", f"{base}0/?download"):
        sizes: list[int] = []
        peak = _peak(lambda p=path, s=sizes: s.append(_read_streamed(attacked, p)))
        assert sizes[0] >= 64 * 1024 * 1024, (path, sizes)
        assert peak < CEILING, (path, peak)


def _read_streamed(live: Live, path: str) -> int:
    import http.client

    con = http.client.HTTPConnection(live.wire.host, live.wire.port, timeout=60)
    try:
        con.request("GET", path, headers={"Authorization": f"Bearer {live.wire.token}"})
        response = con.getresponse()
        assert response.status == 200, response.read()[:300]
        total = 0
        while chunk := response.read(64 * 1024):
            total += len(chunk)
        return total
    finally:
        con.close()
