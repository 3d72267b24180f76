"""The page routes over HTTP (no browser): HTML shells without data and with the CSP, static
files, and the routes the pages read (organizations, projects, replays-events-meta)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from replaystore.server import make_app
from replaystore.storage.store import Store
from replaystore.web import pages
from replaystore.writer import SyncIngest
from tests.conftest import ORG, OTHER_ORG, PROJECTS, REPLAYS, FixtureStore, rid, serving

PAGE_PATHS = ("/", f"/replays/web/{rid(1)}/", "/selectors/")


def _app(fixture_store: FixtureStore, *, auth: bool):
    # Ingest without the journal: the session's other servers on this store may hold it.
    ingest = SyncIngest(Store.open(str(fixture_store.path)))
    return make_app(str(fixture_store.path), auth=auth, ingest=ingest)


@pytest.fixture(scope="module")
def secured(fixture_store: FixtureStore) -> Iterator[str]:
    with serving(_app(fixture_store, auth=True)) as base:
        yield base


@pytest.fixture(scope="module")
def open_server(fixture_store: FixtureStore) -> Iterator[str]:
    with serving(_app(fixture_store, auth=False)) as base:
        yield base


def get(url: str, token: str | None = None, **headers: str) -> requests.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(url, headers=headers, timeout=30)


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_pages_are_data_free_shells_with_a_strict_csp(secured: str, path: str) -> None:
    answer = get(secured + path)  # no token: the shell is public, it holds no data
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Content-Security-Policy"] == pages.CSP
    assert "default-src 'none'" in pages.CSP and "script-src 'self'" in pages.CSP
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert '<meta name="replaystore-auth" content="token">' in answer.text
    for spec in REPLAYS:
        assert spec.replay_id not in answer.text.replace(rid(1), "")
    assert "http" not in answer.text.lower()  # nothing loaded from anywhere else


def test_without_auth_the_shell_says_so(open_server: str) -> None:
    assert '<meta name="replaystore-auth" content="none">' in get(open_server + "/").text


def test_static_files_with_etag_revalidation(secured: str) -> None:
    for name in ("list.js", "player.js", "player.css", "pages.css", "selectors.js"):
        answer = get(f"{secured}/static/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["Content-Type"].startswith(("text/javascript", "text/css"))
        again = get(f"{secured}/static/{name}", **{"If-None-Match": answer.headers["ETag"]})
        assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("name", ["nope.js", "..%2F__init__.py", "__init__.py", "%2e%2e"])
def test_unknown_static_files_are_404(secured: str, name: str) -> None:
    answer = get(f"{secured}/static/{name}")
    assert answer.status_code == 404
    assert set(answer.json()) == {"detail"}


def test_organizations_are_scoped_to_the_token(secured: str, fixture_store: FixtureStore) -> None:
    assert get(f"{secured}/api/0/organizations/").status_code == 401
    assert get(f"{secured}/api/0/organizations/", "bad-token").status_code == 401
    for org in (ORG, OTHER_ORG):
        answer = get(f"{secured}/api/0/organizations/", fixture_store.tokens[org])
        assert answer.json() == [{"slug": org, "name": org}]


def test_without_auth_every_organization_is_listed(open_server: str) -> None:
    slugs = [o["slug"] for o in get(f"{open_server}/api/0/organizations/").json()]
    assert slugs == sorted({org for org, *_ in PROJECTS})


def test_projects_of_the_organization(secured: str, fixture_store: FixtureStore) -> None:
    token = fixture_store.tokens[ORG]
    answer = get(f"{secured}/api/0/organizations/{ORG}/projects/", token).json()
    expected = sorted((slug, str(pid)) for org, slug, pid, _ in PROJECTS if org == ORG)
    assert sorted((p["slug"], p["id"]) for p in answer) == expected
    assert get(f"{secured}/api/0/organizations/{OTHER_ORG}/projects/", token).status_code == 404


def test_events_meta_answers_the_linked_events_by_id(
    secured: str, fixture_store: FixtureStore
) -> None:
    spec = next(s for s in REPLAYS if s.errors >= 2)
    ids = [rid(9000 + 10 * spec.n + i) for i in range(spec.errors)]
    url = f"{secured}/api/0/organizations/{ORG}/replays-events-meta/"
    params = {"query": f"id:[{','.join([*ids, rid(1)])}]", "statsPeriod": "7d"}
    answer = requests.get(url, params=params, timeout=30, headers={
        "Authorization": f"Bearer {fixture_store.tokens[ORG]}"})  # fmt: skip
    assert answer.status_code == 200
    events = answer.json()["data"]
    assert sorted(e["id"] for e in events) == sorted(ids)
    slug = next(slug for _, slug, pid, _ in PROJECTS if pid == spec.project_id)
    assert {(e["level"], e["project.name"]) for e in events} == {("error", slug)}
    assert all(e["timestamp"].endswith("+00:00") for e in events)


@pytest.mark.parametrize("query", ["", "url:foo", "id:[", "id:[a] id:[b]"])
def test_events_meta_refuses_other_searches(
    secured: str, fixture_store: FixtureStore, query: str
) -> None:
    url = f"{secured}/api/0/organizations/{ORG}/replays-events-meta/"
    answer = requests.get(url, params={"query": query}, timeout=30, headers={
        "Authorization": f"Bearer {fixture_store.tokens[ORG]}"})  # fmt: skip
    assert answer.status_code == 400
    assert "id:[" in answer.json()["detail"]
