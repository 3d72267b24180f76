"""The web pages in headless Debian chromium against a real `replaystore serve` of the demo store
(the generated replays and the real SDK capture), and a second server with auth on.

One browser for the module (tests/web/browser.mjs); needs tests/e2e/setup.sh (run by `make
test`). Screenshots go to $REPLAYSTORE_SCREENSHOTS when set (`make screenshots` writes the
README's docs/images), else to the test's temp folder.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from replaystore.demo import CAPTURE, CAPTURE_PROJECT, CAPTURE_REPLAY
from replaystore.fixtures import PROJECTS
from tests.e2e.harness import Server, cli, poll, request
from tests.web import third_party
from tests.web.browser import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("web")]

CHROMIUM = Path("/usr/bin/chromium")
ORG, CAPTURE_SLUG, CAPTURE_ID = CAPTURE_PROJECT[0], CAPTURE_PROJECT[1], CAPTURE_PROJECT[2]
READY_LIST = "document.querySelector('#results')?.getAttribute('aria-busy') === 'false'"
READY_PLAYER = "document.body.dataset.ready === 'player'"
ROW_IDS = "[...document.querySelectorAll('#replays tbody tr')].map(r => r.dataset.replayId)"


@dataclass
class Site:
    browser: Browser
    server: Server  # --no-auth, the demo store
    secured: Server  # auth on, the capture only
    token: str
    window: dict[str, str]  # an absolute range holding the demo and the capture, any day
    shots: Path
    tracked: str  # a replay whose recorded page loads from `other`
    other: third_party.Counter

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        answer = request(f"{self.server.base}/api/0{path}?{query}")
        assert answer.status in (200, 400), (path, answer.status, answer.body[:300])
        return answer.json()

    def list_ids(self, **params: Any) -> list[str]:
        found = self.api(f"/organizations/{ORG}/replays/", per_page=25, **self.window, **params)
        return [row["id"] for row in found["data"]]

    def open_list(self, **params: str) -> None:
        query = urllib.parse.urlencode({"org": ORG, **self.window, **params})
        self.browser.call("goto", url=f"{self.server.base}/?{query}")
        self.browser.wait_for(READY_LIST)


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    start = min(now - timedelta(days=35), datetime(2026, 11, 25, tzinfo=UTC))
    return {
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _secured_store(root: Path) -> tuple[Path, str]:
    data = root / "secured"
    org, slug, project_id, key = CAPTURE_PROJECT
    cli(
        "project",
        "add",
        "--data",
        str(data),
        "--org",
        org,
        "--slug",
        slug,
        "--id",
        str(project_id),
        "--dsn-key",
        key,
    )
    files = [str(p) for p in sorted(CAPTURE.glob("*.envelope"))]
    cli("ingest", "--data", str(data), "--project", str(project_id), *files)
    return data, cli("token", "add", "--data", str(data), "--org", org).strip()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    assert CHROMIUM.exists(), "chromium is missing: run tests/e2e/setup.sh"
    root = tmp_path_factory.mktemp("web")
    demo = root / "demo"
    cli("demo", "--data", str(demo), "--no-serve")
    secured_data, token = _secured_store(root)
    server, secured = Server(demo), Server(secured_data, auth=True)
    browser = None
    with third_party.other_origin() as (origin, counter):
        docs = next(p for p in PROJECTS if p.slug == "docs")
        dsn = f"http://{docs.dsn_key}@127.0.0.1/{docs.id}"
        tracked, body = third_party.envelope(origin, dsn)
        (root / "tracked.envelope").write_bytes(body)
        cli(
            "ingest", "--data", str(demo), "--project", str(docs.id), str(root / "tracked.envelope")
        )
        try:
            server.start()
            secured.start()
            browser = Browser()
            shots = Path(os.environ.get("REPLAYSTORE_SCREENSHOTS") or root / "screenshots")
            shots.mkdir(parents=True, exist_ok=True)
            yield Site(browser, server, secured, token, _window(), shots, tracked, counter)
        finally:
            if browser is not None:
                browser.close()
            server.stop()
            secured.stop()


def test_the_list_shows_the_demo_replays_as_the_api_lists_them(site: Site) -> None:
    site.open_list()
    shown = site.browser.eval(ROW_IDS)
    assert shown == site.list_ids(sort="-started_at")
    assert len(shown) == 25  # a full page of the demo's 241
    site.browser.call("screenshot", path=str(site.shots / "list.png"))


def test_paging_through_the_list(site: Site) -> None:
    site.open_list()
    assert site.browser.eval("document.querySelector('#page-previous').disabled") is True
    site.browser.call("click", selector="#page-next")
    site.browser.wait_for("new URLSearchParams(location.search).get('cursor') === '0:25:0'")
    site.browser.wait_for(READY_LIST)
    assert site.browser.eval(ROW_IDS) == site.list_ids(sort="-started_at", cursor="0:25:0")
    site.browser.call("click", selector="#page-previous")
    site.browser.wait_for("new URLSearchParams(location.search).get('cursor') === '0:0:1'")
    site.browser.wait_for(READY_LIST)
    assert site.browser.eval(ROW_IDS) == site.list_ids(sort="-started_at")


def test_the_list_shows_the_capture_with_its_columns(site: Site) -> None:
    site.open_list(project=str(CAPTURE_ID))
    assert site.browser.eval(ROW_IDS) == [CAPTURE_REPLAY]
    cells = site.browser.eval(
        "[...document.querySelectorAll('#replays tbody tr td')].map(td => td.innerText.trim())"
    )
    replay = site.api(f"/projects/{ORG}/{CAPTURE_SLUG}/replays/{CAPTURE_REPLAY}/")["data"]
    assert cells[0].startswith(replay["user"]["display_name"])
    assert cells[3] == replay["urls"][0]
    assert cells[4].startswith(f"{replay['browser']['name']} {replay['browser']['version']}")
    assert cells[5:] == [
        str(replay[k]) for k in ("count_errors", "count_dead_clicks", "count_rage_clicks")
    ]


def test_a_search_narrows_the_list(site: Site) -> None:
    site.open_list()
    everything = site.browser.eval(ROW_IDS)
    query = "count_rage_clicks:>0 AND browser.name:Chrome"
    site.browser.call("fill", selector="#search", value=query)
    site.browser.call("press", selector="#search", key="Enter")
    site.browser.wait_for(
        f"new URLSearchParams(location.search).get('query') === {json.dumps(query)}"
    )
    site.browser.wait_for(READY_LIST)
    narrowed = site.browser.eval(ROW_IDS)
    assert narrowed == site.list_ids(query=query)
    assert CAPTURE_REPLAY in narrowed
    assert 0 < len(narrowed) < len(everything)
    assert site.browser.eval("document.querySelector('#search-error').textContent") == ""


@pytest.mark.parametrize("query", ["count_errors:>>1", "(url:*checkout*", "duration:abc"])
def test_a_bad_search_shows_the_parse_error_inline(site: Site, query: str) -> None:
    detail = site.api(f"/organizations/{ORG}/replays/", query=query)["detail"]
    site.open_list(query=query)
    assert site.browser.eval("document.querySelector('#search-error').textContent") == detail
    assert site.browser.eval("document.querySelector('#search').value") == query
    assert site.browser.eval(ROW_IDS) == []


def test_filtering_by_time_range_project_and_environment(site: Site) -> None:
    site.open_list()
    site.browser.wait_for("document.querySelectorAll('#environment option').length > 1")
    latest = site.api(f"/organizations/{ORG}/replays/", project="11", per_page=1)["data"][0]
    environment = latest["environment"]
    site.browser.call("select", selector="#period", value="14d")
    site.browser.call("select", selector="#project", value="11")
    site.browser.call("select", selector="#environment", value=environment)
    site.browser.call("click", selector="#filters button[type='submit']")
    site.browser.wait_for("new URLSearchParams(location.search).get('project') === '11'")
    site.browser.wait_for(READY_LIST)
    expected = site.api(
        f"/organizations/{ORG}/replays/",
        statsPeriod="14d",
        project="11",
        environment=environment,
        per_page=25,
        sort="-started_at",
    )["data"]
    shown = site.browser.eval(ROW_IDS)
    assert shown == [row["id"] for row in expected]
    assert shown and shown != site.list_ids()
    assert {(row["project_id"], row["environment"]) for row in expected} == {("11", environment)}


def test_sorting_by_a_column(site: Site) -> None:
    site.open_list()
    site.browser.call("click", selector="button.sort[data-sort='duration']")
    site.browser.wait_for("new URLSearchParams(location.search).get('sort') === '-duration'")
    site.browser.wait_for(READY_LIST)
    assert site.browser.eval(ROW_IDS) == site.list_ids(sort="-duration")


def _open_capture_player(site: Site) -> None:
    site.open_list(project=str(CAPTURE_ID))
    site.browser.call("click", selector=f"tr[data-replay-id='{CAPTURE_REPLAY}'] a.replay-link")
    site.browser.wait_for(READY_PLAYER)


MARKERS = (
    "[...document.querySelectorAll('#timeline .marker')]"
    ".map(m => [m.dataset.kind, +m.dataset.offset])"
)


def test_the_player_plays_the_real_capture(site: Site) -> None:
    _open_capture_player(site)
    assert site.browser.eval("location.pathname") == f"/replays/{CAPTURE_SLUG}/{CAPTURE_REPLAY}/"
    # The replayer's iframe holds the recorded page's DOM (the capture's buttons).
    buttons = site.browser.eval(
        "[...document.querySelector('.replayer-wrapper iframe').contentDocument"
        ".querySelectorAll('button')].map(b => b.id)"
    )
    assert {"ok-btn", "dead-btn", "rage-btn"} <= set(buttons)
    details = site.browser.eval("document.querySelector('#details').innerText")
    assert CAPTURE_REPLAY in details and "capture-test" in details
    # The README's picture: the recorded page right after its rage click.
    site.browser.call("click", selector="#timeline .marker[data-kind='rage']")
    site.browser.call("screenshot", path=str(site.shots / "player.png"), fullPage=True)


def test_the_timeline_shows_the_capture_clicks_and_error(site: Site) -> None:
    _open_capture_player(site)
    kinds = Counter(kind for kind, _ in site.browser.eval(MARKERS))
    rows = json.loads(
        cli("sql", "--data", str(site.server.data), "--format", "json",
            f"SELECT is_dead, is_rage FROM clicks WHERE replay_id = '{CAPTURE_REPLAY}'")
    )  # fmt: skip
    expected = Counter(
        "rage" if r["is_rage"] else "dead" if r["is_dead"] else "click" for r in rows
    )
    assert {k: kinds[k] for k in ("click", "dead", "rage")} == dict(expected)
    assert set(expected) == {"click", "dead", "rage"}
    replay = site.api(f"/projects/{ORG}/{CAPTURE_SLUG}/replays/{CAPTURE_REPLAY}/")["data"]
    assert kinds["error"] == replay["count_errors"] == 1
    assert kinds["url"] >= 1


def test_seeking_by_a_marker_moves_the_playback_time(site: Site) -> None:
    _open_capture_player(site)
    rrweb_time = "document.querySelector('.rr-timeline__time')?.textContent"
    before = site.browser.eval(rrweb_time)
    markers = dict(site.browser.eval(MARKERS))
    for kind in ("rage", "error"):
        site.browser.call("click", selector=f"#timeline .marker[data-kind='{kind}']")
        site.browser.wait_for(
            f"+document.querySelector('#current-time').dataset.ms === {markers[kind]}"
        )
        seconds = markers[kind] // 1000
        # rrweb-player's own clock (mm:ss) shows where the replayer now is.
        site.browser.wait_for(f"{rrweb_time} === '00:{seconds:02d}'")
    assert before == "00:00"
    assert markers["rage"] > 1000


def test_the_pages_send_no_third_party_requests(site: Site) -> None:
    _open_capture_player(site)  # the list, then the player (whatever ran before)
    urls = site.browser.call("requests")
    assert any("/recording-segments/" in u for u in urls)
    origins = {f"{site.server.base}/", f"{site.secured.base}/"}
    outside = [u for u in urls if not u.startswith(tuple(origins)) and not u.startswith("data:")]
    assert outside == []
    # No Content-Security-Policy violation nor any other error, but the bad searches' 400s.
    problems = site.browser.call("problems")
    assert [p for p in problems if "status of 400 (Bad Request)" not in p] == []


def test_delete_asks_for_confirmation(site: Site) -> None:
    victim = site.list_ids(project="11", sort="-duration")[0]
    path = f"/projects/{ORG}/web-app/replays/{victim}/"
    url = f"{site.server.base}/replays/web-app/{victim}/?{urllib.parse.urlencode(site.window)}"
    site.browser.call("goto", url=url)
    site.browser.wait_for(READY_PLAYER)
    site.browser.call("click", selector="#delete")
    assert site.browser.eval("document.querySelector('#confirm-delete').open") is True
    site.browser.call("click", selector="#delete-cancel")
    assert site.browser.eval("document.querySelector('#confirm-delete').open") is False
    assert site.api(path)["data"]["is_archived"] is False
    site.browser.call("click", selector="#delete")
    site.browser.call("click", selector="#delete-confirm")
    site.browser.wait_for(
        "document.querySelector('#delete-status').textContent.includes('deleted')"
    )
    assert site.api(path)["data"]["is_archived"] is True
    site.browser.call("goto", url=url)  # the player now shows the archived replay as such
    site.browser.wait_for(
        "document.querySelector('#player-status').textContent.includes('deleted')"
    )
    assert site.browser.eval("document.querySelector('.replayer-wrapper')") is None


def test_with_auth_nothing_shows_before_a_token(site: Site) -> None:
    site.browser.call("newPage")
    before = len(site.browser.call("requests"))
    site.browser.call("goto", url=f"{site.secured.base}/?{urllib.parse.urlencode(site.window)}")
    site.browser.wait_for("document.querySelector('#token-form') !== null")
    assert site.browser.eval("document.querySelector('#replays')") is None
    assert site.browser.eval("document.body.innerText").count(CAPTURE_REPLAY[:8]) == 0
    asked = site.browser.call("requests")[before:]
    assert [u for u in asked if "/api/0/" in u] == []  # not even a call that would 401

    site.browser.call("fill", selector="#token", value="not-a-token")
    site.browser.call("press", selector="#token", key="Enter")
    site.browser.wait_for("document.querySelector('#token-error').textContent !== ''")
    assert site.browser.eval("document.querySelector('#replays')") is None

    site.browser.call("fill", selector="#token", value=site.token)
    site.browser.call("press", selector="#token", key="Enter")
    site.browser.wait_for(READY_LIST)
    assert site.browser.eval(ROW_IDS) == [CAPTURE_REPLAY]
    storage = site.browser.eval("[sessionStorage.length, localStorage.length, document.cookie]")
    assert storage == [1, 0, ""]

    site.browser.call("click", selector="#forget-token")  # and back to nothing shown
    site.browser.wait_for("document.querySelector('#token-form') !== null")
    assert site.browser.eval("[sessionStorage.length, document.querySelector('#replays')]") == [
        0,
        None,
    ]


def test_with_auth_the_player_needs_the_token_too(site: Site) -> None:
    # A new tab has its own session storage: the token form again, then the player.
    site.browser.call("newPage")
    player = f"{site.secured.base}/replays/{CAPTURE_SLUG}/{CAPTURE_REPLAY}/"
    site.browser.call("goto", url=f"{player}?{urllib.parse.urlencode(site.window)}")
    site.browser.wait_for("document.querySelector('#token-form') !== null")
    assert site.browser.eval("document.querySelector('.replayer-wrapper')") is None
    site.browser.call("fill", selector="#token", value=site.token)
    site.browser.call("press", selector="#token", key="Enter")
    site.browser.wait_for(READY_PLAYER)
    assert site.browser.eval("document.querySelectorAll('#timeline .marker').length") >= 4


def test_a_replayed_page_loads_nothing_from_its_site(site: Site) -> None:
    site.browser.call("newPage")
    query = urllib.parse.urlencode(site.window)
    site.browser.call("goto", url=f"{site.server.base}/replays/docs/{site.tracked}/?{query}")
    site.browser.wait_for(READY_PLAYER)
    frame = "document.querySelector('.replayer-wrapper iframe').contentDocument"
    site.browser.wait_for(f"{frame}.querySelector('#pixel') !== null")
    assert site.browser.eval(f"{frame}.querySelector('#pixel').getAttribute('src')").startswith(
        "http://127.0.0.1:"
    )
    # The browser refused the image under the CSP (reported as a violation) and so never
    # asked the other origin for it, nor for the stylesheet, background or font.

    def refused() -> list[str]:
        found = [p for p in site.browser.call("problems") if "Content Security Policy" in p]
        return found if any("pixel.png" in p for p in found) else []

    assert poll(refused, attempts=50), site.browser.call("problems")
    assert site.other.paths == []


SELECTOR_ROWS = (
    "[...document.querySelectorAll('#selectors tbody tr')].map(tr => [...tr.children]"
    ".map(td => td.innerText.trim()))"
)


def test_the_selectors_page_ranks_elements_as_the_api_does(site: Site) -> None:
    """The /selectors/ page over the replay-selectors route (issue 14), and its links."""
    query = urllib.parse.urlencode({"org": ORG, "statsPeriod": "90d"})
    site.browser.call("goto", url=f"{site.server.base}/selectors/?{query}")
    site.browser.wait_for(READY_LIST)
    params = {"query": "!count_dead_clicks:0", "statsPeriod": "90d", "per_page": 50}
    expected = site.api(f"/organizations/{ORG}/replay-selectors/", **params)["data"]
    slugs = {int(p["id"]): p["slug"] for p in site.api(f"/organizations/{ORG}/projects/")}
    shown = site.browser.eval(SELECTOR_ROWS)
    assert shown == [
        [i["dom_element"], slugs[i["project_id"]], str(i["count_dead_clicks"]),
         str(i["count_rage_clicks"])]
        for i in expected
    ]  # fmt: skip
    assert shown and all(int(row[2]) > 0 for row in shown)
    site.browser.call("screenshot", path=str(site.shots / "selectors.png"))
    site.browser.call("select", selector="#sort", value="-count_rage_clicks")
    site.browser.wait_for(
        "new URLSearchParams(location.search).get('sort') === '-count_rage_clicks'"
    )
    site.browser.wait_for(READY_LIST)
    rage = site.api(f"/organizations/{ORG}/replay-selectors/", sort="-count_rage_clicks", **params)[
        "data"
    ]
    assert [row[0] for row in site.browser.eval(SELECTOR_ROWS)] == [i["dom_element"] for i in rage]
    # A dead-click count links to the replays with dead clicks on that element.
    link = site.browser.eval("document.querySelector('#selectors tbody td.warn a').href")
    site.browser.call("goto", url=link)
    site.browser.wait_for(READY_LIST)
    assert site.browser.eval("document.querySelector('#search-error').textContent") == ""
    assert site.browser.eval(ROW_IDS)
