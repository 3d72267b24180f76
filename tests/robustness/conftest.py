"""Live servers for the robustness tests, each over its own writable store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from replaystore.server import make_app
from replaystore.wsgi import WsgiApp
from tests.conftest import ORG, FixtureStore, build_store, serving
from tests.robustness.wire import Wire


@dataclass
class Live:
    store: FixtureStore
    app: WsgiApp
    base: str
    wire: Wire  # bearer token of ORG

    @property
    def root(self) -> Path:
        return self.store.path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A fixture store (tests.conftest.REPLAYS) served in this process; writable."""
    store = build_store(tmp_path_factory.mktemp("robust") / "data")
    app = make_app(str(store.path))
    with serving(app) as base:
        yield Live(store, app, base, Wire(base, store.tokens[ORG]))
