"""The list, search and details API tests, run again with `--engine clickhouse` (chdb), on a
local store and on the S3 server (issue 13: "with --engine clickhouse locally and on S3").

The test functions are the API suite's own, collected here a second time: this module's
`client` fixture points them at a server whose engine is ClickHouse over the same kind of
fixture store, so each asserts exactly what it asserts on DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from replaystore.server import make_app
from tests.api.conftest import Client
from tests.api.test_recordings_clicks_tags import (  # noqa: F401 - collected again here
    test_clicks,
    test_search,
    test_search_error_is_400,
    test_segment_metadata_list,
    test_tag_keys,
    test_tag_values,
)
from tests.api.test_replays import (  # noqa: F401 - collected again here
    test_default_page_is_ten_of_the_last_seven_days,
    test_fetch_defaults_to_ninety_days,
    test_field_selection,
    test_filters,
    test_offset_and_cursor_paging_cover_everything_once,
    test_org_wide_fetch_finds_any_project,
    test_seed_example_shape_and_values,
    test_sorts,
)
from tests.conftest import ORG, FixtureStore, build_store, serving


@pytest.fixture(scope="module", params=["local", "s3"])
def clickhouse_live(
    request: pytest.FixtureRequest, fixture_store: FixtureStore
) -> Iterator[tuple[str, object, str]]:
    """A read server beside the store's writer, as deployed: over the local fixture store,
    or over the same replays written to the S3 server."""
    stored = fixture_store
    if request.param == "s3":
        stored = build_store(request.getfixturevalue("s3_server").url("api-clickhouse"))
    app = make_app(str(stored.path), engine="clickhouse", read_only=True)
    with serving(app) as base:
        yield base, app, stored.tokens[ORG]


@pytest.fixture(scope="module")
def client(clickhouse_live: tuple[str, object, str]) -> Client:
    return Client(clickhouse_live[0], clickhouse_live[2])


def test_the_server_runs_clickhouse(clickhouse_live: tuple[str, object, str]) -> None:
    app = clickhouse_live[1]
    assert app.engine.name == "clickhouse"  # type: ignore[attr-defined]
