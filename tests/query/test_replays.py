"""get_replay and list_replays over hand-made summary rows (payload unpacked as stored)."""

from __future__ import annotations

from datetime import timedelta

from replaystore.query import replays
from replaystore.query.common import Page, Window
from tests.query.duck import T0, DuckExecutor

WINDOW = Window(T0 - timedelta(days=1), T0 + timedelta(days=1))
SHARED = "ab" * 16

ENGINE = DuckExecutor(
    replays=[
        {
            "project_id": 2,
            "replay_id": SHARED,
            "started_at": T0 + timedelta(minutes=5),
            "finished_at": T0 + timedelta(minutes=6),
            "urls": ["/later"],
        },
        {
            "project_id": 1,
            "replay_id": SHARED,
            "started_at": T0,
            "finished_at": T0 + timedelta(minutes=1),
            "urls": ["/earlier"],
            "user_email": "é@example.com",
            "tags": [{"key": "plan", "value": "free"}],
        },
    ]
)


def test_the_same_id_in_two_projects_answers_the_earliest() -> None:
    found = replays.get_replay(ENGINE, SHARED, project_ids=[1, 2], window=WINDOW)
    assert found is not None
    assert (found["project_id"], found["urls"]) == ("1", ["/earlier"])
    assert found["user"]["email"] == "é@example.com"
    assert found["tags"] == {"plan": ["free"]}
    assert found["started_at"] == "2026-01-10T12:00:00.000000+00:00"


def test_only_the_allowed_project_is_fetched() -> None:
    found = replays.get_replay(ENGINE, SHARED, project_ids=[2], window=WINDOW)
    assert found is not None and found["urls"] == ["/later"]
    assert replays.get_replay(ENGINE, SHARED, project_ids=[3], window=WINDOW) is None


def test_fields_restrict_the_fetched_object() -> None:
    found = replays.get_replay(ENGINE, SHARED, project_ids=[1], window=WINDOW, fields=["id"])
    assert found == {"id": SHARED}


def test_list_shapes_rows_from_the_payload() -> None:
    page = replays.list_replays(ENGINE, project_ids=[1, 2], window=WINDOW, page=Page(0, 1))
    assert [r["urls"] for r in page.items] == [["/later"]] and page.has_more
