"""Build the demo store: the fixture generator's replays (ending now) plus the real SDK capture."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import replaystore
from replaystore import fixtures
from replaystore.catalog import Catalog
from replaystore.errors import ReplayStoreError
from replaystore.ingest import EnvelopeInput

MARKER = ".replaystore-demo"
CAPTURE = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "sdk-capture"
CAPTURE_PROJECT = ("acme", "sdk-capture", 42, "abc123publickey")
CAPTURE_REPLAY = "dd6eede9d2ae4e18aa22002dfdfbb9e3"  # the one replay of the SDK capture
# The generated replays span the 30 days before the build; the capture is older.
LIST_PERIOD = "90d"


# Envelopes per ingest batch: a progress step, few enough commits to keep the build quick.
DEMO_BATCH = 2_000


def build_demo(
    folder: str,
    *,
    anchor: datetime,
    replays: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> str:
    """(Re)build the demo store in `folder` and return a short summary of what it holds.

    `on_progress(done, total)` is called as envelopes are written (the CLI draws a bar)."""
    root = Path(folder)
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        raise ReplayStoreError(
            f"{folder} is not empty and is not a demo store; pick another --data"
        )
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / MARKER).write_text("built by `replaystore demo`; rebuilt on every run\n")

    catalog = Catalog(root)
    for project in fixtures.PROJECTS:
        catalog.add_project(project.org, project.slug, project.id, project.dsn_key)
    catalog.add_project(*CAPTURE_PROJECT)

    store = replaystore.open(str(root))
    generated = fixtures.generate(anchor, replays=replays or fixtures.DEFAULT_REPLAYS)
    envelopes = [
        EnvelopeInput(body=e.body, project_id=e.project_id, user_agent=e.user_agent, name=e.name)
        for e in generated
    ]
    capture_files = sorted(CAPTURE.glob("*.envelope"))
    total = len(envelopes) + len(capture_files)
    for start in range(0, len(envelopes), DEMO_BATCH):
        store.ingest_envelopes(envelopes[start : start + DEMO_BATCH])
        if on_progress is not None:
            on_progress(min(start + DEMO_BATCH, len(envelopes)), total)
    if capture_files:
        store.ingest_files(capture_files, project_id=CAPTURE_PROJECT[2])
    if on_progress is not None:
        on_progress(total, total)
    summary = summarize(store)
    store.close()
    return summary


def summarize(store: replaystore.ReplayStore) -> str:
    counts = {
        table: store.sql(f"SELECT count(*) AS n FROM {table}")[0]["n"]
        for table in ("replays", "segments", "clicks", "links")
    }
    per_project = store.sql(
        "SELECT project_id, count(*) AS replays, min(started_at) AS first, "
        "max(finished_at) AS last FROM replays GROUP BY project_id ORDER BY project_id"
    )
    lines = [
        f"demo store at {store.root}: {counts['replays']} replays, {counts['segments']} segments, "
        f"{counts['clicks']} clicks, {counts['links']} linked events"
    ]
    lines += [
        f"  project {r['project_id']}: {r['replays']} replays, {r['first']:%Y-%m-%d} .. "
        f"{r['last']:%Y-%m-%d}"
        for r in per_project
    ]
    return "\n".join(lines)


def watch_urls(base: str) -> tuple[str, str]:
    """The web pages to open on a served demo store: the replay list and the capture's replay."""
    org, slug = CAPTURE_PROJECT[0], CAPTURE_PROJECT[1]
    return (
        f"{base}/?org={org}&statsPeriod={LIST_PERIOD}",
        f"{base}/replays/{slug}/{CAPTURE_REPLAY}/?org={org}",
    )
