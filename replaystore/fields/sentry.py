"""Sentry's fixed facts about replay fields, each stated once."""

from __future__ import annotations

from datetime import UTC, datetime

# Sentry counts dead/rage clicks only from this day on (a hard-coded cut-off).
DEAD_CLICK_CUTOFF = datetime(2023, 7, 24, tzinfo=UTC)

# The levels of linked events that make a replay's error, warning and info ids.
ERROR_LEVELS = ("error", "fatal")
WARNING_LEVELS = ("warning",)
INFO_LEVELS = ("info", "debug")

# The `transaction` tag is stored as the segment `title` and is never a tag.
TRANSACTION_TAG = "transaction"
