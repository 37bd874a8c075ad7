"""zygcy.checking() and ZYGCY_CHECK=1: every back compared with a central difference."""
import subprocess
import sys

import numpy as np
import pytest

import zygcy
from zygcy import gradient
from zygcy.extend import defvjp, primitive


def wrong_sin(scale):
    p = primitive(lambda x: np.sin(x))
    defvjp(p, lambda ans, x: lambda g: scale * g * np.cos(x))
    return p


@pytest.mark.parametrize("scale", [1.01, 0.5, -1.0, 0.0])
def test_a_wrong_rule_is_caught_with_both_numbers(scale):
    f = wrong_sin(scale)
    with zygcy.checking(seed=7):      # one direction is drawn: seeded, so this run is the same every time
        with pytest.raises(zygcy.GradientCheckError, match=r"<gradient, v> = .* but \(f\(x \+ h v\)"):
            gradient(lambda x: np.sum(f(x) * x), np.array([0.5, 1.0, -2.0]))


def test_right_rules_pass_the_check_on_many_programs():
    x = np.array([0.3, -1.1, 2.0])
    programs = [
        lambda x: np.sum(np.tanh(x) * np.exp(-x * x) + x),
        lambda x: np.linalg.det(np.outer(x, x) + np.eye(3)),
        lambda x: np.sum(np.cumsum(x) ** 2) + x[0] * x[2],
        lambda x: np.abs(np.fft.fft(x)[1]) ** 2,
        lambda x: zygcy.math.sin(x[0]) * zygcy.math.exp(x[1]),
    ]
    with zygcy.checking():
        for f in programs:
            gradient(f, x)
        gradient(lambda d: d["a"] * d["b"] ** 2, {"a": 2.0, "b": 3.0})
        assert zygcy.D(zygcy.D(lambda t: t ** 3))(2.0) == pytest.approx(12.0)


def test_params_are_checked_and_left_as_they_were():
    W = zygcy.param(np.array([1.0, 2.0]))
    f = wrong_sin(2.0)
    with zygcy.checking():
        g = gradient(lambda: np.sum(W ** 3), zygcy.Params([W]))
        np.testing.assert_allclose(g[W], 3 * np.array([1.0, 4.0]))
        with pytest.raises(zygcy.GradientCheckError):
            gradient(lambda: np.sum(f(W)), zygcy.Params([W]))
    np.testing.assert_array_equal(W, [1.0, 2.0])


def test_the_check_is_off_by_default_and_can_be_switched_off_inside():
    f = wrong_sin(2.0)
    gradient(lambda x: np.sum(f(x)), np.ones(2))        # no check: no error
    with zygcy.checking():
        with zygcy.checking(False):
            gradient(lambda x: np.sum(f(x)), np.ones(2))


def test_zygcy_check_in_the_environment_switches_it_on():
    src = ("import numpy as np, zygcy\n"
           "from zygcy.extend import primitive, defvjp\n"
           "p = primitive(lambda x: x * x)\n"
           "defvjp(p, lambda ans, x: lambda g: 3 * g * x)\n"
           "try:\n"
           "    zygcy.gradient(p, 1.5)\n"
           "    print('not caught')\n"
           "except zygcy.GradientCheckError:\n"
           "    print('caught')\n")
    import os
    env = dict(os.environ, ZYGCY_CHECK="1")
    out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "caught", out.stderr
    env["ZYGCY_CHECK"] = "0"
    out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "not caught", out.stderr
