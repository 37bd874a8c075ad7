"""Every rule is checked against finite differences, as the suite runs it.

No list is kept by hand: ``conftest.py`` wraps every registered rule (lazily
registered ones included) and every derivative of the scalar table, and notes
each pullback that runs inside a derivative check (``zygcy.testing.gradcheck``).
This module runs after the others (conftest orders it last); when the whole
suite ran it fails naming every rule that no derivative check ever ran, and it
writes the map rule argument -> tests to ``.zygcy_coverage.json``, from which
``tools/mutation.py`` picks the tests that can kill a mutant.
"""
import numpy as np
import pytest

import zygcy
from zygcy.testing import derivative_check, gradcheck, in_derivative_check


def test_every_rule_ran_under_a_derivative_check(rule_watch):
    if rule_watch.recorder is None:
        pytest.skip("a mutant session records nothing")
    if not rule_watch.full:
        pytest.skip("which rules ran is known only when the whole suite runs")
    rule_watch.write_coverage()
    missing = rule_watch.recorder.unchecked_rules()
    assert not missing, ("%d rules never ran inside a derivative check (gradcheck); add a "
                         "finite-difference test for each: %s" % (len(missing), ", ".join(missing)))


def test_every_forward_rule_ran_under_a_derivative_check(rule_watch):
    """gradcheck compares forward mode with finite differences too, so each forward
    rule of the table (defjvp, and those deflinear/defbilinear make) must run there."""
    if rule_watch.recorder is None:
        pytest.skip("a mutant session records nothing")
    if not rule_watch.full:
        pytest.skip("which rules ran is known only when the whole suite runs")
    missing = rule_watch.recorder.unchecked_jvps()
    assert not missing, ("%d forward rules never ran inside a derivative check (gradcheck); "
                         "add a finite-difference test for each: %s" % (len(missing), ", ".join(missing)))


def test_the_recorder_sees_forward_rules(rule_watch):
    if rule_watch.recorder is None:
        pytest.skip("a mutant session records nothing")
    rec = rule_watch.recorder
    saved = rec.current
    rec.current = "probe::checked"
    try:
        gradcheck(lambda x: np.cumsum(x), np.array([1.0, 2.0]))     # a rule with a forward rule of its own
    finally:
        rec.current = saved
    assert "probe::checked" in rec.checked["jvp:numpy.cumsum:0"]
    _forget(rec, {"probe::checked"})


def _forget(rec, probes):
    """Take the probes out of every site's record (they are no tests to rerun)."""
    for table in (rec.ran, rec.checked):
        for site in table:
            table[site] -= probes


def test_the_recorder_sees_pullbacks_under_checks_only(rule_watch):
    """The mechanism itself: a pullback run by gradcheck is noted as checked, one
    run by a plain gradient only as run."""
    if rule_watch.recorder is None:
        pytest.skip("a mutant session records nothing")
    rec = rule_watch.recorder
    saved = rec.current
    rec.current = "probe::plain"
    try:
        zygcy.gradient(lambda x: np.sum(np.cbrt(x)), np.array([1.0, 2.0]))
        rec.current = "probe::checked"
        gradcheck(lambda x: np.cbrt(x), np.array([1.0, 2.0]))
    finally:
        rec.current = saved
    assert "probe::plain" in rec.ran["numpy.cbrt:0"]
    assert "probe::plain" not in rec.checked["numpy.cbrt:0"]
    assert "probe::checked" in rec.checked["numpy.cbrt:0"]
    _forget(rec, {"probe::plain", "probe::checked"})


def test_derivative_check_context_nests():
    assert not in_derivative_check()
    with derivative_check():
        with derivative_check():
            assert in_derivative_check()
        assert in_derivative_check()
    assert not in_derivative_check()
