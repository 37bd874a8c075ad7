"""Every example in the public docstrings runs and prints what it says."""
import doctest
import importlib

import pytest

MODULES = ["zygcy", "zygcy.api", "zygcy.custom", "zygcy.params", "zygcy.extend", "zygcy.containers",
           "zygcy.testing", "zygcy.math", "zygcy.cmath", "zygcy._check", "zygcy._seeds"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, "%s has no examples" % name
    assert result.failed == 0


NOT_FUNCTIONS = {"Tracked", "IndexGrad", "Primitive", "ScalarFunction", "ScalarFunction2", "apply", "value",
                 "unbroadcast", "pullback"}  # types, re-exports, aliases


def test_every_public_function_has_an_example():
    import zygcy
    import zygcy.extend
    modules = [zygcy.api, zygcy.custom, zygcy.params, zygcy.extend]
    missing = [n for m in modules for n in m.__all__
               if ">>>" not in (getattr(m, n).__doc__ or "") and n not in NOT_FUNCTIONS]
    assert not missing, "public functions without a runnable example: %s" % missing
