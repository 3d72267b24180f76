"""The soak benchmark runs end to end for a few seconds (structure only, never speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import soak

pytestmark = pytest.mark.slow


def test_soak_ladder_reports_every_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(soak, "RESULTS", tmp_path / "results")
    args = ["--rates", "10,20", "--minutes", "0.25", "--readers", "2", "--out", "smoke"]
    args += ["--data", str(tmp_path / "store")]
    assert soak.main(args) == 0
    for rate in ("10", "20"):
        result = json.loads((tmp_path / "results" / f"smoke-{rate}.json").read_text())
        assert result["rate_per_s"] == float(rate)
        assert result["envelopes_sent"] > 0
        assert result["acknowledged_segments"] > 0
        # The SIGTERM drain left every acknowledged segment stored exactly once.
        assert result["segments_missing_after_sigterm"] == 0
        assert result["segments_duplicated"] == 0
        assert (tmp_path / "results" / f"smoke-{rate}.png").stat().st_size > 0
    table = (tmp_path / "results" / "smoke-ladder.md").read_text()
    assert "| 10 |" in table and "| 20 |" in table
    assert "Highest rate that held every target" in table
