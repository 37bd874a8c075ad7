"""Every registered rule is exercised by some test module (its COVERED list).

A rule module that registers a function adds it to the table that
zygcy._core.registered() returns; a test module lists the functions it checks
against finite differences in a module-level COVERED. A rule nobody tests makes
this test fail, naming it.
"""
import importlib
import pathlib

import zygcy  # noqa: F401  (registers the rules)
from zygcy._core import registered

HERE = pathlib.Path(__file__).parent


def _covered():
    covered = []
    for path in sorted(HERE.glob("test_*.py")):
        if path.stem == "test_rule_coverage":
            continue
        module = importlib.import_module(path.stem)
        covered.extend(getattr(module, "COVERED", []))
    return covered


def _name(fun):
    owner = getattr(fun, "__self__", None)
    if owner is not None and not isinstance(owner, type(zygcy)):
        return "%s.%s" % (getattr(owner, "__name__", owner), fun.__name__)
    return "%s.%s" % (getattr(fun, "__module__", None) or "", getattr(fun, "__name__", repr(fun)))


def test_every_registered_rule_is_tested():
    rules, _ = registered()
    covered = _covered()
    missing = sorted(_name(f) for f in rules if not any(f is c or f == c for c in covered))
    assert not missing, "rules without a test listing them in COVERED: %s" % ", ".join(missing)
