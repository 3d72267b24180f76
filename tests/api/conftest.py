"""A live server over the shared fixture store, and a client that speaks to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from replaystore.wsgi import make_app
from tests.conftest import ORG, FixtureStore, serving


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
def client(live: str, fixture_store: FixtureStore) -> Client:
    return Client(live, fixture_store.tokens[ORG])
