"""Test-suite plumbing: hypothesis settings, and the watch on zygcy's rules.

Every session wraps zygcy's rules with a recorder (``_rulewatch``): it notes
which tests ran each rule's pullback, and which ran it inside a derivative
check (``zygcy.testing.gradcheck``, or ``with zygcy.testing.derivative_check()``).
When the whole suite runs, ``tools/test_rule_coverage.py`` (ordered last but for
the mutation sample) fails naming every rule that no derivative check ran, and
writes the map rule argument -> tests to ``.zygcy_coverage.json`` at the
repository root, which ``tools/mutation.py`` uses to pick the tests of a mutant.

With ``ZYGCY_MUTANT=<site>`` in the environment the session instead runs with
one rule made wrong (see ``_rulewatch.apply_mutant``; ``tools/mutation.py``
sets it), hypothesis does not shrink and keeps no example database, and with
``ZYGCY_MUTANT_REPORT=<path>`` it writes there how often the mutant fired.
``ZYGCY_MUTANT=batch`` is the same without a mutant: ``tools/mutation.py``'s
worker applies one mutant after another itself, each around its own session.
"""
import json
import os
import pathlib
import sys

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
# The shared helpers (_grid, _rulewatch) are imported by name from every subpackage
# (engine/, api/, rules/, programs/, tools/).
sys.path.insert(0, str(HERE))

from hypothesis import Phase, settings  # noqa: E402

import _rulewatch  # noqa: E402

COVERAGE_FILE = ROOT / ".zygcy_coverage.json"
# Modules run after all others, in this order: they judge what the others did
# (paths relative to tests/).
LAST = ("tools/test_rule_coverage.py", "tools/test_mutation.py")

MUTANT_SITE = os.environ.get("ZYGCY_MUTANT") or None

settings.register_profile("ci", max_examples=30, deadline=None)
settings.register_profile("mutant", max_examples=30, deadline=None, database=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("mutant" if MUTANT_SITE else "ci")


class Watch:
    """What this session knows about zygcy's rules."""

    def __init__(self):
        self.mutant = None          # the applied _rulewatch.Mutant, in a mutant session
        self.recorder = None        # the _rulewatch.Recorder, otherwise
        self.files = set()          # test modules collected (or skipped whole), relative to tests/
        self.deselected = False
        self.full = False           # the whole suite is running
        self.failed = set()         # ids of the tests that failed (without any mutant)

    def coverage(self):
        """The map site -> tests of this session, with the tests that failed in it
        (a mutant run leaves those out: they would "kill" every mutant)."""
        data = self.recorder.as_json()
        data["complete"] = self.full
        data["failed"] = sorted(self.failed)
        return data

    def write_coverage(self, path=COVERAGE_FILE):
        """Write ``coverage()`` of this (full) session to ``path``."""
        data = self.coverage()
        tmp = pathlib.Path(str(path) + ".tmp")
        tmp.write_text(json.dumps(data, indent=0, sort_keys=True))
        tmp.replace(path)


WATCH = Watch()
if MUTANT_SITE == "batch":
    pass
elif MUTANT_SITE:
    WATCH.mutant = _rulewatch.apply_mutant(MUTANT_SITE)
else:
    WATCH.recorder = _rulewatch.install_recorder()


@pytest.fixture(scope="session")
def rule_watch():
    """The session's Watch: its recorder, and whether the whole suite runs."""
    return WATCH


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------
# Hooks

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if WATCH.recorder is not None:
        WATCH.recorder.current = item.nodeid
    try:
        yield
    finally:
        if WATCH.recorder is not None:
            WATCH.recorder.current = None


def pytest_runtest_logreport(report):
    if report.failed and WATCH.recorder is not None:
        WATCH.failed.add(report.nodeid)


def pytest_collectreport(report):
    if report.nodeid.endswith(".py") and report.outcome in ("passed", "skipped"):
        WATCH.files.add(_relative(report.fspath))


def pytest_deselected(items):
    if items:
        WATCH.deselected = True


def _relative(path):
    """A test module's path relative to tests/, with forward slashes."""
    path = pathlib.Path(str(path)).resolve()
    try:
        return path.relative_to(HERE).as_posix()
    except ValueError:
        return path.as_posix()


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        name = _relative(item.path)
        return LAST.index(name) + 1 if name in LAST else 0
    items.sort(key=rank)      # stable: everything else keeps its order


def pytest_collection_finish(session):
    opt = session.config.option
    every = {_relative(p) for p in HERE.rglob("test_*.py")}
    WATCH.full = (WATCH.recorder is not None and not WATCH.deselected
                  and not getattr(opt, "keyword", "") and not getattr(opt, "markexpr", "")
                  and every <= WATCH.files)


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("ZYGCY_MUTANT_REPORT")
    if WATCH.mutant is not None and path:
        pathlib.Path(path).write_text(json.dumps({"site": WATCH.mutant.site, "fired": WATCH.mutant.fired,
                                                  "exitstatus": int(exitstatus)}))
