"""The progress helper every long command uses (issue 16): one summary line off a terminal."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import sys
from replaystore.progress import progress
with progress("ingest", total=3, unit="files") as bar:
    for _ in range(3):
        bar.advance()
    if sys.argv[1] == "fail":
        raise SystemExit("error: stopped")
"""


def _run(mode: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )


def test_a_finished_bar_is_one_line_on_stderr():
    result = _run("ok")
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ingest ") and "3/3 files" in lines[0]


def test_a_failed_command_prints_no_bar():
    result = _run("fail")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: stopped"


def test_the_environment_switch_turns_bars_off():
    result = _run("ok", REPLAYSTORE_PROGRESS="0")
    assert result.returncode == 0
    assert result.stderr == ""


def test_benchmark_data_generation_shows_its_bar(tmp_path, capsys, monkeypatch):
    from benchmarks import datagen, load

    monkeypatch.delenv("REPLAYSTORE_PROGRESS", raising=False)
    size = datagen.SIZES["tiny"]
    chunks = load.generate(size, tmp_path / "generated")
    total = datagen.chunk_count(size)
    assert len(chunks) == total
    err = capsys.readouterr().err
    assert "generating" in err and f"{total}/{total} chunks" in err
