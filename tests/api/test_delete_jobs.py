"""Bulk deletion jobs: validation with DRF's texts, the job object, the
list's page-number paging, background execution deleting exactly as DELETE, the CLI and the
Python store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from deltalake import DeltaTable

import replaystore
from replaystore.catalog import Catalog
from replaystore.cli import main
from replaystore.job_params import BAD_DATETIME, JOB_NOT_FOUND, NUL, RANGE_ORDER, REQUIRED
from replaystore.server import make_app
from replaystore.storage import delete_jobs
from replaystore.storage.store import Store
from tests.api.conftest import Client
from tests.conftest import BASE, ORG, REPLAYS, FixtureStore, ReplaySpec, build_store, rid, serving
from tests.robustness.scan import find
from tests.server_process import ServerProcess

JOBS = "/api/0/projects/acme/web/replays/jobs/delete/"
WEB = "/api/0/projects/acme/web/replays"
WAIT_SECONDS = 120  # a bounded wait for the background runner, not a timing assertion
# Replays of project 1 (web) unless said: 1 production alice, 2 staging bob, 4 twenty days
# earlier, 5 production carol, 6 of project 2 (shop).
SPECS: tuple[ReplaySpec, ...] = (
    REPLAYS[0],
    REPLAYS[1],
    ReplaySpec(4, start=timedelta(days=-20)),
    ReplaySpec(5, start=timedelta(hours=4), user=("u5", "carol", "carol@acme.test", "10.0.0.5")),
    ReplaySpec(6, project_id=2, start=timedelta(hours=5)),
)
NUMBER = "Expected number then optional k, m, or b suffix (e.g. 500k)."
WIDE = {"rangeStart": "2000-01-01T00:00:00Z", "rangeEnd": "2100-01-01T00:00:00Z"}


def _body(**data: Any) -> dict[str, Any]:
    return {"data": {**WIDE, "environments": [], "query": "", **data}}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Client, FixtureStore]]:
    store = build_store(tmp_path / "data", SPECS)
    app = make_app(str(store.path))
    with serving(app) as base:
        yield Client(base, store.tokens[ORG]), store
    app.close()


def _wait(client: Client, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        job = client.get(f"{JOBS}{job_id}/").json()["data"]
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never finished: {job}")


def _archived(client: Client) -> dict[str, bool]:
    answer = client.get(
        "/api/0/organizations/acme/replays/",
        params={"statsPeriod": "90d", "field": ["id", "is_archived"], "per_page": 100},
    )
    return {r["id"]: r["is_archived"] for r in answer.json()["data"]}


# ---- validation

DATETIME = [BAD_DATETIME]
CASES = [
    ({}, {"data": [REQUIRED]}),
    ({"data": "x"}, {"data": {"non_field_errors": [
        "Invalid data. Expected a dictionary, but got str."]}}),
    ({"data": {}}, {"data": {k: [REQUIRED] for k in
                             ("rangeStart", "rangeEnd", "environments", "query")}}),
    (_body(rangeStart="yesterday"), {"data": {"rangeStart": DATETIME}}),
    (_body(rangeEnd=12), {"data": {"rangeEnd": DATETIME}}),
    (_body(rangeStart=None), {"data": {"rangeStart": ["This field may not be null."]}}),
    (_body(environments="production"), {"data": {"environments": [
        'Expected a list of items but got type "str".']}}),
    (_body(environments=["production", " ", {}]), {"data": {"environments": {
        "1": ["This field may not be blank."], "2": ["Not a valid string."]}}}),
    (_body(environments=None), {"data": {"environments": ["This field may not be null."]}}),
    (_body(query=["a"]), {"data": {"query": ["Not a valid string."]}}),
    (_body(query="a\x00b", environments=["p\x00"]), {"data": {
        "environments": {"0": [NUL]}, "query": [NUL]}}),
    (_body(rangeStart="2025-10-08T00:00:00Z", rangeEnd="2025-10-08T00:00:00Z"),
     {"data": {"non_field_errors": [RANGE_ORDER]}}),
    (_body(rangeStart="2025-10-09", rangeEnd="2025-10-08"),
     {"data": {"non_field_errors": [RANGE_ORDER]}}),
]  # fmt: skip


@pytest.mark.parametrize(("body", "errors"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_create_validation_texts(
    served: tuple[Client, FixtureStore], body: dict, errors: dict
) -> None:
    client, _ = served
    answer = client.request("POST", JOBS, json=body)
    assert answer.status_code == 400
    got = answer.json()
    assert isinstance(got.pop("detail"), str) and got == errors
    assert client.get(JOBS).json() == {"data": []}  # nothing was created


def test_the_detail_names_the_first_problem(served: tuple[Client, FixtureStore]) -> None:
    client, _ = served
    answer = client.request("POST", JOBS, json=_body(rangeStart="nope"))
    assert answer.json()["detail"] == f"data.rangeStart: {BAD_DATETIME}"


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("count_errors:>abc", f"count_errors: Invalid number: >abc. {NUMBER}"),
        ("browser.name:Chrome AND", None),
        ("viewed_by_me:potato", "Could not parse value for `viewed_by_me`"),
    ],
)
def test_a_bad_search_is_refused_at_creation(
    served: tuple[Client, FixtureStore], query: str, detail: str | None
) -> None:
    """A deviation from Sentry, which accepts it and fails the job later."""
    client, _ = served
    answer = client.request("POST", JOBS, json=_body(query=query))
    assert answer.status_code == 400 and set(answer.json()) == {"detail"}
    same = client.get("/api/0/organizations/acme/replays/", params={"query": query}).json()
    assert answer.json()["detail"] == same["detail"]
    if detail is not None:
        assert answer.json()["detail"] == detail


@pytest.mark.parametrize("body", [b"", b"not json", b"[1]", b'"x"'])
def test_a_body_that_is_no_json_object_is_400(
    served: tuple[Client, FixtureStore], body: bytes
) -> None:
    client, _ = served
    answer = client.request("POST", JOBS, data=body)
    assert answer.status_code == 400 and answer.json()["detail"]


# ---- the job and what it deletes


def test_create_answers_201_pending_then_the_job_completes(
    served: tuple[Client, FixtureStore],
) -> None:
    client, _ = served
    answer = client.request(
        "POST", JOBS,
        json=_body(rangeStart="2000-01-01T00:00:00", environments=["production"], query=None),
    )  # fmt: skip
    assert answer.status_code == 201
    job = answer.json()["data"]
    assert set(job) == {
        "id", "dateCreated", "dateUpdated", "rangeStart", "rangeEnd", "environments",
        "status", "query", "countDeleted",
    }  # fmt: skip
    assert (job["status"], job["countDeleted"], job["query"]) == ("pending", 0, "")
    assert job["environments"] == ["production"] and isinstance(job["id"], int)
    assert job["rangeStart"] == "2000-01-01T00:00:00.000000+00:00"  # naive is UTC
    done = _wait(client, job["id"])
    # production replays of project 1: 1, 4, 5 (2 is staging, 6 another project)
    assert (done["status"], done["countDeleted"]) == ("completed", 3)
    assert done["dateUpdated"] >= done["dateCreated"]
    assert _archived(client) == {
        rid(1): True, rid(2): False, rid(4): True, rid(5): True, rid(6): False,
    }  # fmt: skip


def test_query_and_range_select_what_is_deleted(served: tuple[Client, FixtureStore]) -> None:
    client, _ = served
    recent = (BASE - timedelta(days=1)).isoformat()
    body = _body(rangeStart=recent, query="user.email:*@acme.test !user.username:alice")
    job = client.request("POST", JOBS, json=body).json()["data"]
    assert _wait(client, job["id"])["countDeleted"] == 2  # bob (2) and carol (5); 4 too old
    assert _archived(client) == {
        rid(1): False, rid(2): True, rid(4): False, rid(5): True, rid(6): False,
    }  # fmt: skip
    # a second run over the same replays deletes nothing more (they are archived)
    again = client.request("POST", JOBS, json=body).json()["data"]
    assert (_wait(client, again["id"])["countDeleted"], again["id"]) == (0, job["id"] + 1)


def test_a_job_deletes_exactly_as_delete_does(tmp_path: Path) -> None:
    """Two stores of the same replays: one DELETEd by hand, one by a job; every route then
    answers the same for the deleted replay, and no recording or personal data is left."""
    answers = []
    for way in ("delete", "job"):
        store = build_store(tmp_path / way, SPECS)
        app = make_app(str(store.path))
        with serving(app) as base:
            client = Client(base, store.tokens[ORG])
            if way == "delete":
                assert client.request("DELETE", f"{WEB}/{rid(2)}/").status_code == 204
            else:
                body = _body(query="user.username:bob")
                job = client.request("POST", JOBS, json=body).json()["data"]
                assert _wait(client, job["id"])["countDeleted"] == 1
            answers.append(
                [
                    client.get(f"{WEB}/{rid(2)}/").json(),
                    client.get(f"{WEB}/{rid(2)}/recording-segments/").json(),
                    client.get(f"{WEB}/{rid(2)}/clicks/").json(),
                    client.get(f"{WEB}/{rid(2)}/recording-segments/0/").status_code,
                    client.request("DELETE", f"{WEB}/{rid(2)}/").status_code,
                ]
            )
        app.close()
        assert Store.open(str(store.path)).read_blob(1, rid(2), 0) is None
        Store.open(str(store.path)).compact(retention=timedelta(0))
        assert find(store.path, [b"bob@acme.test", b"10.0.0.2"]) == []
        assert find(store.path, [b"carol@acme.test"])  # the other replays stay
    assert answers[0] == answers[1]
    assert answers[0][0]["data"]["is_archived"] is True and answers[0][3:] == [404, 404]


# ---- list and one


def test_list_newest_first_with_page_number_cursors(served: tuple[Client, FixtureStore]) -> None:
    client, _ = served
    ids = [
        client.request("POST", JOBS, json=_body(query=f"user.username:nobody{i}")).json()["data"][
            "id"
        ]
        for i in range(3)
    ]
    listed = client.get(JOBS).json()["data"]
    assert [j["id"] for j in listed] == ids[::-1]
    first = client.get(JOBS, params={"per_page": 2})
    assert [j["id"] for j in first.json()["data"]] == [ids[2], ids[1]]
    link = first.headers["Link"]
    assert 'rel="next"; results="true"; cursor="2:1:0"' in link
    assert 'rel="previous"; results="false"; cursor="2:0:1"' in link
    second = client.get(JOBS, params={"per_page": 2, "cursor": "2:1:0"})
    assert [j["id"] for j in second.json()["data"]] == [ids[0]]
    assert 'rel="next"; results="false"' in second.headers["Link"]
    one = client.get(f"{JOBS}{ids[1]}/").json()
    assert one == {"data": next(j for j in listed if j["id"] == ids[1])}


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"per_page": "x"}, "Invalid per_page parameter."),
        ({"per_page": "0"}, "Invalid per_page parameter."),
        ({"per_page": "101"}, "Invalid per_page value. Cannot exceed 100."),
        ({"cursor": "abc"}, "Invalid cursor parameter."),
        ({"cursor": "1:x:0"}, "Invalid cursor parameter."),
    ],
)
def test_list_paging_errors(served: tuple[Client, FixtureStore], params: dict, detail: str) -> None:
    client, _ = served
    answer = client.get(JOBS, params=params)
    assert (answer.status_code, answer.json()) == (400, {"detail": detail})


def test_unknown_and_other_projects_jobs_are_404(served: tuple[Client, FixtureStore]) -> None:
    client, _ = served
    job = client.request("POST", JOBS, json=_body(query="user.username:nobody")).json()["data"]
    assert client.get(f"{JOBS}{job['id'] + 100}/").json() == {"detail": JOB_NOT_FOUND}
    shop = f"/api/0/projects/acme/shop/replays/jobs/delete/{job['id']}/"
    answer = client.get(shop)
    assert (answer.status_code, answer.json()) == (404, {"detail": JOB_NOT_FOUND})
    assert client.get("/api/0/projects/acme/shop/replays/jobs/delete/").json() == {"data": []}
    assert client.get(f"{JOBS}abc/").status_code == 404
    assert client.get("/api/0/projects/acme/nope/replays/jobs/delete/").status_code == 404


def test_a_read_only_server_refuses_to_create_jobs(served: tuple[Client, FixtureStore]) -> None:
    client, store = served
    client.request("POST", JOBS, json=_body(query="user.username:nobody"))
    reader = make_app(str(store.path), read_only=True)
    with serving(reader) as base:
        other = Client(base, store.tokens[ORG])
        answer = other.request("POST", JOBS, json=_body())
        assert answer.status_code == 503 and "read-only" in answer.json()["detail"]
        assert len(other.get(JOBS).json()["data"]) == 1  # it still lists them


# ---- the CLI and the Python store


def test_cli_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = build_store(tmp_path / "data", SPECS)
    args = ["delete", "--data", str(store.path), "--project", "1"]
    code = main(
        [*args, "--query", "user.username:carol", "--start", "2000-01-01", "--end", "2100-01-01"]
    )
    assert code == 0
    assert "1 replays deleted" in capsys.readouterr().out
    found = replaystore.open(store.path).get_replay(rid(5))
    assert found["is_archived"] is True
    assert replaystore.open(store.path).get_replay(rid(1))["is_archived"] is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "soon", "--end", "2100-01-01"], f"error: start: {BAD_DATETIME}"),
        (["--start", "2100-01-01", "--end", "2000-01-01"], "error: start must be before end"),
        (["--start", "2000-01-01", "--end", "2100-01-01", "--query", "count_errors:>x"],
         f"error: count_errors: Invalid number: >x. {NUMBER}"),
        (["--start", "2000-01-01", "--end", "2100-01-01", "--project", "77"],
         "error: no project with id 77"),
    ],
)  # fmt: skip
def test_cli_delete_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    store = build_store(tmp_path / "data", SPECS)
    args = ["delete", "--data", str(store.path), "--project", "1", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert all(
        not r["is_archived"] for r in replaystore.open(store.path).list_replays(stats_period="90d")
    )


def test_cli_delete_refuses_a_store_a_writer_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = build_store(tmp_path / "data", SPECS)
    server = ServerProcess(store.path)
    server.start()
    try:
        args = ["delete", "--data", str(store.path), "--project", "1"]
        assert main([*args, "--start", "2000-01-01", "--end", "2100-01-01"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "serve" in err
    finally:
        server.stop()


def test_python_store_delete_replays(tmp_path: Path) -> None:
    store = build_store(tmp_path / "data", SPECS)
    rs = replaystore.open(store.path)
    job = rs.delete_replays(
        1, start=datetime(2000, 1, 1, tzinfo=UTC), end="2100-01-01", environments=["staging"]
    )
    assert (job["status"], job["countDeleted"], job["environments"]) == (
        "completed", 1, ["staging"],
    )  # fmt: skip
    assert rs.get_replay(rid(2))["is_archived"] is True
    assert rs.get_replay(rid(1))["is_archived"] is False


def test_a_jobs_search_sees_errors_and_views(served: tuple[Client, FixtureStore]) -> None:
    """The full replay search (a deviation from Sentry, where a job sees segment rows only
    and `count_errors:>0` matches nothing); `viewed_by_me` is the job creator's views."""
    client, store = served
    dana = Client(client.base, Catalog(store.path).add_token(ORG, user_id=7))
    assert dana.request("POST", f"{WEB}/{rid(5)}/viewed-by/").status_code == 204
    job = dana.request("POST", JOBS, json=_body(query="viewed_by_me:true")).json()["data"]
    assert _wait(client, job["id"])["countDeleted"] == 1
    job = client.request("POST", JOBS, json=_body(query="count_errors:>1")).json()["data"]
    assert _wait(client, job["id"])["countDeleted"] == 1
    assert _archived(client) == {
        rid(1): True, rid(2): False, rid(4): False, rid(5): True, rid(6): False,
    }  # fmt: skip


