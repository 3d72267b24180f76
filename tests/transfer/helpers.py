"""A source store served by a real `replaystore serve`, and the HTTP answers compared."""

from __future__ import annotations

import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import orjson

import replaystore
from replaystore import fixtures
from replaystore.catalog import Catalog
from replaystore.ingest import EnvelopeInput
from replaystore.transfer.client import next_cursor

ORG = "acme"
ACME_PROJECTS = {p.id for p in fixtures.PROJECTS if p.org == ORG}
PERIOD = "90d"


ANCHOR = datetime.now(UTC)


def build_source(root: Path, replays: int, *, seed: int = 7, held_back: int = 0) -> str:
    """A store of generated replays (all fixture projects); returns a token for ORG. The last
    segment of the first `held_back` replays with several segments is left out (`late`)."""
    catalog = Catalog(root)
    for project in fixtures.PROJECTS:
        catalog.add_project(project.org, project.slug, project.id, project.dsn_key)
    early, _ = split_late(replays, seed, held_back)
    ingest(root, early)
    return catalog.add_token(ORG)


def split_late(replays: int, seed: int, held_back: int) -> tuple[list, list]:
    generated = list(fixtures.generate(ANCHOR, seed=seed, replays=replays))
    last: dict[str, str] = {}
    for e in generated:
        if e.project_id in ACME_PROJECTS and "-s" in e.name:
            last[e.name.split("-s")[0]] = e.name
    late = {name for name in last.values() if not name.endswith("-s00")}
    late = set(sorted(late)[:held_back])
    return [e for e in generated if e.name not in late], [e for e in generated if e.name in late]


def ingest(root: Path, generated: list) -> None:
    envelopes = [
        EnvelopeInput(body=e.body, project_id=e.project_id, user_agent=e.user_agent, name=e.name)
        for e in generated
    ]
    replaystore.open(str(root)).ingest_envelopes(envelopes)


def get(base: str, token: str, path: str, params: list[tuple[str, str]] | None = None):
    query = urllib.parse.urlencode(params or [])
    request = urllib.request.Request(
        f"{base}/api/0{path}" + (f"?{query}" if query else ""),
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.read(), dict(answer.headers.items())


def delete(base: str, token: str, path: str) -> int:
    request = urllib.request.Request(
        f"{base}/api/0{path}", method="DELETE", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.status


def pages(base: str, token: str, path: str, params: list[tuple[str, str]]) -> list:
    items, cursor = [], None
    while True:
        body, headers = get(base, token, path, [*params, *([("cursor", cursor)] if cursor else [])])
        items.extend(orjson.loads(body)["data"])
        cursor = next_cursor(headers.get("Link"))
        if cursor is None:
            return items


def listing(base: str, token: str) -> list[dict]:
    return pages(
        base,
        token,
        f"/organizations/{ORG}/replays/",
        [("statsPeriod", PERIOD), ("per_page", "100")],
    )


def slugs() -> dict[str, str]:
    return {str(p.id): p.slug for p in fixtures.PROJECTS}


def everything(base: str, token: str) -> dict:
    """Every answer import promises to keep: list items, details, segments, downloads, clicks."""
    items = listing(base, token)
    out: dict = {"list": items, "details": {}, "segments": {}, "downloads": {}, "clicks": {}}
    for item in items:
        rid, slug = item["id"], slugs()[item["project_id"]]
        details, _ = get(base, token, f"/organizations/{ORG}/replays/{rid}/")
        out["details"][rid] = orjson.loads(details)["data"]
        prefix = f"/projects/{ORG}/{slug}/replays/{rid}"
        out["segments"][rid] = pages(base, token, f"{prefix}/recording-segments/", [])
        out["downloads"][rid] = get(
            base, token, f"{prefix}/recording-segments/", [("download", "")]
        )[0]
        out["clicks"][rid] = pages(base, token, f"{prefix}/clicks/", [])
    return out
