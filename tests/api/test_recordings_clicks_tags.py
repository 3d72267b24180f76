"""Recording segments, clicks, tag keys and values, and search, over a live server."""

from __future__ import annotations

import pytest

from tests.api.conftest import STORES, Client, client_on_every_store
from tests.conftest import rid

REPLAY = f"/api/0/projects/acme/web/replays/{rid(1)}"


# The same tests with the store on local disk and on S3 (issue 13).
client = pytest.fixture(scope="session", params=STORES, name="client")(client_on_every_store)


def _body(segment_id: int) -> list:
    return [{"type": 4, "data": {"href": "https://acme.test/"}, "segment": segment_id}]


def test_segment_metadata_list(client: Client) -> None:
    response = client.get(f"{REPLAY}/recording-segments/", params={"per_page": 2})
    data = response.json()["data"]
    assert [s["segmentId"] for s in data] == [0, 1]
    assert set(data[0]) == {"replayId", "segmentId", "projectId", "dateAdded"}
    assert data[0]["projectId"] == "1" and data[0]["dateAdded"].endswith("+00:00")
    assert 'rel="next"; results="true"' in response.headers["Link"]


def test_segments_download_is_one_array_of_arrays(client: Client) -> None:
    response = client.get(f"{REPLAY}/recording-segments/", params={"download": ""})
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == [_body(0), _body(1), _body(2)]


@pytest.mark.parametrize("segment_id", [0, 1])
def test_one_segment(client: Client, segment_id: int) -> None:
    meta = client.get(f"{REPLAY}/recording-segments/{segment_id}/").json()["data"]
    assert meta["segmentId"] == segment_id and meta["replayId"] == rid(1)
    raw = client.get(f"{REPLAY}/recording-segments/{segment_id}/", params={"download": "1"})
    assert raw.headers["Content-Type"] == "application/octet-stream"
    assert raw.headers["Content-Disposition"].startswith("attachment")
    assert raw.json() == _body(segment_id)


def test_unknown_replay_has_no_segments_or_clicks(client: Client) -> None:
    other = f"/api/0/projects/acme/web/replays/{rid(777)}"
    assert client.get(f"{other}/recording-segments/").json() == {"data": []}
    assert client.get(f"{other}/recording-segments/", params={"download": 1}).json() == []
    assert client.get(f"{other}/clicks/").json() == {"data": []}


@pytest.mark.parametrize(
    ("query", "nodes"),
    [
        ("", [4, 7]),
        ("click.tag:a", [7]),
        ("click.selector:button#ok.btn", [4]),
        ("click.tag:a OR click.id:ok", [4, 7]),
        ("!click.tag:a", [4]),
    ],
)
def test_clicks(client: Client, query: str, nodes: list[int]) -> None:
    data = client.get(f"{REPLAY}/clicks/", params={"query": query}).json()["data"]
    assert [c["node_id"] for c in data] == nodes
    assert all(isinstance(c["timestamp"], int) for c in data)


def test_click_search_error(client: Client) -> None:
    response = client.get(f"{REPLAY}/clicks/", params={"query": "color:red"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Unsupported search field: color"}


@pytest.mark.parametrize(
    ("path", "params", "plan_replays"),
    [
        ("/api/0/projects/acme/web/replays/tags/", {}, 11),
        ("/api/0/organizations/acme/tags/", {"dataset": "replays"}, 12),
        ("/api/0/organizations/acme/tags/", {"project": "2"}, 1),
    ],
)
def test_tag_keys(client: Client, path: str, params: dict, plan_replays: int) -> None:
    data = client.get(path, params=params).json()
    assert data[0] == {"key": "plan", "name": "Plan", "totalValues": plan_replays}


def test_tag_keys_count_replays_per_key(client: Client) -> None:
    data = client.get("/api/0/projects/acme/web/replays/tags/").json()
    assert {"key": "region", "name": "Region", "totalValues": 1} in data


@pytest.mark.parametrize(
    ("key", "params", "expected"),
    [
        ("plan", {}, {("free", 10), ("team", 1)}),
        ("plan", {"sort": "-count"}, {("free", 10), ("team", 1)}),
        ("plan", {"query": "TE"}, {("team", 1)}),
        ("browser.name", {}, {("Chrome", 10), ("Firefox", 1)}),
        ("release", {"environment": "staging"}, {("2.0", 1)}),
        ("trace", {}, set()),
    ],
)
def test_tag_values(client: Client, key: str, params: dict, expected: set) -> None:
    path = f"/api/0/projects/acme/web/replays/tags/{key}/values/"
    data = client.get(path, params=params).json()
    assert {(d["value"], d["count"]) for d in data} == expected
    org_params = params | {"project": "1", "includeReplays": "1"}
    org = client.get(f"/api/0/organizations/acme/tags/{key}/values/", params=org_params).json()
    assert {(d["value"], d["count"]) for d in org} == expected


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("/api/0/organizations/acme/tags/", {"dataset": "events"}, "Invalid dataset parameter"),
        (
            "/api/0/organizations/acme/tags/plan/values/",
            {"sort": "value"},
            "Invalid sort parameter. Please use one of: -last_seen or -count",
        ),
        ("/api/0/organizations/acme/tags/a%20b/values/", {}, 'Invalid tag key format for "a b"'),
    ],
)
def test_tag_errors(client: Client, path: str, params: dict, detail: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400 and response.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user.username:bob", {rid(2)}),
        ("browser.name:Firefox", {rid(2)}),
        ("count_errors:>2", {rid(13), rid(17)}),
        ("plan:team", {rid(2)}),
        ("count_dead_clicks:1", {rid(1)}),
    ],
)
def test_search(client: Client, query: str, expected: set[str]) -> None:
    data = client.get("/api/0/organizations/acme/replays/", params={"query": query}).json()
    assert {item["id"] for item in data["data"]} == expected


def test_search_error_is_400(client: Client) -> None:
    response = client.get("/api/0/organizations/acme/replays/", params={"query": "(a:b"})
    assert response.status_code == 400 and response.json()["detail"]
