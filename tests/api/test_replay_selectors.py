"""`GET /organizations/{org}/replay-selectors/` over a live server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from replaystore.server import make_app
from tests.api.conftest import Client
from tests.conftest import BASE, ReplaySpec, build_store, serving

ROUTE = "/api/0/organizations/acme/replay-selectors/"
SAVE = {
    "tag": "button", "id": "save", "class": ["btn", "", "primary"], "role": "button",
    "aria_label": "Save draft", "component_name": "SaveBar", "text": "Save",
}  # fmt: skip
NAV = {"tag": "a", "class": ["nav"], "title": "Home", "testid": "home", "alt": "h"}
PLAIN = {"tag": "div", "class": ["b", "a"]}
TAP = {"tag": ""}  # a mobile tap row: never ranked
SPECS = (
    ReplaySpec(1, clicks=(
        SAVE | {"is_dead": True, "node_id": 1}, SAVE | {"is_dead": True, "is_rage": True},
        NAV | {"is_dead": True}, PLAIN, TAP | {"is_dead": True},
        SAVE | {"class": ["btn", "primary"], "is_dead": True},  # the same group: "" dropped
        PLAIN | {"class": ["a", "b"]},  # another group: class order matters
    )),
    ReplaySpec(2, environment="staging", clicks=(NAV | {"is_dead": True, "is_rage": True},)),
    ReplaySpec(3, project_id=2, start=timedelta(hours=3), clicks=(SAVE | {"is_dead": True},)),
    ReplaySpec(4, start=timedelta(days=-20), clicks=(NAV | {"is_dead": True},)),
    ReplaySpec(5, project_id=3, clicks=(SAVE | {"is_dead": True},)),  # another organization
)  # fmt: skip
WINDOW = {
    "start": (BASE - timedelta(days=1)).isoformat(),
    "end": (BASE + timedelta(days=1)).isoformat(),
}


@pytest.fixture(scope="module")
def sel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    root: Path = tmp_path_factory.mktemp("selectors")
    stored = build_store(root / "store", SPECS)
    with serving(make_app(str(stored.path))) as base:
        yield Client(base, stored.tokens["acme"])


def _get(client: Client, **params: Any) -> Any:
    response = client.get(ROUTE, params=params)
    assert response.status_code == 200, response.text
    return response


def _items(client: Client, **params: Any) -> list[dict[str, Any]]:
    return _get(client, **(WINDOW | params)).json()["data"]


def _by_dom(items: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[int, int]]:
    return {
        (i["dom_element"], i["project_id"]): (i["count_dead_clicks"], i["count_rage_clicks"])
        for i in items
    }


SAVE_DOM = 'button#save.btn.primary[role="button"][aria="Save draft"][component_name="SaveBar"]'
NAV_DOM = 'a.nav[alt="h"][testid="home"][title="Home"]'


def test_items_and_their_shape(sel: Client) -> None:
    items = _items(sel)
    assert _by_dom(items) == {
        (SAVE_DOM, 1): (3, 1),
        (SAVE_DOM, 2): (1, 0),  # the same element in two projects: two items
        (NAV_DOM, 1): (2, 1),
        ("div.b.a", 1): (0, 0),  # plain clicks only: kept with 0/0 without a query
        ("div.a.b", 1): (0, 0),
    }
    first = items[0]
    assert set(first) == {
        "count_dead_clicks", "count_rage_clicks", "dom_element", "element", "project_id",
    }  # fmt: skip
    assert first["dom_element"] == SAVE_DOM and first["project_id"] == 1
    assert first["element"] == {
        "alt": "", "aria_label": "Save draft", "class": ["btn", "primary"],
        "component_name": "SaveBar", "id": "save", "project_id": 1, "role": "button",
        "tag": "button", "testid": "", "title": "",
    }  # fmt: skip
    assert isinstance(first["project_id"], int) and "text" not in first["element"]


def test_the_pages_query(sel: Client) -> None:
    """What the /selectors/ page and Sentry's UI send."""
    params = {"query": "!count_dead_clicks:0", "sort": "-count_rage_clicks", "per_page": 50}
    items = _items(sel, **params)
    assert [(i["dom_element"], i["count_rage_clicks"]) for i in items][:2] == [
        (SAVE_DOM, 1), (NAV_DOM, 1),
    ]  # fmt: skip
    assert all(i["count_dead_clicks"] for i in items) and len(items) == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"environment": "staging"}, {(NAV_DOM, 1): (1, 1)}),
        ({"environment": "nowhere"}, {}),  # an unknown environment matches nothing
        ({"project": "2"}, {(SAVE_DOM, 2): (1, 0)}),
        ({"projectSlug": "shop"}, {(SAVE_DOM, 2): (1, 0)}),
        ({"query": "count_dead_clicks:>1"}, {(SAVE_DOM, 1): (3, 1), (NAV_DOM, 1): (2, 1)}),
        ({"query": "count_dead_clicks:[1, 2]"}, {(SAVE_DOM, 2): (1, 0), (NAV_DOM, 1): (2, 1)}),
        ({"query": "count_rage_clicks:0 count_dead_clicks:>=1"}, {(SAVE_DOM, 2): (1, 0)}),
        ({"query": "count_dead_clicks:0 OR count_rage_clicks:1", "per_page": 2}, None),
    ],
)
def test_filters(sel: Client, params: dict, expected: dict | None) -> None:
    items = _items(sel, **params)
    if expected is not None:
        assert _by_dom(items) == expected
    else:
        assert len(items) == 2


