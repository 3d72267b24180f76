"""A real Sentry browser SDK (npm @sentry/browser) in headless Debian chromium records a replay
into a real `replaystore serve`; the Replays API then answers for it.

Needs `tests/e2e/setup.sh` (run by `make test`): a missing chromium or bundle fails, never skips.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import DIST_DIR, E2E_DIR, PAGE_DIR, Server, cli, poll, static_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e")]

ORG, SLUG, PROJECT_ID, DSN_KEY = "e2e", "shop", 42, "e2ebrowserkey0000000000000000042"
USER_ID, RELEASE, ENVIRONMENT = "shopper-7", "shop@2.4.1", "e2e-test"
CHROMIUM = Path("/usr/bin/chromium")
DRIVER_TIMEOUT = 240


@dataclass(frozen=True)
class Recorded:
    server: Server
    replay_id: str
    error_id: str
    user_agent: str
    page_url: str
    envelopes: list[dict[str, Any]]

    def details(self) -> dict[str, Any]:
        path = f"/api/0/projects/{ORG}/{SLUG}/replays/{self.replay_id}/"
        return self.server.get_json(path)["data"]

    def search(self, query: str) -> list[str]:
        params = urllib.parse.urlencode({"query": query, "statsPeriod": "1d"})
        answer = self.server.get_json(f"/api/0/organizations/{ORG}/replays/?{params}")
        return [row["id"] for row in answer["data"]]


def _run_browser(site: str, server: Server, user_data_dir: Path) -> dict[str, Any]:
    config = {
        "pageUrl": f"{site}/index.html",
        "dsn": f"http://{DSN_KEY}@127.0.0.1:{server.port}/{PROJECT_ID}",
        "userId": USER_ID,
        "release": RELEASE,
        "environment": ENVIRONMENT,
        "userDataDir": str(user_data_dir),
    }
    run = subprocess.run(
        ["node", "drive.mjs", json.dumps(config)],
        cwd=E2E_DIR,
        capture_output=True,
        text=True,
        timeout=DRIVER_TIMEOUT,
    )
    assert run.returncode == 0, f"driver failed:\n{run.stdout}\n{run.stderr}"
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    assert CHROMIUM.exists(), "chromium is missing: run tests/e2e/setup.sh"
    assert (DIST_DIR / "app.js").exists(), "the page bundle is missing: run tests/e2e/setup.sh"
    root = tmp_path_factory.mktemp("browser")
    data = root / "data"
    cli(
        "project",
        "add",
        "--data",
        str(data),
        "--org",
        ORG,
        "--slug",
        SLUG,
        "--id",
        str(PROJECT_ID),
        "--dsn-key",
        DSN_KEY,
    )
    server = Server(data)
    server.start()
    try:
        site_dir = root / "site"
        site_dir.mkdir()
        shutil.copy(PAGE_DIR / "index.html", site_dir)
        shutil.copy(DIST_DIR / "app.js", site_dir)
        with static_server(site_dir) as site:
            result = _run_browser(site, server, root / "chromium-profile")
        yield Recorded(
            server=server,
            replay_id=result["replayId"],
            error_id=result["errorId"],
            user_agent=result["userAgent"],
            page_url=f"{site}/index.html",
            envelopes=result["envelopes"],
        )
    finally:
        server.stop()


def _settled(recorded: Recorded) -> dict[str, Any]:
    """The replay's details once its last segment (the rage click) is visible."""

    def check() -> dict[str, Any] | None:
        answer = recorded.server.get(f"/api/0/projects/{ORG}/{SLUG}/replays/{recorded.replay_id}/")
        if answer.status != 200:
            return None
        data = answer.json()["data"]
        return data if data["count_rage_clicks"] >= 1 else None

    details = poll(check)
    assert details, f"replay {recorded.replay_id} never showed its rage click"
    return details


def test_every_envelope_was_accepted(recorded: Recorded) -> None:
    assert len(recorded.envelopes) >= 4  # session, segments 0..n, the error event
    assert [e for e in recorded.envelopes if e["status"] != 200] == []
    assert all(f"sentry_key={DSN_KEY}" in e["url"] for e in recorded.envelopes)


def test_replay_details(recorded: Recorded) -> None:
    details = _settled(recorded)
    assert details["id"] == recorded.replay_id
    assert details["project_id"] == str(PROJECT_ID)
    assert details["count_errors"] == 1
    assert details["error_ids"] == [recorded.error_id]
    # A rage click is also a dead click: one dead button + one rage button.
    assert details["count_dead_clicks"] == 2
    assert details["count_rage_clicks"] == 1
    assert details["user"]["id"] == USER_ID
    assert details["environment"] == ENVIRONMENT
    assert details["releases"] == [RELEASE]
    assert details["platform"] == "javascript"
    assert details["sdk"] == {"name": "sentry.javascript.browser", "version": "11.12.0"}
    assert details["replay_type"] == "session"
    assert recorded.page_url in details["urls"]
    assert any(url.endswith("/checkout?step=2") for url in details["urls"])


