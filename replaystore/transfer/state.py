"""The import's state file: where a run stands, so an interrupted run resumes.

A run pins its time window when it starts and records, after each page of the source's list
is stored, the cursor of the next page. A run that finds an unfinished state for the same
source, organization, projects and `--since` goes on from that cursor over the same window;
replays of the page it was on that were already stored compare equal and are skipped. A
finished state only marks the last run as complete: the next run lists a new window.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

STATE_VERSION = 1


@dataclass
class ImportState:
    source: str
    org: str
    projects: list[int]
    since: str
    start: str  # the pinned window, RFC 3339
    end: str
    cursor: str | None = None  # of the next page of the list; None: from the start
    complete: bool = False
    version: int = STATE_VERSION

    def same_run(self, other: ImportState) -> bool:
        """Whether `other` (a new run's parameters) continues this unfinished run."""
        mine = (self.source, self.org, sorted(self.projects), self.since)
        theirs = (other.source, other.org, sorted(other.projects), other.since)
        return not self.complete and self.version == STATE_VERSION and mine == theirs


def default_path(store_root: str, is_local: bool, source: str, org: str) -> Path:
    """`import-state/<key>.json` in a local store, else in the current folder."""
    key = hashlib.sha256(f"{source}\n{org}".encode()).hexdigest()[:16]
    if is_local:
        return Path(store_root.removeprefix("file://")) / "import-state" / f"{key}.json"
    return Path.cwd() / f".replaystore-import-{key}.json"


def load(path: Path) -> ImportState | None:
    """The state at `path`, or None when there is none or it is unreadable (start afresh)."""
    try:
        raw = orjson.loads(path.read_bytes())
        return ImportState(**raw)
    except (FileNotFoundError, orjson.JSONDecodeError, TypeError):
        return None


def save(path: Path, state: ImportState) -> None:
    """Write the state atomically (a reader sees the old or the new one whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(asdict(state), option=orjson.OPT_INDENT_2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