def test_window(sel: Client) -> None:
    # The default window is 90 days: the replay of 20 days ago counts too.
    assert _by_dom(_get(sel).json()["data"])[(NAV_DOM, 1)] == (3, 1)
    assert _by_dom(_items(sel, statsPeriod="30d"))[(NAV_DOM, 1)] == (3, 1)
    assert (NAV_DOM, 1) not in _by_dom(_items(sel, statsPeriod="1h"))
    # The window edges cut by the click's own timestamp (clicks at 01:00:05.25 + index s).
    clicked = BASE + timedelta(hours=1, seconds=5, microseconds=250_000)
    edge = {"start": clicked.isoformat(), "end": (clicked + timedelta(seconds=1)).isoformat()}
    # Replay 1's first click, and replay 2's (same start) in staging.
    assert _by_dom(_get(sel, **edge).json()["data"]) == {
        (SAVE_DOM, 1): (1, 0),
        (NAV_DOM, 1): (1, 1),
    }


def test_sorts_and_paging(sel: Client) -> None:
    asc = [i["count_dead_clicks"] for i in _items(sel, sort="count_dead_clicks")]
    assert asc == sorted(asc)
    first = _get(sel, **WINDOW, per_page=2)
    assert len(first.json()["data"]) == 2
    assert 'rel="next"; results="true"; cursor="0:2:0"' in first.headers["Link"]
    assert 'rel="previous"; results="false"' in first.headers["Link"]
    rest = _get(sel, **WINDOW, per_page=2, cursor="0:2:0")
    last = _get(sel, **WINDOW, per_page=2, cursor="0:4:0")
    assert 'rel="previous"; results="true"' in rest.headers["Link"]
    assert 'rel="next"; results="false"' in last.headers["Link"]
    pages = first.json()["data"] + rest.json()["data"] + last.json()["data"]
    assert pages == _items(sel)
    # sortBy and orderBy are accepted and ignored, as Sentry's validator does.
    assert _items(sel, sortBy="nope", orderBy="nope") == _items(sel)


def test_default_page_is_a_hundred(sel: Client) -> None:
    assert 'cursor="0:100:0"' in _get(sel).headers["Link"]


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"sort": "foo"}, 400, "The field `foo` is not a sortable field."),
        ({"sort": "-count_errors"}, 400, "The field `count_errors` is not a sortable field."),
        ({"query": "click.tag:button"}, 400, "Unsupported search field: click.tag"),
        ({"query": "hello"}, 400, "Unsupported search field: message"),
        ({"query": "count_dead_clicks:abc"}, 400,
         "Could not parse value for `count_dead_clicks`. Detail: Failed to parse int."),
        ({"query": "(count_dead_clicks:1"}, 400, None),
        ({"per_page": "0"}, 400, "Invalid per_page value. Must be at least 1."),
        ({"per_page": "101"}, 400, "Invalid per_page value. Cannot exceed 100."),
        ({"per_page": "x"}, 400, "Invalid per_page parameter."),
        ({"cursor": "nope"}, 400, "Invalid cursor parameter."),
        ({"statsPeriod": "x"}, 400, "Invalid date range: Invalid statsPeriod: 'x'"),
        ({"start": "2026-01-01T00:00:00"}, 400,
         "Invalid date range: start and end are both required"),
        ({"project": "x"}, 400, "Invalid project parameter. Values must be numbers."),
        ({"project": "3"}, 403, "You do not have access to project 3"),
    ],
)  # fmt: skip
def test_errors(sel: Client, params: dict, status: int, detail: str | None) -> None:
    response = sel.get(ROUTE, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"}
    if detail is not None:
        assert body["detail"] == detail


def test_another_organization_is_not_found(sel: Client) -> None:
    response = sel.get("/api/0/organizations/globex/replay-selectors/")
    assert response.status_code == 404


def test_deleting_a_replay_takes_its_clicks_off(tmp_path: Path) -> None:
    stored = build_store(tmp_path / "store", SPECS)
    with serving(make_app(str(stored.path))) as base:
        client = Client(base, stored.tokens["acme"])
        before = _by_dom(_items(client))
        assert before[(SAVE_DOM, 1)] == (3, 1)
        deleted = client.request(
            "DELETE", f"/api/0/projects/acme/web/replays/{SPECS[0].replay_id}/"
        )
        assert deleted.status_code == 204
        after = _by_dom(_items(client))
        assert (SAVE_DOM, 1) not in after and ("div.b.a", 1) not in after
        assert after[(NAV_DOM, 1)] == (1, 1) and after[(SAVE_DOM, 2)] == (1, 0)
