"""Viewed-by: tokens act as users, POST records a view, GET lists viewers
with Sentry's 18 user keys, `has_viewed` per user, viewer searches, purge on DELETE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from replaystore.catalog import Catalog
from replaystore.cli import main
from replaystore.query.viewed_by import NO_USER
from replaystore.server import make_app
from replaystore.storage.store import Store
from tests.api.conftest import Client
from tests.conftest import ORG, OTHER_ORG, REPLAYS, FixtureStore, build_store, rid, serving
from tests.robustness.scan import find

R1, R2, R3 = rid(1), rid(2), rid(3)
WEB = "/api/0/projects/acme/web/replays"
LIST = "/api/0/organizations/acme/replays/"
NOT_INT = "Could not parse value for `viewed_by_id`. Detail: Failed to parse int."
USER_KEYS = {
    "id", "name", "username", "email", "avatarUrl", "avatar", "emails", "experiments",
    "has2fa", "hasPasswordAuth", "isActive", "isManaged", "isStaff", "isSuperuser",
    "dateJoined", "lastActive", "lastLogin", "type",
}  # fmt: skip


@pytest.fixture(scope="module", params=["duckdb", "clickhouse"])
def engine(request: pytest.FixtureRequest) -> str:
    """Every test here runs on both engines (issue 13), each over a store of its own."""
    return request.param


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, engine: str) -> FixtureStore:
    return build_store(tmp_path_factory.mktemp(f"viewed-{engine}"), REPLAYS[:3])


@pytest.fixture(scope="module")
def base(store: FixtureStore, engine: str) -> Iterator[str]:
    app = make_app(str(store.path), engine=engine)
    with serving(app) as url:
        yield url
    app.close()


def _token(store: FixtureStore, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["token", "add", "--data", str(store.path), *args]) == 0
    return capsys.readouterr().out.strip()


@pytest.fixture(scope="module")
def dana(store: FixtureStore) -> str:
    return Catalog(store.path).add_token(ORG, user_id=7, email="dana@example.test", name="Dana")


@pytest.fixture(scope="module")
def eve(store: FixtureStore) -> str:
    return Catalog(store.path).add_token(ORG, user_id=8, name="Eve")


def _as(base: str, token: str) -> Client:
    return Client(base, token)


def test_token_add_acts_as_a_user(store: FixtureStore, capsys: pytest.CaptureFixture[str]) -> None:
    token = _token(
        store, "--org", ORG, "--user-id", "42", "--email", "x@acme.test", "--name", "X",
        capsys=capsys,
    )  # fmt: skip
    user = Catalog(store.path).user_for_token(token)
    assert (user.id, user.email, user.name) == (42, "x@acme.test", "X")
    # a second token of the same user keeps the user's details unless given again
    again = Catalog(store.path).user_for_token(
        _token(store, "--org", ORG, "--user-id", "42", capsys=capsys)
    )
    assert (again.id, again.email, again.name) == (42, "x@acme.test", "X")
    fresh = Catalog(store.path).user_for_token(_token(store, "--org", ORG, capsys=capsys))
    assert fresh is not None and fresh.id not in (42, 7, 8) and fresh.id > 0


@pytest.mark.parametrize("value", ["0", "-3", "abc"])
def test_token_add_refuses_a_bad_user_id(store: FixtureStore, value: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["token", "add", "--data", str(store.path), "--org", ORG, "--user-id", value])
    assert exit_.value.code == 2


def test_post_records_a_view_and_get_lists_the_viewer(base: str, dana: str) -> None:
    client = _as(base, dana)
    answer = client.request("POST", f"{WEB}/{R1}/viewed-by/")
    assert (answer.status_code, answer.content) == (204, b"")
    viewers = client.get(f"{WEB}/{R1}/viewed-by/").json()
    assert list(viewers) == ["data"] and list(viewers["data"]) == ["viewed_by"]
    (user,) = viewers["data"]["viewed_by"]
    assert set(user) == USER_KEYS
    assert (user["id"], user["name"], user["email"], user["type"]) == (
        "7", "Dana", "dana@example.test", "user",
    )  # fmt: skip
    assert set(user["avatar"]) == {"avatarType", "avatarUuid", "avatarUrl"}
    assert user["emails"] == [{"id": "7", "email": "dana@example.test", "is_verified": False}]
    assert user["experiments"] == {} and user["lastLogin"] is None
    assert all(isinstance(user[k], bool) for k in ("has2fa", "isActive", "isStaff"))


def test_a_second_view_by_the_same_user_is_one_viewer(base: str, dana: str, eve: str) -> None:
    for token in (dana, dana, eve):
        assert _as(base, token).request("POST", f"{WEB}/{R2}/viewed-by/").status_code == 204
    viewers = _as(base, dana).get(f"{WEB}/{R2}/viewed-by/").json()["data"]["viewed_by"]
    assert [u["id"] for u in viewers] == ["7", "8"]


def test_a_replay_nobody_viewed_has_no_viewers(base: str, dana: str) -> None:
    shop = "/api/0/projects/acme/shop/replays"
    assert _as(base, dana).get(f"{shop}/{R3}/viewed-by/").json() == {"data": {"viewed_by": []}}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "replay_id",
    [rid(4242), "not-a-uuid", R3],  # unknown, malformed, of another project
)
def test_unknown_replays_are_404(base: str, dana: str, method: str, replay_id: str) -> None:
    answer = _as(base, dana).request(method, f"{WEB}/{replay_id}/viewed-by/")
    assert answer.status_code == 404 and answer.json()["detail"]


def test_a_token_acting_as_no_user_cannot_record_a_view(store: FixtureStore, base: str) -> None:
    # A token made before tokens had users (the fixture's are new: take a catalog entry
    # without its user, as an older catalog holds it).
    catalog = Catalog(store.path)
    token = catalog.add_token(ORG)
    data = catalog.data()
    digest = data.token_hashes[-1][0]
    import dataclasses

    catalog._publish(
        dataclasses.replace(data, token_users=tuple(t for t in data.token_users if t[0] != digest))
    )
    assert catalog.user_for_token(token) is None
    answer = _as(base, token).request("POST", f"{WEB}/{R1}/viewed-by/")
    assert answer.status_code == 400 and answer.json() == {"detail": NO_USER}
    assert _as(base, token).get(f"{LIST}?field=id&field=has_viewed").status_code == 200


def test_other_organizations_tokens_get_404(store: FixtureStore, base: str) -> None:
    other = Client(base, store.tokens[OTHER_ORG])
    assert other.request("POST", f"{WEB}/{R1}/viewed-by/").status_code == 404
    assert other.get(f"{WEB}/{R1}/viewed-by/").status_code == 404


def _has_viewed(client: Client, *params: tuple[str, str]) -> dict[str, bool]:
    answer = client.get(LIST, params=[("statsPeriod", "90d"), *params])
    assert answer.status_code == 200, answer.text
    return {r["id"]: r["has_viewed"] for r in answer.json()["data"]}


@pytest.fixture
def viewed(tmp_path: Path, engine: str) -> Iterator[tuple[str, str, str]]:
    """A store of its own (the module's is viewed by tests in any order): Dana viewed R1 and
    R2, Eve viewed R2. Yields the server's URL and Dana's and Eve's tokens."""
    store = build_store(tmp_path / "viewed", REPLAYS[:3])
    catalog = Catalog(store.path)
    dana = catalog.add_token(ORG, user_id=7, email="dana@example.test", name="Dana")
    eve = catalog.add_token(ORG, user_id=8, name="Eve")
    app = make_app(str(store.path), engine=engine)
    with serving(app) as base:
        for token, replay_id in ((dana, R1), (dana, R2), (eve, R2)):
            assert (
                _as(base, token).request("POST", f"{WEB}/{replay_id}/viewed-by/").status_code == 204
            )
        yield base, dana, eve
    app.close()


def test_has_viewed_is_per_requesting_user(viewed: tuple[str, str, str]) -> None:
    base, dana, eve = viewed
    assert _has_viewed(_as(base, dana)) == {R1: True, R2: True, R3: False}
    assert _has_viewed(_as(base, eve)) == {R1: False, R2: True, R3: False}
    # computed when it is the only field asked for too (unlike Sentry in 2024)
    only = _has_viewed(_as(base, eve), ("field", "id"), ("field", "has_viewed"))
    assert only == {R1: False, R2: True, R3: False}
    details = _as(base, eve).get(f"{WEB}/{R2}/").json()["data"]
    assert details["has_viewed"] is True
    assert (
        _as(base, eve).get(f"/api/0/organizations/acme/replays/{R1}/").json()["data"]["has_viewed"]
        is False
    )


def _ids(client: Client, query: str) -> set[str]:
    answer = client.get(LIST, params={"statsPeriod": "90d", "query": query, "field": "id"})
    assert answer.status_code == 200, answer.text
    return {r["id"] for r in answer.json()["data"]}


def test_searches_over_stored_views(viewed: tuple[str, str, str]) -> None:
    base, dana, eve = viewed
    client = _as(base, eve)
    assert _ids(client, "viewed_by_me:true") == {R2}
    assert _ids(client, "seen_by_me:FALSE") == {R1, R3}
    assert _ids(_as(base, dana), "viewed_by_me:true") == {R1, R2}
    assert _ids(client, "viewed_by_id:7") == {R1, R2}
    assert _ids(client, "seen_by_id:[8, 9]") == {R2}
    assert _ids(client, "!viewed_by_id:7") == {R3}
    assert _ids(client, "!seen_by_id:[7, 8]") == {R3}
    assert _ids(client, "viewed_by_id:0") == {R1, R2, R3}
    assert _ids(client, "(viewed_by_me:true OR count_errors:>1) AND !viewed_by_id:9") == {R1, R2}


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("viewed_by_me:potato", "Could not parse value for `viewed_by_me`"),
        ("viewed_by_me:<true", "Could not parse value for `viewed_by_me`"),
        ("!viewed_by_me:true", "Invalid operator specified for `viewed_by_me`"),
        ("seen_by_me:[true]", "Invalid operator specified for `seen_by_me`"),
        ("viewed_by_id:abc", f"{NOT_INT}"),
        ("viewed_by_id:[1, x]", f"{NOT_INT}"),
        ("viewed_by_id:>1", f"{NOT_INT}"),
    ],
)  # fmt: skip
def test_viewer_search_errors(base: str, dana: str, query: str, detail: str) -> None:
    answer = _as(base, dana).get(LIST, params={"query": query})
    assert answer.status_code == 400 and answer.json() == {"detail": detail}


