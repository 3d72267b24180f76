"""The committed bundle (replaystore/web/static) is exactly what web/'s lock file builds.

Needs web/node_modules from `npm ci` (tests/e2e/setup.sh, run by `make test`); a missing
install fails, never skips. After changing web/src or the lock file, run `make web`.
"""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from replaystore.web import pages

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
STATIC = ROOT / "replaystore" / "web" / "static"

pytestmark = pytest.mark.xdist_group("web-bundle")


def test_the_committed_bundle_is_the_lock_files_build(tmp_path: Path) -> None:
    assert (WEB / "node_modules" / "esbuild").exists(), "run tests/e2e/setup.sh (npm ci in web/)"
    subprocess.run(["node", "build.mjs", str(tmp_path)], cwd=WEB, check=True, timeout=120)
    built = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in STATIC.iterdir()}
    assert sorted(built) == sorted(committed)
    stale = [name for name in built if built[name] != committed[name]]
    assert stale == [], f"run `make web`: {stale} differ from the build of web/"


def test_the_lock_file_pins_what_package_json_asks_for() -> None:
    wanted = json.loads((WEB / "package.json").read_text())["dependencies"]
    locked = json.loads((WEB / "package-lock.json").read_text())["packages"]
    for name, version in wanted.items():
        assert locked[f"node_modules/{name}"]["version"] == version
    assert "rrweb-player" in wanted


def test_every_file_a_page_loads_ships_in_the_package() -> None:
    shipped = {p.name for p in resources.files("replaystore.web").joinpath("static").iterdir()}
    for page in pages.PAGES.values():
        assert {page.script, *page.styles} <= shipped
