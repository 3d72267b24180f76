"""Scoped access: hashed tokens, one organization per token, one project per route and DSN key."""

from __future__ import annotations

import hashlib
import random

import pytest

import replaystore.catalog as catalog_module
from tests.conftest import OTHER_ORG, rid
from tests.robustness.conftest import Live
from tests.robustness.envelopes import assemble, valid_envelope
from tests.robustness.generators import GOOD, OPERATIONS
from tests.robustness.wire import check_answer, segment

WEB, SHOP = "/api/0/projects/acme/web/replays", "/api/0/projects/acme/shop/replays"
A_REPLAY = rid(1)  # project 1 (web), 3 segments, clicks, errors


def test_the_catalog_holds_only_token_digests(live: Live) -> None:
    raw = (live.root / "catalog.json").read_bytes()
    for token in live.store.tokens.values():
        assert token.encode() not in raw
        assert hashlib.sha256(token.encode()).hexdigest().encode() in raw


def test_token_comparison_looks_at_every_stored_digest(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No early exit on a match: the time taken does not say which token matched."""
    calls: list[tuple[str, str]] = []
    real = catalog_module.hmac.compare_digest

    def counting(a, b):  # type: ignore[no-untyped-def]
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(catalog_module.hmac, "compare_digest", counting)
    stored = live.app.catalog.data().token_hashes
    first_token = live.store.tokens["acme"]
    assert live.app.catalog.org_for_token(first_token) == "acme"
    assert len(calls) == len(stored) >= 2
    assert live.app.catalog.org_for_token("wrong") is None
    assert len(calls) == 2 * len(stored)


ORG_OPERATIONS = [op for op in OPERATIONS if "organization_slug" in op.path_params]


@pytest.mark.parametrize("op", ORG_OPERATIONS, ids=lambda op: f"{op.method} {op.template}")
def test_a_token_of_another_organization_gets_404(live: Live, op) -> None:
    path = op.template.replace("{organization_slug}", "acme")
    for name in op.path_params:
        path = path.replace("{" + name + "}", segment(GOOD[name][0]))
    answer = live.wire.request(op.method, path, token=live.store.tokens[OTHER_ORG])
    assert answer.status == 404, (path, answer.status, answer.body)
    check_answer(answer)
    no_token = live.wire.request(op.method, path, token="")
    assert no_token.status == 401
    bad_token = live.wire.request(op.method, path, token="0" * 64)
    assert bad_token.status == 401


def _web_state(live: Live) -> tuple:
    details = live.wire.get(f"{WEB}/{A_REPLAY}/")
    segments = live.wire.get(f"{WEB}/{A_REPLAY}/recording-segments/")
    clicks = live.wire.get(f"{WEB}/{A_REPLAY}/clicks/")
    blob = live.wire.get(f"{WEB}/{A_REPLAY}/recording-segments/0/?download")
    assert {a.status for a in (details, segments, clicks, blob)} == {200}
    data = details.json()["data"]
    return data["is_archived"], data["count_segments"], segments.json(), clicks.json(), blob.body


def test_a_replay_of_project_a_is_not_reachable_through_project_b(live: Live) -> None:
    before = _web_state(live)
    assert before[0] is False and before[1] == 3 and before[3]["data"]
    assert live.wire.get(f"{SHOP}/{A_REPLAY}/").status == 404
    assert live.wire.get(f"{SHOP}/{A_REPLAY}/recording-segments/").json() == {"data": []}
    assert live.wire.get(f"{SHOP}/{A_REPLAY}/recording-segments/0/").status == 404
    assert live.wire.get(f"{SHOP}/{A_REPLAY}/recording-segments/0/?download").status == 404
    assert live.wire.get(f"{SHOP}/{A_REPLAY}/clicks/").json() == {"data": []}
    # A DELETE of an id the project never saw is a 204 and a marker of that project.
    assert live.wire.request("DELETE", f"{SHOP}/{A_REPLAY}/").status == 204
    assert live.app.api.ingest.flush(timeout=60)
    assert _web_state(live) == before
    everything = "/api/0/organizations/acme/replays/?statsPeriod=90d&project=1&per_page=100"
    listed = live.wire.get(everything)
    assert A_REPLAY in {r["id"] for r in listed.json()["data"]}


def test_dsn_keys_write_only_to_their_own_project(live: Live) -> None:
    rng = random.Random(3)
    headers, event, recording = valid_envelope(rng)
    replay_id = event["replay_id"]
    # The key of project 1 posted to project 2's route: refused.
    body = assemble(headers, event, recording)
    refused = live.wire.request("POST", "/api/2/envelope/?sentry_key=webkey", body=body)
    assert refused.status == 403, refused.body
    # A body claiming project 2 through its `dsn` header is still stored under the route's.
    claiming = {**headers, "dsn": "http://shopkey@127.0.0.1/2"}
    body = assemble(claiming, event, recording)
    accepted = live.wire.request("POST", "/api/1/envelope/?sentry_key=webkey", body=body)
    assert accepted.status == 200, accepted.body
    assert live.app.api.ingest.flush(timeout=60)
    assert live.wire.get(f"{WEB}/{replay_id}/").status == 200
    assert live.wire.get(f"{SHOP}/{replay_id}/").status == 404
    other_org = live.wire.request("POST", "/api/3/envelope/?sentry_key=webkey", body=body, token="")
    assert other_org.status == 403