def test_a_view_never_changes_finished_at(base: str, dana: str, eve: str) -> None:
    before = _as(base, dana).get(f"{WEB}/{R1}/").json()["data"]
    _as(base, eve).request("POST", f"{WEB}/{R1}/viewed-by/")
    after = _as(base, dana).get(f"{WEB}/{R1}/").json()["data"]
    assert (after["finished_at"], after["duration"]) == (before["finished_at"], before["duration"])


def test_delete_purges_the_replays_views(tmp_path: Path) -> None:
    own = build_store(tmp_path / "data", REPLAYS[:2])
    token = Catalog(own.path).add_token(ORG, user_id=5150, email="viewer-5150@example.test")
    app = make_app(str(own.path))
    try:
        with serving(app) as url:
            client = Client(url, token)
            assert client.request("POST", f"{WEB}/{R1}/viewed-by/").status_code == 204
            assert client.request("POST", f"{WEB}/{R2}/viewed-by/").status_code == 204
            marker = R1.encode()
            assert find(own.path / "tables" / "viewers", [marker])  # the scan sees it stored
            assert client.request("DELETE", f"{WEB}/{R1}/").status_code == 204
            assert client.get(f"{WEB}/{R1}/viewed-by/").json() == {"data": {"viewed_by": []}}
            assert _has_viewed(client) == {R1: False, R2: True}
            assert _ids(client, "viewed_by_me:true") == {R2}
            # an archived replay records no new view
            assert client.request("POST", f"{WEB}/{R1}/viewed-by/").status_code == 204
            assert client.get(f"{WEB}/{R1}/viewed-by/").json() == {"data": {"viewed_by": []}}
    finally:
        app.close()
    Store.open(str(own.path)).compact(retention=__import__("datetime").timedelta(0))
    assert find(own.path / "tables" / "viewers", [R1.encode()]) == []
    assert find(own.path / "tables" / "viewers", [R2.encode()])  # the other view stays


