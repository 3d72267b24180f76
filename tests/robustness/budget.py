"""Example counts of the robustness property tests: CI-sized by default, bigger on demand.

`REPLAYSTORE_HYPOTHESIS_PROFILE=big` multiplies every count by 10 (the search tests' profile
name); `scripts/fuzz_long.py` is the 100k-case run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = {"default": 1, "big": 10}.get(os.environ.get("REPLAYSTORE_HYPOTHESIS_PROFILE", ""), 1)


def fuzz_settings(examples: int) -> settings:
    """Settings for a fuzz test of `examples` cases (times the profile's scale)."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
