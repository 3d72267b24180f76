"""SQL-injection and path-traversal strings in every parameter and path segment.

None may reach SQL as code or a path outside the store: every answer is a 2xx or a 4xx with a
detail, the store's files are byte-for-byte unchanged (reads write nothing, a DELETE with a
hostile segment deletes nothing), every view answers the same, and no file outside the store
(and the Python installation) is opened, created or removed while the requests run.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
import tempfile
from pathlib import Path

import pytest

from replaystore.storage.store import Store
from tests.conftest import rid
from tests.robustness.audit import file_events, outside
from tests.robustness.conftest import Live
from tests.robustness.corpus import CORPUS
from tests.robustness.generators import GOOD, OPERATIONS, Operation
from tests.robustness.wire import check_answer, segment, target

CANARY = b"CANARY-outside-the-store-5b7e"
VIEWS = ("replays", "segments", "clicks", "links", "archives")


def _slots() -> dict[str, list[Operation]]:
    """Every parameter name (path and query) -> the operations that take it."""
    slots: dict[str, list[Operation]] = {}
    for op in OPERATIONS:
        for name in op.path_params + op.query_params:
            slots.setdefault(name, []).append(op)
    return slots


SLOTS = _slots()


def _request(op: Operation, name: str, value: str) -> str:
    """`op` with plausible values everywhere and `value` in the parameter `name`."""
    path = op.template
    for param in op.path_params:
        path = path.replace("{" + param + "}", segment(value if param == name else GOOD[param][0]))
    if name in op.path_params:
        return path
    # A time range wide enough that the query reaches the fixture rows.
    pairs = [("statsPeriod", "90d")] if name not in ("statsPeriod", "start", "end") else []
    return target(path, [*pairs, (name, value)])


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _views(root: Path) -> dict[str, list[tuple]]:
    with Store.open(str(root)).connect() as con:
        return {v: sorted(con.execute(f"SELECT * FROM {v}").fetchall(), key=repr) for v in VIEWS}


def _allowed(root: Path) -> tuple[str, ...]:
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.__file__)}
    return (str(root), *python, "/proc", "/dev", "/sys", "/usr/share/zoneinfo")


@pytest.fixture
def canary(live: Live) -> Path:
    outside_dir = live.root.parent / "outside"
    outside_dir.mkdir(exist_ok=True)
    (outside_dir / "secret").write_bytes(CANARY)
    return outside_dir


@pytest.mark.parametrize("name", sorted(SLOTS))
def test_hostile_strings_reach_neither_sql_nor_files_outside_the_store(
    live: Live, canary: Path, name: str
) -> None:
    ops = itertools.cycle(SLOTS[name])
    assert live.app.api.ingest.flush(timeout=60)
    before_files, before_views = _fingerprint(live.root), _views(live.root)
    before_tmp = set(os.listdir(tempfile.gettempdir()))
    with file_events() as events:
        for value in CORPUS:
            op = next(ops)
            path = _request(op, name, value)
            body = b"{}" if op.method == "POST" else None
            answer = live.wire.request(op.method, path, body=body)
            check_answer(answer, (op.method, path))
            assert CANARY not in answer.body and b"root:x:0:0" not in answer.body, path
    strays = outside(events, _allowed(live.root))
    assert strays == [], strays[:10]
    assert live.app.api.ingest.flush(timeout=60)
    assert _fingerprint(live.root) == before_files
    assert _views(live.root) == before_views
    assert set(os.listdir(live.root.parent)) == {live.root.name, canary.name}
    assert not {"evil.db", "leak.csv"} & (set(os.listdir(tempfile.gettempdir())) - before_tmp)


def test_blob_keys_never_leave_the_blob_folder(live: Live, canary: Path) -> None:
    """The store's blob API itself, given traversal strings, reads nothing outside the store."""
    store = live.app.store
    with file_events() as events:
        for value in CORPUS:
            for project_id in (1, -1, 0):
                assert store.read_blob(project_id, value, 0) is None
        assert store.read_blob(1, rid(1), 0) is not None
    assert outside(events, _allowed(live.root)) == []
    # The hook did see the store's own blob read.
    assert any("/blobs/packs/" in path and path.endswith(".pack") for _, path in events)
