"""`X-Data-Source` on the list and segment ids beyond the stored integer range (issue 14)."""

from __future__ import annotations

import pytest

from tests.api.conftest import Client
from tests.conftest import rid

LIST = "/api/0/organizations/acme/replays/"
SEGMENTS = f"/api/0/projects/acme/web/replays/{rid(1)}/recording-segments"


@pytest.mark.parametrize(
    ("params", "headers", "expected"),
    [
        ({}, {}, "scalar-subquery"),
        ({"query": "browser.name:Chrome", "sort": "-started_at"}, {}, "scalar-subquery"),
        ({"sort": "-count_errors"}, {}, "aggregated-subquery"),
        ({"query": "count_errors:>0"}, {}, "aggregated-subquery"),
        ({"query": "!url:https://acme.test/"}, {}, "aggregated-subquery"),
        ({}, {"X-Preferred-Data-Source": "aggregated"}, "aggregated-subquery"),
        ({}, {"X-Preferred-Data-Source": "scalar"}, "scalar-subquery"),
    ],
)
def test_list_names_its_data_source(
    client: Client, params: dict, headers: dict, expected: str
) -> None:
    response = client.get(LIST, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["X-Data-Source"] == expected


def test_both_sources_give_the_same_answer(client: Client) -> None:
    scalar = client.get(LIST, params={"per_page": 100})
    aggregated = client.get(
        LIST, params={"per_page": 100}, headers={"X-Preferred-Data-Source": "aggregated"}
    )
    assert scalar.json() == aggregated.json() and scalar.json()["data"]


def test_an_error_has_no_data_source(client: Client) -> None:
    response = client.get(LIST, params={"sort": "nope"})
    assert response.status_code == 400 and "X-Data-Source" not in response.headers


@pytest.mark.parametrize(
    "segment_id",
    ["2147483648", "9999999999", "99999999999999999999", "1" * 5000, "2147483647", "7"],
)
def test_segment_beyond_range_or_missing_is_not_found(client: Client, segment_id: str) -> None:
    for params in ({}, {"download": "1"}):
        response = client.get(f"{SEGMENTS}/{segment_id}/", params=params)
        assert response.status_code == 404, (segment_id, response.text)
        assert response.json() == {"detail": "Replay recording segment not found."}


def test_segment_in_range_is_found(client: Client) -> None:
    response = client.get(f"{SEGMENTS}/0000000001/")  # leading zeros: still segment 1
    assert response.status_code == 200 and response.json()["data"]["segmentId"] == 1