def test_browser_and_os_come_from_the_real_user_agent(recorded: Recorded) -> None:
    details = _settled(recorded)
    found = re.search(r"HeadlessChrome/(\d+)\.(\d+)\.(\d+)", recorded.user_agent)
    assert found, recorded.user_agent
    assert details["browser"] == {"name": "Chrome", "version": ".".join(found.groups())}
    assert details["os"]["name"] == "Linux"


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("url:*checkout*", True),
        ("url:*nowhere*", False),
        ("browser.name:Chrome", True),
        ("browser.name:Firefox", False),
        (f"user.id:{USER_ID}", True),
        ("user.id:someone-else", False),
        ("click.selector:button#rage-btn", True),
        ("click.selector:button.dead", True),
        ("click.selector:button#missing-btn", False),
        ("count_rage_clicks:1 count_errors:1", True),
        ("count_errors:0", False),
        (f"release:{RELEASE}", True),
    ],
)
def test_replay_is_listed_and_searchable(recorded: Recorded, query: str, listed: bool) -> None:
    _settled(recorded)
    assert (recorded.replay_id in recorded.search(query)) is listed


def _decoded_segments(recorded: Recorded) -> list[list[dict[str, Any]]]:
    path = f"/api/0/projects/{ORG}/{SLUG}/replays/{recorded.replay_id}/recording-segments/"
    answer = recorded.server.get(path + "?download=true")
    assert answer.status == 200, answer.body[:300]
    return json.loads(answer.body)


def _node_ids_by_element_id(events: list[dict[str, Any]]) -> dict[str, int]:
    """rrweb node id of every element with an `id` attribute in the full snapshots."""
    found: dict[str, int] = {}

    def walk(node: dict[str, Any]) -> None:
        element_id = node.get("attributes", {}).get("id")
        if element_id:
            found[element_id] = node["id"]
        for child in node.get("childNodes", []):
            walk(child)

    for event in events:
        if event["type"] == 2:
            walk(event["data"]["node"])
    return found


def test_recording_segments_decode_to_rrweb_with_a_full_snapshot(recorded: Recorded) -> None:
    details = _settled(recorded)
    segments = _decoded_segments(recorded)
    assert len(segments) == details["count_segments"] >= 3
    events = [event for segment in segments for event in segment]
    assert all(isinstance(event["type"], int) for event in events)
    assert any(event["type"] == 2 for event in segments[0])
    categories = {
        event["data"]["payload"].get("category")
        for event in events
        if event["type"] == 5 and event["data"].get("tag") == "breadcrumb"
    }
    assert {"ui.click", "ui.slowClickDetected"} <= categories


def test_one_segment_downloads_as_its_decompressed_bytes(recorded: Recorded) -> None:
    _settled(recorded)
    path = f"/api/0/projects/{ORG}/{SLUG}/replays/{recorded.replay_id}/recording-segments/0/"
    answer = recorded.server.get(path + "?download=true")
    assert answer.status == 200
    # Decompressed: plain rrweb JSON, whatever the SDK sent (zlib from its worker).
    with pytest.raises(zlib.error):
        zlib.decompress(answer.body)
    assert any(event["type"] == 2 for event in json.loads(answer.body))


def test_clicks_endpoint_returns_the_clicked_nodes(recorded: Recorded) -> None:
    _settled(recorded)
    events = [event for segment in _decoded_segments(recorded) for event in segment]
    node_ids = _node_ids_by_element_id(events)
    base = f"/api/0/projects/{ORG}/{SLUG}/replays/{recorded.replay_id}/clicks/"

    def clicked(query: str) -> set[int]:
        params = urllib.parse.urlencode({"query": query})
        return {row["node_id"] for row in recorded.server.get_json(f"{base}?{params}")["data"]}

    buttons = {"ok-btn", "error-btn", "nav-btn", "dead-btn", "rage-btn"}
    assert clicked("click.tag:button") == {node_ids[b] for b in buttons}
    assert clicked("click.id:rage-btn") == {node_ids["rage-btn"]}
    assert clicked("click.testid:dead") == {node_ids["dead-btn"]}
    # The SDK masks aria-label text like all text; role is sent as is.
    assert clicked("click.role:button") == {node_ids["rage-btn"]}
    assert clicked("click.tag:input") == {node_ids["coupon"]}
