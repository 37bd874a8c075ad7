"""numpy's numerical methods (zygcy/rules/numeric.py): interp, polyval, polyfit,
linspace/geomspace/logspace, gradient, unwrap; checked by finite differences in
every differentiable argument, in both modes, and against closed forms.

Cases go through ``check`` (each output squared): several of these rules are
linear in an argument, and without a nonlinearity after them the second-order
check would never run a pullback on a tracked cotangent.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zygcy
from zygcy.testing import gradcheck

from _grid import C, R, case_table, check, rand

CASES, case = case_table()

# -- interp: x between and outside the knots, left/right given or not, a period
XP = np.array([0.0, 0.7, 1.5, 2.2, 3.0])
FP = rand((5,), seed=3)
XS = np.array([[-0.5, 0.3, 1.0], [1.9, 2.5, 3.4]])
case(np.interp, "interp", lambda x, xp, fp: np.interp(x, xp, fp), XS, XP, FP)
case(np.interp, "interp-left-right", lambda x, xp, fp, l, r: np.interp(x, xp, fp, l, r), XS, XP, FP, 0.3, -0.2)
case(np.interp, "interp-keywords", lambda x, fp, r: np.interp(x, XP, fp, right=r), XS, FP, 0.5)
case(np.interp, "interp-complex", lambda x, xp, fp: np.interp(x, xp, fp), XS, XP, FP + 1j * FP[::-1])
case(np.interp, "interp-period", lambda x, xp, fp: np.interp(x, xp, fp, period=2.5),
     3 * XS, np.array([0.3, 1.1, 2.0, 2.9, 3.7]), FP)
case(np.interp, "interp-scalar", lambda x, xp, fp: np.interp(x, xp, fp), 1.2, XP, FP)
case(np.interp, "interp-one-knot", lambda x, fp: np.interp(x, np.array([1.0]), fp), XS, FP[:1])

# -- polyval: coefficients (1-d, or 2-d broadcast against x), x of any shape
case(np.polyval, "polyval", lambda p, x: np.polyval(p, x), R(4, seed=1), R(3, 2, seed=2))
case(np.polyval, "polyval-complex", lambda p, x: np.polyval(p, x), C(4, seed=1), C(3, seed=2))
case(np.polyval, "polyval-broadcast", lambda p, x: np.polyval(p, x), R(3, 2, seed=1), R(2, seed=2))
case(np.polyval, "polyval-broadcast-x", lambda p, x: np.polyval(p, x), R(3, 1, seed=1), R(4, 2, seed=2))
case(np.polyval, "polyval-constant", lambda p, x: np.polyval(p, x), R(1, seed=1), R(2, seed=2))
case(np.polyval, "polyval-at-zero", lambda p, x: np.polyval(p, x), R(3, seed=1), np.array([0.0, 1.0]))
case(np.polyval, "polyval-scalar-x", lambda p, x: np.polyval(p, x), R(3, seed=1), 0.7)

# -- polyfit: y a vector or several columns, weights, complex y
XFIT = np.linspace(0, 1, 6) + 0.05 * R(6, seed=4)
WFIT = rand((6,), seed=6, positive=True)
case(np.polyfit, "polyfit", lambda x, y: np.polyfit(x, y, 2), XFIT, R(6, seed=5))
case(np.polyfit, "polyfit-columns", lambda x, y: np.polyfit(x, y, 2), XFIT, R(6, 2, seed=5))
case(np.polyfit, "polyfit-weights", lambda x, y, w: np.polyfit(x, y, 2, w=w), XFIT, R(6, seed=5), WFIT)
case(np.polyfit, "polyfit-weights-columns", lambda x, y, w: np.polyfit(x, y, 1, None, False, w),
     XFIT, R(6, 2, seed=5), WFIT)
case(np.polyfit, "polyfit-complex", lambda x, y: np.polyfit(x, y, 2), XFIT, C(6, seed=5))

# -- linspace, geomspace, logspace: numbers and broadcast arrays, axis, endpoint, retstep
case(np.linspace, "linspace", lambda a, b: np.linspace(a, b, 5), 0.3, 1.7)
case(np.linspace, "linspace-broadcast", lambda a, b: np.linspace(a, b, 4, axis=-1), R(3, seed=1), R(2, 1, seed=2))
case(np.linspace, "linspace-retstep", lambda a, b: np.linspace(a, b, 4, False, True), R(3, seed=1), R(3, seed=2))
case(np.linspace, "linspace-one", lambda a, b: np.linspace(a, b, 1, retstep=True)[0], 0.3, 1.7)
case(np.linspace, "linspace-complex", lambda a, b: np.linspace(a, b, 4, axis=1), C(2, seed=1), 2.0)
case(np.geomspace, "geomspace", lambda a, b: np.geomspace(a, b, 5), 0.3, 1.7)
case(np.geomspace, "geomspace-broadcast", lambda a, b: np.geomspace(a, b, 4, axis=1),
     rand((3,), positive=True), rand((2, 1), seed=3, positive=True))
case(np.geomspace, "geomspace-negative", lambda a, b: np.geomspace(a, b, 4, endpoint=False), -0.5, -2.0)
case(np.geomspace, "geomspace-complex", lambda a, b: np.geomspace(a, b, 4), 1 + 1j, 2 - 0.5j)
case(np.logspace, "logspace", lambda a, b: np.logspace(a, b, 5), 0.3, 1.7)
case(np.logspace, "logspace-base", lambda a, b, c: np.logspace(a, b, 5, base=c), 0.3, 1.2, 2.5)
case(np.logspace, "logspace-base-array", lambda a, b, c: np.logspace(a, b, 3, True, c, axis=-1),
     R(2, 1, seed=1), R(3, seed=2), rand((3,), positive=True) + 1)
case(np.logspace, "logspace-complex", lambda a, b: np.logspace(a, b, 3, base=2.0), C(2, seed=1) / 3, 0.5)

# -- gradient: every axis or some, edge orders 1 and 2, unit, scalar and coordinate spacings
F2 = R(5, 4, seed=7)
CX = np.cumsum(rand((5,), seed=8, positive=True))
CY = np.cumsum(rand((4,), seed=9, positive=True))
case(np.gradient, "gradient", lambda f: np.gradient(f), F2)
case(np.gradient, "gradient-axis", lambda f: np.gradient(f, axis=0), F2)
case(np.gradient, "gradient-axes", lambda f, h: np.gradient(f, h, axis=(1, 0)), R(3, 4, 2, seed=1), 0.5)
case(np.gradient, "gradient-edge2", lambda f: np.gradient(f, edge_order=2), F2)
case(np.gradient, "gradient-spacing", lambda f, h: np.gradient(f, h), F2, 0.7)
case(np.gradient, "gradient-spacings", lambda f, h, k: np.gradient(f, h, k, edge_order=2), F2, 0.7, 1.3)
case(np.gradient, "gradient-coordinates", lambda f, x, y: np.gradient(f, x, y), F2, CX, CY)
case(np.gradient, "gradient-coordinates-edge2", lambda f, x, y: np.gradient(f, x, y, edge_order=2), F2, CX, CY)
case(np.gradient, "gradient-mixed", lambda f, x, k: np.gradient(f, x, k, edge_order=2), F2, CX, 0.4)
case(np.gradient, "gradient-1d", lambda f, x: np.gradient(f, x), R(5, seed=3), CX)
case(np.gradient, "gradient-complex", lambda f, x: np.gradient(f, x, edge_order=2), C(5, seed=3), CX)
case(np.gradient, "gradient-two-points", lambda f, x: np.gradient(f, x), R(2, seed=3), CX[:2])

# -- unwrap
case(np.unwrap, "unwrap", lambda p: np.unwrap(p), np.cumsum(2 * R(6, seed=2)))
case(np.unwrap, "unwrap-axis", lambda p: np.unwrap(p, axis=0, period=4.0), 3 * R(5, 2, seed=2))


@pytest.mark.parametrize("key, f, args, order", CASES)
def test_rule(key, f, args, order):
    check(f, *args, order=order)


# ---------------------------------------------------------------------------
# Closed forms

def test_interp_values():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([1.0, 3.0, 2.0])
    x = np.array([-1.0, 0.5, 2.0, 4.0])
    gx, gxp, gfp = zygcy.gradient(lambda x, xp, fp: np.sum(np.interp(x, xp, fp)), x, xp, fp)
    assert gx.tolist() == [0.0, 2.0, -0.5, 0.0]                   # the slopes, 0 outside
    assert gfp.tolist() == [1 + 0.5, 0.5 + 0.5, 0.5 + 1]         # the weights (ends outside)
    np.testing.assert_allclose(gxp, [-2.0 * 0.5, -2.0 * 0.5 + 0.5 * 0.5, 0.5 * 0.5])
    _, gl, gr = zygcy.gradient(lambda x, l, r: np.sum(np.interp(x, xp, fp, l, r)), x, 0.0, 9.0)
    assert (gl, gr) == (1.0, 1.0)


def test_arguments_numpy_does_not_dispatch_on():
    # numpy asks zygcy only when x, xp or fp (trapezoid: y or x) is tracked. A tracked
    # left/right alone is converted by numpy, which refuses it: an error, never a zero;
    # trapezoid's dx alone is used in arithmetic by numpy's own code, which records it.
    xp, fp, x = np.array([0.0, 1.0]), np.array([1.0, 3.0]), np.array([-1.0, 0.5])
    with pytest.raises(TypeError, match="would drop its derivative"):
        zygcy.gradient(lambda l: np.sum(np.interp(x, xp, fp, l)), 0.0)
    assert zygcy.gradient(lambda dx: np.trapezoid(fp, dx=dx), 0.5)[0] == 2.0
    assert zygcy.gradient(lambda y, dx: np.trapezoid(y, dx=dx), fp, 0.5)[1] == 2.0


def test_polyval_values():
    p, x = np.array([2.0, -1.0, 3.0]), np.array([0.5, 2.0])
    gp, gx = zygcy.gradient(lambda p, x: np.sum(np.polyval(p, x)), p, x)
    np.testing.assert_allclose(gp, [0.25 + 4, 0.5 + 2, 2])
    np.testing.assert_allclose(gx, 4 * x - 1)


def test_polyfit_value():
    # an exact fit: p is the solution of the square Vandermonde system
    x, y = np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 5.0])
    (J,) = zygcy.jacobian(lambda y: np.polyfit(x, y, 2), y)
    np.testing.assert_allclose(J, np.linalg.inv(np.vander(x, 3)), atol=1e-12)


def test_polyfit_refuses_full_and_cov():
    for kw in ({"full": True}, {"cov": True}):
        with pytest.raises(NotImplementedError, match="full=True or cov="):
            zygcy.gradient(lambda y: np.sum(np.polyfit(XFIT, y, 1, **kw)[0]), R(6, seed=1))


def test_sequence_values():
    ga, gb = zygcy.gradient(lambda a, b: np.sum(np.linspace(a, b, 5) * np.arange(5)), 1.0, 2.0)
    f = np.linspace(0, 1, 5)
    np.testing.assert_allclose([ga, gb], [np.sum((1 - f) * np.arange(5)), np.sum(f * np.arange(5))])
    y, dy = zygcy.jvp(lambda b: np.logspace(0.0, b, 3), (1.0,), (1.0,))
    np.testing.assert_allclose(dy, np.log(10) * y * [0.0, 0.5, 1.0])


def test_gradient_values():
    # d/df of sum(w * gradient(f)) is the transposed difference matrix applied to w
    f, w = R(6, seed=1), R(6, seed=2)
    for edge in (1, 2):
        D = np.gradient(np.eye(6), CX[:5].tolist() + [CX[4] + 0.3], axis=0, edge_order=edge)
        x = np.array(CX[:5].tolist() + [CX[4] + 0.3])
        g = zygcy.gradient(lambda f: np.sum(w * np.gradient(f, x, edge_order=edge)), f)[0]
        np.testing.assert_allclose(g, D.T @ w)
    # scaling the spacing scales the result: d/dh gradient(f, h) = -gradient(f, h) / h
    y, dy = zygcy.jvp(lambda h: np.gradient(f, h), (0.5,), (1.0,))
    np.testing.assert_allclose(dy, -y / 0.5)


def test_unwrap_is_the_identity_in_p():
    p = np.array([0.0, 3.0, 6.5, 0.2])
    assert zygcy.gradient(lambda p: np.sum(np.unwrap(p) * np.arange(4)), p)[0].tolist() == [0, 1, 2, 3]


# ---------------------------------------------------------------------------
# Properties

@given(st.lists(st.floats(0.05, 1.0), min_size=2, max_size=6), st.integers(0, 2**31 - 1))
def test_property_interp_in_x_is_the_slope(steps, seed):
    xp = np.cumsum(steps)
    fp = rand((len(xp),), seed=seed % 1000)
    rng = np.random.default_rng(seed)
    x = rng.uniform(xp[0] - 0.5, xp[-1] + 0.5, size=4)
    gradcheck(lambda x, xp, fp: np.interp(x, xp, fp) ** 2, x, xp, fp, directions=2)


@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_property_polyval(n, seed):
    p, x = rand((n,), seed=seed % 1000), rand((3,), seed=seed % 997 + 1)
    gradcheck(lambda p, x: np.polyval(p, x) ** 2, p, x, directions=2, order=2)
