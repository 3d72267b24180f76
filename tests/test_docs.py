"""The README's and the guide's examples, executed, so they cannot drift (issue 16).

Each documented file runs in a fresh folder holding `demo-data` (the demo store, as
`make demo` builds it) and `data/` (the repository's fixtures). In document order:

- ```python blocks run in one namespace per file and must print something;
- ```sh blocks run through bash: `replaystore ...` commands (except the ones that start a
  server: `serve`, a serving `demo`), `curl` commands and variable assignments. Other lines
  (make, pip, benchmark runs) are set-up or long runs and are not run. Every command must
  succeed and print something; every curl must answer 2xx with data (`{"data": []}` and `[]`
  are no data). `127.0.0.1:8000` is the demo server, started on a free port for the file.

Blocks in any other language (```text, ```json, plain ```) are not run.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from replaystore.cli import build_parser
from replaystore.demo import build_demo
from tests.server_process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
EXECUTED_DOCS = ["README.md", "docs/guide.md", "docs/python.md", "docs/cli.md", "docs/http.md"]
DEMO_ADDRESS = "127.0.0.1:8000"
_BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_SERVING = re.compile(r"^replaystore (serve|demo(?!.*--no-serve))\b")

# A curl that fails on an error status, or on an answer without data.
CURL = r"""
curl() {
  local out code body
  out=$(command curl -sS -w '\n%{http_code}' "$@") || return 1
  code=${out##*$'\n'}; body=${out%$'\n'*}
  case $code in 2*) ;; *) echo "HTTP $code for curl $*: $body" >&2; return 1;; esac
  case " $* " in
    *" -OJ "*) local saved; saved=$(ls -t | head -1); [[ -s $saved ]] || return 1
               echo "saved $saved"; return 0;;
    *" -X DELETE "*) echo "HTTP $code"; return 0;;
  esac
  if [[ -z $body || $body == '{"data":[]}' || $body == '[]' ]]; then
    echo "no data from curl $*" >&2; return 1
  fi
  printf '%s\n' "$body"
}
"""


def blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(text)]


def runnable_lines(script: str) -> list[str]:
    """The commands of a sh block that the runner executes (see the module docstring)."""
    joined = re.sub(r"\s*\\\n\s*", " ", script)
    kept = []
    for raw in joined.splitlines():
        line = raw.split("  #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line or _SERVING.match(line):
            continue
        if line.startswith(("replaystore ", "curl ")) or _ASSIGNMENT.match(line):
            kept.append(line)
    return kept


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("docs-demo") / "demo-data"
    build_demo(str(folder), anchor=datetime.now(UTC))
    return folder


class DocRunner:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.namespace: dict[str, object] = {"__name__": "__docs__"}
        self.server: ServerProcess | None = None
        bin_dir = str(Path(sys.executable).parent)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MPLBACKEND": "Agg"}
        self.env.pop("REPLAYSTORE_DATA", None)
        self.assigned: list[str] = []  # variable assignments, replayed before each command

    def python(self, code: str, where: str) -> None:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, where, "exec"), self.namespace)  # the docs' own code
        assert printed.getvalue().strip(), f"{where}: a Python example printed nothing"

    def sh(self, script: str, where: str) -> None:
        lines = runnable_lines(script)
        if not lines:
            return
        if any("curl " in line for line in lines) and self.server is None:
            self.server = ServerProcess(self.workdir / "demo-data")
            self.server.start()
        address = f"127.0.0.1:{self.server.port}" if self.server else DEMO_ADDRESS
        for line in lines:
            command = line.replace(DEMO_ADDRESS, address)
            result = subprocess.run(
                ["bash", "-c", f"set -euo pipefail\n{CURL}\n{self._assignments()}\n{command}"],
                cwd=self.workdir,
                env=self.env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, f"{where}: {line}\n{result.stderr[-2000:]}"
            if not _ASSIGNMENT.match(line):
                assert result.stdout.strip(), f"{where}: {line} printed nothing"
            else:
                self.assigned.append(command)

    def _assignments(self) -> str:
        return "\n".join(self.assigned)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.mark.parametrize("name", EXECUTED_DOCS)
def test_the_examples_run_and_return_data(name, demo_store, tmp_path, monkeypatch):
    text = (ROOT / name).read_text()
    found = blocks(text)
    assert any(lang in ("python", "sh") for lang, _ in found), f"{name} has no example"
    shutil.copytree(demo_store, tmp_path / "demo-data")
    (tmp_path / "data").symlink_to(ROOT / "data")
    monkeypatch.chdir(tmp_path)
    runner = DocRunner(tmp_path)
    try:
        for index, (lang, code) in enumerate(found):
            where = f"{name} block {index + 1}"
            if lang == "python":
                runner.python(code, where)
            elif lang == "sh":
                runner.sh(code, where)
    finally:
        runner.close()


def test_the_runner_skips_what_it_says():
    script = "make demo\nreplaystore serve --data D\nreplaystore demo --no-serve\nB=x\n# c\n"
    assert runnable_lines(script + "curl -X POST \\\n  http://a/  # note\n") == [
        "replaystore demo --no-serve",
        "B=x",
        "curl -X POST http://a/",
    ]


def test_every_cli_command_is_documented():
    """Datasette's rule: a command nobody documented does not exist for users."""
    text = "\n".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in commands.items():
        actions = [a for a in sub._actions if a.dest == "action"]
        names = [f"{name} {action}" for a in actions for action in a.choices] or [name]
        for full in names:
            assert f"replaystore {full}" in text, f"`replaystore {full}` is not documented"


def test_the_changelog_names_this_version():
    import replaystore

    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(replaystore.__version__)}\b", changelog, re.M)
