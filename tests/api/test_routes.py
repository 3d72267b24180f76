"""Routing, auth and the error shape over a live server (bad input anywhere is a 4xx)."""

from __future__ import annotations

import pytest
import requests

from tests.api.conftest import Client
from tests.conftest import OTHER_ORG, FixtureStore, rid

R1 = rid(1)
GET_ROUTES = [
    "/api/0/organizations/acme/replays/",
    f"/api/0/organizations/acme/replays/{R1}/",
    "/api/0/organizations/acme/tags/",
    "/api/0/organizations/acme/tags/plan/values/",
    "/api/0/projects/acme/web/replays/tags/",
    "/api/0/projects/acme/web/replays/tags/plan/values/",
    f"/api/0/projects/acme/web/replays/{R1}/",
    f"/api/0/projects/acme/web/replays/{R1}/recording-segments/",
    f"/api/0/projects/acme/web/replays/{R1}/recording-segments/0/",
    f"/api/0/projects/acme/web/replays/{R1}/clicks/",
    f"/api/0/projects/acme/web/replays/{R1}/viewed-by/",
    "/api/0/projects/acme/web/replays/jobs/delete/",
    "/api/0/organizations/acme/projects/",
    f"/api/0/organizations/acme/replays-events-meta/?query=id:[{rid(9010)}]",
    "/api/0/organizations/acme/replay-selectors/",
    f"/api/0/organizations/acme/replay-count/?query=replay_id:[{R1}]",
]


def _canonical_error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


@pytest.mark.parametrize("path", GET_ROUTES)
def test_every_route_answers_with_a_token(client: Client, path: str) -> None:
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", GET_ROUTES)
@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_no_or_bad_token_is_401(client: Client, path: str, token: str | None) -> None:
    _canonical_error(Client(client.base, token).get(path), 401)


@pytest.mark.parametrize("path", GET_ROUTES)
def test_token_of_another_org_is_404(client: Client, fixture_store: FixtureStore, path) -> None:
    _canonical_error(Client(client.base, fixture_store.tokens[OTHER_ORG]).get(path), 404)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/0/nothing/", 404),
        ("GET", "/api/0/organizations/nope/replays/", 404),
        ("GET", "/api/0/projects/acme/nope/replays/tags/", 404),
        ("GET", "/api/0/projects/globex/store/replays/tags/", 404),
        ("GET", "/api/0/projects/acme/web/replays/not-a-uuid/", 404),
        ("DELETE", "/api/0/projects/acme/web/replays/not-a-uuid/", 404),
        ("GET", f"/api/0/projects/acme/web/replays/{R1}/recording-segments/x/", 404),
        ("GET", f"/api/0/projects/acme/web/replays/{R1}/recording-segments/9/", 404),
        ("GET", f"/api/0/projects/acme/shop/replays/{R1}/", 404),
        ("GET", f"/api/0/organizations/acme/replays/{rid(999)}/", 404),
        ("POST", "/api/0/organizations/acme/replays/", 405),
        ("PUT", f"/api/0/projects/acme/web/replays/{R1}/", 405),
    ],
)
def test_errors(client: Client, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    _canonical_error(response, status)
    if status == 405:
        assert response.headers["Allow"]


def test_405_names_allowed_methods(client: Client) -> None:
    response = client.request("PATCH", f"/api/0/projects/acme/web/replays/{R1}/")
    assert response.headers["Allow"] == "DELETE, GET"


def test_dashed_ids_and_no_trailing_slash(client: Client) -> None:
    dashed = f"{R1[:8]}-{R1[8:12]}-{R1[12:16]}-{R1[16:20]}-{R1[20:]}"
    response = client.get(f"/api/0/projects/acme/web/replays/{dashed}")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == R1


def test_openapi_needs_no_token(client: Client) -> None:
    document = Client(client.base, None).get("/api/0/openapi.json").json()
    assert document["openapi"].startswith("3.1")