def test_a_read_only_server_lists_viewers_but_records_none(store: FixtureStore, dana: str) -> None:
    reader = make_app(str(store.path), read_only=True)
    with serving(reader) as url:
        client = _as(url, dana)
        answer = client.request("POST", f"{WEB}/{R1}/viewed-by/")
        assert answer.status_code == 503 and "read-only" in answer.json()["detail"]
        listed = client.get(f"{WEB}/{R1}/viewed-by/")
        assert listed.status_code == 200 and "viewed_by" in listed.json()["data"]


def test_before_any_view_is_stored(tmp_path: Path) -> None:
    """No view in the store: nothing viewed by anyone, whatever the user (the list then skips
    its views query)."""
    own = build_store(tmp_path / "data", REPLAYS[:2])
    token = Catalog(own.path).add_token(ORG, user_id=3)
    app = make_app(str(own.path))
    try:
        with serving(app) as url:
            client = Client(url, token)
            assert _has_viewed(client) == {R1: False, R2: False}
            assert _ids(client, "viewed_by_me:true") == set()
            assert _ids(client, "viewed_by_me:false") == {R1, R2}
            assert _ids(client, "!viewed_by_id:3") == {R1, R2}
            assert client.get(f"{WEB}/{R1}/").json()["data"]["has_viewed"] is False
    finally:
        app.close()