def test_the_job_table_is_compacted_as_jobs_accumulate(tmp_path: Path) -> None:
    store = build_store(tmp_path / "data", SPECS)
    rs = replaystore.open(store.path)
    for _ in range(delete_jobs.COMPACT_FILES // 3 + 1):  # >= 3 state rows per job
        rs.delete_replays(1, start="2000-01-01", end="2000-01-02")
    files = DeltaTable(str(store.path / "tables" / delete_jobs.TABLE)).file_uris()
    assert len(files) < delete_jobs.COMPACT_FILES
    jobs = delete_jobs.all_jobs(rs.storage)
    assert len(jobs) == delete_jobs.COMPACT_FILES // 3 + 1
    assert {j.status for j in jobs} == {"completed"} and jobs[0].id == len(jobs)


def test_a_replay_is_matched_by_any_segment_in_the_range(
    served: tuple[Client, FixtureStore],
) -> None:
    """No segment-0 requirement. Replay 1's segments are at +10, +20, +30 s: a range
    holding only the last one deletes the whole replay (every blob, as DELETE; Sentry would
    leave the earlier segments' blobs), a range before its first segment deletes nothing."""
    client, store = served
    start = REPLAYS[0].started_at
    before = _body(
        rangeStart=start.isoformat(), rangeEnd=(start + timedelta(seconds=5)).isoformat()
    )
    job = client.request("POST", JOBS, json=before).json()["data"]
    assert _wait(client, job["id"])["countDeleted"] == 0
    last = _body(
        rangeStart=(start + timedelta(seconds=25)).isoformat(),
        rangeEnd=(start + timedelta(seconds=35)).isoformat(),
    )
    job = client.request("POST", JOBS, json=last).json()["data"]
    assert _wait(client, job["id"])["countDeleted"] == 1
    assert _archived(client)[rid(1)] is True
    assert all(Store.open(str(store.path)).read_blob(1, rid(1), n) is None for n in range(3))


def test_a_finished_job_is_counted_in_the_metrics(served: tuple[Client, FixtureStore]) -> None:
    client, _ = served

    def done() -> float:
        text = requests.get(f"{client.base}/metrics", timeout=30).text
        line = 'replaystore_maintenance_runs_total{outcome="done",task="delete-job"}'
        return next((float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)), 0.0)

    before = done()
    job = client.request("POST", JOBS, json=_body(query="user.username:nobody")).json()["data"]
    _wait(client, job["id"])
    assert done() == before + 1
