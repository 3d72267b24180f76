"""The OpenAPI document against the live server: no 5xx, responses conform (schemathesis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from replaystore.server import make_app
from replaystore.web.pages import PAGES
from replaystore.wsgi import ROUTES
from tests.api.conftest import Client
from tests.conftest import ORG, REPLAYS, build_store, serving

DOCUMENT = json.loads(resources.files("replaystore").joinpath("openapi.json").read_text())
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


def test_every_route_is_documented_and_nothing_else() -> None:
    documented = {
        (method.upper(), path.replace("{organization_slug}", "{org}").replace(
            "{project_slug}", "{project}"))
        for path, operations in DOCUMENT["paths"].items()
        for method in operations
    }  # fmt: skip
    # The web pages and their static files are HTML, not API (replaystore/web).
    pages = {*PAGES, "static"}
    assert documented == {(r.method, r.template) for r in ROUTES if r.name not in pages}


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


# Operations that write (a view, a deletion job deleting what it matches) run against a
# scratch store of their own, never the shared fixture the other tests read.
WRITING = ("POST /api/0/projects/{organization_slug}/{project_slug}/replays/",)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    store = build_store(tmp_path_factory.mktemp("openapi-scratch"), REPLAYS[:3])
    app = make_app(str(store.path))
    with serving(app) as base:
        yield Client(base, store.tokens[ORG])
    app.close()


@pytest.mark.parametrize("operation", [op.ok() for op in SCHEMA.get_all_operations()], ids=str)
def test_no_server_errors_and_conforming_responses(
    operation, client: Client, request: pytest.FixtureRequest
) -> None:
    shared = client
    if operation.label.startswith(WRITING):
        client = request.getfixturevalue("scratch")
    headers = {"Authorization": f"Bearer {client.token}"}
    # A job's 400 also carries DRF's field errors under `data`.
    error_keys = (
        [{"detail"}, {"detail", "data"}] if "jobs/delete" in operation.label else [{"detail"}]
    )

    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def run(case) -> None:
        response = case.call(base_url=client.base, headers=headers)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert set(response.json()) in error_keys
        case.validate_response(response, checks=CHECKS)

    run()
    if operation.label.startswith(WRITING):  # the shared fixture saw no job and no view
        assert shared.get("/api/0/projects/acme/web/replays/jobs/delete/").json() == {"data": []}
