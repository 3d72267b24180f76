"""The compiler dispatches a filter by its field's kind from one table (issue 11)."""

import pytest

from replaystore.fields.registry import OPERATORS
from replaystore.search import compile_replay_search, compiler


def test_every_searchable_kind_has_a_condition():
    assert set(compiler.FILTERS) == {kind for kind, ops in OPERATORS.items() if ops}


def test_a_kind_without_a_condition_raises_instead_of_falling_through(monkeypatch):
    assert compile_replay_search("is_archived:true") is not None
    monkeypatch.delitem(compiler.FILTERS, "boolean")
    with pytest.raises(NotImplementedError, match="'boolean'"):
        compile_replay_search("is_archived:true")
