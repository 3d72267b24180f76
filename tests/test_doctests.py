"""Every `>>>` example in the package runs (issue 11): the ones that need a store or Spark
are marked `# doctest: +SKIP` where they are written."""

import doctest
import importlib

import pytest

from tests.test_imports import PACKAGE, module_names

WITH_EXAMPLES = sorted(
    name for name, path in module_names(PACKAGE).items() if ">>> " in path.read_text()
)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_examples_of_a_module_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_examples_are_found():
    assert "replaystore.search.compiler" in WITH_EXAMPLES
    compiler = importlib.import_module("replaystore.search.compiler")
    assert doctest.testmod(compiler).attempted > 0
