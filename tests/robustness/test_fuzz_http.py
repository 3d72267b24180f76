"""Fuzzing every route and parameter over a live server: nothing a client sends gives a 5xx.

Three generators: random requests per documented operation (path segments and query values
drawn from plausible values, the injection corpus and random text), grammar-shaped search
strings on every route that takes `query`, and schemathesis in positive and negative mode.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from importlib import resources

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from replaystore.server import make_app
from tests.conftest import ORG, build_store, rid, serving
from tests.robustness.budget import fuzz_settings
from tests.robustness.conftest import Live
from tests.robustness.generators import OPERATIONS, Operation, fuzz_request, search_query
from tests.robustness.wire import Wire, check_answer, query_string
from tests.search.strategies import click_queries, queries

# Deletes would empty the shared store; they are fuzzed against a replay nobody reads.
READ_OPERATIONS = tuple(op for op in OPERATIONS if op.method != "DELETE")
DELETE = next(op for op in OPERATIONS if op.method == "DELETE")


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.template}")
def test_random_requests_never_fail_the_server(live: Live, op: Operation) -> None:
    before = _replay_count(live)

    @fuzz_settings(100)
    @given(rng=st.randoms(use_true_random=False))
    def run(rng: random.Random) -> None:
        request = fuzz_request(rng, (op,))
        if op is DELETE:
            # Keep the fixture replays: only fuzz ids that are not one of them.
            request = _spare_fixture(request)
        answer = live.wire.request(request.method, request.target, body=request.body)
        check_answer(answer, request)

    run()
    if op is not DELETE:
        assert _replay_count(live) == before


def _spare_fixture(request):
    from dataclasses import replace

    for n in range(30):
        request = replace(request, target=request.target.replace(rid(n), rid(7_000 + n)))
    return request


def _replay_count(live: Live) -> int:
    answer = live.wire.get("/api/0/organizations/acme/replays/?statsPeriod=90d&per_page=100")
    assert answer.status == 200
    return len(answer.json()["data"])


SEARCH_ROUTES = (
    "/api/0/organizations/acme/replays/",
    f"/api/0/projects/acme/web/replays/{rid(1)}/clicks/",
    "/api/0/organizations/acme/tags/plan/values/",
    "/api/0/organizations/acme/replay-selectors/",
    "/api/0/organizations/acme/replay-count/",
)


@pytest.mark.parametrize("path", SEARCH_ROUTES)
def test_random_search_strings_answer_200_or_a_400_with_detail(live: Live, path: str) -> None:
    @fuzz_settings(150)
    @given(rng=st.randoms(use_true_random=False))
    def run(rng: random.Random) -> None:
        text = search_query(rng)
        answer = live.wire.get(f"{path}?{query_string([('query', text), ('statsPeriod', '90d')])}")
        check_answer(answer, text)
        assert answer.status in (200, 400), (text, answer.status, answer.body[:300])

    run()


@pytest.mark.parametrize(
    ("path", "strategy"),
    [(SEARCH_ROUTES[0], queries()), (SEARCH_ROUTES[1], click_queries())],
    ids=("replays", "clicks"),
)
def test_grammar_shaped_search_strings_over_http(live: Live, path: str, strategy) -> None:
    """The search tests' grammar strategies, now through the whole HTTP stack."""

    @fuzz_settings(120)
    @given(text=strategy)
    def run(text: str) -> None:
        answer = live.wire.get(f"{path}?{query_string([('query', text), ('statsPeriod', '90d')])}")
        check_answer(answer, text)
        assert answer.status in (200, 400), (text, answer.status, answer.body[:300])

    run()


DOCUMENT = json.loads(resources.files("replaystore").joinpath("openapi.json").read_text())
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
SCHEMA_OPERATIONS = [op.ok() for op in SCHEMA.get_all_operations()]


# DELETE is fuzzed above, away from the fixture replays; the routes without parameters (the
# OpenAPI document, /healthz, /metrics) have no invalid form.
NO_PARAMETERS = ("/api/0/openapi.json", "/healthz", "/metrics")
# Valid deletion jobs delete what they match: fuzzed against a store of their own below.
JOB_CREATION = "/api/0/projects/{organization_slug}/{project_slug}/replays/jobs/delete/"
SCHEMA_CASES = [
    pytest.param(op, mode, id=f"{op}-{mode}")
    for op in SCHEMA_OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if op.method.upper() != "DELETE"
    and not (op.method.upper() == "POST" and op.path == JOB_CREATION)
    and not (mode is GenerationMode.NEGATIVE and op.path in NO_PARAMETERS)
]
JOB_CASES = [
    pytest.param(op, mode, id=f"{op}-{mode}")
    for op in SCHEMA_OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if op.method.upper() == "POST" and op.path == JOB_CREATION
]


@pytest.mark.parametrize(("operation", "mode"), SCHEMA_CASES)
def test_schemathesis_cases_never_fail_the_server(live: Live, operation, mode) -> None:
    headers = {"Authorization": f"Bearer {live.wire.token}"}

    @fuzz_settings(25)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        response = case.call(base_url=live.base, headers=headers, timeout=60)
        assert response.status_code < 500, (case.path, case.query, response.text[:300])
        if response.status_code >= 400:
            assert isinstance(response.json().get("detail"), str), response.text[:300]

    run()


@pytest.fixture(scope="module")
def jobs_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A store of its own for deletion jobs that really delete (the runner works them)."""
    store = build_store(tmp_path_factory.mktemp("robust-jobs") / "data")
    app = make_app(str(store.path))
    with serving(app) as base:
        yield Live(store, app, base, Wire(base, store.tokens[ORG]))
    app.close()


@pytest.mark.parametrize(("operation", "mode"), JOB_CASES)
def test_schemathesis_job_creation_never_fails_the_server(jobs_live: Live, operation, mode) -> None:
    test_schemathesis_cases_never_fail_the_server(jobs_live, operation, mode)
    jobs = jobs_live.wire.get("/api/0/projects/acme/web/replays/jobs/delete/").json()["data"]
    assert all(job["status"] != "failed" for job in jobs), jobs
