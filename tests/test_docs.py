"""Every example in the public docstrings runs and prints what it says."""
import doctest
import importlib

import pytest

MODULES = ["zygcy", "zygcy.api", "zygcy.containers", "zygcy.testing", "zygcy.math", "zygcy.cmath"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, "%s has no examples" % name
    assert result.failed == 0


def test_every_public_function_has_an_example():
    import zygcy
    missing = [n for n in zygcy.api.__all__
               if ">>>" not in (getattr(zygcy.api, n).__doc__ or "")]
    assert not missing, "public functions without a runnable example: %s" % missing
