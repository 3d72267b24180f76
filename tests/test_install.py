"""`make demo` installs only the runtime (`pip install -e .`, issue 16): serving and building
the demo must not need anything from the test or bench extras."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS_ONLY = ("pytest", "hypothesis", "schemathesis", "numpy", "matplotlib", "pandas", "polars")

SCRIPT = f"""
import sys
from datetime import UTC, datetime

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {EXTRAS_ONLY!r}:
            raise ImportError("not in the runtime install: " + name)

sys.meta_path.insert(0, Block())
import replaystore.cli, replaystore.wsgi
from replaystore.demo import build_demo
print(build_demo(sys.argv[1], anchor=datetime.now(UTC), replays=5).splitlines()[0])
"""


def test_the_demo_builds_and_serves_without_the_extras(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.match(r"demo store at .*: 6 replays", result.stdout)


def test_make_demo_installs_the_runtime_and_make_test_the_test_extra():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: \$\(SERVE_STAMP\)$", makefile, re.M)
    assert re.search(r"^\$\(SERVE_STAMP\):.*\n\t\$\(BIN\)/pip install --quiet -e \.\n", makefile,
                     re.M)  # fmt: skip
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.M)
    assert "pip install --quiet -e '.[test]'" in makefile
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=\[ ]", d)[0] for d in runtime}
    assert not names & set(EXTRAS_ONLY)
