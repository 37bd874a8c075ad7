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


# ---------------------------------------------------------------------------
# Numbers read one at a time from arrays (x[i], A[i, j]): the engine records them
# as read nodes and does the arithmetic of the float64 numbers they give on C
# doubles. Checked against finite differences and an independent formula.

from hypothesis import given, settings, strategies as st  # noqa: E402

from zygcy import hessian  # noqa: E402


@st.composite
def _reads(draw):
    shape = draw(st.sampled_from([(5,), (1,), (3, 4), (2, 1, 3)]))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.complex128]))
    n = draw(st.integers(1, 12))
    idx = [tuple(draw(st.integers(-d, d - 1)) for d in shape) for _ in range(n)]
    ops = draw(st.lists(st.sampled_from("+-*/^"), min_size=n, max_size=n))
    return shape, dtype, idx, ops


@settings(max_examples=60, deadline=None)
@given(_reads(), st.integers(0, 2**16))
def test_loops_of_scalar_reads_match_finite_differences(case, seed):
    shape, dtype, idx, ops = case
    r = np.random.default_rng(seed)
    x = (r.uniform(0.5, 2.0, shape) + (0.3j * r.uniform(0.5, 2.0, shape) if dtype is np.complex128 else 0)
         ).astype(dtype)

    def f(x):
        acc = 1.5
        for k, (i, op) in enumerate(zip(idx, ops)):
            v = x[i if len(i) > 1 else i[0]]
            if op == "+":
                acc = acc + v
            elif op == "-":
                acc = v - acc * 0.5
            elif op == "*":
                acc = acc * v
            elif op == "/":
                acc = acc / v + 1.0
            else:
                acc = v ** 2 + acc * 0.25
        return abs(acc) ** 2 if dtype is np.complex128 else acc

    if dtype is np.float32:
        tol = dict(eps=1e-3, rtol=2e-2, atol=1e-3)
        gradcheck(lambda x: f(x.astype(np.float32)), x.astype(np.float64), modes="reverse", **tol)
    else:
        gradcheck(f, x)
    assert np.asarray(f(x)).dtype == np.asarray(f(np.array(x))).dtype


def test_sum_of_squares_by_reads_has_the_exact_gradient_and_hessian():
    x = np.linspace(-1.0, 2.0, 7)
    g, = gradient(lambda x: sum(x[i] ** 2 for i in range(len(x))), x)
    np.testing.assert_array_equal(g, 2 * x)
    H = hessian(lambda x: sum(x[i] ** 3 for i in range(len(x))), x)
    np.testing.assert_allclose(H, np.diag(6 * x), rtol=1e-12)
    A = np.arange(6.0).reshape(2, 3)
    G, = gradient(lambda A: A[1, 2] * A[0, 1] + A[-1, 0] + A[-2, -1], A)
    np.testing.assert_array_equal(G, [[0.0, 5.0, 1.0], [1.0, 0.0, 1.0]])


def test_reads_mixed_with_slices_and_assignment():
    def f(x):
        a = x[0] * x[-1]           # read nodes
        s = x[1:3].sum()            # the indexing rule
        x[2] = a                    # x becomes a new node; the reads above keep the old one
        return a + s + x[2] * x[1] + x[1]

    x = np.array([0.5, 1.0, 2.0, 3.0])
    gradcheck(f, x)
    g, = gradient(f, x)
    # by hand: a = x0 x3; f = a + x1 + x2 + a x1 + x1
    np.testing.assert_allclose(g, [x[3] * (1 + x[1]), 1 + x[0] * x[3] + 1, 1, x[0] * (1 + x[1])])


def test_reads_keep_numpy_semantics():
    x = np.array([0.0, 2.0])
    g, = gradient(lambda x: x[1] * 3, x)
    np.testing.assert_array_equal(g, [0.0, 3.0])
    with pytest.raises(IndexError, match="out of bounds"):
        gradient(lambda x: x[2], x)
    with pytest.raises(IndexError, match="out of bounds"):
        gradient(lambda x: np.ones((2, 2))[0, 0] * x.reshape(1, 2)[0, 5], x)
    with np.errstate(divide="ignore"):
        y, back = forward(lambda x: x[1] / x[0], x)
    assert type(y) is np.float64 and np.isinf(y)     # numpy's value, not Python's ZeroDivisionError


# ---------------------------------------------------------------------------
# Large arrays: the sweep writes g * partial into a partial no one else holds
# (tanh's 1 - y**2, x**2's 2x, ...) instead of allocating. Same numbers, and
# nothing the user or the tape holds is overwritten.

@pytest.mark.parametrize("n", [5000, 70_000])
def test_large_elementwise_gradients_are_exact_and_leave_values_alone(n):
    from zygcy import value
    x = np.random.default_rng(3).uniform(-2.0, 2.0, n)
    x0 = x.copy()
    held = []

    def f(x):
        t = np.tanh(x)
        e = np.exp(-x ** 2)
        held.append((t, e))
        return np.sum(t * e + x + np.sin(x) * np.sqrt(x * x + 1.0) - np.log1p(x ** 2) / 3.0)

    g, = gradient(f, x)
    t, e = np.tanh(x), np.exp(-x ** 2)
    want = ((1 - t ** 2) * e + t * e * (-2 * x) + 1 + np.cos(x) * np.sqrt(x * x + 1.0)
            + np.sin(x) * x / np.sqrt(x * x + 1.0) - 2 * x / (1 + x ** 2) / 3.0)
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(value(held[0][0]), t)
    np.testing.assert_array_equal(value(held[0][1]), e)
    gradcheck(f, x, directions=2)
