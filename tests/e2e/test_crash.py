"""An envelope answered 200 survives a crash. The server is SIGKILLed right after the
last 200 and restarted; every acknowledged segment is then served exactly once."""

from __future__ import annotations

import base64
import itertools
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from replaystore.fixtures import PROJECTS, generate
from tests.e2e.harness import Server, cli, poll, request

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e")]

CAPTURE = Path("/work/shared/fixtures/sdk-capture-11.12.0.jsonl")
CAPTURE_PROJECT = ("capture", "sdk", 42, "abc123publickey")


def _capture_requests() -> list[tuple[str, bytes]]:
    lines = CAPTURE.read_bytes().splitlines()
    requests = [orjson.loads(line) for line in lines if line.strip()]
    return [(r["path"], base64.b64decode(r["body_b64"])) for r in requests if r["method"] == "POST"]


def _fixture_requests() -> list[tuple[str, bytes]]:
    keys = {p.id: p.dsn_key for p in PROJECTS}
    return [
        (f"/api/{e.project_id}/envelope/?sentry_key={keys[e.project_id]}", e.body)
        for e in generate(datetime.now(UTC), replays=15)
    ]


def _replay_segment(body: bytes) -> tuple[str, int] | None:
    """(replay_id, segment_id) of a replay envelope: the line after its replay_event header."""
    lines = body.split(b"\n")
    for header, payload in itertools.pairwise(lines[1:]):
        try:
            if orjson.loads(header).get("type") == "replay_event":
                event = orjson.loads(payload)
                return event["replay_id"], event["segment_id"]
        except (orjson.JSONDecodeError, AttributeError):
            continue
    return None


def _register_projects(data: Path) -> dict[int, tuple[str, str]]:
    """Every fixture project plus the capture's; their (org, slug) by project id."""
    projects = [(p.org, p.slug, p.id, p.dsn_key) for p in PROJECTS] + [CAPTURE_PROJECT]
    for org, slug, project_id, key in projects:
        args = ["--org", org, "--slug", slug, "--id", str(project_id), "--dsn-key", key]
        cli("project", "add", "--data", str(data), *args)
    return {project_id: (org, slug) for org, slug, project_id, _ in projects}


def _post(server: Server, path: str, body: bytes) -> int:
    return request(server.base + path, method="POST", body=body).status


def _segment_ids(server: Server, org: str, slug: str, replay_id: str) -> list[int] | None:
    path = f"/api/0/projects/{org}/{slug}/replays/{replay_id}/recording-segments/?per_page=100"
    answer = server.get(path)
    if answer.status != 200:
        return None
    return [row["segmentId"] for row in answer.json()["data"]]


def _served_segments(
    server: Server, org: str, slug: str, replay_id: str, segments: set[int]
) -> list[int] | None:
    """The replay's served segment ids once they include `segments`; None if they never do."""

    def check() -> list[int] | None:
        ids = _segment_ids(server, org, slug, replay_id)
        return ids if ids and set(ids) >= segments else None

    return poll(check)


def test_sigkill_right_after_the_200_loses_no_acknowledged_segment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    projects = _register_projects(data)
    posts = _capture_requests() + _fixture_requests()
    server = Server(data)
    server.start()
    try:
        # Concurrent posters, as a browser fleet would be; each 200 is an acknowledgement.
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda post: _post(server, *post), posts))
        server.kill()
        assert set(statuses) == {200}

        expected: dict[tuple[int, str], set[int]] = {}
        for path, body in posts:
            found = _replay_segment(body)
            if found:
                project_id = int(urllib.parse.urlsplit(path).path.split("/")[2])
                expected.setdefault((project_id, found[0]), set()).add(found[1])
        assert len(expected) == 16  # the capture's replay and 15 generated ones

        server.start()
        for (project_id, replay_id), segments in sorted(expected.items()):
            ids = _served_segments(server, *projects[project_id], replay_id, segments)
            assert ids is not None, (project_id, replay_id)
            assert sorted(ids) == sorted(segments), (project_id, replay_id)
    finally:
        server.stop()
