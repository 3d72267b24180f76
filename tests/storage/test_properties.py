"""The Delta table settings name real columns of their tables."""

from __future__ import annotations

import pytest

from replaystore.storage.layout import table_schema
from replaystore.storage.properties import STATS_COLUMNS, table_configuration


@pytest.mark.parametrize("table", sorted(STATS_COLUMNS))
def test_stats_columns_are_columns_of_their_table(table: str) -> None:
    assert set(STATS_COLUMNS[table]) <= set(table_schema(table).names)


def test_no_id_or_personal_column_gets_stats() -> None:
    named = {column for columns in STATS_COLUMNS.values() for column in columns}
    assert not named & {"replay_id", "user_email", "user_ip", "urls", "payload"}


def test_the_configuration_lists_them_comma_separated() -> None:
    config = table_configuration("replays")
    assert config["delta.dataSkippingStatsColumns"].split(",") == list(STATS_COLUMNS["replays"])
