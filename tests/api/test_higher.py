"""jacobian, withjacobian, hessian, hessian_reverse, diaghessian, hvp: against
central differences of the function (or of its gradient) and analytic values."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zygcy
from zygcy import diaghessian, gradient, hessian, hessian_reverse, hvp, jacobian, withjacobian

from _grid import R, fd_jacobian


def fd_hessian(f, x, eps=1e-4):
    return fd_jacobian(lambda x: gradient(f, x)[0], x, eps)


FUNCTIONS = {
    "tanh-mlp": lambda x: np.tanh(np.outer(x, x) @ np.ones(x.shape[0])) * x,
    "cumprod": lambda x: np.cumprod(np.sin(x) + 2.0),
    "softmax": lambda x: np.exp(x - np.max(x)) / np.sum(np.exp(x - np.max(x))),
    "indexing": lambda x: np.stack([x[0] * x[-1], x[1] ** 2, np.sum(x[::2])]),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("n", [2, 3, 5])
def test_jacobian_equals_central_differences(name, n):
    f = FUNCTIONS[name]
    x = R(n, seed=n) * 0.7
    J, = jacobian(f, x)
    np.testing.assert_allclose(J, fd_jacobian(f, x), rtol=1e-6, atol=1e-8)


def test_jacobian_shapes_follow_outputs_and_arguments():
    A = R(2, 3, seed=1)
    J = jacobian(lambda X, v, s: (X @ v) * s, A, R(3, seed=2), 2.0)
    assert [np.shape(j) for j in J] == [(2, 2, 3), (2, 3), (2,)]
    np.testing.assert_allclose(J[1], 2.0 * A)
    assert jacobian(lambda x, unused: x * 2.0, np.ones(2), 1.0)[1] is None


def test_jacobian_of_structures():
    J, = jacobian(lambda d: {"a": d["u"] * d["v"], "b": np.sin(d["u"])},
                  {"u": np.array([0.5, 1.0]), "v": 3.0})
    # the argument's structure outside, the output's at each of its leaves
    np.testing.assert_allclose(J["u"]["a"], 3.0 * np.eye(2))
    np.testing.assert_allclose(J["v"]["a"], [0.5, 1.0])
    np.testing.assert_allclose(J["u"]["b"], np.diag(np.cos([0.5, 1.0])))
    assert J["v"]["b"] is None


def test_withjacobian_returns_the_value_too():
    r = withjacobian(lambda x: np.cumsum(x) * 2.0, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(r.val, [2.0, 6.0, 12.0])
    np.testing.assert_allclose(r.grad[0], 2.0 * np.tril(np.ones((3, 3))))


def test_jacobian_of_a_complex_output_says_what_to_do():
    with pytest.raises(ValueError, match="real and imaginary parts"):
        jacobian(lambda x: x * 1j, np.ones(2))


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.mark.parametrize("hess", [hessian, hessian_reverse], ids=["hessian", "hessian_reverse"])
def test_hessian_of_rosenbrock_equals_scipys(hess):
    so = pytest.importorskip("scipy.optimize")
    x = R(6, seed=3)
    np.testing.assert_allclose(hess(rosen, x), so.rosen_hess(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("hess", [hessian, hessian_reverse], ids=["hessian", "hessian_reverse"])
def test_hessian_of_logsumexp_is_diag_p_minus_ppt(hess):
    x = R(5, seed=4)
    p = np.exp(x - np.max(x))
    p /= p.sum()
    lse = lambda x: np.max(x) + np.log(np.sum(np.exp(x - np.max(x))))     # noqa: E731
    np.testing.assert_allclose(hess(lse, x), np.diag(p) - np.outer(p, p), atol=1e-12)


def test_hessian_of_a_matrix_argument_and_of_a_number():
    W = R(2, 3, seed=5)
    f = lambda W: np.sum(np.tanh(W) ** 2) * W[0, 1]      # noqa: E731
    H = hessian(f, W)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H, fd_hessian(f, W), rtol=1e-5, atol=1e-7)
    assert hessian(lambda t: zygcy.math.sin(t) * t, 0.5) == pytest.approx(
        2 * np.cos(0.5) - 0.5 * np.sin(0.5))


def test_hessian_errors_say_what_to_do():
    with pytest.raises(ValueError, match="hessian needs a real scalar output"):
        hessian(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(TypeError, match="x must be a real number or a real array"):
        hessian(lambda d: d["a"], {"a": 1.0})


def test_diaghessian_is_the_diagonal_of_the_hessian():
    x, y = R(4, seed=6), 1.5
    f = lambda x, y: np.sum(np.sin(x) * x) * y + y ** 3 + x[0] * x[1] * y   # noqa: E731
    dx, dy = diaghessian(f, x, y)
    np.testing.assert_allclose(dx, np.diag(hessian(lambda x: f(x, y), x)), rtol=1e-12)
    assert dy == pytest.approx(6 * y)
    assert diaghessian(lambda x, u: np.sum(x ** 2), x, 1.0)[1] is None


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6), st.integers(0, 1000))
def test_hvp_equals_the_hessian_times_v(n, seed):
    rng = np.random.default_rng(seed)
    x, v = rng.standard_normal(n), rng.standard_normal(n)
    f = lambda x: np.sum(np.tanh(x) * np.exp(-x * x)) + np.prod(np.cos(x))    # noqa: E731
    np.testing.assert_allclose(hvp(f, x, v), hessian(f, x) @ v, rtol=1e-9, atol=1e-12)


def test_hvp_on_a_million_elements():
    n = 10 ** 6
    x = np.linspace(-1.0, 1.0, n)
    v = np.cos(np.arange(n))
    got = hvp(lambda x: np.sum(np.sin(x) * x), x, v)
    np.testing.assert_allclose(got, (2 * np.cos(x) - x * np.sin(x)) * v, rtol=1e-12, atol=1e-12)


def test_hvp_checks_the_direction():
    with pytest.raises(ValueError, match=r"v has shape \(2,\) but x has shape \(3,\)"):
        hvp(lambda x: np.sum(x ** 2), np.ones(3), np.ones(2))


def test_higher_order_functions_nest():
    # the derivative of a Hessian entry, and the gradient of an hvp, against differences
    f = lambda x: np.sum(x ** 4) * x[0]     # noqa: E731
    x = R(3, seed=7)
    d = gradient(lambda x: hessian(f, x)[1, 1], x)[0]
    np.testing.assert_allclose(d, fd_jacobian(lambda x: hessian(f, x)[1, 1], x, 1e-5), rtol=1e-5, atol=1e-7)
    v = R(3, seed=8)
    g = jacobian(lambda x: hvp(f, x, v), x)[0]
    np.testing.assert_allclose(g, fd_jacobian(lambda x: hvp(f, x, v), x, 1e-5), rtol=1e-5, atol=1e-7)
