"""Tag keys/values and recording segments over hand-made rows."""

from __future__ import annotations

import gzip
import zlib
from datetime import timedelta

import pytest

from replaystore.errors import QueryError
from replaystore.query import segments, tags
from replaystore.query.common import Page, Window
from tests.query.duck import T0, DuckExecutor

WINDOW = Window(T0 - timedelta(days=1), T0 + timedelta(days=1))


def _replay(n: int, **extra) -> dict:
    return {
        "project_id": 1,
        "replay_id": f"{n:032x}",
        "started_at": T0 + timedelta(minutes=n),
        "finished_at": T0 + timedelta(minutes=n, seconds=30),
    } | extra


ENGINE = DuckExecutor(
    replays=[
        _replay(1, tags=[{"key": "plan", "value": "free"}], browser_name="Chrome"),
        _replay(2, tags=[{"key": "plan", "value": "team"}, {"key": "a", "value": "x"}]),
        _replay(3, tags=[{"key": "plan", "value": "team"}], releases=["1.0", "2.0"], urls=["/a"]),
        # one key with two values and a page visited twice: each counts this replay once
        _replay(
            0,
            tags=[{"key": "plan", "value": "free"}, {"key": "plan", "value": "team"}],
            urls=["/a", "/b", "/a"],
        ),
        _replay(4, tags=[{"key": "gone", "value": "x"}], is_archived=True),
        _replay(5, project_id=2, tags=[{"key": "other", "value": "x"}]),
    ],
    segments=[
        {"project_id": 1, "replay_id": "f" * 32, "segment_id": s, "timestamp": T0, "received": T0}
        for s in (2, 0, 1)
    ],
    archives=[{"project_id": 1, "replay_id": "e" * 32, "timestamp": T0}],
)


def test_tag_keys_most_used_first() -> None:
    result = tags.tag_keys(ENGINE, project_ids=[1], window=WINDOW)
    assert result.items == [
        {"key": "plan", "name": "Plan", "totalValues": 4},
        {"key": "a", "name": "A", "totalValues": 1},
    ]
    assert tags.tag_keys(ENGINE, project_ids=[1], window=WINDOW, page=Page(0, 1)).has_more


@pytest.mark.parametrize(
    ("key", "kwargs", "expected"),
    [
        ("plan", {}, [("team", 3), ("free", 2)]),
        ("plan", {"sort": "-count"}, [("team", 3), ("free", 2)]),
        ("plan", {"query": "FR"}, [("free", 2)]),
        ("tags[plan]", {"query": "ea"}, [("team", 3)]),
        ("url", {}, [("/a", 2), ("/b", 1)]),
        ("browser.name", {}, [("Chrome", 1)]),
        ("release", {}, [("1.0", 1), ("2.0", 1)]),
        ("gone", {}, []),
        ("replay_id", {}, []),
    ],
)
def test_tag_values(key: str, kwargs: dict, expected: list) -> None:
    result = tags.tag_values(ENGINE, key, project_ids=[1], window=WINDOW, **kwargs)
    assert [(i["value"], i["count"]) for i in result.items] == expected
    for item in result.items:
        assert set(item) == {"key", "name", "value", "count", "lastSeen", "firstSeen"}
        assert item["lastSeen"].endswith("+00:00")


@pytest.mark.parametrize(
    ("key", "sort", "detail"),
    [
        ("bad key!", "-count", 'Invalid tag key format for "bad key!"'),
        ("plan", "count", "Invalid sort parameter. Please use one of: -last_seen or -count"),
    ],
)
def test_tag_value_errors(key: str, sort: str, detail: str) -> None:
    with pytest.raises(QueryError) as caught:
        tags.tag_values(ENGINE, key, project_ids=[1], window=WINDOW, sort=sort)
    assert caught.value.detail == detail


def test_segments_ordered_and_paged() -> None:
    result = segments.list_segments(ENGINE, 1, "f" * 32, window=WINDOW, page=Page(1, 1))
    assert [i["segmentId"] for i in result.items] == [1]
    assert result.has_more
    assert result.items[0] == {
        "replayId": "f" * 32,
        "segmentId": 1,
        "projectId": "1",
        "dateAdded": "2026-01-10T12:00:00.000000+00:00",
    }
    assert segments.list_segments(ENGINE, 2, "f" * 32, window=WINDOW).items == []
    assert segments.get_segment(ENGINE, 1, "f" * 32, 2, window=WINDOW)["segmentId"] == 2
    assert segments.get_segment(ENGINE, 1, "f" * 32, 9, window=WINDOW) is None


class Blobs:
    def __init__(self, blobs: dict[int, bytes]) -> None:
        self.blobs = blobs

    def read_blob(self, project_id: int, replay_id: str, segment_id: int) -> bytes | None:
        return self.blobs.get(segment_id)


def test_stream_decompresses_every_form() -> None:
    blobs = Blobs({0: zlib.compress(b'[{"a":0}]'), 1: gzip.compress(b'[{"a":1}]'), 2: b"[2]"})
    body = b"".join(segments.stream_segments(blobs, 1, "f" * 32, [0, 1, 2, 3]))
    assert body == b'[[{"a":0}],[{"a":1}],[2],[]]'
    assert b"".join(segments.stream_segments(blobs, 1, "f" * 32, [])) == b"[]"
    assert segments.segment_json(Blobs({0: b"\x78\x9cgarbage"}), 1, "f" * 32, 0) == b"[]"
