"""Browse and fetch replays: parameters, filters, sorts, paging, shapes (seed and Sentry)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import STORES, Client, client_on_every_store
from tests.conftest import BASE, REPLAYS, rid

LIST = "/api/0/organizations/acme/replays/"
ACME_RECENT = {s.replay_id for s in REPLAYS if s.project_id in (1, 2) and s.start.days >= 0}
SEED_KEYS = {
    "activity", "browser", "count_dead_clicks", "count_rage_clicks", "count_errors",
    "count_segments", "count_urls", "device", "dist", "duration", "environment", "error_ids",
    "finished_at", "id", "is_archived", "os", "platform", "project_id", "releases", "sdk",
    "started_at", "tags", "trace_ids", "urls", "user",
}  # fmt: skip
SENTRY_EXTRA = {
    "count_warnings", "count_infos", "warning_ids", "info_ids", "replay_type", "has_viewed",
    "clicks",
}  # fmt: skip


# The same tests with the store on local disk and on S3 (issue 13).
client = pytest.fixture(scope="session", params=STORES, name="client")(client_on_every_store)


def _ids(client: Client, **params) -> list[str]:
    response = client.get(LIST, params={"per_page": 100} | params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def _iso(delta: timedelta) -> str:
    return (BASE + delta).isoformat()


def test_default_page_is_ten_of_the_last_seven_days(client: Client) -> None:
    response = client.get(LIST)
    data = response.json()["data"]
    assert len(data) == 10
    assert 'rel="next"; results="true"' in response.headers["Link"]
    assert {item["id"] for item in data} <= ACME_RECENT


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ACME_RECENT),
        ({"project": "2"}, {rid(3)}),
        ({"project": ["1", "2"]}, ACME_RECENT),
        ({"project": "-1"}, ACME_RECENT),
        ({"projectSlug": "shop"}, {rid(3)}),
        ({"environment": "staging"}, {rid(2)}),
        ({"environment": ["staging", "production"]}, ACME_RECENT),
        ({"environment": "nowhere"}, set()),
        ({"statsPeriod": "30d"}, ACME_RECENT | {rid(4)}),
        ({"start": _iso(timedelta(hours=1)), "end": _iso(timedelta(hours=2))}, {rid(1)}),
        ({"start": _iso(timedelta(hours=1)), "end": _iso(timedelta(hours=2, seconds=1))},
         {rid(1), rid(2)}),
        ({"statsPeriod": "1s"}, set()),
    ],
)  # fmt: skip
def test_filters(client: Client, params: dict, expected: set[str]) -> None:
    assert set(_ids(client, **params)) == expected


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"project": "3"}, 403, "You do not have access to project 3"),
        ({"project": "77"}, 403, "You do not have access to project 77"),
        ({"project": "x"}, 400, "Invalid project parameter. Values must be numbers."),
        ({"statsPeriod": "1y"}, 400, "Invalid date range: Invalid statsPeriod: '1y'"),
        ({"start": "2026-01-01"}, 400, "Invalid date range: start and end are both required"),
        ({"sort": "nope"}, 400, "The field `nope` is not a sortable field."),
        ({"field": "nope"}, 400, '"nope" is not a valid choice.'),
        ({"per_page": "101"}, 400, "Invalid per_page value. Cannot exceed 100."),
        ({"limit": "0"}, 400, "Invalid limit value. Must be at least 1."),
        ({"cursor": "zz"}, 400, "Invalid cursor parameter."),
    ],
)
def test_parameter_errors(client: Client, params: dict, status: int, detail: str) -> None:
    response = client.get(LIST, params=params)
    assert response.status_code == status
    assert response.json() == {"detail": detail}


SORT_KEYS = {
    "started_at": "started_at", "startedAt": "started_at", "finished_at": "finished_at",
    "finishedAt": "finished_at", "duration": "duration", "count_errors": "count_errors",
    "countErrors": "count_errors", "project_id": "project_id", "projectId": "project_id",
}  # fmt: skip


@pytest.mark.parametrize("sort", [f"{sign}{key}" for key in SORT_KEYS for sign in ("", "-")])
@pytest.mark.parametrize("name", ["sort", "sortBy", "orderBy"])
def test_sorts(client: Client, name: str, sort: str) -> None:
    data = client.get(LIST, params={name: sort, "per_page": 100}).json()["data"]
    key = SORT_KEYS[sort.lstrip("-")]
    values = [int(i[key]) if key == "project_id" else i[key] for i in data]
    assert values == sorted(values, reverse=sort.startswith("-"))
    assert len(data) == len(ACME_RECENT)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_offset_and_cursor_paging_cover_everything_once(client: Client, size: int) -> None:
    everything = _ids(client)
    by_offset = []
    for offset in range(0, len(everything), size):
        by_offset += _ids(client, per_page=None, limit=size, offset=offset)
    assert by_offset == everything
    by_cursor, params = [], {"per_page": size}
    while True:
        response = client.get(LIST, params=params)
        by_cursor += [item["id"] for item in response.json()["data"]]
        following = response.links["next"]
        if 'results="true"' not in response.headers["Link"].split(",")[-1]:
            break
        params = {"per_page": size, "cursor": following["cursor"]}
    assert by_cursor == everything


def test_field_selection(client: Client) -> None:
    data = client.get(LIST, params=[("field", "id"), ("field", "user"), ("field", "id")]).json()
    for item in data["data"]:
        assert set(item) == {"id", "user"}
        assert set(item["user"]) == {"id", "username", "email", "ip", "display_name", "geo"}


def test_seed_example_shape_and_values(client: Client) -> None:
    item = client.get(f"/api/0/projects/acme/web/replays/{rid(1)}/").json()["data"]
    assert set(item) == SEED_KEYS | SENTRY_EXTRA
    types = {
        "activity": int, "browser": dict, "count_errors": int, "duration": int, "error_ids": list,
        "finished_at": str, "id": str, "is_archived": bool, "project_id": str, "releases": list,
        "tags": dict, "urls": list, "user": dict,
    }  # fmt: skip
    for key, expected_type in types.items():
        assert isinstance(item[key], expected_type), key
    assert set(item["device"]) == {"brand", "family", "model_id", "name"}
    assert item["id"] == rid(1) and item["project_id"] == "1"
    assert item["count_segments"] == 3 and item["count_errors"] == 2
    assert item["started_at"] == (BASE + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    assert item["duration"] == 30
    assert item["user"]["ip"] == "10.0.0.1" and item["user"]["display_name"] == "alice"
    assert item["tags"] == {"plan": ["free"]}
    assert item["count_dead_clicks"] == 1
    assert {c["click.tag"] for c in item["clicks"]} == {"button", "a"}


def test_org_wide_fetch_finds_any_project(client: Client) -> None:
    response = client.get(f"/api/0/organizations/acme/replays/{rid(3)}/", params={"field": "id"})
    assert response.json() == {"data": {"id": rid(3)}}
    assert client.get(f"/api/0/organizations/acme/replays/{rid(5)}/").status_code == 404


def test_fetch_defaults_to_ninety_days(client: Client) -> None:
    assert client.get(f"/api/0/projects/acme/web/replays/{rid(4)}/").status_code == 200
    response = client.get(
        f"/api/0/projects/acme/web/replays/{rid(4)}/", params={"statsPeriod": "1d"}
    )
    assert response.status_code == 404
