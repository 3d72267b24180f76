"""The Python facade answers every endpoint's data without a server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import replaystore
from replaystore.errors import ApiError, NotFound, SearchError

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = sorted((ROOT / "data" / "fixtures" / "sdk-capture").glob("*.envelope"))
CAPTURE_REPLAY = "dd6eede9d2ae4e18aa22002dfdfbb9e3"
WINDOW = {"start": "2026-10-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = replaystore.open(tmp_path_factory.mktemp("facade"))
    store.ingest_files(CAPTURE, project_id=42)
    store.ingest_files(sorted((ROOT / "data/fixtures/envelopes").glob("*.envelope"))[:120])
    return store


def test_list_search_sort_and_page(store):
    everything = store.list_replays(limit=100, **WINDOW)
    assert len(everything) > 20
    started = [r["started_at"] for r in everything]
    assert started == sorted(started, reverse=True)
    chrome = store.list_replays("browser.name:Chrome", limit=100, **WINDOW)
    assert chrome and all(r["browser"]["name"] == "Chrome" for r in chrome)
    assert len(chrome) < len(everything)
    first, second = (store.list_replays(limit=5, offset=o, **WINDOW) for o in (0, 5))
    assert [r["id"] for r in first + second] == [r["id"] for r in everything[:10]]
    only = store.list_replays(fields=["id", "count_errors"], limit=3, **WINDOW)
    assert all(set(r) == {"id", "count_errors"} for r in only)
    assert store.list_replays(projects=[42], **WINDOW)[0]["id"] == CAPTURE_REPLAY


def test_single_replay_routes(store):
    replay = store.get_replay(CAPTURE_REPLAY)
    assert replay["user"]["id"] == "user-1" and replay["count_rage_clicks"] == 1
    assert store.get_replay("not-a-uuid") is None
    assert store.get_replay("0" * 32) is None
    segments = store.recording_segments(42, CAPTURE_REPLAY)
    assert [s["segmentId"] for s in segments] == [0, 1, 2, 3, 4]
    rrweb = orjson.loads(store.recording(42, CAPTURE_REPLAY, 0))
    assert any(event["type"] == 2 for event in rrweb)  # a full snapshot
    rage = store.clicks(42, CAPTURE_REPLAY, "rage.selector:button")
    assert len(rage) == 1 and isinstance(rage[0]["timestamp"], int)
    assert len(store.clicks(42, CAPTURE_REPLAY)) == 3
    with pytest.raises(NotFound):
        store.clicks(42, "../../etc/passwd")


def test_tags(store):
    keys = [k["key"] for k in store.tag_keys(stats_period="90d")]
    assert {"plan", "locale"} <= set(keys)
    values = store.tag_values("plan", stats_period="90d")
    assert (
        values
        and sum(v["count"] for v in values) >= len(store.list_replays(limit=100, **WINDOW)) - 1
    )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.list_replays("count_errors:>abc", **WINDOW), SearchError),
        (lambda s: s.list_replays(sort="nope", **WINDOW), SearchError),
        (lambda s: s.list_replays(stats_period="7x"), ApiError),
        (lambda s: s.list_replays(start="2026-11-02T00:00:00Z"), ApiError),
    ],
)
def test_bad_input_raises_a_clear_error(store, call, error):
    with pytest.raises(error) as raised:
        call(store)
    assert raised.value.status == 400 and raised.value.detail
