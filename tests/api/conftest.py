"""A live server over the shared fixture store, and a client that speaks to it; the same
store on S3 (`weed mini`) behind a read-only server, for the modules that run on both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from replaystore.server import make_app
from tests.conftest import ORG, FixtureStore, build_store, serving
from tests.s3server import S3Server

STORES = ("local", "s3")  # `client_on_every_store` runs a module's tests on each


@dataclass
class Client:
    base: str
    token: str | None

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)


@pytest.fixture(scope="session")
def live(fixture_store: FixtureStore) -> Iterator[str]:
    with serving(make_app(str(fixture_store.path))) as base:
        yield base


@pytest.fixture(scope="session")
def local_client(live: str, fixture_store: FixtureStore) -> Client:
    return Client(live, fixture_store.tokens[ORG])


@pytest.fixture(scope="session")
def client(local_client: Client) -> Client:
    return local_client


@pytest.fixture(scope="session")
def s3_client(s3_server: S3Server) -> Iterator[Client]:
    """The fixture store written to S3, served read-only (issue 13: the list, search and
    details tests pass with the store on S3)."""
    stored = build_store(s3_server.url("api-fixture"))  # type: ignore[arg-type]
    with serving(make_app(str(stored.path), read_only=True)) as base:
        yield Client(base, stored.tokens[ORG])


def client_on_every_store(request: pytest.FixtureRequest) -> Client:
    """Bind as a module's `client` fixture to run its tests on a local and an S3 store."""
    name = "local_client" if request.param == "local" else "s3_client"
    return request.getfixturevalue(name)
