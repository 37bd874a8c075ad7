"""Engine behaviour with arrays: in-place operators, assignment into inputs,
second derivatives through array code."""
import numpy as np
import pytest

from zygcy import forward, gradient
from zygcy.testing import gradcheck



def test_inplace_operators_update_the_same_object():
    def f(x):
        y = x            # another name for the same array
        x += 1.0
        x *= x
        x -= 0.5
        x /= 2.0
        x **= 1.5
        return np.sum(y)
    x0 = np.array([1.0, 2.0, 0.5])
    expected = ((x0 + 1) ** 2 - 0.5) / 2
    y, back = forward(f, x0)
    assert y == pytest.approx(np.sum(expected ** 1.5))
    g, = back(1.0)
    assert g == pytest.approx(1.5 * expected ** 0.5 * (x0 + 1))
    assert np.array_equal(x0, [1.0, 2.0, 0.5])        # the input was not mutated
    gradcheck(f, x0, order=2)


def test_inplace_on_numbers_rebinds():
    def f(x):
        y = x
        x += 1.0
        return x * y
    assert gradient(f, 2.0) == (5.0,)


def test_assignment_into_an_input_keeps_its_gradient():
    def f(x):
        x[0] = x[1] * 3
        return np.sum(x * x)
    x0 = np.array([1.0, 2.0, 5.0])
    g, = gradient(f, x0)
    # f = (3 x1)^2 + x1^2 + x2^2: x0 was overwritten
    assert g == pytest.approx([0.0, 20 * 2.0, 2 * 5.0])
    gradcheck(f, x0, order=2)


def test_plain_array_inplace_with_tracked_operand_raises():
    def f(x):
        a = np.zeros(3)
        a += x
        return np.sum(a)
    with pytest.raises(TypeError, match="would drop its derivative"):
        gradient(f, np.ones(3))


def test_second_derivatives_of_array_code():
    x = np.array([0.1, 0.5, -0.3])
    f = lambda x: np.sum(np.tanh(x) ** 2)
    v = np.array([1.0, 0.0, 0.0])
    hv, = gradient(lambda x: np.sum(gradient(f, x)[0] * v), x)
    t = np.tanh(x[0])
    assert hv == pytest.approx([2 * (1 - t**2) ** 2 - 4 * t**2 * (1 - t**2), 0, 0])
    W = np.arange(9.0).reshape(3, 3) / 10
    gradcheck(lambda W: np.sum(np.tanh(W @ x)), W, order=2)


def test_missing_rule_messages_name_the_function():
    with pytest.raises(TypeError, match=r"no gradient rule for numpy\.add\.reduceat\. Add one with "
                                        r"zygcy\.defvjp\(numpy\.add\.reduceat, maker"):
        gradient(lambda x: np.sum(np.add.reduceat(x, [0, 1])), np.ones(3))
    with pytest.raises(TypeError, match=r"no gradient rule for numpy\.linalg\.cond"):
        gradient(lambda x: np.linalg.cond(x), np.eye(2))
    special = pytest.importorskip("scipy.special")
    with pytest.raises(TypeError, match=r"no gradient rule for the ufunc _zeta\. Add one with zygcy\.defvjp\(_zeta,"):
        gradient(lambda x: np.sum(special.zeta(x, 2.0)), np.full(2, 2.0))


def test_ufunc_out_with_where_on_a_tracked_array_is_refused():
    def f(x):
        y = x * 1.0
        np.sin(x, out=y, where=np.array([True, False]))
        return np.sum(y)
    with pytest.raises(TypeError, match=r"out= together with where=.*np\.where\(mask, f\(x\), out\)"):
        gradient(f, np.ones(2))

    def g(x):
        y = x * 1.0
        np.sin(x, out=y)        # out= alone is an assignment into y
        return np.sum(y)
    x0 = np.array([0.3, 0.9])
    assert gradient(g, x0)[0] == pytest.approx(np.cos(x0))
