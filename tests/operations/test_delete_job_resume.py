"""A deletion job survives its server: killed (SIGKILL) or stopped (SIGTERM) in the
middle of a job, the next `replaystore serve` resumes it from its checkpoint and the count
comes out exact."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from replaystore.storage.delete_jobs import IN_PROGRESS, PENDING, get_job
from replaystore.storage.store import Store
from tests.conftest import ORG, ReplaySpec, build_store
from tests.server_process import ServerProcess

JOBS = "/api/0/projects/acme/web/replays/jobs/delete/"
LIST = "/api/0/organizations/acme/replays/"
REPLAYS = 105  # more than a page of 100, so a checkpoint falls inside the job
WAIT_SECONDS = 600  # bounded waits on a shared machine, not timing assertions


def _get(server: ServerProcess, token: str, path: str, **params: object) -> dict:
    answer = requests.get(
        server.base + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _archived(server: ServerProcess, token: str) -> int:
    found = _get(
        server, token, LIST, statsPeriod="90d", query="is_archived:true", field="id", per_page=100
    )
    return len(found["data"])


def _until(server: ServerProcess, condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"never: {what}; server log:\n{server.log.read_text()[-5000:]}")


@pytest.mark.parametrize("how", ["kill", "term"])
def test_a_job_resumes_after_its_server_dies(tmp_path: Path, how: str) -> None:
    specs = tuple(ReplaySpec(100 + n) for n in range(REPLAYS))
    store = build_store(tmp_path / "data", specs)
    token = store.tokens[ORG]
    server = ServerProcess(store.path, auth=True)
    server.start()
    try:
        body = {
            "data": {
                "rangeStart": "2000-01-01T00:00:00Z",
                "rangeEnd": "2100-01-01T00:00:00Z",
                "environments": [],
                "query": "",
            }
        }
        created = requests.post(
            server.base + JOBS, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        assert created.status_code == 201, created.text
        job_id = created.json()["data"]["id"]
        _until(server, lambda: _archived(server, token) >= 3, "the job deleted its first replays")
        if how == "kill":
            server.kill()
        else:
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=WAIT_SECONDS) == 0
        stopped = get_job(Store.open(str(store.path)), job_id)
        assert stopped is not None and stopped.status in (PENDING, IN_PROGRESS)  # mid-job
        server.start()
        _until(
            server,
            lambda: _get(server, token, f"{JOBS}{job_id}/")["data"]["status"] != "in-progress",
            "the restarted server finished the job",
        )
        done = _get(server, token, f"{JOBS}{job_id}/")["data"]
        assert done["status"] == "completed", server.log.read_text()[-5000:]
        assert done["countDeleted"] == REPLAYS  # exact: nothing counted twice or lost
        left = _get(server, token, LIST, statsPeriod="90d", query="is_archived:false", field="id")
        assert left["data"] == []
    finally:
        server.stop()
    assert "delete job" in server.log.read_text() or how == "kill"
