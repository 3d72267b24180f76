"""Comments and docs cite only documents that are in the repository (issue 11).

The product's spec and reference notes live outside the repository, so a citation of one of
their sections ("SPEC §3", "backend b.2", "extra §4.5") tells a reader nothing; a comment
says the fact itself or links a document under `docs/`.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_PARTS = {"node_modules", "static", ".venv", "__pycache__"}

# Section citations of documents that are not in the repository.
OUTSIDE = re.compile(
    r"SPEC(?:\.md)? §|DESIGN\.md|\b[Ee]xtra §|backend (?:reference )?[a-d]\.\d"
    r"|wire[- ]format (?:reference )?§|performance notes|performance-and-peers"
    r"|search-grammar reference|spec/reference/"
)
# Paths a comment may cite; each must exist.
REPO_PATH = re.compile(r"\b((?:docs|benchmarks/results)/[\w./-]+\.(?:md|png|json))\b")


def _sources() -> list[Path]:
    files = [
        *ROOT.joinpath("replaystore").rglob("*.py"),
        *ROOT.joinpath("tests").rglob("*.py"),
        *ROOT.joinpath("benchmarks").glob("*.py"),
        *ROOT.joinpath("docs").glob("*.md"),
        *ROOT.joinpath("replaystore").rglob("*.md"),
        ROOT / "README.md",
    ]
    return sorted(
        f for f in files if not SKIP_PARTS & set(f.parts) and f.name != Path(__file__).name
    )


SOURCES = _sources()


def test_the_scan_sees_the_tree() -> None:
    names = {_name(f) for f in SOURCES}
    assert {"replaystore/api.py", "docs/decisions.md", "README.md"} <= names


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_citation_of_a_document_outside_the_repository() -> None:
    hits = [
        f"{_name(path)}:{n}: {line.strip()}"
        for path in SOURCES
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert hits == []


def test_every_cited_repository_document_exists() -> None:
    missing = sorted(
        f"{_name(path)}: {cited}"
        for path in SOURCES
        for cited in set(REPO_PATH.findall(path.read_text(encoding="utf-8")))
        if not (ROOT / cited).exists()
    )
    assert missing == []


def test_the_patterns_catch_what_they_are_for() -> None:
    assert OUTSIDE.search("# rows of a deleted replay (SPEC §3 Deletion)")
    assert OUTSIDE.search('"""The shape (backend b.4)."""')
    assert not OUTSIDE.search("# Concatenated gzip members are one stream (RFC 1952 §2.2)")
    assert REPO_PATH.findall("see docs/nowhere.md") == ["docs/nowhere.md"]
