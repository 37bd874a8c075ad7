"""scipy.optimize's Rosenbrock functions on tracked input (zygcy.rules.optimize)."""

import numpy as np
import pytest

from zygcy import forward, gradient
from zygcy.testing import gradcheck

from _grid import fresh_python

scipy_optimize = pytest.importorskip("scipy.optimize")

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])


def test_issue_example_rosen():
    g, = gradient(scipy_optimize.rosen, X0)
    np.testing.assert_allclose(g, scipy_optimize.rosen_der(X0), rtol=1e-13)
    y, _ = forward(scipy_optimize.rosen, X0)
    assert y == scipy_optimize.rosen(X0)


@pytest.mark.parametrize("n", [2, 3, 7])
def test_rosen_and_its_derivative_against_finite_differences(n):
    x = np.linspace(-1.2, 1.5, n)
    gradcheck(scipy_optimize.rosen, x, order=2, rtol=1e-4)
    gradcheck(lambda x: np.sum(scipy_optimize.rosen_der(x) ** 2), x, order=1, rtol=1e-4)


def test_hessian_from_rosen_der_equals_rosen_hess():
    H = np.stack([gradient(lambda x: scipy_optimize.rosen_der(x)[i], X0)[0] for i in range(len(X0))])
    np.testing.assert_allclose(H, scipy_optimize.rosen_hess(X0), rtol=1e-12)


def test_rosen_broadcasts_over_trailing_axes():
    X = np.stack([np.linspace(-1, 1, 4), np.linspace(0, 2, 4)])     # shape (2, 4): 4 points
    y, back = forward(scipy_optimize.rosen, X)
    np.testing.assert_allclose(y, scipy_optimize.rosen(X))
    g, = back(np.ones(4))
    for k in range(4):
        np.testing.assert_allclose(g[:, k], scipy_optimize.rosen_der(X[:, k]), rtol=1e-12)


def test_plain_calls_are_scipy_itself():
    assert scipy_optimize.rosen(X0) == scipy_optimize.rosen.__wrapped__(X0)
    assert scipy_optimize.rosen.__name__ == "rosen"


def test_registered_when_scipy_optimize_is_imported_after_zygcy():
    code = ("import zygcy, numpy as np\nfrom scipy.optimize import rosen, rosen_der\n"
            "x = np.array([1.3, 0.7, 0.8])\n"
            "assert np.allclose(zygcy.gradient(rosen, x)[0], rosen_der(x))\nprint('ok')")
    out = fresh_python(code)
    assert out.stdout.strip() == "ok", out.stderr
