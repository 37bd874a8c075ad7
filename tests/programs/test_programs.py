"""Whole-program differential tests (issue 8): random programs against finite differences.

The generator is tests/programs/_programs.py (its docstring explains the design). Each
random program is differentiated by zygcy and checked against central finite
differences, the complex step where the program is real-analytic, and (on a
subset) the VJP of the VJP. A failure prints the program as a self-contained
script (hypothesis shrinks the choice-driven programs first).

Budget: the "zygcy-programs" hypothesis profile (derandomized, no database)
runs CI_EXAMPLES programs per test; ZYGCY_FUZZ_EXAMPLES=N runs N instead:

    ZYGCY_FUZZ_EXAMPLES=5000 python -m pytest tests/programs/test_programs.py -q -p no:cacheprovider

Below the random tests: regression tests, one per distinct minimal program the
fuzzer (or the issue) found, each a plain comparison with finite differences
or with a value computed by hand.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zygcy.math as zm
from ._programs import (CI_EXAMPLES, EXAMPLES, PROFILE, check_function, check_program, programs,
                       seeded_program)
from zygcy import forward, gradient

SECOND_ORDER_SHARE = 4      # the second-order tests run EXAMPLES // 4 programs


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # numpy's warnings on perturbed inputs are not failures
        return fn(*args, **kw)


@PROFILE
@given(programs())
def test_random_programs(prog):
    _quiet(check_program, prog)


@PROFILE
@given(st.integers(0, 2 ** 32 - 1))
def test_seeded_programs(seed):
    """Programs with every choice uniform (the most diverse); the failure names the seed,
    seeded_program(seed) rebuilds the program."""
    _quiet(check_program, seeded_program(seed))


@settings(PROFILE, max_examples=max(1, EXAMPLES // SECOND_ORDER_SHARE))
@given(programs(max_ops=10))
def test_random_programs_second_order(prog):
    _quiet(check_program, prog, second_order=True)


@settings(PROFILE, max_examples=max(1, EXAMPLES // SECOND_ORDER_SHARE))
@given(st.integers(0, 2 ** 32 - 1))
def test_seeded_programs_second_order(seed):
    _quiet(check_program, seeded_program(seed, max_ops=10), second_order=True)


def test_budget():
    assert CI_EXAMPLES > 0 and EXAMPLES > 0


def test_a_wrong_rule_is_caught():
    """The checker itself: a program whose derivative is wrong (a hand-made rule
    that doubles the derivative of sin) fails, with the program in the message."""
    from zygcy import grad

    @grad
    def bad_sin(x):
        return np.sin(x), lambda g: (2 * g * np.cos(x),)

    src = "the program: np.sum(bad_sin(x) * x)"
    with pytest.raises(AssertionError, match="the program"):
        _quiet(check_function, lambda x: np.sum(bad_sin(x) * x), (np.array([0.3, -1.1]),),
               src=src)


# ---------------------------------------------------------------------------
# Regression tests: distinct minimal programs


def _fd_check(f, *args, second_order=False):
    _quiet(check_function, f, args, src="(regression test)", second_order=second_order)


def test_dense_sub_then_sparse_reads_of_the_same_array():
    """Issue 8, known bug (1): dense m - m and sparse reads m[0], m[1] of one array."""
    m = np.array([0.3, -1.2])
    g, = gradient(lambda m: np.sum(m - m) + m[0] + m[1], m)
    np.testing.assert_allclose(g, [1.0, 1.0])


def test_sparse_reads_before_and_after_dense_uses():
    m = np.array([0.3, -1.2, 0.7])
    g, = gradient(lambda m: m[0] + m[1] + np.sum(m - m) + m[0], m)
    np.testing.assert_allclose(g, [2.0, 1.0, 0.0])
    g, = gradient(lambda m: np.sum(m - 2 * m) + m[2] + m[1] * m[1], m)
    np.testing.assert_allclose(g, [-1.0, -1.0 + 2 * m[1], 0.0])


def test_sparse_reads_of_values_that_alias_their_input():
    """Nodes whose value is the same array object (np.real, atleast_1d, reshape to the
    same shape, broadcast_to the same shape) read sparsely and densely (known bug (2))."""
    m = np.array([0.3, -1.2, 0.7])
    g, = gradient(lambda x: np.real(x)[0] + np.sum(x - x) + x[1] + np.real(x)[1], m)
    np.testing.assert_allclose(g, [1.0, 2.0, 0.0])
    g, = gradient(lambda x: np.atleast_1d(x)[0] + x[0] + np.sum(np.atleast_1d(x) * 2), m)
    np.testing.assert_allclose(g, [4.0, 2.0, 2.0])
    g, = gradient(lambda x: np.reshape(x, x.shape)[0] + x[0] + np.sum(x + x) + x[1], m)
    np.testing.assert_allclose(g, [4.0, 3.0, 2.0])
    g, = gradient(lambda x: np.broadcast_to(x, x.shape)[2] + x[2] + np.sum(x) + x[2], m)
    np.testing.assert_allclose(g, [1.0, 1.0, 4.0])


def test_fanout_2d_rows_columns_and_dense():
    def f(x):
        v1 = x[:, 0]
        v2 = x * x
        v3 = x[0]
        v4 = x - x
        return np.sum(v1) + np.sum(v2) + np.sum(v3 * v3) + np.sum(v4) + x[1, 2]

    _fd_check(f, np.array([[0.3, -1.2, 0.7], [1.1, 0.4, -0.5]]), second_order=True)


def test_item_assignment_and_inplace_on_tracked_arrays():
    def f(x, y):
        v = x.copy()
        v[0] = y[1]
        v[1:] += np.sin(y[0])
        x += v
        return np.sum(x * x) + v[0] * y[0]

    _fd_check(f, np.array([0.3, -1.2, 0.7]), np.array([1.1, 0.4, -0.5]), second_order=True)


def test_scalars_read_out_of_arrays_with_zygcy_math_and_control_flow():
    def f(x):
        s = x[1, 0]
        t = zm.sin(s) * zm.exp(x[0, 1])
        if t > 0:
            r = x * t
        else:
            r = x - t
        return np.sum(r) + zm.hypot(s, x[0, 0])

    _fd_check(f, np.array([[0.3, -1.2], [0.7, 1.1]]), second_order=True)


def test_complex_intermediates_reduced_to_real_containers():
    def f(d):
        z = d["a"] + 1j * d["b"]
        w = np.fft.fft(z * z)
        return {"p": np.sum(np.abs(w) ** 2), "q": (w[0] * np.conj(z[1])).real}

    y, back = forward(f, {"a": np.array([0.3, -1.2, 0.7]), "b": np.array([1.1, 0.4, -0.5])})
    assert set(y) == {"p", "q"}
    _fd_check(f, {"a": np.array([0.3, -1.2, 0.7]), "b": np.array([1.1, 0.4, -0.5])},
              second_order=True)
